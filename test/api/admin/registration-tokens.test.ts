// Registration tokens: the admin API (Synapse admin API: registration_tokens, GET/POST
// /_synapse/admin/v1/registration_tokens[/new], GET/PUT/DELETE .../{token}), the
// m.login.registration_token stage of POST /_matrix/client/v3/register with
// registration_requires_token, and GET /_matrix/client/v1/register/m.login.registration_token/validity
// (matrix-spec: client-server-api "Token-authenticated registration", registration_tokens.yaml).
import { makeTestServer, bearer, expectError, type TestServer, type TestUser } from '../../helpers/server.js';

const TOKENS = '/_synapse/admin/v1/registration_tokens';
const REGISTER = '/_matrix/client/v3/register';
const VALIDITY = '/_matrix/client/v1/register/m.login.registration_token/validity';

async function makeAdmin(s: TestServer, localpart: string): Promise<TestUser> {
  const u = await s.register(localpart);
  await s.services.accounts.setAdmin(u.userId, true);
  return u;
}

const FLOWS = [{ stages: ['m.login.registration_token', 'm.login.dummy'] }];

/** The token stage of a registration: the 401 challenge, then the token with its session. */
async function tokenStage(s: TestServer, username: string, token: string) {
  const first = await s.http.post(REGISTER).send({ username, password: 'correct horse battery' });
  expect(first.status).toBe(401);
  const res = await s.http.post(REGISTER).send({ username, password: 'correct horse battery', auth: { type: 'm.login.registration_token', token, session: first.body.session } });
  return { res, session: first.body.session as string };
}

/** A whole registration through the token flow: the token stage, then the dummy stage. */
async function registerWithToken(s: TestServer, username: string, token: string) {
  const { res, session } = await tokenStage(s, username, token);
  if (res.status !== 401 || res.body.errcode !== undefined) return res;
  expect(res.body.completed).toEqual(['m.login.registration_token']);
  return s.http.post(REGISTER).send({ username, password: 'correct horse battery', auth: { type: 'm.login.dummy', session } });
}

describe('registration tokens: admin API', () => {
  const s = makeTestServer();
  let root: TestUser;
  let plain: TestUser;
  afterAll(() => s.close());
  beforeAll(async () => {
    root = await makeAdmin(s, 'root');
    plain = await s.register('plain');
  });

  it('creates a token with defaults: 16 random characters, unlimited, no expiry', async () => {
    const res = await s.http.post(`${TOKENS}/new`).set(bearer(root)).send({});
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ token: expect.stringMatching(/^[A-Za-z0-9._~-]{16}$/), uses_allowed: null, pending: 0, completed: 0, expiry_time: null });
  });

  it('creates a named token, a random one of a given length, reads, lists, updates and deletes them', async () => {
    const named = await s.http.post(`${TOKENS}/new`).set(bearer(root)).send({ token: 'defg', uses_allowed: 1 });
    expect(named.body).toEqual({ token: 'defg', uses_allowed: 1, pending: 0, completed: 0, expiry_time: null });
    const short = await s.http.post(`${TOKENS}/new`).set(bearer(root)).send({ length: 5 });
    expect(short.body.token).toHaveLength(5);
    expect((await s.http.get(`${TOKENS}/defg`).set(bearer(root))).body).toEqual(named.body);
    const expiry = s.clock.now() + 3_600_000;
    const updated = await s.http.put(`${TOKENS}/defg`).set(bearer(root)).send({ expiry_time: expiry });
    expect(updated.body).toEqual({ token: 'defg', uses_allowed: 1, pending: 0, completed: 0, expiry_time: expiry });
    expect((await s.http.put(`${TOKENS}/defg`).set(bearer(root)).send({ uses_allowed: null })).body.uses_allowed).toBeNull();
    const list = await s.http.get(TOKENS).set(bearer(root));
    expect(list.body.registration_tokens.map((t: { token: string }) => t.token)).toEqual(expect.arrayContaining(['defg', short.body.token]));
    expect((await s.http.delete(`${TOKENS}/defg`).set(bearer(root))).body).toEqual({});
    expectError(await s.http.get(`${TOKENS}/defg`).set(bearer(root)), 404, 'M_NOT_FOUND');
    expectError(await s.http.delete(`${TOKENS}/defg`).set(bearer(root)), 404, 'M_NOT_FOUND');
    expectError(await s.http.put(`${TOKENS}/defg`).set(bearer(root)).send({ uses_allowed: 2 }), 404, 'M_NOT_FOUND');
  });

  it('lists only valid or only invalid tokens with ?valid=', async () => {
    await s.http.post(`${TOKENS}/new`).set(bearer(root)).send({ token: 'used-up', uses_allowed: 0 }).expect(200);
    await s.http.post(`${TOKENS}/new`).set(bearer(root)).send({ token: 'expiring', expiry_time: s.clock.now() + 1000 }).expect(200);
    await s.http.post(`${TOKENS}/new`).set(bearer(root)).send({ token: 'fine' }).expect(200);
    s.clock.advance(1000);
    const names = async (valid: string) => (await s.http.get(TOKENS).query({ valid }).set(bearer(root))).body.registration_tokens.map((t: { token: string }) => t.token);
    expect(await names('false')).toEqual(expect.arrayContaining(['used-up', 'expiring']));
    expect(await names('false')).not.toContain('fine');
    expect(await names('true')).toContain('fine');
    expect(await names('true')).not.toContain('used-up');
  });

  it('refuses bad tokens, lengths, uses and expiry times (400), a taken token, and non-admins (403)', async () => {
    expectError(await s.http.post(`${TOKENS}/new`).set(bearer(root)).send({ token: 'has space' }), 400, 'M_INVALID_PARAM');
    expectError(await s.http.post(`${TOKENS}/new`).set(bearer(root)).send({ token: 'x'.repeat(65) }), 400, 'M_INVALID_PARAM');
    expectError(await s.http.post(`${TOKENS}/new`).set(bearer(root)).send({ length: 65 }), 400, 'M_INVALID_PARAM');
    expectError(await s.http.post(`${TOKENS}/new`).set(bearer(root)).send({ uses_allowed: -1 }), 400, 'M_INVALID_PARAM');
    expectError(await s.http.post(`${TOKENS}/new`).set(bearer(root)).send({ uses_allowed: 'many' }), 400, 'M_INVALID_PARAM');
    expectError(await s.http.post(`${TOKENS}/new`).set(bearer(root)).send({ expiry_time: s.clock.now() - 1 }), 400, 'M_INVALID_PARAM');
    await s.http.post(`${TOKENS}/new`).set(bearer(root)).send({ token: 'taken' }).expect(200);
    expectError(await s.http.post(`${TOKENS}/new`).set(bearer(root)).send({ token: 'taken' }), 400, 'M_INVALID_PARAM');
    expectError(await s.http.post(`${TOKENS}/new`).set(bearer(plain)).send({}), 403, 'M_FORBIDDEN');
    expectError(await s.http.get(TOKENS).set(bearer(plain)), 403, 'M_FORBIDDEN');
    expectError(await s.http.get(TOKENS), 401, 'M_MISSING_TOKEN');
  });
});

