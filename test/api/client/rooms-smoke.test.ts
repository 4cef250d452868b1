import { makeTestServer, bearer } from '../../helpers/server.js';

describe('rooms smoke', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('creates a room, invites with a reason, joins, sends, kicks', async () => {
    const alice = await s.register('alice');
    const bob = await s.register('bob');
    const c = await s.http.post('/_matrix/client/v3/createRoom').set(bearer(alice)).send({ name: 'Test', room_alias_name: 'test' });
    expect(c.status).toBe(200);
    const roomId = c.body.room_id;
    // Room version 12 (the default): the room ID is the create event's hash, with no server part.
    expect(roomId).toMatch(/^![A-Za-z0-9_-]{43}$/);
    const inv = await s.http.post(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/invite`).set(bearer(alice)).send({ user_id: bob.userId, reason: 'come chat' });
    expect(inv.status).toBe(200);
    const j = await s.http.post(`/_matrix/client/v3/join/${encodeURIComponent('#test:test.local')}`).set(bearer(bob)).send({});
    expect(j.status).toBe(200);
    expect(j.body.room_id).toBe(roomId);
    const send = await s.http.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1`).set(bearer(alice)).send({ msgtype: 'm.text', body: 'hi', sender: '@bob:test.local' });
    expect(send.status).toBe(200);
    expect(send.body.event_id).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
    const again = await s.http.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1`).set(bearer(alice)).send({ msgtype: 'm.text', body: 'hi' });
    expect(again.body.event_id).toBe(send.body.event_id);
    const rec = await s.services.storage.rooms.getEvent(send.body.event_id);
    expect(rec!.event.sender).toBe(alice.userId);
    const kick = await s.http.post(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/kick`).set(bearer(alice)).send({ user_id: bob.userId, reason: 'bye' });
    expect(kick.status).toBe(200);
    const m = await s.services.storage.rooms.getMembership(roomId, bob.userId);
    expect(m!.membership).toBe('leave');
    const ev = await s.services.storage.rooms.getEvent(m!.eventId);
    expect(ev!.event.content.reason).toBe('bye');
    const nope = await s.http.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t2`).set(bearer(bob)).send({ body: 'x' });
    expect(nope.status).toBe(403);
    expect(nope.body.errcode).toBe('M_FORBIDDEN');
  });
});
