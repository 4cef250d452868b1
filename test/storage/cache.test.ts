// The read caches of storage/cache.ts in front of the real store (SQLite, or PostgreSQL in the postgres
// jest project): every answer read through the caches must be what the store itself answers, whatever
// writes came before (or during) the read. Each test primes the cache first (and where it matters
// checks that the cache really answered), so a cache that kept an answer older than a committed write
// fails it. Where a test needs "the store has committed" or "the store has read", it waits for exactly
// that (a PostgreSQL store answers after real I/O, not within a turn of the event loop).
import { jest } from '@jest/globals';
import type { JsonObject, StoredEvent } from '../../src/core/events/types.js';
import { VersionedCache, withCaches, type CacheLimits } from '../../src/storage/cache.js';
import type { EventRecord, PersistEventInput, PushActionRecord, ReceiptRecord, RoomEventsQuery, Storage } from '../../src/storage/types.js';
import { openTestStorage, testEngine } from '../helpers/storage.js';

const SMALL: CacheLimits = { users: 10, rooms: 10, eventsPerRoom: 5, small: 100 };

// ---- event helpers ---------------------------------------------------------------------------

let eventCounter = 0;

function ev(roomId: string, type: string, sender: string, content: JsonObject, stateKey?: string): StoredEvent {
  eventCounter++;
  return {
    event_id: `$ev${eventCounter}`,
    room_id: roomId,
    sender,
    type,
    ...(stateKey !== undefined ? { state_key: stateKey } : {}),
    content,
    origin_server_ts: 1_000_000 + eventCounter,
    prev_events: [],
    auth_events: [],
    depth: eventCounter,
    hashes: { sha256: 'x' },
    signatures: {},
  };
}

/** A persist input as the writer makes it: a state event changes the room's current state (one delta). */
function input(event: StoredEvent, streamOrdering: number, extra: Partial<PersistEventInput> = {}): PersistEventInput {
  const currentState = event.state_key === undefined || extra.serverLocal ? undefined : {
    group: null,
    deltas: [{
      type: event.type, stateKey: event.state_key, eventId: event.event_id, prevEventId: null,
      ...(event.type === 'm.room.member' ? { membership: String(event.content.membership) } : {}),
    }],
  };
  return { event, streamOrdering, unsigned: null, extremities: [event.event_id], ...(currentState ? { currentState } : {}), ...extra };
}

const member = (roomId: string, userId: string, membership: string, sender = userId) =>
  ev(roomId, 'm.room.member', sender, { membership }, userId);
const message = (roomId: string, sender: string, body: string) => ev(roomId, 'm.room.message', sender, { msgtype: 'm.text', body });

/** Canonical JSON (sorted keys, undefined dropped) so two answers can be compared as strings. */
function canon(v: unknown): string {
  const sort = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sort);
    if (x && typeof x === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(x).sort()) {
        const val = (x as Record<string, unknown>)[k];
        if (val !== undefined) out[k] = sort(val);
      }
      return out;
    }
    return x;
  };
  return JSON.stringify(sort(v));
}

/** A promise and the function that settles it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => { open = resolve; });
  return { promise, open };
}

/** Lets every pending promise continuation run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * `raw` whose persistEvent commits in the store, says so (`committed`), and is acknowledged only once
 * `hold()` resolves: a write pending in the cache layer whose effect the store already has.
 */
function committedButHeld(hold: () => Promise<void>): { storage: Storage; committed: Promise<void> } {
  const done = gate();
  const storage: Storage = {
    ...raw,
    rooms: { ...raw.rooms, persistEvent: async (i) => { await raw.rooms.persistEvent(i); done.open(); await hold(); } },
    close: () => raw.close(),
  };
  return { storage, committed: done.promise };
}

/** The store's error code for a unique (and a primary key) violation, by engine. */
const UNIQUE = testEngine() === 'postgres' ? { unique: '23505', primaryKey: '23505' } : { unique: 'SQLITE_CONSTRAINT_UNIQUE', primaryKey: 'SQLITE_CONSTRAINT_PRIMARYKEY' };

// ---- fixture ---------------------------------------------------------------------------------

let raw: Storage;
let cached: Storage;
let pos: number;
const next = () => ++pos;

beforeEach(() => {
  raw = openTestStorage();
  cached = withCaches(raw, SMALL);
  pos = 0;
});

afterEach(async () => {
  jest.restoreAllMocks();
  await raw.close();
});

/** Creates a room (create event + creator's join) through `store`; returns the join's position. */
async function createRoom(store: Storage, roomId: string, creator: string): Promise<number> {
  const createPos = next();
  const joinPos = next();
  await store.rooms.persistEvents([
    input(ev(roomId, 'm.room.create', creator, { room_version: '11' }, ''), createPos, {
      newRoom: { roomVersion: '11', creator, createdTs: 1 },
    }),
    input(member(roomId, creator, 'join'), joinPos),
  ]);
  return joinPos;
}

const roomIdsOf = (ms: { roomId: string }[]) => ms.map((m) => m.roomId).sort();

// ---- VersionedCache --------------------------------------------------------------------------