describe('registration_requires_token: the m.login.registration_token stage', () => {
  const s = makeTestServer({ registration_requires_token: true });
  let root: TestUser;
  afterAll(() => s.close());
  beforeAll(async () => {
    // The first admin comes from the admin API (registration needs a token now).
    await s.services.registration.createUser({ localpart: 'root', password: 'correct horse battery', admin: true });
    const login = await s.http.post('/_matrix/client/v3/login').send({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'root' }, password: 'correct horse battery' });
    root = { userId: login.body.user_id, accessToken: login.body.access_token, deviceId: login.body.device_id, password: 'correct horse battery' };
  });

  it('offers the token flow (token, then dummy, as Synapse): the dummy stage alone does not register', async () => {
    const first = await s.http.post(REGISTER).send({ username: 'nodummy', password: 'correct horse battery' });
    expect(first.status).toBe(401);
    expect(first.body.flows).toEqual(FLOWS);
    const dummy = await s.http.post(REGISTER).send({ username: 'nodummy', password: 'correct horse battery', auth: { type: 'm.login.dummy', session: first.body.session } });
    expect(dummy.status).toBe(401);
    expect(dummy.body).toMatchObject({ flows: FLOWS, completed: ['m.login.dummy'] });
    expect(await s.services.storage.accounts.getUser('@nodummy:test.local')).toBeUndefined();
  });

  it('registers with a valid token; completed counts it; uses_allowed is never exceeded', async () => {
    await s.http.post(`${TOKENS}/new`).set(bearer(root)).send({ token: 'once', uses_allowed: 1 }).expect(200);
    const ok = await registerWithToken(s, 'withtoken', 'once');
    expect(ok.status).toBe(200);
    expect(ok.body.user_id).toBe('@withtoken:test.local');
    expect((await s.http.get(`${TOKENS}/once`).set(bearer(root))).body).toMatchObject({ pending: 0, completed: 1 });
    const again = await registerWithToken(s, 'secondtry', 'once');
    expectError(again, 401, 'M_FORBIDDEN');
    expect(again.body.flows).toEqual(FLOWS);
  });

  it('refuses an unknown or expired token (401 M_FORBIDDEN with the challenge)', async () => {
    expectError(await registerWithToken(s, 'unknowntoken', 'nope'), 401, 'M_FORBIDDEN');
    await s.http.post(`${TOKENS}/new`).set(bearer(root)).send({ token: 'brief', expiry_time: s.clock.now() + 10 }).expect(200);
    s.clock.advance(10);
    expectError(await registerWithToken(s, 'latetoken', 'brief'), 401, 'M_FORBIDDEN');
  });

  it('counts a use as pending from the token stage until the registration completes; pending uses count against uses_allowed', async () => {
    await s.http.post(`${TOKENS}/new`).set(bearer(root)).send({ token: 'single', uses_allowed: 1 }).expect(200);
    const { res, session } = await tokenStage(s, 'pending1', 'single');
    expect(res.status).toBe(401);
    expect(res.body.completed).toEqual(['m.login.registration_token']);
    expect((await s.http.get(`${TOKENS}/single`).set(bearer(root))).body).toMatchObject({ pending: 1, completed: 0 });
    expect((await s.http.get(VALIDITY).query({ token: 'single' })).body).toEqual({ valid: false });
    // Someone else cannot take the last use meanwhile.
    expectError((await tokenStage(s, 'pending2', 'single')).res, 401, 'M_FORBIDDEN');
    const done = await s.http.post(REGISTER).send({ username: 'pending1', password: 'correct horse battery', auth: { type: 'm.login.dummy', session } });
    expect(done.status).toBe(200);
    expect((await s.http.get(`${TOKENS}/single`).set(bearer(root))).body).toMatchObject({ pending: 0, completed: 1 });
  });

  it('gives the pending use back when the session expires unfinished', async () => {
    await s.http.post(`${TOKENS}/new`).set(bearer(root)).send({ token: 'abandoned', uses_allowed: 1 }).expect(200);
    expect((await tokenStage(s, 'quitter', 'abandoned')).res.status).toBe(401);
    expect((await s.http.get(`${TOKENS}/abandoned`).set(bearer(root))).body).toMatchObject({ pending: 1 });
    s.clock.advance(15 * 60 * 1000); // the UIA session lifetime
    expect((await s.http.get(`${TOKENS}/abandoned`).set(bearer(root))).body).toMatchObject({ pending: 0, completed: 0 });
    expect((await registerWithToken(s, 'latecomer', 'abandoned')).status).toBe(200);
  });

  it('validity: true for a usable token, false for unknown, used-up or malformed ones; no token needed', async () => {
    await s.http.post(`${TOKENS}/new`).set(bearer(root)).send({ token: 'valid-one' }).expect(200);
    expect((await s.http.get(VALIDITY).query({ token: 'valid-one' })).body).toEqual({ valid: true });
    expect((await s.http.get(VALIDITY).query({ token: 'once' })).body).toEqual({ valid: false });
    expect((await s.http.get(VALIDITY).query({ token: 'never-made' })).body).toEqual({ valid: false });
    expect((await s.http.get(VALIDITY).query({ token: 'bad token!' })).body).toEqual({ valid: false });
    expectError(await s.http.get(VALIDITY), 400, 'M_MISSING_PARAM');
  });
});

