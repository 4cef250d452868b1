// End-to-end encryption keys (matrix-spec: keys.yaml, cross_signing.yaml; client-server-api
// "End-to-End Encryption"): upload, query, claim, cross-signing keys and signatures, with real ed25519
// keys and signatures made in the test.
import { bearer, expectError, makeTestServer, type TestUser } from '../../helpers/server.js';
import { crossSigningKey, ed25519, oneTimeKeys, signedBy, testCrossSigning, testDevice, type TestDevice } from '../../helpers/e2ee.js';

const s = makeTestServer({ presence: { enabled: false } });
afterAll(() => s.close());

const C = '/_matrix/client/v3';
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

let n = 0;
const user = (name: string) => s.register(`${name}${++n}`);
const upload = (u: TestUser, body: object) => s.http.post(`${C}/keys/upload`).set(bearer(u)).send(body);
const query = (u: TestUser, deviceKeys: Json) => s.http.post(`${C}/keys/query`).set(bearer(u)).send({ device_keys: deviceKeys });
const claim = (u: TestUser, otks: Json) => s.http.post(`${C}/keys/claim`).set(bearer(u)).send({ one_time_keys: otks });
const signingUpload = (u: TestUser, body: object) => s.http.post(`${C}/keys/device_signing/upload`).set(bearer(u)).send(body);
const sigUpload = (u: TestUser, body: object) => s.http.post(`${C}/keys/signatures/upload`).set(bearer(u)).send(body);
const passwordAuth = (u: TestUser, session?: string) => ({ type: 'm.login.password', identifier: { type: 'm.id.user', user: u.userId }, password: u.password, ...(session ? { session } : {}) });

/** A user with device keys uploaded. */
async function withKeys(name: string): Promise<{ u: TestUser; d: TestDevice }> {
  const u = await user(name);
  const d = testDevice(u.userId, u.deviceId);
  const r = await upload(u, { device_keys: d.deviceKeys });
  expect(r.status).toBe(200);
  return { u, d };
}

async function secondDevice(u: TestUser, deviceId?: string): Promise<TestUser> {
  const r = await s.http.post(`${C}/login`).send({ type: 'm.login.password', identifier: { type: 'm.id.user', user: u.userId }, password: u.password, ...(deviceId ? { device_id: deviceId } : {}) });
  expect(r.status).toBe(200);
  return { ...u, accessToken: r.body.access_token, deviceId: r.body.device_id };
}

