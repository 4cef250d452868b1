// Device lists and key counts in /sync, and /keys/changes (matrix-spec: client-server-api
// "Tracking the device list for a user", "Extensions to /sync"; keys.yaml#getKeysChanges): every
// change of a user's devices or cross-signing keys is a stream position that wakes the users who
// share a room with them; new shared rooms count as changes, the end of the last one as `left`;
// deleted devices and deactivated accounts take their keys with them.
import { bearer, expectError, makeTestServer, type TestUser } from '../../helpers/server.js';
import { oneTimeKeys, signedBy, testCrossSigning, testDevice } from '../../helpers/e2ee.js';

// Deleted devices' keys are removed after the deletion is answered (services.ts: accountEvents
// tokensRevoked), and the change is shown to room-mates from the moment its write starts: the store
// calls that remove keys are tracked here so a test can wait for them to finish (on PostgreSQL they
// take real round trips) before reading the store itself.
const removals = new Set<Promise<unknown>>();
const tracked = <T>(p: Promise<T>): Promise<T> => {
  removals.add(p);
  return p.finally(() => removals.delete(p));
};
const removed = async () => { while (removals.size > 0) await Promise.allSettled([...removals]); };
const s = makeTestServer({ presence: { enabled: false } }, {
  storage: (raw) => ({
    ...raw,
    e2ee: {
      ...raw.e2ee,
      deleteKeysOfRemovedDevices: (userId, change) => tracked(raw.e2ee.deleteKeysOfRemovedDevices(userId, change)),
      deleteAllKeys: (userId, change) => tracked(raw.e2ee.deleteAllKeys(userId, change)),
    },
  }),
});
afterAll(() => s.close());

const C = '/_matrix/client/v3';
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

let n = 0;
const user = (name: string) => s.register(`${name}${++n}`);
const upload = (u: TestUser, body: object) => s.http.post(`${C}/keys/upload`).set(bearer(u)).send(body);
const query = async (u: TestUser, who: string) => (await s.http.post(`${C}/keys/query`).set(bearer(u)).send({ device_keys: { [who]: [] } })).body as Json;
const passwordAuth = (u: TestUser) => ({ type: 'm.login.password', identifier: { type: 'm.id.user', user: u.userId }, password: u.password });

async function sync(u: TestUser, since?: string, timeout?: number): Promise<Json> {
  const r = await s.http.get(`${C}/sync`).query({ ...(since ? { since } : {}), ...(timeout !== undefined ? { timeout } : {}) }).set(bearer(u));
  expect(r.status).toBe(200);
  return r.body as Json;
}
const token = async (u: TestUser) => (await sync(u)).next_batch as string;

async function room(creator: TestUser, ...joiners: TestUser[]): Promise<string> {
  const r = await s.http.post(`${C}/createRoom`).set(bearer(creator)).send({ preset: 'public_chat' });
  for (const j of joiners) expect((await s.http.post(`${C}/join/${encodeURIComponent(r.body.room_id)}`).set(bearer(j)).send({})).status).toBe(200);
  return r.body.room_id as string;
}
const leave = (u: TestUser, roomId: string) => s.http.post(`${C}/rooms/${encodeURIComponent(roomId)}/leave`).set(bearer(u)).send({});

async function secondDevice(u: TestUser): Promise<TestUser> {
  const r = await s.http.post(`${C}/login`).send({ type: 'm.login.password', identifier: { type: 'm.id.user', user: u.userId }, password: u.password });
  return { ...u, accessToken: r.body.access_token, deviceId: r.body.device_id };
}

