// GET /sync (matrix-spec: sync.yaml#sync; client-server-api "Syncing", "Filtering", "Receipts",
// "Ignoring Users", "Send-to-Device messaging", "Push Notifications"). Real users, rooms and events
// through the HTTP API; long-poll timeouts run on the test server's fake clock.
import type { Response } from 'supertest';
import { bearer, makeTestServer, type TestUser, expectError } from '../../helpers/server.js';

// Presence has its own tests; here it would add m.presence events to responses the tests expect empty.
const s = makeTestServer({ presence: { enabled: false } });
afterAll(() => s.close());

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
let txn = 0;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;
interface Ev {
  event_id: string;
  type: string;
  sender: string;
  origin_server_ts: number;
  content: Json;
  state_key?: string;
  unsigned?: Json;
}
type Query = Record<string, string | number | boolean>;

// ---- helpers ------------------------------------------------------------------------------------

async function createRoom(u: TestUser, body: Json = {}): Promise<string> {
  const r = await s.http.post(`${C}/createRoom`).set(bearer(u)).send({ preset: 'public_chat', ...body });
  expect(r.status).toBe(200);
  return r.body.room_id as string;
}
async function post(u: TestUser, path: string, body: Json = {}): Promise<Response> {
  const r = await s.http.post(`${C}${path}`).set(bearer(u)).send(body);
  expect(r.status).toBe(200);
  return r;
}
const join = (u: TestUser, roomId: string) => post(u, `/rooms/${enc(roomId)}/join`);
const leave = (u: TestUser, roomId: string) => post(u, `/rooms/${enc(roomId)}/leave`);
const invite = (u: TestUser, roomId: string, target: TestUser, reason?: string) =>
  post(u, `/rooms/${enc(roomId)}/invite`, { user_id: target.userId, ...(reason !== undefined ? { reason } : {}) });
const kick = (u: TestUser, roomId: string, target: TestUser, reason: string) => post(u, `/rooms/${enc(roomId)}/kick`, { user_id: target.userId, reason });
const ban = (u: TestUser, roomId: string, target: TestUser, reason: string) => post(u, `/rooms/${enc(roomId)}/ban`, { user_id: target.userId, reason });

async function send(u: TestUser, roomId: string, body: string, extra: Json = {}, type = 'm.room.message'): Promise<string> {
  const r = await s.http.put(`${C}/rooms/${enc(roomId)}/send/${type}/t${++txn}`).set(bearer(u)).send({ msgtype: 'm.text', body, ...extra });
  expect(r.status).toBe(200);
  return r.body.event_id as string;
}
async function sendMany(u: TestUser, roomId: string, prefix: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await send(u, roomId, `${prefix}${i}`));
  return ids;
}
async function setState(u: TestUser, roomId: string, type: string, key: string, content: Json): Promise<string> {
  const r = await s.http.put(`${C}/rooms/${enc(roomId)}/state/${type}/${enc(key)}`).set(bearer(u)).send(content);
  expect(r.status).toBe(200);
  return r.body.event_id as string;
}
async function putAccountData(u: TestUser, type: string, content: Json, roomId?: string): Promise<void> {
  const path = roomId === undefined ? `/user/${enc(u.userId)}/account_data/${type}` : `/user/${enc(u.userId)}/rooms/${enc(roomId)}/account_data/${type}`;
  const r = await s.http.put(`${C}${path}`).set(bearer(u)).send(content);
  expect(r.status).toBe(200);
}
async function receipt(u: TestUser, roomId: string, type: string, eventId: string, body: Json = {}): Promise<void> {
  await post(u, `/rooms/${enc(roomId)}/receipt/${type}/${enc(eventId)}`, body);
}
async function sendToDevice(u: TestUser, type: string, messages: Json, txnId = `d${++txn}`): Promise<void> {
  const r = await s.http.put(`${C}/sendToDevice/${type}/${txnId}`).set(bearer(u)).send({ messages });
  expect(r.status).toBe(200);
}

const sync = (u: TestUser, query: Query = {}) => s.http.get(`${C}/sync`).query(query).set(bearer(u));
async function syncOk(u: TestUser, query: Query = {}): Promise<Json> {
  const r = await sync(u, query);
  expect(r.status).toBe(200);
  return r.body as Json;
}
/** A user's sync position now (an initial sync's next_batch). */
async function position(u: TestUser): Promise<string> {
  return (await syncOk(u)).next_batch as string;
}

/** Waits (real time) for a condition the server reaches asynchronously; fails after ~2 s. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}
/** Lets in-flight requests run for a moment of real time (the fake clock does not move). */
const settle = () => new Promise((r) => setTimeout(r, 60));

interface Pending {
  result: Promise<Response>;
  settled(): boolean;
}
/** Starts a sync and resolves once it is parked on the notifier (or has already answered). */
async function startWaiting(u: TestUser, query: Query): Promise<Pending> {
  const before = s.services.notifier.waiting;
  let done = false;
  const result = sync(u, query).then((r) => {
    done = true;
    return r;
  });
  await until(() => done || s.services.notifier.waiting > before, 'the sync to wait');
  return { result, settled: () => done };
}
/** Resolves with the response if it arrives within ~2 s of real time, without moving the fake clock. */
async function promptly(p: Pending): Promise<Response> {
  await until(p.settled, 'the sync to answer');
  return p.result;
}

const timeline = (body: Json, roomId: string): Ev[] => body.rooms?.join?.[roomId]?.timeline?.events ?? [];
const stateOf = (body: Json, roomId: string): Ev[] => body.rooms?.join?.[roomId]?.state?.events ?? [];
const bodies = (events: Ev[]) => events.filter((e) => e.type === 'm.room.message').map((e) => e.content.body as string);
const ids = (events: Ev[]) => events.map((e) => e.event_id);
const memberKeys = (events: Ev[]) => events.filter((e) => e.type === 'm.room.member').map((e) => e.state_key).sort();

function expectEmpty(body: Json): void {
  expect(body.rooms.join).toEqual({});
  expect(body.rooms.invite).toEqual({});
  expect(body.rooms.leave).toEqual({});
  expect(body.account_data.events).toEqual([]);
  expect(body.to_device.events).toEqual([]);
  expect(body.presence.events).toEqual([]);
}

async function users(...names: string[]): Promise<TestUser[]> {
  const out: TestUser[] = [];
  for (const n of names) out.push(await s.register(`${n}${++txn}`));
  return out;
}

// ---- initial sync -------------------------------------------------------------------------------