describe('registration tokens when registration is closed or open', () => {
  it('validity answers 403 M_FORBIDDEN when registration is disabled', async () => {
    const s = makeTestServer({ enable_registration: false });
    try {
      expectError(await s.http.get(VALIDITY).query({ token: 'x' }), 403, 'M_FORBIDDEN');
    } finally {
      await s.close();
    }
  });

  it('without registration_requires_token the dummy flow stays and tokens are not asked for', async () => {
    const s = makeTestServer();
    try {
      const first = await s.http.post(REGISTER).send({ username: 'open', password: 'correct horse battery' });
      expect(first.body.flows).toEqual([{ stages: ['m.login.dummy'] }]);
      // The token stage is not offered: 401 M_UNRECOGNIZED.
      const token = await s.http.post(REGISTER).send({ username: 'open', password: 'correct horse battery', auth: { type: 'm.login.registration_token', token: 'x', session: first.body.session } });
      expectError(token, 401, 'M_UNRECOGNIZED');
    } finally {
      await s.close();
    }
  });

  it('rate-limits the validity check per client (429 M_LIMIT_EXCEEDED)', async () => {
    const s = makeTestServer({ rate_limits: { enabled: true, registration: { per_second: 0.001, burst: 2 } } });
    try {
      expect((await s.http.get(VALIDITY).query({ token: 'a' })).status).toBe(200);
      expect((await s.http.get(VALIDITY).query({ token: 'b' })).status).toBe(200);
      expectError(await s.http.get(VALIDITY).query({ token: 'c' }), 429, 'M_LIMIT_EXCEEDED');
    } finally {
      await s.close();
    }
  });
});
