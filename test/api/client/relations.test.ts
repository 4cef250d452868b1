// Relations, threads, edits and reactions (matrix-spec: relations.yaml, threads_list.yaml; client-server-api
// "Forming relationships between events", "Aggregations of child events"; modules/threading.md,
// event_replacements.md, event_annotations.md, reference_relations.md).
import { bearer, expectError, makeTestServer, type TestUser } from '../../helpers/server.js';

const s = makeTestServer({ presence: { enabled: false } });
afterAll(() => s.close());

const C = '/_matrix/client/v3';
const V1 = '/_matrix/client/v1';
const enc = encodeURIComponent;
let txn = 0;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

async function send(u: TestUser, roomId: string, content: Json, type = 'm.room.message'): Promise<string> {
  s.clock.advance(1000);
  const r = await s.http.put(`${C}/rooms/${enc(roomId)}/send/${enc(type)}/t${++txn}`).set(bearer(u)).send(content);
  expect(r.status).toBe(200);
  return r.body.event_id as string;
}
const text = (body: string) => ({ msgtype: 'm.text', body });
const reply = (root: string, body: string) => ({ ...text(body), 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
const edit = (target: string, body: string) => ({ ...text(`* ${body}`), 'm.new_content': text(body), 'm.relates_to': { rel_type: 'm.replace', event_id: target } });
const react = (target: string, key: string) => ({ 'm.relates_to': { rel_type: 'm.annotation', event_id: target, key } });
const relations = (u: TestUser, roomId: string, eventId: string, rest = '', query: Record<string, string> = {}) =>
  s.http.get(`${V1}/rooms/${enc(roomId)}/relations/${enc(eventId)}${rest}`).query(query).set(bearer(u));
const threads = (u: TestUser, roomId: string, query: Record<string, string> = {}) =>
  s.http.get(`${V1}/rooms/${enc(roomId)}/threads`).query(query).set(bearer(u));
const getEvent = async (u: TestUser, roomId: string, eventId: string): Promise<Json> => {
  const r = await s.http.get(`${C}/rooms/${enc(roomId)}/event/${enc(eventId)}`).set(bearer(u));
  expect(r.status).toBe(200);
  return r.body as Json;
};
const redact = async (u: TestUser, roomId: string, eventId: string) => {
  const r = await s.http.put(`${C}/rooms/${enc(roomId)}/redact/${enc(eventId)}/x${++txn}`).set(bearer(u)).send({});
  expect(r.status).toBe(200);
};
const ids = (chunk: Json[]) => chunk.map((e) => e.event_id as string);

let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let outsider: TestUser;
async function room(preset = 'public_chat', extra: Json = {}): Promise<string> {
  const r = await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset, ...extra });
  expect(r.status).toBe(200);
  const roomId = r.body.room_id as string;
  for (const u of [bob, carol]) expect((await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(u)).send({})).status).toBe(200);
  return roomId;
}
beforeAll(async () => {
  alice = await s.register('alice');
  bob = await s.register('bob');
  carol = await s.register('carol');
  outsider = await s.register('outsider');
});

