// Inbound request authentication (matrix-spec: server-server-api "Request Authentication") on a
// route with auth 'federation' (PUT /_matrix/federation/v1/send/{txnId}): forged signatures, wrong
// destinations, origins outside the whitelist, malformed and missing headers, several keys.
import { SigningKey } from '../../../src/core/crypto/signing.js';
import { requestJson, signRequest } from '../../../src/core/federation/x-matrix.js';
import { fakeDns, knownRemote, signedPut, type RemoteServer } from '../../helpers/federation.js';
import { expectError, makeTestServer } from '../../helpers/server.js';

const TXN = '/_matrix/federation/v1/send/t1';
const body = { origin: 'remote.test', origin_server_ts: 1, pdus: [] };

describe('federation request authentication', () => {
  const s = makeTestServer({ federation: { enabled: true, domain_whitelist: ['remote.test', 'other.test', 'nobody.test'] } }, { federation: { dns: fakeDns() } });
  let remote: RemoteServer;
  let other: RemoteServer;
  let stranger: RemoteServer;
  beforeAll(async () => {
    remote = await knownRemote(s, 'remote.test');
    other = await knownRemote(s, 'other.test');
    stranger = await knownRemote(s, 'stranger.test');
  });
  afterAll(() => s.close());

  it('accepts a request signed with the origin\'s key', async () => {
    const res = await signedPut(s, remote, TXN, body);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ pdus: {} });
  });

  it('refuses a forged signature with 401 M_UNAUTHORIZED', async () => {
    const forger = SigningKey.fromSeed(remote.key.keyId, Buffer.alloc(32, 9));
    const header = signRequest(requestJson('PUT', TXN, 'remote.test', 'test.local', body), forger);
    expectError(await s.http.put(TXN).set('Authorization', header).send(body), 401, 'M_UNAUTHORIZED');
  });

  it('refuses a signature over another body, path or method', async () => {
    const signedFor = remote.authorization('PUT', TXN, 'test.local', body);
    expectError(await s.http.put(TXN).set('Authorization', signedFor).send({ ...body, pdus: [{}] }), 401, 'M_UNAUTHORIZED');
    expectError(await s.http.put('/_matrix/federation/v1/send/t2').set('Authorization', signedFor).send(body), 401, 'M_UNAUTHORIZED');
  });

  it('refuses a request for another destination with 401 M_UNAUTHORIZED', async () => {
    expectError(await signedPut(s, remote, TXN, body, 'someone-else.test'), 401, 'M_UNAUTHORIZED');
  });

  it('accepts a request without destination (older servers), checked as if it named this server', async () => {
    const json = requestJson('PUT', '/_matrix/federation/v1/send/t3', 'remote.test', 'test.local', body);
    const sig = /sig="([^"]+)"/.exec(signRequest(json, remote.key))![1];
    const res = await s.http.put('/_matrix/federation/v1/send/t3').set('Authorization', `X-Matrix origin=remote.test,key="${remote.key.keyId}",sig="${sig}"`).send(body);
    expect(res.status).toBe(200);
  });

  it('refuses an origin outside federation.domain_whitelist with 403 M_FORBIDDEN', async () => {
    expectError(await signedPut(s, stranger, TXN, body), 403, 'M_FORBIDDEN');
  });

  it('refuses a request without X-Matrix authorization, or a malformed one, with 401 M_UNAUTHORIZED', async () => {
    expectError(await s.http.put(TXN).send(body), 401, 'M_UNAUTHORIZED');
    expectError(await s.http.put(TXN).set('Authorization', 'Bearer abc').send(body), 401, 'M_UNAUTHORIZED');
    expectError(await s.http.put(TXN).set('Authorization', 'X-Matrix origin="remote.test",key="ed25519:x"').send(body), 401, 'M_UNAUTHORIZED');
  });

  it('refuses a signature by a server whose keys cannot be had', async () => {
    const unknown = SigningKey.generate();
    const header = signRequest(requestJson('PUT', TXN, 'nobody.test', 'test.local', body), unknown);
    expectError(await s.http.put(TXN).set('Authorization', header).send(body), 401, 'M_UNAUTHORIZED');
  });

  // (supertest sends an array value as one header line each; its types only allow that for Cookie.)
  it('takes one header per key, and refuses headers that name different origins', async () => {
    const uri = '/_matrix/federation/v1/send/t4';
    const unknownKey = signRequest(requestJson('PUT', uri, 'remote.test', 'test.local', body), SigningKey.generate());
    const res = await s.http.put(uri).set('Authorization', [unknownKey, remote.authorization('PUT', uri, 'test.local', body)] as unknown as string).send(body);
    expect(res.status).toBe(200);
    const mixed = await s.http.put(uri).set('Authorization', [remote.authorization('PUT', uri, 'test.local', body), other.authorization('PUT', uri, 'test.local', body)] as unknown as string).send(body);
    expectError(mixed, 401, 'M_UNAUTHORIZED');
  });

  it('checks the request target exactly as sent, query included', async () => {
    const uri = '/_matrix/federation/v1/send/t%2F5?extra=a%20b';
    expect((await signedPut(s, remote, uri, body)).status).toBe(200);
    const header = remote.authorization('PUT', '/_matrix/federation/v1/send/t%2F5?extra=a+b', 'test.local', body);
    expectError(await s.http.put(uri).set('Authorization', header).send(body), 401, 'M_UNAUTHORIZED');
  });
});

describe('federation disabled', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('refuses signed federation requests with 403 M_FORBIDDEN, but still publishes its keys', async () => {
    const remote = await knownRemote(s, 'remote.test');
    expectError(await signedPut(s, remote, TXN, body), 403, 'M_FORBIDDEN');
    expect((await s.http.get('/_matrix/key/v2/server')).status).toBe(200);
  });
});
