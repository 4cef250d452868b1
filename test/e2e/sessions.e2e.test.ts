// Sessions with a real client (issue 5): a matrix-js-sdk client that never names a session gets one
// implicitly and its presence and typing work; an explicit "appear offline" session keeps its user
// offline to others.
import * as sdk from 'matrix-js-sdk';
import { startE2eServer, type E2eServer, type E2eUser } from './helpers.js';

const SESSIONS = '/_matrix/client/unstable/hearth/sessions';

describe('e2e: sessions with matrix-js-sdk', () => {
  let server: E2eServer;
  let alice: E2eUser;
  let bob: E2eUser;
  let roomId: string;

  beforeAll(async () => {
    server = await startE2eServer();
    alice = await server.registerClient('sess_alice');
    bob = await server.registerClient('sess_bob');
    roomId = (await alice.client.createRoom({ preset: sdk.Preset.PublicChat })).room_id;
    await bob.client.joinRoom(roomId);
  });
  afterAll(() => server.stop());

  const raw = (token: string, path: string, init: RequestInit = {}) =>
    fetch(`${server.url}${path}`, { ...init, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...(init.headers ?? {}) } });

  it('a client that never names a session gets exactly one, and the user is online to room-mates', async () => {
    await alice.client.sendTextMessage(roomId, 'hello');
    await alice.client.getProfileInfo(alice.userId);
    const list = await (await raw(alice.accessToken, SESSIONS)).json() as { sessions: { device_id: string; presence: string }[] };
    expect(list.sessions).toHaveLength(1);
    expect(list.sessions[0]!.device_id).toBe(alice.deviceId);
    expect(list.sessions[0]!.presence).toBe('online');
    const seen = await bob.client.getPresence(alice.userId);
    expect(seen.presence).toBe('online');
    expect(seen.currently_active).toBe(true);
  });

  it('typing from the SDK reaches another member through that member\'s own sync loop', async () => {
    const arrived = new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no typing notification reached bob')), 10_000);
      bob.client.on(sdk.RoomMemberEvent.Typing, (_e, member) => {
        if (member.userId === alice.userId && member.typing) {
          clearTimeout(timer);
          resolve([member.userId]);
        }
      });
    });
    const prepared = new Promise<void>((resolve) => bob.client.once(sdk.ClientEvent.Sync, () => resolve()));
    await bob.client.startClient({ initialSyncLimit: 5 });
    await prepared;
    await alice.client.sendTyping(roomId, true, 20_000);
    expect(await arrived).toEqual([alice.userId]);
  });

  it('an explicit "appear offline" session keeps its user offline to others while they use it', async () => {
    const carol = await server.registerClient('sess_carol');
    await carol.client.joinRoom(roomId);
    // The registration's own requests made an implicit session; end it so only the offline one is live.
    const before = await (await raw(carol.accessToken, SESSIONS)).json() as { sessions: { session_id: string }[] };
    for (const s of before.sessions) await raw(carol.accessToken, `${SESSIONS}/${s.session_id}`, { method: 'DELETE', headers: { 'Hearth-Session': s.session_id } });
    const started = await (await raw(carol.accessToken, SESSIONS, { method: 'POST', body: JSON.stringify({ presence: 'offline' }) })).json() as { session_id: string; presence: string };
    expect(started.presence).toBe('offline');
    // The same SDK, every request naming that session in the Hearth-Session header.
    const offlineClient = sdk.createClient({
      baseUrl: server.url, userId: carol.userId, accessToken: carol.accessToken, deviceId: carol.deviceId,
      fetchFn: (url, init) => fetch(url, { ...init, headers: { ...(init?.headers as Record<string, string>), 'Hearth-Session': started.session_id } }),
    });
    const sent = await offlineClient.sendTextMessage(roomId, 'I am here but invisible');
    expect(sent.event_id).toMatch(/^\$/);
    const seen = await bob.client.getPresence(carol.userId);
    expect(seen.presence).toBe('offline');
    const list = await (await raw(carol.accessToken, SESSIONS, { headers: { 'Hearth-Session': started.session_id } })).json() as { sessions: { session_id: string; presence: string }[] };
    expect(list.sessions.map((s) => [s.session_id, s.presence])).toEqual([[started.session_id, 'offline']]);
    offlineClient.stopClient();
  });
});
