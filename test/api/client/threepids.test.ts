// Third-party identifiers (matrix-spec: administrative_contact.yaml): none are kept here.
import { bearer, expectError, makeTestServer, type TestUser } from '../../helpers/server.js';

const s = makeTestServer();
afterAll(() => s.close());

const C = '/_matrix/client/v3';
let u: TestUser;
beforeAll(async () => {
  u = await s.register('alice');
});

describe('/account/3pid', () => {
  it('GET answers an empty list (also under r0), and needs a token', async () => {
    for (const prefix of [C, '/_matrix/client/r0']) {
      const r = await s.http.get(`${prefix}/account/3pid`).set(bearer(u));
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ threepids: [] });
    }
    expectError(await s.http.get(`${C}/account/3pid`), 401, 'M_MISSING_TOKEN');
  });

  it('refuses to add or bind one (403 M_THREEPID_DENIED)', async () => {
    const creds = { client_secret: 'x', sid: 'y' };
    expectError(await s.http.post(`${C}/account/3pid`).set(bearer(u)).send({ three_pid_creds: creds }), 403, 'M_THREEPID_DENIED');
    expectError(await s.http.post(`${C}/account/3pid/add`).set(bearer(u)).send(creds), 403, 'M_THREEPID_DENIED');
    expectError(await s.http.post(`${C}/account/3pid/bind`).set(bearer(u)).send({ ...creds, id_server: 'id.example', id_access_token: 'z' }), 403, 'M_THREEPID_DENIED');
  });

  it('answers delete and unbind with M_THREEPID_NOT_FOUND, after checking the request', async () => {
    const body = { medium: 'email', address: 'a@example.org' };
    expectError(await s.http.post(`${C}/account/3pid/delete`).set(bearer(u)).send(body), 400, 'M_THREEPID_NOT_FOUND');
    expectError(await s.http.post(`${C}/account/3pid/unbind`).set(bearer(u)).send(body), 400, 'M_THREEPID_NOT_FOUND');
    expectError(await s.http.post(`${C}/account/3pid/delete`).set(bearer(u)).send({ medium: 'email' }), 400, 'M_MISSING_PARAM');
    expectError(await s.http.post(`${C}/account/3pid/delete`).set(bearer(u)).send({ medium: 'pigeon', address: 'x' }), 400, 'M_INVALID_PARAM');
  });

  it('refuses validation tokens (400 M_THREEPID_MEDIUM_NOT_SUPPORTED), with or without a token', async () => {
    const body = { client_secret: 'x', email: 'a@example.org', send_attempt: 1 };
    expectError(await s.http.post(`${C}/account/3pid/email/requestToken`).send(body), 400, 'M_THREEPID_MEDIUM_NOT_SUPPORTED');
    expectError(await s.http.post(`${C}/account/3pid/msisdn/requestToken`).set(bearer(u)).send({ client_secret: 'x', country: 'GB', phone_number: '1', send_attempt: 1 }), 400, 'M_THREEPID_MEDIUM_NOT_SUPPORTED');
  });
});
