// End-to-end encryption keys and media across two Hearths over TLS on loopback (issue 18 "over
// federation"): through hs1's client API, a user queries and claims the keys of a user of hs2
// (user/keys/query, user/keys/claim); a device added on hs2 reaches hs1's users' /sync
// device_lists.changed (m.device_list_update); a new cross-signing key too (m.signing_key_update);
// a remote join counts as a device-list change; media uploaded on hs2 is downloaded and thumbnailed
// through hs1 byte for byte (federation media/download, multipart), fetched once.
import sharp from 'sharp';
import { crossSigningKey, ed25519, oneTimeKeys, testDevice } from '../helpers/e2ee.js';
import { startHearths, syncUntil, until, type FedHearth, type FedUser, type HearthCluster } from '../helpers/hearths.js';

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
type SyncUser = FedUser & { since?: string };

async function uploadKeys(u: FedUser, deviceId = u.deviceId, otks = 3) {
  const d = testDevice(u.userId, deviceId);
  const r = await u.call('POST', `${C}/keys/upload`, { device_keys: d.deviceKeys, one_time_keys: oneTimeKeys(d, otks) });
  expect(r.status).toBe(200);
  return d;
}

async function login(h: FedHearth, u: FedUser, deviceId: string): Promise<FedUser> {
  const r = await h.call('POST', `${C}/login`, { type: 'm.login.password', identifier: { type: 'm.id.user', user: u.userId }, password: 'correct horse battery staple', device_id: deviceId });
  expect(r.status).toBe(200);
  const token = r.body.access_token as string;
  return { userId: u.userId, token, deviceId, call: (method, path, body) => h.call(method, path, body, token) };
}

