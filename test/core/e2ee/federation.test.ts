// Local device-list changes told to other servers (matrix-spec: server-server-api "Device
// Management"; the m.device_list_update and m.signing_key_update EDUs), with a fake key service,
// fake rooms and a recording EDU queue: which servers, which EDUs, their stream_id / prev_id chain,
// the keys as /user/keys/query shows them, and the received EDU types handed to RemoteDeviceLists.
import type { DeviceListListener, DeviceListService, DeviceListUpdate } from '../../../src/core/e2ee/device-lists.js';
import { E2eeFederation } from '../../../src/core/e2ee/federation.js';
import type { E2eeKeyService, KeysQueryResult } from '../../../src/core/e2ee/keys.js';
import type { RemoteDeviceLists } from '../../../src/core/e2ee/remote-device-lists.js';
import type { EduHandler } from '../../../src/core/federation/room-handler.js';
import type { RoomState, RoomStateService } from '../../../src/core/rooms/room-state.js';
import { createLogger } from '../../../src/logger.js';
import type { RoomStore } from '../../../src/storage/types.js';
import type { JsonObject, StoredEvent } from '../../../src/wire.js';

const ME = 'here.test';
const ALICE = '@alice:here.test';

const room = (roomId: string, members: string[]): RoomState => ({
  roomId,
  state: new Map(members.map((u) => [`m.room.member\u0000${u}`, { type: 'm.room.member', state_key: u, content: { membership: 'join' } } as unknown as StoredEvent])),
} as unknown as RoomState);
const deviceKeys = (deviceId: string): JsonObject => ({ user_id: ALICE, device_id: deviceId, keys: { [`ed25519:${deviceId}`]: `key${deviceId}` } });

function setup(rooms: RoomState[] = [room('!a:here.test', [ALICE, '@bob:there.test', '@carol:far.test']), room('!b:here.test', [ALICE, '@dan:there.test'])]) {
  const current: KeysQueryResult = {
    device_keys: { [ALICE]: { D1: { ...deviceKeys('D1'), unsigned: { device_display_name: 'laptop' } }, D2: deviceKeys('D2'), D3: deviceKeys('D3') } },
    master_keys: { [ALICE]: { user_id: ALICE, usage: ['master'], keys: { 'ed25519:M': 'M' } } },
    self_signing_keys: { [ALICE]: { user_id: ALICE, usage: ['self_signing'], keys: { 'ed25519:S': 'S' } } },
  };
  const keys = { queryLocal: async () => current } as unknown as E2eeKeyService;
  const store = { getRoomsForUser: async () => rooms.map((r) => ({ roomId: r.roomId })) } as unknown as RoomStore;
  const roomState = { get: async (id: string) => rooms.find((r) => r.roomId === id) } as unknown as RoomStateService;
  const sent: { destination: string; type: string; content: JsonObject; coalesceKey?: string }[] = [];
  const sender = { sendEdu: async (destination: string, edu: { edu_type: string; content: JsonObject }, opts?: { coalesceKey?: string }) => { sent.push({ destination, type: edu.edu_type, content: edu.content, ...(opts?.coalesceKey ? { coalesceKey: opts.coalesceKey } : {}) }); } };
  const fed = new E2eeFederation(ME, keys, store, roomState, sender, createLogger('silent'));
  let listener: DeviceListListener | undefined;
  const handlers = new Map<string, EduHandler>();
  const handled: string[] = [];
  const remote = {
    onDeviceListUpdate: async (origin: string) => { handled.push(`device ${origin}`); },
    onSigningKeyUpdate: async (origin: string) => { handled.push(`signing ${origin}`); },
  } as unknown as RemoteDeviceLists;
  fed.connect({ addListener: (l: DeviceListListener) => { listener = l; } } as unknown as DeviceListService, { onEduType: (t, h) => handlers.set(t, h) }, remote);
  const change = async (u: Partial<DeviceListUpdate>) => {
    listener!.onLocalDeviceListUpdate!({ userId: ALICE, streamId: 10, prevId: 5, deviceIds: [], deleted: false, crossSigning: false, ...u });
    await fed.settled();
  };
  return { sent, change, handlers, handled, current };
}

