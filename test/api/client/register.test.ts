// POST /_matrix/client/v3/register and GET /register/available
// (matrix-spec: registration.yaml#register, registration.yaml#checkUsernameAvailability).
import { makeTestServer, bearer } from '../../helpers/server.js';

const REGISTER = '/_matrix/client/v3/register';
const AVAILABLE = '/_matrix/client/v3/register/available';
const WHOAMI = '/_matrix/client/v3/account/whoami';
const PASSWORD = 'correct horse battery';
const DUMMY = { type: 'm.login.dummy' };

describe('POST /register', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  describe('user-interactive auth with m.login.dummy', () => {
    it('answers a first request without auth with 401, the dummy flow and a session, and no errcode', async () => {
      const res = await s.http.post(REGISTER).send({ username: 'uia1', password: PASSWORD });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        flows: [{ stages: ['m.login.dummy'] }],
        params: {},
        session: expect.any(String),
        completed: [],
      });
      expect(res.body.errcode).toBeUndefined();
      expect(res.body.session.length).toBeGreaterThan(0);
    });

    it('does not create the account before the auth flow is completed', async () => {
      const first = await s.http.post(REGISTER).send({ username: 'uia2', password: PASSWORD });
      expect(first.status).toBe(401);
      const avail = await s.http.get(AVAILABLE).query({ username: 'uia2' });
      expect(avail.status).toBe(200);
      expect(avail.body).toEqual({ available: true });
    });

    it('registers when the 401 round-trip is completed with the session', async () => {
      const first = await s.http.post(REGISTER).send({ username: 'uia3', password: PASSWORD });
      expect(first.status).toBe(401);
      const second = await s.http.post(REGISTER).send({
        username: 'uia3', password: PASSWORD, auth: { type: 'm.login.dummy', session: first.body.session },
      });
      expect(second.status).toBe(200);
      expect(second.body).toEqual({
        user_id: '@uia3:test.local',
        access_token: expect.any(String),
        device_id: expect.any(String),
        home_server: 'test.local',
      });
      const who = await s.http.get(WHOAMI).set(bearer({ accessToken: second.body.access_token }));
      expect(who.status).toBe(200);
      expect(who.body).toEqual({ user_id: '@uia3:test.local', device_id: second.body.device_id, is_guest: false });
    });

    it('gives each 401 challenge a different session', async () => {
      const a = await s.http.post(REGISTER).send({ username: 'uia4', password: PASSWORD });
      const b = await s.http.post(REGISTER).send({ username: 'uia4', password: PASSWORD });
      expect(a.status).toBe(401);
      expect(b.status).toBe(401);
      expect(a.body.session).not.toBe(b.body.session);
    });

    it('registers in one request when the first request already carries auth m.login.dummy', async () => {
      const res = await s.http.post(REGISTER).send({ username: 'direct', password: PASSWORD, auth: DUMMY });
      expect(res.status).toBe(200);
      expect(res.body.user_id).toBe('@direct:test.local');
      expect(res.body.home_server).toBe('test.local');
      expect(typeof res.body.access_token).toBe('string');
      expect(typeof res.body.device_id).toBe('string');
    });

    it('refuses a completed auth flow without a password with 400 M_MISSING_PARAM', async () => {
      const res = await s.http.post(REGISTER).send({ username: 'nopass', auth: DUMMY });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_MISSING_PARAM');
    });

    it('refuses an auth field that is not an object with 400 M_BAD_JSON', async () => {
      const res = await s.http.post(REGISTER).send({ username: 'badauth', password: PASSWORD, auth: 'm.login.dummy' });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_BAD_JSON');
    });
  });

  describe('usernames', () => {
    it('generates a valid localpart when no username is given', async () => {
      const res = await s.http.post(REGISTER).send({ password: PASSWORD, auth: DUMMY });
      expect(res.status).toBe(200);
      expect(res.body.user_id).toMatch(/^@[a-z0-9._=\-/+]+:test\.local$/);
      expect(res.body.user_id).not.toMatch(/^@\d+:/);
    });

    it('lower-cases an upper-case username', async () => {
      const res = await s.http.post(REGISTER).send({ username: 'MixedCase', password: PASSWORD, auth: DUMMY });
      expect(res.status).toBe(200);
      expect(res.body.user_id).toBe('@mixedcase:test.local');
    });

    it('accepts every character the spec allows in new localparts', async () => {
      const res = await s.http.post(REGISTER).send({ username: 'a.b_c=d-e/f+g9', password: PASSWORD, auth: DUMMY });
      expect(res.status).toBe(200);
      expect(res.body.user_id).toBe('@a.b_c=d-e/f+g9:test.local');
    });

    it.each([
      ['a space', 'bad name'],
      ['a colon', 'bad:name'],
      ['an @', 'bad@name'],
      ['an exclamation mark', 'bad!'],
      ['a non-ASCII letter', 'josé'],
      ['a hash', 'bad#name'],
    ])('refuses a username containing %s with 400 M_INVALID_USERNAME', async (_what, username) => {
      const res = await s.http.post(REGISTER).send({ username, password: PASSWORD, auth: DUMMY });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_USERNAME');
    });

    it('refuses an empty username with 400 M_INVALID_USERNAME', async () => {
      const res = await s.http.post(REGISTER).send({ username: '', password: PASSWORD, auth: DUMMY });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_USERNAME');
    });

    it('refuses a purely numeric username (reserved for guests) with 400 M_INVALID_USERNAME', async () => {
      const res = await s.http.post(REGISTER).send({ username: '12345', password: PASSWORD, auth: DUMMY });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_USERNAME');
    });

    it('refuses a username starting with an underscore with 400 M_INVALID_USERNAME', async () => {
      const res = await s.http.post(REGISTER).send({ username: '_reserved', password: PASSWORD, auth: DUMMY });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_USERNAME');
    });

    it('accepts a username whose full user ID is exactly 255 bytes', async () => {
      // '@' + localpart + ':test.local' = 1 + 243 + 11 = 255
      const username = 'l'.repeat(243);
      const res = await s.http.post(REGISTER).send({ username, password: PASSWORD, auth: DUMMY });
      expect(res.status).toBe(200);
      expect(Buffer.byteLength(res.body.user_id)).toBe(255);
    });

    it('refuses a username whose full user ID would exceed 255 bytes with 400 M_INVALID_USERNAME', async () => {
      const username = 'm'.repeat(244);
      const res = await s.http.post(REGISTER).send({ username, password: PASSWORD, auth: DUMMY });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_USERNAME');
    });

    it('refuses an invalid username before asking for auth', async () => {
      const res = await s.http.post(REGISTER).send({ username: 'no spaces', password: PASSWORD });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_USERNAME');
    });

    it('refuses a taken username with 400 M_USER_IN_USE', async () => {
      await s.register('taken');
      const res = await s.http.post(REGISTER).send({ username: 'taken', password: PASSWORD, auth: DUMMY });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_USER_IN_USE');
    });

    it('treats a username differing only in case as taken (400 M_USER_IN_USE)', async () => {
      await s.register('casetaken');
      const res = await s.http.post(REGISTER).send({ username: 'CaseTaken', password: PASSWORD, auth: DUMMY });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_USER_IN_USE');
    });

    it('reports a taken username before asking for auth', async () => {
      await s.register('takenearly');
      const res = await s.http.post(REGISTER).send({ username: 'takenearly', password: PASSWORD });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_USER_IN_USE');
    });
  });

  describe('password policy', () => {
    const strict = makeTestServer({ password_min_length: 12 });
    afterAll(() => strict.close());

    it('refuses a password shorter than password_min_length with 400 M_WEAK_PASSWORD', async () => {
      const res = await strict.http.post(REGISTER).send({ username: 'weak', password: 'a'.repeat(11), auth: DUMMY });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_WEAK_PASSWORD');
      const avail = await strict.http.get(AVAILABLE).query({ username: 'weak' });
      expect(avail.status).toBe(200);
    });

    it('accepts a password of exactly password_min_length characters', async () => {
      const res = await strict.http.post(REGISTER).send({ username: 'strong', password: 'a'.repeat(12), auth: DUMMY });
      expect(res.status).toBe(200);
      expect(res.body.user_id).toBe('@strong:test.local');
    });

    it('checks the password before asking for auth', async () => {
      const res = await strict.http.post(REGISTER).send({ username: 'weak2', password: 'short' });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_WEAK_PASSWORD');
    });

    it('uses the default minimum of 8 characters', async () => {
      const bad = await s.http.post(REGISTER).send({ username: 'sevenchars', password: '1234567', auth: DUMMY });
      expect(bad.status).toBe(400);
      expect(bad.body.errcode).toBe('M_WEAK_PASSWORD');
      const ok = await s.http.post(REGISTER).send({ username: 'eightchars', password: '12345678', auth: DUMMY });
      expect(ok.status).toBe(200);
    });
  });

  describe('login options', () => {
    it('returns neither access_token nor device_id with inhibit_login, and the account can log in later', async () => {
      const res = await s.http.post(REGISTER).send({ username: 'inhibited', password: PASSWORD, inhibit_login: true, auth: DUMMY });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ user_id: '@inhibited:test.local', home_server: 'test.local' });
      const login = await s.http.post('/_matrix/client/v3/login').send({
        type: 'm.login.password', identifier: { type: 'm.id.user', user: 'inhibited' }, password: PASSWORD,
      });
      expect(login.status).toBe(200);
      expect(login.body.user_id).toBe('@inhibited:test.local');
    });

    it('creates no device with inhibit_login', async () => {
      await s.http.post(REGISTER).send({ username: 'inhibited2', password: PASSWORD, inhibit_login: true, auth: DUMMY });
      const devices = await s.services.devices.list('@inhibited2:test.local');
      expect(devices).toEqual([]);
    });

    it('uses the given device_id and initial_device_display_name, visible in GET /devices', async () => {
      const res = await s.http.post(REGISTER).send({
        username: 'withdevice', password: PASSWORD, device_id: 'MYPHONE', initial_device_display_name: 'My phone', auth: DUMMY,
      });
      expect(res.status).toBe(200);
      expect(res.body.device_id).toBe('MYPHONE');
      const list = await s.http.get('/_matrix/client/v3/devices').set(bearer({ accessToken: res.body.access_token }));
      expect(list.status).toBe(200);
      expect(list.body.devices).toHaveLength(1);
      expect(list.body.devices[0]).toMatchObject({ device_id: 'MYPHONE', display_name: 'My phone' });
    });

    it('tolerates refresh_token: true and still issues a plain access token', async () => {
      const res = await s.http.post(REGISTER).send({ username: 'refresher', password: PASSWORD, refresh_token: true, auth: DUMMY });
      expect(res.status).toBe(200);
      expect(typeof res.body.access_token).toBe('string');
      expect(res.body.refresh_token).toBeUndefined();
      const who = await s.http.get(WHOAMI).set(bearer({ accessToken: res.body.access_token }));
      expect(who.status).toBe(200);
    });

    it('refuses a refresh_token that is not a boolean with 400 M_BAD_JSON', async () => {
      const res = await s.http.post(REGISTER).send({ username: 'refresher2', password: PASSWORD, refresh_token: 'yes', auth: DUMMY });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_BAD_JSON');
    });

    it('refuses a username that is not a string with 400 M_BAD_JSON', async () => {
      const res = await s.http.post(REGISTER).send({ username: 42, password: PASSWORD, auth: DUMMY });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_BAD_JSON');
    });

    it('issues a different access token for every registration', async () => {
      const tokens = new Set<string>();
      for (let i = 0; i < 5; i++) tokens.add((await s.register(`distinct${i}`)).accessToken);
      expect(tokens.size).toBe(5);
    });
  });

  describe('kind=guest', () => {
    it('registers a guest without user-interactive auth, with a numeric localpart', async () => {
      const res = await s.http.post(REGISTER).query({ kind: 'guest' }).send({});
      expect(res.status).toBe(200);
      expect(res.body.user_id).toMatch(/^@\d+:test\.local$/);
      expect(typeof res.body.access_token).toBe('string');
      expect(typeof res.body.device_id).toBe('string');
    });

    it('makes whoami report is_guest: true', async () => {
      const res = await s.http.post(REGISTER).query({ kind: 'guest' }).send({});
      const who = await s.http.get(WHOAMI).set(bearer({ accessToken: res.body.access_token }));
      expect(who.status).toBe(200);
      expect(who.body).toEqual({ user_id: res.body.user_id, device_id: res.body.device_id, is_guest: true });
    });

    it('gives each guest its own user ID', async () => {
      const a = await s.http.post(REGISTER).query({ kind: 'guest' }).send({});
      const b = await s.http.post(REGISTER).query({ kind: 'guest' }).send({});
      expect(a.body.user_id).not.toBe(b.body.user_id);
    });

    it('refuses a guest a password change with 403 M_GUEST_ACCESS_FORBIDDEN', async () => {
      const res = await s.http.post(REGISTER).query({ kind: 'guest' }).send({});
      const change = await s.http.post('/_matrix/client/v3/account/password')
        .set(bearer({ accessToken: res.body.access_token }))
        .send({ new_password: 'a new password here' });
      expect(change.status).toBe(403);
      expect(change.body.errcode).toBe('M_GUEST_ACCESS_FORBIDDEN');
    });

    it('refuses a guest deactivation with 403 M_GUEST_ACCESS_FORBIDDEN', async () => {
      const res = await s.http.post(REGISTER).query({ kind: 'guest' }).send({});
      const deact = await s.http.post('/_matrix/client/v3/account/deactivate')
        .set(bearer({ accessToken: res.body.access_token }))
        .send({});
      expect(deact.status).toBe(403);
      expect(deact.body.errcode).toBe('M_GUEST_ACCESS_FORBIDDEN');
    });

    it('does not let a guest log in with a password (403 M_FORBIDDEN)', async () => {
      const res = await s.http.post(REGISTER).query({ kind: 'guest' }).send({ password: PASSWORD });
      expect(res.status).toBe(200);
      const login = await s.http.post('/_matrix/client/v3/login').send({
        type: 'm.login.password', identifier: { type: 'm.id.user', user: res.body.user_id }, password: PASSWORD,
      });
      expect(login.status).toBe(403);
      expect(login.body.errcode).toBe('M_FORBIDDEN');
    });

    it('refuses an unknown kind with 400 M_INVALID_PARAM', async () => {
      const res = await s.http.post(REGISTER).query({ kind: 'robot' }).send({ username: 'robot', password: PASSWORD, auth: DUMMY });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
    });

    it('refuses guests with 403 M_FORBIDDEN when allow_guest_access is false', async () => {
      const noGuests = makeTestServer({ allow_guest_access: false });
      try {
        const res = await noGuests.http.post(REGISTER).query({ kind: 'guest' }).send({});
        expect(res.status).toBe(403);
        expect(res.body.errcode).toBe('M_FORBIDDEN');
      } finally {
        await noGuests.close();
      }
    });
  });
});

