// Admin API, users and sessions (spec/admin.md; Synapse admin API: version_api, user_admin_api):
// GET /_synapse/admin/v1/server_version, GET /_synapse/admin/v2/users, GET/PUT /_synapse/admin/v2/users/{userId},
// POST /_synapse/admin/v1/deactivate/{userId}, GET /_synapse/admin/v1/whois/{userId},
// GET /_synapse/admin/v1/users/{userId}/joined_rooms, GET /_hearth/admin/v1/sessions.
import { makeTestServer, bearer, type TestServer, type TestUser } from '../../helpers/server.js';
import { SERVER_NAME_SOFTWARE, VERSION } from '../../../src/version.js';

const enc = encodeURIComponent;
const LOGIN = '/_matrix/client/v3/login';
const WHOAMI = '/_matrix/client/v3/account/whoami';
const UA = 'HearthAdminTest/1.0 (jest)';

async function makeAdmin(s: TestServer, localpart: string): Promise<TestUser> {
  const u = await s.register(localpart);
  await s.services.accounts.setAdmin(u.userId, true);
  return u;
}

async function login(s: TestServer, user: string, password: string, deviceId?: string) {
  return s.http.post(LOGIN).send({ type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, ...(deviceId ? { device_id: deviceId } : {}) });
}

/** Every field Synapse's "Query User Account" / "List Accounts" gives that Hearth supports. */
const USER_KEYS = ['name', 'displayname', 'avatar_url', 'admin', 'deactivated', 'is_guest', 'creation_ts', 'user_type', 'shadow_banned', 'locked'];

