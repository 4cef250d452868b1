// EDUs across two Hearths over TLS on loopback (issue 16; spec/federation.md "EDUs"): typing, presence,
// read receipts and to-device messages both ways; a session ended on one server seen on the other
// within a second (spec/sessions.md "Across servers"); a room-scoped server event of hs1 shown to
// hs2's members with hs1's name as sender (spec/server-events.md "Across servers").
import { startHearths, syncUntil, until, type FedHearth, type FedUser, type HearthCluster } from '../helpers/hearths.js';

const C = '/_matrix/client/v3';
const SESSIONS = '/_matrix/client/unstable/hearth/sessions';
const enc = encodeURIComponent;
type SyncUser = FedUser & { since?: string };
type Json = Record<string, any>;

const joinedOf = (body: Json, roomId: string): Json | undefined => body.rooms?.join?.[roomId];
const typingIn = (body: Json, roomId: string): string[] | undefined =>
  (joinedOf(body, roomId)?.ephemeral?.events as Json[] | undefined)?.find((e) => e.type === 'm.typing')?.content.user_ids;
const receiptIn = (body: Json, roomId: string): Json | undefined =>
  (joinedOf(body, roomId)?.ephemeral?.events as Json[] | undefined)?.find((e) => e.type === 'm.receipt')?.content;
const presenceOf = (body: Json, userId: string): Json | undefined =>
  (body.presence?.events as Json[] | undefined)?.filter((e) => e.sender === userId).at(-1)?.content;
const timelineOf = (body: Json, roomId: string): Json[] => joinedOf(body, roomId)?.timeline?.events ?? [];

async function send(u: FedUser, roomId: string, text: string): Promise<string> {
  const r = await u.call('PUT', `${C}/rooms/${enc(roomId)}/send/m.room.message/${Math.random().toString(36).slice(2)}`, { msgtype: 'm.text', body: text });
  expect(r.status).toBe(200);
  return r.body.event_id as string;
}

const setTyping = async (u: FedUser, roomId: string, typing: boolean) =>
  expect((await u.call('PUT', `${C}/rooms/${enc(roomId)}/typing/${enc(u.userId)}`, typing ? { typing, timeout: 30_000 } : { typing })).status).toBe(200);

