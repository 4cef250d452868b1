// Admin API for what synadm's user commands need (spec/admin.md; Synapse admin API: user_admin_api):
// POST /_synapse/admin/v1/reset_password/{userId}, POST /_synapse/admin/v1/users/{userId}/login,
// GET /_synapse/admin/v2/users/{userId}/devices, GET/PUT/DELETE .../devices/{deviceId},
// POST /_synapse/admin/v2/users/{userId}/delete_devices, POST/DELETE /_synapse/admin/v1/users/{userId}/shadow_ban.
// Request bodies are the ones synadm 0.49 sends (synadm/api.py).
import { makeTestServer, bearer, expectError, type TestServer, type TestUser } from '../../helpers/server.js';

const enc = encodeURIComponent;
const C = '/_matrix/client/v3';
const LOGIN = `${C}/login`;
const WHOAMI = `${C}/account/whoami`;
const SESSIONS = '/_matrix/client/unstable/hearth/sessions';

async function makeAdmin(s: TestServer, localpart: string): Promise<TestUser> {
  const u = await s.register(localpart);
  await s.services.accounts.setAdmin(u.userId, true);
  return u;
}

async function login(s: TestServer, user: string, password: string, deviceId?: string) {
  return s.http.post(LOGIN).send({ type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, ...(deviceId ? { device_id: deviceId } : {}) });
}

const adminPaths = (userId: string) => ({
  reset: `/_synapse/admin/v1/reset_password/${enc(userId)}`,
  login: `/_synapse/admin/v1/users/${enc(userId)}/login`,
  devices: `/_synapse/admin/v2/users/${enc(userId)}/devices`,
  device: (d: string) => `/_synapse/admin/v2/users/${enc(userId)}/devices/${enc(d)}`,
  deleteDevices: `/_synapse/admin/v2/users/${enc(userId)}/delete_devices`,
  shadowBan: `/_synapse/admin/v1/users/${enc(userId)}/shadow_ban`,
});

describe('admin user tools: authorisation', () => {
  const s = makeTestServer();
  let plain: TestUser;
  let target: TestUser;
  afterAll(() => s.close());
  beforeAll(async () => {
    plain = await s.register('plain');
    target = await s.register('target');
  });

  const calls = () => {
    const p = adminPaths('@target:test.local');
    return [
      ['post', p.reset, { new_password: 'hijacked password 1' }],
      ['post', p.login, {}],
      ['get', p.devices, undefined],
      ['get', p.device('X'), undefined],
      ['put', p.device('X'), { display_name: 'x' }],
      ['delete', p.device('X'), {}],
      ['post', p.deleteDevices, { devices: ['X'] }],
      ['post', p.shadowBan, {}],
      ['delete', p.shadowBan, {}],
    ] as const;
  };

  it('refuses callers without a token (401 M_MISSING_TOKEN) and non-admins (403 M_FORBIDDEN), changing nothing', async () => {
    for (const [method, path, body] of calls()) {
      expectError(await s.http[method](path).send(body), 401, 'M_MISSING_TOKEN');
      expectError(await s.http[method](path).set(bearer(plain)).send(body), 403, 'M_FORBIDDEN');
    }
    expect((await s.http.get(WHOAMI).set(bearer(target))).status).toBe(200);
    expect((await login(s, 'target', target.password)).status).toBe(200);
  });
});