describe('GET /sync: initial sync', () => {
  it('returns every top-level section, a next_batch token and the push rules', async () => {
    const [alice] = await users('alice');
    const body = await syncOk(alice!);
    expect(typeof body.next_batch).toBe('string');
    expect(body.next_batch.length).toBeGreaterThan(0);
    expect(body.rooms).toEqual(expect.objectContaining({ join: {}, invite: {}, leave: {} }));
    expect(Array.isArray(body.presence.events)).toBe(true);
    expect(Array.isArray(body.account_data.events)).toBe(true);
    expect(body.to_device).toEqual({ events: [] });
    expect(body.device_lists).toEqual(expect.objectContaining({ changed: [], left: [] }));
    const rules = body.account_data.events.find((e: Json) => e.type === 'm.push_rules');
    expect(rules).toBeDefined();
    for (const kind of ['override', 'content', 'room', 'sender', 'underride']) expect(Array.isArray(rules.content.global[kind])).toBe(true);
  });

  it('gives a joined room its timeline, state, ephemeral, account_data, unread_notifications and summary', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!, { name: 'Kitchen', topic: 'pots' });
    await join(bob!, roomId);
    const sent = await sendMany(alice!, roomId, 'hi', 2);
    const body = await syncOk(bob!);
    const room = body.rooms.join[roomId];
    expect(room).toBeDefined();
    expect(Object.keys(room)).toEqual(expect.arrayContaining(['timeline', 'state', 'ephemeral', 'account_data', 'unread_notifications', 'summary']));
    expect(typeof room.timeline.limited).toBe('boolean');
    expect(typeof room.timeline.prev_batch).toBe('string');
    expect(ids(room.timeline.events).slice(-2)).toEqual(sent);
    const last = room.timeline.events.at(-1) as Ev;
    expect(last).toEqual(expect.objectContaining({ event_id: sent[1], type: 'm.room.message', sender: alice!.userId, content: { msgtype: 'm.text', body: 'hi1' } }));
    expect(typeof last.origin_server_ts).toBe('number');
    expect(last.unsigned).toEqual(expect.objectContaining({ age: expect.any(Number) }));
    // State and timeline do not overlap, and together they hold the whole current state.
    const stateIds = new Set(ids(room.state.events));
    for (const e of room.timeline.events as Ev[]) expect(stateIds.has(e.event_id)).toBe(false);
    const all = [...room.state.events, ...room.timeline.events].filter((e: Ev) => e.state_key !== undefined) as Ev[];
    const keys = new Set(all.map((e) => `${e.type}|${e.state_key}`));
    for (const k of ['m.room.create|', 'm.room.power_levels|', 'm.room.join_rules|', 'm.room.name|', 'm.room.topic|', `m.room.member|${alice!.userId}`, `m.room.member|${bob!.userId}`]) {
      expect(keys.has(k)).toBe(true);
    }
    expect(all.find((e) => e.type === 'm.room.name')!.content).toEqual({ name: 'Kitchen' });
    expect(room.ephemeral).toEqual({ events: [] });
    expect(room.account_data).toEqual({ events: [] });
    expect(room.unread_notifications).toEqual({ notification_count: 2, highlight_count: 0 });
    expect(room.summary['m.joined_member_count']).toBe(2);
    expect(room.summary['m.heroes']).toEqual([alice!.userId]);
  });

  it('answers at once whatever the timeout says', async () => {
    const [alice] = await users('alice');
    await createRoom(alice!);
    const p = await startWaiting(alice!, { timeout: 30000 });
    const res = await promptly(p);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.rooms.join)).toHaveLength(1);
  });

  it('is limited with a prev_batch when the room has more events than the timeline limit', async () => {
    const [alice] = await users('alice');
    const roomId = await createRoom(alice!);
    const sent = await sendMany(alice!, roomId, 'm', 15);
    const room = (await syncOk(alice!)).rooms.join[roomId];
    expect(room.timeline.limited).toBe(true);
    expect(ids(room.timeline.events)).toEqual(sent.slice(5));
    // The state is the state at the start of the timeline: the whole room state here.
    expect(memberKeys(room.state.events)).toEqual([alice!.userId]);
    const older = await s.http.get(`${C}/rooms/${enc(roomId)}/messages`).query({ dir: 'b', from: room.timeline.prev_batch, limit: 5 }).set(bearer(alice!));
    expect(older.status).toBe(200);
    expect(ids(older.body.chunk)).toEqual(sent.slice(0, 5).reverse());
  });

  it('includes rooms the user left only when the filter sets include_leave', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!);
    await join(bob!, roomId);
    await sendMany(alice!, roomId, 'm', 12);
    await leave(bob!, roomId);
    const plain = await syncOk(bob!);
    expect(plain.rooms.join[roomId]).toBeUndefined();
    expect(plain.rooms.leave[roomId]).toBeUndefined();
    const withLeave = await syncOk(bob!, { filter: JSON.stringify({ room: { include_leave: true } }) });
    const left = withLeave.rooms.leave[roomId];
    expect(left).toBeDefined();
    const own = (left.timeline.events as Ev[]).filter((e) => e.type === 'm.room.member' && e.state_key === bob!.userId).at(-1);
    expect(own?.content.membership).toBe('leave');
    expect(withLeave.rooms.join[roomId]).toBeUndefined();
    // With the room's state as it was when the user left.
    expect((left.state.events as Ev[]).map((e) => e.type)).toEqual(expect.arrayContaining(['m.room.create', 'm.room.power_levels']));
  });

  it('include_leave does not show the state of a room whose invite was rejected', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!, { preset: 'private_chat', name: 'Private' });
    await invite(alice!, roomId, bob!);
    await leave(bob!, roomId);
    const left = (await syncOk(bob!, { filter: JSON.stringify({ room: { include_leave: true } }) })).rooms.leave[roomId];
    expect(left.state.events).toEqual([]);
    expect((left.timeline.events as Ev[]).every((e) => e.type === 'm.room.member' && e.state_key === bob!.userId)).toBe(true);
    expect((left.timeline.events as Ev[]).at(-1)!.content.membership).toBe('leave');
  });
});

// ---- incremental sync ---------------------------------------------------------------------------

