// Many presence changes between two syncs (more than the per-user query threshold): only room-mates'
// changes reach the viewer.
import { makeTestServer, bearer } from '../../helpers/server.js';

describe('presence in /sync after many changes', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('delivers only the changes of users who share a room with the viewer', async () => {
    const viewer = await s.register('pmviewer');
    const mate = await s.register('pmmate');
    const roomId = (await s.http.post('/_matrix/client/v3/createRoom').set(bearer(viewer)).send({ preset: 'public_chat' })).body.room_id as string;
    await s.http.post(`/_matrix/client/v3/join/${encodeURIComponent(roomId)}`).set(bearer(mate)).send({});
    const first = await s.http.get('/_matrix/client/v3/sync').set(bearer(viewer));
    const strangers = [];
    for (let i = 0; i < 40; i++) strangers.push(await s.register(`pmstranger${i}`));
    // Every stranger and the room-mate come online (each request starts an implicit, online session).
    for (const u of strangers) await s.http.get('/_matrix/client/v3/account/whoami').set(bearer(u));
    await s.http.put(`/_matrix/client/v3/presence/${encodeURIComponent(mate.userId)}/status`).set(bearer(mate)).send({ presence: 'online', status_msg: 'here' });
    const next = await s.http.get(`/_matrix/client/v3/sync?since=${first.body.next_batch}`).set(bearer(viewer));
    const senders = (next.body.presence.events as { sender: string }[]).map((e) => e.sender);
    expect(senders).toContain(mate.userId);
    expect(senders.filter((u) => u.startsWith('@pmstranger'))).toEqual([]);
    const mateEvent = (next.body.presence.events as { sender: string; content: { presence: string; status_msg?: string } }[]).find((e) => e.sender === mate.userId)!;
    expect(mateEvent.content.presence).toBe('online');
    expect(mateEvent.content.status_msg).toBe('here');
  });
});
