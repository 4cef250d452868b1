import { verifyJsonSignature } from '../../../src/core/crypto/signing.js';
import { fakeDns, knownRemote, type RemoteServer } from '../../helpers/federation.js';
import { expectError, makeTestServer } from '../../helpers/server.js';

describe('GET /_matrix/key/v2/server', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('publishes the server ed25519 key, signed by itself, with valid_until_ts', async () => {
    const res = await s.http.get('/_matrix/key/v2/server');
    expect(res.status).toBe(200);
    expect(res.body.server_name).toBe('test.local');
    const keyIds = Object.keys(res.body.verify_keys);
    expect(keyIds).toHaveLength(1);
    const keyId = keyIds[0]!;
    expect(keyId).toMatch(/^ed25519:[A-Za-z0-9_]+$/);
    expect(res.body.valid_until_ts).toBeGreaterThan(s.clock.now());
    expect(verifyJsonSignature(res.body, 'test.local', keyId, res.body.verify_keys[keyId].key)).toBe(true);
    const tampered = { ...res.body, valid_until_ts: res.body.valid_until_ts + 1 };
    expect(verifyJsonSignature(tampered, 'test.local', keyId, res.body.verify_keys[keyId].key)).toBe(false);
  });

  it('keeps the same key across requests (persisted on first use)', async () => {
    const a = await s.http.get('/_matrix/key/v2/server');
    const b = await s.http.get('/_matrix/key/v2/server');
    expect(Object.keys(a.body.verify_keys)).toEqual(Object.keys(b.body.verify_keys));
    const stored = await s.services.storage.rooms.getSigningKey();
    expect(stored!.keyId).toBe(Object.keys(a.body.verify_keys)[0]);
  });

  it('signs room events with that key', async () => {
    const keyRes = await s.http.get('/_matrix/key/v2/server');
    const keyId = Object.keys(keyRes.body.verify_keys)[0]!;
    const alice = await s.register('keyalice');
    const c = await s.http.post('/_matrix/client/v3/createRoom').set({ Authorization: `Bearer ${alice.accessToken}` }).send({});
    const create = (await s.services.storage.rooms.getCurrentState(c.body.room_id)).find((e) => e.type === 'm.room.create')!;
    expect(Object.keys(create.signatures['test.local']!)).toEqual([keyId]);
  });
});

describe('GET /_matrix/key/v2/query/{serverName} and POST /_matrix/key/v2/query (notary)', () => {
  const s = makeTestServer({ federation: { enabled: true } }, { federation: { dns: fakeDns() } });
  let remote: RemoteServer;
  let own: { keyId: string; key: string };
  beforeAll(async () => {
    remote = await knownRemote(s, 'remote.test');
    const res = await s.http.get('/_matrix/key/v2/server');
    const keyId = Object.keys(res.body.verify_keys)[0]!;
    own = { keyId, key: res.body.verify_keys[keyId].key };
  });
  afterAll(() => s.close());

  it('serves a known remote server\'s keys as it signed them, signed by this server too', async () => {
    const res = await s.http.get('/_matrix/key/v2/query/remote.test');
    expect(res.status).toBe(200);
    expect(res.body.server_keys).toHaveLength(1);
    const [keys] = res.body.server_keys;
    expect(keys.server_name).toBe('remote.test');
    expect(keys.verify_keys).toEqual({ [remote.key.keyId]: { key: remote.key.publicKeyBase64 } });
    expect(verifyJsonSignature(keys, 'remote.test', remote.key.keyId, remote.key.publicKeyBase64)).toBe(true);
    expect(verifyJsonSignature(keys, 'test.local', own.keyId, own.key)).toBe(true);
  });

  it('serves its own keys', async () => {
    const res = await s.http.get('/_matrix/key/v2/query/test.local?minimum_valid_until_ts=1');
    expect(res.body.server_keys[0].server_name).toBe('test.local');
    expect(verifyJsonSignature(res.body.server_keys[0], 'test.local', own.keyId, own.key)).toBe(true);
  });

  it('answers an empty list for a server it cannot reach and knows nothing of', async () => {
    const res = await s.http.get('/_matrix/key/v2/query/unknown.test');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ server_keys: [] });
  });

  it('answers several servers in one POST, leaving out those it has nothing for', async () => {
    const res = await s.http.post('/_matrix/key/v2/query').send({ server_keys: {
      'remote.test': { [remote.key.keyId]: { minimum_valid_until_ts: s.clock.now() } },
      'test.local': {},
      'unknown.test': {},
    } });
    expect(res.status).toBe(200);
    expect(res.body.server_keys.map((k: { server_name: string }) => k.server_name).sort()).toEqual(['remote.test', 'test.local']);
    expect((await s.http.post('/_matrix/key/v2/query').send({ server_keys: {} })).body).toEqual({ server_keys: [] });
  });

  it('refuses a malformed query', async () => {
    expectError(await s.http.post('/_matrix/key/v2/query').send({ server_keys: [] }), 400, 'M_BAD_JSON');
    expectError(await s.http.get('/_matrix/key/v2/query/not%20a%20server'), 400, 'M_INVALID_PARAM');
    expectError(await s.http.get('/_matrix/key/v2/query/remote.test?minimum_valid_until_ts=soon'), 400, 'M_INVALID_PARAM');
  });
});
