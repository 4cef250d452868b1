// OpenID tokens for widgets and integrations (matrix-spec: openid.yaml#requestOpenIdToken;
// server-server openid.yaml#exchangeOpenIdToken): the client asks for a token, the integration
// server resolves it with GET /_matrix/federation/v1/openid/userinfo?access_token=.
import { hashToken } from '../../../src/core/accounts/tokens.js';
import { makeTestServer, bearer, expectError } from '../../helpers/server.js';

const enc = encodeURIComponent;
const request = (userId: string, prefix = 'v3') => `/_matrix/client/${prefix}/user/${enc(userId)}/openid/request_token`;
const USERINFO = '/_matrix/federation/v1/openid/userinfo';

describe('OpenID tokens', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('gives a Bearer token for an hour that userinfo resolves to the user (also under r0)', async () => {
    const u = await s.register('widgetuser');
    for (const prefix of ['v3', 'r0']) {
      const res = await s.http.post(request(u.userId, prefix)).set(bearer(u)).send({});
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', matrix_server_name: 'test.local', expires_in: 3600 });
      const info = await s.http.get(USERINFO).query({ access_token: res.body.access_token });
      expect(info.status).toBe(200);
      expect(info.body).toEqual({ sub: u.userId });
    }
  });

  it('stores only a hash, and the token is no access token', async () => {
    const u = await s.register('hashed');
    const res = await s.http.post(request(u.userId)).set(bearer(u)).send({});
    const token = res.body.access_token as string;
    expect(await s.services.storage.accounts.findOpenIdToken(hashToken(token), s.clock.now())).toBe(u.userId);
    expect(await s.services.storage.accounts.findOpenIdToken(token, s.clock.now())).toBeUndefined();
    expectError(await s.http.get('/_matrix/client/v3/account/whoami').set(bearer({ accessToken: token })), 401, 'M_UNKNOWN_TOKEN');
  });

  it('expires after an hour: userinfo then answers 401 M_UNKNOWN_TOKEN', async () => {
    const u = await s.register('expiring');
    const res = await s.http.post(request(u.userId)).set(bearer(u)).send({});
    s.clock.advance(3_600_000 - 1);
    expect((await s.http.get(USERINFO).query({ access_token: res.body.access_token })).status).toBe(200);
    s.clock.advance(1);
    expectError(await s.http.get(USERINFO).query({ access_token: res.body.access_token }), 401, 'M_UNKNOWN_TOKEN');
  });

  it('userinfo refuses unknown and missing tokens with 401 M_UNKNOWN_TOKEN', async () => {
    expectError(await s.http.get(USERINFO).query({ access_token: 'made-up' }), 401, 'M_UNKNOWN_TOKEN');
    expectError(await s.http.get(USERINFO), 401, 'M_UNKNOWN_TOKEN');
  });

  it('refuses a token for another user (403 M_FORBIDDEN), no access token (401 M_MISSING_TOKEN) and guests (403)', async () => {
    const a = await s.register('oida');
    const b = await s.register('oidb');
    expectError(await s.http.post(request(b.userId)).set(bearer(a)).send({}), 403, 'M_FORBIDDEN');
    expectError(await s.http.post(request(a.userId)).send({}), 401, 'M_MISSING_TOKEN');
    const g = await s.http.post('/_matrix/client/v3/register').query({ kind: 'guest' }).send({});
    expectError(await s.http.post(request(g.body.user_id)).set(bearer({ accessToken: g.body.access_token })).send({}), 403, 'M_GUEST_ACCESS_FORBIDDEN');
  });

  it('stops resolving when the account is deactivated', async () => {
    const u = await s.register('deactivated');
    const res = await s.http.post(request(u.userId)).set(bearer(u)).send({});
    expect((await s.http.get(USERINFO).query({ access_token: res.body.access_token })).body).toEqual({ sub: u.userId });
    await s.services.accounts.deactivateUser(u.userId);
    expectError(await s.http.get(USERINFO).query({ access_token: res.body.access_token }), 401, 'M_UNKNOWN_TOKEN');
  });
});