describe('GET /v1/rooms/:roomId/relations/:eventId', () => {
  let roomId: string;
  let root: string;
  let children: string[];
  let reaction: string;
  beforeAll(async () => {
    roomId = await room();
    root = await send(alice, roomId, text('root'));
    children = [];
    for (let i = 0; i < 5; i++) children.push(await send(i % 2 ? bob : carol, roomId, reply(root, `reply ${i}`)));
    reaction = await send(bob, roomId, react(root, '👍'), 'm.reaction');
    await send(alice, roomId, text('unrelated'));
  });

  it('lists every child, topologically newest first, with no more to fetch', async () => {
    const r = await relations(alice, roomId, root, '', { limit: '10' });
    expect(r.status).toBe(200);
    expect(ids(r.body.chunk)).toEqual([reaction, ...[...children].reverse()]);
    expect(r.body.next_batch).toBeUndefined();
    expect(r.body.recursion_depth).toBeUndefined();
  });

  it('filters by relType and by relType and event type', async () => {
    const byRel = await relations(alice, roomId, root, '/m.thread', { limit: '10' });
    expect(ids(byRel.body.chunk)).toEqual([...children].reverse());
    const byType = await relations(alice, roomId, root, '/m.annotation/m.reaction');
    expect(ids(byType.body.chunk)).toEqual([reaction]);
    const none = await relations(alice, roomId, root, '/m.annotation/m.room.message');
    expect(none.body.chunk).toEqual([]);
  });

  it('pages with next_batch backwards and forwards (dir=f is oldest first), and stops at `to`', async () => {
    const first = await relations(alice, roomId, root, '/m.thread', { limit: '2' });
    expect(ids(first.body.chunk)).toEqual([children[4], children[3]]);
    expect(first.body.next_batch).toEqual(expect.any(String));
    const second = await relations(alice, roomId, root, '/m.thread', { limit: '2', from: first.body.next_batch });
    expect(ids(second.body.chunk)).toEqual([children[2], children[1]]);
    expect(second.body.prev_batch).toBe(first.body.next_batch);
    const third = await relations(alice, roomId, root, '/m.thread', { limit: '2', from: second.body.next_batch });
    expect(ids(third.body.chunk)).toEqual([children[0]]);
    expect(third.body.next_batch).toBeUndefined();
    const forwards = await relations(alice, roomId, root, '/m.thread', { dir: 'f', limit: '3' });
    expect(ids(forwards.body.chunk)).toEqual(children.slice(0, 3));
    const rest = await relations(alice, roomId, root, '/m.thread', { dir: 'f', limit: '3', from: forwards.body.next_batch });
    expect(ids(rest.body.chunk)).toEqual(children.slice(3));
    // From page 1's `from` (the top) to page 2's next_batch: the same range as pages 1 and 2.
    const range = await relations(alice, roomId, root, '/m.thread', { limit: '10', to: second.body.next_batch });
    expect(ids(range.body.chunk)).toEqual([children[4], children[3], children[2], children[1]]);
  });

  it('accepts /messages and /sync tokens as `from`', async () => {
    const messages = await s.http.get(`${C}/rooms/${enc(roomId)}/messages`).query({ dir: 'b', limit: '1' }).set(bearer(alice));
    const fromMessages = await relations(alice, roomId, root, '/m.thread', { from: messages.body.end, limit: '10' });
    expect(ids(fromMessages.body.chunk)).toEqual([...children].reverse());
    const sync = await s.http.get(`${C}/sync`).set(bearer(alice));
    const fromSync = await relations(alice, roomId, root, '', { from: sync.body.next_batch, limit: '10' });
    expect(ids(fromSync.body.chunk)).toEqual([reaction, ...[...children].reverse()]);
  });

  it('recurses three levels when asked, through matching children only, and says so', async () => {
    const top = await send(alice, roomId, text('top'));
    const level1 = await send(bob, roomId, { 'm.relates_to': { rel_type: 'm.reference', event_id: top } });
    const level2 = await send(bob, roomId, { 'm.relates_to': { rel_type: 'm.reference', event_id: level1 } });
    const level3 = await send(bob, roomId, { 'm.relates_to': { rel_type: 'm.reference', event_id: level2 } });
    await send(bob, roomId, { 'm.relates_to': { rel_type: 'm.reference', event_id: level3 } }); // level 4: too deep
    const viaOther = await send(bob, roomId, { 'm.relates_to': { rel_type: 'org.example.other', event_id: level1 } });
    const direct = await relations(alice, roomId, top, '', { recurse: 'false' });
    expect(ids(direct.body.chunk)).toEqual([level1]);
    expect(direct.body.recursion_depth).toBe(1);
    const deep = await relations(alice, roomId, top, '', { recurse: 'true', limit: '10' });
    expect(ids(deep.body.chunk)).toEqual([viaOther, level3, level2, level1]);
    expect(deep.body.recursion_depth).toBe(3);
    // With a rel_type, an event reached only through a child of another type is left out.
    const filtered = await relations(alice, roomId, top, '/m.reference', { recurse: 'true', limit: '10' });
    expect(ids(filtered.body.chunk)).toEqual([level3, level2, level1]);
  });

  it('leaves out a redacted child (its relation is broken)', async () => {
    const parent = await send(alice, roomId, text('to be reacted'));
    const keep = await send(bob, roomId, react(parent, 'a'), 'm.reaction');
    const gone = await send(bob, roomId, react(parent, 'b'), 'm.reaction');
    await redact(bob, roomId, gone);
    expect(ids((await relations(alice, roomId, parent)).body.chunk)).toEqual([keep]);
  });

  it('answers 404 M_NOT_FOUND for an unknown parent, a parent in another room, and a room the user cannot read', async () => {
    expectError(await relations(alice, roomId, '$nope'), 404, 'M_NOT_FOUND');
    const other = await room();
    expectError(await relations(alice, other, root), 404, 'M_NOT_FOUND');
    const priv = await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'private_chat' });
    const secret = await send(alice, priv.body.room_id, text('secret'));
    expectError(await relations(outsider, priv.body.room_id, secret), 404, 'M_NOT_FOUND');
  });

  it('refuses a bad dir, limit or token with 400 M_INVALID_PARAM', async () => {
    expectError(await relations(alice, roomId, root, '', { dir: 'x' }), 400, 'M_INVALID_PARAM');
    expectError(await relations(alice, roomId, root, '', { limit: '0' }), 400, 'M_INVALID_PARAM');
    expectError(await relations(alice, roomId, root, '', { from: 'bogus' }), 400, 'M_INVALID_PARAM');
    expectError(await relations(alice, roomId, root, '', { recurse: 'maybe' }), 400, 'M_INVALID_PARAM');
  });

  it('shows only children the user may see under history visibility', async () => {
    const r = await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({
      preset: 'public_chat', initial_state: [{ type: 'm.room.history_visibility', content: { history_visibility: 'joined' } }],
    });
    const hidden = r.body.room_id as string;
    const parent = await send(alice, hidden, text('before dave'));
    const early = await send(alice, hidden, reply(parent, 'also before'));
    const dave = await s.register('dave');
    expect((await s.http.post(`${C}/rooms/${enc(hidden)}/join`).set(bearer(dave)).send({})).status).toBe(200);
    const late = await send(alice, hidden, reply(parent, 'after dave joined'));
    // The parent itself is out of dave's sight: 404.
    expectError(await relations(dave, hidden, parent), 404, 'M_NOT_FOUND');
    expect(ids((await relations(alice, hidden, parent)).body.chunk)).toEqual([late, early]);
    // A parent dave can see, with children before and after his sight.
    const visibleParent = await send(alice, hidden, text('seen'));
    const child = await send(alice, hidden, react(visibleParent, 'x'), 'm.reaction');
    expect(ids((await relations(dave, hidden, visibleParent)).body.chunk)).toEqual([child]);
  });
});

