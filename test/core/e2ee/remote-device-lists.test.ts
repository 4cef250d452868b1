// Remote users' device lists (matrix-spec: server-server-api "Device Management"; the
// m.device_list_update and m.signing_key_update EDUs; user_keys.yaml, user_devices.yaml) with a fake
// federation client and a fake room membership: what is asked of the user's server and what is
// answered from the cache, updates applied in sequence, gaps and empty prev_ids marking the copy stale
// (resynced through /user/devices), EDUs for other servers' users or strangers ignored, copies
// dropped when sharing may end and answers that raced an update not kept.
import type { DeviceListService } from '../../../src/core/e2ee/device-lists.js';
import { RemoteDeviceLists } from '../../../src/core/e2ee/remote-device-lists.js';
import type { EventListener, EventWriter } from '../../../src/core/events/writer.js';
import type { FederationClient, FederationRequest } from '../../../src/core/federation/client.js';
import type { RoomState, RoomStateService } from '../../../src/core/rooms/room-state.js';
import { createLogger } from '../../../src/logger.js';
import type { EventRecord, RoomStore } from '../../../src/storage/types.js';
import type { JsonObject, StoredEvent } from '../../../src/wire.js';

const ME = 'here.test';
const BOB = '@bob:there.test';
const CAROL = '@carol:there.test';
const ROOM = '!room:here.test';

const member = (userId: string, membership: string): StoredEvent => ({
  event_id: `$${userId}${membership}`, room_id: ROOM, type: 'm.room.member', state_key: userId, sender: userId, content: { membership },
  origin_server_ts: 1, depth: 1, prev_events: [], auth_events: [], hashes: { sha256: '' }, signatures: {},
} as unknown as StoredEvent);
const roomWith = (...members: string[]): RoomState => ({
  roomId: ROOM, state: new Map(members.map((u) => [`m.room.member\u0000${u}`, member(u, 'join')])), group: null, extremities: [], depth: 1,
} as unknown as RoomState);
const keys = (userId: string, deviceId: string, tag = 'k'): JsonObject => ({ user_id: userId, device_id: deviceId, keys: { [`ed25519:${deviceId}`]: `${tag}${deviceId}` } });

type Answer = (r: FederationRequest) => Promise<unknown> | unknown;

function setup() {
  const requests: FederationRequest[] = [];
  let answer: Answer = () => ({});
  const client: FederationClient = { request: async <T>(r: FederationRequest) => { requests.push(r); return (await answer(r)) as T; } };
  let room = roomWith('@alice:here.test', BOB, CAROL);
  const rooms = { getRoomsForUser: async (userId: string) => (room.state.get(`m.room.member\u0000${userId}`) ? [{ roomId: ROOM }] : []) } as unknown as RoomStore;
  const roomState = { get: async () => room } as unknown as RoomStateService;
  let listener: EventListener | undefined;
  const writer = { addListener: (l: EventListener) => { listener = l; } } as unknown as EventWriter;
  const recorded: string[] = [];
  const deviceLists = { recordRemoteChange: async (u: string) => { recorded.push(u); return 1; } } as unknown as DeviceListService;
  const lists = new RemoteDeviceLists(ME, client, rooms, roomState, writer, deviceLists, createLogger('silent'));
  return {
    lists, requests, recorded,
    answer: (a: Answer) => { answer = a; },
    setRoom: (r: RoomState) => { room = r; },
    persisted: (e: StoredEvent) => listener!.onEventPersisted({ event: e } as EventRecord, room, 'received', []),
  };
}

/** A keys/query answer with these devices of bob. */
const queryAnswer = (devices: string[], extra: JsonObject = {}) => ({ device_keys: { [BOB]: Object.fromEntries(devices.map((d) => [d, keys(BOB, d)])) }, ...extra });
const userDevices = (streamId: number, devices: string[]) => ({ user_id: BOB, stream_id: streamId, devices: devices.map((d) => ({ device_id: d, keys: keys(BOB, d), device_display_name: `name ${d}` })) });
const update = (streamId: number, prev: number[], deviceId: string, extra: JsonObject = {}): JsonObject => ({ user_id: BOB, device_id: deviceId, stream_id: streamId, prev_id: prev, ...extra });

/** A cache whose copy of bob's list is at stream 7 (from a resync), with device D1. */
async function atStream7() {
  const t = setup();
  t.answer(() => queryAnswer(['D1']));
  await t.lists.queryKeys('there.test', { [BOB]: [] }, 1000);
  t.answer((r) => (r.path.includes('/user/devices/') ? userDevices(7, ['D1']) : {}));
  await t.lists.onDeviceListUpdate('there.test', update(6, [], 'D1')); // an empty prev_id: stale, resync
  await t.lists.settled();
  t.requests.length = 0;
  t.recorded.length = 0;
  return t;
}