describe('GET /sync: key counts', () => {
  it('carries the device\'s one-time key counts and unused fallback key types', async () => {
    const u = await user('alice');
    const d = testDevice(u.userId, u.deviceId);
    const first = await sync(u);
    expect(first.device_one_time_keys_count).toEqual({ signed_curve25519: 0 });
    expect(first.device_unused_fallback_key_types).toEqual([]);
    await upload(u, { device_keys: d.deviceKeys, one_time_keys: oneTimeKeys(d, 2), fallback_keys: oneTimeKeys(d, 1, 'FB', { fallback: true }) });
    const second = await sync(u);
    expect(second.device_one_time_keys_count).toEqual({ signed_curve25519: 2 });
    expect(second.device_unused_fallback_key_types).toEqual(['signed_curve25519']);
    // Claimed: two one-time keys, then the fallback key (now used).
    const bob = await user('bob');
    for (let i = 0; i < 3; i++) await s.http.post(`${C}/keys/claim`).set(bearer(bob)).send({ one_time_keys: { [u.userId]: { [u.deviceId]: 'signed_curve25519' } } });
    const third = await sync(u);
    expect(third.device_one_time_keys_count).toEqual({ signed_curve25519: 0 });
    expect(third.device_unused_fallback_key_types).toEqual([]);
    // A new fallback key is unused again.
    await upload(u, { fallback_keys: oneTimeKeys(d, 1, 'FC', { fallback: true }) });
    expect((await sync(u)).device_unused_fallback_key_types).toEqual(['signed_curve25519']);
  });

  it('counts the keys of the syncing device only', async () => {
    const u = await user('alice');
    const u2 = await secondDevice(u);
    await upload(u2, { one_time_keys: oneTimeKeys(testDevice(u.userId, u2.deviceId), 3) });
    expect((await sync(u)).device_one_time_keys_count).toEqual({ signed_curve25519: 0 });
    expect((await sync(u2)).device_one_time_keys_count).toEqual({ signed_curve25519: 3 });
  });
});

describe('GET /sync: device_lists', () => {
  it('wakes a waiting sync of a room-mate when a user uploads new device keys', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    await room(alice, bob);
    const since = await token(bob);
    const waiting = sync(bob, since, 30_000);
    await upload(alice, { device_keys: testDevice(alice.userId, alice.deviceId).deviceKeys });
    const woken = await waiting;
    expect(woken.device_lists).toEqual({ changed: [alice.userId], left: [] });
    // Once told, not again.
    expect((await sync(bob, woken.next_batch)).device_lists).toEqual({ changed: [], left: [] });
  });

  it('tells the user of their own changes, and nobody who shares no room', async () => {
    const alice = await user('alice');
    const stranger = await user('stranger');
    const aliceSince = await token(alice);
    const strangerSince = await token(stranger);
    await upload(alice, { device_keys: testDevice(alice.userId, alice.deviceId).deviceKeys });
    expect((await sync(alice, aliceSince)).device_lists.changed).toEqual([alice.userId]);
    expect((await sync(stranger, strangerSince)).device_lists).toEqual({ changed: [], left: [] });
  });

  it('reports the members of a newly joined room, and the newcomer to the members', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const roomId = await room(alice);
    const aliceSince = await token(alice);
    const bobSince = await token(bob);
    await s.http.post(`${C}/join/${encodeURIComponent(roomId)}`).set(bearer(bob)).send({});
    expect((await sync(bob, bobSince)).device_lists.changed).toEqual(expect.arrayContaining([alice.userId]));
    expect((await sync(alice, aliceSince)).device_lists.changed).toEqual([bob.userId]);
  });

  it('reports a user as left when the last shared room is gone, not while another is shared', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const one = await room(alice, bob);
    const two = await room(alice, bob);
    let aliceSince = await token(alice);
    let bobSince = await token(bob);
    await leave(bob, one);
    let a = await sync(alice, aliceSince);
    expect(a.device_lists.left).toEqual([]);
    aliceSince = a.next_batch;
    bobSince = (await sync(bob, bobSince)).next_batch;
    await leave(bob, two);
    a = await sync(alice, aliceSince);
    expect(a.device_lists).toEqual({ changed: [], left: [bob.userId] });
    expect((await sync(bob, bobSince)).device_lists.left).toEqual([alice.userId]);
  });

  it('a new or replaced master or self-signing key is a change for room-mates; a user-signing key only for its owner', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    await room(alice, bob);
    const cs = testCrossSigning(alice.userId);
    let bobSince = await token(bob);
    await s.http.post(`${C}/keys/device_signing/upload`).set(bearer(alice)).send(cs.body);
    const b = await sync(bob, bobSince);
    expect(b.device_lists.changed).toEqual([alice.userId]);
    bobSince = b.next_batch;
    const aliceSince = await token(alice);
    const other = testCrossSigning(alice.userId);
    const usk = { user_signing_key: signedBy({ ...other.body.user_signing_key, signatures: {} } as never, alice.userId, cs.master) };
    expect((await s.http.post(`${C}/keys/device_signing/upload`).set(bearer(alice)).send({ ...usk, auth: passwordAuth(alice) })).status).toBe(200);
    expect((await sync(alice, aliceSince)).device_lists.changed).toEqual([alice.userId]);
    expect((await sync(bob, bobSince)).device_lists.changed).toEqual([]);
  });

  it('a signature by a user-signing key is a change for the signer alone', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    await room(alice, bob, carol);
    const aliceCs = testCrossSigning(alice.userId);
    const bobCs = testCrossSigning(bob.userId);
    await s.http.post(`${C}/keys/device_signing/upload`).set(bearer(alice)).send(aliceCs.body);
    await s.http.post(`${C}/keys/device_signing/upload`).set(bearer(bob)).send(bobCs.body);
    const aliceSince = await token(alice);
    const carolSince = await token(carol);
    const signed = signedBy(bobCs.body.master_key, alice.userId, aliceCs.userSigning);
    const r = await s.http.post(`${C}/keys/signatures/upload`).set(bearer(alice)).send({ [bob.userId]: { [bobCs.master.publicKeyBase64]: signed } });
    expect(r.body).toEqual({ failures: {} });
    expect((await sync(alice, aliceSince)).device_lists.changed).toEqual([bob.userId]);
    expect((await sync(carol, carolSince)).device_lists.changed).toEqual([]);
  });
});

