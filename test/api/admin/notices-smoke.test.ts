import { makeTestServer, bearer } from '../../helpers/server.js';

describe('server notices smoke', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('an admin sends a notice; the user sees an invite from the system user, joins and reads the notice', async () => {
    const root = await s.register('root');
    await s.services.accounts.setAdmin(root.userId, true);
    const alice = await s.register('alice');
    const r = await s.http.post('/_synapse/admin/v1/send_server_notice').set(bearer(root)).send({ user_id: alice.userId, content: { msgtype: 'm.text', body: 'maintenance tonight' } });
    expect(r.status).toBe(200);
    expect(r.body.event_id).toMatch(/^\$/);
    const sync = await s.http.get('/_matrix/client/v3/sync').set(bearer(alice));
    const [roomId, invite] = Object.entries(sync.body.rooms.invite)[0] as [string, { invite_state: { events: { type: string; sender: string; state_key: string }[] } }];
    const inv = invite.invite_state.events.find((e) => e.type === 'm.room.member' && e.state_key === alice.userId)!;
    expect(inv.sender).toBe('@system:test.local');
    const j = await s.http.post(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/join`).set(bearer(alice)).send({});
    expect(j.status).toBe(200);
    const msgs = await s.http.get(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b`).set(bearer(alice));
    const notice = msgs.body.chunk.find((e: { type: string }) => e.type === 'm.room.message');
    expect(notice.sender).toBe('test.local');
    expect(notice.content.body).toBe('maintenance tonight');
    const post = await s.http.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1`).set(bearer(alice)).send({ body: 'hi' });
    expect(post.status).toBe(403);
    expect(post.body.errcode).toBe('M_FORBIDDEN');
    const tag = await s.http.get(`/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/rooms/${encodeURIComponent(roomId)}/account_data/m.tag`).set(bearer(alice));
    expect(tag.body.tags['m.server_notice']).toBeDefined();
  });

  it('a room-scoped server event reaches members with the domain sender', async () => {
    const root = await s.register('root2');
    await s.services.accounts.setAdmin(root.userId, true);
    const bob = await s.register('bob');
    const c = await s.http.post('/_matrix/client/v3/createRoom').set(bearer(bob)).send({});
    const roomId = c.body.room_id;
    const r = await s.http.post(`/_hearth/admin/v1/rooms/${encodeURIComponent(roomId)}/server_events`).set(bearer(root)).send({ type: 'm.room.message', content: { msgtype: 'm.notice', body: 'restart at 5' } });
    expect(r.status).toBe(200);
    const ev = await s.http.get(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(r.body.event_id)}`).set(bearer(bob));
    expect(ev.status).toBe(200);
    expect(ev.body.sender).toBe('test.local');
    const after = await s.http.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t9`).set(bearer(bob)).send({ body: 'ok' });
    expect(after.status).toBe(200);
    const pdu = (await s.services.storage.rooms.getEvent(after.body.event_id))!.event;
    expect(pdu.prev_events).not.toContain(r.body.event_id);
  });
});
