// RoomStore.loadRooms (the batch a cold initial sync uses) returns what the one-room reads return,
// and the writer's preload gives the same room state as loading rooms one by one.
import { bearer, createRooms, makeTestServer, type TestServer, type TestUser } from '../helpers/server.js';

let s: TestServer;
let alice: TestUser;
let rooms: string[] = [];

beforeAll(async () => {
  s = makeTestServer();
  alice = await s.register('alice');
  const bob = await s.register('bob');
  rooms = await createRooms(s, alice, 3, (i) => ({ name: `room ${i}`, preset: 'public_chat' }));
  const join = await s.http.post(`/_matrix/client/v3/join/${encodeURIComponent(rooms[1]!)}`).set(bearer(bob)).send({});
  expect(join.status).toBe(200);
  const topic = await s.http.put(`/_matrix/client/v3/rooms/${encodeURIComponent(rooms[2]!)}/state/m.room.topic`).set(bearer(alice)).send({ topic: 't' });
  expect(topic.status).toBe(200);
});
afterAll(() => s.close());

describe('loadRooms', () => {
  it('answers like getRoom, getCurrentState and getExtremities, and leaves unknown rooms out', async () => {
    const store = s.services.storage.rooms;
    const loaded = await store.loadRooms([...rooms, '!unknown:test.local']);
    expect(loaded.map((l) => l.room.roomId).sort()).toEqual([...rooms].sort());
    for (const l of loaded) {
      const id = l.room.roomId;
      expect(l.room).toEqual(await store.getRoom(id));
      const byKey = (list: { type: string; state_key?: string; event_id: string }[]) => list.map((e) => `${e.type}|${e.state_key}|${e.event_id}`).sort();
      expect(byKey(l.state)).toEqual(byKey(await store.getCurrentState(id)));
      expect(l.extremities.map((x) => x.eventId).sort()).toEqual([...(await store.getExtremities(id))].sort());
      const recs = await store.getEvents(l.extremities.map((x) => x.eventId));
      for (const x of l.extremities) expect(x.depth).toBe(recs.find((r) => r.event.event_id === x.eventId)!.event.depth);
      expect(l.depth).toBe(Math.max(...recs.map((r) => r.event.depth)));
    }
    expect(await store.loadRooms([])).toEqual([]);
  });

  it('an initial sync over preloaded rooms shows the same state as one that loaded them one by one', async () => {
    const first = await s.http.get('/_matrix/client/v3/sync').set(bearer(alice));
    expect(first.status).toBe(200);
    // A fresh server on the same storage has nothing cached: its first initial sync preloads.
    const { createServices } = await import('../../src/services.js');
    const { createApp } = await import('../../src/http/app.js');
    const { createLogger } = await import('../../src/logger.js');
    const request = (await import('supertest')).default;
    const fresh = createServices(s.config, s.services.storage, s.clock, { logger: createLogger('silent') });
    try {
      const res = await request(createApp(fresh)).get('/_matrix/client/v3/sync').set(bearer(alice));
      expect(res.status).toBe(200);
      for (const id of rooms) {
        const ids = (r: { body: { rooms: { join: Record<string, { state: { events: { event_id: string }[] }; timeline: { events: { event_id: string }[] } }> } } }) =>
          [...r.body.rooms.join[id]!.state.events, ...r.body.rooms.join[id]!.timeline.events].map((e) => e.event_id).sort();
        expect(ids(res)).toEqual(ids(first));
      }
    } finally {
      await fresh.stop();
    }
  });
});