describe('deleted devices and deactivated accounts', () => {
  it('a deleted device\'s keys go, and room-mates are told', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    await room(alice, bob);
    const alice2 = await secondDevice(alice);
    const d2 = testDevice(alice.userId, alice2.deviceId);
    await upload(alice2, { device_keys: d2.deviceKeys, one_time_keys: oneTimeKeys(d2, 2) });
    const bobSince = await token(bob);
    const del = await s.http.delete(`${C}/devices/${alice2.deviceId}`).set(bearer(alice)).send({ auth: passwordAuth(alice) });
    expect(del.status).toBe(200);
    expect((await sync(bob, bobSince)).device_lists.changed).toEqual([alice.userId]);
    expect((await query(bob, alice.userId)).device_keys[alice.userId]).toEqual({});
    await removed();
    expect(await s.services.storage.e2ee.countOneTimeKeys(alice.userId, alice2.deviceId)).toEqual({});
  });

  it('a device deleted by an admin, or logged out, loses its keys too', async () => {
    const admin = await user('admin');
    await s.services.accounts.setAdmin(admin.userId, true);
    const alice = await user('alice');
    const alice2 = await secondDevice(alice);
    await upload(alice2, { device_keys: testDevice(alice.userId, alice2.deviceId).deviceKeys });
    await upload(alice, { device_keys: testDevice(alice.userId, alice.deviceId).deviceKeys });
    const r = await s.http.delete(`/_synapse/admin/v2/users/${encodeURIComponent(alice.userId)}/devices/${alice2.deviceId}`).set(bearer(admin));
    expect(r.status).toBe(200);
    expect(Object.keys((await query(admin, alice.userId)).device_keys[alice.userId])).toEqual([alice.deviceId]);
    expect((await s.http.post(`${C}/logout`).set(bearer(alice)).send({})).status).toBe(200);
    expect((await query(admin, alice.userId)).device_keys[alice.userId]).toEqual({});
  });

  it('logging in again on the same device keeps its keys and is no change', async () => {
    const alice = await user('alice');
    await upload(alice, { device_keys: testDevice(alice.userId, alice.deviceId).deviceKeys });
    const since = await token(alice);
    const again = await s.http.post(`${C}/login`).send({ type: 'm.login.password', identifier: { type: 'm.id.user', user: alice.userId }, password: alice.password, device_id: alice.deviceId });
    expect(again.status).toBe(200);
    const relogged = { ...alice, accessToken: again.body.access_token };
    expect(Object.keys((await query(relogged, alice.userId)).device_keys[alice.userId])).toEqual([alice.deviceId]);
    expect((await sync(relogged, since)).device_lists.changed).toEqual([]);
  });

  it('a deactivated account\'s keys all go, and room-mates are told', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    await room(alice, bob);
    await upload(alice, { device_keys: testDevice(alice.userId, alice.deviceId).deviceKeys });
    await s.http.post(`${C}/keys/device_signing/upload`).set(bearer(alice)).send(testCrossSigning(alice.userId).body);
    await s.http.post(`${C}/room_keys/version`).set(bearer(alice)).send({ algorithm: 'm.megolm_backup.v1.curve25519-aes-sha2', auth_data: { public_key: 'x' } });
    const bobSince = await token(bob);
    expect((await s.http.post(`${C}/account/deactivate`).set(bearer(alice)).send({ auth: passwordAuth(alice) })).status).toBe(200);
    const seen = await query(bob, alice.userId);
    expect(seen.device_keys[alice.userId]).toEqual({});
    expect(seen.master_keys).toEqual({});
    expect(seen.self_signing_keys).toEqual({});
    await removed();
    expect(await s.services.storage.e2ee.getBackupVersion(alice.userId)).toBeUndefined();
    expect((await sync(bob, bobSince)).device_lists.changed).toEqual(expect.arrayContaining([alice.userId]));
  });
});