describe('admin users API: authentication and authorisation', () => {
  const s = makeTestServer();
  let root: TestUser;
  let plain: TestUser;
  let target: TestUser;
  afterAll(() => s.close());

  beforeAll(async () => {
    root = await makeAdmin(s, 'root');
    plain = await s.register('plain');
    target = await s.register('target');
  });

  const endpoints = (): { method: 'get' | 'put' | 'post'; path: string; body?: object }[] => [
    { method: 'get', path: '/_synapse/admin/v1/server_version' },
    { method: 'get', path: '/_synapse/admin/v2/users' },
    { method: 'get', path: `/_synapse/admin/v2/users/${enc('@target:test.local')}` },
    { method: 'put', path: `/_synapse/admin/v2/users/${enc('@madeup:test.local')}`, body: { password: 'a long enough password', admin: true } },
    { method: 'put', path: `/_synapse/admin/v2/users/${enc('@target:test.local')}`, body: { admin: true, password: 'hijacked password', displayname: 'pwned' } },
    { method: 'post', path: `/_synapse/admin/v1/deactivate/${enc('@target:test.local')}`, body: {} },
    { method: 'get', path: `/_synapse/admin/v1/whois/${enc('@target:test.local')}` },
    { method: 'get', path: `/_synapse/admin/v1/users/${enc('@target:test.local')}/joined_rooms` },
    { method: 'get', path: '/_hearth/admin/v1/sessions' },
  ];

  it.each(endpoints().map((e) => [`${e.method.toUpperCase()} ${e.path}`, e] as const))('%s without a token: 401 M_MISSING_TOKEN', async (_n, e) => {
    const req = s.http[e.method](e.path);
    const res = e.body ? await req.send(e.body) : await req;
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });

  it.each(endpoints().map((e) => [`${e.method.toUpperCase()} ${e.path}`, e] as const))('%s with an unknown token: 401 M_UNKNOWN_TOKEN', async (_n, e) => {
    const req = s.http[e.method](e.path).set({ Authorization: 'Bearer hth_not_a_real_token' });
    const res = e.body ? await req.send(e.body) : await req;
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it.each(endpoints().map((e) => [`${e.method.toUpperCase()} ${e.path}`, e] as const))('%s as a non-admin: 403 M_FORBIDDEN', async (_n, e) => {
    const req = s.http[e.method](e.path).set(bearer(plain));
    const res = e.body ? await req.send(e.body) : await req;
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('non-admin calls changed nothing: no user created, the target is untouched and still logged in', async () => {
    expect(await s.services.storage.accounts.getUser('@madeup:test.local')).toBeUndefined();
    const t = (await s.services.storage.accounts.getUser(target.userId))!;
    expect(t.isAdmin).toBe(false);
    expect(t.deactivated).toBe(false);
    const who = await s.http.get(WHOAMI).set(bearer(target));
    expect(who.status).toBe(200);
    expect((await login(s, 'target', target.password)).status).toBe(200);
    expect((await login(s, 'target', 'hijacked password')).status).toBe(403);
    const profile = await s.http.get(`/_matrix/client/v3/profile/${enc(target.userId)}/displayname`);
    expect(profile.body.displayname).not.toBe('pwned');
    // And the non-admin is still not an admin.
    const again = await s.http.get('/_synapse/admin/v2/users').set(bearer(plain));
    expect(again.status).toBe(403);
    expect(again.body.errcode).toBe('M_FORBIDDEN');
  });

  it('a guest gets 403 M_FORBIDDEN too (spec/admin.md: not an admin)', async () => {
    const g = await s.http.post('/_matrix/client/v3/register').query({ kind: 'guest' }).send({});
    expect(g.status).toBe(200);
    const res = await s.http.get('/_synapse/admin/v2/users').set({ Authorization: `Bearer ${g.body.access_token}` });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('the admin gets 200 on every read endpoint', async () => {
    for (const e of endpoints().filter((x) => x.method === 'get')) {
      const res = await s.http.get(e.path).set(bearer(root));
      expect([e.path, res.status]).toEqual([e.path, 200]);
    }
  });
});

describe('GET /_synapse/admin/v1/server_version', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('answers {"server_version": "Hearth <version>"} and nothing else', async () => {
    const root = await makeAdmin(s, 'root');
    const res = await s.http.get('/_synapse/admin/v1/server_version').set(bearer(root));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ server_version: `${SERVER_NAME_SOFTWARE} ${VERSION}` });
    expect(res.body.server_version).toMatch(/^Hearth \d+\.\d+\.\d+/);
  });
});

describe('GET /_synapse/admin/v2/users', () => {
  const s = makeTestServer();
  let root: TestUser;
  let guestId: string;
  afterAll(() => s.close());

  beforeAll(async () => {
    root = await makeAdmin(s, 'root');
    const alice = await s.register('alice');
    await s.http.put(`/_matrix/client/v3/profile/${enc(alice.userId)}/displayname`).set(bearer(alice)).send({ displayname: 'Alice Liddell' });
    await s.register('bob');
    await s.register('carol');
    const dave = await s.register('dave');
    await s.services.accounts.deactivateUser(dave.userId);
    const g = await s.http.post('/_matrix/client/v3/register').query({ kind: 'guest' }).send({});
    guestId = g.body.user_id;
  });

  const list = (q: Record<string, string | number | boolean> = {}) => s.http.get('/_synapse/admin/v2/users').query(q).set(bearer(root));
  const names = (body: { users: { name: string }[] }) => body.users.map((u) => u.name);

  it('lists users by user ID with Synapse fields, guests included and deactivated excluded by default', async () => {
    const res = await list();
    expect(res.status).toBe(200);
    expect(names(res.body)).toEqual([guestId, '@alice:test.local', '@bob:test.local', '@carol:test.local', '@root:test.local'].sort());
    expect(res.body.total).toBe(5);
    expect(res.body.next_token).toBeUndefined();
    const alice = res.body.users.find((u: { name: string }) => u.name === '@alice:test.local');
    for (const k of USER_KEYS) expect(alice).toHaveProperty(k);
    expect(alice).toMatchObject({ name: '@alice:test.local', displayname: 'Alice Liddell', avatar_url: null, admin: false, deactivated: false, is_guest: false, shadow_banned: false, locked: false, user_type: null });
    expect(typeof alice.creation_ts).toBe('number');
    expect(res.body.users.find((u: { name: string }) => u.name === '@root:test.local').admin).toBe(true);
    expect(res.body.users.find((u: { name: string }) => u.name === guestId).is_guest).toBe(true);
  });

  it('pages with from/limit: next_token until the last page, total every time', async () => {
    const all = names((await list()).body);
    const p1 = await list({ limit: 2 });
    expect(p1.status).toBe(200);
    expect(names(p1.body)).toEqual(all.slice(0, 2));
    expect(p1.body.total).toBe(5);
    expect(p1.body.next_token).toBe('2');
    const p2 = await list({ limit: 2, from: p1.body.next_token });
    expect(names(p2.body)).toEqual(all.slice(2, 4));
    expect(p2.body.total).toBe(5);
    expect(p2.body.next_token).toBe('4');
    const p3 = await list({ limit: 2, from: p2.body.next_token });
    expect(names(p3.body)).toEqual(all.slice(4));
    expect(p3.body.total).toBe(5);
    expect(p3.body.next_token).toBeUndefined();
    const past = await list({ from: 50 });
    expect(past.status).toBe(200);
    expect(past.body.users).toEqual([]);
    expect(past.body.total).toBe(5);
  });

  it('filters by name: a substring of the user ID or of the display name, case-insensitive', async () => {
    const byDisplay = await list({ name: 'LIDDELL' });
    expect(names(byDisplay.body)).toEqual(['@alice:test.local']);
    expect(byDisplay.body.total).toBe(1);
    const byId = await list({ name: '@bo' });
    expect(names(byId.body)).toEqual(['@bob:test.local']);
    expect(byId.body.total).toBe(1);
    const none = await list({ name: 'nobody-matches-this' });
    expect(none.body).toMatchObject({ users: [], total: 0 });
    expect(none.body.next_token).toBeUndefined();
  });

  it('guests=false leaves guests out; deactivated=true brings deactivated users in', async () => {
    const noGuests = await list({ guests: false });
    expect(names(noGuests.body)).not.toContain(guestId);
    expect(noGuests.body.total).toBe(4);
    const withDeactivated = await list({ deactivated: true });
    expect(names(withDeactivated.body)).toContain('@dave:test.local');
    expect(withDeactivated.body.total).toBe(6);
    expect(withDeactivated.body.users.find((u: { name: string }) => u.name === '@dave:test.local').deactivated).toBe(true);
    const both = await list({ deactivated: true, guests: false, name: 'dave' });
    expect(names(both.body)).toEqual(['@dave:test.local']);
  });

  it('refuses bad paging parameters with 400', async () => {
    const badFrom = await list({ from: -1 });
    expect(badFrom.status).toBe(400);
    expect(badFrom.body.errcode).toBe('M_INVALID_PARAM');
    const wordFrom = await list({ from: 'abc' });
    expect(wordFrom.status).toBe(400);
    expect(wordFrom.body.errcode).toBe('M_INVALID_PARAM');
    const badLimit = await list({ limit: 0 });
    expect(badLimit.status).toBe(400);
    expect(badLimit.body.errcode).toBe('M_INVALID_PARAM');
    const badBool = await list({ guests: 'maybe' });
    expect(badBool.status).toBe(400);
    expect(badBool.body.errcode).toBe('M_INVALID_PARAM');
  });
});

describe('GET and PUT /_synapse/admin/v2/users/{userId}', () => {
  const s = makeTestServer();
  let root: TestUser;
  afterAll(() => s.close());
  beforeAll(async () => {
    root = await makeAdmin(s, 'root');
  });
  const userPath = (id: string) => `/_synapse/admin/v2/users/${enc(id)}`;

  it('GET answers one account with the Synapse fields; 404 M_NOT_FOUND for an unknown user; 400 for a remote one', async () => {
    const u = await s.register('gina');
    const res = await s.http.get(userPath(u.userId)).set(bearer(root));
    expect(res.status).toBe(200);
    for (const k of USER_KEYS) expect(res.body).toHaveProperty(k);
    expect(res.body).toMatchObject({ name: u.userId, displayname: 'gina', admin: false, deactivated: false, is_guest: false });
    const missing = await s.http.get(userPath('@nobody:test.local')).set(bearer(root));
    expect(missing.status).toBe(404);
    expect(missing.body.errcode).toBe('M_NOT_FOUND');
    const remote = await s.http.get(userPath('@someone:elsewhere.example')).set(bearer(root));
    expect(remote.status).toBe(400);
    expect(remote.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('PUT on a new user ID creates it (201, the account in the body) and the new user can log in with the password', async () => {
    const res = await s.http.put(userPath('@newbie:test.local')).set(bearer(root)).send({ password: 'newbie password 1', displayname: 'New Bie', avatar_url: 'mxc://test.local/abc' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: '@newbie:test.local', displayname: 'New Bie', avatar_url: 'mxc://test.local/abc', admin: false, deactivated: false, is_guest: false });
    const ok = await login(s, 'newbie', 'newbie password 1');
    expect(ok.status).toBe(200);
    expect(ok.body.user_id).toBe('@newbie:test.local');
    const wrong = await login(s, 'newbie', 'not the password');
    expect(wrong.status).toBe(403);
    expect(wrong.body.errcode).toBe('M_FORBIDDEN');
    // The new user is not an admin.
    const denied = await s.http.get('/_synapse/admin/v2/users').set({ Authorization: `Bearer ${ok.body.access_token}` });
    expect(denied.status).toBe(403);
    expect(denied.body.errcode).toBe('M_FORBIDDEN');
  });

  it('PUT creating with admin: true makes an admin who can use the admin API', async () => {
    const res = await s.http.put(userPath('@op:test.local')).set(bearer(root)).send({ password: 'operator password', admin: true });
    expect(res.status).toBe(201);
    expect(res.body.admin).toBe(true);
    const l = await login(s, 'op', 'operator password');
    const list = await s.http.get('/_synapse/admin/v2/users').set({ Authorization: `Bearer ${l.body.access_token}` });
    expect(list.status).toBe(200);
  });

  it('PUT refuses to create a deactivated user and bad field types (400)', async () => {
    const deact = await s.http.put(userPath('@ghost:test.local')).set(bearer(root)).send({ password: 'ghost password', deactivated: true });
    expect(deact.status).toBe(400);
    expect(deact.body.errcode).toBe('M_BAD_JSON');
    expect(await s.services.storage.accounts.getUser('@ghost:test.local')).toBeUndefined();
    const badAdmin = await s.http.put(userPath('@ghost:test.local')).set(bearer(root)).send({ admin: 'yes' });
    expect(badAdmin.status).toBe(400);
    expect(badAdmin.body.errcode).toBe('M_BAD_JSON');
    const remote = await s.http.put(userPath('@ghost:elsewhere.example')).set(bearer(root)).send({ password: 'ghost password' });
    expect(remote.status).toBe(400);
    expect(remote.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('PUT refuses a user ID that is not a valid new one as it stands (400 M_INVALID_USERNAME) and creates nothing', async () => {
    const res = await s.http.put(userPath('@Upper:test.local')).set(bearer(root)).send({ password: 'upper password' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_USERNAME');
    expect(await s.services.storage.accounts.getUser('@upper:test.local')).toBeUndefined();
    expect(await s.services.storage.accounts.getUser('@Upper:test.local')).toBeUndefined();
  });

  it('PUT applies the password policy to new and changed passwords alike (400 M_WEAK_PASSWORD, nothing changed)', async () => {
    const create = await s.http.put(userPath('@weakling:test.local')).set(bearer(root)).send({ password: 'x' });
    expect(create.status).toBe(400);
    expect(create.body.errcode).toBe('M_WEAK_PASSWORD');
    expect(await s.services.storage.accounts.getUser('@weakling:test.local')).toBeUndefined();
    const u = await s.register('wanda');
    const change = await s.http.put(userPath(u.userId)).set(bearer(root)).send({ password: 'x', admin: true });
    expect(change.status).toBe(400);
    expect(change.body.errcode).toBe('M_WEAK_PASSWORD');
    expect((await s.http.get(WHOAMI).set(bearer(u))).status).toBe(200);
    expect((await login(s, 'wanda', u.password)).status).toBe(200);
    expect((await s.services.storage.accounts.getUser(u.userId))!.isAdmin).toBe(false);
  });

  it('PUT on an existing user modifies it: 200 with the account; displayname and avatar_url change', async () => {
    const u = await s.register('hank');
    const res = await s.http.put(userPath(u.userId)).set(bearer(root)).send({ displayname: 'Hank H.', avatar_url: 'mxc://test.local/hank' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: u.userId, displayname: 'Hank H.', avatar_url: 'mxc://test.local/hank', admin: false, deactivated: false });
    const profile = await s.http.get(`/_matrix/client/v3/profile/${enc(u.userId)}`);
    expect(profile.body).toMatchObject({ displayname: 'Hank H.', avatar_url: 'mxc://test.local/hank' });
    // The token is untouched by a profile change.
    expect((await s.http.get(WHOAMI).set(bearer(u))).status).toBe(200);
  });

  it('a password change logs every device out by default; the new password logs in, the old one does not', async () => {
    const u = await s.register('ivan');
    const second = await login(s, 'ivan', u.password, 'IVAN2');
    expect(second.status).toBe(200);
    const res = await s.http.put(userPath(u.userId)).set(bearer(root)).send({ password: 'ivan new password' });
    expect(res.status).toBe(200);
    for (const token of [u.accessToken, second.body.access_token as string]) {
      const who = await s.http.get(WHOAMI).set({ Authorization: `Bearer ${token}` });
      expect(who.status).toBe(401);
      expect(who.body.errcode).toBe('M_UNKNOWN_TOKEN');
    }
    const old = await login(s, 'ivan', u.password);
    expect(old.status).toBe(403);
    expect(old.body.errcode).toBe('M_FORBIDDEN');
    expect((await login(s, 'ivan', 'ivan new password')).status).toBe(200);
  });

  it('with logout_devices: false the password changes and existing tokens keep working', async () => {
    const u = await s.register('jane');
    const res = await s.http.put(userPath(u.userId)).set(bearer(root)).send({ password: 'jane new password', logout_devices: false });
    expect(res.status).toBe(200);
    const who = await s.http.get(WHOAMI).set(bearer(u));
    expect(who.status).toBe(200);
    expect(who.body.user_id).toBe(u.userId);
    expect((await login(s, 'jane', 'jane new password')).status).toBe(200);
    expect((await login(s, 'jane', u.password)).status).toBe(403);
  });

  it('admin: true grants the admin API to the user\'s existing token; admin: false takes it away', async () => {
    const u = await s.register('kate');
    const before = await s.http.get('/_synapse/admin/v1/server_version').set(bearer(u));
    expect(before.status).toBe(403);
    expect(before.body.errcode).toBe('M_FORBIDDEN');
    const grant = await s.http.put(userPath(u.userId)).set(bearer(root)).send({ admin: true });
    expect(grant.status).toBe(200);
    expect(grant.body.admin).toBe(true);
    const after = await s.http.get('/_synapse/admin/v1/server_version').set(bearer(u));
    expect(after.status).toBe(200);
    const revoke = await s.http.put(userPath(u.userId)).set(bearer(root)).send({ admin: false });
    expect(revoke.status).toBe(200);
    expect(revoke.body.admin).toBe(false);
    const again = await s.http.get('/_synapse/admin/v1/server_version').set(bearer(u));
    expect(again.status).toBe(403);
    expect(again.body.errcode).toBe('M_FORBIDDEN');
  });

  it('deactivated: true refuses login (403 M_USER_DEACTIVATED) and revokes the tokens; deactivated: false with a password restores it', async () => {
    const u = await s.register('liam');
    const res = await s.http.put(userPath(u.userId)).set(bearer(root)).send({ deactivated: true });
    expect(res.status).toBe(200);
    expect(res.body.deactivated).toBe(true);
    const who = await s.http.get(WHOAMI).set(bearer(u));
    expect(who.status).toBe(401);
    expect(who.body.errcode).toBe('M_UNKNOWN_TOKEN');
    const l = await login(s, 'liam', u.password);
    expect(l.status).toBe(403);
    expect(l.body.errcode).toBe('M_USER_DEACTIVATED');
    const back = await s.http.put(userPath(u.userId)).set(bearer(root)).send({ deactivated: false, password: 'liam is back again' });
    expect(back.status).toBe(200);
    expect(back.body.deactivated).toBe(false);
    expect((await login(s, 'liam', 'liam is back again')).status).toBe(200);
  });
});

describe('POST /_synapse/admin/v1/deactivate/{userId}', () => {
  const s = makeTestServer();
  let root: TestUser;
  afterAll(() => s.close());
  beforeAll(async () => {
    root = await makeAdmin(s, 'root');
  });

  it('deactivates: {"id_server_unbind_result": "success"}, tokens revoked, sessions ended, login refused, listed as deactivated', async () => {
    const u = await s.register('mona');
    await s.http.get(WHOAMI).set(bearer(u)).set('User-Agent', UA);
    expect(s.services.sessions.list(u.userId).length).toBeGreaterThan(0);
    const res = await s.http.post(`/_synapse/admin/v1/deactivate/${enc(u.userId)}`).set(bearer(root)).send({ erase: false });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id_server_unbind_result: 'success' });
    const who = await s.http.get(WHOAMI).set(bearer(u));
    expect(who.status).toBe(401);
    expect(who.body.errcode).toBe('M_UNKNOWN_TOKEN');
    expect(s.services.sessions.list(u.userId)).toEqual([]);
    const sessions = await s.http.get('/_hearth/admin/v1/sessions').set(bearer(root));
    expect(sessions.body.sessions.map((x: { user_id: string }) => x.user_id)).not.toContain(u.userId);
    const l = await login(s, 'mona', u.password);
    expect(l.status).toBe(403);
    expect(l.body.errcode).toBe('M_USER_DEACTIVATED');
    const acct = await s.http.get(`/_synapse/admin/v2/users/${enc(u.userId)}`).set(bearer(root));
    expect(acct.body.deactivated).toBe(true);
    const listed = await s.http.get('/_synapse/admin/v2/users').set(bearer(root));
    expect(listed.body.users.map((x: { name: string }) => x.name)).not.toContain(u.userId);
    // Again: still 200, still deactivated.
    const twice = await s.http.post(`/_synapse/admin/v1/deactivate/${enc(u.userId)}`).set(bearer(root)).send({});
    expect(twice.status).toBe(200);
  });

  it('works without a body; 404 M_NOT_FOUND for an unknown user; 400 M_BAD_JSON for a non-boolean erase', async () => {
    const u = await s.register('nate');
    const res = await s.http.post(`/_synapse/admin/v1/deactivate/${enc(u.userId)}`).set(bearer(root));
    expect(res.status).toBe(200);
    expect((await s.services.storage.accounts.getUser(u.userId))!.deactivated).toBe(true);
    const missing = await s.http.post(`/_synapse/admin/v1/deactivate/${enc('@nobody:test.local')}`).set(bearer(root)).send({});
    expect(missing.status).toBe(404);
    expect(missing.body.errcode).toBe('M_NOT_FOUND');
    const v = await s.register('vera');
    const bad = await s.http.post(`/_synapse/admin/v1/deactivate/${enc(v.userId)}`).set(bearer(root)).send({ erase: 'yes' });
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_BAD_JSON');
    expect((await s.services.storage.accounts.getUser(v.userId))!.deactivated).toBe(false);
  });
});

describe('GET /_synapse/admin/v1/whois/{userId}', () => {
  const s = makeTestServer();
  let root: TestUser;
  afterAll(() => s.close());
  beforeAll(async () => {
    root = await makeAdmin(s, 'root');
  });

  it('shows each device with its live sessions: IP, user agent, last seen', async () => {
    const u = await s.register('olga');
    const t0 = s.clock.now();
    await s.http.get(WHOAMI).set(bearer(u)).set('User-Agent', UA);
    s.clock.advance(5000);
    const second = await login(s, 'olga', u.password, 'OLGA2');
    expect(second.status).toBe(200);
    const t1 = s.clock.now();
    await s.http.get(WHOAMI).set({ Authorization: `Bearer ${second.body.access_token}` }).set('User-Agent', 'OtherAgent/2');

    const res = await s.http.get(`/_synapse/admin/v1/whois/${enc(u.userId)}`).set(bearer(root));
    expect(res.status).toBe(200);
    expect(res.body.user_id).toBe(u.userId);
    expect(Object.keys(res.body.devices).sort()).toEqual([u.deviceId, 'OLGA2'].sort());
    const first = res.body.devices[u.deviceId].sessions[0].connections;
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ user_agent: UA, last_seen: t0 });
    expect(first[0].ip).toMatch(/127\.0\.0\.1|::1/);
    const other = res.body.devices.OLGA2.sessions[0].connections;
    expect(other).toHaveLength(1);
    expect(other[0]).toMatchObject({ user_agent: 'OtherAgent/2', last_seen: t1 });
    expect(other[0].ip).toMatch(/127\.0\.0\.1|::1/);
  });

  it('last seen moves with later requests', async () => {
    const u = await s.register('pete');
    await s.http.get(WHOAMI).set(bearer(u)).set('User-Agent', UA);
    s.clock.advance(120_000);
    const later = s.clock.now();
    await s.http.get(WHOAMI).set(bearer(u)).set('User-Agent', UA);
    const res = await s.http.get(`/_synapse/admin/v1/whois/${enc(u.userId)}`).set(bearer(root));
    expect(res.body.devices[u.deviceId].sessions[0].connections[0].last_seen).toBe(later);
  });

  it('404 M_NOT_FOUND for an unknown user, 400 M_INVALID_PARAM for a remote one', async () => {
    const missing = await s.http.get(`/_synapse/admin/v1/whois/${enc('@nobody:test.local')}`).set(bearer(root));
    expect(missing.status).toBe(404);
    expect(missing.body.errcode).toBe('M_NOT_FOUND');
    const remote = await s.http.get(`/_synapse/admin/v1/whois/${enc('@x:remote.example')}`).set(bearer(root));
    expect(remote.status).toBe(400);
    expect(remote.body.errcode).toBe('M_INVALID_PARAM');
  });
});

describe('GET /_synapse/admin/v1/users/{userId}/joined_rooms', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('lists the rooms the user is joined to (not invited, not left), with total', async () => {
    const root = await makeAdmin(s, 'root');
    const u = await s.register('quinn');
    const other = await s.register('rita');
    const r1 = (await s.http.post('/_matrix/client/v3/createRoom').set(bearer(u)).send({})).body.room_id as string;
    const r2 = (await s.http.post('/_matrix/client/v3/createRoom').set(bearer(u)).send({})).body.room_id as string;
    const r3 = (await s.http.post('/_matrix/client/v3/createRoom').set(bearer(u)).send({})).body.room_id as string;
    await s.http.post(`/_matrix/client/v3/rooms/${enc(r3)}/leave`).set(bearer(u)).send({});
    const invitedTo = (await s.http.post('/_matrix/client/v3/createRoom').set(bearer(other)).send({ invite: [u.userId] })).body.room_id as string;
    expect(invitedTo).toBeDefined();

    const res = await s.http.get(`/_synapse/admin/v1/users/${enc(u.userId)}/joined_rooms`).set(bearer(root));
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(2);
    expect([...res.body.joined_rooms].sort()).toEqual([r1, r2].sort());

    const none = await s.http.get(`/_synapse/admin/v1/users/${enc(root.userId)}/joined_rooms`).set(bearer(root));
    expect(none.body).toEqual({ joined_rooms: [], total: 0 });
    const missing = await s.http.get(`/_synapse/admin/v1/users/${enc('@nobody:test.local')}/joined_rooms`).set(bearer(root));
    expect(missing.status).toBe(404);
    expect(missing.body.errcode).toBe('M_NOT_FOUND');
  });
});

describe('GET /_hearth/admin/v1/sessions', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('lists every live session with user, device, presence, created, last seen, IP and user agent; paged', async () => {
    const root = await makeAdmin(s, 'root');
    const a = await s.register('sam');
    const b = await s.register('tess');
    const tA = s.clock.now();
    const ra = await s.http.get(WHOAMI).set(bearer(a)).set('User-Agent', 'AgentA/1');
    s.clock.advance(1000);
    const tB = s.clock.now();
    const rb = await s.http.get(WHOAMI).set(bearer(b)).set('User-Agent', 'AgentB/1');
    s.clock.advance(1000);
    const sidA = ra.headers['hearth-session'];
    const sidB = rb.headers['hearth-session'];
    expect(sidA).toBeTruthy();

    const res = await s.http.get('/_hearth/admin/v1/sessions').set(bearer(root)).set('User-Agent', 'AdminAgent/1');
    expect(res.status).toBe(200);
    // The admin's own request is counted in a session too.
    expect(res.body.total).toBe(3);
    expect(res.body.sessions).toHaveLength(3);
    expect(res.body.next_token).toBeUndefined();
    const sa = res.body.sessions.find((x: { user_id: string }) => x.user_id === a.userId);
    expect(Object.keys(sa).sort()).toEqual(['created_ts', 'device_id', 'ip', 'last_seen_ts', 'presence', 'session_id', 'user_agent', 'user_id']);
    expect(sa).toMatchObject({ session_id: sidA, user_id: a.userId, device_id: a.deviceId, presence: 'online', created_ts: tA, last_seen_ts: tA, user_agent: 'AgentA/1' });
    expect(sa.ip).toMatch(/127\.0\.0\.1|::1/);
    const sb = res.body.sessions.find((x: { user_id: string }) => x.user_id === b.userId);
    expect(sb).toMatchObject({ session_id: sidB, device_id: b.deviceId, created_ts: tB, user_agent: 'AgentB/1' });

    // Paging: limit 2, then from next_token.
    const p1 = await s.http.get('/_hearth/admin/v1/sessions').query({ limit: 2 }).set(bearer(root));
    expect(p1.body.sessions).toHaveLength(2);
    expect(p1.body.total).toBe(3);
    expect(p1.body.next_token).toBe('2');
    const p2 = await s.http.get('/_hearth/admin/v1/sessions').query({ limit: 2, from: p1.body.next_token }).set(bearer(root));
    expect(p2.body.sessions).toHaveLength(1);
    expect(p2.body.total).toBe(3);
    expect(p2.body.next_token).toBeUndefined();
    const ids = [...p1.body.sessions, ...p2.body.sessions].map((x: { session_id: string }) => x.session_id);
    expect(new Set(ids).size).toBe(3);
    expect(ids).toEqual(expect.arrayContaining([sidA, sidB]));

    // A later request moves last_seen_ts, not created_ts; presence follows the session.
    s.clock.advance(2000);
    const tLater = s.clock.now();
    await s.http.put(`/_matrix/client/v3/presence/${enc(a.userId)}/status`).set(bearer(a)).send({ presence: 'unavailable' });
    const again = await s.http.get('/_hearth/admin/v1/sessions').set(bearer(root));
    const sa2 = again.body.sessions.find((x: { session_id: string }) => x.session_id === sidA);
    expect(sa2).toMatchObject({ created_ts: tA, last_seen_ts: tLater, presence: 'unavailable' });

    const bad = await s.http.get('/_hearth/admin/v1/sessions').query({ limit: 0 }).set(bearer(root));
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('ended sessions (logout) are not listed', async () => {
    const root = await makeAdmin(s, 'root2');
    const u = await s.register('ursula');
    const r = await s.http.get(WHOAMI).set(bearer(u));
    const sid = r.headers['hearth-session'];
    const before = await s.http.get('/_hearth/admin/v1/sessions').set(bearer(root));
    expect(before.body.sessions.map((x: { session_id: string }) => x.session_id)).toContain(sid);
    await s.http.post('/_matrix/client/v3/logout').set(bearer(u)).send({});
    const after = await s.http.get('/_hearth/admin/v1/sessions').set(bearer(root));
    expect(after.body.sessions.map((x: { session_id: string }) => x.session_id)).not.toContain(sid);
    expect(after.body.total).toBe(before.body.total - 1);
  });
});