describe('VersionedCache', () => {
  it('keeps a fill whose read started with no write around it', () => {
    const c = new VersionedCache<string, number>(10);
    const t = c.startRead();
    c.fill('k', t, 1);
    expect(c.get('k')).toBe(1);
    expect(c.size).toBe(1);
  });

  it('drops a fill whose read started before a write of the key began and settled', () => {
    const c = new VersionedCache<string, number>(10);
    const t = c.startRead();
    c.beginWrite('k');
    c.endWrite('k');
    c.fill('k', t, 1);
    expect(c.get('k')).toBeUndefined();
    expect(c.size).toBe(0);
  });

  it('drops a fill whose read started while the write was pending, even once the write settled', () => {
    const c = new VersionedCache<string, number>(10);
    c.beginWrite('k');
    const t = c.startRead();
    c.endWrite('k');
    c.fill('k', t, 1);
    expect(c.get('k')).toBeUndefined();
  });

  it('drops a fill made while the write is still pending', () => {
    const c = new VersionedCache<string, number>(10);
    const t0 = c.startRead();
    c.beginWrite('k');
    c.fill('k', t0, 1);
    const t1 = c.startRead();
    c.fill('k', t1, 2);
    expect(c.get('k')).toBeUndefined();
    expect(c.size).toBe(0);
    c.endWrite('k');
    expect(c.get('k')).toBeUndefined();
  });

  it('get returns undefined while a write of the key is pending, and the old value is gone after it', () => {
    const c = new VersionedCache<string, number>(10);
    c.fill('k', c.startRead(), 1);
    expect(c.get('k')).toBe(1);
    c.beginWrite('k');
    expect(c.get('k')).toBeUndefined();
    c.endWrite('k');
    expect(c.get('k')).toBeUndefined();
  });

  it('stays pending until every overlapping write of the key settled', () => {
    const c = new VersionedCache<string, number>(10);
    c.beginWrite('k');
    c.beginWrite('k');
    c.endWrite('k');
    c.fill('k', c.startRead(), 1);
    expect(c.get('k')).toBeUndefined();
    c.endWrite('k');
    c.fill('k', c.startRead(), 2);
    expect(c.get('k')).toBe(2);
  });

  it('keeps a fill whose read started after the write settled', () => {
    const c = new VersionedCache<string, number>(10);
    c.beginWrite('k');
    c.endWrite('k');
    const t = c.startRead();
    c.fill('k', t, 7);
    expect(c.get('k')).toBe(7);
  });

  it('a write of one key does not stop fills of another', () => {
    const c = new VersionedCache<string, number>(10);
    const t = c.startRead();
    c.beginWrite('b');
    c.endWrite('b');
    c.fill('a', t, 1);
    expect(c.get('a')).toBe(1);
  });

  it('invalidate drops the value and fills whose read started before it', () => {
    const c = new VersionedCache<string, number>(10);
    c.fill('k', c.startRead(), 1);
    const t = c.startRead();
    c.invalidate('k');
    expect(c.get('k')).toBeUndefined();
    c.fill('k', t, 2);
    expect(c.get('k')).toBeUndefined();
  });

  it('clear() empties the cache and drops fills whose read started before it', () => {
    const c = new VersionedCache<string, number>(10);
    c.fill('a', c.startRead(), 1);
    const tb = c.startRead();
    c.clear();
    expect(c.get('a')).toBeUndefined();
    expect(c.size).toBe(0);
    c.fill('b', tb, 2);
    expect(c.get('b')).toBeUndefined();
    c.fill('b', c.startRead(), 3);
    expect(c.get('b')).toBe(3);
  });

  it('empties itself when full: a fill beyond maxEntries leaves only the new entry', () => {
    const c = new VersionedCache<string, number>(3);
    for (const k of ['a', 'b', 'c']) c.fill(k, c.startRead(), 1);
    expect(c.size).toBe(3);
    c.fill('d', c.startRead(), 4);
    expect(c.size).toBe(1);
    expect(c.get('a')).toBeUndefined();
    expect(c.get('b')).toBeUndefined();
    expect(c.get('c')).toBeUndefined();
    expect(c.get('d')).toBe(4);
  });

  it('when it forgets versions (too many writes) it also drops fills whose read started before', () => {
    const c = new VersionedCache<string, number>(2);
    const t = c.startRead();
    c.beginWrite('k');
    c.endWrite('k');
    // Enough writes of other keys to make the cache forget the versions (k's included).
    for (let i = 0; i < 10; i++) { c.beginWrite(`o${i}`); c.endWrite(`o${i}`); }
    c.fill('k', t, 1);
    expect(c.get('k')).toBeUndefined();
  });

  it('a committed write with a known effect changes the cached value in place, and caches nothing when nothing was cached', () => {
    const c = new VersionedCache<string, number>(10);
    c.beginWrite('k');
    c.endWrite('k', (v) => v + 1);
    expect(c.get('k')).toBeUndefined();
    c.fill('k', c.startRead(), 1);
    c.beginWrite('k');
    expect(c.get('k')).toBeUndefined(); // pending: not served
    c.endWrite('k', (v) => v + 1);
    expect(c.get('k')).toBe(2);
  });
});

// ---- getRoomsForUser -------------------------------------------------------------------------