describe('POST /_synapse/admin/v1/reset_password/{userId}', () => {
  const s = makeTestServer();
  let root: TestUser;
  afterAll(() => s.close());
  beforeAll(async () => { root = await makeAdmin(s, 'root'); });

  it('sets the password and logs every device out by default (tokens revoked, sessions ended)', async () => {
    const u = await s.register('resetme');
    const session = await s.http.post(SESSIONS).set(bearer(u)).send({});
    const res = await s.http.post(adminPaths(u.userId).reset).set(bearer(root)).send({ new_password: 'brand new password' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expectError(await s.http.get(WHOAMI).set(bearer(u)), 401, 'M_UNKNOWN_TOKEN');
    expect(s.services.sessions.store.get(session.body.session_id)).toBeUndefined();
    expectError(await login(s, 'resetme', u.password), 403, 'M_FORBIDDEN');
    expect((await login(s, 'resetme', 'brand new password')).status).toBe(200);
  });

  it('keeps the devices with logout_devices: false', async () => {
    const u = await s.register('resetkeep');
    await s.http.post(adminPaths(u.userId).reset).set(bearer(root)).send({ new_password: 'another new password', logout_devices: false }).expect(200);
    expect((await s.http.get(WHOAMI).set(bearer(u))).status).toBe(200);
    expect((await login(s, 'resetkeep', 'another new password')).status).toBe(200);
  });

  it('applies the password policy and needs new_password; unknown and remote users are refused', async () => {
    const u = await s.register('resetbad');
    expectError(await s.http.post(adminPaths(u.userId).reset).set(bearer(root)).send({ new_password: 'short' }), 400, 'M_WEAK_PASSWORD');
    expectError(await s.http.post(adminPaths(u.userId).reset).set(bearer(root)).send({}), 400, 'M_MISSING_PARAM');
    expectError(await s.http.post(adminPaths(u.userId).reset).set(bearer(root)).send({ new_password: 5 }), 400, 'M_BAD_JSON');
    expectError(await s.http.post(adminPaths('@ghost:test.local').reset).set(bearer(root)).send({ new_password: 'long enough password' }), 404, 'M_NOT_FOUND');
    expectError(await s.http.post(adminPaths('@someone:elsewhere.example').reset).set(bearer(root)).send({ new_password: 'long enough password' }), 400, 'M_INVALID_PARAM');
    expect((await login(s, 'resetbad', u.password)).status).toBe(200);
  });

  it('tells the user with a server notice', async () => {
    const u = await s.register('resetnotice');
    await s.http.post(adminPaths(u.userId).reset).set(bearer(root)).send({ new_password: 'noticed new password', logout_devices: false }).expect(200);
    await s.services.notices.settled();
    const sync = await s.http.get(`${C}/sync`).set(bearer(u));
    expect(Object.keys(sync.body.rooms.invite)).toHaveLength(1);
  });
});

describe('POST /_synapse/admin/v1/users/{userId}/login', () => {
  const s = makeTestServer();
  let root: TestUser;
  afterAll(() => s.close());
  beforeAll(async () => { root = await makeAdmin(s, 'root'); });

  it('gives a token for the user on a new device that the user can see; no notice is sent', async () => {
    const u = await s.register('loginas');
    const res = await s.http.post(adminPaths(u.userId).login).set(bearer(root)).send({});
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ access_token: expect.any(String), device_id: expect.any(String) });
    const who = await s.http.get(WHOAMI).set(bearer({ accessToken: res.body.access_token }));
    expect(who.body).toMatchObject({ user_id: u.userId, device_id: res.body.device_id });
    expect(res.body.device_id).not.toBe(u.deviceId);
    const devices = await s.http.get(`${C}/devices`).set(bearer(u));
    expect(devices.body.devices.find((d: { device_id: string }) => d.device_id === res.body.device_id).display_name).toBe('Admin login (@root:test.local)');
    // The user's own token still works; no "new device" notice.
    expect((await s.http.get(WHOAMI).set(bearer(u))).status).toBe(200);
    await s.services.notices.settled();
    expect(Object.keys((await s.http.get(`${C}/sync`).set(bearer(u))).body.rooms.invite)).toEqual([]);
  });

  it('with valid_until_ms the token stops working at that time (401 M_UNKNOWN_TOKEN)', async () => {
    const u = await s.register('loginexpiry');
    const until = s.clock.now() + 60_000;
    const res = await s.http.post(adminPaths(u.userId).login).set(bearer(root)).send({ valid_until_ms: until });
    expect(res.status).toBe(200);
    const as = bearer({ accessToken: res.body.access_token });
    expect((await s.http.get(WHOAMI).set(as)).status).toBe(200);
    s.clock.advance(59_999);
    expect((await s.http.get(WHOAMI).set(as)).status).toBe(200);
    s.clock.advance(1);
    expectError(await s.http.get(WHOAMI).set(as), 401, 'M_UNKNOWN_TOKEN');
  });

  it('refuses logging in as yourself, a deactivated or unknown user, a past expiry and a bad type', async () => {
    expectError(await s.http.post(adminPaths(root.userId).login).set(bearer(root)).send({}), 400, 'M_UNKNOWN');
    const gone = await s.register('logingone');
    await s.http.post(`/_synapse/admin/v1/deactivate/${enc(gone.userId)}`).set(bearer(root)).send({}).expect(200);
    expectError(await s.http.post(adminPaths(gone.userId).login).set(bearer(root)).send({}), 400, 'M_UNKNOWN');
    expectError(await s.http.post(adminPaths('@ghost:test.local').login).set(bearer(root)).send({}), 404, 'M_NOT_FOUND');
    const u = await s.register('loginpast');
    expectError(await s.http.post(adminPaths(u.userId).login).set(bearer(root)).send({ valid_until_ms: s.clock.now() }), 400, 'M_INVALID_PARAM');
    expectError(await s.http.post(adminPaths(u.userId).login).set(bearer(root)).send({ valid_until_ms: 'soon' }), 400, 'M_BAD_JSON');
  });
});