describe('GET /keys/changes', () => {
  it('lists room-mates whose keys changed between two sync tokens', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    await room(alice, bob);
    const from = await token(bob);
    await upload(alice, { device_keys: testDevice(alice.userId, alice.deviceId).deviceKeys });
    const to = await token(bob);
    const r = await s.http.get(`${C}/keys/changes`).query({ from, to }).set(bearer(bob));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ changed: [alice.userId], left: [] });
    expect((await s.http.get(`${C}/keys/changes`).query({ from: to, to }).set(bearer(bob))).body).toEqual({ changed: [], left: [] });
    // From before the server started (read from the store rather than the in-memory window).
    expect((await s.http.get(`${C}/keys/changes`).query({ from: 's0', to }).set(bearer(bob))).body.changed).toEqual(expect.arrayContaining([alice.userId, bob.userId]));
    // A `to` beyond the present means now.
    expect((await s.http.get(`${C}/keys/changes`).query({ from, to: 's999999999' }).set(bearer(bob))).body.changed).toEqual([alice.userId]);
  });

  it('needs both tokens, well formed', async () => {
    const bob = await user('bob');
    expectError(await s.http.get(`${C}/keys/changes`).query({ from: 's1' }).set(bearer(bob)), 400, 'M_MISSING_PARAM');
    expectError(await s.http.get(`${C}/keys/changes`).query({ to: 's1' }).set(bearer(bob)), 400, 'M_MISSING_PARAM');
    expectError(await s.http.get(`${C}/keys/changes`).query({ from: 'nonsense', to: 's1' }).set(bearer(bob)), 400, 'M_INVALID_PARAM');
    expectError(await s.http.get(`${C}/keys/changes`).query({ from: 's1', to: 's2' }), 401, 'M_MISSING_TOKEN');
  });
});

describe('remote users (the federation hook)', () => {
  it('recordRemoteChange takes a position and wakes nobody who shares no room with them', async () => {
    const bob = await user('bob');
    const since = await token(bob);
    const pos = await s.services.deviceLists.recordRemoteChange('@carol:remote.example');
    expect(pos).toBeGreaterThan(Number(since.slice(1)));
    expect((await sync(bob, since)).device_lists.changed).toEqual([]);
  });
});
