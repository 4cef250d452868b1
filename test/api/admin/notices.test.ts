// Server notices (spec/server-events.md "Server notices"; Synapse admin API: server_notices):
// POST /_synapse/admin/v1/send_server_notice, PUT .../send_server_notice/{txnId},
// POST/PUT /_hearth/admin/v1/server_notices/broadcast[/{txnId}], and the notices the server sends by
// itself (password change, new-device login). Delivered through /sync with the server name as sender.
import { makeTestServer, bearer, type TestServer, type TestUser } from '../../helpers/server.js';

const enc = encodeURIComponent;
const C = '/_matrix/client/v3';
const SEND = '/_synapse/admin/v1/send_server_notice';
const BROADCAST = '/_hearth/admin/v1/server_notices/broadcast';

interface Ev { type: string; sender: string; state_key?: string; content: Record<string, unknown>; event_id: string; room_id?: string }

async function makeAdmin(s: TestServer, localpart: string): Promise<TestUser> {
  const u = await s.register(localpart);
  await s.services.accounts.setAdmin(u.userId, true);
  return u;
}

const text = (body: string) => ({ msgtype: 'm.text', body });

async function sync(s: TestServer, u: TestUser, since?: string) {
  const res = await s.http.get(`${C}/sync`).query(since ? { since } : {}).set(bearer(u));
  expect(res.status).toBe(200);
  return res.body as { next_batch: string; rooms: { invite: Record<string, { invite_state: { events: Ev[] } }>; join: Record<string, { timeline: { events: Ev[] }; state: { events: Ev[] }; account_data: { events: { type: string; content: Record<string, unknown> }[] } }>; leave: Record<string, unknown> } };
}

/** Every m.room.message in the room that `u` can read, oldest first. */
async function messages(s: TestServer, u: TestUser, roomId: string): Promise<Ev[]> {
  const res = await s.http.get(`${C}/rooms/${enc(roomId)}/messages`).query({ dir: 'f', limit: 100 }).set(bearer(u));
  expect(res.status).toBe(200);
  return (res.body.chunk as Ev[]).filter((e) => e.type === 'm.room.message');
}

async function joinRoom(s: TestServer, u: TestUser, roomId: string) {
  const res = await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(u)).send({});
  expect(res.status).toBe(200);
}

describe('server notice endpoints: authentication and authorisation', () => {
  const s = makeTestServer();
  let plain: TestUser;
  let target: TestUser;
  afterAll(() => s.close());
  beforeAll(async () => {
    await makeAdmin(s, 'root');
    plain = await s.register('plain');
    target = await s.register('target');
  });

  const calls = () => [
    { method: 'post' as const, path: SEND, body: { user_id: target.userId, content: text('forged') } },
    { method: 'put' as const, path: `${SEND}/txn1`, body: { user_id: target.userId, content: text('forged') } },
    { method: 'post' as const, path: BROADCAST, body: { content: text('forged') } },
    { method: 'put' as const, path: `${BROADCAST}/txn1`, body: { content: text('forged') } },
  ];

  it('401 M_MISSING_TOKEN without a token, 403 M_FORBIDDEN for a non-admin; nothing is sent', async () => {
    const max = await s.services.storage.rooms.maxStreamOrdering();
    for (const c of calls()) {
      const anon = await s.http[c.method](c.path).send(c.body);
      expect([c.path, anon.status, anon.body.errcode]).toEqual([c.path, 401, 'M_MISSING_TOKEN']);
      const res = await s.http[c.method](c.path).set(bearer(plain)).send(c.body);
      expect([c.path, res.status, res.body.errcode]).toEqual([c.path, 403, 'M_FORBIDDEN']);
    }
    expect(await s.services.storage.rooms.maxStreamOrdering()).toBe(max);
    for (const u of [plain, target]) expect(await s.services.storage.admin.getNoticeRoom(u.userId)).toBeUndefined();
    const body = await sync(s, target);
    expect(body.rooms.invite).toEqual({});
    expect(body.rooms.join).toEqual({});
  });
});

