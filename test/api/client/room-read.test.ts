// Reading rooms: /event, /messages, /context, /members, /joined_members, /joined_rooms, /state, with
// history visibility (matrix-spec: rooms.yaml, message_pagination.yaml, event_context.yaml,
// list_joined_rooms.yaml; client-server-api modules/history_visibility.md).
import { bearer, makeTestServer, type TestUser } from '../../helpers/server.js';

const s = makeTestServer();
afterAll(() => s.close());

const enc = encodeURIComponent;
const C = '/_matrix/client/v3';
let txn = 0;

interface Ev { event_id: string; type: string; sender: string; content: Record<string, unknown>; state_key?: string; unsigned: Record<string, unknown>; room_id: string }

async function createRoom(u: TestUser, body: Record<string, unknown> = {}): Promise<string> {
  const r = await s.http.post(`${C}/createRoom`).set(bearer(u)).send(body);
  expect(r.status).toBe(200);
  return r.body.room_id as string;
}
async function send(u: TestUser, roomId: string, body: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/txn${++txn}`).set(bearer(u)).send({ msgtype: 'm.text', body, ...extra });
  expect(r.status).toBe(200);
  return r.body.event_id as string;
}
async function sendMany(u: TestUser, roomId: string, prefix: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await send(u, roomId, `${prefix}${i}`));
  return ids;
}
async function setState(u: TestUser, roomId: string, type: string, key: string, content: Record<string, unknown>): Promise<string> {
  const r = await s.http.put(`${C}/rooms/${enc(roomId)}/state/${type}/${enc(key)}`).set(bearer(u)).send(content);
  expect(r.status).toBe(200);
  return r.body.event_id as string;
}
async function membership(u: TestUser, roomId: string, action: 'join' | 'leave' | 'forget'): Promise<void> {
  const r = await s.http.post(`${C}/rooms/${enc(roomId)}/${action}`).set(bearer(u)).send({});
  expect(r.status).toBe(200);
}
async function invite(u: TestUser, roomId: string, target: TestUser): Promise<void> {
  const r = await s.http.post(`${C}/rooms/${enc(roomId)}/invite`).set(bearer(u)).send({ user_id: target.userId });
  expect(r.status).toBe(200);
}
/** A public room where alice and bob are joined. */
async function roomWith(alice: TestUser, ...others: TestUser[]): Promise<string> {
  const roomId = await createRoom(alice, { preset: 'public_chat' });
  for (const o of others) await membership(o, roomId, 'join');
  return roomId;
}
const messages = (u: TestUser, roomId: string, query: Record<string, string | number>) =>
  s.http.get(`${C}/rooms/${enc(roomId)}/messages`).query(query).set(bearer(u));
const bodies = (chunk: Ev[]) => chunk.filter((e) => e.type === 'm.room.message').map((e) => e.content.body);
/** Every event of the room in stream order, straight from storage. */
async function allEventIds(roomId: string): Promise<string[]> {
  const recs = await s.services.storage.rooms.getRoomEvents({ roomId, from: 0, dir: 'f', limit: 100000 });
  return recs.map((r) => r.event.event_id);
}
/** Pages through /messages until `end` is omitted; returns every page. */
async function pageAll(u: TestUser, roomId: string, query: Record<string, string | number>): Promise<{ chunk: Ev[]; start: string; end?: string }[]> {
  const pages: { chunk: Ev[]; start: string; end?: string }[] = [];
  let from: string | undefined;
  for (let i = 0; i < 200; i++) {
    const r = await messages(u, roomId, { ...query, ...(from !== undefined ? { from } : {}) });
    expect(r.status).toBe(200);
    pages.push(r.body);
    if (r.body.end === undefined) return pages;
    from = r.body.end;
  }
  throw new Error('pagination did not end');
}

describe('GET /rooms/:roomId/messages', () => {
  let alice: TestUser;
  let bob: TestUser;
  let roomId: string;
  let sent: string[];
  beforeAll(async () => {
    alice = await s.register();
    bob = await s.register();
    roomId = await roomWith(alice, bob);
    sent = await sendMany(alice, roomId, 'm', 25);
  });

  it('pages backwards across several pages without duplicates or gaps, and omits end at the start', async () => {
    const pages = await pageAll(bob, roomId, { dir: 'b', limit: 7 });
    const ids = pages.flatMap((p) => p.chunk.map((e) => e.event_id));
    expect(ids).toEqual((await allEventIds(roomId)).reverse());
    expect(pages.length).toBeGreaterThan(3);
    for (const p of pages.slice(0, -1)) {
      expect(p.chunk).toHaveLength(7);
      expect(typeof p.end).toBe('string');
    }
    expect(pages[pages.length - 1]!.end).toBeUndefined();
    expect(pages[pages.length - 1]!.chunk[pages[pages.length - 1]!.chunk.length - 1]!.type).toBe('m.room.create');
    // start is the from token given
    expect(pages[1]!.start).toBe(pages[0]!.end);
  });

  it('pages forwards from the start of the room to the end', async () => {
    const pages = await pageAll(bob, roomId, { dir: 'f', limit: 8 });
    const ids = pages.flatMap((p) => p.chunk.map((e) => e.event_id));
    expect(ids).toEqual(await allEventIds(roomId));
    expect(pages[0]!.chunk[0]!.type).toBe('m.room.create');
    expect(pages[pages.length - 1]!.end).toBeUndefined();
  });

  it('gives stable tokens: the same request gives the same page, also after new events arrive', async () => {
    const first = await messages(bob, roomId, { dir: 'b', limit: 5 });
    const second = await messages(bob, roomId, { dir: 'b', limit: 5, from: first.body.end });
    expect(bodies(first.body.chunk)).toEqual(['m24', 'm23', 'm22', 'm21', 'm20']);
    expect(bodies(second.body.chunk)).toEqual(['m19', 'm18', 'm17', 'm16', 'm15']);
    const again = await messages(bob, roomId, { dir: 'b', limit: 5, from: first.body.end });
    expect(again.body).toEqual(second.body);
    const other = await s.register();
    const room2 = await roomWith(other);
    await send(other, room2, 'elsewhere');
    await send(alice, roomId, 'newer');
    const later = await messages(bob, roomId, { dir: 'b', limit: 5, from: first.body.end });
    expect(later.body.chunk.map((e: Ev) => e.event_id)).toEqual(second.body.chunk.map((e: Ev) => e.event_id));
    expect(later.body.end).toBe(second.body.end);
    // a token names a point between events: forwards from it are the events just paged over
    const fwd = await messages(bob, roomId, { dir: 'f', limit: 3, from: second.body.end });
    expect(bodies(fwd.body.chunk)).toEqual(['m15', 'm16', 'm17']);
  });

  it('stops at `to` and then omits end', async () => {
    const first = await messages(bob, roomId, { dir: 'b', limit: 3, filter: JSON.stringify({ types: ['m.room.message'] }) });
    const stop = first.body.end as string;
    const r = await messages(bob, roomId, { dir: 'f', from: 't0', to: stop, limit: 1000 });
    expect(r.status).toBe(200);
    const ids = await allEventIds(roomId);
    const cut = ids.indexOf(first.body.chunk[2].event_id);
    expect(r.body.chunk.map((e: Ev) => e.event_id)).toEqual(ids.slice(0, cut));
    expect(r.body.end).toBeUndefined();
    const back = await messages(bob, roomId, { dir: 'b', to: stop, limit: 1000 });
    expect(back.body.chunk.map((e: Ev) => e.event_id)).toEqual(ids.slice(cut).reverse());
    expect(back.body.end).toBeUndefined();
  });

  it('defaults the limit to 10', async () => {
    const r = await messages(bob, roomId, { dir: 'b' });
    expect(r.status).toBe(200);
    expect(r.body.chunk).toHaveLength(10);
    expect(typeof r.body.start).toBe('string');
  });

  it('returns an empty chunk with end when limit is 0 and more exists', async () => {
    const r = await messages(bob, roomId, { dir: 'b', limit: 0 });
    expect(r.status).toBe(200);
    expect(r.body.chunk).toEqual([]);
    expect(r.body.end).toBe(r.body.start);
  });

  it('filters by types, not_types and wildcards', async () => {
    const onlyMessages = await messages(bob, roomId, { dir: 'f', limit: 1000, filter: JSON.stringify({ types: ['m.room.message'] }) });
    expect(onlyMessages.body.chunk.every((e: Ev) => e.type === 'm.room.message')).toBe(true);
    expect(onlyMessages.body.chunk.length).toBeGreaterThanOrEqual(25);
    const noMembers = await messages(bob, roomId, { dir: 'f', limit: 1000, filter: JSON.stringify({ not_types: ['m.room.member', 'm.room.message'] }) });
    const types = noMembers.body.chunk.map((e: Ev) => e.type);
    expect(types).toContain('m.room.create');
    expect(types).not.toContain('m.room.member');
    expect(types).not.toContain('m.room.message');
    const wildcard = await messages(bob, roomId, { dir: 'f', limit: 1000, filter: JSON.stringify({ types: ['m.room.mem*'] }) });
    expect(wildcard.body.chunk.map((e: Ev) => e.type)).toEqual(['m.room.member', 'm.room.member']);
  });

  it('filters by senders and not_senders', async () => {
    await send(bob, roomId, 'from bob');
    const bobs = await messages(alice, roomId, { dir: 'b', limit: 1000, filter: JSON.stringify({ senders: [bob.userId] }) });
    expect(bobs.body.chunk.map((e: Ev) => e.sender)).toEqual([bob.userId, bob.userId]); // the message and the join
    expect(bodies(bobs.body.chunk)).toEqual(['from bob']);
    const notAlice = await messages(alice, roomId, { dir: 'b', limit: 1000, filter: JSON.stringify({ not_senders: [alice.userId] }) });
    expect(notAlice.body.chunk.every((e: Ev) => e.sender === bob.userId)).toBe(true);
    expect(notAlice.body.chunk).toHaveLength(2);
  });

  it('filters by contains_url', async () => {
    const withUrl = await send(alice, roomId, 'a picture', { msgtype: 'm.image', url: 'mxc://test.local/abc' });
    const r = await messages(bob, roomId, { dir: 'b', limit: 5, filter: JSON.stringify({ contains_url: true }) });
    expect(r.body.chunk.map((e: Ev) => e.event_id)).toEqual([withUrl]);
    expect(r.body.end).toBeUndefined();
    const without = await messages(bob, roomId, { dir: 'b', limit: 3, filter: JSON.stringify({ contains_url: false }) });
    expect(without.body.chunk).toHaveLength(3);
    expect(without.body.chunk.map((e: Ev) => e.event_id)).not.toContain(withUrl);
  });

  it('with lazy_load_members, state carries the member events of the chunk\'s senders only', async () => {
    const carol = await s.register();
    const dave = await s.register();
    const room = await roomWith(alice, carol, dave);
    await sendMany(alice, room, 'x', 3);
    await send(carol, room, 'carol speaks');
    const r = await messages(bob.userId === alice.userId ? bob : alice, room, { dir: 'b', limit: 2, filter: JSON.stringify({ lazy_load_members: true }) });
    expect(r.status).toBe(200);
    expect(new Set(r.body.chunk.map((e: Ev) => e.sender))).toEqual(new Set([alice.userId, carol.userId]));
    const state = r.body.state as Ev[];
    expect(state.every((e) => e.type === 'm.room.member')).toBe(true);
    expect(state.map((e) => e.state_key).sort()).toEqual([alice.userId, carol.userId].sort());
    expect(state.find((e) => e.state_key === carol.userId)!.content.membership).toBe('join');
    // without lazy loading there is no state
    const plain = await messages(alice, room, { dir: 'b', limit: 2 });
    expect(plain.body.state).toBeUndefined();
  });

  it('shows transaction_id only to the sending device and redacted_because on redacted events', async () => {
    const room = await roomWith(alice, bob);
    const target = await send(alice, room, 'regret');
    const red = await s.http.put(`${C}/rooms/${enc(room)}/redact/${enc(target)}/r1`).set(bearer(alice)).send({ reason: 'oops' });
    expect(red.status).toBe(200);
    const mine = await messages(alice, room, { dir: 'b', limit: 2 });
    const [redaction, redacted] = mine.body.chunk as Ev[];
    expect(redaction!.event_id).toBe(red.body.event_id);
    expect(redaction!.unsigned.transaction_id).toBe('r1');
    expect(redacted!.event_id).toBe(target);
    expect(redacted!.content).toEqual({});
    expect((redacted!.unsigned.redacted_because as Ev).event_id).toBe(red.body.event_id);
    expect((redacted!.unsigned.redacted_because as Ev).content.reason).toBe('oops');
    expect(typeof redacted!.unsigned.transaction_id).toBe('string');
    const theirs = await messages(bob, room, { dir: 'b', limit: 2 });
    expect(theirs.body.chunk[0].unsigned.transaction_id).toBeUndefined();
    expect(theirs.body.chunk[1].unsigned.transaction_id).toBeUndefined();
    expect(theirs.body.chunk[1].unsigned.redacted_because.event_id).toBe(red.body.event_id);
    // another device of the same user does not see it either
    const login = await s.http.post(`${C}/login`).send({ type: 'm.login.password', identifier: { type: 'm.id.user', user: alice.userId }, password: alice.password });
    expect(login.status).toBe(200);
    const other = await messages({ ...alice, accessToken: login.body.access_token }, room, { dir: 'b', limit: 2 });
    expect(other.body.chunk[0].unsigned.transaction_id).toBeUndefined();
  });

  it('returns server-generated events like any other timeline event', async () => {
    const room = await roomWith(alice, bob);
    const notice = await s.services.events.send(room, { type: 'm.room.message', sender: 'test.local', content: { msgtype: 'm.notice', body: 'server says hi' } }, { serverLocal: true });
    const after = await send(alice, room, 'after the notice');
    const r = await messages(bob, room, { dir: 'b', limit: 2 });
    expect(r.body.chunk.map((e: Ev) => e.event_id)).toEqual([after, notice.eventId]);
    expect(r.body.chunk[1].sender).toBe('test.local');
    const lazy = await messages(bob, room, { dir: 'b', limit: 2, filter: JSON.stringify({ lazy_load_members: true }) });
    expect(lazy.body.state.map((e: Ev) => e.state_key)).toEqual([alice.userId]);
  });

  it('refuses a missing dir with 400 M_MISSING_PARAM and a bad one with 400 M_INVALID_PARAM', async () => {
    const missing = await messages(bob, roomId, {});
    expect(missing.status).toBe(400);
    expect(missing.body.errcode).toBe('M_MISSING_PARAM');
    const bad = await messages(bob, roomId, { dir: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('refuses bad tokens and limits with 400 M_INVALID_PARAM', async () => {
    const cases: Record<string, string | number>[] = [{ dir: 'b', from: 'nonsense' }, { dir: 'b', to: 'x1' }, { dir: 'b', limit: 'ten' }, { dir: 'b', limit: -1 }];
    for (const q of cases) {
      const r = await messages(bob, roomId, q);
      expect(r.status).toBe(400);
      expect(r.body.errcode).toBe('M_INVALID_PARAM');
    }
  });

  it('refuses a filter that is not JSON (400 M_NOT_JSON) or has wrong field types (400 M_BAD_JSON)', async () => {
    const notJson = await messages(bob, roomId, { dir: 'b', filter: '{nope' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.errcode).toBe('M_NOT_JSON');
    const badShape = await messages(bob, roomId, { dir: 'b', filter: JSON.stringify({ types: 'm.room.message' }) });
    expect(badShape.status).toBe(400);
    expect(badShape.body.errcode).toBe('M_BAD_JSON');
  });

  it('refuses non-members and unknown rooms with 403 M_FORBIDDEN', async () => {
    const stranger = await s.register();
    const r = await messages(stranger, roomId, { dir: 'b' });
    expect(r.status).toBe(403);
    expect(r.body.errcode).toBe('M_FORBIDDEN');
    const unknown = await messages(bob, '!nope:test.local', { dir: 'b' });
    expect(unknown.status).toBe(403);
    expect(unknown.body.errcode).toBe('M_FORBIDDEN');
  });

  it('refuses an invited (not yet joined) user with 403 M_FORBIDDEN', async () => {
    const carol = await s.register();
    const room = await createRoom(alice);
    await invite(alice, room, carol);
    const r = await messages(carol, room, { dir: 'b' });
    expect(r.status).toBe(403);
    expect(r.body.errcode).toBe('M_FORBIDDEN');
  });

  it('requires an access token (401 M_MISSING_TOKEN)', async () => {
    const r = await s.http.get(`${C}/rooms/${enc(roomId)}/messages?dir=b`);
    expect(r.status).toBe(401);
    expect(r.body.errcode).toBe('M_MISSING_TOKEN');
  });
});

describe('history visibility', () => {
  let alice: TestUser;
  beforeAll(async () => {
    alice = await s.register();
  });

  it('shared (the default): a user who joins later sees earlier events', async () => {
    const bob = await s.register();
    const room = await roomWith(alice);
    const early = await sendMany(alice, room, 'early', 3);
    await membership(bob, room, 'join');
    const late = await send(alice, room, 'late');
    const pages = await pageAll(bob, room, { dir: 'b', limit: 4 });
    expect(pages.flatMap((p) => bodies(p.chunk))).toEqual(['late', 'early2', 'early1', 'early0']);
    const e = await s.http.get(`${C}/rooms/${enc(room)}/event/${enc(early[0]!)}`).set(bearer(bob));
    expect(e.status).toBe(200);
    expect(e.body.content.body).toBe('early0');
    expect(e.body.unsigned.membership).toBe('leave'); // bob had no membership then
    const l = await s.http.get(`${C}/rooms/${enc(room)}/event/${enc(late)}`).set(bearer(bob));
    expect(l.body.unsigned.membership).toBe('join');
  });

  it('joined: a user who joins later sees nothing from before the join, and paging skips the hidden part', async () => {
    const bob = await s.register();
    const room = await roomWith(alice);
    const hv = await setState(alice, room, 'm.room.history_visibility', '', { history_visibility: 'joined' });
    const hidden = await sendMany(alice, room, 'hidden', 30);
    await invite(alice, room, bob);
    await send(alice, room, 'while invited');
    await membership(bob, room, 'join');
    const joinId = (await s.services.storage.rooms.getMembership(room, bob.userId))!.eventId;
    const seen = await send(alice, room, 'seen');
    // What came before the change to `joined` was shared (the room's creation events), and the change
    // itself is visible because the setting before it allows it.
    const all = await allEventIds(room);
    const expected = [seen, joinId, ...all.slice(0, all.indexOf(hv) + 1).reverse()];
    const pages = await pageAll(bob, room, { dir: 'b', limit: 10 });
    expect(pages.flatMap((p) => p.chunk.map((e) => e.event_id))).toEqual(expected);
    expect(pages.every((p, i) => i === pages.length - 1 || p.chunk.length === 10)).toBe(true); // no short or empty pages on the way
    expect(pages.flatMap((p) => bodies(p.chunk))).toEqual(['seen']);
    const e = await s.http.get(`${C}/rooms/${enc(room)}/event/${enc(hidden[0]!)}`).set(bearer(bob));
    expect(e.status).toBe(404);
    expect(e.body.errcode).toBe('M_NOT_FOUND');
    // forwards from the start of the room skips the hidden part too
    const fwd = await pageAll(bob, room, { dir: 'f', limit: 10 });
    expect(fwd.flatMap((p) => p.chunk.map((x) => x.event_id))).toEqual([...expected].reverse());
    // alice, joined throughout, sees all of it
    const mine = await pageAll(alice, room, { dir: 'b', limit: 100 });
    expect(mine.flatMap((p) => p.chunk.map((x) => x.event_id))).toEqual([...all].reverse());
  });

  it('invited: a user sees events from their invite on', async () => {
    const bob = await s.register();
    const room = await roomWith(alice);
    await setState(alice, room, 'm.room.history_visibility', '', { history_visibility: 'invited' });
    await send(alice, room, 'before invite');
    await invite(alice, room, bob);
    await send(alice, room, 'while invited');
    await membership(bob, room, 'join');
    await send(alice, room, 'after join');
    const pages = await pageAll(bob, room, { dir: 'b', limit: 3 });
    const chunk = pages.flatMap((p) => p.chunk);
    expect(bodies(chunk)).toEqual(['after join', 'while invited']);
    expect(chunk.filter((e) => e.type === 'm.room.member' && e.state_key === bob.userId).map((e) => e.content.membership)).toEqual(['join', 'invite']);
    expect(chunk.find((e) => e.content.body === 'while invited')!.unsigned.membership).toBe('invite');
  });

  it('world_readable: a user who never joined may read the room, the state and single events', async () => {
    const stranger = await s.register();
    const room = await roomWith(alice);
    await setState(alice, room, 'm.room.history_visibility', '', { history_visibility: 'world_readable' });
    const id = await send(alice, room, 'for everyone');
    const r = await messages(stranger, room, { dir: 'b', limit: 1 });
    expect(r.status).toBe(200);
    expect(bodies(r.body.chunk)).toEqual(['for everyone']);
    const e = await s.http.get(`${C}/rooms/${enc(room)}/event/${enc(id)}`).set(bearer(stranger));
    expect(e.status).toBe(200);
    const st = await s.http.get(`${C}/rooms/${enc(room)}/state`).set(bearer(stranger));
    expect(st.status).toBe(200);
    // events from before it became world_readable stay hidden from them (shared then; they never joined)
    const pages = await pageAll(stranger, room, { dir: 'b', limit: 50 });
    expect(pages.flatMap((p) => p.chunk).map((x) => x.type)).toEqual(['m.room.message', 'm.room.history_visibility']);
  });

  it('a user who left sees events until they left, and not after', async () => {
    const bob = await s.register();
    const room = await roomWith(alice, bob);
    await send(alice, room, 'while bob was here');
    await membership(bob, room, 'leave');
    const after = await send(alice, room, 'after bob left');
    const pages = await pageAll(bob, room, { dir: 'b', limit: 3 });
    const chunk = pages.flatMap((p) => p.chunk);
    expect(chunk[0]!.type).toBe('m.room.member');
    expect(chunk[0]!.content.membership).toBe('leave');
    expect(bodies(chunk)).toEqual(['while bob was here']);
    const e = await s.http.get(`${C}/rooms/${enc(room)}/event/${enc(after)}`).set(bearer(bob));
    expect(e.status).toBe(404);
    expect(e.body.errcode).toBe('M_NOT_FOUND');
    // an explicit from past the leave does not reach beyond it
    const fwd = await pageAll(bob, room, { dir: 'f', limit: 100 });
    expect(bodies(fwd.flatMap((p) => p.chunk))).toEqual(['while bob was here']);
  });

  it('a user who left and forgot the room gets 403 M_FORBIDDEN', async () => {
    const bob = await s.register();
    const room = await roomWith(alice, bob);
    await membership(bob, room, 'leave');
    await membership(bob, room, 'forget');
    const r = await messages(bob, room, { dir: 'b' });
    expect(r.status).toBe(403);
    expect(r.body.errcode).toBe('M_FORBIDDEN');
  });

  it('a user who only rejected an invite is not a former member (403 M_FORBIDDEN)', async () => {
    const bob = await s.register();
    const room = await createRoom(alice);
    await invite(alice, room, bob);
    await membership(bob, room, 'leave');
    const r = await s.http.get(`${C}/rooms/${enc(room)}/state`).set(bearer(bob));
    expect(r.status).toBe(403);
    expect(r.body.errcode).toBe('M_FORBIDDEN');
  });

  it('lets guests read a room they joined', async () => {
    const reg = await s.http.post(`${C}/register?kind=guest`).send({});
    expect(reg.status).toBe(200);
    const guest: TestUser = { userId: reg.body.user_id, accessToken: reg.body.access_token, deviceId: reg.body.device_id, password: '' };
    const room = await createRoom(alice); // private_chat: guest_access can_join
    await invite(alice, room, guest);
    await membership(guest, room, 'join');
    await send(alice, room, 'hello guest');
    const r = await messages(guest, room, { dir: 'b', limit: 1 });
    expect(r.status).toBe(200);
    expect(bodies(r.body.chunk)).toEqual(['hello guest']);
    const jm = await s.http.get(`${C}/rooms/${enc(room)}/joined_members`).set(bearer(guest));
    expect(jm.status).toBe(403);
    expect(jm.body.errcode).toBe('M_GUEST_ACCESS_FORBIDDEN');
  });
});

describe('GET /rooms/:roomId/event/:eventId', () => {
  it('returns a visible event in client format', async () => {
    const alice = await s.register();
    const room = await roomWith(alice);
    const id = await send(alice, room, 'one');
    const r = await s.http.get(`${C}/rooms/${enc(room)}/event/${enc(id)}`).set(bearer(alice));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ event_id: id, room_id: room, type: 'm.room.message', sender: alice.userId, content: { body: 'one' } });
    expect(r.body.unsigned.transaction_id).toMatch(/^txn/);
    expect(typeof r.body.unsigned.age).toBe('number');
    expect(r.body.hashes).toBeUndefined();
  });

  it('answers 404 M_NOT_FOUND for unknown events, events of another room, non-members and unknown rooms', async () => {
    const alice = await s.register();
    const stranger = await s.register();
    const room = await roomWith(alice);
    const other = await roomWith(alice);
    const id = await send(alice, room, 'one');
    const otherId = await send(alice, other, 'two');
    const cases = [
      { u: alice, room, id: '$unknown' },
      { u: alice, room, id: otherId },
      { u: stranger, room, id },
      { u: alice, room: '!nope:test.local', id },
    ];
    for (const c of cases) {
      const r = await s.http.get(`${C}/rooms/${enc(c.room)}/event/${enc(c.id)}`).set(bearer(c.u));
      expect(r.status).toBe(404);
      expect(r.body.errcode).toBe('M_NOT_FOUND');
    }
  });
});

describe('GET /rooms/:roomId/context/:eventId', () => {
  let alice: TestUser;
  let bob: TestUser;
  let room: string;
  let ids: string[];
  beforeAll(async () => {
    alice = await s.register();
    bob = await s.register();
    room = await roomWith(alice, bob);
    ids = await sendMany(alice, room, 'c', 10);
  });

  it('returns events before (newest first) and after, split from the limit, with tokens for /messages', async () => {
    const r = await s.http.get(`${C}/rooms/${enc(room)}/context/${enc(ids[5]!)}`).query({ limit: 4 }).set(bearer(bob));
    expect(r.status).toBe(200);
    expect(r.body.event.event_id).toBe(ids[5]);
    expect(bodies(r.body.events_before)).toEqual(['c4', 'c3']);
    expect(bodies(r.body.events_after)).toEqual(['c6', 'c7']);
    const back = await messages(bob, room, { dir: 'b', limit: 1, from: r.body.start });
    expect(bodies(back.body.chunk)).toEqual(['c2']);
    const fwd = await messages(bob, room, { dir: 'f', limit: 1, from: r.body.end });
    expect(bodies(fwd.body.chunk)).toEqual(['c8']);
    // state at the last event returned
    const types = (r.body.state as Ev[]).map((e) => `${e.type}|${e.state_key}`);
    expect(types).toEqual(expect.arrayContaining(['m.room.create|', 'm.room.power_levels|', `m.room.member|${alice.userId}`, `m.room.member|${bob.userId}`]));
  });

  it('returns the event itself even with limit 0, and the state at it', async () => {
    const r = await s.http.get(`${C}/rooms/${enc(room)}/context/${enc(ids[0]!)}`).query({ limit: 0 }).set(bearer(bob));
    expect(r.status).toBe(200);
    expect(r.body.event.content.body).toBe('c0');
    expect(r.body.events_before).toEqual([]);
    expect(r.body.events_after).toEqual([]);
  });

  it('applies the filter to the events around and to the state (lazy_load_members)', async () => {
    const carol = await s.register();
    const room2 = await roomWith(alice, carol, bob);
    const a = await sendMany(alice, room2, 'a', 3);
    await send(bob, room2, 'b0');
    const r = await s.http.get(`${C}/rooms/${enc(room2)}/context/${enc(a[1]!)}`)
      .query({ limit: 10, filter: JSON.stringify({ lazy_load_members: true, senders: [alice.userId, bob.userId] }) }).set(bearer(alice));
    expect(r.status).toBe(200);
    expect(bodies(r.body.events_after)).toEqual(['a2', 'b0']);
    expect(r.body.events_before.every((e: Ev) => e.sender === alice.userId || e.sender === bob.userId)).toBe(true);
    const members = (r.body.state as Ev[]).filter((e) => e.type === 'm.room.member').map((e) => e.state_key).sort();
    expect(members).toEqual([alice.userId, bob.userId].sort()); // carol neither spoke nor passes `senders`
    const typesFilter = await s.http.get(`${C}/rooms/${enc(room2)}/context/${enc(a[1]!)}`)
      .query({ filter: JSON.stringify({ types: ['m.room.message'] }) }).set(bearer(alice));
    expect(typesFilter.body.state).toEqual([]);
    expect(typesFilter.body.events_before.every((e: Ev) => e.type === 'm.room.message')).toBe(true);
  });

  it('answers 404 M_NOT_FOUND for an unknown or invisible event and 403 M_FORBIDDEN for non-members and unknown rooms', async () => {
    const unknown = await s.http.get(`${C}/rooms/${enc(room)}/context/${enc('$nope')}`).set(bearer(bob));
    expect(unknown.status).toBe(404);
    expect(unknown.body.errcode).toBe('M_NOT_FOUND');
    const stranger = await s.register();
    const denied = await s.http.get(`${C}/rooms/${enc(room)}/context/${enc(ids[0]!)}`).set(bearer(stranger));
    expect(denied.status).toBe(403);
    expect(denied.body.errcode).toBe('M_FORBIDDEN');
    const unknownRoom = await s.http.get(`${C}/rooms/${enc('!nope:test.local')}/context/${enc(ids[0]!)}`).set(bearer(bob));
    expect(unknownRoom.status).toBe(403);
    expect(unknownRoom.body.errcode).toBe('M_FORBIDDEN');
    const room2 = await roomWith(alice);
    await setState(alice, room2, 'm.room.history_visibility', '', { history_visibility: 'joined' });
    const hidden = await send(alice, room2, 'hidden');
    await membership(stranger, room2, 'join');
    const invisible = await s.http.get(`${C}/rooms/${enc(room2)}/context/${enc(hidden)}`).set(bearer(stranger));
    expect(invisible.status).toBe(404);
    expect(invisible.body.errcode).toBe('M_NOT_FOUND');
  });
});

describe('GET /rooms/:roomId/members', () => {
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let dave: TestUser;
  let room: string;
  let beforeCarol: string;
  beforeAll(async () => {
    [alice, bob, carol, dave] = [await s.register(), await s.register(), await s.register(), await s.register()];
    room = await roomWith(alice, bob, dave);
    await membership(dave, room, 'leave');
    beforeCarol = (await messages(alice, room, { dir: 'b', limit: 0 })).body.start;
    await invite(alice, room, carol);
  });
  const members = (u: TestUser, query: Record<string, string> = {}, r = room) => s.http.get(`${C}/rooms/${enc(r)}/members`).query(query).set(bearer(u));
  const summary = (chunk: Ev[]) => Object.fromEntries(chunk.map((e) => [e.state_key, e.content.membership]));

  it('lists every member event of the current state', async () => {
    const r = await members(bob);
    expect(r.status).toBe(200);
    expect(summary(r.body.chunk)).toEqual({ [alice.userId]: 'join', [bob.userId]: 'join', [carol.userId]: 'invite', [dave.userId]: 'leave' });
    expect(r.body.chunk.every((e: Ev) => e.type === 'm.room.member' && e.room_id === room)).toBe(true);
  });

  it('filters by membership and not_membership (together: either)', async () => {
    expect(summary((await members(bob, { membership: 'join' })).body.chunk)).toEqual({ [alice.userId]: 'join', [bob.userId]: 'join' });
    expect(summary((await members(bob, { not_membership: 'join' })).body.chunk)).toEqual({ [carol.userId]: 'invite', [dave.userId]: 'leave' });
    expect(summary((await members(bob, { membership: 'invite', not_membership: 'join' })).body.chunk)).toEqual({ [carol.userId]: 'invite', [dave.userId]: 'leave' });
    expect(summary((await members(bob, { membership: 'leave', not_membership: 'leave' })).body.chunk)).toEqual({
      [alice.userId]: 'join', [bob.userId]: 'join', [carol.userId]: 'invite', [dave.userId]: 'leave',
    });
  });

  it('with at, lists the members at that point', async () => {
    const r = await members(bob, { at: beforeCarol });
    expect(r.status).toBe(200);
    expect(summary(r.body.chunk)).toEqual({ [alice.userId]: 'join', [bob.userId]: 'join', [dave.userId]: 'leave' });
    expect(summary((await members(bob, { at: 't1' })).body.chunk)).toEqual({});
  });

  it('shows a user who left the members as they were when they left', async () => {
    const erin = await s.register();
    const room2 = await roomWith(alice, bob);
    await membership(bob, room2, 'leave');
    await membership(erin, room2, 'join');
    const r = await members(bob, {}, room2);
    expect(r.status).toBe(200);
    expect(summary(r.body.chunk)).toEqual({ [alice.userId]: 'join', [bob.userId]: 'leave' });
  });

  it('refuses bad parameters with 400 M_INVALID_PARAM', async () => {
    const cases: Record<string, string>[] = [{ membership: 'joined' }, { not_membership: 'x' }, { at: 'garbage' }];
    for (const q of cases) {
      const r = await members(bob, q);
      expect(r.status).toBe(400);
      expect(r.body.errcode).toBe('M_INVALID_PARAM');
    }
  });

  it('refuses non-members, invitees and unknown rooms with 403 M_FORBIDDEN', async () => {
    const stranger = await s.register();
    for (const [u, r] of [[stranger, room], [carol, room], [bob, '!nope:test.local']] as const) {
      const res = await members(u, {}, r);
      expect(res.status).toBe(403);
      expect(res.body.errcode).toBe('M_FORBIDDEN');
    }
  });
});

describe('GET /rooms/:roomId/joined_members', () => {
  it('maps joined users to their display name and avatar', async () => {
    const alice = await s.register();
    const bob = await s.register();
    const carol = await s.register();
    const p = await s.http.put(`${C}/profile/${enc(alice.userId)}/displayname`).set(bearer(alice)).send({ displayname: 'Alice' });
    expect(p.status).toBe(200);
    await s.http.put(`${C}/profile/${enc(alice.userId)}/avatar_url`).set(bearer(alice)).send({ avatar_url: 'mxc://test.local/alice' });
    const room = await roomWith(alice, bob);
    await invite(alice, room, carol);
    const r = await s.http.get(`${C}/rooms/${enc(room)}/joined_members`).set(bearer(bob));
    expect(r.status).toBe(200);
    expect(Object.keys(r.body.joined).sort()).toEqual([alice.userId, bob.userId].sort());
    expect(r.body.joined[alice.userId]).toEqual({ display_name: 'Alice', avatar_url: 'mxc://test.local/alice' });
  });

  it('refuses anyone not joined now with 403 M_FORBIDDEN', async () => {
    const alice = await s.register();
    const bob = await s.register();
    const room = await roomWith(alice, bob);
    await membership(bob, room, 'leave');
    const stranger = await s.register();
    for (const [u, r] of [[bob, room], [stranger, room], [alice, '!nope:test.local']] as const) {
      const res = await s.http.get(`${C}/rooms/${enc(r)}/joined_members`).set(bearer(u));
      expect(res.status).toBe(403);
      expect(res.body.errcode).toBe('M_FORBIDDEN');
    }
  });
});

describe('GET /joined_rooms', () => {
  it('lists the rooms the user is joined to, not those they are invited to or left', async () => {
    const alice = await s.register();
    const bob = await s.register();
    const joined = await roomWith(alice, bob);
    const left = await roomWith(alice, bob);
    await membership(bob, left, 'leave');
    const invited = await createRoom(alice);
    await invite(alice, invited, bob);
    const r = await s.http.get(`${C}/joined_rooms`).set(bearer(bob));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ joined_rooms: [joined] });
    const none = await s.http.get(`${C}/joined_rooms`).set(bearer(await s.register()));
    expect(none.body).toEqual({ joined_rooms: [] });
  });
});

describe('GET /rooms/:roomId/state', () => {
  let alice: TestUser;
  let bob: TestUser;
  let room: string;
  beforeAll(async () => {
    alice = await s.register();
    bob = await s.register();
    room = await createRoom(alice, { preset: 'public_chat', name: 'Old name', topic: 'Topic' });
    await membership(bob, room, 'join');
  });
  const stateOf = (u: TestUser, path = '', query: Record<string, string> = {}, r = room) =>
    s.http.get(`${C}/rooms/${enc(r)}/state${path}`).query(query).set(bearer(u));

  it('returns the whole current state as client events', async () => {
    const r = await stateOf(bob);
    expect(r.status).toBe(200);
    const keys = (r.body as Ev[]).map((e) => `${e.type}|${e.state_key}`);
    expect(keys).toEqual(expect.arrayContaining([
      'm.room.create|', 'm.room.power_levels|', 'm.room.join_rules|', 'm.room.history_visibility|', 'm.room.name|', 'm.room.topic|',
      `m.room.member|${alice.userId}`, `m.room.member|${bob.userId}`,
    ]));
    expect(new Set(keys).size).toBe(keys.length);
    for (const e of r.body as Ev[]) {
      expect(e.room_id).toBe(room);
      expect(typeof e.event_id).toBe('string');
    }
  });

  it('returns one state event\'s content, with or without the trailing slash for the empty key', async () => {
    for (const path of ['/m.room.name', '/m.room.name/']) {
      const r = await stateOf(bob, path);
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ name: 'Old name' });
    }
    const member = await stateOf(bob, `/m.room.member/${enc(alice.userId)}`);
    expect(member.status).toBe(200);
    expect(member.body.membership).toBe('join');
  });

  it('returns the whole event with format=event', async () => {
    const r = await stateOf(bob, '/m.room.name/', { format: 'event' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ type: 'm.room.name', state_key: '', sender: alice.userId, room_id: room, content: { name: 'Old name' } });
    expect(typeof r.body.event_id).toBe('string');
    const bad = await stateOf(bob, '/m.room.name', { format: 'xml' });
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('answers 404 M_NOT_FOUND for state that is not set', async () => {
    for (const path of ['/m.room.avatar', '/m.room.name/other', `/m.room.member/${enc('@ghost:test.local')}`]) {
      const r = await stateOf(bob, path);
      expect(r.status).toBe(404);
      expect(r.body.errcode).toBe('M_NOT_FOUND');
    }
  });

  it('shows a user who left the state as it was when they left', async () => {
    const carol = await s.register();
    const room2 = await createRoom(alice, { preset: 'public_chat', name: 'Before' });
    await membership(carol, room2, 'join');
    await membership(carol, room2, 'leave');
    await setState(alice, room2, 'm.room.name', '', { name: 'After' });
    await setState(alice, room2, 'm.room.avatar', '', { url: 'mxc://test.local/new' });
    const one = await stateOf(carol, '/m.room.name', {}, room2);
    expect(one.status).toBe(200);
    expect(one.body).toEqual({ name: 'Before' });
    const unset = await stateOf(carol, '/m.room.avatar', {}, room2);
    expect(unset.status).toBe(404);
    expect(unset.body.errcode).toBe('M_NOT_FOUND');
    const all = await stateOf(carol, '', {}, room2);
    expect(all.status).toBe(200);
    const name = (all.body as Ev[]).find((e) => e.type === 'm.room.name')!;
    expect(name.content.name).toBe('Before');
    expect((all.body as Ev[]).some((e) => e.type === 'm.room.avatar')).toBe(false);
    expect((all.body as Ev[]).find((e) => e.state_key === carol.userId)!.content.membership).toBe('leave');
    // while alice sees the current state
    expect((await stateOf(alice, '/m.room.name', {}, room2)).body).toEqual({ name: 'After' });
  });

  it('shows redacted state content and redacted_because', async () => {
    const room2 = await createRoom(alice, { preset: 'public_chat', topic: 'secret topic' });
    const topic = await stateOf(alice, '/m.room.topic', { format: 'event' }, room2);
    const red = await s.http.put(`${C}/rooms/${enc(room2)}/redact/${enc(topic.body.event_id)}/rt1`).set(bearer(alice)).send({});
    expect(red.status).toBe(200);
    const after = await stateOf(alice, '/m.room.topic', { format: 'event' }, room2);
    expect(after.body.content).toEqual({});
    expect(after.body.unsigned.redacted_because.event_id).toBe(red.body.event_id);
    expect((await stateOf(alice, '/m.room.topic', {}, room2)).body).toEqual({});
  });

  it('refuses non-members and unknown rooms with 403 M_FORBIDDEN', async () => {
    const stranger = await s.register();
    for (const [u, path, r] of [[stranger, '', room], [stranger, '/m.room.name', room], [bob, '', '!nope:test.local'], [bob, '/m.room.name', '!nope:test.local']] as const) {
      const res = await stateOf(u, path, {}, r);
      expect(res.status).toBe(403);
      expect(res.body.errcode).toBe('M_FORBIDDEN');
    }
  });
});

describe('paging cost', () => {
  it('reads one bounded index range per page, however long the room', async () => {
    const alice = await s.register();
    const bob = await s.register();
    const room = await roomWith(alice);
    await setState(alice, room, 'm.room.history_visibility', '', { history_visibility: 'joined' });
    await sendMany(alice, room, 'old', 150);
    await membership(bob, room, 'join');
    await sendMany(alice, room, 'new', 5);
    const store = s.services.storage.rooms;
    const original = store.getRoomEventsTopological.bind(store);
    const calls: { limit: number; rows: number }[] = [];
    store.getRoomEventsTopological = async (q) => {
      const rows = await original(q);
      calls.push({ limit: q.limit, rows: rows.length });
      return rows;
    };
    try {
      const a = await messages(alice, room, { dir: 'b', limit: 10 });
      expect(a.body.chunk).toHaveLength(10);
      // One lookup of the newest event (the page's start token), then one index range of limit + 1.
      expect(calls).toEqual([{ limit: 1, rows: 1 }, { limit: 11, rows: 11 }]);
      calls.length = 0;
      // bob (joined late, history `joined`) skips the 150 hidden events without reading them
      const pages = await pageAll(bob, room, { dir: 'b', limit: 10 });
      expect(pages.flatMap((p) => bodies(p.chunk))).toEqual(['new4', 'new3', 'new2', 'new1', 'new0']);
      expect(pages).toHaveLength(2);
      expect(calls.reduce((n, c) => n + c.rows, 0)).toBeLessThanOrEqual(2 * 11);
    } finally {
      store.getRoomEventsTopological = original;
    }
  });
});