describe('EDUs across two Hearths', () => {
  let cluster: HearthCluster;
  let hs1: FedHearth;
  let hs2: FedHearth;
  let alice: SyncUser;
  let bob: SyncUser;
  let roomId: string;

  beforeAll(async () => {
    cluster = await startHearths(2);
    [hs1, hs2] = cluster.servers as [FedHearth, FedHearth];
    alice = await hs1.register('alice');
    bob = await hs2.register('bob');
    const created = await alice.call('POST', `${C}/createRoom`, { preset: 'public_chat', name: 'EDUs', room_version: '11' });
    expect(created.status).toBe(200);
    roomId = created.body.room_id;
    expect((await bob.call('POST', `${C}/join/${enc(roomId)}?via=${enc(hs1.name)}`, {})).status).toBe(200);
    await syncUntil(bob, 'the room', (b) => joinedOf(b, roomId));
    await syncUntil(alice, 'bob\'s join', (b) => timelineOf(b, roomId).some((e) => e.state_key === bob.userId && e.content.membership === 'join'));
  }, 60_000);
  afterAll(async () => cluster?.close());

  it('typing goes both ways, and stops over there when the user stops or sends a message', async () => {
    await setTyping(alice, roomId, true);
    await syncUntil(bob, 'alice typing', (b) => typingIn(b, roomId)?.includes(alice.userId));
    await setTyping(bob, roomId, true);
    await syncUntil(alice, 'bob typing', (b) => typingIn(b, roomId)?.includes(bob.userId));
    await setTyping(alice, roomId, false);
    await syncUntil(bob, 'alice no longer typing', (b) => { const t = typingIn(b, roomId); return t !== undefined && !t.includes(alice.userId); });
    const sent = await send(bob, roomId, 'done typing');
    let message = false;
    let ended = false;
    await syncUntil(alice, 'bob\'s message and his typing ended', (b) => {
      if (timelineOf(b, roomId).some((e) => e.event_id === sent)) message = true;
      const t = typingIn(b, roomId);
      if (t !== undefined && !t.includes(bob.userId)) ended = true;
      return message && ended;
    });
  });

  it('presence goes both ways, with the status message, and GET /presence answers for the remote user', async () => {
    expect((await alice.call('PUT', `${C}/presence/${enc(alice.userId)}/status`, { presence: 'online', status_msg: 'Making cupcakes' })).status).toBe(200);
    const a = await syncUntil(bob, 'alice online with her status', (b) => { const p = presenceOf(b, alice.userId); return p?.status_msg === 'Making cupcakes' ? p : undefined; });
    expect(a).toMatchObject({ presence: 'online', currently_active: true });
    const got = await bob.call('GET', `${C}/presence/${enc(alice.userId)}/status`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ presence: 'online', status_msg: 'Making cupcakes', currently_active: true });
    expect((await bob.call('PUT', `${C}/presence/${enc(bob.userId)}/status`, { presence: 'unavailable', status_msg: 'Away' })).status).toBe(200);
    const b2 = await syncUntil(alice, 'bob unavailable', (b) => { const p = presenceOf(b, bob.userId); return p?.presence === 'unavailable' ? p : undefined; });
    expect(b2.status_msg).toBe('Away');
  });

  it('a user who joins later gets the members\' presence, and they get hers', async () => {
    const carol: SyncUser = await hs2.register('carol');
    expect((await carol.call('PUT', `${C}/presence/${enc(carol.userId)}/status`, { presence: 'online', status_msg: 'New here' })).status).toBe(200);
    await syncUntil(carol, 'the first sync', () => true);
    expect((await carol.call('POST', `${C}/join/${enc(roomId)}`, {})).status).toBe(200);
    const p = await syncUntil(carol, 'alice\'s presence after joining', (b) => presenceOf(b, alice.userId));
    expect(p).toMatchObject({ presence: 'online', status_msg: 'Making cupcakes' });
    await syncUntil(alice, 'carol\'s presence', (b) => presenceOf(b, carol.userId)?.status_msg === 'New here');
  });

  it('read receipts go both ways; m.read.private never leaves its server', async () => {
    const fromAlice = await send(alice, roomId, 'read me');
    await syncUntil(bob, 'alice\'s message', (b) => timelineOf(b, roomId).some((e) => e.event_id === fromAlice));
    // A private receipt first, then a public one: the public one arrives, the private one never does.
    expect((await bob.call('POST', `${C}/rooms/${enc(roomId)}/receipt/m.read.private/${enc(fromAlice)}`, {})).status).toBe(200);
    expect((await bob.call('POST', `${C}/rooms/${enc(roomId)}/receipt/m.read/${enc(fromAlice)}`, {})).status).toBe(200);
    const r = await syncUntil(alice, 'bob\'s receipt', (b) => receiptIn(b, roomId)?.[fromAlice]?.['m.read']?.[bob.userId]);
    expect(typeof r.ts).toBe('number');
    expect(await hs1.running.services.storage.sync.getReceipt(roomId, 'm.read.private', bob.userId, '')).toBeUndefined();

    const fromBob = await send(bob, roomId, 'and me');
    await syncUntil(alice, 'bob\'s message', (b) => timelineOf(b, roomId).some((e) => e.event_id === fromBob));
    expect((await alice.call('POST', `${C}/rooms/${enc(roomId)}/receipt/m.read/${enc(fromBob)}`, { thread_id: 'main' })).status).toBe(200);
    const back = await syncUntil(bob, 'alice\'s receipt', (b) => receiptIn(b, roomId)?.[fromBob]?.['m.read']?.[alice.userId]);
    expect(back).toMatchObject({ thread_id: 'main' });
  });

  it('to-device messages go both ways, to one device or to all of them, once', async () => {
    const whisper = async (from: FedUser, messages: Json, txnId: string) =>
      expect((await from.call('PUT', `${C}/sendToDevice/org.example.whisper/${txnId}`, { messages })).status).toBe(200);
    await whisper(alice, { [bob.userId]: { [bob.deviceId]: { text: 'psst, bob' } } }, 'td1');
    await whisper(alice, { [bob.userId]: { [bob.deviceId]: { text: 'psst, bob' } } }, 'td1'); // a retry: not sent again
    const got = await syncUntil(bob, 'the whisper', (b) => (b.to_device?.events as Json[]).length > 0 ? b.to_device.events as Json[] : undefined);
    expect(got).toEqual([{ sender: alice.userId, type: 'org.example.whisper', content: { text: 'psst, bob' } }]);
    await whisper(bob, { [alice.userId]: { '*': { text: 'hello, alice' } } }, 'td2');
    const back = await syncUntil(alice, 'the answer', (b) => (b.to_device?.events as Json[]).length > 0 ? b.to_device.events as Json[] : undefined);
    expect(back).toEqual([{ sender: bob.userId, type: 'org.example.whisper', content: { text: 'hello, alice' } }]);
    // The retry never arrives.
    await whisper(alice, { [bob.userId]: { [bob.deviceId]: { text: 'last' } } }, 'td3');
    const last = await syncUntil(bob, 'the last whisper', (b) => (b.to_device?.events as Json[]).length > 0 ? b.to_device.events as Json[] : undefined);
    expect(last.map((e) => e.content.text)).toEqual(['last']);
  });

  it('a session ended on hs1: hs2 sees the typing stop and the presence turn offline within a second', async () => {
    const dave: SyncUser = await hs1.register('dave');
    expect((await dave.call('POST', `${C}/join/${enc(roomId)}`, {})).status).toBe(200);
    await setTyping(dave, roomId, true);
    let typing = false;
    let online = false;
    await syncUntil(bob, 'dave typing and online', (b) => {
      if (typingIn(b, roomId)?.includes(dave.userId)) typing = true;
      if (presenceOf(b, dave.userId)?.presence === 'online') online = true;
      return typing && online;
    });
    const list = await dave.call('GET', SESSIONS);
    expect(list.body.sessions).toHaveLength(1);
    const ended = Date.now();
    expect((await dave.call('DELETE', `${SESSIONS}/${list.body.sessions[0].session_id}`)).status).toBe(200);
    let stopped = false;
    let offline = false;
    await syncUntil(bob, 'dave\'s typing ended and his presence offline', (b) => {
      const t = typingIn(b, roomId);
      if (t !== undefined && !t.includes(dave.userId)) stopped = true;
      if (presenceOf(b, dave.userId)?.presence === 'offline') offline = true;
      return stopped && offline;
    }, 5000);
    expect(Date.now() - ended).toBeLessThan(1000);
  });

  it('a server event of hs1 in the room reaches hs2\'s members with hs1\'s name as sender', async () => {
    const root = await hs1.register('root');
    await hs1.running.services.accounts.setAdmin(root.userId, true);
    const sent = await root.call('POST', `/_hearth/admin/v1/rooms/${enc(roomId)}/server_events`, { type: 'm.room.message', content: { msgtype: 'm.notice', body: 'Maintenance at noon' } });
    expect(sent.status).toBe(200);
    const seen = await syncUntil(bob, 'the server event', (b) => timelineOf(b, roomId).find((e) => e.content?.body === 'Maintenance at noon'));
    expect(seen).toMatchObject({ sender: hs1.name, type: 'm.room.message', content: { msgtype: 'm.notice', body: 'Maintenance at noon' } });
    const original = await hs1.running.services.storage.rooms.getEvent(sent.body.event_id as string);
    expect(seen.origin_server_ts).toBe(original!.event.origin_server_ts);
    // Stored on hs2 outside the graph, like its own server events: never a forward extremity.
    const stored = await hs2.running.services.storage.rooms.getEvent(seen.event_id as string);
    expect(stored?.serverLocal).toBe(true);
    // Alice on hs1 sees it once, as her server's own.
    await until('alice sees it', async () => (await alice.call('GET', `${C}/rooms/${enc(roomId)}/event/${enc(sent.body.event_id as string)}`)).status === 200);
  });
});
