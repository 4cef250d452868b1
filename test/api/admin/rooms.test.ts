// Admin API, rooms (spec/admin.md; Synapse admin API: rooms): GET /_synapse/admin/v1/rooms,
// GET /_synapse/admin/v1/rooms/{roomId}, GET /_synapse/admin/v1/rooms/{roomId}/members,
// DELETE /_synapse/admin/v2/rooms/{roomId} (shutdown), GET .../delete_status.
import { makeTestServer, bearer, type TestServer, type TestUser } from '../../helpers/server.js';

const enc = encodeURIComponent;
const C = '/_matrix/client/v3';

async function makeAdmin(s: TestServer, localpart: string): Promise<TestUser> {
  const u = await s.register(localpart);
  await s.services.accounts.setAdmin(u.userId, true);
  return u;
}

async function createRoom(s: TestServer, u: TestUser, body: object = {}): Promise<string> {
  const r = await s.http.post(`${C}/createRoom`).set(bearer(u)).send(body);
  if (r.status !== 200) throw new Error(`createRoom: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.room_id as string;
}

async function join(s: TestServer, u: TestUser, roomId: string) {
  return s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(u)).send({});
}

/** The fields of Synapse's "List Room API" entries. */
const LIST_KEYS = ['room_id', 'name', 'canonical_alias', 'joined_members', 'joined_local_members', 'version', 'creator', 'encryption', 'federatable', 'public', 'join_rules', 'guest_access', 'history_visibility', 'state_events', 'room_type'];

describe('admin rooms API: authentication and authorisation', () => {
  const s = makeTestServer();
  let plain: TestUser;
  let roomId: string;
  let deleteId: string;
  afterAll(() => s.close());

  beforeAll(async () => {
    const root = await makeAdmin(s, 'root');
    plain = await s.register('plain');
    roomId = await createRoom(s, plain, { preset: 'public_chat', name: 'Mine', room_alias_name: 'mine' });
    // A real shutdown elsewhere, so the delete_status paths name something that exists.
    const other = await createRoom(s, root, { name: 'Other' });
    const d = await s.http.delete(`/_synapse/admin/v2/rooms/${enc(other)}`).set(bearer(root)).send({});
    deleteId = d.body.delete_id;
    expect(deleteId).toBeTruthy();
  });

  const endpoints = () => [
    { method: 'get' as const, path: '/_synapse/admin/v1/rooms' },
    { method: 'get' as const, path: `/_synapse/admin/v1/rooms/${enc(roomId)}` },
    { method: 'get' as const, path: `/_synapse/admin/v1/rooms/${enc(roomId)}/members` },
    { method: 'delete' as const, path: `/_synapse/admin/v2/rooms/${enc(roomId)}`, body: { message: 'forged shutdown' } },
    { method: 'get' as const, path: `/_synapse/admin/v2/rooms/delete_status/${enc(deleteId)}` },
    { method: 'get' as const, path: `/_synapse/admin/v2/rooms/${enc(roomId)}/delete_status` },
  ];

  it('every endpoint: 401 M_MISSING_TOKEN without a token, 403 M_FORBIDDEN for a non-admin', async () => {
    for (const e of endpoints()) {
      const anon = e.body ? await s.http[e.method](e.path).send(e.body) : await s.http[e.method](e.path);
      expect([e.method, e.path, anon.status, anon.body.errcode]).toEqual([e.method, e.path, 401, 'M_MISSING_TOKEN']);
      const req = s.http[e.method](e.path).set(bearer(plain));
      const res = e.body ? await req.send(e.body) : await req;
      expect([e.method, e.path, res.status, res.body.errcode]).toEqual([e.method, e.path, 403, 'M_FORBIDDEN']);
    }
  });

  it('a non-admin shutdown changed nothing: the room is usable, its alias and members kept, no server event stored', async () => {
    const max = await s.services.storage.rooms.maxStreamOrdering();
    const res = await s.http.delete(`/_synapse/admin/v2/rooms/${enc(roomId)}`).set(bearer(plain)).send({});
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect(await s.services.storage.rooms.maxStreamOrdering()).toBe(max);
    expect(await s.services.storage.admin.isRoomBlocked(roomId)).toBe(false);
    const alias = await s.http.get(`${C}/directory/room/${enc('#mine:test.local')}`);
    expect(alias.status).toBe(200);
    expect(alias.body.room_id).toBe(roomId);
    const send = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/t1`).set(bearer(plain)).send({ msgtype: 'm.text', body: 'still here' });
    expect(send.status).toBe(200);
    const other = await s.register('other');
    expect((await join(s, other, roomId)).status).toBe(200);
  });
});