describe('GET /sync: incremental sync', () => {
  it('returns only what is new, and the next token moves on', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomA = await createRoom(alice!);
    const roomB = await createRoom(alice!);
    await join(bob!, roomA);
    await join(bob!, roomB);
    await send(alice!, roomA, 'old');
    const first = await syncOk(bob!);
    const fresh = await send(alice!, roomA, 'new');
    const inc = await syncOk(bob!, { since: first.next_batch });
    expect(inc.next_batch).not.toBe(first.next_batch);
    expect(Object.keys(inc.rooms.join)).toEqual([roomA]);
    const room = inc.rooms.join[roomA];
    expect(ids(room.timeline.events)).toEqual([fresh]);
    expect(room.timeline.limited).toBe(false);
    expect(room.state.events).toEqual([]);
    expect(inc.account_data.events).toEqual([]);
    // Nothing new since then.
    const again = await syncOk(bob!, { since: inc.next_batch });
    expectEmpty(again);
    expect(again.next_batch).toBe(inc.next_batch);
  });

  it('one token for every stream: a chain of syncs sees each change exactly once', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!);
    await join(bob!, roomId);
    let since = await position(bob!);
    const seenEvents: string[] = [];
    const seenAccountData: number[] = [];
    const seenToDevice: number[] = [];
    const seenReceipts: string[] = [];
    const sentEvents: string[] = [];
    const collect = (body: Json) => {
      seenEvents.push(...ids(timeline(body, roomId)));
      seenAccountData.push(...(body.account_data.events as Json[]).filter((e) => e.type === 'org.example.counter').map((e) => e.content.n as number));
      seenToDevice.push(...(body.to_device.events as Json[]).map((e) => e.content.n as number));
      for (const e of (body.rooms.join[roomId]?.ephemeral.events ?? []) as Json[]) {
        if (e.type === 'm.receipt') seenReceipts.push(...Object.keys(e.content));
      }
    };
    for (let i = 0; i < 6; i++) {
      const eventId = await send(bob!, roomId, `m${i}`);
      sentEvents.push(eventId);
      await putAccountData(bob!, 'org.example.counter', { n: i });
      await sendToDevice(alice!, 'org.example.n', { [bob!.userId]: { [bob!.deviceId]: { n: i } } });
      await receipt(alice!, roomId, 'm.read', eventId);
      if (i % 2 === 1) {
        const body = await syncOk(bob!, { since });
        collect(body);
        since = body.next_batch;
      }
    }
    const last = await syncOk(bob!, { since });
    collect(last);
    expectEmpty(await syncOk(bob!, { since: last.next_batch }));
    expect(seenEvents).toEqual(sentEvents);
    expect(seenToDevice).toEqual([0, 1, 2, 3, 4, 5]);
    // Account data and receipts are current values: each sync shows the latest, never an old one again.
    expect(seenAccountData).toEqual([1, 3, 5]);
    expect(seenReceipts).toEqual([sentEvents[1], sentEvents[3], sentEvents[5]]);
  });

  it('with timeout=0 returns at once when nothing is new', async () => {
    const [alice] = await users('alice');
    await createRoom(alice!);
    const since = await position(alice!);
    const p = await startWaiting(alice!, { since, timeout: 0 });
    const res = await promptly(p);
    expect(res.status).toBe(200);
    expectEmpty(res.body);
    expect(res.body.next_batch).toBe(since);
  });

  it('with no timeout returns at once (the default is 0)', async () => {
    const [alice] = await users('alice');
    const since = await position(alice!);
    const res = await promptly(await startWaiting(alice!, { since }));
    expect(res.status).toBe(200);
    expectEmpty(res.body);
  });

  it('delivers a state change between syncs in the timeline, not twice', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!, { topic: 'old topic' });
    await join(bob!, roomId);
    const since = await position(bob!);
    const topic = await setState(alice!, roomId, 'm.room.topic', '', { topic: 'new topic' });
    const inc = await syncOk(bob!, { since });
    expect(ids(timeline(inc, roomId))).toEqual([topic]);
    expect(stateOf(inc, roomId)).toEqual([]);
    expect(timeline(inc, roomId)[0]!.unsigned).toEqual(expect.objectContaining({ replaces_state: expect.any(String) }));
  });

  it('gives the state changed in a gap when the timeline is limited', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!, { name: 'before' });
    await join(bob!, roomId);
    const since = await position(bob!);
    await sendMany(alice!, roomId, 'early', 3);
    const nameId = await setState(alice!, roomId, 'm.room.name', '', { name: 'after' });
    const late = await sendMany(alice!, roomId, 'late', 3);
    const inc = await syncOk(bob!, { since, filter: JSON.stringify({ room: { timeline: { limit: 3 } } }) });
    const room = inc.rooms.join[roomId];
    expect(room.timeline.limited).toBe(true);
    expect(ids(room.timeline.events)).toEqual(late);
    expect(ids(room.state.events)).toEqual([nameId]);
    // Paging back from prev_batch returns the events of the gap.
    const older = await s.http.get(`${C}/rooms/${enc(roomId)}/messages`).query({ dir: 'b', from: room.timeline.prev_batch, limit: 4 }).set(bearer(bob!));
    expect(older.status).toBe(200);
    expect(ids(older.body.chunk)[0]).toBe(nameId);
    expect(bodies(older.body.chunk)).toEqual(['early2', 'early1', 'early0']);
  });

  it('a profile change of the user is not a new join: only the new event, no full state', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!);
    await join(bob!, roomId);
    await sendMany(alice!, roomId, 'before', 3);
    const since = await position(bob!);
    const rename = await setState(bob!, roomId, 'm.room.member', bob!.userId, { membership: 'join', displayname: 'Bobby' });
    const inc = await syncOk(bob!, { since });
    const room = inc.rooms.join[roomId];
    expect(ids(room.timeline.events)).toEqual([rename]);
    expect(room.timeline.limited).toBe(false);
    expect(room.state.events).toEqual([]);
  });

  it('is not limited when everything new fits', async () => {
    const [alice] = await users('alice');
    const roomId = await createRoom(alice!);
    const since = await position(alice!);
    const sent = await sendMany(alice!, roomId, 'x', 3);
    const room = (await syncOk(alice!, { since, filter: JSON.stringify({ room: { timeline: { limit: 3 } } }) })).rooms.join[roomId];
    expect(room.timeline.limited).toBe(false);
    expect(ids(room.timeline.events)).toEqual(sent);
  });

  it('is not limited when the only events left out are ones the user may not see (issue 13.4: no false gaps)', async () => {
    const [alice, bob, carol] = await users('alice', 'bob', 'carol');
    const roomId = await createRoom(alice!);
    await join(bob!, roomId);
    await join(carol!, roomId);
    await putAccountData(alice!, 'm.ignored_user_list', { ignored_users: { [carol!.userId]: {} } });
    const since = await position(alice!);
    await sendMany(carol!, roomId, 'ignored', 3);
    const sent = await sendMany(bob!, roomId, 'seen', 3);
    const room = (await syncOk(alice!, { since, filter: JSON.stringify({ room: { timeline: { limit: 3 } } }) })).rooms.join[roomId];
    expect(ids(room.timeline.events)).toEqual(sent);
    expect(room.timeline.limited).toBe(false);
    // One more visible event than the limit is a gap again.
    const since2 = await position(alice!);
    await sendMany(carol!, roomId, 'ignored-again', 2);
    const more = await sendMany(bob!, roomId, 'more', 4);
    const room2 = (await syncOk(alice!, { since: since2, filter: JSON.stringify({ room: { timeline: { limit: 3 } } }) })).rooms.join[roomId];
    expect(ids(room2.timeline.events)).toEqual(more.slice(1));
    expect(room2.timeline.limited).toBe(true);
  });

  it('an initial sync is not limited when the older events are ones the filter drops (contains_url)', async () => {
    const [alice] = await users('alice');
    const roomId = await createRoom(alice!);
    await sendMany(alice!, roomId, 'no-url', 5);
    const withUrl = [await send(alice!, roomId, 'pic1', { url: 'mxc://x/1' }), await send(alice!, roomId, 'pic2', { url: 'mxc://x/2' })];
    const room = (await syncOk(alice!, { filter: JSON.stringify({ room: { timeline: { limit: 2, contains_url: true } } }) })).rooms.join[roomId];
    expect(ids(room.timeline.events)).toEqual(withUrl);
    expect(room.timeline.limited).toBe(false);
    // With one visible event more than the limit, the gap is real.
    const room2 = (await syncOk(alice!, { filter: JSON.stringify({ room: { timeline: { limit: 1, contains_url: true } } }) })).rooms.join[roomId];
    expect(ids(room2.timeline.events)).toEqual([withUrl[1]]);
    expect(room2.timeline.limited).toBe(true);
  });

  it('a timeline filter that hides a state change still delivers it in the state section', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!, { name: 'before' });
    await join(bob!, roomId);
    const since = await position(bob!);
    const nameId = await setState(alice!, roomId, 'm.room.name', '', { name: 'after' });
    const sent = await sendMany(alice!, roomId, 'msg', 2);
    const room = (await syncOk(bob!, { since, filter: JSON.stringify({ room: { timeline: { limit: 5, types: ['m.room.message'] } } }) })).rooms.join[roomId];
    expect(ids(room.timeline.events)).toEqual(sent);
    expect(room.timeline.limited).toBe(false);
    expect(ids(room.state.events)).toEqual([nameId]);
  });

  it('with full_state=true returns the full state of every joined room, and at once', async () => {
    const [alice] = await users('alice');
    const roomId = await createRoom(alice!, { name: 'Full' });
    const since = await position(alice!);
    const res = await promptly(await startWaiting(alice!, { since, full_state: true, timeout: 30000 }));
    expect(res.status).toBe(200);
    const room = res.body.rooms.join[roomId];
    expect(room.timeline.events).toEqual([]);
    const types = (room.state.events as Ev[]).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['m.room.create', 'm.room.power_levels', 'm.room.name', 'm.room.member']));
  });

  it('with full_state=true and no rooms still answers at once', async () => {
    const [loner] = await users('loner');
    const since = await position(loner!);
    const res = await promptly(await startWaiting(loner!, { since, full_state: true, timeout: 30000 }));
    expect(res.status).toBe(200);
    expect(res.body.rooms.join).toEqual({});
  });
});