describe('RemoteDeviceLists', () => {
  describe('queryKeys', () => {
    it('asks the user\'s server once, keeps a whole list of a user sharing a room and answers the next query from it', async () => {
      const t = setup();
      t.answer(() => queryAnswer(['D1', 'D2'], { master_keys: { [BOB]: { user_id: BOB, usage: ['master'], keys: {} } } }));
      const first = await t.lists.queryKeys('there.test', { [BOB]: [] }, 1234);
      expect(t.requests).toEqual([expect.objectContaining({ destination: 'there.test', method: 'POST', path: '/_matrix/federation/v1/user/keys/query', body: { device_keys: { [BOB]: [] } }, timeoutMs: 1234 })]);
      expect(Object.keys(first.device_keys[BOB]!)).toEqual(['D1', 'D2']);
      expect(t.lists.has(BOB)).toBe(true);
      const second = await t.lists.queryKeys('there.test', { [BOB]: ['D2'] }, 1000);
      expect(t.requests).toHaveLength(1);
      expect(second).toEqual({ device_keys: { [BOB]: { D2: keys(BOB, 'D2') } }, master_keys: first.master_keys, self_signing_keys: {} });
    });

    it('keeps no copy of a partial answer, nor of a user no local user shares a room with', async () => {
      const t = setup();
      t.answer(() => queryAnswer(['D1']));
      await t.lists.queryKeys('there.test', { [BOB]: ['D1'] }, 1000);
      expect(t.lists.has(BOB)).toBe(false);
      t.setRoom(roomWith('@alice:here.test'));
      await t.lists.queryKeys('there.test', { [BOB]: [] }, 1000);
      expect(t.lists.has(BOB)).toBe(false);
      await t.lists.queryKeys('there.test', { [BOB]: [] }, 1000);
      expect(t.requests).toHaveLength(3);
    });

    it('answers only the users asked about, and lets a failure reach the caller (its failures entry)', async () => {
      const t = setup();
      t.answer(() => ({ device_keys: { [BOB]: { D1: keys(BOB, 'D1') }, '@mallory:there.test': { X: keys('@mallory:there.test', 'X') } } }));
      expect(Object.keys((await t.lists.queryKeys('there.test', { [BOB]: [] }, 1000)).device_keys)).toEqual([BOB]);
      const t2 = setup();
      t2.answer(() => { throw Object.assign(new Error('down'), { status: 502 }); });
      await expect(t2.lists.queryKeys('there.test', { [BOB]: [] }, 1000)).rejects.toThrow('down');
      expect(t2.lists.has(BOB)).toBe(false);
    });

    it('does not keep an answer when an update arrived while it was on its way', async () => {
      const t = setup();
      let release!: () => void;
      t.answer(() => new Promise((resolve) => { release = () => resolve(queryAnswer(['D1'])); }));
      const pending = t.lists.queryKeys('there.test', { [BOB]: [] }, 1000);
      await new Promise((r) => setImmediate(r));
      await t.lists.onDeviceListUpdate('there.test', update(9, [8], 'D2', { keys: keys(BOB, 'D2') }));
      release();
      await pending;
      expect(t.lists.has(BOB)).toBe(false);
    });
  });

  describe('claimKeys', () => {
    it('claims through the user\'s server every time, and answers the users asked about', async () => {
      const t = setup();
      t.answer(() => ({ one_time_keys: { [BOB]: { D1: { 'signed_curve25519:A': { key: 'x' } } }, '@x:there.test': {} } }));
      const r = await t.lists.claimKeys('there.test', { [BOB]: { D1: 'signed_curve25519' } }, 500);
      expect(r).toEqual({ [BOB]: { D1: { 'signed_curve25519:A': { key: 'x' } } } });
      expect(t.requests[0]).toMatchObject({ path: '/_matrix/federation/v1/user/keys/claim', body: { one_time_keys: { [BOB]: { D1: 'signed_curve25519' } } }, timeoutMs: 500 });
    });
  });

  describe('m.device_list_update', () => {
    it('resyncs a copy whose position is unknown through /user/devices', async () => {
      const t = await atStream7();
      expect(t.lists.has(BOB)).toBe(true);
      const q = await t.lists.queryKeys('there.test', { [BOB]: [] }, 1000);
      expect(t.requests).toEqual([]);
      expect(q.device_keys[BOB]).toEqual({ D1: { ...keys(BOB, 'D1'), unsigned: { device_display_name: 'name D1' } } });
    });

    it('applies updates that follow the copy: a new device, then its deletion, answered without asking', async () => {
      const t = await atStream7();
      await t.lists.onDeviceListUpdate('there.test', update(8, [7], 'D2', { keys: keys(BOB, 'D2'), device_display_name: 'phone' }));
      expect((await t.lists.queryKeys('there.test', { [BOB]: [] }, 1000)).device_keys[BOB]).toMatchObject({ D2: { ...keys(BOB, 'D2'), unsigned: { device_display_name: 'phone' } } });
      await t.lists.onDeviceListUpdate('there.test', update(9, [8], 'D2', { deleted: true }));
      expect(Object.keys((await t.lists.queryKeys('there.test', { [BOB]: [] }, 1000)).device_keys[BOB]!)).toEqual(['D1']);
      expect(t.requests).toEqual([]);
      expect(t.recorded).toEqual([BOB, BOB]);
    });

    it('marks the copy stale on a gap (a prev_id it does not have) and resyncs; a stale copy is never served', async () => {
      const t = await atStream7();
      let release!: () => void;
      t.answer((r) => (r.path.includes('/user/devices/') ? new Promise((resolve) => { release = () => resolve(userDevices(11, ['D1', 'D3'])); }) : queryAnswer(['D1', 'D3'])));
      await t.lists.onDeviceListUpdate('there.test', update(11, [10], 'D3', { keys: keys(BOB, 'D3') }));
      expect(t.requests.map((r) => r.path)).toEqual([`/_matrix/federation/v1/user/devices/${encodeURIComponent(BOB)}`]);
      // Meanwhile a query goes to bob's server.
      await t.lists.queryKeys('there.test', { [BOB]: [] }, 1000);
      expect(t.requests.map((r) => r.path)).toContain('/_matrix/federation/v1/user/keys/query');
      release();
      await t.lists.settled();
      t.requests.length = 0;
      await t.lists.onDeviceListUpdate('there.test', update(12, [11], 'D1', { deleted: true }));
      expect(Object.keys((await t.lists.queryKeys('there.test', { [BOB]: [] }, 1000)).device_keys[BOB]!)).toEqual(['D3']);
      expect(t.requests).toEqual([]);
      expect(t.recorded).toEqual([BOB, BOB]);
    });

    it('marks the copy stale on an empty prev_id', async () => {
      const t = await atStream7();
      t.answer(() => { throw new Error('unreachable'); });
      await t.lists.onDeviceListUpdate('there.test', update(20, [], 'D9', { keys: keys(BOB, 'D9') }));
      await t.lists.settled();
      // The resync failed: the copy stays stale and the next query asks bob's server.
      await expect(t.lists.queryKeys('there.test', { [BOB]: [] }, 1000)).rejects.toThrow('unreachable');
    });

    it('skips an update the copy already has, and still records the change', async () => {
      const t = await atStream7();
      await t.lists.onDeviceListUpdate('there.test', update(5, [4], 'D1', { deleted: true }));
      expect(Object.keys((await t.lists.queryKeys('there.test', { [BOB]: [] }, 1000)).device_keys[BOB]!)).toEqual(['D1']);
      expect(t.requests).toEqual([]);
      expect(t.recorded).toEqual([BOB]);
    });

    it('records a change of a user without a copy, so local users query again', async () => {
      const t = setup();
      await t.lists.onDeviceListUpdate('there.test', update(3, [2], 'D1', { keys: keys(BOB, 'D1') }));
      expect(t.recorded).toEqual([BOB]);
      expect(t.requests).toEqual([]);
    });

    it('ignores an update for another server\'s user, for a user no local user shares a room with, and a malformed one', async () => {
      const t = setup();
      await t.lists.onDeviceListUpdate('evil.test', update(3, [2], 'D1'));
      await t.lists.onDeviceListUpdate('there.test', { ...update(3, [2], 'D1'), user_id: '@stranger:there.test' });
      await t.lists.onDeviceListUpdate('there.test', { user_id: BOB, device_id: 'D1', stream_id: 'three' });
      await t.lists.onDeviceListUpdate('there.test', { user_id: BOB, stream_id: 3 });
      expect(t.recorded).toEqual([]);
    });
  });

  describe('m.signing_key_update', () => {
    it('replaces the cross-signing keys it carries, and records the change', async () => {
      const t = await atStream7();
      const master = { user_id: BOB, usage: ['master'], keys: { 'ed25519:M': 'M' } };
      await t.lists.onSigningKeyUpdate('there.test', { user_id: BOB, master_key: master });
      const q = await t.lists.queryKeys('there.test', { [BOB]: [] }, 1000);
      expect(q.master_keys[BOB]).toEqual(master);
      expect(q.self_signing_keys[BOB]).toBeUndefined();
      expect(t.recorded).toEqual([BOB]);
      await t.lists.onSigningKeyUpdate('evil.test', { user_id: BOB, master_key: {} });
      expect(t.recorded).toEqual([BOB]);
    });
  });

  describe('when sharing may end', () => {
    it('drops the copy on a member event of the user', async () => {
      const t = await atStream7();
      t.persisted(member(BOB, 'leave'));
      expect(t.lists.has(BOB)).toBe(false);
    });

    it('drops the copies of a room\'s remote members when a local user leaves it, not when one joins', async () => {
      const t = await atStream7();
      t.persisted(member('@dave:here.test', 'join'));
      expect(t.lists.has(BOB)).toBe(true);
      t.persisted(member('@alice:here.test', 'leave'));
      expect(t.lists.has(BOB)).toBe(false);
    });
  });
});
