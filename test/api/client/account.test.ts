// GET /account/whoami, POST /account/password, POST /account/deactivate
// (matrix-spec: whoami.yaml#getTokenOwner, password_management.yaml#changePassword,
//  account_deactivation.yaml#deactivateAccount).
import { SignJWT } from 'jose';
import { makeTestServer, bearer, type TestUser } from '../../helpers/server.js';

const WHOAMI = '/_matrix/client/v3/account/whoami';
const PASSWORD_PATH = '/_matrix/client/v3/account/password';
const DEACTIVATE = '/_matrix/client/v3/account/deactivate';
const LOGIN = '/_matrix/client/v3/login';
const DEVICES = '/_matrix/client/v3/devices';
const NEW_PASSWORD = 'a brand new password';

const tok = (accessToken: string) => bearer({ accessToken });
const passwordAuth = (user: string, password: string, session?: string) => ({
  type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, ...(session ? { session } : {}),
});

describe('GET /account/whoami', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('answers user_id, device_id and is_guest: false for a user', async () => {
    const u = await s.register('whoami');
    const res = await s.http.get(WHOAMI).set(bearer(u));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ user_id: '@whoami:test.local', device_id: u.deviceId, is_guest: false });
  });

  it('answers is_guest: true for a guest', async () => {
    const g = await s.http.post('/_matrix/client/v3/register').query({ kind: 'guest' }).send({});
    const res = await s.http.get(WHOAMI).set(tok(g.body.access_token));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ user_id: g.body.user_id, device_id: g.body.device_id, is_guest: true });
  });

  it('names the device of the token used, not another of the user\'s devices', async () => {
    const u = await s.register('whoamidev');
    const login = await s.http.post(LOGIN).send({ type: 'm.login.password', user: 'whoamidev', password: u.password, device_id: 'SECOND' });
    const res = await s.http.get(WHOAMI).set(tok(login.body.access_token));
    expect(res.body.device_id).toBe('SECOND');
  });

  it('refuses a request without a token with 401 M_MISSING_TOKEN', async () => {
    const res = await s.http.get(WHOAMI);
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });

  it('refuses an unknown token with 401 M_UNKNOWN_TOKEN', async () => {
    const res = await s.http.get(WHOAMI).set(tok('hth_unknown'));
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });
});

