// State at every event (spec/event-graph.md): each stored event points at the state group before and
// after it; a group is a snapshot or a delta on an earlier group, with a snapshot every MAX_HOPS
// deltas, so reading any group folds at most MAX_HOPS + 1 groups in one query.
import { MAX_HOPS, stateKeyOf } from '../../../src/core/state/groups.js';
import type { EventRecord } from '../../../src/storage/types.js';
import { bearer, makeTestServer } from '../../helpers/server.js';

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('state groups', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('every event of a room has the state before and after it: one group lookup each, equal to the state replayed in order', async () => {
    const alice = await s.register('alice');
    const roomId = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'public_chat', name: 'first' })).body.room_id as string;
    for (let i = 0; i < 5; i++) {
      await s.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.topic/`).set(bearer(alice)).send({ topic: `topic ${i}` });
      await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/g${i}`).set(bearer(alice)).send({ body: `message ${i}` });
    }
    const records: EventRecord[] = await s.services.storage.rooms.getRoomEvents({ roomId, from: 0, dir: 'f', limit: 1000 });
    const replay = new Map<string, string>();
    for (const r of records) {
      const before = await s.services.storage.rooms.getStateGroup(r.graph!.stateBefore ?? -1).catch(() => new Map());
      expect(r.graph!.stateBefore === null ? new Map() : before).toEqual(replay);
      if (r.event.state_key !== undefined) replay.set(stateKeyOf(r.event.type, r.event.state_key), r.event.event_id);
      const after = r.graph!.stateAfter === null ? new Map() : await s.services.storage.rooms.getStateGroup(r.graph!.stateAfter);
      expect(after).toEqual(replay);
      // A message event changes nothing: the same group before and after.
      if (r.event.state_key === undefined) expect(r.graph!.stateAfter).toBe(r.graph!.stateBefore);
    }
    // The room's current state is the group of its (only) forward extremity.
    const room = (await s.services.roomState.get(roomId))!;
    expect(await s.services.storage.rooms.getStateGroup(room.group!.id)).toEqual(replay);
  });

  it(`writes a snapshot every ${MAX_HOPS} deltas: no group is more than ${MAX_HOPS} deltas from a snapshot, and every one reads right`, async () => {
    const alice = await s.register('bigroom');
    const roomId = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'public_chat' })).body.room_id as string;
    const expected = new Map<number, Map<string, string>>();
    for (let i = 0; i < 2 * MAX_HOPS + 20; i++) {
      const r = await s.http.put(`${C}/rooms/${enc(roomId)}/state/org.example.counter/k${i % 30}`).set(bearer(alice)).send({ i });
      expect(r.status).toBe(200);
      const rec = (await s.services.storage.rooms.getEvent(r.body.event_id))!;
      expected.set(rec.graph!.stateAfter!, new Map([...(await s.services.roomState.get(roomId))!.state].map(([k, e]) => [k, e.event_id])));
    }
    let snapshots = 0;
    for (const [group, state] of expected) {
      const hops = (await s.services.storage.rooms.getStateGroupHops(group))!;
      expect(hops).toBeLessThanOrEqual(MAX_HOPS);
      if (hops === 0) snapshots++;
      expect(await s.services.storage.rooms.getStateGroup(group)).toEqual(state);
      // A few keys at once, without reading the whole group.
      const keys = [stateKeyOf('org.example.counter', 'k3'), stateKeyOf('m.room.create', ''), stateKeyOf('org.example.none', '')];
      const some = await s.services.storage.rooms.getStateGroupKeys(group, keys);
      expect(some).toEqual(new Map(keys.filter((k) => state.has(k)).map((k) => [k, state.get(k)!])));
    }
    expect(snapshots).toBeGreaterThanOrEqual(2);
  });
});
