import { verifyJsonSignature } from '../../../src/core/crypto/signing.js';
import { makeTestServer } from '../../helpers/server.js';

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