// ---- long-poll --------------------------------------------------------------------------------

describe('GET /sync: long-poll', () => {
  it('a waiting sync is woken by a message in a joined room', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!);
    await join(bob!, roomId);
    const since = await position(bob!);
    const p = await startWaiting(bob!, { since, timeout: 30000 });
    await settle();
    expect(p.settled()).toBe(false);
    const eventId = await send(alice!, roomId, 'wake up');
    const res = await promptly(p);
    expect(res.status).toBe(200);
    expect(ids(timeline(res.body, roomId))).toEqual([eventId]);
    expect(res.body.next_batch).not.toBe(since);
  });

  it('is not woken by activity in rooms the user is not in, and ends empty with the same next_batch', async () => {
    const [alice, bob, carol] = await users('alice', 'bob', 'carol');
    const shared = await createRoom(alice!);
    await join(bob!, shared);
    const elsewhere = await createRoom(alice!);
    await join(carol!, elsewhere);
    const since = await position(bob!);
    const p = await startWaiting(bob!, { since, timeout: 30000 });
    await send(alice!, elsewhere, 'not for bob');
    await setState(alice!, elsewhere, 'm.room.topic', '', { topic: 'secret' });
    await join(carol!, await createRoom(alice!));
    await settle();
    expect(p.settled()).toBe(false);
    s.clock.advance(30000);
    const res = await promptly(p);
    expect(res.status).toBe(200);
    expectEmpty(res.body);
    expect(res.body.next_batch).toBe(since);
  });

  it('times out empty after `timeout` ms and not before', async () => {
    const [alice] = await users('alice');
    await createRoom(alice!);
    const since = await position(alice!);
    const p = await startWaiting(alice!, { since, timeout: 5000 });
    s.clock.advance(4999);
    await settle();
    expect(p.settled()).toBe(false);
    s.clock.advance(1);
    const res = await promptly(p);
    expect(res.status).toBe(200);
    expectEmpty(res.body);
    expect(res.body.next_batch).toBe(since);
  });

  it('a waiting sync is woken by an invite', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!);
    const since = await position(bob!);
    const p = await startWaiting(bob!, { since, timeout: 30000 });
    await invite(alice!, roomId, bob!);
    const res = await promptly(p);
    expect(Object.keys(res.body.rooms.invite)).toEqual([roomId]);
  });

  it('a waiting sync is woken by a to-device message and by account data', async () => {
    const [alice, bob] = await users('alice', 'bob');
    let since = await position(bob!);
    let p = await startWaiting(bob!, { since, timeout: 30000 });
    await sendToDevice(alice!, 'org.example.whisper', { [bob!.userId]: { [bob!.deviceId]: { text: 'psst' } } });
    let res = await promptly(p);
    expect(res.body.to_device.events).toHaveLength(1);
    since = res.body.next_batch;
    p = await startWaiting(bob!, { since, timeout: 30000 });
    await putAccountData(bob!, 'org.example.settings', { theme: 'dark' });
    res = await promptly(p);
    expect(res.body.account_data.events).toEqual([{ type: 'org.example.settings', content: { theme: 'dark' } }]);
  });

  it('keeps waiting when the only new event is hidden by the filter', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!);
    await join(bob!, roomId);
    const since = await position(bob!);
    const filter = JSON.stringify({ room: { timeline: { not_types: ['org.example.noise'] } } });
    const p = await startWaiting(bob!, { since, timeout: 30000, filter });
    await send(alice!, roomId, 'noise', {}, 'org.example.noise');
    await settle();
    expect(p.settled()).toBe(false);
    const wanted = await send(alice!, roomId, 'signal');
    const res = await promptly(p);
    expect(ids(timeline(res.body, roomId))).toEqual([wanted]);
  });
});

// ---- membership ---------------------------------------------------------------------------------

