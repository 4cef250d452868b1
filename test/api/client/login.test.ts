// GET/POST /_matrix/client/v3/login, POST /logout, POST /logout/all and access-token handling
// (matrix-spec: login.yaml#getLoginFlows, login.yaml#login, logout.yaml#logout, logout.yaml#logout_all).
import { SignJWT } from 'jose';
import { makeTestServer, bearer, type TestServer } from '../../helpers/server.js';

const LOGIN = '/_matrix/client/v3/login';
const WHOAMI = '/_matrix/client/v3/account/whoami';
const DEVICES = '/_matrix/client/v3/devices';
const JWT_TYPE = 'org.matrix.login.jwt';

const passwordLogin = (user: string, password: string, extra: Record<string, unknown> = {}) => ({
  type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, ...extra,
});

const tok = (accessToken: string) => bearer({ accessToken });

describe('GET /login', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('lists m.login.password and, with JWT login disabled, nothing else', async () => {
    const res = await s.http.get(LOGIN);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ flows: [{ type: 'm.login.password' }] });
  });
});

describe('POST /login with m.login.password', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('logs in with an m.id.user identifier holding the localpart', async () => {
    const alice = await s.register('alice');
    const res = await s.http.post(LOGIN).send(passwordLogin('alice', alice.password));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      user_id: '@alice:test.local',
      access_token: expect.any(String),
      device_id: expect.any(String),
      home_server: 'test.local',
      well_known: { 'm.homeserver': { base_url: 'http://127.0.0.1:8008' } },
    });
    const who = await s.http.get(WHOAMI).set(tok(res.body.access_token));
    expect(who.status).toBe(200);
    expect(who.body).toEqual({ user_id: '@alice:test.local', device_id: res.body.device_id, is_guest: false });
  });

  it('logs in with an m.id.user identifier holding the full user ID', async () => {
    const u = await s.register('fullid');
    const res = await s.http.post(LOGIN).send(passwordLogin('@fullid:test.local', u.password));
    expect(res.status).toBe(200);
    expect(res.body.user_id).toBe('@fullid:test.local');
  });

  it('logs in with the legacy top-level user field (localpart)', async () => {
    const u = await s.register('legacy');
    const res = await s.http.post(LOGIN).send({ type: 'm.login.password', user: 'legacy', password: u.password });
    expect(res.status).toBe(200);
    expect(res.body.user_id).toBe('@legacy:test.local');
  });

  it('logs in with the legacy top-level user field (full user ID)', async () => {
    const u = await s.register('legacyfull');
    const res = await s.http.post(LOGIN).send({ type: 'm.login.password', user: '@legacyfull:test.local', password: u.password });
    expect(res.status).toBe(200);
    expect(res.body.user_id).toBe('@legacyfull:test.local');
  });

  it('matches the username case-insensitively', async () => {
    const u = await s.register('caseuser');
    const res = await s.http.post(LOGIN).send(passwordLogin('CaseUser', u.password));
    expect(res.status).toBe(200);
    expect(res.body.user_id).toBe('@caseuser:test.local');
  });

  it('refuses a wrong password with 403 M_FORBIDDEN', async () => {
    await s.register('wrongpw');
    const res = await s.http.post(LOGIN).send(passwordLogin('wrongpw', 'not the password'));
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('refuses an unknown user with 403 M_FORBIDDEN', async () => {
    const res = await s.http.post(LOGIN).send(passwordLogin('nobody', 'whatever password'));
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('answers an unknown user and a wrong password with the same body', async () => {
    await s.register('samebody');
    const unknown = await s.http.post(LOGIN).send(passwordLogin('nobody2', 'whatever password'));
    const wrong = await s.http.post(LOGIN).send(passwordLogin('samebody', 'whatever password'));
    expect(unknown.body).toEqual(wrong.body);
  });

  it('refuses a user ID of another server with 403 M_FORBIDDEN', async () => {
    const u = await s.register('remote');
    const res = await s.http.post(LOGIN).send(passwordLogin('@remote:other.example', u.password));
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('refuses an unknown login type with 400 M_UNKNOWN', async () => {
    const res = await s.http.post(LOGIN).send({ type: 'm.login.carrier_pigeon', user: 'alice' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_UNKNOWN');
  });

  it('refuses an unsupported identifier type with 400 M_UNKNOWN', async () => {
    const res = await s.http.post(LOGIN).send({
      type: 'm.login.password', identifier: { type: 'm.id.thirdparty', medium: 'email', address: 'a@b.c' }, password: 'whatever password',
    });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_UNKNOWN');
  });

  it('refuses a login without a type with 400 M_MISSING_PARAM', async () => {
    const res = await s.http.post(LOGIN).send({ user: 'alice', password: 'whatever password' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_MISSING_PARAM');
  });

  it('refuses a password login without a password with 400 M_MISSING_PARAM', async () => {
    const res = await s.http.post(LOGIN).send({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' } });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_MISSING_PARAM');
  });

  it('refuses a password that is not a string with 400 M_BAD_JSON', async () => {
    const res = await s.http.post(LOGIN).send({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: 12345678 });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
  });

  it('refuses an identifier that is not an object with 400 M_BAD_JSON', async () => {
    const res = await s.http.post(LOGIN).send({ type: 'm.login.password', identifier: 'alice', password: 'whatever password' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
  });

  it('tolerates refresh_token: true', async () => {
    const u = await s.register('refreshlogin');
    const res = await s.http.post(LOGIN).send(passwordLogin('refreshlogin', u.password, { refresh_token: true }));
    expect(res.status).toBe(200);
    expect(typeof res.body.access_token).toBe('string');
  });

  describe('devices and tokens', () => {
    it('uses the given device_id and initial_device_display_name for a new device', async () => {
      const u = await s.register('newdev');
      const res = await s.http.post(LOGIN).send(passwordLogin('newdev', u.password, { device_id: 'LAPTOP', initial_device_display_name: 'My laptop' }));
      expect(res.status).toBe(200);
      expect(res.body.device_id).toBe('LAPTOP');
      const dev = await s.http.get(`${DEVICES}/LAPTOP`).set(tok(res.body.access_token));
      expect(dev.status).toBe(200);
      expect(dev.body).toMatchObject({ device_id: 'LAPTOP', display_name: 'My laptop' });
    });

    it('generates a device ID when none is given, a new one for every login', async () => {
      const u = await s.register('gendev');
      const a = await s.http.post(LOGIN).send(passwordLogin('gendev', u.password));
      const b = await s.http.post(LOGIN).send(passwordLogin('gendev', u.password));
      expect(a.status).toBe(200);
      expect(b.status).toBe(200);
      expect(a.body.device_id).not.toBe(b.body.device_id);
      expect(a.body.device_id).not.toBe(u.deviceId);
      const list = await s.http.get(DEVICES).set(bearer(u));
      expect(list.body.devices.map((d: { device_id: string }) => d.device_id).sort())
        .toEqual([u.deviceId, a.body.device_id, b.body.device_id].sort());
    });

    it('keeps the device on device_id reuse and revokes the earlier token of that device', async () => {
      const u = await s.register('reuse');
      const first = await s.http.post(LOGIN).send(passwordLogin('reuse', u.password, { device_id: 'PHONE', initial_device_display_name: 'Phone' }));
      expect(first.status).toBe(200);
      const second = await s.http.post(LOGIN).send(passwordLogin('reuse', u.password, { device_id: 'PHONE', initial_device_display_name: 'Renamed?' }));
      expect(second.status).toBe(200);
      expect(second.body.device_id).toBe('PHONE');
      expect(second.body.access_token).not.toBe(first.body.access_token);

      const old = await s.http.get(WHOAMI).set(tok(first.body.access_token));
      expect(old.status).toBe(401);
      expect(old.body.errcode).toBe('M_UNKNOWN_TOKEN');
      const fresh = await s.http.get(WHOAMI).set(tok(second.body.access_token));
      expect(fresh.status).toBe(200);
      expect(fresh.body.device_id).toBe('PHONE');

      const list = await s.http.get(DEVICES).set(bearer(u));
      const phones = list.body.devices.filter((d: { device_id: string }) => d.device_id === 'PHONE');
      expect(phones).toHaveLength(1);
      // initial_device_display_name is ignored for a known device
      expect(phones[0].display_name).toBe('Phone');
      expect(list.body.devices).toHaveLength(2);
    });

    it('does not revoke the tokens of other devices on device_id reuse', async () => {
      const u = await s.register('reuse2');
      await s.http.post(LOGIN).send(passwordLogin('reuse2', u.password, { device_id: 'TABLET' }));
      await s.http.post(LOGIN).send(passwordLogin('reuse2', u.password, { device_id: 'TABLET' }));
      const who = await s.http.get(WHOAMI).set(bearer(u));
      expect(who.status).toBe(200);
    });

    it('hands out a fresh token on every login, different from every other token', async () => {
      const u = await s.register('fresh');
      const other = await s.register('freshother');
      const tokens = [u.accessToken, other.accessToken];
      for (let i = 0; i < 4; i++) {
        const res = await s.http.post(LOGIN).send(passwordLogin('fresh', u.password));
        expect(res.status).toBe(200);
        tokens.push(res.body.access_token);
      }
      for (let i = 0; i < 2; i++) {
        const res = await s.http.post(LOGIN).send(passwordLogin('fresh', u.password, { device_id: 'SAME' }));
        tokens.push(res.body.access_token);
      }
      expect(new Set(tokens).size).toBe(tokens.length);
    });

    it('does not hand out another user\'s device: the same device_id for two users makes two devices', async () => {
      const a = await s.register('devowner1');
      const b = await s.register('devowner2');
      const la = await s.http.post(LOGIN).send(passwordLogin('devowner1', a.password, { device_id: 'SHARED' }));
      const lb = await s.http.post(LOGIN).send(passwordLogin('devowner2', b.password, { device_id: 'SHARED' }));
      expect(la.status).toBe(200);
      expect(lb.status).toBe(200);
      const whoA = await s.http.get(WHOAMI).set(tok(la.body.access_token));
      expect(whoA.status).toBe(200);
      expect(whoA.body.user_id).toBe('@devowner1:test.local');
      const whoB = await s.http.get(WHOAMI).set(tok(lb.body.access_token));
      expect(whoB.body.user_id).toBe('@devowner2:test.local');
    });

    it('refuses an empty device_id with 400 M_INVALID_PARAM', async () => {
      const u = await s.register('emptydev');
      const res = await s.http.post(LOGIN).send(passwordLogin('emptydev', u.password, { device_id: '' }));
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
    });
  });
});

describe('access tokens', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('answers a request without a token with 401 M_MISSING_TOKEN', async () => {
    const res = await s.http.get(WHOAMI);
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });

  it('answers an unknown token with 401 M_UNKNOWN_TOKEN', async () => {
    const res = await s.http.get(WHOAMI).set(tok('hth_not_a_real_token'));
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('accepts the token in the access_token query parameter', async () => {
    const u = await s.register('querytoken');
    const res = await s.http.get(WHOAMI).query({ access_token: u.accessToken });
    expect(res.status).toBe(200);
    expect(res.body.user_id).toBe('@querytoken:test.local');
  });

  it('answers an unknown token in the query with 401 M_UNKNOWN_TOKEN', async () => {
    const res = await s.http.get(WHOAMI).query({ access_token: 'nope' });
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });
});

describe('POST /logout and /logout/all', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  async function loginAgain(user: string, password: string, deviceId?: string): Promise<{ token: string; deviceId: string }> {
    const res = await s.http.post(LOGIN).send(passwordLogin(user, password, deviceId ? { device_id: deviceId } : {}));
    expect(res.status).toBe(200);
    return { token: res.body.access_token, deviceId: res.body.device_id };
  }

  it('revokes the caller\'s token and removes its device, leaving other devices alone', async () => {
    const u = await s.register('bye');
    const second = await loginAgain('bye', u.password);
    const out = await s.http.post('/_matrix/client/v3/logout').set(bearer(u)).send({});
    expect(out.status).toBe(200);
    expect(out.body).toEqual({});

    const after = await s.http.get(WHOAMI).set(bearer(u));
    expect(after.status).toBe(401);
    expect(after.body.errcode).toBe('M_UNKNOWN_TOKEN');

    const list = await s.http.get(DEVICES).set(tok(second.token));
    expect(list.status).toBe(200);
    expect(list.body.devices.map((d: { device_id: string }) => d.device_id)).toEqual([second.deviceId]);
  });

  it('answers a second logout with the same token with 401 M_UNKNOWN_TOKEN', async () => {
    const u = await s.register('byetwice');
    expect((await s.http.post('/_matrix/client/v3/logout').set(bearer(u))).status).toBe(200);
    const again = await s.http.post('/_matrix/client/v3/logout').set(bearer(u));
    expect(again.status).toBe(401);
    expect(again.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('refuses logout without a token with 401 M_MISSING_TOKEN', async () => {
    const res = await s.http.post('/_matrix/client/v3/logout');
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });

  it('revokes every token of the user with /logout/all, and only that user\'s', async () => {
    const u = await s.register('byeall');
    const other = await s.register('bystander');
    const second = await loginAgain('byeall', u.password);
    const third = await loginAgain('byeall', u.password);
    const out = await s.http.post('/_matrix/client/v3/logout/all').set(tok(second.token)).send({});
    expect(out.status).toBe(200);
    expect(out.body).toEqual({});
    for (const t of [u.accessToken, second.token, third.token]) {
      const res = await s.http.get(WHOAMI).set(tok(t));
      expect(res.status).toBe(401);
      expect(res.body.errcode).toBe('M_UNKNOWN_TOKEN');
    }
    const bystander = await s.http.get(WHOAMI).set(bearer(other));
    expect(bystander.status).toBe(200);
    // The account itself still works.
    const back = await loginAgain('byeall', u.password);
    const list = await s.http.get(DEVICES).set(tok(back.token));
    expect(list.body.devices.map((d: { device_id: string }) => d.device_id)).toEqual([back.deviceId]);
  });

  it('refuses /logout/all without a token with 401 M_MISSING_TOKEN', async () => {
    const res = await s.http.post('/_matrix/client/v3/logout/all');
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });

  it('lets a guest log out', async () => {
    const g = await s.http.post('/_matrix/client/v3/register').query({ kind: 'guest' }).send({});
    const out = await s.http.post('/_matrix/client/v3/logout').set(tok(g.body.access_token));
    expect(out.status).toBe(200);
    const after = await s.http.get(WHOAMI).set(tok(g.body.access_token));
    expect(after.status).toBe(401);
    expect(after.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });
});

describe('JWT login (org.matrix.login.jwt)', () => {
  const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';
  const s: TestServer = makeTestServer({
    jwt_login: { enabled: true, secret: SECRET, algorithm: 'HS256', issuer: 'https://issuer.example', audiences: ['hearth'] },
  });
  afterAll(() => s.close());
  const key = new TextEncoder().encode(SECRET);
  const nowSec = () => Math.floor(s.clock.now() / 1000);

  async function jwt(claims: { sub?: string; iss?: string; aud?: string; exp?: number }, signKey: Uint8Array = key): Promise<string> {
    let b = new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(nowSec());
    if (claims.sub !== undefined) b = b.setSubject(claims.sub);
    if (claims.iss !== undefined) b = b.setIssuer(claims.iss);
    if (claims.aud !== undefined) b = b.setAudience(claims.aud);
    b = b.setExpirationTime(claims.exp ?? nowSec() + 300);
    return b.sign(signKey);
  }
  const good = { iss: 'https://issuer.example', aud: 'hearth' };

  it('is advertised by GET /login when enabled', async () => {
    const res = await s.http.get(LOGIN);
    expect(res.status).toBe(200);
    expect(res.body.flows).toEqual([{ type: 'm.login.password' }, { type: JWT_TYPE }]);
  });

  it('logs in with a valid token, creating the user named by sub', async () => {
    const token = await jwt({ sub: 'jwtuser', ...good });
    const res = await s.http.post(LOGIN).send({ type: JWT_TYPE, token });
    expect(res.status).toBe(200);
    expect(res.body.user_id).toBe('@jwtuser:test.local');
    const who = await s.http.get(WHOAMI).set(tok(res.body.access_token));
    expect(who.status).toBe(200);
    expect(who.body.user_id).toBe('@jwtuser:test.local');
  });

  it('logs in an existing user named by a full user ID in sub', async () => {
    await s.register('jwtexisting');
    const token = await jwt({ sub: '@jwtexisting:test.local', ...good });
    const res = await s.http.post(LOGIN).send({ type: JWT_TYPE, token, device_id: 'JWTDEV' });
    expect(res.status).toBe(200);
    expect(res.body.user_id).toBe('@jwtexisting:test.local');
    expect(res.body.device_id).toBe('JWTDEV');
  });

  it('refuses an expired token with 403 M_FORBIDDEN', async () => {
    const token = await jwt({ sub: 'jwtexpired', ...good, exp: nowSec() - 60 });
    const res = await s.http.post(LOGIN).send({ type: JWT_TYPE, token });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('refuses a token that expires once the clock moves past exp', async () => {
    const token = await jwt({ sub: 'jwtlater', ...good, exp: nowSec() + 60 });
    s.clock.advance(61_000);
    const res = await s.http.post(LOGIN).send({ type: JWT_TYPE, token });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('refuses a token from the wrong issuer with 403 M_FORBIDDEN', async () => {
    const token = await jwt({ sub: 'jwtiss', iss: 'https://evil.example', aud: 'hearth' });
    const res = await s.http.post(LOGIN).send({ type: JWT_TYPE, token });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('refuses a token without an issuer when one is configured with 403 M_FORBIDDEN', async () => {
    const token = await jwt({ sub: 'jwtnoiss', aud: 'hearth' });
    const res = await s.http.post(LOGIN).send({ type: JWT_TYPE, token });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('refuses a token for the wrong audience with 403 M_FORBIDDEN', async () => {
    const token = await jwt({ sub: 'jwtaud', iss: 'https://issuer.example', aud: 'someone-else' });
    const res = await s.http.post(LOGIN).send({ type: JWT_TYPE, token });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('refuses a token signed with another key with 403 M_FORBIDDEN', async () => {
    const token = await jwt({ sub: 'jwtsig', ...good }, new TextEncoder().encode('another-secret-another-secret-another'));
    const res = await s.http.post(LOGIN).send({ type: JWT_TYPE, token });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect(await s.services.storage.accounts.getUser('@jwtsig:test.local')).toBeUndefined();
  });

  it('refuses a token without sub with 403 M_FORBIDDEN', async () => {
    const token = await jwt({ ...good });
    const res = await s.http.post(LOGIN).send({ type: JWT_TYPE, token });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('refuses a string that is not a JWT with 403 M_FORBIDDEN', async () => {
    const res = await s.http.post(LOGIN).send({ type: JWT_TYPE, token: 'not.a.jwt' });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('refuses a JWT login without a token with 400 M_MISSING_PARAM', async () => {
    const res = await s.http.post(LOGIN).send({ type: JWT_TYPE });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_MISSING_PARAM');
  });

  it('hands out a different access token for each JWT login', async () => {
    const a = await s.http.post(LOGIN).send({ type: JWT_TYPE, token: await jwt({ sub: 'jwttwice', ...good }) });
    const b = await s.http.post(LOGIN).send({ type: JWT_TYPE, token: await jwt({ sub: 'jwttwice', ...good }) });
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.body.access_token).not.toBe(b.body.access_token);
  });
});

describe('JWT login when disabled', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('is not advertised and a JWT login is refused with 400 M_UNKNOWN', async () => {
    const flows = await s.http.get(LOGIN);
    expect(flows.body.flows.map((f: { type: string }) => f.type)).not.toContain(JWT_TYPE);
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('x').sign(new TextEncoder().encode('whatever-secret'));
    const res = await s.http.post(LOGIN).send({ type: JWT_TYPE, token });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_UNKNOWN');
  });
});

describe('JWT login without configured audiences', () => {
  const SECRET = 'another-test-secret-long-enough-for-hs256';
  const s = makeTestServer({ jwt_login: { enabled: true, secret: SECRET } });
  afterAll(() => s.close());
  const key = new TextEncoder().encode(SECRET);

  it('accepts a token without aud and refuses one that has an aud with 403 M_FORBIDDEN', async () => {
    const exp = Math.floor(s.clock.now() / 1000) + 300;
    const plain = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('noaud').setExpirationTime(exp).sign(key);
    const ok = await s.http.post(LOGIN).send({ type: JWT_TYPE, token: plain });
    expect(ok.status).toBe(200);
    expect(ok.body.user_id).toBe('@noaud:test.local');
    const withAud = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('noaud').setAudience('x').setExpirationTime(exp).sign(key);
    const refused = await s.http.post(LOGIN).send({ type: JWT_TYPE, token: withAud });
    expect(refused.status).toBe(403);
    expect(refused.body.errcode).toBe('M_FORBIDDEN');
  });

  it.each([
    ['a space', 'bad name'],
    ['a leading underscore', '_reserved'],
    ['more than 255 bytes of user ID', 'a'.repeat(300)],
  ])('refuses a sub with %s (not a valid new localpart) with 400 M_INVALID_USERNAME', async (_what, sub) => {
    const exp = Math.floor(s.clock.now() / 1000) + 300;
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime(exp).sign(key);
    const res = await s.http.post(LOGIN).send({ type: JWT_TYPE, token });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_USERNAME');
  });
});

describe('login rate limiting', () => {
  it('answers 429 M_LIMIT_EXCEEDED with Retry-After and retry_after_ms after the burst, and lets requests through once time passes', async () => {
    const s = makeTestServer({ rate_limits: { enabled: true, login: { per_second: 0.1, burst: 2 } } });
    try {
      const u = await s.register('limited');
      expect((await s.http.post(LOGIN).send(passwordLogin('limited', u.password))).status).toBe(200);
      expect((await s.http.post(LOGIN).send(passwordLogin('limited', u.password))).status).toBe(200);
      const third = await s.http.post(LOGIN).send(passwordLogin('limited', u.password));
      expect(third.status).toBe(429);
      expect(third.body.errcode).toBe('M_LIMIT_EXCEEDED');
      expect(third.body.retry_after_ms).toBe(10_000);
      expect(third.headers['retry-after']).toBe('10');

      s.clock.advance(5_000);
      const stillEarly = await s.http.post(LOGIN).send(passwordLogin('limited', u.password));
      expect(stillEarly.status).toBe(429);
      expect(stillEarly.body.errcode).toBe('M_LIMIT_EXCEEDED');
      expect(stillEarly.body.retry_after_ms).toBe(5_000);
      expect(stillEarly.headers['retry-after']).toBe('5');

      s.clock.advance(5_000);
      const later = await s.http.post(LOGIN).send(passwordLogin('limited', u.password));
      expect(later.status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('limits failed logins per account: further attempts get 429 even with the right password until time passes', async () => {
    const s = makeTestServer({
      rate_limits: { enabled: true, login: { per_second: 100, burst: 100 }, failed_login: { per_second: 0.1, burst: 2 } },
    });
    try {
      const alice = await s.register('victim');
      const bob = await s.register('unaffected');
      for (let i = 0; i < 2; i++) {
        const res = await s.http.post(LOGIN).send(passwordLogin('victim', 'wrong password'));
        expect(res.status).toBe(403);
        expect(res.body.errcode).toBe('M_FORBIDDEN');
      }
      const blocked = await s.http.post(LOGIN).send(passwordLogin('victim', alice.password));
      expect(blocked.status).toBe(429);
      expect(blocked.body.errcode).toBe('M_LIMIT_EXCEEDED');
      expect(blocked.body.retry_after_ms).toBe(10_000);
      expect(blocked.headers['retry-after']).toBe('10');

      // Another account is not affected.
      const other = await s.http.post(LOGIN).send(passwordLogin('unaffected', bob.password));
      expect(other.status).toBe(200);

      s.clock.advance(10_000);
      const ok = await s.http.post(LOGIN).send(passwordLogin('victim', alice.password));
      expect(ok.status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('counts failed logins for the account however the user is named', async () => {
    const s = makeTestServer({
      rate_limits: { enabled: true, login: { per_second: 100, burst: 100 }, failed_login: { per_second: 0.1, burst: 2 } },
    });
    try {
      const u = await s.register('named');
      await s.http.post(LOGIN).send(passwordLogin('named', 'wrong password'));
      await s.http.post(LOGIN).send({ type: 'm.login.password', user: '@named:test.local', password: 'wrong password' });
      const blocked = await s.http.post(LOGIN).send(passwordLogin('NAMED', u.password));
      expect(blocked.status).toBe(429);
      expect(blocked.body.errcode).toBe('M_LIMIT_EXCEEDED');
    } finally {
      await s.close();
    }
  });

  it('does not limit logins when rate_limits.enabled is false', async () => {
    const s = makeTestServer({ rate_limits: { enabled: false, login: { per_second: 0.1, burst: 1 } } });
    try {
      const u = await s.register('unlimited');
      for (let i = 0; i < 4; i++) {
        const res = await s.http.post(LOGIN).send(passwordLogin('unlimited', u.password));
        expect(res.status).toBe(200);
      }
    } finally {
      await s.close();
    }
  });
});