describe('bundled aggregations (unsigned["m.relations"])', () => {
  let roomId: string;
  beforeAll(async () => {
    roomId = await room();
  });

  it('m.thread: latest_event, count and current_user_participated in /event, /messages, /context and /sync', async () => {
    const root = await send(alice, roomId, text('thread root'));
    await send(bob, roomId, reply(root, 'one'));
    const last = await send(bob, roomId, reply(root, 'two'));
    const check = (ev: Json, me: TestUser) => {
      const t = ev.unsigned['m.relations']['m.thread'];
      expect(t.count).toBe(2);
      expect(t.latest_event.event_id).toBe(last);
      expect(t.latest_event.content.body).toBe('two');
      expect(t.current_user_participated).toBe(me !== carol);
    };
    check(await getEvent(alice, roomId, root), alice); // sent the root
    check(await getEvent(bob, roomId, root), bob); // replied
    check(await getEvent(carol, roomId, root), carol); // neither
    const messages = await s.http.get(`${C}/rooms/${enc(roomId)}/messages`).query({ dir: 'b', limit: '5' }).set(bearer(carol));
    check((messages.body.chunk as Json[]).find((e) => e.event_id === root)!, carol);
    const context = await s.http.get(`${C}/rooms/${enc(roomId)}/context/${enc(root)}`).set(bearer(carol));
    check(context.body.event, carol);
    const sync = await s.http.get(`${C}/sync`).set(bearer(carol));
    check((sync.body.rooms.join[roomId].timeline.events as Json[]).find((e) => e.event_id === root)!, carol);
  });

  it('m.thread: replies from ignored users are not counted, nor shown as latest', async () => {
    const root = await send(alice, roomId, text('ignore test'));
    const fromCarol = await send(carol, roomId, reply(root, 'carol'));
    await send(bob, roomId, reply(root, 'bob'));
    expect((await s.http.put(`${C}/user/${enc(carol.userId)}/account_data/m.ignored_user_list`).set(bearer(carol))
      .send({ ignored_users: {} })).status).toBe(200);
    const ignoring = await s.register('ignorer');
    expect((await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(ignoring)).send({})).status).toBe(200);
    expect((await s.http.put(`${C}/user/${enc(ignoring.userId)}/account_data/m.ignored_user_list`).set(bearer(ignoring))
      .send({ ignored_users: { [bob.userId]: {} } })).status).toBe(200);
    const t = (await getEvent(ignoring, roomId, root)).unsigned['m.relations']['m.thread'];
    expect(t.count).toBe(1);
    expect(t.latest_event.event_id).toBe(fromCarol);
  });

  it('m.replace: the most recent valid edit, formatted in full; invalid edits are ignored', async () => {
    const original = await send(alice, roomId, text('I like cake'));
    const first = await send(alice, roomId, edit(original, 'I like chocolate cake'));
    const latest = await send(alice, roomId, edit(original, 'I like lemon cake'));
    await send(bob, roomId, edit(original, 'someone else')); // another sender
    await send(alice, roomId, { 'm.relates_to': { rel_type: 'm.replace', event_id: original }, body: 'no new content' }); // no m.new_content
    await send(alice, roomId, { ...edit(original, 'another type') }, 'org.example.other'); // another type
    await send(alice, roomId, edit(first, 'an edit of an edit'));
    const ev = await getEvent(bob, roomId, original);
    const r = ev.unsigned['m.relations']['m.replace'];
    expect(r.event_id).toBe(latest);
    expect(r.sender).toBe(alice.userId);
    expect(r.origin_server_ts).toEqual(expect.any(Number));
    expect(r.content['m.new_content'].body).toBe('I like lemon cake');
    // The original's content is left intact.
    expect(ev.content.body).toBe('I like cake');
    // An edit of an edit is not valid: the first edit has no m.replace bundle.
    expect((await getEvent(bob, roomId, first)).unsigned['m.relations']).toBeUndefined();
    // Redacting the newest edit reverts to the one before.
    await redact(alice, roomId, latest);
    expect((await getEvent(bob, roomId, original)).unsigned['m.relations']['m.replace'].event_id).toBe(first);
    // A redacted original bundles no edit.
    await redact(alice, roomId, original);
    expect((await getEvent(bob, roomId, original)).unsigned['m.relations']).toBeUndefined();
  });

  it('m.replace: of two edits with the same timestamp, the greater event ID wins', async () => {
    const original = await send(alice, roomId, text('same time'));
    const a = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/same1`).set(bearer(alice)).send(edit(original, 'A'));
    const b = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/same2`).set(bearer(alice)).send(edit(original, 'B'));
    const winner = [a.body.event_id as string, b.body.event_id as string].sort().pop();
    expect((await getEvent(bob, roomId, original)).unsigned['m.relations']['m.replace'].event_id).toBe(winner);
  });

  it('m.reference lists the referencing events; m.annotation is not aggregated', async () => {
    const parent = await send(alice, roomId, text('poll'));
    const ref1 = await send(bob, roomId, { 'm.relates_to': { rel_type: 'm.reference', event_id: parent } }, 'org.example.vote');
    const ref2 = await send(carol, roomId, { 'm.relates_to': { rel_type: 'm.reference', event_id: parent } }, 'org.example.vote');
    await send(bob, roomId, react(parent, '🎉'), 'm.reaction');
    const rel = (await getEvent(alice, roomId, parent)).unsigned['m.relations'];
    expect(rel).toEqual({ 'm.reference': { chunk: [{ event_id: ref1 }, { event_id: ref2 }] } });
  });

  it('a thread\'s latest event carries its own edit', async () => {
    const root = await send(alice, roomId, text('edited thread'));
    const r1 = await send(bob, roomId, reply(root, 'typo'));
    const fix = await send(bob, roomId, { ...edit(r1, 'fixed'), 'm.relates_to': { rel_type: 'm.replace', event_id: r1 } });
    const t = (await getEvent(alice, roomId, root)).unsigned['m.relations']['m.thread'];
    expect(t.latest_event.event_id).toBe(r1);
    expect(t.latest_event.unsigned['m.relations']['m.replace'].event_id).toBe(fix);
  });
});