describe('POST /_synapse/admin/v1/send_server_notice', () => {
  const s = makeTestServer();
  let root: TestUser;
  let alice: TestUser;
  let roomId: string;
  let firstNotice: string;
  let aliceSince: string;
  afterAll(() => s.close());
  beforeAll(async () => {
    root = await makeAdmin(s, 'root');
    alice = await s.register('alice');
    aliceSince = (await sync(s, alice)).next_batch;
  });

  it('answers {"event_id"}; the user gets, through /sync, an invite from the server-owned system user to the "Server Notices" room', async () => {
    const res = await s.http.post(SEND).set(bearer(root)).send({ user_id: alice.userId, content: text('Welcome to the server') });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['event_id']);
    expect(res.body.event_id).toMatch(/^\$/);
    firstNotice = res.body.event_id;

    const body = await sync(s, alice, aliceSince);
    const invites = Object.entries(body.rooms.invite);
    expect(invites).toHaveLength(1);
    const [rid, inv] = invites[0]!;
    roomId = rid;
    expect(roomId).toMatch(/^![A-Za-z0-9_-]{43}$/); // room version 12 (the default)
    expect(await s.services.storage.admin.getNoticeRoom(alice.userId)).toBe(roomId);
    const member = inv.invite_state.events.find((e) => e.type === 'm.room.member' && e.state_key === alice.userId)!;
    // Events in a room's graph are sent by users: the server-owned system user (server_notices.system_user_localpart).
    expect(member.sender).toBe('@system:test.local');
    expect(member.content.membership).toBe('invite');
    const name = inv.invite_state.events.find((e) => e.type === 'm.room.name');
    expect(name?.content.name).toBe('Server Notices');
    // Nothing of the room's content before joining.
    expect(body.rooms.join[roomId]).toBeUndefined();
    aliceSince = body.next_batch;
  });

  it('after joining, the user reads the notice with the server name as sender; the room is tagged m.server_notice', async () => {
    await joinRoom(s, alice, roomId);
    const body = await sync(s, alice, aliceSince);
    const joined = body.rooms.join[roomId]!;
    expect(joined).toBeDefined();
    const all = [...joined.state.events, ...joined.timeline.events];
    const notice = all.find((e) => e.event_id === firstNotice)!;
    expect(notice).toBeDefined();
    expect(notice).toMatchObject({ type: 'm.room.message', sender: 'test.local', content: text('Welcome to the server') });
    expect(notice.sender.startsWith('@')).toBe(false);
    const tag = joined.account_data.events.find((e) => e.type === 'm.tag');
    expect(tag?.content.tags).toHaveProperty(['m.server_notice']);
    const direct = await s.http.get(`${C}/user/${enc(alice.userId)}/rooms/${enc(roomId)}/tags`).set(bearer(alice));
    expect(direct.status).toBe(200);
    expect(direct.body.tags).toHaveProperty(['m.server_notice']);
    const msgs = await messages(s, alice, roomId);
    expect(msgs.map((e) => [e.event_id, e.sender])).toEqual([[firstNotice, 'test.local']]);
    aliceSince = body.next_batch;
  });

  it('the room\'s state is sent by the system user (the user\'s own membership by the user); the notices by the server name', async () => {
    const state = await s.http.get(`${C}/rooms/${enc(roomId)}/state`).set(bearer(alice));
    expect(state.status).toBe(200);
    for (const e of state.body as Ev[]) {
      const expected = e.type === 'm.room.member' && e.state_key === alice.userId ? alice.userId : '@system:test.local';
      expect([e.type, e.sender]).toEqual([e.type, expected]);
    }
    expect((state.body as Ev[]).map((e) => e.type)).toEqual(expect.arrayContaining(['m.room.create', 'm.room.power_levels', 'm.room.join_rules', 'm.room.name', 'm.room.member']));
  });

  it('the user cannot post (403 M_FORBIDDEN) nor change state nor invite anyone', async () => {
    const before = (await messages(s, alice, roomId)).length;
    const post = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/p1`).set(bearer(alice)).send(text('can I talk?'));
    expect(post.status).toBe(403);
    expect(post.body.errcode).toBe('M_FORBIDDEN');
    const other = await s.http.put(`${C}/rooms/${enc(roomId)}/send/org.example.custom/p2`).set(bearer(alice)).send({ x: 1 });
    expect(other.status).toBe(403);
    expect(other.body.errcode).toBe('M_FORBIDDEN');
    for (const [type, content] of [['m.room.name', { name: 'mine now' }], ['m.room.topic', { topic: 'hello' }], ['m.room.power_levels', { users: { [alice.userId]: 100 } }], ['m.room.join_rules', { join_rule: 'public' }]] as const) {
      const res = await s.http.put(`${C}/rooms/${enc(roomId)}/state/${type}/`).set(bearer(alice)).send(content);
      expect([type, res.status, res.body.errcode]).toEqual([type, 403, 'M_FORBIDDEN']);
    }
    const bob = await s.register('bob');
    const inv = await s.http.post(`${C}/rooms/${enc(roomId)}/invite`).set(bearer(alice)).send({ user_id: bob.userId });
    expect(inv.status).toBe(403);
    expect(inv.body.errcode).toBe('M_FORBIDDEN');
    expect((await messages(s, alice, roomId)).length).toBe(before);
    const name = await s.http.get(`${C}/rooms/${enc(roomId)}/state/m.room.name/`).set(bearer(alice));
    expect(name.body.name).toBe('Server Notices');
  });

  it('a later notice reuses the room and arrives in the timeline without a new invite', async () => {
    const res = await s.http.post(SEND).set(bearer(root)).send({ user_id: alice.userId, content: text('Second notice') });
    expect(res.status).toBe(200);
    const body = await sync(s, alice, aliceSince);
    expect(body.rooms.invite).toEqual({});
    const tl = body.rooms.join[roomId]!.timeline.events;
    expect(tl.map((e) => [e.event_id, e.sender, e.content.body])).toEqual([[res.body.event_id, 'test.local', 'Second notice']]);
    expect(await s.services.storage.admin.getNoticeRoom(alice.userId)).toBe(roomId);
    aliceSince = body.next_batch;
  });

  it('the user can leave; the next notice invites them again to the same room, and they can rejoin', async () => {
    const leave = await s.http.post(`${C}/rooms/${enc(roomId)}/leave`).set(bearer(alice)).send({});
    expect(leave.status).toBe(200);
    const afterLeave = await sync(s, alice, aliceSince);
    expect(afterLeave.rooms.leave).toHaveProperty([roomId]);
    // Without an invite the room cannot be joined again.
    const early = await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(alice)).send({});
    expect(early.status).toBe(403);
    expect(early.body.errcode).toBe('M_FORBIDDEN');

    const res = await s.http.post(SEND).set(bearer(root)).send({ user_id: alice.userId, content: text('Come back') });
    expect(res.status).toBe(200);
    const body = await sync(s, alice, afterLeave.next_batch);
    expect(Object.keys(body.rooms.invite)).toEqual([roomId]);
    const member = body.rooms.invite[roomId]!.invite_state.events.find((e) => e.type === 'm.room.member' && e.state_key === alice.userId)!;
    expect(member.sender).toBe('@system:test.local');
    await joinRoom(s, alice, roomId);
    const msgs = await messages(s, alice, roomId);
    expect(msgs.at(-1)).toMatchObject({ event_id: res.body.event_id, sender: 'test.local', content: text('Come back') });
    // An invited user gets no second invite: one more notice while joined adds no member event.
    const room = (await s.services.roomState.get(roomId))!;
    const memberBefore = [...room.state.values()].find((e) => e.type === 'm.room.member' && e.state_key === alice.userId)!.event_id;
    await s.http.post(SEND).set(bearer(root)).send({ user_id: alice.userId, content: text('Still here') });
    const memberAfter = [...(await s.services.roomState.get(roomId))!.state.values()].find((e) => e.type === 'm.room.member' && e.state_key === alice.userId)!.event_id;
    expect(memberAfter).toBe(memberBefore);
  });

  it('a notice with a custom type is sent as that type; state_key is refused', async () => {
    const res = await s.http.post(SEND).set(bearer(root)).send({ user_id: alice.userId, type: 'org.example.notice', content: { level: 'high' } });
    expect(res.status).toBe(200);
    const ev = await s.http.get(`${C}/rooms/${enc(roomId)}/event/${enc(res.body.event_id)}`).set(bearer(alice));
    expect(ev.body).toMatchObject({ type: 'org.example.notice', sender: 'test.local', content: { level: 'high' } });
    const st = await s.http.post(SEND).set(bearer(root)).send({ user_id: alice.userId, type: 'm.room.name', state_key: '', content: { name: 'x' } });
    expect(st.status).toBe(400);
    expect(st.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('refuses bad requests: missing user_id or content, unknown, remote or deactivated users', async () => {
    const cases: [object, number, string][] = [
      [{ content: text('x') }, 400, 'M_MISSING_PARAM'],
      [{ user_id: alice.userId }, 400, 'M_BAD_JSON'],
      [{ user_id: alice.userId, content: 'just a string' }, 400, 'M_BAD_JSON'],
      [{ user_id: '@nobody:test.local', content: text('x') }, 404, 'M_NOT_FOUND'],
      [{ user_id: '@someone:remote.example', content: text('x') }, 400, 'M_INVALID_PARAM'],
      [{ user_id: 'not-a-user-id', content: text('x') }, 400, 'M_INVALID_PARAM'],
    ];
    for (const [body, status, errcode] of cases) {
      const res = await s.http.post(SEND).set(bearer(root)).send(body);
      expect([body, res.status, res.body.errcode]).toEqual([body, status, errcode]);
    }
    const gone = await s.register('gone');
    await s.services.accounts.deactivateUser(gone.userId);
    const res = await s.http.post(SEND).set(bearer(root)).send({ user_id: gone.userId, content: text('x') });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
    expect(await s.services.storage.admin.getNoticeRoom(gone.userId)).toBeUndefined();
  });
});

describe('PUT /_synapse/admin/v1/send_server_notice/{txnId} (idempotent)', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('the same txnId gives the same event_id and stores no second event; another txnId sends again', async () => {
    const root = await makeAdmin(s, 'root');
    const other = await makeAdmin(s, 'other');
    const u = await s.register('carl');
    const first = await s.http.put(`${SEND}/abc`).set(bearer(root)).send({ user_id: u.userId, content: text('once only') });
    expect(first.status).toBe(200);
    const max = await s.services.storage.rooms.maxStreamOrdering();
    const retry = await s.http.put(`${SEND}/abc`).set(bearer(root)).send({ user_id: u.userId, content: text('once only') });
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual({ event_id: first.body.event_id });
    expect(await s.services.storage.rooms.maxStreamOrdering()).toBe(max);

    const roomId = (await s.services.storage.admin.getNoticeRoom(u.userId))!;
    await joinRoom(s, u, roomId);
    expect((await messages(s, u, roomId)).filter((e) => e.content.body === 'once only')).toHaveLength(1);

    const next = await s.http.put(`${SEND}/def`).set(bearer(root)).send({ user_id: u.userId, content: text('once only') });
    expect(next.status).toBe(200);
    expect(next.body.event_id).not.toBe(first.body.event_id);
    // Transaction IDs belong to the admin who used them.
    const theirs = await s.http.put(`${SEND}/abc`).set(bearer(other)).send({ user_id: u.userId, content: text('once only') });
    expect(theirs.status).toBe(200);
    expect(theirs.body.event_id).not.toBe(first.body.event_id);
    expect((await messages(s, u, roomId)).filter((e) => e.content.body === 'once only')).toHaveLength(3);
  });

  it('concurrent retries of one txnId still send once', async () => {
    const root = await makeAdmin(s, 'root2');
    const u = await s.register('dina');
    const results = await Promise.all(Array.from({ length: 10 }, () => 0).map(() => s.http.put(`${SEND}/race`).set(bearer(root)).send({ user_id: u.userId, content: text('raced') })));
    for (const r of results) expect(r.status).toBe(200);
    expect(new Set(results.map((r) => r.body.event_id)).size).toBe(1);
    const roomId = (await s.services.storage.admin.getNoticeRoom(u.userId))!;
    await joinRoom(s, u, roomId);
    expect((await messages(s, u, roomId)).filter((e) => e.content.body === 'raced')).toHaveLength(1);
  });

  it('a failed request is not remembered: the retry after fixing the cause sends', async () => {
    const root = await makeAdmin(s, 'root3');
    const bad = await s.http.put(`${SEND}/retry-after-fix`).set(bearer(root)).send({ user_id: '@late:test.local', content: text('hello late') });
    expect(bad.status).toBe(404);
    expect(bad.body.errcode).toBe('M_NOT_FOUND');
    await s.register('late');
    const ok = await s.http.put(`${SEND}/retry-after-fix`).set(bearer(root)).send({ user_id: '@late:test.local', content: text('hello late') });
    expect(ok.status).toBe(200);
    expect(ok.body.event_id).toMatch(/^\$/);
  });
});

describe('broadcast (/_hearth/admin/v1/server_notices/broadcast)', () => {
  const s = makeTestServer();
  let root: TestUser;
  let users: TestUser[];
  let dead: TestUser;
  let guestId: string;
  afterAll(() => s.close());
  beforeAll(async () => {
    root = await makeAdmin(s, 'root');
    users = [await s.register('ann'), await s.register('bill'), await s.register('cid')];
    dead = await s.register('dead');
    await s.services.accounts.deactivateUser(dead.userId);
    const g = await s.http.post(`${C}/register`).query({ kind: 'guest' }).send({});
    expect(g.status).toBe(200);
    guestId = g.body.user_id;
  });

  it('sends to every active local user and answers how many: deactivated users and guests are left out', async () => {
    const res = await s.http.post(BROADCAST).set(bearer(root)).send({ content: text('Maintenance at 22:00') });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ sent: 4 });
    for (const u of [root, ...users]) {
      const body = await sync(s, u);
      const entries = Object.entries(body.rooms.invite);
      expect([u.userId, entries.length]).toEqual([u.userId, 1]);
      const [roomId] = entries[0]!;
      expect(roomId).toBe(await s.services.storage.admin.getNoticeRoom(u.userId));
      await joinRoom(s, u, roomId);
      const msgs = await messages(s, u, roomId);
      expect(msgs.map((e) => [e.sender, e.content.body])).toEqual([['test.local', 'Maintenance at 22:00']]);
    }
    expect(await s.services.storage.admin.getNoticeRoom(dead.userId)).toBeUndefined();
    expect(await s.services.storage.admin.getNoticeRoom(guestId)).toBeUndefined();
  });

  it('the PUT form with a txnId is idempotent: same answer, no second notice', async () => {
    const first = await s.http.put(`${BROADCAST}/b1`).set(bearer(root)).send({ content: text('Once to all') });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ sent: 4 });
    const max = await s.services.storage.rooms.maxStreamOrdering();
    const retry = await s.http.put(`${BROADCAST}/b1`).set(bearer(root)).send({ content: text('Once to all') });
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual({ sent: 4 });
    expect(await s.services.storage.rooms.maxStreamOrdering()).toBe(max);
    for (const u of users) {
      const roomId = (await s.services.storage.admin.getNoticeRoom(u.userId))!;
      expect((await messages(s, u, roomId)).filter((e) => e.content.body === 'Once to all')).toHaveLength(1);
    }
  });

  it('counts new users and drops newly deactivated ones', async () => {
    await s.register('eve');
    await s.services.accounts.deactivateUser(users[2]!.userId);
    const res = await s.http.post(BROADCAST).set(bearer(root)).send({ content: text('Recount') });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ sent: 4 });
  });

  it('one user who cannot be reached does not stop the others; the count leaves them out', async () => {
    const notices = s.services.notices;
    const original = notices.send.bind(notices);
    const unreachable = users[0]!.userId;
    notices.send = async (userId, content, type) => {
      if (userId === unreachable) throw new Error('simulated delivery failure');
      return original(userId, content, type);
    };
    try {
      const res = await s.http.post(BROADCAST).set(bearer(root)).send({ content: text('Partial') });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ sent: 3 });
    } finally {
      notices.send = original;
    }
    const roomId = (await s.services.storage.admin.getNoticeRoom(users[1]!.userId))!;
    expect((await messages(s, users[1]!, roomId)).filter((e) => e.content.body === 'Partial')).toHaveLength(1);
  });

  it('refuses a bad type (400 M_BAD_JSON) before sending anything', async () => {
    const max = await s.services.storage.rooms.maxStreamOrdering();
    const res = await s.http.post(BROADCAST).set(bearer(root)).send({ content: text('x'), type: '' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
    expect(await s.services.storage.rooms.maxStreamOrdering()).toBe(max);
  });

  it('refuses a body without content (400 M_BAD_JSON) and sends nothing', async () => {
    const max = await s.services.storage.rooms.maxStreamOrdering();
    const res = await s.http.post(BROADCAST).set(bearer(root)).send({ body: 'no content' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
    expect(await s.services.storage.rooms.maxStreamOrdering()).toBe(max);
  });
});

describe('automatic notices from the server', () => {
  const s = makeTestServer();
  afterAll(() => s.close());
  const passwordAuth = (user: string, password: string) => ({ type: 'm.login.password', identifier: { type: 'm.id.user', user }, password });

  async function noticesOf(u: TestUser): Promise<Ev[]> {
    const roomId = await s.services.storage.admin.getNoticeRoom(u.userId);
    if (!roomId) return [];
    await joinRoom(s, u, roomId);
    return messages(s, u, roomId);
  }

  it('registration sends no notice', async () => {
    const u = await s.register('fresh');
    await s.services.notices.settled();
    expect(await s.services.storage.admin.getNoticeRoom(u.userId)).toBeUndefined();
    const body = await sync(s, u);
    expect(body.rooms.invite).toEqual({});
  });

  it('a login on a new device sends a notice naming the device; logging in again on that device does not', async () => {
    const u = await s.register('gail');
    const l = await s.http.post(`${C}/login`).send({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'gail' }, password: u.password, device_id: 'GAILPHONE' });
    expect(l.status).toBe(200);
    await s.services.notices.settled();
    const body = await sync(s, u);
    const [roomId, inv] = Object.entries(body.rooms.invite)[0]!;
    expect(inv.invite_state.events.find((e) => e.type === 'm.room.member' && e.state_key === u.userId)!.sender).toBe('@system:test.local');
    const first = await noticesOf(u);
    expect(first).toHaveLength(1);
    expect(first[0]!.sender).toBe('test.local');
    expect(first[0]!.content.body).toContain('GAILPHONE');
    expect(first[0]!.room_id ?? roomId).toBe(roomId);

    const again = await s.http.post(`${C}/login`).send({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'gail' }, password: u.password, device_id: 'GAILPHONE' });
    expect(again.status).toBe(200);
    await s.services.notices.settled();
    expect(await noticesOf(u)).toHaveLength(1);
  });

  it('a password change through /account/password sends a notice', async () => {
    const u = await s.register('hugo');
    const res = await s.http.post(`${C}/account/password`).set(bearer(u)).send({ new_password: 'hugo brand new pw', logout_devices: false, auth: passwordAuth('hugo', u.password) });
    expect(res.status).toBe(200);
    await s.services.notices.settled();
    const n = await noticesOf(u);
    expect(n).toHaveLength(1);
    expect(n[0]!.sender).toBe('test.local');
    expect(String(n[0]!.content.body).toLowerCase()).toContain('password');
  });

  it('a password changed by an admin (PUT /_synapse/admin/v2/users) sends a notice too', async () => {
    const root = await makeAdmin(s, 'root');
    const u = await s.register('iris');
    const res = await s.http.put(`/_synapse/admin/v2/users/${enc(u.userId)}`).set(bearer(root)).send({ password: 'iris brand new pw', logout_devices: false });
    expect(res.status).toBe(200);
    await s.services.notices.settled();
    const n = await noticesOf(u);
    expect(n).toHaveLength(1);
    expect(n[0]!.sender).toBe('test.local');
    expect(String(n[0]!.content.body).toLowerCase()).toContain('password');
    // Other changes (display name) send none.
    await s.http.put(`/_synapse/admin/v2/users/${enc(u.userId)}`).set(bearer(root)).send({ displayname: 'Iris' });
    await s.services.notices.settled();
    expect(await noticesOf(u)).toHaveLength(1);
  });
});

describe('server_notices configuration', () => {
  it('enabled: false: the admin call is refused, and no automatic notice is sent', async () => {
    const s = makeTestServer({ server_notices: { enabled: false } });
    try {
      const root = await makeAdmin(s, 'root');
      const u = await s.register('jack');
      const res = await s.http.post(SEND).set(bearer(root)).send({ user_id: u.userId, content: text('hello') });
      expect(res.status).toBe(403);
      expect(res.body.errcode).toBe('M_FORBIDDEN');
      const b = await s.http.post(BROADCAST).set(bearer(root)).send({ content: text('hello') });
      expect(b.status).toBe(403);
      expect(b.body.errcode).toBe('M_FORBIDDEN');
      const l = await s.http.post(`${C}/login`).send({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'jack' }, password: u.password });
      expect(l.status).toBe(200);
      const pw = await s.http.post(`${C}/account/password`).set(bearer(u)).send({ new_password: 'jack brand new pw', logout_devices: false, auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'jack' }, password: u.password } });
      expect(pw.status).toBe(200);
      await s.services.notices.settled();
      expect(await s.services.storage.admin.getNoticeRoom(u.userId)).toBeUndefined();
      expect((await sync(s, u)).rooms.invite).toEqual({});
    } finally {
      await s.close();
    }
  });

  it('on_new_login: false and on_password_change: false turn each automatic notice off; room_name names the room', async () => {
    const s = makeTestServer({ server_notices: { on_new_login: false, on_password_change: false, room_name: 'From the Operators' } });
    try {
      const root = await makeAdmin(s, 'root');
      const u = await s.register('kim');
      await s.http.post(`${C}/login`).send({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'kim' }, password: u.password });
      await s.http.post(`${C}/account/password`).set(bearer(u)).send({ new_password: 'kim brand new pw', logout_devices: false, auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'kim' }, password: u.password } });
      await s.services.notices.settled();
      expect(await s.services.storage.admin.getNoticeRoom(u.userId)).toBeUndefined();
      // Admin notices still work, in a room with the configured name.
      const res = await s.http.post(SEND).set(bearer(root)).send({ user_id: u.userId, content: text('hello') });
      expect(res.status).toBe(200);
      const body = await sync(s, u);
      const inv = Object.values(body.rooms.invite)[0]!;
      expect(inv.invite_state.events.find((e) => e.type === 'm.room.name')?.content.name).toBe('From the Operators');
    } finally {
      await s.close();
    }
  });

  it('on_password_change: true with on_new_login: false still tells about password changes', async () => {
    const s = makeTestServer({ server_notices: { on_new_login: false } });
    try {
      const u = await s.register('lou');
      await s.http.post(`${C}/login`).send({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'lou' }, password: u.password });
      await s.services.notices.settled();
      expect(await s.services.storage.admin.getNoticeRoom(u.userId)).toBeUndefined();
      await s.http.post(`${C}/account/password`).set(bearer(u)).send({ new_password: 'lou brand new pw', logout_devices: false, auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'lou' }, password: u.password } });
      await s.services.notices.settled();
      expect(await s.services.storage.admin.getNoticeRoom(u.userId)).toBeDefined();
    } finally {
      await s.close();
    }
  });
});