describe('GET /sync: joins, leaves, kicks and bans', () => {
  it('a newly joined room arrives with its full state', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!, { name: 'Lounge', topic: 'chat' });
    await sendMany(alice!, roomId, 'before', 12);
    const since = await position(bob!);
    await join(bob!, roomId);
    const inc = await syncOk(bob!, { since });
    const room = inc.rooms.join[roomId];
    expect(room).toBeDefined();
    const tl = room.timeline.events as Ev[];
    expect(tl.at(-1)).toEqual(expect.objectContaining({ type: 'm.room.member', state_key: bob!.userId, content: expect.objectContaining({ membership: 'join' }) }));
    const types = (room.state.events as Ev[]).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['m.room.create', 'm.room.power_levels', 'm.room.join_rules', 'm.room.name', 'm.room.topic']));
    expect(memberKeys(room.state.events)).toContain(alice!.userId);
    expect(room.timeline.limited).toBe(true);
  });

  it('a newly joined room hides history the user may not see (history_visibility joined)', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!);
    await setState(alice!, roomId, 'm.room.history_visibility', '', { history_visibility: 'joined' });
    await sendMany(alice!, roomId, 'secret', 3);
    const since = await position(bob!);
    await join(bob!, roomId);
    const after = await send(alice!, roomId, 'welcome');
    const room = (await syncOk(bob!, { since })).rooms.join[roomId];
    expect(bodies(room.timeline.events)).toEqual(['welcome']);
    expect(ids(room.timeline.events).at(-1)).toBe(after);
    // The room's state is still complete (the events from before the change to 'joined' are visible).
    const types = [...room.state.events, ...room.timeline.events].map((e: Ev) => e.type);
    expect(types).toEqual(expect.arrayContaining(['m.room.create', 'm.room.power_levels', 'm.room.history_visibility']));
  });

  it('leaving puts the room in rooms.leave with the leave event, then its events stop arriving', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!);
    await join(bob!, roomId);
    const since = await position(bob!);
    const p = await startWaiting(bob!, { since, timeout: 30000 });
    await leave(bob!, roomId);
    const res = await promptly(p);
    expect(res.body.rooms.join[roomId]).toBeUndefined();
    const left = res.body.rooms.leave[roomId];
    expect(left).toBeDefined();
    const leaveEv = (left.timeline.events as Ev[]).at(-1)!;
    expect(leaveEv).toEqual(expect.objectContaining({ type: 'm.room.member', state_key: bob!.userId, sender: bob!.userId, content: expect.objectContaining({ membership: 'leave' }) }));

    const after = res.body.next_batch as string;
    const p2 = await startWaiting(bob!, { since: after, timeout: 30000 });
    await send(alice!, roomId, 'bob is gone');
    await setState(alice!, roomId, 'm.room.topic', '', { topic: 'later' });
    await settle();
    expect(p2.settled()).toBe(false);
    s.clock.advance(30000);
    const res2 = await promptly(p2);
    expectEmpty(res2.body);
    expect(res2.body.next_batch).toBe(after);
  });

  it('a kick appears in rooms.leave with the kicker and the reason', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!);
    await join(bob!, roomId);
    const since = await position(bob!);
    const p = await startWaiting(bob!, { since, timeout: 30000 });
    await kick(alice!, roomId, bob!, 'too loud');
    const res = await promptly(p);
    const left = res.body.rooms.leave[roomId];
    expect(left).toBeDefined();
    expect(res.body.rooms.join[roomId]).toBeUndefined();
    const ev = (left.timeline.events as Ev[]).find((e) => e.type === 'm.room.member' && e.state_key === bob!.userId)!;
    expect(ev.sender).toBe(alice!.userId);
    expect(ev.content).toEqual(expect.objectContaining({ membership: 'leave', reason: 'too loud' }));

    // Nothing from the room reaches bob after that.
    const after = res.body.next_batch as string;
    const p2 = await startWaiting(bob!, { since: after, timeout: 1000 });
    await send(alice!, roomId, 'after the kick');
    await settle();
    expect(p2.settled()).toBe(false);
    s.clock.advance(1000);
    expectEmpty((await promptly(p2)).body);
    const initial = await syncOk(bob!);
    expect(initial.rooms.join[roomId]).toBeUndefined();
  });

  it('a ban appears in rooms.leave with membership ban and the reason', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!);
    await join(bob!, roomId);
    const since = await position(bob!);
    await ban(alice!, roomId, bob!, 'spam');
    await send(alice!, roomId, 'after the ban');
    const inc = await syncOk(bob!, { since });
    const left = inc.rooms.leave[roomId];
    const evs = left.timeline.events as Ev[];
    expect(evs.at(-1)).toEqual(expect.objectContaining({ type: 'm.room.member', state_key: bob!.userId, sender: alice!.userId, content: expect.objectContaining({ membership: 'ban', reason: 'spam' }) }));
    expect(bodies(evs)).not.toContain('after the ban');
    expect(inc.rooms.join[roomId]).toBeUndefined();
  });
});

// ---- invites ------------------------------------------------------------------------------------

describe('GET /sync: invites', () => {
  it('rooms.invite carries invite_state with the invite (and its reason) and the inviter\'s member event', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!, { name: 'Party', preset: 'private_chat' });
    const since = await position(bob!);
    await invite(alice!, roomId, bob!, 'come celebrate');
    const inc = await syncOk(bob!, { since });
    expect(inc.rooms.join[roomId]).toBeUndefined();
    const inv = inc.rooms.invite[roomId];
    expect(inv).toBeDefined();
    const events = inv.invite_state.events as Json[];
    const own = events.find((e) => e.type === 'm.room.member' && e.state_key === bob!.userId);
    expect(own).toEqual(expect.objectContaining({ sender: alice!.userId, content: expect.objectContaining({ membership: 'invite', reason: 'come celebrate' }) }));
    const inviter = events.find((e) => e.type === 'm.room.member' && e.state_key === alice!.userId);
    expect(inviter).toEqual(expect.objectContaining({ sender: alice!.userId, content: expect.objectContaining({ membership: 'join' }) }));
    expect(events.find((e) => e.type === 'm.room.name')?.content).toEqual({ name: 'Party' });
    expect(events.find((e) => e.type === 'm.room.create')).toBeDefined();
    // Stripped state: no room timeline secrets such as power levels.
    expect(events.find((e) => e.type === 'm.room.power_levels')).toBeUndefined();
    // The invite shows once; an initial sync still shows it.
    expect((await syncOk(bob!, { since: inc.next_batch })).rooms.invite).toEqual({});
    expect((await syncOk(bob!)).rooms.invite[roomId]).toBeDefined();
  });

  it('rejecting an invite moves the room to rooms.leave', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!, { preset: 'private_chat' });
    await invite(alice!, roomId, bob!);
    const since = await position(bob!);
    await leave(bob!, roomId);
    const inc = await syncOk(bob!, { since });
    expect(inc.rooms.invite[roomId]).toBeUndefined();
    expect(inc.rooms.join[roomId]).toBeUndefined();
    const ev = (inc.rooms.leave[roomId].timeline.events as Ev[]).at(-1)!;
    expect(ev).toEqual(expect.objectContaining({ type: 'm.room.member', state_key: bob!.userId, content: expect.objectContaining({ membership: 'leave' }) }));
    expect((await syncOk(bob!)).rooms.invite[roomId]).toBeUndefined();
  });

  it('accepting an invite moves the room to rooms.join', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!, { preset: 'private_chat' });
    await invite(alice!, roomId, bob!);
    const since = await position(bob!);
    await join(bob!, roomId);
    const inc = await syncOk(bob!, { since });
    expect(inc.rooms.invite[roomId]).toBeUndefined();
    expect(inc.rooms.join[roomId]).toBeDefined();
  });
});

// ---- ignoring users -----------------------------------------------------------------------------

describe('GET /sync: m.ignored_user_list', () => {
  it('invites from an ignored user are not delivered', async () => {
    const [bob, mallory] = await users('bob', 'mallory');
    await putAccountData(bob!, 'm.ignored_user_list', { ignored_users: { [mallory!.userId]: {} } });
    const roomId = await createRoom(mallory!, { preset: 'private_chat' });
    const since = await position(bob!);
    const p = await startWaiting(bob!, { since, timeout: 30000 });
    await invite(mallory!, roomId, bob!, 'hi');
    await settle();
    expect(p.settled()).toBe(false);
    s.clock.advance(30000);
    const res = await promptly(p);
    expect(res.body.rooms.invite).toEqual({});
    expect((await syncOk(bob!)).rooms.invite).toEqual({});
  });

  it('messages from an ignored user are not delivered, their state events are', async () => {
    const [alice, bob, mallory] = await users('alice', 'bob', 'mallory');
    const roomId = await createRoom(alice!);
    await join(bob!, roomId);
    await join(mallory!, roomId);
    await putAccountData(bob!, 'm.ignored_user_list', { ignored_users: { [mallory!.userId]: {} } });
    const since = await position(bob!);
    // A message from mallory alone does not end bob's wait.
    const p = await startWaiting(bob!, { since, timeout: 30000 });
    await send(mallory!, roomId, 'ignored 1');
    await settle();
    expect(p.settled()).toBe(false);
    const fromAlice = await send(alice!, roomId, 'from alice');
    const res = await promptly(p);
    expect(bodies(timeline(res.body, roomId))).toEqual(['from alice']);
    expect(ids(timeline(res.body, roomId))).toEqual([fromAlice]);

    const since2 = res.body.next_batch as string;
    await send(mallory!, roomId, 'ignored 2');
    await leave(mallory!, roomId);
    const inc = await syncOk(bob!, { since: since2 });
    const tl = timeline(inc, roomId);
    expect(bodies(tl)).toEqual([]);
    expect(tl.find((e) => e.type === 'm.room.member' && e.state_key === mallory!.userId)?.content.membership).toBe('leave');
    // Neither does an initial sync show the ignored user's messages, nor do they count as unread.
    const init = await syncOk(bob!);
    expect(bodies(timeline(init, roomId))).toEqual(['from alice']);
    expect(init.rooms.join[roomId].unread_notifications.notification_count).toBe(1);
  });
});

