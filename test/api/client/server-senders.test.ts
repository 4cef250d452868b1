// Server-generated events for clients that need a user ID as sender (spec/server-events.md "Clients
// that need a user ID as sender"): with server_events.compat_sender_localpart set, a client that has
// not said it understands server-name senders sees them from @<localpart>:<server_name>, the server
// name kept in unsigned["hearth.server_sender"]; a client that said so (session start
// `domain_senders: true`, or the filter key `hearth.domain_senders: true`) sees the server name. The
// format matrix-nio checks (its Event schema: sender must start with '@' and contain ':') is asserted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, createHearth } from '../../../src/index.js';
import { buildConfig } from '../../../src/config.js';
import { makeTestServer, bearer, expectError, type TestServer, type TestUser } from '../../helpers/server.js';

const enc = encodeURIComponent;
const C = '/_matrix/client/v3';
const SERVER = 'test.local';
const COMPAT = '@notices:test.local';
/** The server-owned system user (server_notices.system_user_localpart) that owns each notices room. */
const SYSTEM = '@system:test.local';
const SESSIONS = '/_matrix/client/unstable/hearth/sessions';

/** matrix-nio's check_user_id (nio/schemas.py): what its Event parsing requires of `sender`. */
const nioAcceptsSender = (sender: string) => sender.startsWith('@') && sender.includes(':');

interface Ev { type: string; sender: string; state_key?: string; content: Record<string, unknown>; event_id?: string; unsigned?: Record<string, unknown> }

async function admin(s: TestServer, localpart: string): Promise<TestUser> {
  const u = await s.register(localpart);
  await s.services.accounts.setAdmin(u.userId, true);
  return u;
}