describe('admin devices: /_synapse/admin/v2/users/{userId}/devices', () => {
  const s = makeTestServer();
  let root: TestUser;
  afterAll(() => s.close());
  beforeAll(async () => { root = await makeAdmin(s, 'root'); });

  it('lists every device with Synapse\'s fields and total', async () => {
    const u = await s.register('devlist');
    await login(s, 'devlist', u.password, 'PHONE');
    await s.http.get(WHOAMI).set(bearer(u)).set('User-Agent', 'synadm-test/1');
    const res = await s.http.get(adminPaths(u.userId).devices).set(bearer(root));
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(2);
    const byId = Object.fromEntries(res.body.devices.map((d: { device_id: string }) => [d.device_id, d]));
    expect(byId.PHONE).toEqual({ device_id: 'PHONE', display_name: null, last_seen_ip: null, last_seen_user_agent: null, last_seen_ts: null, user_id: u.userId, dehydrated: false });
    expect(byId[u.deviceId]).toMatchObject({ user_id: u.userId, last_seen_user_agent: 'synadm-test/1', last_seen_ts: s.clock.now(), last_seen_ip: expect.any(String) });
  });

  it('shows and renames one device; 404 M_NOT_FOUND for an unknown device or user', async () => {
    const u = await s.register('devone');
    const p = adminPaths(u.userId);
    expect((await s.http.put(p.device(u.deviceId)).set(bearer(root)).send({ display_name: 'Renamed by admin' })).body).toEqual({});
    expect((await s.http.get(p.device(u.deviceId)).set(bearer(root))).body).toMatchObject({ device_id: u.deviceId, display_name: 'Renamed by admin', user_id: u.userId });
    expectError(await s.http.get(p.device('NOPE')).set(bearer(root)), 404, 'M_NOT_FOUND');
    expectError(await s.http.put(p.device('NOPE')).set(bearer(root)).send({ display_name: 'x' }), 404, 'M_NOT_FOUND');
    expectError(await s.http.put(p.device(u.deviceId)).set(bearer(root)).send({ display_name: 3 }), 400, 'M_BAD_JSON');
    expectError(await s.http.get(adminPaths('@ghost:test.local').devices).set(bearer(root)), 404, 'M_NOT_FOUND');
  });

  it('deletes a device like the user\'s own deletion: its token is revoked and its sessions end', async () => {
    const u = await s.register('devdel');
    const phone = await login(s, 'devdel', u.password, 'PHONE');
    const phoneAuth = bearer({ accessToken: phone.body.access_token });
    const session = await s.http.post(SESSIONS).set(phoneAuth).send({});
    const res = await s.http.delete(adminPaths(u.userId).device('PHONE')).set(bearer(root)).send({});
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expectError(await s.http.get(WHOAMI).set(phoneAuth), 401, 'M_UNKNOWN_TOKEN');
    expect(s.services.sessions.store.get(session.body.session_id)).toBeUndefined();
    expect((await s.http.get(WHOAMI).set(bearer(u))).status).toBe(200);
    // Already gone: still 200 (as Synapse).
    expect((await s.http.delete(adminPaths(u.userId).device('PHONE')).set(bearer(root)).send({})).status).toBe(200);
  });

  it('deletes several devices with delete_devices (synadm\'s body)', async () => {
    const u = await s.register('devmany');
    const a = await login(s, 'devmany', u.password, 'AAA');
    const b = await login(s, 'devmany', u.password, 'BBB');
    const res = await s.http.post(adminPaths(u.userId).deleteDevices).set(bearer(root)).send({ devices: ['AAA', 'BBB'] });
    expect(res.status).toBe(200);
    for (const t of [a, b]) expectError(await s.http.get(WHOAMI).set(bearer({ accessToken: t.body.access_token })), 401, 'M_UNKNOWN_TOKEN');
    expect((await s.http.get(adminPaths(u.userId).devices).set(bearer(root))).body.devices.map((d: { device_id: string }) => d.device_id)).toEqual([u.deviceId]);
    expectError(await s.http.post(adminPaths(u.userId).deleteDevices).set(bearer(root)).send({}), 400, 'M_BAD_JSON');
    expectError(await s.http.post(adminPaths(u.userId).deleteDevices).set(bearer(root)).send({ devices: [1] }), 400, 'M_BAD_JSON');
  });
});