// ---- filters ------------------------------------------------------------------------------------

describe('GET /sync: filters', () => {
  async function filterId(u: TestUser, filter: Json): Promise<string> {
    const r = await s.http.post(`${C}/user/${enc(u.userId)}/filter`).set(bearer(u)).send(filter);
    expect(r.status).toBe(200);
    return r.body.filter_id as string;
  }

  it('takes an inline JSON filter or a stored filter ID, with the same result', async () => {
    const [alice] = await users('alice');
    const roomId = await createRoom(alice!);
    const sent = await sendMany(alice!, roomId, 'f', 4);
    const filter = { room: { timeline: { limit: 2 } } };
    const inline = await syncOk(alice!, { filter: JSON.stringify(filter) });
    const stored = await syncOk(alice!, { filter: await filterId(alice!, filter) });
    expect(ids(timeline(inline, roomId))).toEqual(sent.slice(2));
    expect(ids(timeline(stored, roomId))).toEqual(sent.slice(2));
    expect(inline.rooms.join[roomId].timeline.limited).toBe(true);
  });

  it('applies the timeline limit to incremental syncs', async () => {
    const [alice] = await users('alice');
    const roomId = await createRoom(alice!);
    const since = await position(alice!);
    const sent = await sendMany(alice!, roomId, 'l', 5);
    const room = (await syncOk(alice!, { since, filter: JSON.stringify({ room: { timeline: { limit: 1 } } }) })).rooms.join[roomId];
    expect(ids(room.timeline.events)).toEqual(sent.slice(4));
    expect(room.timeline.limited).toBe(true);
  });

  it('applies types and not_types to the timeline', async () => {
    const [alice] = await users('alice');
    const roomId = await createRoom(alice!);
    const since = await position(alice!);
    await send(alice!, roomId, 'text');
    const ping = await send(alice!, roomId, 'ping', {}, 'org.example.ping');
    const pong = await send(alice!, roomId, 'pong', {}, 'org.example.pong');
    const onlyCustom = await syncOk(alice!, { since, filter: JSON.stringify({ room: { timeline: { types: ['org.example.*'] } } }) });
    expect(ids(timeline(onlyCustom, roomId))).toEqual([ping, pong]);
    const noCustom = await syncOk(alice!, { since, filter: JSON.stringify({ room: { timeline: { not_types: ['org.example.*'] } } }) });
    expect(timeline(noCustom, roomId).map((e) => e.type)).toEqual(['m.room.message']);
    const both = await syncOk(alice!, { since, filter: JSON.stringify({ room: { timeline: { types: ['org.example.*'], not_types: ['org.example.pong'] } } }) });
    expect(ids(timeline(both, roomId))).toEqual([ping]);
  });

  it('applies senders and not_senders to the timeline', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!);
    await join(bob!, roomId);
    const since = await position(bob!);
    const a = await send(alice!, roomId, 'a');
    const b = await send(bob!, roomId, 'b');
    expect(ids(timeline(await syncOk(bob!, { since, filter: JSON.stringify({ room: { timeline: { senders: [alice!.userId] } } }) }), roomId))).toEqual([a]);
    expect(ids(timeline(await syncOk(bob!, { since, filter: JSON.stringify({ room: { timeline: { not_senders: [alice!.userId] } } }) }), roomId))).toEqual([b]);
  });

  it('applies rooms and not_rooms', async () => {
    const [alice] = await users('alice');
    const roomA = await createRoom(alice!);
    const roomB = await createRoom(alice!);
    const only = await syncOk(alice!, { filter: JSON.stringify({ room: { rooms: [roomA] } }) });
    expect(Object.keys(only.rooms.join)).toEqual([roomA]);
    const not = await syncOk(alice!, { filter: JSON.stringify({ room: { not_rooms: [roomA] } }) });
    expect(Object.keys(not.rooms.join)).toEqual([roomB]);
    const both = await syncOk(alice!, { filter: JSON.stringify({ room: { rooms: [roomA, roomB], not_rooms: [roomB] } }) });
    expect(Object.keys(both.rooms.join)).toEqual([roomA]);
  });

  it('lazy_load_members: the state carries only the members of the timeline senders (and the user)', async () => {
    const [alice, bob, carol, dave] = await users('alice', 'bob', 'carol', 'dave');
    const roomId = await createRoom(alice!);
    await join(bob!, roomId);
    await join(carol!, roomId);
    await join(dave!, roomId);
    await sendMany(carol!, roomId, 'c', 3);
    const filter = { room: { state: { lazy_load_members: true }, timeline: { limit: 3 } } };
    const lazy = await syncOk(bob!, { filter: JSON.stringify(filter) });
    expect(timeline(lazy, roomId).every((e) => e.sender === carol!.userId)).toBe(true);
    expect(memberKeys(stateOf(lazy, roomId))).toEqual([bob!.userId, carol!.userId].sort());
    expect(stateOf(lazy, roomId).map((e) => e.type)).toEqual(expect.arrayContaining(['m.room.create', 'm.room.power_levels']));
    const full = await syncOk(bob!, { filter: JSON.stringify({ room: { timeline: { limit: 3 } } }) });
    expect(memberKeys(stateOf(full, roomId))).toEqual([alice!.userId, bob!.userId, carol!.userId, dave!.userId].sort());

    // Incremental: a new sender's member event comes along with their message.
    const since = lazy.next_batch as string;
    await send(dave!, roomId, 'hello from dave');
    const inc = await syncOk(bob!, { since, filter: JSON.stringify(filter) });
    expect(memberKeys(stateOf(inc, roomId))).toContain(dave!.userId);
    expect(memberKeys(stateOf(inc, roomId))).not.toContain(alice!.userId);
  });

  it('lazy_load_members: a limited incremental sync still carries the member changes of the gap', async () => {
    const [alice, bob, carol] = await users('alice', 'bob', 'carol');
    const roomId = await createRoom(alice!);
    await join(bob!, roomId);
    const filter = JSON.stringify({ room: { state: { lazy_load_members: true }, timeline: { limit: 2 } } });
    const since = (await syncOk(bob!, { filter })).next_batch as string;
    await join(carol!, roomId);
    await sendMany(alice!, roomId, 'after', 4);
    const room = (await syncOk(bob!, { since, filter })).rooms.join[roomId];
    expect(room.timeline.limited).toBe(true);
    expect(room.timeline.events.every((e: Ev) => e.sender === alice!.userId)).toBe(true);
    expect(memberKeys(room.state.events)).toContain(carol!.userId);
  });

  it('event_fields keeps only the listed fields', async () => {
    const [alice] = await users('alice');
    const roomId = await createRoom(alice!);
    await sendMany(alice!, roomId, 'filler', 10);
    await send(alice!, roomId, 'trimmed');
    const body = await syncOk(alice!, { filter: JSON.stringify({ event_fields: ['type', 'content.body'] }) });
    const last = timeline(body, roomId).at(-1)!;
    expect(last).toEqual({ type: 'm.room.message', content: { body: 'trimmed' } });
    expect(stateOf(body, roomId).length).toBeGreaterThan(0);
    // State events have no content.body: only their type is left.
    for (const e of stateOf(body, roomId)) expect(e).toEqual({ type: e.type });
  });

  it('filters account data by type', async () => {
    const [alice] = await users('alice');
    const since = await position(alice!);
    await putAccountData(alice!, 'org.example.a', { a: 1 });
    await putAccountData(alice!, 'org.example.b', { b: 1 });
    const body = await syncOk(alice!, { since, filter: JSON.stringify({ account_data: { not_types: ['org.example.b'] } }) });
    expect(body.account_data.events).toEqual([{ type: 'org.example.a', content: { a: 1 } }]);
  });

  it('ignores unknown query parameters', async () => {
    const [alice] = await users('alice');
    const res = await sync(alice!, { _cacheBuster: 12345, 'org.matrix.msc4222.use_state_after': true, made_up: 'x' });
    expect(res.status).toBe(200);
    expect(typeof res.body.next_batch).toBe('string');
  });

  it('refuses an invalid since token with 400 M_INVALID_PARAM', async () => {
    const [alice] = await users('alice');
    for (const since of ['garbage', 's', 's12x', '12', 's-1']) expectError(await sync(alice!, { since }), 400, 'M_INVALID_PARAM');
  });

  it('refuses an unknown filter ID with 404 M_NOT_FOUND', async () => {
    const [alice] = await users('alice');
    expectError(await sync(alice!, { filter: '99999' }), 404, 'M_NOT_FOUND');
    expectError(await sync(alice!, { filter: 'nope' }), 404, 'M_NOT_FOUND');
  });

  it('refuses a filter ID of another user with 404 M_NOT_FOUND', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const id = await filterId(alice!, { room: { timeline: { limit: 1 } } });
    // Filter IDs belong to their user: bob has none.
    expectError(await sync(bob!, { filter: id }), 404, 'M_NOT_FOUND');
    expect((await sync(alice!, { filter: id })).status).toBe(200);
  });

  it('refuses an invalid inline filter: a bad shape 400 M_BAD_JSON, text that is not JSON 400 M_NOT_JSON', async () => {
    const [alice] = await users('alice');
    expectError(await sync(alice!, { filter: JSON.stringify({ room: { timeline: { limit: 'ten' } } }) }), 400, 'M_BAD_JSON');
    const broken = await sync(alice!, { filter: '{not json' });
    expect(broken.status).toBe(400);
    expect(broken.body.errcode).toBe('M_NOT_JSON');
  });

  it('refuses a bad timeout or set_presence with 400 M_INVALID_PARAM', async () => {
    const [alice] = await users('alice');
    expectError(await sync(alice!, { timeout: 'soon' }), 400, 'M_INVALID_PARAM');
    expectError(await sync(alice!, { set_presence: 'dancing' }), 400, 'M_INVALID_PARAM');
    expect((await sync(alice!, { set_presence: 'offline' })).status).toBe(200);
  });

  it('requires an access token', async () => {
    const res = await s.http.get(`${C}/sync`);
    expectError(res, 401, 'M_MISSING_TOKEN');
  });
});