async function notify(s: TestServer, root: TestUser, userId: string, body: string): Promise<string> {
  const r = await s.http.post('/_synapse/admin/v1/send_server_notice').set(bearer(root)).send({ user_id: userId, content: { msgtype: 'm.text', body } });
  if (r.status !== 200) throw new Error(`notice: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.event_id as string;
}

async function sync(s: TestServer, u: TestUser, query: Record<string, string> = {}, headers: Record<string, string> = {}) {
  const r = await s.http.get(`${C}/sync`).query(query).set({ ...bearer(u), ...headers });
  expect(r.status).toBe(200);
  return r.body;
}

describe('compat_sender_localpart (off by default)', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('leaves the server name as sender when no compat sender is configured', async () => {
    const root = await admin(s, 'root');
    const u = await s.register('plain');
    await notify(s, root, u.userId, 'hello');
    const body = await sync(s, u);
    const [roomId] = Object.keys(body.rooms.invite);
    const events = body.rooms.invite[roomId!].invite_state.events as Ev[];
    // The notices room's graph events come from the system user: a user, shown as is.
    expect(new Set(events.map((e) => e.sender))).toEqual(new Set([SYSTEM]));
    const caps = await s.http.get(`${C}/capabilities`).set(bearer(u));
    expect(caps.body.capabilities['hearth.server_events']).toEqual({ sender: SERVER, compat_sender: null, system_user: SYSTEM });
  });
});

describe('compat_sender_localpart: the notices room', () => {
  const s = makeTestServer({ server_events: { compat_sender_localpart: 'notices' } });
  let root: TestUser;
  let u: TestUser;
  let roomId: string;
  let noticeId: string;
  afterAll(() => s.close());

  beforeAll(async () => {
    root = await admin(s, 'root');
    u = await s.register('nio');
    noticeId = await notify(s, root, u.userId, 'A new device logged in');
  });

  it('shows the invite and the stripped state from the system user that owns the room (the room keeps its name)', async () => {
    const body = await sync(s, u);
    const ids = Object.keys(body.rooms.invite);
    expect(ids).toHaveLength(1);
    roomId = ids[0]!;
    const events = body.rooms.invite[roomId].invite_state.events as Ev[];
    for (const e of events) expect(e.sender).toBe(SYSTEM);
    expect(events.every((e) => nioAcceptsSender(e.sender))).toBe(true);
    expect(events.find((e) => e.type === 'm.room.name')?.content).toEqual({ name: 'Server Notices' });
    expect(events.find((e) => e.type === 'm.room.member' && e.state_key === u.userId)?.content).toEqual({ membership: 'invite' });
  });

  it('lets the user join (the invite works in this form) and shows the notice from the server-owned user', async () => {
    const join = await s.http.post(`${C}/join/${enc(roomId)}`).set(bearer(u)).send({});
    expect(join.status).toBe(200);
    const body = await sync(s, u);
    const timeline = body.rooms.join[roomId].timeline.events as Ev[];
    const state = body.rooms.join[roomId].state.events as Ev[];
    const notice = timeline.find((e) => e.event_id === noticeId)!;
    expect(notice).toMatchObject({ sender: COMPAT, content: { msgtype: 'm.text', body: 'A new device logged in' } });
    expect(notice.unsigned).toMatchObject({ 'hearth.server_sender': SERVER });
    for (const e of [...timeline, ...state]) {
      expect(nioAcceptsSender(e.sender)).toBe(true);
      // Only server-generated events (the notices) are rewritten; the room's graph events are the system user's.
      if (e.sender === COMPAT) expect(e.unsigned?.['hearth.server_sender']).toBe(SERVER);
      else expect(e.unsigned?.['hearth.server_sender']).toBeUndefined();
      if (e.event_id !== noticeId) expect(e.sender).not.toBe(COMPAT);
    }
    // The user's own join keeps the user as sender.
    expect([...timeline, ...state].find((e) => e.type === 'm.room.member' && e.state_key === u.userId && e.content.membership === 'join')?.sender).toBe(u.userId);
  });

  it('shows the server-owned user in /messages, /event, /context and /state too', async () => {
    const messages = await s.http.get(`${C}/rooms/${enc(roomId)}/messages`).query({ dir: 'b', limit: '50' }).set(bearer(u));
    for (const e of messages.body.chunk as Ev[]) expect(nioAcceptsSender(e.sender)).toBe(true);
    const event = await s.http.get(`${C}/rooms/${enc(roomId)}/event/${enc(noticeId)}`).set(bearer(u));
    expect(event.body).toMatchObject({ sender: COMPAT, unsigned: { 'hearth.server_sender': SERVER } });
    const context = await s.http.get(`${C}/rooms/${enc(roomId)}/context/${enc(noticeId)}`).set(bearer(u));
    expect(context.body.event.sender).toBe(COMPAT);
    for (const e of [...context.body.events_before, ...context.body.state] as Ev[]) expect(nioAcceptsSender(e.sender)).toBe(true);
    const state = await s.http.get(`${C}/rooms/${enc(roomId)}/state`).set(bearer(u));
    expect((state.body as Ev[]).find((e) => e.type === 'm.room.name')?.sender).toBe(SYSTEM);
    const name = await s.http.get(`${C}/rooms/${enc(roomId)}/state/m.room.name/`).query({ format: 'event' }).set(bearer(u));
    expect(name.body.sender).toBe(SYSTEM);
  });

  it('shows the server name to a client whose sync filter says it understands server-name senders', async () => {
    const body = await sync(s, u, { filter: JSON.stringify({ 'hearth.domain_senders': true }) });
    const notice = (body.rooms.join[roomId].timeline.events as Ev[]).find((e) => e.event_id === noticeId)!;
    expect(notice.sender).toBe(SERVER);
    expect(notice.unsigned?.['hearth.server_sender']).toBeUndefined();
    // A stored filter works the same.
    const f = await s.http.post(`${C}/user/${enc(u.userId)}/filter`).set(bearer(u)).send({ 'hearth.domain_senders': true });
    const stored = await sync(s, u, { filter: String(f.body.filter_id) });
    expect((stored.rooms.join[roomId].timeline.events as Ev[]).find((e) => e.event_id === noticeId)!.sender).toBe(SERVER);
    const back = await s.http.get(`${C}/user/${enc(u.userId)}/filter/${f.body.filter_id}`).set(bearer(u));
    expect(back.body).toEqual({ 'hearth.domain_senders': true });
  });

  it('shows the server name in /messages and /context with the key in their RoomEventFilter', async () => {
    const filter = JSON.stringify({ 'hearth.domain_senders': true });
    const messages = await s.http.get(`${C}/rooms/${enc(roomId)}/messages`).query({ dir: 'b', filter }).set(bearer(u));
    expect((messages.body.chunk as Ev[]).find((e) => e.event_id === noticeId)!.sender).toBe(SERVER);
    const context = await s.http.get(`${C}/rooms/${enc(roomId)}/context/${enc(noticeId)}`).query({ filter }).set(bearer(u));
    expect(context.body.event.sender).toBe(SERVER);
  });

  it('refuses a non-boolean hearth.domain_senders with 400 M_BAD_JSON', async () => {
    const res = await s.http.get(`${C}/sync`).query({ filter: JSON.stringify({ 'hearth.domain_senders': 'yes' }) }).set(bearer(u));
    expectError(res, 400, 'M_BAD_JSON');
  });

  it('shows the server name in a session started with domain_senders: true, and only there', async () => {
    const start = await s.http.post(SESSIONS).set(bearer(u)).send({ domain_senders: true });
    expect(start.status).toBe(200);
    expect(start.body.domain_senders).toBe(true);
    const sessionId = start.body.session_id as string;
    const inSession = await sync(s, u, {}, { 'Hearth-Session': sessionId });
    expect((inSession.rooms.join[roomId].timeline.events as Ev[]).find((e) => e.event_id === noticeId)!.sender).toBe(SERVER);
    const event = await s.http.get(`${C}/rooms/${enc(roomId)}/event/${enc(noticeId)}`).set({ ...bearer(u), 'Hearth-Session': sessionId });
    expect(event.body.sender).toBe(SERVER);
    const list = await s.http.get(SESSIONS).set({ ...bearer(u), 'Hearth-Session': sessionId });
    expect(list.body.sessions.find((x: { session_id: string }) => x.session_id === sessionId)).toMatchObject({ domain_senders: true });
    // Another session of the same device has not said so.
    const other = await s.http.post(SESSIONS).set(bearer(u)).send({});
    expect(other.body.domain_senders).toBeUndefined();
    const elsewhere = await s.http.get(`${C}/rooms/${enc(roomId)}/event/${enc(noticeId)}`).set({ ...bearer(u), 'Hearth-Session': other.body.session_id });
    expect(elsewhere.body.sender).toBe(COMPAT);
  });

  it('refuses a non-boolean domain_senders at the session start with 400 M_BAD_JSON', async () => {
    expectError(await s.http.post(SESSIONS).set(bearer(u)).send({ domain_senders: 'yes' }), 400, 'M_BAD_JSON');
  });

  it('advertises the feature and the compat sender', async () => {
    const versions = await s.http.get('/_matrix/client/versions');
    expect(versions.body.unstable_features['hearth.domain_senders']).toBe(true);
    const caps = await s.http.get(`${C}/capabilities`).set(bearer(u));
    expect(caps.body.capabilities['hearth.server_events']).toEqual({ sender: SERVER, compat_sender: COMPAT, system_user: SYSTEM });
  });

  it('answers the compat user\'s profile with the server name', async () => {
    const res = await s.http.get(`${C}/profile/${enc(COMPAT)}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ displayname: SERVER });
  });

  it('reserves the localpart: registration, availability and the admin API refuse it with 400 M_USER_IN_USE', async () => {
    expectError(await s.http.post(`${C}/register`).send({ username: 'notices', password: 'correct horse battery', auth: { type: 'm.login.dummy' } }), 400, 'M_USER_IN_USE');
    expectError(await s.http.get(`${C}/register/available`).query({ username: 'Notices' }), 400, 'M_USER_IN_USE');
    expectError(await s.http.put(`/_synapse/admin/v2/users/${enc(COMPAT)}`).set(bearer(root)).send({ password: 'correct horse battery' }), 400, 'M_USER_IN_USE');
    expect(await s.services.storage.accounts.getUser(COMPAT)).toBeUndefined();
  });
});