describe('POST/DELETE /_synapse/admin/v1/users/{userId}/shadow_ban', () => {
  const s = makeTestServer();
  let root: TestUser;
  let troll: TestUser;
  let victim: TestUser;
  let roomId: string;
  afterAll(() => s.close());
  beforeAll(async () => {
    root = await makeAdmin(s, 'root');
    troll = await s.register('troll');
    victim = await s.register('victim');
    roomId = (await s.http.post(`${C}/createRoom`).set(bearer(victim)).send({ preset: 'public_chat' })).body.room_id;
    await s.http.post(`${C}/join/${enc(roomId)}`).set(bearer(troll)).send({}).expect(200);
  });

  const messages = async () => (await s.http.get(`${C}/rooms/${enc(roomId)}/messages`).query({ dir: 'b', limit: '50' }).set(bearer(victim))).body.chunk as { event_id: string; sender: string }[];

  it('answers {}; the user shows as shadow_banned; sends answer 200 with an event ID but reach nobody', async () => {
    const ban = await s.http.post(adminPaths(troll.userId).shadowBan).set(bearer(root)).send({});
    expect(ban.status).toBe(200);
    expect(ban.body).toEqual({});
    expect((await s.http.get(`/_synapse/admin/v2/users/${enc(troll.userId)}`).set(bearer(root))).body.shadow_banned).toBe(true);
    const before = await messages();
    const sent = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/t1`).set(bearer(troll)).send({ msgtype: 'm.text', body: 'spam' });
    expect(sent.status).toBe(200);
    expect(sent.body.event_id).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
    // A retry of the transaction gets the same ID.
    const retry = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/t1`).set(bearer(troll)).send({ msgtype: 'm.text', body: 'spam' });
    expect(retry.body.event_id).toBe(sent.body.event_id);
    const topic = await s.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.topic/`).set(bearer(troll)).send({ topic: 'spam' });
    expect(topic.status).toBe(200);
    const invite = await s.http.post(`${C}/rooms/${enc(roomId)}/invite`).set(bearer(troll)).send({ user_id: root.userId });
    expect(invite.status).toBe(200);
    expect(await messages()).toEqual(before);
    expectError(await s.http.get(`${C}/rooms/${enc(roomId)}/event/${enc(sent.body.event_id)}`).set(bearer(victim)), 404, 'M_NOT_FOUND');
    expect(Object.keys((await s.http.get(`${C}/sync`).set(bearer(root))).body.rooms.invite)).not.toContain(roomId);
    // A room created with invites reaches no invitee.
    const dm = await s.http.post(`${C}/createRoom`).set(bearer(troll)).send({ invite: [victim.userId] });
    expect(dm.status).toBe(200);
    expect(Object.keys((await s.http.get(`${C}/sync`).set(bearer(victim))).body.rooms.invite)).not.toContain(dm.body.room_id);
  });

  it('the user can still leave (own membership), and DELETE lifts the ban: sends reach the room again', async () => {
    const un = await s.http.delete(adminPaths(troll.userId).shadowBan).set(bearer(root)).send({});
    expect(un.status).toBe(200);
    expect((await s.http.get(`/_synapse/admin/v2/users/${enc(troll.userId)}`).set(bearer(root))).body.shadow_banned).toBe(false);
    const sent = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/t2`).set(bearer(troll)).send({ msgtype: 'm.text', body: 'sorry' });
    expect((await messages()).map((e) => e.event_id)).toContain(sent.body.event_id);
    await s.http.post(adminPaths(troll.userId).shadowBan).set(bearer(root)).send({}).expect(200);
    await s.http.post(`${C}/rooms/${enc(roomId)}/leave`).set(bearer(troll)).send({}).expect(200);
    const members = await s.http.get(`${C}/rooms/${enc(roomId)}/members`).set(bearer(victim));
    expect(members.body.chunk.find((e: { state_key: string }) => e.state_key === troll.userId).content.membership).toBe('leave');
  });

  it('refuses unknown and remote users', async () => {
    expectError(await s.http.post(adminPaths('@ghost:test.local').shadowBan).set(bearer(root)).send({}), 404, 'M_NOT_FOUND');
    expectError(await s.http.post(adminPaths('@x:elsewhere.example').shadowBan).set(bearer(root)).send({}), 400, 'M_INVALID_PARAM');
  });
});