describe('getRoomsForUser through the cache', () => {
  it('is answered from memory once read', async () => {
    await createRoom(cached, '!a:x', '@alice:x');
    const spy = jest.spyOn(raw.rooms, 'getRoomsForUser');
    expect(roomIdsOf(await cached.rooms.getRoomsForUser('@alice:x', ['join']))).toEqual(['!a:x']);
    expect(roomIdsOf(await cached.rooms.getRoomsForUser('@alice:x', ['join']))).toEqual(['!a:x']);
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('a leave persisted with persistEvent changes the answer', async () => {
    await createRoom(cached, '!a:x', '@alice:x');
    await createRoom(cached, '!b:x', '@alice:x');
    expect(roomIdsOf(await cached.rooms.getRoomsForUser('@alice:x', ['join']))).toEqual(['!a:x', '!b:x']);
    expect(await cached.rooms.getRoomsForUser('@alice:x', ['leave'])).toEqual([]);

    const leave = member('!a:x', '@alice:x', 'leave');
    const leavePos = next();
    await cached.rooms.persistEvent(input(leave, leavePos));

    expect(roomIdsOf(await cached.rooms.getRoomsForUser('@alice:x', ['join']))).toEqual(['!b:x']);
    expect(await cached.rooms.getRoomsForUser('@alice:x', ['leave'])).toEqual([
      { roomId: '!a:x', userId: '@alice:x', membership: 'leave', eventId: leave.event_id, streamOrdering: leavePos },
    ]);
    expect(await cached.rooms.getRoomsForUser('@alice:x', ['join', 'leave'])).toEqual(
      await raw.rooms.getRoomsForUser('@alice:x', ['join', 'leave']),
    );
  });

  it('a membership change persisted with persistEvents (a batch) changes the answer', async () => {
    await createRoom(cached, '!a:x', '@alice:x');
    expect(await cached.rooms.getRoomsForUser('@bob:x', ['join'])).toEqual([]);
    await cached.rooms.persistEvents([
      input(message('!a:x', '@alice:x', 'hi'), next()),
      input(member('!a:x', '@bob:x', 'join'), next()),
    ]);
    expect(roomIdsOf(await cached.rooms.getRoomsForUser('@bob:x', ['join']))).toEqual(['!a:x']);
  });

  it('forgetRoom removes the (left) room from the answer', async () => {
    await createRoom(cached, '!a:x', '@alice:x');
    await createRoom(cached, '!b:x', '@alice:x');
    await cached.rooms.persistEvent(input(member('!a:x', '@alice:x', 'leave'), next()));
    expect(roomIdsOf(await cached.rooms.getRoomsForUser('@alice:x', ['join', 'leave']))).toEqual(['!a:x', '!b:x']);
    expect(roomIdsOf(await cached.rooms.getRoomsForUser('@alice:x', ['leave']))).toEqual(['!a:x']);

    await cached.rooms.forgetRoom('!a:x', '@alice:x');

    expect(roomIdsOf(await cached.rooms.getRoomsForUser('@alice:x', ['leave']))).toEqual([]);
    expect(roomIdsOf(await cached.rooms.getRoomsForUser('@alice:x', ['join', 'leave']))).toEqual(['!b:x']);
    expect(await cached.rooms.getRoomsForUser('@alice:x', ['join', 'leave'])).toEqual(
      await raw.rooms.getRoomsForUser('@alice:x', ['join', 'leave']),
    );
  });

  it('a new join after forgetting lists the room again', async () => {
    await createRoom(cached, '!a:x', '@alice:x');
    await cached.rooms.persistEvent(input(member('!a:x', '@bob:x', 'join'), next()));
    await cached.rooms.persistEvent(input(member('!a:x', '@bob:x', 'leave'), next()));
    await cached.rooms.forgetRoom('!a:x', '@bob:x');
    expect(await cached.rooms.getRoomsForUser('@bob:x', ['join', 'leave'])).toEqual([]);
    await cached.rooms.persistEvent(input(member('!a:x', '@bob:x', 'join'), next()));
    expect(roomIdsOf(await cached.rooms.getRoomsForUser('@bob:x', ['join']))).toEqual(['!a:x']);
  });

  it('honours the membership filter (invite vs join), also after a change', async () => {
    await createRoom(cached, '!a:x', '@alice:x');
    await cached.rooms.persistEvent(input(member('!a:x', '@bob:x', 'invite', '@alice:x'), next()));
    expect(roomIdsOf(await cached.rooms.getRoomsForUser('@bob:x', ['invite']))).toEqual(['!a:x']);
    expect(await cached.rooms.getRoomsForUser('@bob:x', ['join'])).toEqual([]);
    expect(await cached.rooms.getRoomsForUser('@bob:x', ['leave', 'ban'])).toEqual([]);
    // The creator's join is not an invite.
    expect(await cached.rooms.getRoomsForUser('@alice:x', ['invite'])).toEqual([]);

    await cached.rooms.persistEvent(input(member('!a:x', '@bob:x', 'join'), next()));
    expect(await cached.rooms.getRoomsForUser('@bob:x', ['invite'])).toEqual([]);
    expect(roomIdsOf(await cached.rooms.getRoomsForUser('@bob:x', ['join']))).toEqual(['!a:x']);

    await cached.rooms.persistEvent(input(member('!a:x', '@bob:x', 'ban', '@alice:x'), next()));
    expect(await cached.rooms.getRoomsForUser('@bob:x', ['join'])).toEqual([]);
    expect(roomIdsOf(await cached.rooms.getRoomsForUser('@bob:x', ['ban']))).toEqual(['!a:x']);
    expect(await cached.rooms.getRoomsForUser('@bob:x', [])).toEqual([]);
  });

  it('a membership change of another user does not disturb the answer for this one', async () => {
    await createRoom(cached, '!a:x', '@alice:x');
    expect(roomIdsOf(await cached.rooms.getRoomsForUser('@alice:x', ['join']))).toEqual(['!a:x']);
    await cached.rooms.persistEvent(input(member('!a:x', '@bob:x', 'join'), next()));
    expect(roomIdsOf(await cached.rooms.getRoomsForUser('@alice:x', ['join']))).toEqual(['!a:x']);
    expect(roomIdsOf(await cached.rooms.getRoomsForUser('@bob:x', ['join']))).toEqual(['!a:x']);
  });

  it('stays right when more users are read than the cache holds', async () => {
    await createRoom(cached, '!a:x', '@alice:x');
    const users = Array.from({ length: 25 }, (_, i) => `@u${i}:x`);
    for (const u of users) expect(await cached.rooms.getRoomsForUser(u, ['join'])).toEqual([]);
    for (const u of users) await cached.rooms.persistEvent(input(member('!a:x', u, 'join'), next()));
    for (const u of users) expect(roomIdsOf(await cached.rooms.getRoomsForUser(u, ['join']))).toEqual(['!a:x']);
  });

  it('while a membership write is pending, reads see the store (not the old cached answer)', async () => {
    await createRoom(cached, '!a:x', '@alice:x');
    const g = gate();
    // The store commits but the write is acknowledged only when the gate opens.
    const slow = committedButHeld(() => g.promise);
    const c = withCaches(slow.storage, SMALL);
    expect(roomIdsOf(await c.rooms.getRoomsForUser('@alice:x', ['join']))).toEqual(['!a:x']);
    const write = c.rooms.persistEvent(input(member('!a:x', '@alice:x', 'leave'), next()));
    await slow.committed;
    expect(await c.rooms.getRoomsForUser('@alice:x', ['join'])).toEqual([]);
    g.open();
    await write;
    expect(await c.rooms.getRoomsForUser('@alice:x', ['join'])).toEqual([]);
    expect(roomIdsOf(await c.rooms.getRoomsForUser('@alice:x', ['leave']))).toEqual(['!a:x']);
  });
});

// ---- getRoomEvents ---------------------------------------------------------------------------

const ROOM = '!r:x';
const OTHER = '!o:x';

const positionsOf = (rs: EventRecord[]) => rs.map((r) => r.streamOrdering);

/** Every (from, to, limit) query shape over positions 0..max+2, both directions; mismatches listed. */
async function compareAll(max: number, extra: Partial<RoomEventsQuery> = {}): Promise<{ mismatches: string[]; queries: number }> {
  const mismatches: string[] = [];
  const froms = [...Array.from({ length: max + 3 }, (_, i) => i), Number.MAX_SAFE_INTEGER];
  const tos: (number | undefined)[] = [undefined, ...Array.from({ length: max + 2 }, (_, i) => i)];
  const limits = [1, 2, 3, 4, 5, 6, 9, 50];
  let queries = 0;
  for (const dir of ['b', 'f'] as const) {
    for (const from of froms) {
      for (const to of tos) {
        for (const limit of limits) {
          const q: RoomEventsQuery = { roomId: ROOM, from, dir, limit, ...(to !== undefined ? { to } : {}), ...extra };
          queries++;
          const got = canon(await cached.rooms.getRoomEvents(q));
          const want = canon(await raw.rooms.getRoomEvents(q));
          if (got !== want && mismatches.length < 10) {
            const cachedAnswer = positionsOf(await cached.rooms.getRoomEvents(q)).join(',');
            const storeAnswer = positionsOf(await raw.rooms.getRoomEvents(q)).join(',');
            mismatches.push(`${JSON.stringify(q)}: cached [${cachedAnswer}] store [${storeAnswer}]${cachedAnswer === storeAnswer ? ' (records differ)' : ''}`);
          }
        }
      }
    }
  }
  return { mismatches, queries };
}

describe('getRoomEvents through the cache (eventsPerRoom: 5)', () => {
  /** A room with events of several shapes, interleaved with another room's (so positions have gaps). */
  async function fillRoom(n: number): Promise<void> {
    await createRoom(cached, ROOM, '@alice:x');
    await createRoom(cached, OTHER, '@bob:x');
    for (let i = 0; i < n; i++) {
      const kind = i % 5;
      if (kind === 0) {
        await cached.rooms.persistEvent(input(message(ROOM, '@alice:x', `m${i}`), next(), {
          txn: { userId: '@alice:x', deviceId: 'DEV', scope: 'send', txnId: `t${i}`, ts: 5 },
        }));
      } else if (kind === 1) {
        await cached.rooms.persistEvent(input(ev(ROOM, 'm.room.topic', '@alice:x', { topic: `t${i}` }, ''), next(), {
          unsigned: { prev_content: { topic: 'old' }, prev_sender: '@alice:x' },
        }));
      } else if (kind === 2) {
        await cached.rooms.persistEvents([
          input(message(ROOM, '@bob:x', `m${i}`), next()),
          input(message(OTHER, '@bob:x', `o${i}`), next()),
          input(message(ROOM, '@alice:x', `m${i}b`), next()),
        ]);
      } else if (kind === 3) {
        await cached.rooms.persistEvent(input(ev(ROOM, 'm.server.notice', '@server:x', { body: 'local' }), next(), { serverLocal: true }));
      } else {
        await cached.rooms.persistEvent(input(message(OTHER, '@bob:x', `o${i}`), next()));
        await cached.rooms.persistEvent(input(message(ROOM, '@bob:x', `m${i}`), next()));
      }
    }
  }

  it('answers every backward and forward query exactly as the store does, inside and below the window', async () => {
    await fillRoom(14);
    const spy = jest.spyOn(raw.rooms, 'getRoomEvents');
    // Count only the queries the cache passed on to the store.
    let cachedCalls = 0;
    let storeCalls = 0;
    const origCached = cached.rooms.getRoomEvents;
    const probe = async (q: RoomEventsQuery) => {
      const before = spy.mock.calls.length;
      const r = await origCached(q);
      storeCalls += spy.mock.calls.length - before;
      cachedCalls++;
      return r;
    };
    (cached.rooms as { getRoomEvents: typeof probe }).getRoomEvents = probe;
    const { mismatches, queries } = await compareAll(pos);
    expect(mismatches).toEqual([]);
    expect(cachedCalls).toBe(queries);
    // The window really answered part of the queries (else this test would prove nothing).
    expect(storeCalls).toBeLessThan(queries);
    expect(storeCalls).toBeGreaterThan(0);
  });

  it('the incremental-sync shape (from upTo+1, dir b, to since) matches the store after every write', async () => {
    await createRoom(cached, ROOM, '@alice:x');
    for (let i = 0; i < 16; i++) {
      if (i % 3 === 0) await cached.rooms.persistEvent(input(message(ROOM, '@alice:x', `m${i}`), next()));
      else await cached.rooms.persistEvents([input(message(ROOM, '@alice:x', `a${i}`), next()), input(message(ROOM, '@alice:x', `b${i}`), next())]);
      const upTo = pos;
      for (let since = 0; since <= upTo; since++) {
        for (const limit of [1, 2, 5, 6, 11]) {
          const q: RoomEventsQuery = { roomId: ROOM, from: upTo + 1, dir: 'b', limit, to: since };
          const got = await cached.rooms.getRoomEvents(q);
          const want = await raw.rooms.getRoomEvents(q);
          // The query travels with the positions so a failure names it.
          expect({ q, r: positionsOf(got) }).toEqual({ q, r: positionsOf(want) });
          expect(canon(got)).toBe(canon(want));
        }
        // The initial-sync shape (no lower bound) and the forward shape of the same range.
        const b: RoomEventsQuery = { roomId: ROOM, from: upTo + 1, dir: 'b', limit: 3 };
        expect(canon(await cached.rooms.getRoomEvents(b))).toBe(canon(await raw.rooms.getRoomEvents(b)));
        const f: RoomEventsQuery = { roomId: ROOM, from: since, dir: 'f', limit: 4, to: upTo };
        expect(canon(await cached.rooms.getRoomEvents(f))).toBe(canon(await raw.rooms.getRoomEvents(f)));
      }
    }
  });

  it('a newly persisted event shows up at once in a query the window answered before', async () => {
    await fillRoom(6);
    const q: RoomEventsQuery = { roomId: ROOM, from: Number.MAX_SAFE_INTEGER, dir: 'b', limit: 3 };
    const before = await cached.rooms.getRoomEvents(q);
    const e = message(ROOM, '@alice:x', 'new');
    const p = next();
    await cached.rooms.persistEvent(input(e, p));
    const after = await cached.rooms.getRoomEvents(q);
    expect(after[0]!.event.event_id).toBe(e.event_id);
    expect(after[0]!.streamOrdering).toBe(p);
    expect(positionsOf(after.slice(1))).toEqual(positionsOf(before.slice(0, 2)));
    expect(canon(after)).toBe(canon(await raw.rooms.getRoomEvents(q)));
    const f: RoomEventsQuery = { roomId: ROOM, from: before[0]!.streamOrdering, dir: 'f', limit: 10 };
    expect(positionsOf(await cached.rooms.getRoomEvents(f))).toEqual([p]);
  });

  it('filtered queries (types, notTypes, senders, notSenders) go to the store and match it', async () => {
    await fillRoom(10);
    const spy = jest.spyOn(raw.rooms, 'getRoomEvents');
    const filters: Partial<RoomEventsQuery>[] = [
      { types: ['m.room.message'] },
      { types: ['m.room.topic'] },
      { types: ['m.room.*'] },
      { notTypes: ['m.room.message'] },
      { senders: ['@bob:x'] },
      { notSenders: ['@alice:x'] },
    ];
    for (const f of filters) {
      for (const base of [
        { from: Number.MAX_SAFE_INTEGER, dir: 'b' as const, limit: 3 },
        { from: pos + 1, dir: 'b' as const, limit: 4, to: pos - 4 },
        { from: pos - 5, dir: 'f' as const, limit: 10 },
        { from: 0, dir: 'f' as const, limit: 50, to: pos },
      ]) {
        const q: RoomEventsQuery = { roomId: ROOM, ...base, ...f };
        const before = spy.mock.calls.length;
        const got = await cached.rooms.getRoomEvents(q);
        expect(spy.mock.calls.length).toBe(before + 1);
        expect(spy.mock.calls[before]![0]).toEqual(q);
        expect(canon(got)).toBe(canon(await raw.rooms.getRoomEvents(q)));
      }
    }
    const { mismatches } = await compareAll(pos, { types: ['m.room.message'] });
    expect(mismatches).toEqual([]);
  });

  it('a redaction of an event inside the window: the target comes back redacted, as from the store', async () => {
    await createRoom(cached, ROOM, '@alice:x');
    const target = message(ROOM, '@bob:x', 'secret');
    const targetPos = next();
    await cached.rooms.persistEvent(input(target, targetPos));
    await cached.rooms.persistEvent(input(message(ROOM, '@alice:x', 'after'), next()));
    const q: RoomEventsQuery = { roomId: ROOM, from: Number.MAX_SAFE_INTEGER, dir: 'b', limit: 4 };
    const [, seenBefore] = await cached.rooms.getRoomEvents(q);
    expect(seenBefore!.event.content).toEqual({ msgtype: 'm.text', body: 'secret' });
    expect(seenBefore!.redactedBy).toBeNull();

    const redaction = ev(ROOM, 'm.room.redaction', '@alice:x', { redacts: target.event_id });
    const redactedJson: JsonObject = { ...(target as unknown as JsonObject), content: {} };
    await cached.rooms.persistEvent(input(redaction, next(), { redaction: { targetEventId: target.event_id, redactedJson } }));

    const find = (rs: EventRecord[]) => rs.find((r) => r.event.event_id === target.event_id);
    for (const query of [
      q,
      { roomId: ROOM, from: pos + 1, dir: 'b' as const, limit: 10, to: targetPos - 1 },
      { roomId: ROOM, from: targetPos - 1, dir: 'f' as const, limit: 1 },
      { roomId: ROOM, from: 0, dir: 'f' as const, limit: 10, to: pos },
    ]) {
      const got = find(await cached.rooms.getRoomEvents(query));
      expect(got).toBeDefined();
      expect(got!.redactedBy).toBe(redaction.event_id);
      expect(got!.event.content).toEqual({});
      expect(canon(got)).toBe(canon(find(await raw.rooms.getRoomEvents(query))));
    }
    // Later events still come through the window right.
    await cached.rooms.persistEvent(input(message(ROOM, '@alice:x', 'later'), next()));
    const { mismatches } = await compareAll(pos);
    expect(mismatches).toEqual([]);
  });

  it('a redaction inside a batch (persistEvents) is applied as well', async () => {
    await createRoom(cached, ROOM, '@alice:x');
    const target = message(ROOM, '@bob:x', 'secret');
    await cached.rooms.persistEvent(input(target, next()));
    await cached.rooms.getRoomEvents({ roomId: ROOM, from: Number.MAX_SAFE_INTEGER, dir: 'b', limit: 5 });
    const redaction = ev(ROOM, 'm.room.redaction', '@alice:x', { redacts: target.event_id });
    await cached.rooms.persistEvents([
      input(message(ROOM, '@alice:x', 'x'), next()),
      input(redaction, next(), { redaction: { targetEventId: target.event_id, redactedJson: { ...(target as unknown as JsonObject), content: {} } } }),
      input(message(ROOM, '@alice:x', 'y'), next()),
    ]);
    const { mismatches } = await compareAll(pos);
    expect(mismatches).toEqual([]);
    const all = await cached.rooms.getRoomEvents({ roomId: ROOM, from: 0, dir: 'f', limit: 50 });
    expect(all.find((r) => r.event.event_id === target.event_id)!.redactedBy).toBe(redaction.event_id);
  });

  it('a failed write leaves no trace in the answers', async () => {
    await fillRoom(4);
    const q: RoomEventsQuery = { roomId: ROOM, from: Number.MAX_SAFE_INTEGER, dir: 'b', limit: 3 };
    await cached.rooms.getRoomEvents(q);
    const [newest] = await raw.rooms.getRoomEvents(q);
    // An event ID already taken (at a new position): the store refuses the event.
    // (The rejection is checked by its SQLite code, not with rejects.toThrow(): better-sqlite3's native
    // addon is loaded once per jest worker and keeps the SqliteError class of the first test file that
    // opened a database, so when another file ran first in the worker, the error's prototype chain
    // ends in that file's realm, it is not `instanceof Error` here, and toThrow() reports "did not throw".)
    const bad = { ...message(ROOM, '@alice:x', 'never stored'), event_id: newest!.event.event_id };
    const badPos = next();
    await expect(cached.rooms.persistEvent(input(bad, badPos))).rejects.toHaveProperty('code', UNIQUE.unique);
    const f: RoomEventsQuery = { roomId: ROOM, from: newest!.streamOrdering, dir: 'f', limit: 5 };
    expect(canon(await cached.rooms.getRoomEvents(q))).toBe(canon(await raw.rooms.getRoomEvents(q)));
    expect(positionsOf(await cached.rooms.getRoomEvents(q))).not.toContain(badPos);
    expect(await cached.rooms.getRoomEvents(f)).toEqual([]);
    // A position already taken, in a batch: refused as well.
    const bad2 = message(ROOM, '@alice:x', 'never stored either');
    await expect(cached.rooms.persistEvents([input(message(ROOM, '@alice:x', 'ok'), next()), input(bad2, newest!.streamOrdering)]))
      .rejects.toHaveProperty('code', UNIQUE.primaryKey);
    expect(canon(await cached.rooms.getRoomEvents(q))).toBe(canon(await raw.rooms.getRoomEvents(q)));
    expect(await cached.rooms.getRoomEvents(f)).toEqual([]);
    await cached.rooms.persistEvent(input(message(ROOM, '@alice:x', 'ok'), next()));
    const { mismatches } = await compareAll(pos);
    expect(mismatches).toEqual([]);
  });

  it('stays right when more rooms are written than the cache holds', async () => {
    const rooms = Array.from({ length: 14 }, (_, i) => `!room${i}:x`);
    for (const r of rooms) await createRoom(cached, r, '@alice:x');
    for (let round = 0; round < 3; round++) {
      for (const r of rooms) await cached.rooms.persistEvent(input(message(r, '@alice:x', `${round}`), next()));
    }
    for (const r of rooms) {
      for (const q of [
        { roomId: r, from: Number.MAX_SAFE_INTEGER, dir: 'b' as const, limit: 10 },
        { roomId: r, from: pos + 1, dir: 'b' as const, limit: 10, to: 0 },
        { roomId: r, from: 0, dir: 'f' as const, limit: 10, to: pos },
      ]) expect(canon(await cached.rooms.getRoomEvents(q))).toBe(canon(await raw.rooms.getRoomEvents(q)));
    }
  });

  it('while an event write is pending, queries see the store (which already has the event)', async () => {
    await createRoom(raw, ROOM, '@alice:x');
    let hold: Promise<void> = Promise.resolve();
    let committed = Promise.resolve();
    // The store commits; the write is acknowledged only once `hold` settles.
    const slow: Storage = {
      ...raw,
      rooms: {
        ...raw.rooms,
        persistEvent: async (i) => {
          const done = gate();
          committed = done.promise;
          await raw.rooms.persistEvent(i);
          done.open();
          await hold;
        },
      },
      close: () => raw.close(),
    };
    const c = withCaches(slow, SMALL);
    for (let i = 0; i < 3; i++) await c.rooms.persistEvent(input(message(ROOM, '@alice:x', `m${i}`), next()));
    const q: RoomEventsQuery = { roomId: ROOM, from: Number.MAX_SAFE_INTEGER, dir: 'b', limit: 2 };
    const fq: RoomEventsQuery = { roomId: ROOM, from: pos, dir: 'f', limit: 5 };
    expect(canon(await c.rooms.getRoomEvents(q))).toBe(canon(await raw.rooms.getRoomEvents(q)));
    expect(await c.rooms.getRoomEvents(fq)).toEqual([]);

    const g = gate();
    hold = g.promise;
    const e = message(ROOM, '@alice:x', 'pending');
    const write = c.rooms.persistEvent(input(e, next()));
    await committed;
    expect((await c.rooms.getRoomEvents(q))[0]!.event.event_id).toBe(e.event_id);
    expect((await c.rooms.getRoomEvents(fq)).map((r) => r.event.event_id)).toEqual([e.event_id]);
    g.open();
    await write;
    expect(canon(await c.rooms.getRoomEvents(q))).toBe(canon(await raw.rooms.getRoomEvents(q)));
    expect(canon(await c.rooms.getRoomEvents(fq))).toBe(canon(await raw.rooms.getRoomEvents(fq)));
  });

  // remember() handles an event whose position is not above the room's newest remembered one by
  // restarting the window at that event's position; events of the room above it that are already
  // stored must then not be answered from the (empty) window.
  it('an event persisted out of position order (a lower position after a higher one) is not lost', async () => {
    await createRoom(cached, ROOM, '@alice:x');
    const base = pos;
    const high = message(ROOM, '@alice:x', 'high');
    const low = message(ROOM, '@alice:x', 'low');
    await cached.rooms.persistEvent(input(high, base + 10));
    await cached.rooms.persistEvent(input(low, base + 5));
    await cached.rooms.persistEvent(input(message(ROOM, '@alice:x', 'newest'), base + 11));
    pos = base + 11;
    const { mismatches } = await compareAll(pos);
    expect(mismatches).toEqual([]);
  });

  // The store's LIMIT 0 gives no rows; the window must not answer more than `limit` events.
  it('a page with limit 0 is empty, as from the store', async () => {
    await fillRoom(3);
    for (const q of [
      { roomId: ROOM, from: pos + 1, dir: 'b' as const, limit: 0, to: pos - 2 },
      { roomId: ROOM, from: pos - 2, dir: 'f' as const, limit: 0 },
    ]) {
      expect(await raw.rooms.getRoomEvents(q)).toEqual([]);
      expect(await cached.rooms.getRoomEvents(q)).toEqual([]);
    }
  });
});

// ---- countNotifications ----------------------------------------------------------------------

describe('countNotifications through the cache', () => {
  const push = (...actions: PushActionRecord[]) => ({ pushActions: actions });
  const receipt = (userId: string, eventId: string, eventPos: number, streamOrdering: number): ReceiptRecord => ({
    roomId: ROOM, receiptType: 'm.read', userId, threadId: '', eventId, eventStreamOrdering: eventPos, ts: 1, streamOrdering,
  });

  it('counts events with push actions persisted after a first (cached) count', async () => {
    await createRoom(cached, ROOM, '@alice:x');
    const spy = jest.spyOn(raw.sync, 'countNotifications');
    expect(await cached.sync.countNotifications('@bob:x', ROOM, 0)).toEqual({ notifications: 0, highlights: 0 });
    expect(await cached.sync.countNotifications('@bob:x', ROOM, 0)).toEqual({ notifications: 0, highlights: 0 });
    expect(spy).toHaveBeenCalledTimes(1); // the second came from memory

    await cached.rooms.persistEvent(input(message(ROOM, '@alice:x', 'a'), next(), push({ userId: '@bob:x', highlight: false })));
    expect(await cached.sync.countNotifications('@bob:x', ROOM, 0)).toEqual({ notifications: 1, highlights: 0 });

    await cached.rooms.persistEvents([
      input(message(ROOM, '@alice:x', 'b'), next(), push({ userId: '@bob:x', highlight: true }, { userId: '@carol:x', highlight: false })),
      input(message(ROOM, '@alice:x', 'c'), next(), push({ userId: '@bob:x', highlight: false })),
    ]);
    expect(await cached.sync.countNotifications('@bob:x', ROOM, 0)).toEqual({ notifications: 3, highlights: 1 });
    expect(await cached.sync.countNotifications('@carol:x', ROOM, 0)).toEqual({ notifications: 1, highlights: 0 });
    expect(await cached.sync.countNotifications('@bob:x', '!elsewhere:x', 0)).toEqual({ notifications: 0, highlights: 0 });
  });

  it('after a receipt, a count from the receipt position is right, and later events raise it again', async () => {
    await createRoom(cached, ROOM, '@alice:x');
    const e1 = message(ROOM, '@alice:x', '1');
    const p1 = next();
    await cached.rooms.persistEvent(input(e1, p1, push({ userId: '@bob:x', highlight: true })));
    const e2 = message(ROOM, '@alice:x', '2');
    const p2 = next();
    await cached.rooms.persistEvent(input(e2, p2, push({ userId: '@bob:x', highlight: false })));
    expect(await cached.sync.countNotifications('@bob:x', ROOM, 0)).toEqual({ notifications: 2, highlights: 1 });

    expect(await cached.sync.putReceipt(receipt('@bob:x', e1.event_id, p1, next()))).toBe(true);
    expect(await cached.sync.countNotifications('@bob:x', ROOM, p1)).toEqual({ notifications: 1, highlights: 0 });
    expect(await cached.sync.countNotifications('@bob:x', ROOM, p1)).toEqual({ notifications: 1, highlights: 0 });

    await cached.rooms.persistEvent(input(message(ROOM, '@alice:x', '3'), next(), push({ userId: '@bob:x', highlight: true })));
    expect(await cached.sync.countNotifications('@bob:x', ROOM, p1)).toEqual({ notifications: 2, highlights: 1 });

    expect(await cached.sync.putReceipt(receipt('@bob:x', e2.event_id, p2, next()))).toBe(true);
    expect(await cached.sync.countNotifications('@bob:x', ROOM, p2)).toEqual({ notifications: 1, highlights: 1 });
    // Going back to an older `after` is answered for that `after`, not from the newer count.
    expect(await cached.sync.countNotifications('@bob:x', ROOM, 0)).toEqual({ notifications: 3, highlights: 2 });
    expect(await cached.sync.countNotifications('@bob:x', ROOM, p2)).toEqual(await raw.sync.countNotifications('@bob:x', ROOM, p2));
  });

  it('per thread: events persisted after a cached count raise their own thread\'s count, as the store counts them', async () => {
    await createRoom(cached, ROOM, '@alice:x');
    const root = message(ROOM, '@alice:x', 'root');
    await cached.rooms.persistEvent(input(root, next(), push({ userId: '@bob:x', highlight: false })));
    const spy = jest.spyOn(raw.sync, 'countNotificationsByThread');
    const first = await cached.sync.countNotificationsByThread('@bob:x', ROOM, 0);
    expect(await cached.sync.countNotificationsByThread('@bob:x', ROOM, 0)).toEqual(first);
    expect(spy).toHaveBeenCalledTimes(1);
    await cached.rooms.persistEvents([
      input(message(ROOM, '@alice:x', 'in thread'), next(), { ...push({ userId: '@bob:x', highlight: true }, { userId: '@carol:x', highlight: false }), threadId: root.event_id }),
      input(message(ROOM, '@alice:x', 'main again'), next(), push({ userId: '@bob:x', highlight: false })),
    ]);
    const after = await cached.sync.countNotificationsByThread('@bob:x', ROOM, 0);
    expect(spy).toHaveBeenCalledTimes(1); // updated in memory, not read again
    expect(after).toEqual(await raw.sync.countNotificationsByThread('@bob:x', ROOM, 0));
    expect(after.get(root.event_id)).toEqual({ notifications: 1, highlights: 1 });
    expect(after.get('main')).toEqual({ notifications: 2, highlights: 0 });
    expect(await cached.sync.countNotificationsByThread('@carol:x', ROOM, 0)).toEqual(await raw.sync.countNotificationsByThread('@carol:x', ROOM, 0));
  });

  it('while a write with push actions is pending, counts see the store', async () => {
    await createRoom(raw, ROOM, '@alice:x');
    const g = gate();
    const slow = committedButHeld(() => g.promise);
    const c = withCaches(slow.storage, SMALL);
    expect(await c.sync.countNotifications('@bob:x', ROOM, 0)).toEqual({ notifications: 0, highlights: 0 });
    const write = c.rooms.persistEvent(input(message(ROOM, '@alice:x', 'x'), next(), push({ userId: '@bob:x', highlight: true })));
    await slow.committed;
    expect(await c.sync.countNotifications('@bob:x', ROOM, 0)).toEqual({ notifications: 1, highlights: 1 });
    g.open();
    await write;
    expect(await c.sync.countNotifications('@bob:x', ROOM, 0)).toEqual({ notifications: 1, highlights: 1 });
  });
});

// ---- getReceipt ------------------------------------------------------------------------------

describe('getReceipt through the cache', () => {
  const rr = (eventId: string, eventPos: number, streamOrdering: number, threadId = ''): ReceiptRecord => ({
    roomId: ROOM, receiptType: 'm.read', userId: '@bob:x', threadId, eventId, eventStreamOrdering: eventPos, ts: 7, streamOrdering,
  });

  it('an absent receipt, once read, is replaced by the one put afterwards; a newer one replaces it again', async () => {
    const spy = jest.spyOn(raw.sync, 'getReceipt');
    expect(await cached.sync.getReceipt(ROOM, 'm.read', '@bob:x', '')).toBeUndefined();
    expect(await cached.sync.getReceipt(ROOM, 'm.read', '@bob:x', '')).toBeUndefined();
    expect(spy).toHaveBeenCalledTimes(1);

    const first = rr('$e1', 10, 11);
    expect(await cached.sync.putReceipt(first)).toBe(true);
    expect(await cached.sync.getReceipt(ROOM, 'm.read', '@bob:x', '')).toEqual(first);
    expect(await cached.sync.getReceipt(ROOM, 'm.read', '@bob:x', '')).toEqual(first);

    const second = rr('$e2', 20, 21);
    expect(await cached.sync.putReceipt(second)).toBe(true);
    expect(await cached.sync.getReceipt(ROOM, 'm.read', '@bob:x', '')).toEqual(second);

    // The store keeps the receipt on the later event; so must the cache.
    expect(await cached.sync.putReceipt(rr('$e0', 5, 22))).toBe(false);
    expect(await cached.sync.getReceipt(ROOM, 'm.read', '@bob:x', '')).toEqual(second);
    expect(await cached.sync.getReceipt(ROOM, 'm.read', '@bob:x', '')).toEqual(await raw.sync.getReceipt(ROOM, 'm.read', '@bob:x', ''));
  });

  it('receipts of other threads, types and users are kept apart', async () => {
    await cached.sync.putReceipt(rr('$e1', 10, 11));
    expect(await cached.sync.getReceipt(ROOM, 'm.read', '@bob:x', '$thread')).toBeUndefined();
    expect(await cached.sync.getReceipt(ROOM, 'm.read.private', '@bob:x', '')).toBeUndefined();
    expect(await cached.sync.getReceipt(ROOM, 'm.read', '@carol:x', '')).toBeUndefined();
    const threaded = rr('$e3', 30, 31, '$thread');
    await cached.sync.putReceipt(threaded);
    expect(await cached.sync.getReceipt(ROOM, 'm.read', '@bob:x', '$thread')).toEqual(threaded);
    expect((await cached.sync.getReceipt(ROOM, 'm.read', '@bob:x', ''))!.eventId).toBe('$e1');
  });
});

// ---- to-device -------------------------------------------------------------------------------

describe('to-device messages through the cache', () => {
  const msg = (streamOrdering: number, deviceId = 'DEV', body = `m${streamOrdering}`) => ({
    streamOrdering, userId: '@bob:x', deviceId, sender: '@alice:x', type: 'm.test', content: { body },
  });

  it('an empty inbox, once read, delivers the message added afterwards', async () => {
    const spy = jest.spyOn(raw.sync, 'getToDevice');
    expect(await cached.sync.getToDevice('@bob:x', 'DEV', 0, 10)).toEqual([]);
    expect(await cached.sync.getToDevice('@bob:x', 'DEV', 0, 10)).toEqual([]);
    expect(spy).toHaveBeenCalledTimes(1);

    expect(await cached.sync.addToDevice([msg(3)], null)).toBe(true);
    expect(await cached.sync.getToDevice('@bob:x', 'DEV', 0, 10)).toEqual([msg(3)]);
    expect(await cached.sync.getToDevice('@bob:x', 'DEV', 3, 10)).toEqual([]);
    expect(await cached.sync.getToDevice('@bob:x', 'DEV', 2, 10)).toEqual([msg(3)]);
  });

  it('a message added after an "up to date" answer for a later position is still delivered', async () => {
    expect(await cached.sync.getToDevice('@bob:x', 'DEV', 5, 10)).toEqual([]);
    await cached.sync.addToDevice([msg(6)], { userId: '@alice:x', deviceId: 'A', scope: 'sendToDevice m.x', txnId: 't1', ts: 1 });
    expect(await cached.sync.getToDevice('@bob:x', 'DEV', 5, 10)).toEqual([msg(6)]);
    // A repeated transaction stores nothing.
    expect(await cached.sync.addToDevice([msg(7)], { userId: '@alice:x', deviceId: 'A', scope: 'sendToDevice m.x', txnId: 't1', ts: 1 })).toBe(false);
    expect(await cached.sync.getToDevice('@bob:x', 'DEV', 5, 10)).toEqual([msg(6)]);
  });

  it('a page cut by the limit does not hide the rest', async () => {
    await cached.sync.addToDevice([msg(1), msg(2), msg(3)], null);
    expect(await cached.sync.getToDevice('@bob:x', 'DEV', 0, 2)).toEqual([msg(1), msg(2)]);
    expect(await cached.sync.getToDevice('@bob:x', 'DEV', 2, 2)).toEqual([msg(3)]);
    expect(await cached.sync.getToDevice('@bob:x', 'DEV', 1, 2)).toEqual([msg(2), msg(3)]);
  });

  it('deleteToDevice deletes; a later message is delivered and deletable too', async () => {
    await cached.sync.addToDevice([msg(1), msg(2)], null);
    expect(await cached.sync.getToDevice('@bob:x', 'DEV', 0, 10)).toEqual([msg(1), msg(2)]);
    await cached.sync.deleteToDevice('@bob:x', 'DEV', 1);
    expect(await raw.sync.getToDevice('@bob:x', 'DEV', 0, 10)).toEqual([msg(2)]);
    await cached.sync.deleteToDevice('@bob:x', 'DEV', 2);
    expect(await raw.sync.getToDevice('@bob:x', 'DEV', 0, 10)).toEqual([]);
    expect(await cached.sync.getToDevice('@bob:x', 'DEV', 2, 10)).toEqual([]);
    // Acknowledging the same position again is harmless.
    await cached.sync.deleteToDevice('@bob:x', 'DEV', 2);

    await cached.sync.addToDevice([msg(5)], null);
    expect(await cached.sync.getToDevice('@bob:x', 'DEV', 2, 10)).toEqual([msg(5)]);
    expect(await raw.sync.getToDevice('@bob:x', 'DEV', 0, 10)).toEqual([msg(5)]);
    await cached.sync.deleteToDevice('@bob:x', 'DEV', 5);
    expect(await raw.sync.getToDevice('@bob:x', 'DEV', 0, 10)).toEqual([]);
    expect(await cached.sync.getToDevice('@bob:x', 'DEV', 5, 10)).toEqual([]);
  });

  it('a message added after a delete is deleted by the next acknowledgement even if never read', async () => {
    await cached.sync.addToDevice([msg(1)], null);
    expect(await cached.sync.getToDevice('@bob:x', 'DEV', 0, 10)).toEqual([msg(1)]);
    await cached.sync.deleteToDevice('@bob:x', 'DEV', 1);
    expect(await cached.sync.getToDevice('@bob:x', 'DEV', 1, 10)).toEqual([]);
    await cached.sync.addToDevice([msg(4)], null);
    await cached.sync.deleteToDevice('@bob:x', 'DEV', 4);
    expect(await raw.sync.getToDevice('@bob:x', 'DEV', 0, 10)).toEqual([]);
  });

  it('a delete with nothing left to delete is skipped only while nothing new came', async () => {
    await cached.sync.addToDevice([msg(1)], null);
    await cached.sync.deleteToDevice('@bob:x', 'DEV', 1);
    expect(await cached.sync.getToDevice('@bob:x', 'DEV', 1, 10)).toEqual([]);
    await cached.sync.deleteToDevice('@bob:x', 'DEV', 3); // nothing there
    await cached.sync.addToDevice([msg(7)], null);
    expect(await cached.sync.getToDevice('@bob:x', 'DEV', 3, 10)).toEqual([msg(7)]);
    await cached.sync.deleteToDevice('@bob:x', 'DEV', 8);
    expect(await raw.sync.getToDevice('@bob:x', 'DEV', 0, 10)).toEqual([]);
  });

  it('devices are kept apart', async () => {
    expect(await cached.sync.getToDevice('@bob:x', 'OTHER', 0, 10)).toEqual([]);
    await cached.sync.addToDevice([msg(1, 'DEV')], null);
    expect(await cached.sync.getToDevice('@bob:x', 'OTHER', 0, 10)).toEqual([]);
    await cached.sync.addToDevice([msg(2, 'OTHER')], null);
    expect(await cached.sync.getToDevice('@bob:x', 'OTHER', 0, 10)).toEqual([msg(2, 'OTHER')]);
    await cached.sync.deleteToDevice('@bob:x', 'DEV', 2);
    expect(await raw.sync.getToDevice('@bob:x', 'OTHER', 0, 10)).toEqual([msg(2, 'OTHER')]);
    expect(await raw.sync.getToDevice('@bob:x', 'DEV', 0, 10)).toEqual([]);
  });
});

// ---- account data ----------------------------------------------------------------------------

describe('getAccountDataSince through the cache', () => {
  it('[] when nothing is new; a record set afterwards appears for a since below its position', async () => {
    const spy = jest.spyOn(raw.sync, 'getAccountDataSince');
    expect(await cached.sync.getAccountDataSince('@bob:x', 0)).toEqual([]);
    expect(await cached.sync.getAccountDataSince('@bob:x', 0)).toEqual([]);
    expect(await cached.sync.getAccountDataSince('@bob:x', 3)).toEqual([]);
    expect(spy).toHaveBeenCalledTimes(1);

    await cached.sync.setAccountData('@bob:x', '', 'm.test', { a: 1 }, 5);
    const rec5 = { roomId: '', type: 'm.test', content: { a: 1 }, streamOrdering: 5 };
    expect(await cached.sync.getAccountDataSince('@bob:x', 0)).toEqual([rec5]);
    expect(await cached.sync.getAccountDataSince('@bob:x', 4)).toEqual([rec5]);
    expect(await cached.sync.getAccountDataSince('@bob:x', 5)).toEqual([]);
    expect(await cached.sync.getAccountDataSince('@bob:x', 6)).toEqual([]);

    await cached.sync.setAccountData('@bob:x', ROOM, 'm.tag', { tags: {} }, 9);
    expect(await cached.sync.getAccountDataSince('@bob:x', 5)).toEqual([{ roomId: ROOM, type: 'm.tag', content: { tags: {} }, streamOrdering: 9 }]);

    await cached.sync.setAccountData('@bob:x', '', 'm.test', { a: 2 }, 12);
    expect(await cached.sync.getAccountDataSince('@bob:x', 9)).toEqual([{ roomId: '', type: 'm.test', content: { a: 2 }, streamOrdering: 12 }]);
    expect(await cached.sync.getAccountDataSince('@bob:x', 0)).toEqual(await raw.sync.getAccountDataSince('@bob:x', 0));
  });

  it('account data of another user does not show, and does not hide this user\'s', async () => {
    expect(await cached.sync.getAccountDataSince('@bob:x', 0)).toEqual([]);
    await cached.sync.setAccountData('@carol:x', '', 'm.test', { c: 1 }, 2);
    expect(await cached.sync.getAccountDataSince('@bob:x', 0)).toEqual([]);
    expect(await cached.sync.getAccountDataSince('@carol:x', 0)).toHaveLength(1);
  });
});

// ---- races -----------------------------------------------------------------------------------

describe('a read racing a write', () => {
  it('getRoomsForUser started before a membership change: the next read reflects the change', async () => {
    await createRoom(cached, '!a:x', '@alice:x');
    const read = cached.rooms.getRoomsForUser('@alice:x', ['join']); // not awaited
    const write = cached.rooms.persistEvent(input(member('!a:x', '@alice:x', 'leave'), next()));
    const [early] = await Promise.all([read, write]);
    // The early read may see either state; what matters is what comes after.
    expect(early.length).toBeLessThanOrEqual(1);
    expect(await cached.rooms.getRoomsForUser('@alice:x', ['join'])).toEqual([]);
    expect(roomIdsOf(await cached.rooms.getRoomsForUser('@alice:x', ['leave']))).toEqual(['!a:x']);
  });

  it('a store read that answers with the old state only after the write committed never fills the cache', async () => {
    await createRoom(raw, '!a:x', '@alice:x');
    const g = gate();
    const hasRead = gate();
    let delayNext = true;
    // The store reads first (old state) but its answer arrives only when the gate opens.
    const slow: Storage = {
      ...raw,
      rooms: {
        ...raw.rooms,
        getRoomsForUser: async (u, ms) => {
          const answer = await raw.rooms.getRoomsForUser(u, ms);
          if (delayNext) { delayNext = false; hasRead.open(); await g.promise; }
          return answer;
        },
      },
      close: () => raw.close(),
    };
    const c = withCaches(slow, SMALL);
    const read = c.rooms.getRoomsForUser('@alice:x', ['join']);
    await hasRead.promise;
    await c.rooms.persistEvent(input(member('!a:x', '@alice:x', 'leave'), next()));
    g.open();
    expect(roomIdsOf(await read)).toEqual(['!a:x']); // the old state, read before the write
    expect(await c.rooms.getRoomsForUser('@alice:x', ['join'])).toEqual([]);
  });

  it('countNotifications, getReceipt, getToDevice and getAccountDataSince answered late never fill stale values', async () => {
    await createRoom(raw, ROOM, '@alice:x');
    const g = gate();
    const readsDone: Promise<void>[] = [];
    const late = <A extends unknown[], R>(f: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
      const done = gate();
      readsDone.push(done.promise);
      const r = await f(...a);
      done.open();
      await g.promise;
      return r;
    };
    const slowSync = {
      ...raw.sync,
      countNotifications: late(raw.sync.countNotifications),
      getReceipt: late(raw.sync.getReceipt),
      getToDevice: late(raw.sync.getToDevice),
      getAccountDataSince: late(raw.sync.getAccountDataSince),
    };
    const c = withCaches({ ...raw, sync: slowSync, close: () => raw.close() }, SMALL);
    const reads = Promise.all([
      c.sync.countNotifications('@bob:x', ROOM, 0),
      c.sync.getReceipt(ROOM, 'm.read', '@bob:x', ''),
      c.sync.getToDevice('@bob:x', 'DEV', 0, 10),
      c.sync.getAccountDataSince('@bob:x', 0),
    ]);
    await settle();
    await Promise.all(readsDone);
    await c.rooms.persistEvent(input(message(ROOM, '@alice:x', 'x'), next(), { pushActions: [{ userId: '@bob:x', highlight: false }] }));
    const receipt: ReceiptRecord = { roomId: ROOM, receiptType: 'm.read', userId: '@bob:x', threadId: '', eventId: '$x', eventStreamOrdering: 1, ts: 1, streamOrdering: 50 };
    await c.sync.putReceipt(receipt);
    const td = { streamOrdering: 51, userId: '@bob:x', deviceId: 'DEV', sender: '@alice:x', type: 'm.test', content: {} };
    await c.sync.addToDevice([td], null);
    await c.sync.setAccountData('@bob:x', '', 'm.test', { v: 1 }, 52);
    g.open();
    expect(await reads).toEqual([{ notifications: 0, highlights: 0 }, undefined, [], []]);
    // Every later read now goes past the gate at once.
    expect(await c.sync.countNotifications('@bob:x', ROOM, 0)).toEqual({ notifications: 1, highlights: 0 });
    expect(await c.sync.getReceipt(ROOM, 'm.read', '@bob:x', '')).toEqual(receipt);
    expect(await c.sync.getToDevice('@bob:x', 'DEV', 0, 10)).toEqual([td]);
    expect(await c.sync.getAccountDataSince('@bob:x', 0)).toEqual([{ roomId: '', type: 'm.test', content: { v: 1 }, streamOrdering: 52 }]);
  });
});
