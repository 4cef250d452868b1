// Synapse-compatible shared-secret registration: GET/POST /_synapse/admin/v1/register
// (Synapse admin API register_api: nonce, then HMAC-SHA1 over nonce\0username\0password\0admin|notadmin).
import { createHmac } from 'node:crypto';
import { makeTestServer, bearer, type TestServer } from '../../helpers/server.js';

const PATH = '/_synapse/admin/v1/register';
const SECRET = 'shared-secret-for-tests';
const PASSWORD = 'correct horse battery';

function mac(nonce: string, username: string, password: string, admin: boolean, userType?: string, secret = SECRET): string {
  const h = createHmac('sha1', secret);
  h.update(nonce).update('\x00').update(username).update('\x00').update(password).update('\x00').update(admin ? 'admin' : 'notadmin');
  if (userType !== undefined) h.update('\x00').update(userType);
  return h.digest('hex');
}

async function nonceOf(s: TestServer): Promise<string> {
  const res = await s.http.get(PATH);
  expect(res.status).toBe(200);
  return res.body.nonce;
}

describe('shared-secret registration', () => {
  const s = makeTestServer({ registration_shared_secret: SECRET });
  afterAll(() => s.close());

  it('hands out a nonce on GET, a different one each time', async () => {
    const a = await s.http.get(PATH);
    const b = await s.http.get(PATH);
    expect(a.status).toBe(200);
    expect(Object.keys(a.body)).toEqual(['nonce']);
    expect(typeof a.body.nonce).toBe('string');
    expect(a.body.nonce.length).toBeGreaterThanOrEqual(16);
    expect(a.body.nonce).not.toBe(b.body.nonce);
  });

  it('registers a normal user with a correct mac and returns working credentials', async () => {
    const nonce = await nonceOf(s);
    const res = await s.http.post(PATH).send({ nonce, username: 'plain', password: PASSWORD, admin: false, mac: mac(nonce, 'plain', PASSWORD, false) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      user_id: '@plain:test.local',
      access_token: expect.any(String),
      device_id: expect.any(String),
      home_server: 'test.local',
    });
    const who = await s.http.get('/_matrix/client/v3/account/whoami').set(bearer({ accessToken: res.body.access_token }));
    expect(who.status).toBe(200);
    expect(who.body).toEqual({ user_id: '@plain:test.local', device_id: res.body.device_id, is_guest: false });
    const auth = await s.services.tokens.authenticate(res.body.access_token);
    expect(auth.isAdmin).toBe(false);
  });

  it('treats a missing admin field as notadmin', async () => {
    const nonce = await nonceOf(s);
    const res = await s.http.post(PATH).send({ nonce, username: 'noadminfield', password: PASSWORD, mac: mac(nonce, 'noadminfield', PASSWORD, false) });
    expect(res.status).toBe(200);
    expect((await s.services.tokens.authenticate(res.body.access_token)).isAdmin).toBe(false);
  });

  it('creates a server admin with admin: true', async () => {
    const nonce = await nonceOf(s);
    const res = await s.http.post(PATH).send({ nonce, username: 'boss', password: PASSWORD, admin: true, mac: mac(nonce, 'boss', PASSWORD, true) });
    expect(res.status).toBe(200);
    expect(res.body.user_id).toBe('@boss:test.local');
    const auth = await s.services.tokens.authenticate(res.body.access_token);
    expect(auth.isAdmin).toBe(true);
    expect((await s.services.storage.accounts.getUser('@boss:test.local'))?.isAdmin).toBe(true);
  });

  it('lets the created user log in with the password', async () => {
    const nonce = await nonceOf(s);
    await s.http.post(PATH).send({ nonce, username: 'loginlater', password: PASSWORD, admin: false, mac: mac(nonce, 'loginlater', PASSWORD, false) });
    const login = await s.http.post('/_matrix/client/v3/login').send({ type: 'm.login.password', user: 'loginlater', password: PASSWORD });
    expect(login.status).toBe(200);
    expect(login.body.user_id).toBe('@loginlater:test.local');
  });

  it('sets the display name when given', async () => {
    const nonce = await nonceOf(s);
    const res = await s.http.post(PATH).send({
      nonce, username: 'withname', password: PASSWORD, admin: false, displayname: 'With Name', mac: mac(nonce, 'withname', PASSWORD, false),
    });
    expect(res.status).toBe(200);
    const profile = await s.http.get('/_matrix/client/v3/profile/@withname:test.local/displayname');
    expect(profile.body).toEqual({ displayname: 'With Name' });
  });

  it('includes user_type in the mac when given', async () => {
    const nonce = await nonceOf(s);
    const res = await s.http.post(PATH).send({
      nonce, username: 'typed', password: PASSWORD, admin: false, user_type: 'bot', mac: mac(nonce, 'typed', PASSWORD, false, 'bot'),
    });
    expect(res.status).toBe(200);
    const nonce2 = await nonceOf(s);
    const wrong = await s.http.post(PATH).send({
      nonce: nonce2, username: 'typed2', password: PASSWORD, admin: false, user_type: 'bot', mac: mac(nonce2, 'typed2', PASSWORD, false),
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body.errcode).toBe('M_FORBIDDEN');
  });

  it('refuses a wrong mac with 403 M_FORBIDDEN and creates nobody', async () => {
    const nonce = await nonceOf(s);
    const res = await s.http.post(PATH).send({ nonce, username: 'wrongmac', password: PASSWORD, admin: false, mac: mac(nonce, 'wrongmac', PASSWORD, false, undefined, 'not-the-secret') });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect(await s.services.storage.accounts.getUser('@wrongmac:test.local')).toBeUndefined();
  });

  it('refuses a mac computed for notadmin when admin: true is sent, with 403 M_FORBIDDEN', async () => {
    const nonce = await nonceOf(s);
    const res = await s.http.post(PATH).send({ nonce, username: 'escalate', password: PASSWORD, admin: true, mac: mac(nonce, 'escalate', PASSWORD, false) });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect(await s.services.storage.accounts.getUser('@escalate:test.local')).toBeUndefined();
  });

  it('refuses a mac for another password with 403 M_FORBIDDEN', async () => {
    const nonce = await nonceOf(s);
    const res = await s.http.post(PATH).send({ nonce, username: 'otherpw', password: PASSWORD, admin: false, mac: mac(nonce, 'otherpw', 'a different password', false) });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('refuses a mac that is not hex with 403 M_FORBIDDEN', async () => {
    const nonce = await nonceOf(s);
    const res = await s.http.post(PATH).send({ nonce, username: 'nothex', password: PASSWORD, admin: false, mac: 'zz-not-hex' });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('refuses a reused nonce with 400 M_UNKNOWN', async () => {
    const nonce = await nonceOf(s);
    const first = await s.http.post(PATH).send({ nonce, username: 'once1', password: PASSWORD, admin: false, mac: mac(nonce, 'once1', PASSWORD, false) });
    expect(first.status).toBe(200);
    const again = await s.http.post(PATH).send({ nonce, username: 'once2', password: PASSWORD, admin: false, mac: mac(nonce, 'once2', PASSWORD, false) });
    expect(again.status).toBe(400);
    expect(again.body.errcode).toBe('M_UNKNOWN');
    expect(await s.services.storage.accounts.getUser('@once2:test.local')).toBeUndefined();
  });

  it('uses up a nonce even when the mac was wrong', async () => {
    const nonce = await nonceOf(s);
    const bad = await s.http.post(PATH).send({ nonce, username: 'burned', password: PASSWORD, admin: false, mac: '00'.repeat(20) });
    expect(bad.status).toBe(403);
    expect(bad.body.errcode).toBe('M_FORBIDDEN');
    const retry = await s.http.post(PATH).send({ nonce, username: 'burned', password: PASSWORD, admin: false, mac: mac(nonce, 'burned', PASSWORD, false) });
    expect(retry.status).toBe(400);
    expect(retry.body.errcode).toBe('M_UNKNOWN');
  });

  it('refuses a nonce it never issued with 400 M_UNKNOWN', async () => {
    const nonce = 'made-up-nonce';
    const res = await s.http.post(PATH).send({ nonce, username: 'madeup', password: PASSWORD, admin: false, mac: mac(nonce, 'madeup', PASSWORD, false) });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_UNKNOWN');
  });

  it('refuses a nonce older than 60 seconds with 400 M_UNKNOWN', async () => {
    const nonce = await nonceOf(s);
    s.clock.advance(61_000);
    const res = await s.http.post(PATH).send({ nonce, username: 'stale', password: PASSWORD, admin: false, mac: mac(nonce, 'stale', PASSWORD, false) });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_UNKNOWN');
  });

  it('refuses a taken username with 400 M_USER_IN_USE', async () => {
    await s.register('alreadyhere');
    const nonce = await nonceOf(s);
    const res = await s.http.post(PATH).send({ nonce, username: 'alreadyhere', password: PASSWORD, admin: false, mac: mac(nonce, 'alreadyhere', PASSWORD, false) });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_USER_IN_USE');
  });

  it('refuses an invalid username with 400 M_INVALID_USERNAME', async () => {
    const nonce = await nonceOf(s);
    const res = await s.http.post(PATH).send({ nonce, username: 'bad name', password: PASSWORD, admin: false, mac: mac(nonce, 'bad name', PASSWORD, false) });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_USERNAME');
  });

  it('refuses a request without a mac with 400 M_MISSING_PARAM', async () => {
    const nonce = await nonceOf(s);
    const res = await s.http.post(PATH).send({ nonce, username: 'nomac', password: PASSWORD, admin: false });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_MISSING_PARAM');
  });

  it('refuses an admin field that is not a boolean with 400 M_BAD_JSON', async () => {
    const nonce = await nonceOf(s);
    const res = await s.http.post(PATH).send({ nonce, username: 'admintype', password: PASSWORD, admin: 'yes', mac: mac(nonce, 'admintype', PASSWORD, true) });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
  });

  it('works even when open registration is disabled', async () => {
    const closed = makeTestServer({ registration_shared_secret: SECRET, enable_registration: false });
    try {
      const nonce = await nonceOf(closed);
      const res = await closed.http.post(PATH).send({ nonce, username: 'viasecret', password: PASSWORD, admin: false, mac: mac(nonce, 'viasecret', PASSWORD, false) });
      expect(res.status).toBe(200);
      expect(res.body.user_id).toBe('@viasecret:test.local');
    } finally {
      await closed.close();
    }
  });
});

describe('shared-secret registration without a configured secret', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('refuses GET with 400 M_UNKNOWN', async () => {
    const res = await s.http.get(PATH);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_UNKNOWN');
    expect(res.body.nonce).toBeUndefined();
  });

  it('refuses POST with 400 M_UNKNOWN and creates nobody', async () => {
    const nonce = 'anything';
    const res = await s.http.post(PATH).send({ nonce, username: 'sneaky', password: PASSWORD, admin: true, mac: mac(nonce, 'sneaky', PASSWORD, true, undefined, '') });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_UNKNOWN');
    expect(await s.services.storage.accounts.getUser('@sneaky:test.local')).toBeUndefined();
  });
});
