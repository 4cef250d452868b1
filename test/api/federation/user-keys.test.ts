// The end-to-end encryption keys of this server's users for other servers (matrix-spec:
// server-server/user_keys.yaml#queryUserEncryptionKeys, #claimUserEncryptionKeys;
// user_devices.yaml#getUserDevices), asked by a fake remote server with signed requests: local users
// only, what a server may see (the owner's signatures, no user-signing key), one-time keys handed out
// once then the fallback key, the device list with its stream position.
import { crossSigningKey, ed25519, oneTimeKeys, signedBy, testCrossSigning, testDevice } from '../../helpers/e2ee.js';
import { fakeDns, knownRemote, signedGet, signedPost, type RemoteServer } from '../../helpers/federation.js';
import { bearer, expectError, makeTestServer, type TestUser } from '../../helpers/server.js';

const C = '/_matrix/client/v3';
const F = '/_matrix/federation/v1';
const enc = encodeURIComponent;

describe('federation user keys', () => {
  const s = makeTestServer({ federation: { enabled: true } }, { federation: { dns: fakeDns() } });
  afterAll(() => s.close());
  let remote: RemoteServer;
  let alice: TestUser;
  let bob: TestUser;
  const aliceCs = { current: undefined as ReturnType<typeof testCrossSigning> | undefined };
  const aliceDevice = { current: undefined as ReturnType<typeof testDevice> | undefined };

  beforeAll(async () => {
    remote = await knownRemote(s, 'remote.test');
    alice = await s.register('alice');
    bob = await s.register('bob');
    const d = testDevice(alice.userId, alice.deviceId);
    aliceDevice.current = d;
    expect((await s.http.post(`${C}/keys/upload`).set(bearer(alice)).send({ device_keys: d.deviceKeys, one_time_keys: oneTimeKeys(d, 1), fallback_keys: { 'signed_curve25519:FB1': { key: 'ZmFsbGJhY2s', fallback: true, signatures: {} } } })).status).toBe(200);
    expect((await s.http.put(`${C}/devices/${alice.deviceId}`).set(bearer(alice)).send({ display_name: 'Alice\'s laptop' })).status).toBe(200);
    const cs = testCrossSigning(alice.userId);
    aliceCs.current = cs;
    expect((await s.http.post(`${C}/keys/device_signing/upload`).set(bearer(alice)).send(cs.body)).status).toBe(200);
    // bob signs alice's master key with his user-signing key: only bob may see that signature.
    const bobCs = testCrossSigning(bob.userId);
    expect((await s.http.post(`${C}/keys/device_signing/upload`).set(bearer(bob)).send(bobCs.body)).status).toBe(200);
    const signed = signedBy(cs.body.master_key, bob.userId, bobCs.userSigning);
    const up = await s.http.post(`${C}/keys/signatures/upload`).set(bearer(bob)).send({ [alice.userId]: { [cs.master.publicKeyBase64]: signed } });
    expect(up.body.failures).toEqual({});
  });

  describe('POST /_matrix/federation/v1/user/keys/query', () => {
    it('answers the device keys with their display names and the public cross-signing keys, without others\' signatures', async () => {
      const r = await signedPost(s, remote, `${F}/user/keys/query`, { device_keys: { [alice.userId]: [] } });
      expect(r.status).toBe(200);
      expect(r.body.device_keys[alice.userId][alice.deviceId]).toEqual({ ...aliceDevice.current!.deviceKeys, unsigned: { device_display_name: 'Alice\'s laptop' } });
      expect(r.body.master_keys[alice.userId]).toEqual(aliceCs.current!.body.master_key);
      expect(JSON.stringify(r.body.master_keys[alice.userId])).not.toContain(bob.userId);
      expect(r.body.self_signing_keys[alice.userId]).toEqual(aliceCs.current!.body.self_signing_key);
      expect(r.body.user_signing_keys).toBeUndefined();
    });

    it('answers only the devices asked for, and leaves unknown users and devices out', async () => {
      const r = await signedPost(s, remote, `${F}/user/keys/query`, { device_keys: { [alice.userId]: ['NOSUCHDEVICE'], '@nobody:test.local': [] } });
      expect(r.status).toBe(200);
      expect(r.body.device_keys).toEqual({ [alice.userId]: {}, '@nobody:test.local': {} });
    });

    it('refuses a user of another server with 400 M_INVALID_PARAM', async () => {
      expectError(await signedPost(s, remote, `${F}/user/keys/query`, { device_keys: { '@eve:remote.test': [] } }), 400, 'M_INVALID_PARAM');
      expectError(await signedPost(s, remote, `${F}/user/keys/query`, { device_keys: { 'not-a-user': [] } }), 400, 'M_INVALID_PARAM');
    });

    it('refuses a body without device_keys or with a malformed one', async () => {
      expectError(await signedPost(s, remote, `${F}/user/keys/query`, {}), 400, 'M_MISSING_PARAM');
      expectError(await signedPost(s, remote, `${F}/user/keys/query`, { device_keys: { [alice.userId]: 'all' } }), 400, 'M_BAD_JSON');
    });

    it('refuses an unsigned request with 401 M_UNAUTHORIZED', async () => {
      expectError(await s.http.post(`${F}/user/keys/query`).send({ device_keys: { [alice.userId]: [] } }), 401, 'M_UNAUTHORIZED');
    });
  });

  describe('POST /_matrix/federation/v1/user/keys/claim', () => {
    it('hands out the one-time key once, then the fallback key', async () => {
      const ask = { one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } } };
      const first = await signedPost(s, remote, `${F}/user/keys/claim`, ask);
      expect(first.status).toBe(200);
      expect(Object.keys(first.body.one_time_keys[alice.userId][alice.deviceId])).toEqual(['signed_curve25519:AAAA1']);
      const second = await signedPost(s, remote, `${F}/user/keys/claim`, ask);
      expect(second.body.one_time_keys[alice.userId][alice.deviceId]).toEqual({ 'signed_curve25519:FB1': { key: 'ZmFsbGJhY2s', fallback: true, signatures: {} } });
      expect(second.body.failures).toBeUndefined();
    });

    it('leaves out devices without keys', async () => {
      const r = await signedPost(s, remote, `${F}/user/keys/claim`, { one_time_keys: { [bob.userId]: { [bob.deviceId]: 'signed_curve25519' } } });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ one_time_keys: {} });
    });

    it('refuses a user of another server, and a malformed body', async () => {
      expectError(await signedPost(s, remote, `${F}/user/keys/claim`, { one_time_keys: { '@eve:remote.test': { D: 'signed_curve25519' } } }), 400, 'M_INVALID_PARAM');
      expectError(await signedPost(s, remote, `${F}/user/keys/claim`, {}), 400, 'M_MISSING_PARAM');
      expectError(await signedPost(s, remote, `${F}/user/keys/claim`, { one_time_keys: { [alice.userId]: { D: 5 } } }), 400, 'M_BAD_JSON');
    });
  });

  describe('GET /_matrix/federation/v1/user/devices/{userId}', () => {
    it('answers the devices with keys, the stream position of the latest change and the public cross-signing keys', async () => {
      const r = await signedGet(s, remote, `${F}/user/devices/${enc(alice.userId)}`);
      expect(r.status).toBe(200);
      expect(r.body).toEqual({
        user_id: alice.userId,
        stream_id: await s.services.storage.e2ee.latestDeviceListChange(alice.userId),
        devices: [{ device_id: alice.deviceId, keys: aliceDevice.current!.deviceKeys, device_display_name: 'Alice\'s laptop' }],
        master_key: aliceCs.current!.body.master_key,
        self_signing_key: aliceCs.current!.body.self_signing_key,
      });
    });

    it('moves stream_id on with each change', async () => {
      const before = (await signedGet(s, remote, `${F}/user/devices/${enc(alice.userId)}`)).body.stream_id as number;
      const ssk = ed25519();
      const body = { self_signing_key: crossSigningKey(alice.userId, 'self_signing', ssk, aliceCs.current!.master) };
      const up = await s.http.post(`${C}/keys/device_signing/upload`).set(bearer(alice)).send({ ...body, auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: alice.userId }, password: alice.password } });
      expect(up.status).toBe(200);
      const after = await signedGet(s, remote, `${F}/user/devices/${enc(alice.userId)}`);
      expect(after.body.stream_id).toBeGreaterThan(before);
      expect(after.body.self_signing_key).toEqual(body.self_signing_key);
    });

    it('answers an empty list for a local user without devices or an unknown one', async () => {
      const r = await signedGet(s, remote, `${F}/user/devices/${enc('@nobody:test.local')}`);
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ user_id: '@nobody:test.local', stream_id: 0, devices: [] });
    });

    it('refuses a user of another server, or no user ID, with 400 M_INVALID_PARAM', async () => {
      expectError(await signedGet(s, remote, `${F}/user/devices/${enc('@eve:remote.test')}`), 400, 'M_INVALID_PARAM');
      expectError(await signedGet(s, remote, `${F}/user/devices/nobody`), 400, 'M_INVALID_PARAM');
    });

    it('refuses an unsigned request with 401 M_UNAUTHORIZED', async () => {
      expectError(await s.http.get(`${F}/user/devices/${enc(alice.userId)}`), 401, 'M_UNAUTHORIZED');
    });
  });
});