describe('end-to-end encryption keys and media across two Hearths', () => {
  let cluster: HearthCluster;
  let hs1: FedHearth;
  let hs2: FedHearth;
  let alice: SyncUser;
  let bob: SyncUser;
  let roomId: string;

  beforeAll(async () => {
    cluster = await startHearths(2);
    [hs1, hs2] = cluster.servers as [FedHearth, FedHearth];
    alice = await hs1.register('alice');
    bob = await hs2.register('bob');
    for (const u of [alice, bob]) await syncUntil(u, 'the first sync', () => true);
  }, 60_000);
  afterAll(async () => cluster?.close());

  it('a remote user joining a shared room counts as a device-list change on both sides', async () => {
    await uploadKeys(alice);
    await uploadKeys(bob);
    const created = await alice.call('POST', `${C}/createRoom`, { preset: 'public_chat', name: 'Keys', initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }] });
    expect(created.status).toBe(200);
    roomId = created.body.room_id;
    await syncUntil(alice, 'the new room', (b) => b.rooms?.join?.[roomId]);
    expect((await bob.call('POST', `${C}/join/${enc(roomId)}?via=${enc(hs1.name)}`, {})).status).toBe(200);
    // bob's client learns the room's state, m.room.encryption included, from his first sync of it
    // (the state send_join brought, before the join in the timeline).
    const first = await syncUntil(bob, 'the room in bob\'s sync', (b) => (b.rooms?.join?.[roomId] ? b : undefined));
    const joined = first.rooms.join[roomId];
    const state = [...joined.state.events, ...joined.timeline.events] as { type: string; content: Record<string, unknown> }[];
    expect(state.find((e) => e.type === 'm.room.encryption')?.content).toEqual({ algorithm: 'm.megolm.v1.aes-sha2' });
    expect(state.map((e) => e.type)).toEqual(expect.arrayContaining(['m.room.create', 'm.room.power_levels', 'm.room.join_rules', 'm.room.name']));
    await syncUntil(alice, 'bob in device_lists.changed', (b) => (b.device_lists?.changed as string[] | undefined)?.includes(bob.userId));
    // The same sync of bob's names alice: a newly joined room's members count as changed.
    expect(first.device_lists.changed).toContain(alice.userId);
  });

  it('alice on hs1 queries bob\'s keys on hs2 through her own server', async () => {
    const q = await alice.call('POST', `${C}/keys/query`, { device_keys: { [bob.userId]: [] } });
    expect(q.status).toBe(200);
    expect(q.body.failures).toEqual({});
    const device = q.body.device_keys[bob.userId][bob.deviceId];
    expect(device).toMatchObject({ user_id: bob.userId, device_id: bob.deviceId });
    expect(Object.keys(device.keys).sort()).toEqual([`curve25519:${bob.deviceId}`, `ed25519:${bob.deviceId}`]);
    // The answer is what hs2 itself shows.
    const own = await bob.call('POST', `${C}/keys/query`, { device_keys: { [bob.userId]: [] } });
    expect(q.body.device_keys[bob.userId]).toEqual(own.body.device_keys[bob.userId]);
    // A copy is kept while alice shares a room with bob; the next query is answered from it.
    expect(hs1.running.services.remoteDeviceLists!.has(bob.userId)).toBe(true);
    const again = await alice.call('POST', `${C}/keys/query`, { device_keys: { [bob.userId]: [bob.deviceId] } });
    expect(again.body.device_keys[bob.userId]).toEqual(own.body.device_keys[bob.userId]);
  });

  it('alice claims a one-time key of bob\'s device on hs2, once', async () => {
    const c1 = await alice.call('POST', `${C}/keys/claim`, { one_time_keys: { [bob.userId]: { [bob.deviceId]: 'signed_curve25519' } } });
    expect(c1.status).toBe(200);
    expect(c1.body.failures).toEqual({});
    const key1 = Object.keys(c1.body.one_time_keys[bob.userId][bob.deviceId]);
    expect(key1).toHaveLength(1);
    expect(key1[0]).toMatch(/^signed_curve25519:/);
    const c2 = await alice.call('POST', `${C}/keys/claim`, { one_time_keys: { [bob.userId]: { [bob.deviceId]: 'signed_curve25519' } } });
    expect(Object.keys(c2.body.one_time_keys[bob.userId][bob.deviceId])).not.toEqual(key1);
    const counts = await hs2.running.services.storage.e2ee.countOneTimeKeys(bob.userId, bob.deviceId);
    expect(counts.signed_curve25519).toBe(1);
  });

  it('reports a server that cannot be reached in failures', async () => {
    const q = await alice.call('POST', `${C}/keys/query`, { device_keys: { '@nobody:localhost:1': [] }, timeout: 2000 });
    expect(q.status).toBe(200);
    expect(q.body.failures['localhost:1']).toMatchObject({ status: 503 });
  });

  it('a device bob adds on hs2 shows in alice\'s device_lists.changed on hs1, and her next query has it', async () => {
    const bob2 = await login(hs2, bob, 'BOBTWO');
    await uploadKeys(bob2, 'BOBTWO');
    await syncUntil(alice, 'bob\'s new device in device_lists.changed', (b) => (b.device_lists?.changed as string[] | undefined)?.includes(bob.userId));
    const q = await alice.call('POST', `${C}/keys/query`, { device_keys: { [bob.userId]: [] } });
    expect(Object.keys(q.body.device_keys[bob.userId]).sort()).toEqual([bob.deviceId, 'BOBTWO'].sort());
    // And when it is deleted, it goes from alice's view too.
    const del = await bob2.call('POST', `${C}/logout`, {});
    expect(del.status).toBe(200);
    await syncUntil(alice, 'the deletion in device_lists.changed', (b) => (b.device_lists?.changed as string[] | undefined)?.includes(bob.userId));
    const after = await alice.call('POST', `${C}/keys/query`, { device_keys: { [bob.userId]: [] } });
    expect(Object.keys(after.body.device_keys[bob.userId])).toEqual([bob.deviceId]);
  });

  it('bob\'s new cross-signing keys reach alice (m.signing_key_update)', async () => {
    const master = ed25519();
    const ssk = ed25519();
    const body = { master_key: crossSigningKey(bob.userId, 'master', master), self_signing_key: crossSigningKey(bob.userId, 'self_signing', ssk, master) };
    expect((await bob.call('POST', `${C}/keys/device_signing/upload`, body)).status).toBe(200);
    await syncUntil(alice, 'bob\'s cross-signing keys in device_lists.changed', (b) => (b.device_lists?.changed as string[] | undefined)?.includes(bob.userId));
    const q = await alice.call('POST', `${C}/keys/query`, { device_keys: { [bob.userId]: [] } });
    expect(q.body.master_keys[bob.userId]).toEqual(body.master_key);
    expect(q.body.self_signing_keys[bob.userId]).toEqual(body.self_signing_key);
    expect(q.body.user_signing_keys?.[bob.userId]).toBeUndefined();
  });

  it('media uploaded on hs2 is downloaded and thumbnailed through hs1, byte for byte, fetched once', async () => {
    const png = await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 200, g: 30, b: 60 } } }).png().toBuffer();
    const up = await fetch(`${hs2.running.url}/_matrix/media/v3/upload?filename=${enc('red café.png')}`, { method: 'POST', headers: { authorization: `Bearer ${bob.token}`, 'content-type': 'image/png' }, body: png });
    expect(up.status).toBe(200);
    const mxc = ((await up.json()) as { content_uri: string }).content_uri;
    const [server, mediaId] = mxc.slice('mxc://'.length).split('/') as [string, string];
    expect(server).toBe(hs2.name);

    const url = `${hs1.running.url}/_matrix/client/v1/media/download/${enc(server)}/${mediaId}`;
    const got = await fetch(url, { headers: { authorization: `Bearer ${alice.token}` } });
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('image/png');
    expect(got.headers.get('content-disposition')).toBe(`inline; filename="red caf_.png"; filename*=UTF-8''red%20caf%C3%A9.png`);
    expect(got.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await got.arrayBuffer()).equals(png)).toBe(true);
    // Kept on hs1 (uploader NULL: remote media): once hs2 no longer serves it, hs1 still does.
    const stored = await hs1.running.services.storage.media.getMedia(server, mediaId);
    expect(stored).toMatchObject({ uploader: null, length: png.length });
    expect(await hs2.running.services.storage.media.setQuarantine(server, mediaId, '@admin:hs2', Date.now())).toBe(true);
    const fromHs2 = await fetch(`${hs2.running.url}/_matrix/client/v1/media/download/${enc(server)}/${mediaId}`, { headers: { authorization: `Bearer ${bob.token}` } });
    expect(fromHs2.status).toBe(404);
    const second = await fetch(url, { headers: { authorization: `Bearer ${alice.token}` } });
    expect(second.status).toBe(200);
    expect(Buffer.from(await second.arrayBuffer()).equals(png)).toBe(true);

    const thumb = await fetch(`${hs1.running.url}/_matrix/client/v1/media/thumbnail/${enc(server)}/${mediaId}?width=32&height=32&method=crop`, { headers: { authorization: `Bearer ${alice.token}` } });
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/png');
    const meta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([32, 32]);

    const unknown = await fetch(`${hs1.running.url}/_matrix/client/v1/media/download/${enc(server)}/NOSUCHMEDIA`, { headers: { authorization: `Bearer ${alice.token}` } });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { errcode: string }).errcode).toBe('M_NOT_FOUND');
  });

  it('bob leaving the last shared room drops hs1\'s copy of his device list', async () => {
    expect((await bob.call('POST', `${C}/rooms/${enc(roomId)}/leave`, {})).status).toBe(200);
    await until('hs1 to drop bob\'s list', () => !hs1.running.services.remoteDeviceLists!.has(bob.userId));
  });
});