describe('POST /keys/upload', () => {
  it('stores signed device keys and one-time keys and answers the counts', async () => {
    const u = await user('alice');
    const d = testDevice(u.userId, u.deviceId);
    const r = await upload(u, { device_keys: d.deviceKeys, one_time_keys: oneTimeKeys(d, 5) });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ one_time_key_counts: { signed_curve25519: 5 } });
    const q = await query(u, { [u.userId]: [] });
    expect(q.body.device_keys[u.userId][u.deviceId]).toMatchObject({ ...d.deviceKeys });
  });

  it('answers signed_curve25519: 0 when nothing is uploaded, and counts per algorithm', async () => {
    const u = await user('alice');
    expect((await upload(u, {})).body).toEqual({ one_time_key_counts: { signed_curve25519: 0 } });
    const d = testDevice(u.userId, u.deviceId);
    const r = await upload(u, { one_time_keys: { ...oneTimeKeys(d, 2), 'curve25519:PLAIN': 'dGVzdGtleQ' } });
    expect(r.body).toEqual({ one_time_key_counts: { signed_curve25519: 2, curve25519: 1 } });
  });

  it('repeats an upload of the same one-time key without counting it twice', async () => {
    const u = await user('alice');
    const d = testDevice(u.userId, u.deviceId);
    const keys = oneTimeKeys(d, 3);
    await upload(u, { one_time_keys: keys });
    expect((await upload(u, { one_time_keys: keys })).body.one_time_key_counts.signed_curve25519).toBe(3);
  });

  it('refuses a one-time key ID uploaded again with another key', async () => {
    const u = await user('alice');
    const d = testDevice(u.userId, u.deviceId);
    await upload(u, { one_time_keys: oneTimeKeys(d, 1) });
    expectError(await upload(u, { one_time_keys: oneTimeKeys(d, 1) }), 400, 'M_INVALID_PARAM');
  });

  it('refuses device keys of another user or another device', async () => {
    const u = await user('alice');
    const other = await user('bob');
    expectError(await upload(u, { device_keys: testDevice(other.userId, u.deviceId).deviceKeys }), 400, 'M_INVALID_PARAM');
    expectError(await upload(u, { device_keys: testDevice(u.userId, 'OTHERDEVICE').deviceKeys }), 400, 'M_INVALID_PARAM');
  });

  it('refuses device keys that the device key did not sign', async () => {
    const u = await user('alice');
    const d = testDevice(u.userId, u.deviceId);
    const forged = { ...d.deviceKeys, algorithms: ['m.megolm.v1.aes-sha2'] };
    expectError(await upload(u, { device_keys: forged }), 400, 'M_INVALID_SIGNATURE');
    const unsigned = { ...d.deviceKeys, signatures: {} };
    expectError(await upload(u, { device_keys: unsigned }), 400, 'M_INVALID_SIGNATURE');
  });

  it('refuses malformed keys', async () => {
    const u = await user('alice');
    const d = testDevice(u.userId, u.deviceId);
    expectError(await upload(u, { device_keys: { ...d.deviceKeys, keys: { [`curve25519:${u.deviceId}`]: 'x' } } }), 400, 'M_BAD_JSON');
    expectError(await upload(u, { one_time_keys: { nocolon: 'x' } }), 400, 'M_BAD_JSON');
    expectError(await upload(u, { one_time_keys: { 'signed_curve25519:A': { nokey: true } } }), 400, 'M_BAD_JSON');
    expectError(await upload(u, { one_time_keys: [] }), 400, 'M_BAD_JSON');
  });

  it('keeps one fallback key per algorithm', async () => {
    const u = await user('alice');
    const d = testDevice(u.userId, u.deviceId);
    const two = { ...oneTimeKeys(d, 1, 'FB', { fallback: true }), ...oneTimeKeys(d, 1, 'FC', { fallback: true }) };
    expectError(await upload(u, { fallback_keys: two }), 400, 'M_INVALID_PARAM');
    expect((await upload(u, { fallback_keys: oneTimeKeys(d, 1, 'FB', { fallback: true }) })).status).toBe(200);
  });

  it('is open to guests and closed without a token', async () => {
    const guest = await s.http.post(`${C}/register`).query({ kind: 'guest' }).send({});
    const g: TestUser = { userId: guest.body.user_id, accessToken: guest.body.access_token, deviceId: guest.body.device_id, password: '' };
    expect((await upload(g, { device_keys: testDevice(g.userId, g.deviceId).deviceKeys })).status).toBe(200);
    expectError(await s.http.post(`${C}/keys/upload`).send({}), 401, 'M_MISSING_TOKEN');
  });
});

describe('POST /keys/query', () => {
  it('answers every device with keys, its display name in unsigned, for an empty list', async () => {
    const { u, d } = await withKeys('alice');
    const u2 = await secondDevice(u);
    const d2 = testDevice(u.userId, u2.deviceId);
    await upload(u2, { device_keys: d2.deviceKeys });
    await s.http.put(`${C}/devices/${u2.deviceId}`).set(bearer(u2)).send({ display_name: 'Phone' });
    const bob = await user('bob');
    const r = await query(bob, { [u.userId]: [] });
    expect(r.status).toBe(200);
    expect(r.body.failures).toEqual({});
    expect(Object.keys(r.body.device_keys[u.userId]).sort()).toEqual([u.deviceId, u2.deviceId].sort());
    expect(r.body.device_keys[u.userId][u2.deviceId]).toEqual({ ...d2.deviceKeys, unsigned: { device_display_name: 'Phone' } });
    expect(r.body.device_keys[u.userId][u.deviceId].signatures).toEqual(d.deviceKeys.signatures);
  });

  it('answers only the devices named, and nothing for devices without keys or unknown users', async () => {
    const { u } = await withKeys('alice');
    const u2 = await secondDevice(u);
    const bob = await user('bob');
    expect(Object.keys((await query(bob, { [u.userId]: [u.deviceId] })).body.device_keys[u.userId])).toEqual([u.deviceId]);
    expect((await query(bob, { [u.userId]: [u2.deviceId] })).body.device_keys[u.userId]).toEqual({});
    expect((await query(bob, { '@nobody:test.local': [] })).body.device_keys['@nobody:test.local']).toEqual({});
  });

  it('reports users of other servers as failures while there is no federation', async () => {
    const bob = await user('bob');
    const r = await query(bob, { '@carol:elsewhere.example': [] });
    expect(r.status).toBe(200);
    expect(r.body.failures).toEqual({ 'elsewhere.example': { status: 503, message: expect.any(String) } });
  });

  it('refuses a body without device_keys, and malformed ones', async () => {
    const bob = await user('bob');
    expectError(await s.http.post(`${C}/keys/query`).set(bearer(bob)).send({}), 400, 'M_MISSING_PARAM');
    expectError(await query(bob, { [bob.userId]: 'all' }), 400, 'M_BAD_JSON');
    expectError(await query(bob, { 'not-a-user': [] }), 400, 'M_INVALID_PARAM');
  });
});

