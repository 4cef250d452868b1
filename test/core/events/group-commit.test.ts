// Group commit in the event writer (src/core/events/writer.ts): sends of different rooms that are
// ready together are stored in one transaction, each acknowledged only after it committed; a batch
// that fails is retried event by event, so one bad event fails only its own send.
import type { PersistEventInput } from '../../../src/storage/types.js';
import { bearer, createRooms, makeTestServer, type TestServer, type TestUser } from '../../helpers/server.js';

let s: TestServer;
let alice: TestUser;
let rooms: string[] = [];

beforeAll(async () => {
  s = makeTestServer();
  alice = await s.register('alice');
  rooms = await createRooms(s, alice, 5);
});
afterAll(() => s.close());

const draft = (body: string) => ({ type: 'm.room.message', sender: alice.userId, content: { msgtype: 'm.text', body } });

describe('group commit', () => {
  it('stores concurrent sends of several rooms in one transaction, in position order', async () => {
    const store = s.services.storage.rooms;
    const original = store.persistEvents;
    const batches: PersistEventInput[][] = [];
    store.persistEvents = async (inputs) => {
      batches.push([...inputs]);
      return original(inputs);
    };
    try {
      const results = await Promise.all(rooms.map((r, i) => s.services.events.send(r, draft(`hello ${i}`))));
      expect(batches).toHaveLength(1);
      expect(batches[0]!.map((p) => p.event.room_id)).toEqual(rooms);
      const orderings = results.map((r) => r.streamOrdering);
      expect([...orderings].sort((a, b) => a - b)).toEqual(orderings);
      expect(new Set(orderings).size).toBe(rooms.length);
      const positions = await s.services.positions();
      expect(positions.current).toBeGreaterThanOrEqual(orderings[orderings.length - 1]!);
      for (const r of results) {
        const stored = await store.getEvent(r.eventId);
        expect(stored?.streamOrdering).toBe(r.streamOrdering);
      }
    } finally {
      store.persistEvents = original;
    }
  });

  it('a failing batch is retried event by event: only the bad event fails, and its room is unchanged', async () => {
    const store = s.services.storage.rooms;
    const many = store.persistEvents;
    const one = store.persistEvent;
    const bad = rooms[2]!;
    store.persistEvents = async () => {
      throw new Error('disk trouble in the batch');
    };
    store.persistEvent = async (input) => {
      if (input.event.room_id === bad) throw new Error('this event cannot be stored');
      return one(input);
    };
    const extremitiesBefore = await store.getExtremities(bad);
    let outcomes: PromiseSettledResult<{ eventId: string }>[];
    try {
      outcomes = await Promise.allSettled(rooms.map((r, i) => s.services.events.send(r, draft(`again ${i}`))));
    } finally {
      store.persistEvents = many;
      store.persistEvent = one;
    }
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    for (const o of outcomes) if (o.status === 'fulfilled') expect(await store.getEvent(o.value.eventId)).toBeDefined();
    expect(await store.getExtremities(bad)).toEqual(extremitiesBefore);
    // The room goes on from where it was: the next event builds on the stored extremities.
    const next = await s.services.events.send(bad, draft('after the failure'));
    const stored = await store.getEvent(next.eventId);
    expect(stored?.event.prev_events).toEqual(extremitiesBefore);
  });

  it('the HTTP send answers 200 only for a stored event', async () => {
    const res = await s.http.put(`/_matrix/client/v3/rooms/${encodeURIComponent(rooms[0]!)}/send/m.room.message/t1`).set(bearer(alice)).send({ msgtype: 'm.text', body: 'x' });
    expect(res.status).toBe(200);
    expect(await s.services.storage.rooms.getEvent(res.body.event_id)).toBeDefined();
  });
});