describe('GET /_synapse/admin/v1/rooms', () => {
  const s = makeTestServer();
  let root: TestUser;
  let alpha: string;
  let bravo: string;
  let charlie: string;
  afterAll(() => s.close());

  beforeAll(async () => {
    root = await makeAdmin(s, 'root');
    const a = await s.register('anna');
    const b = await s.register('ben');
    const c = await s.register('cleo');
    // Created in an order that is neither alphabetical nor by size.
    charlie = await createRoom(s, c, { preset: 'private_chat', name: 'Charlie' });
    alpha = await createRoom(s, a, { preset: 'public_chat', name: 'Alpha', room_alias_name: 'alpha', topic: 'first letter' });
    bravo = await createRoom(s, b, { preset: 'public_chat', name: 'Bravo' });
    for (const u of [a, c]) expect((await join(s, u, bravo)).status).toBe(200);
    // Charlie: cleo and ben (invited, then joined).
    await s.http.post(`${C}/rooms/${enc(charlie)}/invite`).set(bearer(c)).send({ user_id: b.userId });
    expect((await join(s, b, charlie)).status).toBe(200);
  });

  const list = (q: Record<string, string | number> = {}) => s.http.get('/_synapse/admin/v1/rooms').query(q).set(bearer(root));
  const ids = (body: { rooms: { room_id: string }[] }) => body.rooms.map((r) => r.room_id);

  it('lists every room with Synapse\'s fields, ordered by name by default', async () => {
    const res = await list();
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual([alpha, bravo, charlie]);
    expect(res.body).toMatchObject({ offset: 0, total_rooms: 3 });
    expect(res.body.next_batch).toBeUndefined();
    expect(res.body.prev_batch).toBeUndefined();
    const a = res.body.rooms[0];
    for (const k of LIST_KEYS) expect(a).toHaveProperty(k);
    expect(a).toMatchObject({
      room_id: alpha, name: 'Alpha', canonical_alias: '#alpha:test.local', joined_members: 1, joined_local_members: 1,
      version: s.config.default_room_version, creator: '@anna:test.local', encryption: null, federatable: true,
      public: false, join_rules: 'public', guest_access: 'forbidden', history_visibility: 'shared', room_type: null,
    });
    expect(typeof a.state_events).toBe('number');
    expect(a.state_events).toBeGreaterThanOrEqual(6);
    const c = res.body.rooms[2];
    expect(c).toMatchObject({ name: 'Charlie', joined_members: 2, join_rules: 'invite', canonical_alias: null });
  });

  it('order_by=name with dir=b reverses', async () => {
    const res = await list({ order_by: 'name', dir: 'b' });
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual([charlie, bravo, alpha]);
  });

  it('order_by=joined_members: largest first; dir=b smallest first', async () => {
    const f = await list({ order_by: 'joined_members' });
    expect(f.status).toBe(200);
    expect(f.body.rooms.map((r: { joined_members: number }) => r.joined_members)).toEqual([3, 2, 1]);
    expect(ids(f.body)).toEqual([bravo, charlie, alpha]);
    const b = await list({ order_by: 'joined_members', dir: 'b' });
    expect(ids(b.body)).toEqual([alpha, charlie, bravo]);
  });

  it('search_term matches the name, the canonical alias or the room ID (case-insensitive)', async () => {
    const byName = await list({ search_term: 'RAV' });
    expect(ids(byName.body)).toEqual([bravo]);
    expect(byName.body.total_rooms).toBe(1);
    const byAlias = await list({ search_term: '#alpha:' });
    expect(ids(byAlias.body)).toEqual([alpha]);
    const byId = await list({ search_term: charlie });
    expect(ids(byId.body)).toEqual([charlie]);
    const none = await list({ search_term: 'zzz-nothing' });
    expect(none.body).toMatchObject({ rooms: [], total_rooms: 0, offset: 0 });
  });

  it('pages with from/limit: offset, total_rooms, next_batch and prev_batch', async () => {
    const p1 = await list({ limit: 1 });
    expect(ids(p1.body)).toEqual([alpha]);
    expect(p1.body).toMatchObject({ offset: 0, total_rooms: 3, next_batch: 1 });
    expect(p1.body.prev_batch).toBeUndefined();
    const p2 = await list({ limit: 1, from: p1.body.next_batch });
    expect(ids(p2.body)).toEqual([bravo]);
    expect(p2.body).toMatchObject({ offset: 1, total_rooms: 3, next_batch: 2, prev_batch: 0 });
    const p3 = await list({ limit: 1, from: p2.body.next_batch });
    expect(ids(p3.body)).toEqual([charlie]);
    expect(p3.body).toMatchObject({ offset: 2, total_rooms: 3, prev_batch: 1 });
    expect(p3.body.next_batch).toBeUndefined();
    // Paging combines with ordering and search.
    const j = await list({ order_by: 'joined_members', limit: 2, from: 1 });
    expect(ids(j.body)).toEqual([charlie, alpha]);
    const sp = await list({ search_term: 'a', limit: 1, order_by: 'name', dir: 'b' });
    expect(sp.body.total_rooms).toBe(3);
    expect(ids(sp.body)).toEqual([charlie]);
  });

  it('refuses an unknown order_by, a bad dir and bad paging with 400 M_INVALID_PARAM', async () => {
    const bad: Record<string, string | number>[] = [{ order_by: 'colour' }, { dir: 'sideways' }, { from: -1 }, { limit: 0 }, { limit: 'ten' }];
    for (const q of bad) {
      const res = await list(q);
      expect([q, res.status, res.body.errcode]).toEqual([q, 400, 'M_INVALID_PARAM']);
    }
  });

  it('GET /rooms/{roomId}: the room details, 404 M_NOT_FOUND for an unknown room', async () => {
    const res = await s.http.get(`/_synapse/admin/v1/rooms/${enc(alpha)}`).set(bearer(root));
    expect(res.status).toBe(200);
    for (const k of [...LIST_KEYS, 'topic', 'avatar']) expect(res.body).toHaveProperty(k);
    expect(res.body).toMatchObject({ room_id: alpha, name: 'Alpha', topic: 'first letter', avatar: null, canonical_alias: '#alpha:test.local', joined_members: 1, creator: '@anna:test.local' });
    const missing = await s.http.get(`/_synapse/admin/v1/rooms/${enc('!nothing:test.local')}`).set(bearer(root));
    expect(missing.status).toBe(404);
    expect(missing.body.errcode).toBe('M_NOT_FOUND');
  });

  it('GET /rooms/{roomId}/members: the joined members and total, 404 M_NOT_FOUND for an unknown room', async () => {
    const res = await s.http.get(`/_synapse/admin/v1/rooms/${enc(bravo)}/members`).set(bearer(root));
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(3);
    expect([...res.body.members].sort()).toEqual(['@anna:test.local', '@ben:test.local', '@cleo:test.local']);
    expect(Object.keys(res.body).sort()).toEqual(['members', 'total']);
    const missing = await s.http.get(`/_synapse/admin/v1/rooms/${enc('!nothing:test.local')}/members`).set(bearer(root));
    expect(missing.status).toBe(404);
    expect(missing.body.errcode).toBe('M_NOT_FOUND');
  });
});