describe('POST /account/password', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  async function loginAs(u: TestUser, localpart: string, password = u.password): Promise<string> {
    const res = await s.http.post(LOGIN).send({ type: 'm.login.password', user: localpart, password });
    expect(res.status).toBe(200);
    return res.body.access_token;
  }

  it('answers a request without auth with 401, the m.login.password flow and a session, and no errcode', async () => {
    const u = await s.register('pwuia');
    const res = await s.http.post(PASSWORD_PATH).set(bearer(u)).send({ new_password: NEW_PASSWORD });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      flows: [{ stages: ['m.login.password'] }],
      params: {},
      session: expect.any(String),
      completed: [],
    });
  });

  it('changes the password after the 401 round-trip: the old password no longer logs in, the new one does', async () => {
    const u = await s.register('pwchange');
    const first = await s.http.post(PASSWORD_PATH).set(bearer(u)).send({ new_password: NEW_PASSWORD });
    expect(first.status).toBe(401);
    const second = await s.http.post(PASSWORD_PATH).set(bearer(u)).send({
      new_password: NEW_PASSWORD, auth: passwordAuth('pwchange', u.password, first.body.session),
    });
    expect(second.status).toBe(200);
    expect(second.body).toEqual({});

    const old = await s.http.post(LOGIN).send({ type: 'm.login.password', user: 'pwchange', password: u.password });
    expect(old.status).toBe(403);
    expect(old.body.errcode).toBe('M_FORBIDDEN');
    const fresh = await s.http.post(LOGIN).send({ type: 'm.login.password', user: 'pwchange', password: NEW_PASSWORD });
    expect(fresh.status).toBe(200);
  });

  it('changes the password when the first request already carries the password auth', async () => {
    const u = await s.register('pwdirect');
    const res = await s.http.post(PASSWORD_PATH).set(bearer(u)).send({ new_password: NEW_PASSWORD, auth: passwordAuth('pwdirect', u.password) });
    expect(res.status).toBe(200);
    await loginAs(u, 'pwdirect', NEW_PASSWORD);
  });

  it('accepts the password auth naming the user by full user ID or not at all', async () => {
    const u = await s.register('pwnamed');
    const a = await s.http.post(PASSWORD_PATH).set(bearer(u)).send({ new_password: 'second password', auth: passwordAuth('@pwnamed:test.local', u.password) });
    expect(a.status).toBe(200);
    const b = await s.http.post(PASSWORD_PATH).set(bearer(u)).send({ new_password: 'third password', auth: { type: 'm.login.password', password: 'second password' } });
    expect(b.status).toBe(200);
    await loginAs(u, 'pwnamed', 'third password');
  });

  it('refuses a wrong current password with 401 M_FORBIDDEN, offering the flow again, and keeps the old password', async () => {
    const u = await s.register('pwwrong');
    const first = await s.http.post(PASSWORD_PATH).set(bearer(u)).send({ new_password: NEW_PASSWORD });
    const res = await s.http.post(PASSWORD_PATH).set(bearer(u)).send({
      new_password: NEW_PASSWORD, auth: passwordAuth('pwwrong', 'not my password', first.body.session),
    });
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect(res.body.flows).toEqual([{ stages: ['m.login.password'] }]);
    expect(typeof res.body.session).toBe('string');
    await loginAs(u, 'pwwrong');
  });

  it('refuses a password auth naming another user with 401 M_FORBIDDEN, even with that user\'s password', async () => {
    const u = await s.register('pwself');
    const other = await s.register('pwother');
    const res = await s.http.post(PASSWORD_PATH).set(bearer(u)).send({ new_password: NEW_PASSWORD, auth: passwordAuth('pwother', other.password) });
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    await loginAs(u, 'pwself');
    await loginAs(other, 'pwother');
  });

  it('refuses a new password that is too short with 400 M_WEAK_PASSWORD and keeps the old one', async () => {
    const u = await s.register('pwweak');
    const res = await s.http.post(PASSWORD_PATH).set(bearer(u)).send({ new_password: 'short', auth: passwordAuth('pwweak', u.password) });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_WEAK_PASSWORD');
    await loginAs(u, 'pwweak');
  });

  it('applies password_min_length from the config to the new password', async () => {
    const strict = makeTestServer({ password_min_length: 20 });
    try {
      const u = await strict.register('strictpw', 'a password of 20 chr');
      const weak = await strict.http.post(PASSWORD_PATH).set(bearer(u)).send({ new_password: 'nineteen characters', auth: passwordAuth('strictpw', u.password) });
      expect(weak.status).toBe(400);
      expect(weak.body.errcode).toBe('M_WEAK_PASSWORD');
      const ok = await strict.http.post(PASSWORD_PATH).set(bearer(u)).send({ new_password: 'twenty characters!!!', auth: passwordAuth('strictpw', u.password) });
      expect(ok.status).toBe(200);
    } finally {
      await strict.close();
    }
  });

  it('refuses a request without new_password with 400 M_MISSING_PARAM', async () => {
    const u = await s.register('pwmissing');
    const res = await s.http.post(PASSWORD_PATH).set(bearer(u)).send({ auth: passwordAuth('pwmissing', u.password) });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_MISSING_PARAM');
  });

  it('refuses a new_password that is not a string with 400 M_BAD_JSON', async () => {
    const u = await s.register('pwtype');
    const res = await s.http.post(PASSWORD_PATH).set(bearer(u)).send({ new_password: 123456789, auth: passwordAuth('pwtype', u.password) });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
  });

  it('refuses a logout_devices that is not a boolean with 400 M_BAD_JSON', async () => {
    const u = await s.register('pwlogouttype');
    const res = await s.http.post(PASSWORD_PATH).set(bearer(u)).send({ new_password: NEW_PASSWORD, logout_devices: 'no', auth: passwordAuth('pwlogouttype', u.password) });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
  });

  it('by default revokes every other device\'s token and keeps the caller\'s', async () => {
    const u = await s.register('pwlogout');
    const second = await loginAs(u, 'pwlogout');
    const third = await loginAs(u, 'pwlogout');
    const res = await s.http.post(PASSWORD_PATH).set(bearer(u)).send({ new_password: NEW_PASSWORD, auth: passwordAuth('pwlogout', u.password) });
    expect(res.status).toBe(200);

    const mine = await s.http.get(WHOAMI).set(bearer(u));
    expect(mine.status).toBe(200);
    expect(mine.body.device_id).toBe(u.deviceId);
    for (const t of [second, third]) {
      const r = await s.http.get(WHOAMI).set(tok(t));
      expect(r.status).toBe(401);
      expect(r.body.errcode).toBe('M_UNKNOWN_TOKEN');
    }
    const list = await s.http.get(DEVICES).set(bearer(u));
    expect(list.body.devices.map((d: { device_id: string }) => d.device_id)).toEqual([u.deviceId]);
  });

  it('revokes other devices when logout_devices is true', async () => {
    const u = await s.register('pwlogouttrue');
    const second = await loginAs(u, 'pwlogouttrue');
    const res = await s.http.post(PASSWORD_PATH).set(bearer(u)).send({ new_password: NEW_PASSWORD, logout_devices: true, auth: passwordAuth('pwlogouttrue', u.password) });
    expect(res.status).toBe(200);
    const r = await s.http.get(WHOAMI).set(tok(second));
    expect(r.status).toBe(401);
    expect(r.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('keeps every device\'s token with logout_devices: false', async () => {
    const u = await s.register('pwkeep');
    const second = await loginAs(u, 'pwkeep');
    const res = await s.http.post(PASSWORD_PATH).set(bearer(u)).send({ new_password: NEW_PASSWORD, logout_devices: false, auth: passwordAuth('pwkeep', u.password) });
    expect(res.status).toBe(200);
    expect((await s.http.get(WHOAMI).set(bearer(u))).status).toBe(200);
    expect((await s.http.get(WHOAMI).set(tok(second))).status).toBe(200);
    const list = await s.http.get(DEVICES).set(bearer(u));
    expect(list.body.devices).toHaveLength(2);
  });

  it('does not revoke the tokens of other users', async () => {
    const u = await s.register('pwisolated');
    const other = await s.register('pwneighbour');
    await s.http.post(PASSWORD_PATH).set(bearer(u)).send({ new_password: NEW_PASSWORD, auth: passwordAuth('pwisolated', u.password) });
    expect((await s.http.get(WHOAMI).set(bearer(other))).status).toBe(200);
  });

  it('refuses to reuse a completed session with 400 M_UNKNOWN (sessions are single-use)', async () => {
    const u = await s.register('pwonce');
    const first = await s.http.post(PASSWORD_PATH).set(bearer(u)).send({ new_password: NEW_PASSWORD });
    const done = await s.http.post(PASSWORD_PATH).set(bearer(u)).send({ new_password: NEW_PASSWORD, auth: passwordAuth('pwonce', u.password, first.body.session) });
    expect(done.status).toBe(200);
    const replay = await s.http.post(PASSWORD_PATH).set(bearer(u)).send({ new_password: 'yet another password', auth: { session: first.body.session } });
    expect(replay.status).toBe(400);
    expect(replay.body.errcode).toBe('M_UNKNOWN');
    await loginAs(u, 'pwonce', NEW_PASSWORD);
  });

  it('refuses a guest with 403 M_GUEST_ACCESS_FORBIDDEN', async () => {
    const g = await s.http.post('/_matrix/client/v3/register').query({ kind: 'guest' }).send({});
    const res = await s.http.post(PASSWORD_PATH).set(tok(g.body.access_token)).send({ new_password: NEW_PASSWORD, auth: { type: 'm.login.password', password: 'anything at all' } });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_GUEST_ACCESS_FORBIDDEN');
  });

  it('refuses a request without a token with 401 M_MISSING_TOKEN', async () => {
    const res = await s.http.post(PASSWORD_PATH).send({ new_password: NEW_PASSWORD });
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });
});

describe('POST /account/deactivate', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('answers a request without auth with 401, the m.login.password flow and a session, and does not deactivate', async () => {
    const u = await s.register('deuia');
    const res = await s.http.post(DEACTIVATE).set(bearer(u)).send({});
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      flows: [{ stages: ['m.login.password'] }],
      params: {},
      session: expect.any(String),
      completed: [],
    });
    expect((await s.http.get(WHOAMI).set(bearer(u))).status).toBe(200);
  });

  it('deactivates after the 401 round-trip: every token is revoked, login is refused, the username stays taken', async () => {
    const u = await s.register('goner');
    const second = await s.http.post(LOGIN).send({ type: 'm.login.password', user: 'goner', password: u.password });
    const first = await s.http.post(DEACTIVATE).set(bearer(u)).send({});
    const res = await s.http.post(DEACTIVATE).set(bearer(u)).send({ auth: passwordAuth('goner', u.password, first.body.session) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id_server_unbind_result: 'no-support' });

    for (const t of [u.accessToken, second.body.access_token as string]) {
      const r = await s.http.get(WHOAMI).set(tok(t));
      expect(r.status).toBe(401);
      expect(r.body.errcode).toBe('M_UNKNOWN_TOKEN');
    }

    const login = await s.http.post(LOGIN).send({ type: 'm.login.password', user: 'goner', password: u.password });
    expect(login.status).toBe(403);
    expect(login.body.errcode).toBe('M_USER_DEACTIVATED');

    const again = await s.http.post('/_matrix/client/v3/register').send({ username: 'goner', password: u.password, auth: { type: 'm.login.dummy' } });
    expect(again.status).toBe(400);
    expect(again.body.errcode).toBe('M_USER_IN_USE');
    const avail = await s.http.get('/_matrix/client/v3/register/available').query({ username: 'goner' });
    expect(avail.status).toBe(400);
    expect(avail.body.errcode).toBe('M_USER_IN_USE');
  });

  it('deactivates with the password auth on the first request', async () => {
    const u = await s.register('gonedirect');
    const res = await s.http.post(DEACTIVATE).set(bearer(u)).send({ auth: passwordAuth('gonedirect', u.password), erase: false });
    expect(res.status).toBe(200);
    const r = await s.http.get(WHOAMI).set(bearer(u));
    expect(r.status).toBe(401);
    expect(r.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('refuses a wrong password with 401 M_FORBIDDEN and leaves the account working', async () => {
    const u = await s.register('staying');
    const res = await s.http.post(DEACTIVATE).set(bearer(u)).send({ auth: passwordAuth('staying', 'wrong password') });
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect((await s.http.get(WHOAMI).set(bearer(u))).status).toBe(200);
    const login = await s.http.post(LOGIN).send({ type: 'm.login.password', user: 'staying', password: u.password });
    expect(login.status).toBe(200);
  });

  it('refuses JWT login for a deactivated user with 403', async () => {
    // JWT logins create unknown users; a deactivated one must not come back.
    const secret = 'jwt-secret-for-deactivation-test-1234';
    const j = makeTestServer({ jwt_login: { enabled: true, secret } });
    try {
      const u = await j.register('jwtgone');
      await j.http.post(DEACTIVATE).set(bearer(u)).send({ auth: passwordAuth('jwtgone', u.password) });
      const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('jwtgone')
        .setExpirationTime(Math.floor(j.clock.now() / 1000) + 300).sign(new TextEncoder().encode(secret));
      const res = await j.http.post(LOGIN).send({ type: 'org.matrix.login.jwt', token });
      expect(res.status).toBe(403);
      expect(res.body.errcode).toBe('M_USER_DEACTIVATED');
    } finally {
      await j.close();
    }
  });

  it('does not affect other users', async () => {
    const u = await s.register('gonetoo');
    const other = await s.register('remaining');
    await s.http.post(DEACTIVATE).set(bearer(u)).send({ auth: passwordAuth('gonetoo', u.password) });
    expect((await s.http.get(WHOAMI).set(bearer(other))).status).toBe(200);
  });

  it('refuses a guest with 403 M_GUEST_ACCESS_FORBIDDEN', async () => {
    const g = await s.http.post('/_matrix/client/v3/register').query({ kind: 'guest' }).send({});
    const res = await s.http.post(DEACTIVATE).set(tok(g.body.access_token)).send({});
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_GUEST_ACCESS_FORBIDDEN');
  });

  it('refuses a request without a token with 401 M_MISSING_TOKEN', async () => {
    const res = await s.http.post(DEACTIVATE).send({});
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });

  it('refuses an erase that is not a boolean with 400 M_BAD_JSON', async () => {
    const u = await s.register('erasetype');
    const res = await s.http.post(DEACTIVATE).set(bearer(u)).send({ erase: 'yes', auth: passwordAuth('erasetype', u.password) });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
    expect((await s.http.get(WHOAMI).set(bearer(u))).status).toBe(200);
  });
});