// ---- to-device ----------------------------------------------------------------------------------

describe('GET /sync: to_device', () => {
  it('delivers a to-device message in the next sync and not again once the following sync acknowledges it', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const since = await position(bob!);
    await sendToDevice(alice!, 'org.example.whisper', { [bob!.userId]: { [bob!.deviceId]: { text: 'psst' } } });
    const first = await syncOk(bob!, { since });
    expect(first.to_device.events).toEqual([{ sender: alice!.userId, type: 'org.example.whisper', content: { text: 'psst' } }]);
    // A retry of the same request (the client never saw the answer) gets it again.
    const retry = await syncOk(bob!, { since });
    expect(retry.to_device.events).toHaveLength(1);
    // The next sync acknowledges it: gone for good.
    const second = await syncOk(bob!, { since: first.next_batch });
    expect(second.to_device.events).toEqual([]);
    expect((await syncOk(bob!, { since })).to_device.events).toEqual([]);
    expect((await syncOk(bob!)).to_device.events).toEqual([]);
  });

  it('delivers many messages in order, across several syncs when there are many', async () => {
    const [alice, bob] = await users('alice', 'bob');
    let since = await position(bob!);
    for (let i = 0; i < 105; i++) await sendToDevice(alice!, 'org.example.n', { [bob!.userId]: { [bob!.deviceId]: { i } } });
    const seen: number[] = [];
    for (let round = 0; round < 5; round++) {
      const body = await syncOk(bob!, { since });
      seen.push(...(body.to_device.events as Json[]).map((e) => e.content.i as number));
      since = body.next_batch;
      if (body.to_device.events.length === 0) break;
    }
    expect(seen).toEqual(Array.from({ length: 105 }, (_, i) => i));
  });
});

// ---- account data -------------------------------------------------------------------------------

describe('GET /sync: account_data', () => {
  it('global and room account data changes appear once', async () => {
    const [alice] = await users('alice');
    const roomId = await createRoom(alice!);
    const since = await position(alice!);
    await putAccountData(alice!, 'org.example.global', { v: 1 });
    await putAccountData(alice!, 'org.example.room', { r: 1 }, roomId);
    const inc = await syncOk(alice!, { since });
    expect(inc.account_data.events).toEqual([{ type: 'org.example.global', content: { v: 1 } }]);
    expect(inc.rooms.join[roomId].account_data.events).toEqual([{ type: 'org.example.room', content: { r: 1 } }]);
    const next = await syncOk(alice!, { since: inc.next_batch });
    expectEmpty(next);
    // An update shows the new content.
    await putAccountData(alice!, 'org.example.global', { v: 2 });
    const upd = await syncOk(alice!, { since: next.next_batch });
    expect(upd.account_data.events).toEqual([{ type: 'org.example.global', content: { v: 2 } }]);
    // Initial sync has the latest of everything.
    const init = await syncOk(alice!);
    expect(init.account_data.events).toEqual(expect.arrayContaining([{ type: 'org.example.global', content: { v: 2 } }]));
    expect(init.rooms.join[roomId].account_data.events).toEqual([{ type: 'org.example.room', content: { r: 1 } }]);
  });

  it('a room joined since the last sync brings all of its account data (set while invited)', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!, { preset: 'private_chat' });
    await invite(alice!, roomId, bob!);
    await putAccountData(bob!, 'm.tag', { tags: { 'u.work': { order: 0.5 } } }, roomId);
    const since = await position(bob!);
    await join(bob!, roomId);
    const inc = await syncOk(bob!, { since });
    expect(inc.rooms.join[roomId].account_data.events).toEqual([{ type: 'm.tag', content: { tags: { 'u.work': { order: 0.5 } } } }]);
  });

  it('full_state=true brings all account data again', async () => {
    const [alice] = await users('alice');
    const roomId = await createRoom(alice!);
    await putAccountData(alice!, 'org.example.old', { o: 1 });
    await putAccountData(alice!, 'org.example.oldroom', { r: 1 }, roomId);
    const since = await position(alice!);
    const full = await syncOk(alice!, { since, full_state: true });
    expect(full.account_data.events).toEqual(expect.arrayContaining([{ type: 'org.example.old', content: { o: 1 } }]));
    expect(full.account_data.events.map((e: Json) => e.type)).toContain('m.push_rules');
    expect(full.rooms.join[roomId].account_data.events).toEqual([{ type: 'org.example.oldroom', content: { r: 1 } }]);
  });

  it('another user\'s account data never shows', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const since = await position(bob!);
    await putAccountData(alice!, 'org.example.secret', { s: 1 });
    const inc = await syncOk(bob!, { since });
    expect(inc.account_data.events).toEqual([]);
  });
});