describe('POST /keys/claim', () => {
  it('hands out each one-time key once, oldest upload first, then the fallback key again and again', async () => {
    const { u, d } = await withKeys('alice');
    await upload(u, { one_time_keys: oneTimeKeys(d, 1, 'OLD') });
    await upload(u, { one_time_keys: oneTimeKeys(d, 1, 'NEW'), fallback_keys: oneTimeKeys(d, 1, 'FB', { fallback: true }) });
    const bob = await user('bob');
    const ask = { [u.userId]: { [u.deviceId]: 'signed_curve25519' } };
    const first = await claim(bob, ask);
    expect(first.status).toBe(200);
    expect(first.body.failures).toEqual({});
    expect(Object.keys(first.body.one_time_keys[u.userId][u.deviceId])).toEqual(['signed_curve25519:OLD1']);
    expect(Object.keys((await claim(bob, ask)).body.one_time_keys[u.userId][u.deviceId])).toEqual(['signed_curve25519:NEW1']);
    const fb1 = await claim(bob, ask);
    const fb2 = await claim(bob, ask);
    expect(fb1.body.one_time_keys[u.userId][u.deviceId]).toEqual({ 'signed_curve25519:FB1': expect.objectContaining({ fallback: true }) });
    expect(fb2.body.one_time_keys).toEqual(fb1.body.one_time_keys);
    expect((await upload(u, {})).body.one_time_key_counts.signed_curve25519).toBe(0);
  });

  it('leaves out unknown users, devices and algorithms', async () => {
    const { u, d } = await withKeys('alice');
    await upload(u, { one_time_keys: oneTimeKeys(d, 1) });
    const bob = await user('bob');
    const r = await claim(bob, { [u.userId]: { NODEVICE: 'signed_curve25519', [u.deviceId]: 'unknown_algorithm' }, '@nobody:test.local': { X: 'signed_curve25519' } });
    expect(r.body).toEqual({ one_time_keys: {}, failures: {} });
  });

  it('reports other servers as failures, and refuses malformed bodies', async () => {
    const bob = await user('bob');
    expect((await claim(bob, { '@carol:elsewhere.example': { D: 'signed_curve25519' } })).body.failures).toEqual({ 'elsewhere.example': expect.objectContaining({ status: 503 }) });
    expectError(await s.http.post(`${C}/keys/claim`).set(bearer(bob)).send({}), 400, 'M_MISSING_PARAM');
    expectError(await claim(bob, { [bob.userId]: { D: 1 } }), 400, 'M_BAD_JSON');
  });
});

