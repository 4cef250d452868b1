// Writers whose store calls yield (PostgreSQL; SQLite through a delaying wrapper) and several writers
// on one database (spec/postgres.md): a /sync never skips an event (positions become visible only once
// every position below them has settled), a write built on stale extremities is refused and rebuilt,
// and two writers never fork a room. Runs on both engines.
import { buildConfig } from '../../src/config.js';
import { FakeClock } from '../../src/clock.js';
import { createLogger } from '../../src/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { StaleExtremitiesError } from '../../src/storage/errors.js';
import type { PersistEventInput, Storage } from '../../src/storage/types.js';
import { bearer, createRooms, makeTestServer, type TestServer, type TestUser } from '../helpers/server.js';
import { openSharedTestStorage } from '../helpers/storage.js';

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
/** Every event of the window: no timeline is cut short (a cut would hide a skipped event). */
const FULL = JSON.stringify({ room: { timeline: { limit: 1000 } } });

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => { open = resolve; });
  return { promise, open };
}

interface SyncBody {
  next_batch: string;
  rooms: { join: Record<string, { timeline: { events: { event_id: string; type: string; content: { body?: string } }[]; limited?: boolean } }> };
}

async function sync(s: TestServer, u: TestUser, since?: string): Promise<SyncBody> {
  const res = await s.http.get(`${C}/sync`).query({ timeout: 0, filter: FULL, ...(since ? { since } : {}) }).set(bearer(u));
  expect(res.status).toBe(200);
  return res.body as SyncBody;
}

const bodiesIn = (b: SyncBody, roomId: string) =>
  (b.rooms.join[roomId]?.timeline.events ?? []).filter((e) => e.type === 'm.room.message').map((e) => e.content.body);