// ---- receipts -----------------------------------------------------------------------------------

describe('GET /sync: receipts', () => {
  it('a read receipt appears in ephemeral as m.receipt for the room\'s members', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!);
    await join(bob!, roomId);
    const eventId = await send(alice!, roomId, 'read me');
    const since = await position(alice!);
    const p = await startWaiting(alice!, { since, timeout: 30000 });
    await receipt(bob!, roomId, 'm.read', eventId);
    const res = await promptly(p);
    const eph = res.body.rooms.join[roomId].ephemeral.events as Json[];
    expect(eph).toEqual([{ type: 'm.receipt', content: { [eventId]: { 'm.read': { [bob!.userId]: { ts: s.clock.now() } } } } }]);
    expect(res.body.rooms.join[roomId].timeline.events).toEqual([]);
    // Once only.
    expectEmpty(await syncOk(alice!, { since: res.body.next_batch }));
    // An initial sync has the current receipts.
    const init = await syncOk(alice!);
    expect(init.rooms.join[roomId].ephemeral.events).toEqual(eph);
  });

  it('m.read.private reaches only its owner', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!);
    await join(bob!, roomId);
    const eventId = await send(alice!, roomId, 'secretly read');
    const aliceSince = await position(alice!);
    const bobSince = await position(bob!);
    const p = await startWaiting(alice!, { since: aliceSince, timeout: 30000 });
    await receipt(bob!, roomId, 'm.read.private', eventId);
    await settle();
    expect(p.settled()).toBe(false);
    s.clock.advance(30000);
    expectEmpty((await promptly(p)).body);
    expect((await syncOk(alice!)).rooms.join[roomId].ephemeral.events).toEqual([]);
    const own = await syncOk(bob!, { since: bobSince });
    expect(own.rooms.join[roomId].ephemeral.events).toEqual([{ type: 'm.receipt', content: { [eventId]: { 'm.read.private': { [bob!.userId]: { ts: expect.any(Number) } } } } }]);
  });

  it('a user outside the room does not see its receipts', async () => {
    const [alice, bob, eve] = await users('alice', 'bob', 'eve');
    const roomId = await createRoom(alice!);
    await join(bob!, roomId);
    const eventId = await send(alice!, roomId, 'x');
    const since = await position(eve!);
    await receipt(bob!, roomId, 'm.read', eventId);
    expectEmpty(await syncOk(eve!, { since }));
  });

  it('ephemeral filter can drop receipts', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!);
    await join(bob!, roomId);
    const eventId = await send(alice!, roomId, 'x');
    const since = await position(alice!);
    await receipt(bob!, roomId, 'm.read', eventId);
    const body = await syncOk(alice!, { since, filter: JSON.stringify({ room: { ephemeral: { not_types: ['m.receipt'] } } }) });
    expect(body.rooms.join[roomId]).toBeUndefined();
  });
});

// ---- unread notifications and summary -------------------------------------------------------

describe('GET /sync: unread_notifications and summary', () => {
  it('counts messages from others and resets after the user\'s m.read receipt', async () => {
    const [alice, bob, carol] = await users('alice', 'bob', 'carol');
    const roomId = await createRoom(alice!);
    await join(bob!, roomId);
    await join(carol!, roomId);
    const since = await position(bob!);
    await send(alice!, roomId, 'one');
    await send(bob!, roomId, 'mine');
    const last = await send(carol!, roomId, 'two');
    const inc = await syncOk(bob!, { since });
    expect(inc.rooms.join[roomId].unread_notifications).toEqual({ notification_count: 2, highlight_count: 0 });
    await receipt(bob!, roomId, 'm.read', last);
    const after = await syncOk(bob!, { since: inc.next_batch });
    expect(after.rooms.join[roomId].unread_notifications).toEqual({ notification_count: 0, highlight_count: 0 });
    const more = await send(alice!, roomId, 'three');
    const again = await syncOk(bob!, { since: after.next_batch });
    expect(ids(timeline(again, roomId))).toEqual([more]);
    expect(again.rooms.join[roomId].unread_notifications.notification_count).toBe(1);
  });

  it('a private read receipt resets the count too', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const roomId = await createRoom(alice!);
    await join(bob!, roomId);
    const last = await send(alice!, roomId, 'one');
    expect((await syncOk(bob!)).rooms.join[roomId].unread_notifications.notification_count).toBe(1);
    await receipt(bob!, roomId, 'm.read.private', last);
    expect((await syncOk(bob!)).rooms.join[roomId].unread_notifications.notification_count).toBe(0);
  });

  it('counts a mention of the user (m.mentions.user_ids) in highlight_count', async () => {
    const [alice, bob, carol] = await users('alice', 'bob', 'carol');
    const roomId = await createRoom(alice!);
    await join(bob!, roomId);
    await join(carol!, roomId);
    const since = await position(bob!);
    await send(alice!, roomId, 'plain');
    await send(alice!, roomId, 'hey bob', { 'm.mentions': { user_ids: [bob!.userId] } });
    const inc = await syncOk(bob!, { since });
    expect(inc.rooms.join[roomId].unread_notifications).toEqual({ notification_count: 2, highlight_count: 1 });
    const carols = await syncOk(carol!);
    expect(carols.rooms.join[roomId].unread_notifications.highlight_count).toBe(0);
  });

  it('summary has m.joined_member_count, m.invited_member_count and m.heroes', async () => {
    const [alice, bob, carol, dave] = await users('alice', 'bob', 'carol', 'dave');
    const roomId = await createRoom(alice!);
    await join(bob!, roomId);
    await join(carol!, roomId);
    await invite(alice!, roomId, dave!);
    const summary = (await syncOk(bob!)).rooms.join[roomId].summary;
    expect(summary['m.joined_member_count']).toBe(3);
    expect(summary['m.invited_member_count']).toBe(1);
    expect([...summary['m.heroes']].sort()).toEqual([alice!.userId, carol!.userId, dave!.userId].sort());
    expect(summary['m.heroes']).not.toContain(bob!.userId);
  });
});