describe('POST /keys/device_signing/upload', () => {
  it('takes a new account\'s first keys without user-interactive auth', async () => {
    const { u } = await withKeys('alice');
    const cs = testCrossSigning(u.userId);
    const r = await signingUpload(u, cs.body);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({});
    const own = (await query(u, { [u.userId]: [] })).body;
    expect(own.master_keys[u.userId]).toEqual(cs.body.master_key);
    expect(own.self_signing_keys[u.userId]).toEqual(cs.body.self_signing_key);
    expect(own.user_signing_keys[u.userId]).toEqual(cs.body.user_signing_key);
  });

  it('accepts the same keys again without auth (a retry), and new keys only with the password', async () => {
    const { u } = await withKeys('alice');
    const cs = testCrossSigning(u.userId);
    await signingUpload(u, cs.body);
    expect((await signingUpload(u, cs.body)).status).toBe(200);
    const next = testCrossSigning(u.userId);
    const challenge = await signingUpload(u, next.body);
    expect(challenge.status).toBe(401);
    expect(challenge.body).toMatchObject({ flows: [{ stages: ['m.login.password'] }], session: expect.any(String) });
    const wrong = await signingUpload(u, { ...next.body, auth: { ...passwordAuth(u, challenge.body.session), password: 'wrong password' } });
    expectError(wrong, 401, 'M_FORBIDDEN');
    const ok = await signingUpload(u, { ...next.body, auth: passwordAuth(u, challenge.body.session) });
    expect(ok.status).toBe(200);
    expect((await query(u, { [u.userId]: [] })).body.master_keys[u.userId]).toEqual(next.body.master_key);
  });

  it('refuses a self-signing or user-signing key the master key did not sign', async () => {
    const { u } = await withKeys('alice');
    const cs = testCrossSigning(u.userId);
    const other = ed25519();
    expectError(await signingUpload(u, { ...cs.body, self_signing_key: crossSigningKey(u.userId, 'self_signing', cs.selfSigning, other) }), 400, 'M_INVALID_SIGNATURE');
    expectError(await signingUpload(u, { ...cs.body, user_signing_key: crossSigningKey(u.userId, 'user_signing', cs.userSigning) }), 400, 'M_INVALID_SIGNATURE');
  });

  it('refuses a self-signing key when there is no master key to check it', async () => {
    const { u } = await withKeys('alice');
    const cs = testCrossSigning(u.userId);
    expectError(await signingUpload(u, { self_signing_key: cs.body.self_signing_key }), 400, 'M_MISSING_PARAM');
  });

  it('refuses keys of another user, and malformed keys', async () => {
    const { u } = await withKeys('alice');
    const bob = await user('bob');
    const theirs = testCrossSigning(bob.userId);
    expectError(await signingUpload(u, { master_key: theirs.body.master_key }), 400, 'M_INVALID_PARAM');
    const cs = testCrossSigning(u.userId);
    expectError(await signingUpload(u, { master_key: { ...cs.body.master_key, keys: { 'ed25519:abc': 'abc' } } }), 400, 'M_BAD_JSON');
    expectError(await signingUpload(u, { master_key: { ...cs.body.master_key, usage: ['self_signing'] } }), 400, 'M_BAD_JSON');
  });

  it('refuses a cross-signing key whose public key is one of the user\'s device IDs', async () => {
    const { u } = await withKeys('alice');
    const cs = testCrossSigning(u.userId);
    await secondDevice(u, cs.master.publicKeyBase64);
    expectError(await signingUpload(u, cs.body), 403, 'M_FORBIDDEN');
  });
});