describe('POST /register with enable_registration: false', () => {
  const s = makeTestServer({ enable_registration: false });
  afterAll(() => s.close());

  it('refuses a registration that carries auth with 403 M_FORBIDDEN', async () => {
    const res = await s.http.post(REGISTER).send({ username: 'closed', password: PASSWORD, auth: DUMMY });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('refuses a first request with 403 M_FORBIDDEN instead of offering auth flows', async () => {
    const res = await s.http.post(REGISTER).send({ username: 'closed', password: PASSWORD });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect(res.body.flows).toBeUndefined();
  });

  it('creates no account', async () => {
    await s.http.post(REGISTER).send({ username: 'closed2', password: PASSWORD, auth: DUMMY });
    expect(await s.services.storage.accounts.getUser('@closed2:test.local')).toBeUndefined();
  });
});

describe('GET /register/available', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('answers 200 available: true for a free, valid username', async () => {
    const res = await s.http.get(AVAILABLE).query({ username: 'free' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ available: true });
  });

  it('answers 400 M_USER_IN_USE for a taken username', async () => {
    await s.register('occupied');
    const res = await s.http.get(AVAILABLE).query({ username: 'occupied' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_USER_IN_USE');
  });

  it('answers 400 M_USER_IN_USE for a taken username in other case', async () => {
    await s.register('occupied2');
    const res = await s.http.get(AVAILABLE).query({ username: 'OCCUPIED2' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_USER_IN_USE');
  });

  it('answers 400 M_INVALID_USERNAME for an invalid username', async () => {
    const res = await s.http.get(AVAILABLE).query({ username: 'not valid!' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_USERNAME');
  });

  it('answers 400 M_INVALID_USERNAME for a numeric username', async () => {
    const res = await s.http.get(AVAILABLE).query({ username: '999' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_USERNAME');
  });

  it('answers 400 M_MISSING_PARAM without a username', async () => {
    const res = await s.http.get(AVAILABLE);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_MISSING_PARAM');
  });

  it('needs no access token', async () => {
    const res = await s.http.get(AVAILABLE).query({ username: 'anon' });
    expect(res.status).toBe(200);
  });
});

describe('registration rate limiting', () => {
  const limited = () => makeTestServer({ rate_limits: { enabled: true, registration: { per_second: 0.1, burst: 2 } } });

  it('answers 429 M_LIMIT_EXCEEDED with Retry-After and retry_after_ms once the burst is used, and lets requests through after waiting', async () => {
    const s = limited();
    try {
      for (const name of ['rl1', 'rl2']) {
        const first = await s.http.post(REGISTER).send({ username: name, password: PASSWORD });
        expect(first.status).toBe(401);
        const done = await s.http.post(REGISTER).send({ username: name, password: PASSWORD, auth: { type: 'm.login.dummy', session: first.body.session } });
        expect(done.status).toBe(200);
      }
      const third = await s.http.post(REGISTER).send({ username: 'rl3', password: PASSWORD });
      expect(third.status).toBe(429);
      expect(third.body.errcode).toBe('M_LIMIT_EXCEEDED');
      expect(third.body.retry_after_ms).toBe(10_000);
      expect(third.headers['retry-after']).toBe('10');
      s.clock.advance(10_000);
      const later = await s.http.post(REGISTER).send({ username: 'rl3', password: PASSWORD });
      expect(later.status).toBe(401);
    } finally {
      await s.close();
    }
  });

  it('counts registrations whose first request already carries auth', async () => {
    const s = limited();
    try {
      const a = await s.http.post(REGISTER).send({ username: 'direct1', password: PASSWORD, auth: DUMMY });
      const b = await s.http.post(REGISTER).send({ username: 'direct2', password: PASSWORD, auth: DUMMY });
      expect(a.status).toBe(200);
      expect(b.status).toBe(200);
      const c = await s.http.post(REGISTER).send({ username: 'direct3', password: PASSWORD, auth: DUMMY });
      expect(c.status).toBe(429);
      expect(c.body.errcode).toBe('M_LIMIT_EXCEEDED');
      expect(await s.services.storage.accounts.getUser('@direct3:test.local')).toBeUndefined();
    } finally {
      await s.close();
    }
  });

  it('limits guest registrations too', async () => {
    const s = limited();
    try {
      expect((await s.http.post(REGISTER).query({ kind: 'guest' }).send({})).status).toBe(200);
      expect((await s.http.post(REGISTER).query({ kind: 'guest' }).send({})).status).toBe(200);
      const third = await s.http.post(REGISTER).query({ kind: 'guest' }).send({});
      expect(third.status).toBe(429);
      expect(third.body.errcode).toBe('M_LIMIT_EXCEEDED');
    } finally {
      await s.close();
    }
  });

  it('limits GET /register/available', async () => {
    const s = limited();
    try {
      expect((await s.http.get(AVAILABLE).query({ username: 'x1' })).status).toBe(200);
      expect((await s.http.get(AVAILABLE).query({ username: 'x2' })).status).toBe(200);
      const third = await s.http.get(AVAILABLE).query({ username: 'x3' });
      expect(third.status).toBe(429);
      expect(third.body.errcode).toBe('M_LIMIT_EXCEEDED');
      expect(third.headers['retry-after']).toBe('10');
    } finally {
      await s.close();
    }
  });
});