let txn = 0;
const send = (s: TestServer, u: TestUser, roomId: string, body: string) =>
  s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/w${++txn}`).set(bearer(u)).send({ msgtype: 'm.text', body });

describe('a /sync never skips an event whose transaction commits late', () => {
  // The next event written to the held room waits (before its transaction) until the test lets it go.
  let held: { roomId: string; entered: ReturnType<typeof gate>; release: ReturnType<typeof gate> } | undefined;
  const delay = (raw: Storage): Storage => {
    const wait = async (inputs: PersistEventInput[]) => {
      const h = held;
      if (h && inputs.some((i) => i.event.room_id === h.roomId && i.event.type === 'm.room.message')) {
        held = undefined;
        h.entered.open();
        await h.release.promise;
      }
    };
    return {
      ...raw,
      rooms: {
        ...raw.rooms,
        persistEvent: async (i) => { await wait([i]); await raw.rooms.persistEvent(i); },
        persistEvents: async (is) => { await wait(is); await raw.rooms.persistEvents(is); },
      },
      close: () => raw.close(),
    };
  };
  const s = makeTestServer({}, { storage: delay });
  afterAll(() => s.close());

  it('a later event that commits first is not shown before the earlier one; the next sync shows both', async () => {
    const alice = await s.register('alice');
    const [slowRoom, fastRoom] = await createRooms(s, alice, 2);
    const first = await sync(s, alice);

    const h = (held = { roomId: slowRoom!, entered: gate(), release: gate() });
    const slow = send(s, alice, slowRoom!, 'slow').then((r) => r);
    await h.entered.promise; // its position is taken, its transaction not begun
    const fast = await send(s, alice, fastRoom!, 'fast');
    expect(fast.status).toBe(200); // committed, at a higher position

    const during = await sync(s, alice, first.next_batch);
    // Showing 'fast' now would move the client past 'slow''s position before 'slow' exists.
    expect(bodiesIn(during, fastRoom!)).toEqual([]);
    expect(bodiesIn(during, slowRoom!)).toEqual([]);

    h.release.open();
    expect((await slow).status).toBe(200);
    const after = await sync(s, alice, during.next_batch);
    expect(bodiesIn(after, slowRoom!)).toEqual(['slow']);
    expect(bodiesIn(after, fastRoom!)).toEqual(['fast']);
  });

  it('a /sync waiting meanwhile is woken once the earlier event is stored, and sees both', async () => {
    const bob = await s.register('bob');
    const [slowRoom, fastRoom] = await createRooms(s, bob, 2);
    const first = await sync(s, bob);
    const waiting = s.http.get(`${C}/sync`).query({ timeout: 60_000, filter: FULL, since: first.next_batch }).set(bearer(bob)).then((r) => r);
    const h = (held = { roomId: slowRoom!, entered: gate(), release: gate() });
    const slow = send(s, bob, slowRoom!, 'slow').then((r) => r);
    await h.entered.promise;
    expect((await send(s, bob, fastRoom!, 'fast')).status).toBe(200);
    let answered = false;
    void waiting.then(() => { answered = true; });
    await new Promise((r) => setTimeout(r, 50));
    expect(answered).toBe(false); // 'fast' alone does not wake it
    h.release.open();
    expect((await slow).status).toBe(200);
    const res = await waiting;
    expect(res.status).toBe(200);
    const body = res.body as SyncBody;
    expect([...bodiesIn(body, slowRoom!), ...bodiesIn(body, fastRoom!)].sort()).toEqual(['fast', 'slow']);
  });
});

describe('many writes at once: every event reaches an incremental /sync exactly once', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('concurrent sends to several rooms, read by syncs running alongside', async () => {
    const alice = await s.register('writer');
    const rooms = await createRooms(s, alice, 4);
    let since = (await sync(s, alice)).next_batch;
    const seen: string[] = [];
    let sending = true;
    const reader = (async () => {
      for (;;) {
        const done = !sending;
        const b = await sync(s, alice, since);
        for (const r of rooms) {
          expect(b.rooms.join[r]?.timeline.limited ?? false).toBe(false);
          seen.push(...bodiesIn(b, r).map((x) => `${r} ${x}`));
        }
        since = b.next_batch;
        if (done) return;
      }
    })();
    const sent: string[] = [];
    await Promise.all(rooms.map(async (r) => {
      await Promise.all(Array.from({ length: 15 }, async (_, i) => {
        const res = await send(s, alice, r, `m${i}`);
        expect(res.status).toBe(200);
        sent.push(`${r} m${i}`);
      }));
    }));
    sending = false;
    await reader;
    expect(seen.length).toBe(sent.length); // none twice
    expect([...seen].sort()).toEqual([...sent].sort()); // none missing
  });
});

describe('two writers on one database (two services, two connections or pools)', () => {
  const clock = new FakeClock();
  const config = buildConfig({ server_name: 'test.local', logging: { level: 'silent' }, rate_limits: { enabled: false } });
  let shared: ReturnType<typeof openSharedTestStorage>;
  let a: Services;
  let b: Services;
  beforeAll(() => {
    shared = openSharedTestStorage(() => clock.now());
    const opts = { logger: createLogger('silent'), scrypt: { N: 1 << 10, r: 8, p: 1 } };
    a = createServices(config, shared.a, clock, opts);
    b = createServices(config, shared.b, clock, opts);
  });
  afterAll(async () => {
    await a.stop();
    await b.stop();
    await shared.close();
  });

  async function roomWithMember(): Promise<{ roomId: string; userId: string }> {
    const r = await a.registration.createUser({ localpart: `u${++txn}`, password: null, admin: false, login: true });
    const auth = await a.tokens.authenticate(r.access_token!);
    const roomId = await a.rooms.createRoom(auth, { preset: 'public_chat' }, { async reserve() { throw new Error('no aliases'); }, release() {}, async commit() {} });
    return { roomId, userId: r.user_id };
  }
  const message = (userId: string, body: string) => ({ type: 'm.room.message', sender: userId, content: { msgtype: 'm.text', body } });

  it('a send built on a room state another writer has moved on is built again on the new state', async () => {
    const { roomId, userId } = await roomWithMember();
    // b has the room in memory, then a writes to it: b's copy is stale.
    const before = await b.roomState.get(roomId);
    const m1 = await a.events.send(roomId, message(userId, 'from a'));
    const m2 = await b.events.send(roomId, message(userId, 'from b'));
    const stored = (await a.storage.rooms.getEvent(m2.eventId))!;
    expect(stored.event.prev_events).toEqual([m1.eventId]);
    expect(stored.event.depth).toBe((await a.storage.rooms.getEvent(m1.eventId))!.event.depth + 1);
    expect(await a.storage.rooms.getExtremities(roomId)).toEqual([m2.eventId]);
    expect((await b.roomState.get(roomId))!.extremities.map((x) => x.eventId)).toEqual([m2.eventId]);
    expect(before!.extremities.map((x) => x.eventId)).not.toContain(m1.eventId);
    // The two writers' positions come from blocks that do not overlap.
    expect(m2.streamOrdering).not.toBe(m1.streamOrdering);
  });

  it('the store refuses an event built on extremities that are not the room\'s, and stores nothing of it', async () => {
    const { roomId, userId } = await roomWithMember();
    const [x] = await a.storage.rooms.getExtremities(roomId);
    const built = (await a.storage.rooms.getEvent(x!))!;
    const positions = await a.positions();
    await positions.available();
    const pos = positions.begin();
    const event = { ...built.event, event_id: '$stale:test', type: 'm.room.message', content: { body: 'stale' }, state_key: undefined } as typeof built.event;
    delete (event as { state_key?: string }).state_key;
    const input: PersistEventInput = {
      event, streamOrdering: pos, unsigned: null, extremities: ['$stale:test'], expectedExtremities: ['$not-the-tip:test'],
      graph: { newGroups: [], stateBefore: built.graph!.stateAfter, stateAfter: built.graph!.stateAfter },
    };
    await expect(shared.b.rooms.persistEvent(input)).rejects.toBeInstanceOf(StaleExtremitiesError);
    positions.done(pos);
    expect(await shared.b.rooms.getEvent('$stale:test')).toBeUndefined();
    expect(await shared.a.rooms.getExtremities(roomId)).toEqual([x]);
    // The same event built on the right extremities is stored.
    await shared.b.rooms.persistEvent({ ...input, expectedExtremities: [x!] });
    expect(await shared.a.rooms.getExtremities(roomId)).toEqual(['$stale:test']);
  });
});