describe('compat_sender_localpart: room-scoped server events and shutdowns', () => {
  const s = makeTestServer({ server_events: { compat_sender_localpart: 'server' } });
  afterAll(() => s.close());

  it('rewrites the sender of room-scoped server events; a shutdown makes members leave by their own events', async () => {
    const root = await admin(s, 'root');
    const alice = await s.register('alice');
    const roomId = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'public_chat' })).body.room_id as string;
    const ev = await s.http.post(`/_hearth/admin/v1/rooms/${enc(roomId)}/server_events`).set(bearer(root)).send({ type: 'm.room.message', content: { msgtype: 'm.notice', body: 'maintenance' } });
    const seen = await s.http.get(`${C}/rooms/${enc(roomId)}/event/${enc(ev.body.event_id)}`).set(bearer(alice));
    expect(seen.body).toMatchObject({ sender: '@server:test.local', unsigned: { 'hearth.server_sender': SERVER } });
    const shut = await s.http.delete(`/_synapse/admin/v2/rooms/${enc(roomId)}`).set(bearer(root)).send({ message: 'closed' });
    expect(shut.status).toBe(200);
    const members = await s.http.get(`${C}/rooms/${enc(roomId)}/members`).set(bearer(alice));
    const leave = (members.body.chunk as Ev[]).find((e) => e.state_key === alice.userId)!;
    expect(leave).toMatchObject({ sender: alice.userId, content: { membership: 'leave', reason: 'closed' }, unsigned: { prev_sender: alice.userId } });
    expect(leave.unsigned?.['hearth.server_sender']).toBeUndefined();
  });
});

describe('compat_sender_localpart: configuration', () => {
  it('must be a valid localpart (every problem listed at once)', () => {
    let err: unknown;
    try {
      buildConfig({ server_events: { compat_sender_localpart: 'Not Valid' }, password_min_length: 0 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      expect.stringContaining('password_min_length'),
      expect.stringContaining('server_events.compat_sender_localpart: must be a user ID localpart'),
    ]);
    expect(() => buildConfig({ server_events: { compat_sender_localpart: '1234' } })).toThrow(ConfigError);
    expect(buildConfig({ server_events: { compat_sender_localpart: 'notices' } }).server_events.compat_sender_localpart).toBe('notices');
  });

  it('refuses to start when an account already has the compat sender\'s ID', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-compat-'));
    try {
      const path = join(dir, 'h.db');
      const first = await createHearth({ server_name: 'test.local', database: { path }, logging: { level: 'silent' } });
      await first.services.registration.createUser({ localpart: 'notices', password: 'correct horse battery', admin: false });
      await first.close();
      await expect(createHearth({ server_name: 'test.local', database: { path }, logging: { level: 'silent' }, server_events: { compat_sender_localpart: 'notices' } }))
        .rejects.toThrow(/server_events.compat_sender_localpart: @notices:test.local is an existing account/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