describe('POST /keys/signatures/upload', () => {
  async function crossSigned(name: string) {
    const { u, d } = await withKeys(name);
    const cs = testCrossSigning(u.userId);
    expect((await signingUpload(u, cs.body)).status).toBe(200);
    return { u, d, cs };
  }

  it('stores a signature of the user\'s own device by the self-signing key, which everyone then sees', async () => {
    const { u, d, cs } = await crossSigned('alice');
    const signed = signedBy(d.deviceKeys, u.userId, cs.selfSigning);
    const r = await sigUpload(u, { [u.userId]: { [u.deviceId]: signed } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ failures: {} });
    const bob = await user('bob');
    const seen = (await query(bob, { [u.userId]: [] })).body.device_keys[u.userId][u.deviceId];
    expect(seen.signatures[u.userId]).toEqual((signed.signatures as Json)[u.userId]);
  });

  it('stores a signature of the user\'s master key by one of their devices', async () => {
    const { u, d, cs } = await crossSigned('alice');
    const signed = signedBy(cs.body.master_key, u.userId, d.key);
    expect((await sigUpload(u, { [u.userId]: { [cs.master.publicKeyBase64]: signed } })).body).toEqual({ failures: {} });
    const bob = await user('bob');
    expect((await query(bob, { [u.userId]: [] })).body.master_keys[u.userId].signatures[u.userId][`ed25519:${u.deviceId}`]).toBeDefined();
  });

  it('shows a signature of another user\'s master key by the user-signing key to the signer alone', async () => {
    const alice = await crossSigned('alice');
    const bob = await crossSigned('bob');
    const carol = await user('carol');
    const signed = signedBy(bob.cs.body.master_key, alice.u.userId, alice.cs.userSigning);
    expect((await sigUpload(alice.u, { [bob.u.userId]: { [bob.cs.master.publicKeyBase64]: signed } })).body).toEqual({ failures: {} });
    const sigsSeenBy = async (viewer: TestUser) => (await query(viewer, { [bob.u.userId]: [] })).body.master_keys[bob.u.userId].signatures ?? {};
    expect((await sigsSeenBy(alice.u))[alice.u.userId]).toEqual({ [`ed25519:${alice.cs.userSigning.publicKeyBase64}`]: expect.any(String) });
    expect((await sigsSeenBy(carol))[alice.u.userId]).toBeUndefined();
    expect((await sigsSeenBy(bob.u))[alice.u.userId]).toBeUndefined();
    // Nobody else ever sees another user's user-signing key either.
    expect((await query(carol, { [alice.u.userId]: [] })).body.user_signing_keys).toEqual({});
  });

  it('reports bad signatures, changed objects and unknown keys per key, and stores the rest', async () => {
    const { u, d, cs } = await crossSigned('alice');
    const u2 = await secondDevice(u);
    const d2 = testDevice(u.userId, u2.deviceId);
    await upload(u2, { device_keys: d2.deviceKeys });
    const good = signedBy(d2.deviceKeys, u.userId, cs.selfSigning);
    const badSig = signedBy(d.deviceKeys, u.userId, ed25519(cs.selfSigning.publicKeyBase64));
    const changed = signedBy({ ...d.deviceKeys, algorithms: ['x'] }, u.userId, cs.selfSigning);
    const r1 = await sigUpload(u, { [u.userId]: { [u2.deviceId]: good, [u.deviceId]: badSig, NODEVICE: signedBy(d.deviceKeys, u.userId, cs.selfSigning) } });
    expect(r1.status).toBe(200);
    expect(r1.body.failures[u.userId][u.deviceId]).toMatchObject({ errcode: 'M_INVALID_SIGNATURE' });
    expect(r1.body.failures[u.userId].NODEVICE).toMatchObject({ errcode: 'M_NOT_FOUND' });
    expect(r1.body.failures[u.userId][u2.deviceId]).toBeUndefined();
    const r2 = await sigUpload(u, { [u.userId]: { [u.deviceId]: changed } });
    expect(r2.body.failures[u.userId][u.deviceId]).toMatchObject({ errcode: 'M_INVALID_SIGNATURE' });
    const bob = await user('bob');
    const seen = (await query(bob, { [u.userId]: [] })).body.device_keys[u.userId];
    expect(seen[u2.deviceId].signatures[u.userId][`ed25519:${cs.selfSigning.publicKeyBase64}`]).toBeDefined();
    expect(seen[u.deviceId].signatures[u.userId][`ed25519:${cs.selfSigning.publicKeyBase64}`]).toBeUndefined();
  });
});

describe('federation hooks', () => {
  it('queryLocal for a remote server shows the owner\'s signatures only and no user-signing key', async () => {
    const { u, d } = await withKeys('alice');
    const cs = testCrossSigning(u.userId);
    await signingUpload(u, cs.body);
    const q = await s.services.keys.queryLocal(null, { [u.userId]: [] });
    expect(q.device_keys[u.userId]![u.deviceId]).toMatchObject(d.deviceKeys);
    expect(q.master_keys[u.userId]).toEqual(cs.body.master_key);
    expect(q.user_signing_keys).toBeUndefined();
    const list = await s.services.keys.localDeviceList(u.userId);
    expect(list.devices.map((x) => x.device_id)).toEqual([u.deviceId]);
    expect(list.streamId).toBeGreaterThan(0);
    expect(list.selfSigningKey).toEqual(cs.body.self_signing_key);
  });

  it('claimLocal claims local keys only', async () => {
    const { u, d } = await withKeys('alice');
    await upload(u, { one_time_keys: oneTimeKeys(d, 1) });
    const claimed = await s.services.keys.claimLocal({ [u.userId]: { [u.deviceId]: 'signed_curve25519' }, '@x:remote.example': { D: 'signed_curve25519' } });
    expect(Object.keys(claimed)).toEqual([u.userId]);
  });

  it('tells device-list listeners of local changes with stream and previous IDs', async () => {
    const updates: Json[] = [];
    s.services.deviceLists.addListener({ onLocalDeviceListUpdate: (x) => updates.push(x) });
    const { u } = await withKeys('alice');
    const cs = testCrossSigning(u.userId);
    await signingUpload(u, cs.body);
    const mine = updates.filter((x) => x.userId === u.userId);
    expect(mine).toEqual([
      { userId: u.userId, streamId: expect.any(Number), prevId: undefined, deviceIds: [u.deviceId], deleted: false, crossSigning: false },
      { userId: u.userId, streamId: expect.any(Number), prevId: mine[0]!.streamId, deviceIds: [], deleted: false, crossSigning: true },
    ]);
    expect(mine[1]!.streamId).toBeGreaterThan(mine[0]!.streamId);
  });
});