describe('sending related events', () => {
  let roomId: string;
  beforeAll(async () => {
    roomId = await room();
  });

  it('refuses a thread off an event that has a relation (400 M_UNKNOWN)', async () => {
    const root = await send(alice, roomId, text('root'));
    const inThread = await send(bob, roomId, reply(root, 'in thread'));
    const res = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/nested`).set(bearer(bob)).send(reply(inThread, 'nested'));
    expectError(res, 400, 'M_UNKNOWN');
  });

  it('refuses a second identical annotation (400 M_DUPLICATE_ANNOTATION) until the first is redacted', async () => {
    const target = await send(alice, roomId, text('react to me'));
    const first = await send(bob, roomId, react(target, '👍'), 'm.reaction');
    const dup = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.reaction/dup1`).set(bearer(bob)).send(react(target, '👍'));
    expectError(dup, 400, 'M_DUPLICATE_ANNOTATION');
    // Another key, another user: fine.
    await send(bob, roomId, react(target, '👎'), 'm.reaction');
    await send(carol, roomId, react(target, '👍'), 'm.reaction');
    await redact(bob, roomId, first);
    await send(bob, roomId, react(target, '👍'), 'm.reaction');
  });

  it('answers a retried transaction with the first event even when it would now be a duplicate', async () => {
    const target = await send(alice, roomId, text('retry'));
    const a = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.reaction/retry1`).set(bearer(bob)).send(react(target, 'r'));
    const b = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.reaction/retry1`).set(bearer(bob)).send(react(target, 'r'));
    expect(b.status).toBe(200);
    expect(b.body.event_id).toBe(a.body.event_id);
  });

  it('refuses an m.relates_to that is not an object (400 M_BAD_JSON)', async () => {
    const res = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/badrel`).set(bearer(bob)).send({ ...text('x'), 'm.relates_to': 'nope' });
    expectError(res, 400, 'M_BAD_JSON');
  });
});

describe('GET /v1/rooms/:roomId/threads', () => {
  let roomId: string;
  let t1: string;
  let t2: string;
  let t3: string;
  beforeAll(async () => {
    roomId = await room();
    t1 = await send(alice, roomId, text('thread 1'));
    t2 = await send(bob, roomId, text('thread 2'));
    t3 = await send(alice, roomId, text('thread 3'));
    await send(alice, roomId, text('not a thread'));
    await send(carol, roomId, reply(t2, 'c on 2'));
    await send(alice, roomId, reply(t3, 'a on 3'));
    await send(bob, roomId, reply(t1, 'b on 1')); // thread 1 now has the newest reply
  });

  it('lists thread roots by their newest reply, newest first, with aggregations', async () => {
    const r = await threads(carol, roomId);
    expect(r.status).toBe(200);
    expect(ids(r.body.chunk)).toEqual([t1, t3, t2]);
    expect(r.body.chunk[0].unsigned['m.relations']['m.thread'].latest_event.content.body).toBe('b on 1');
    expect(r.body.next_batch).toBeUndefined();
  });

  it('include=participated: threads whose root or a reply the user sent', async () => {
    expect(ids((await threads(carol, roomId, { include: 'participated' })).body.chunk)).toEqual([t2]);
    expect(ids((await threads(bob, roomId, { include: 'participated' })).body.chunk)).toEqual([t1, t2]);
  });

  it('pages with limit and next_batch', async () => {
    const first = await threads(carol, roomId, { limit: '2' });
    expect(ids(first.body.chunk)).toEqual([t1, t3]);
    const second = await threads(carol, roomId, { limit: '2', from: first.body.next_batch });
    expect(ids(second.body.chunk)).toEqual([t2]);
    expect(second.body.next_batch).toBeUndefined();
  });

  it('a thread whose only reply was redacted is no thread any more', async () => {
    const root = await send(alice, roomId, text('short thread'));
    const only = await send(bob, roomId, reply(root, 'lonely'));
    expect(ids((await threads(carol, roomId, { limit: '1' })).body.chunk)).toEqual([root]);
    await redact(bob, roomId, only);
    expect(ids((await threads(carol, roomId)).body.chunk)).not.toContain(root);
  });

  it('shows a root sent by an ignored user redacted', async () => {
    const watcher = await s.register('watcher');
    expect((await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(watcher)).send({})).status).toBe(200);
    expect((await s.http.put(`${C}/user/${enc(watcher.userId)}/account_data/m.ignored_user_list`).set(bearer(watcher))
      .send({ ignored_users: { [bob.userId]: {} } })).status).toBe(200);
    const chunk = (await threads(watcher, roomId)).body.chunk as Json[];
    const root2 = chunk.find((e) => e.event_id === t2)!;
    expect(root2.content).toEqual({});
    expect(chunk.find((e) => e.event_id === t1)!.content.body).toBe('thread 1');
  });

  it('refuses a bad include or token (400 M_INVALID_PARAM) and a user who cannot read the room (403 M_FORBIDDEN)', async () => {
    expectError(await threads(carol, roomId, { include: 'mine' }), 400, 'M_INVALID_PARAM');
    expectError(await threads(carol, roomId, { from: 's12' }), 400, 'M_INVALID_PARAM');
    expectError(await threads(carol, roomId, { limit: '0' }), 400, 'M_INVALID_PARAM');
    const priv = await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'private_chat' });
    expectError(await threads(outsider, priv.body.room_id), 403, 'M_FORBIDDEN');
  });
});

describe('thread-aware receipts and notification counts', () => {
  let roomId: string;
  let root: string;
  beforeAll(async () => {
    roomId = await room();
  });

  const syncCounts = async (u: TestUser, threaded: boolean) => {
    const filter = JSON.stringify({ room: { timeline: { unread_thread_notifications: threaded } } });
    const r = await s.http.get(`${C}/sync`).query({ filter }).set(bearer(u));
    expect(r.status).toBe(200);
    return r.body.rooms.join[roomId] as Json;
  };
  const receipt = (u: TestUser, eventId: string, body: Json = {}) =>
    s.http.post(`${C}/rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`).set(bearer(u)).send(body);

  it('counts notifications per thread when the filter asks, and all together otherwise', async () => {
    root = await send(alice, roomId, text('main 1'));
    await send(alice, roomId, text('main 2'));
    await send(alice, roomId, reply(root, 'thread 1'));
    const last = await send(alice, roomId, reply(root, 'thread 2'));
    await send(alice, roomId, { 'm.relates_to': { rel_type: 'm.annotation', event_id: last, key: 'x' } }, 'm.reaction'); // reactions do not notify
    const threaded = await syncCounts(bob, true);
    expect(threaded.unread_notifications).toEqual({ notification_count: 2, highlight_count: 0 });
    expect(threaded.unread_thread_notifications).toEqual({ [root]: { notification_count: 2, highlight_count: 0 } });
    const plain = await syncCounts(bob, false);
    expect(plain.unread_notifications).toEqual({ notification_count: 4, highlight_count: 0 });
    expect(plain.unread_thread_notifications).toBeUndefined();
  });

  it('a threaded receipt clears only its thread; an unthreaded one clears everything before it', async () => {
    const replies = (await relations(bob, roomId, root, '/m.thread')).body.chunk as Json[];
    expect((await receipt(bob, replies[0]!.event_id, { thread_id: root })).status).toBe(200);
    let c = await syncCounts(bob, true);
    expect(c.unread_notifications.notification_count).toBe(2);
    expect(c.unread_thread_notifications).toBeUndefined();
    expect((await syncCounts(bob, false)).unread_notifications.notification_count).toBe(2);
    const newest = await send(alice, roomId, text('main 3'));
    expect((await receipt(bob, newest, { thread_id: 'main' })).status).toBe(200);
    c = await syncCounts(bob, true);
    expect(c.unread_notifications.notification_count).toBe(0);
    await send(alice, roomId, reply(root, 'thread 3'));
    const after = await send(alice, roomId, text('main 4'));
    c = await syncCounts(bob, true);
    expect(c.unread_notifications.notification_count).toBe(1);
    expect(c.unread_thread_notifications[root].notification_count).toBe(1);
    expect((await receipt(bob, after)).status).toBe(200);
    expect((await syncCounts(bob, false)).unread_notifications.notification_count).toBe(0);
  });

  it('refuses a thread_id the event is not in (400 M_INVALID_PARAM); the root is accepted in its own thread', async () => {
    const mainEvent = await send(alice, roomId, text('main 5'));
    const threadEvent = await send(alice, roomId, reply(root, 'thread 4'));
    expectError(await receipt(bob, mainEvent, { thread_id: root }), 400, 'M_INVALID_PARAM');
    expectError(await receipt(bob, threadEvent, { thread_id: 'main' }), 400, 'M_INVALID_PARAM');
    expectError(await receipt(bob, threadEvent, { thread_id: '$other' }), 400, 'M_INVALID_PARAM');
    expect((await receipt(bob, root, { thread_id: root })).status).toBe(200);
    expect((await receipt(bob, root, { thread_id: 'main' })).status).toBe(200);
    // A reaction to a threaded reply is in that thread.
    const reaction = await send(alice, roomId, react(threadEvent, 'y'), 'm.reaction');
    expect((await receipt(bob, reaction, { thread_id: root })).status).toBe(200);
  });
});
