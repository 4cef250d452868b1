import { makeTestServer, bearer } from '../../helpers/server.js';

describe('sync smoke', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('initial sync shows the room; a waiting sync wakes on a new message', async () => {
    const alice = await s.register('alice');
    const bob = await s.register('bob');
    const c = await s.http.post('/_matrix/client/v3/createRoom').set(bearer(alice)).send({ preset: 'public_chat', name: 'R' });
    const roomId = c.body.room_id as string;
    await s.http.post(`/_matrix/client/v3/join/${encodeURIComponent(roomId)}`).set(bearer(bob)).send({});
    const init = await s.http.get('/_matrix/client/v3/sync').set(bearer(bob));
    expect(init.status).toBe(200);
    expect(init.body.next_batch).toMatch(/^s\d+$/);
    const joined = init.body.rooms.join[roomId];
    const seen = [...joined.state.events, ...joined.timeline.events].map((e: { type: string }) => e.type);
    expect(seen).toContain('m.room.create');
    expect(joined.timeline.events.at(-1).type).toBe('m.room.member');
    expect(init.body.account_data.events.some((e: { type: string }) => e.type === 'm.push_rules')).toBe(true);

    const waiting = s.http.get(`/_matrix/client/v3/sync?since=${init.body.next_batch}&timeout=30000`).set(bearer(bob)).then((r) => r);
    await new Promise((r) => setTimeout(r, 50));
    const sent = await s.http.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/x1`).set(bearer(alice)).send({ msgtype: 'm.text', body: 'hello' });
    const inc = await waiting;
    expect(inc.status).toBe(200);
    const events = inc.body.rooms.join[roomId].timeline.events;
    expect(events.map((e: { event_id: string }) => e.event_id)).toEqual([sent.body.event_id]);
    expect(inc.body.rooms.join[roomId].unread_notifications.notification_count).toBe(1);

    const empty = s.http.get(`/_matrix/client/v3/sync?since=${inc.body.next_batch}&timeout=1000`).set(bearer(bob)).then((r) => r);
    await new Promise((r) => setTimeout(r, 50));
    s.clock.advance(1000);
    const e = await empty;
    expect(e.status).toBe(200);
    expect(e.body.rooms.join).toEqual({});
    expect(e.body.next_batch).toBe(inc.body.next_batch);
  });
});

describe('initial sync state at the timeline start', () => {
  const s = makeTestServer({ presence: { enabled: false } });
  afterAll(() => s.close());

  it('is the state before the first timeline event, even when the timeline changes state', async () => {
    const alice = await s.register('stalice');
    const roomId = (await s.http.post('/_matrix/client/v3/createRoom').set(bearer(alice)).send({ name: 'one' })).body.room_id as string;
    const put = (type: string, content: object) => s.http.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/${type}`).set(bearer(alice)).send(content);
    const msg = (n: number) => s.http.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/m${n}`).set(bearer(alice)).send({ body: `m${n}` });
    await put('m.room.topic', { topic: 'first' });
    await msg(1);
    await put('m.room.topic', { topic: 'second' });
    await put('m.room.name', { name: 'two' });
    await msg(2);
    const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 3 } } }));
    const res = await s.http.get(`/_matrix/client/v3/sync?filter=${filter}`).set(bearer(alice));
    const room = res.body.rooms.join[roomId];
    expect(room.timeline.events.map((e: { type: string }) => e.type)).toEqual(['m.room.topic', 'm.room.name', 'm.room.message']);
    const state = room.state.events as { type: string; content: Record<string, unknown>; event_id: string }[];
    expect(state.find((e) => e.type === 'm.room.topic')!.content.topic).toBe('first');
    expect(state.find((e) => e.type === 'm.room.name')!.content.name).toBe('one');
    // The same as the stored state at that position, event for event.
    const start = (await s.services.storage.rooms.getEvent(room.timeline.events[0].event_id))!.streamOrdering;
    const stored = await s.services.storage.rooms.getStateAt(roomId, start - 1);
    expect(state.map((e) => e.event_id).sort()).toEqual(stored.map((e) => e.event_id).sort());
  });
});