describe('DELETE /_synapse/admin/v2/rooms/{roomId} (shutdown)', () => {
  const s = makeTestServer();
  let root: TestUser;
  let owner: TestUser;
  let member: TestUser;
  let invitee: TestUser;
  let outsider: TestUser;
  let roomId: string;
  let deleteId: string;
  let memberSince: string;
  const MESSAGE = 'This room broke the rules and is closed.';
  afterAll(() => s.close());

  beforeAll(async () => {
    root = await makeAdmin(s, 'root');
    owner = await s.register('owner');
    member = await s.register('member');
    invitee = await s.register('invitee');
    outsider = await s.register('outsider');
    roomId = await createRoom(s, owner, { preset: 'public_chat', name: 'Doomed', room_alias_name: 'doomed', visibility: 'public' });
    expect((await join(s, member, roomId)).status).toBe(200);
    await s.http.post(`${C}/rooms/${enc(roomId)}/invite`).set(bearer(owner)).send({ user_id: invitee.userId });
    const extra = await s.http.put(`${C}/directory/room/${enc('#doomed-too:test.local')}`).set(bearer(owner)).send({ room_id: roomId });
    expect(extra.status).toBe(200);
    const pub = await s.http.get(`${C}/publicRooms`);
    expect(pub.body.chunk.map((r: { room_id: string }) => r.room_id)).toContain(roomId);
    memberSince = (await s.http.get(`${C}/sync`).set(bearer(member))).body.next_batch;
  });

  it('answers {"delete_id"}', async () => {
    const res = await s.http.delete(`/_synapse/admin/v2/rooms/${enc(roomId)}`).set(bearer(root)).send({ message: MESSAGE });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['delete_id']);
    expect(typeof res.body.delete_id).toBe('string');
    deleteId = res.body.delete_id;
  });

  it('makes every local member (joined and invited) leave with the message as reason: their own leave events, never the server name\'s', async () => {
    const room = (await s.services.roomState.get(roomId))!;
    for (const u of [owner, member, invitee]) {
      const ev = [...room.state.values()].find((e) => e.type === 'm.room.member' && e.state_key === u.userId)!;
      // Events in a room's graph are sent by users (design-notes.md): each member leaves.
      expect([u.userId, ev.content.membership, ev.sender, ev.content.reason]).toEqual([u.userId, 'leave', u.userId, MESSAGE]);
    }
    const members = await s.http.get(`/_synapse/admin/v1/rooms/${enc(roomId)}/members`).set(bearer(root));
    expect(members.body).toEqual({ members: [], total: 0 });
    const joined = await s.http.get(`${C}/joined_rooms`).set(bearer(member));
    expect(joined.body.joined_rooms).not.toContain(roomId);
  });

  it('a member sees, through /sync, the server\'s explanation in the timeline and then their leave', async () => {
    const res = await s.http.get(`${C}/sync`).query({ since: memberSince }).set(bearer(member));
    expect(res.status).toBe(200);
    const left = res.body.rooms.leave[roomId];
    expect(left).toBeDefined();
    const events = left.timeline.events as { type: string; sender: string; state_key?: string; content: Record<string, unknown>; event_id: string }[];
    const explanation = events.find((e) => e.type === 'm.room.message');
    expect(explanation).toBeDefined();
    expect(explanation!.sender).toBe('test.local');
    expect(explanation!.content).toMatchObject({ msgtype: 'm.notice', body: MESSAGE });
    const kick = events.find((e) => e.type === 'm.room.member' && e.state_key === member.userId)!;
    expect(kick).toMatchObject({ sender: member.userId, content: { membership: 'leave', reason: MESSAGE } });
    expect(events.indexOf(explanation!)).toBeLessThan(events.indexOf(kick));
    // The explanation is a server-generated event outside the room's graph.
    const pdu = (await s.services.storage.rooms.getEvent(explanation!.event_id))!;
    expect(pdu.serverLocal).toBe(true);
    expect(pdu.event.prev_events).toEqual([]);
    expect(pdu.event.auth_events).toEqual([]);
    // The member can still read it after being removed.
    const ev = await s.http.get(`${C}/rooms/${enc(roomId)}/event/${enc(explanation!.event_id)}`).set(bearer(member));
    expect(ev.status).toBe(200);
    expect(ev.body.sender).toBe('test.local');
  });

  it('refuses to let anyone join again: 403 M_FORBIDDEN, also by alias or for an invitee', async () => {
    for (const u of [member, owner, invitee, outsider]) {
      const res = await join(s, u, roomId);
      expect([u.userId, res.status, res.body.errcode]).toEqual([u.userId, 403, 'M_FORBIDDEN']);
    }
    const viaPath = await s.http.post(`${C}/join/${enc(roomId)}`).set(bearer(member)).send({});
    expect(viaPath.status).toBe(403);
    expect(viaPath.body.errcode).toBe('M_FORBIDDEN');
    const state = await s.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.member/${enc(member.userId)}`).set(bearer(member)).send({ membership: 'join' });
    expect(state.status).toBe(403);
    expect(state.body.errcode).toBe('M_FORBIDDEN');
    expect((await s.http.get(`/_synapse/admin/v1/rooms/${enc(roomId)}/members`).set(bearer(root))).body.total).toBe(0);
  });

  it('removes its aliases and its directory entry', async () => {
    for (const alias of ['#doomed:test.local', '#doomed-too:test.local']) {
      const res = await s.http.get(`${C}/directory/room/${enc(alias)}`);
      expect([alias, res.status, res.body.errcode]).toEqual([alias, 404, 'M_NOT_FOUND']);
    }
    const pub = await s.http.get(`${C}/publicRooms`);
    expect(pub.body.chunk.map((r: { room_id: string }) => r.room_id)).not.toContain(roomId);
    const details = await s.http.get(`/_synapse/admin/v1/rooms/${enc(roomId)}`).set(bearer(root));
    expect(details.status).toBe(200);
    expect(details.body).toMatchObject({ public: false, joined_members: 0, joined_local_members: 0 });
  });

  it('delete_status by delete_id and by room: complete, with the kicked users and removed aliases', async () => {
    const byId = await s.http.get(`/_synapse/admin/v2/rooms/delete_status/${enc(deleteId)}`).set(bearer(root));
    expect(byId.status).toBe(200);
    expect(byId.body.status).toBe('complete');
    const result = byId.body.shutdown_room;
    expect([...result.kicked_users].sort()).toEqual([invitee.userId, member.userId, owner.userId].sort());
    expect(result.failed_to_kick_users).toEqual([]);
    expect([...result.local_aliases].sort()).toEqual(['#doomed-too:test.local', '#doomed:test.local']);
    expect(result.new_room_id).toBeNull();
    const byRoom = await s.http.get(`/_synapse/admin/v2/rooms/${enc(roomId)}/delete_status`).set(bearer(root));
    expect(byRoom.status).toBe(200);
    expect(byRoom.body.results).toHaveLength(1);
    expect(byRoom.body.results[0]).toMatchObject({ delete_id: deleteId, status: 'complete', shutdown_room: result });
  });

  it('delete_status: 404 M_NOT_FOUND for an unknown delete_id or a room never shut down', async () => {
    const a = await s.http.get('/_synapse/admin/v2/rooms/delete_status/nope').set(bearer(root));
    expect(a.status).toBe(404);
    expect(a.body.errcode).toBe('M_NOT_FOUND');
    const other = await createRoom(s, owner, {});
    const b = await s.http.get(`/_synapse/admin/v2/rooms/${enc(other)}/delete_status`).set(bearer(root));
    expect(b.status).toBe(404);
    expect(b.body.errcode).toBe('M_NOT_FOUND');
  });

  it('DELETE without a body uses a default explanation; an unknown room is 404 M_NOT_FOUND', async () => {
    const other = await createRoom(s, owner, { name: 'Second' });
    const res = await s.http.delete(`/_synapse/admin/v2/rooms/${enc(other)}`).set(bearer(root));
    expect(res.status).toBe(200);
    const msgs = await s.http.get(`${C}/rooms/${enc(other)}/messages`).query({ dir: 'b' }).set(bearer(owner));
    expect(msgs.status).toBe(200);
    const explanation = msgs.body.chunk.find((e: { type: string }) => e.type === 'm.room.message');
    expect(explanation.sender).toBe('test.local');
    expect(typeof explanation.content.body).toBe('string');
    expect(explanation.content.body.length).toBeGreaterThan(0);
    const missing = await s.http.delete(`/_synapse/admin/v2/rooms/${enc('!nothing:test.local')}`).set(bearer(root)).send({});
    expect(missing.status).toBe(404);
    expect(missing.body.errcode).toBe('M_NOT_FOUND');
    const badMessage = await s.http.delete(`/_synapse/admin/v2/rooms/${enc(other)}`).set(bearer(root)).send({ message: 42 });
    expect(badMessage.status).toBe(400);
    expect(badMessage.body.errcode).toBe('M_BAD_JSON');
  });
});