describe('E2eeFederation: local changes to other servers', () => {
  it('sends one m.device_list_update to each server sharing a room, with the keys /user/keys/query shows', async () => {
    const t = setup();
    await t.change({ deviceIds: ['D1'] });
    expect(t.sent.map((s) => s.destination).sort()).toEqual(['far.test', 'there.test']);
    for (const s of t.sent) {
      expect(s).toEqual({ destination: s.destination, type: 'm.device_list_update', content: { user_id: ALICE, device_id: 'D1', stream_id: 10, prev_id: [5], keys: deviceKeys('D1'), device_display_name: 'laptop' } });
    }
  });

  it('starts a sequence with an empty prev_id', async () => {
    const t = setup();
    await t.change({ deviceIds: ['D2'], prevId: undefined });
    expect(t.sent[0]!.content).toEqual({ user_id: ALICE, device_id: 'D2', stream_id: 10, prev_id: [], keys: deviceKeys('D2') });
  });

  it('chains the updates of a change of several devices over the positions before it, the last one at the change\'s position', async () => {
    const t = setup();
    await t.change({ deviceIds: ['D1', 'D2', 'D3'], prevId: 5 });
    const toThere = t.sent.filter((s) => s.destination === 'there.test').map((s) => [s.content.device_id, s.content.stream_id, s.content.prev_id]);
    expect(toThere).toEqual([['D1', 8, [5]], ['D2', 9, [8]], ['D3', 10, [9]]]);
  });

  it('sends a single update with an empty prev_id (a resync) when the positions before the change are too few', async () => {
    const t = setup();
    await t.change({ deviceIds: ['D1', 'D2', 'D3'], prevId: 9 });
    expect(t.sent.filter((s) => s.destination === 'there.test').map((s) => [s.content.device_id, s.content.stream_id, s.content.prev_id])).toEqual([['D3', 10, []]]);
  });

  it('marks deleted devices (and devices whose keys are gone) deleted, without keys', async () => {
    const t = setup();
    await t.change({ deviceIds: ['D1'], deleted: true });
    expect(t.sent[0]!.content).toEqual({ user_id: ALICE, device_id: 'D1', stream_id: 10, prev_id: [5], deleted: true });
    const t2 = setup();
    await t2.change({ deviceIds: ['GONE'] });
    expect(t2.sent[0]!.content).toEqual({ user_id: ALICE, device_id: 'GONE', stream_id: 10, prev_id: [5], deleted: true });
  });

  it('sends the master and self-signing keys in an m.signing_key_update (coalesced per user) on a cross-signing change', async () => {
    const t = setup();
    await t.change({ crossSigning: true });
    expect(t.sent.filter((s) => s.destination === 'there.test')).toEqual([{
      destination: 'there.test', type: 'm.signing_key_update', coalesceKey: `m.signing_key_update ${ALICE}`,
      content: { user_id: ALICE, master_key: t.current.master_keys[ALICE], self_signing_key: t.current.self_signing_keys[ALICE] },
    }]);
  });

  it('sends nothing when no other server shares a room with the user', async () => {
    const t = setup([room('!c:here.test', [ALICE, '@eve:here.test'])]);
    await t.change({ deviceIds: ['D1'], crossSigning: true });
    expect(t.sent).toEqual([]);
  });

  it('queues a user\'s changes in order', async () => {
    const t = setup();
    await Promise.all([t.change({ deviceIds: ['D1'], streamId: 10, prevId: 5 }), t.change({ deviceIds: ['D2'], streamId: 11, prevId: 10 })]);
    expect(t.sent.filter((s) => s.destination === 'far.test').map((s) => s.content.stream_id)).toEqual([10, 11]);
  });

  it('hands received m.device_list_update and m.signing_key_update EDUs to the remote device lists', async () => {
    const t = setup();
    await t.handlers.get('m.device_list_update')!('there.test', {});
    await t.handlers.get('m.signing_key_update')!('far.test', {});
    expect(t.handled).toEqual(['device there.test', 'signing far.test']);
  });
});
