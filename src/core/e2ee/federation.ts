// End-to-end encryption keys over federation, this server's side (matrix-spec: server-server-api
// "Device Management", "End-to-End Encryption"; server-server/user_keys.yaml, user_devices.yaml):
//
//   - answers other servers' POST /user/keys/query, POST /user/keys/claim and GET /user/devices/{userId}
//     for local users (a user of another server is refused: 400 M_INVALID_PARAM, as Synapse does);
//   - sends every local change of a user's devices or public cross-signing keys to the servers that
//     share a room with the user: an m.device_list_update per device (stream_id, prev_id chained
//     per user), an m.signing_key_update for the master and self-signing keys;
//   - hands received m.device_list_update / m.signing_key_update EDUs to RemoteDeviceLists (the cache
//     of remote users' lists, which also records the change for local room-mates).
import { invalidParam, missingParam } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { RoomStore } from '../../storage/types.js';
import type { JsonObject } from '../../wire.js';
import type { EduHandler } from '../federation/room-handler.js';
import { serversInRoom } from '../federation/room-servers.js';
import { parseUserId } from '../ids.js';
import { KeyedMutex } from '../lock.js';
import type { RoomStateService } from '../rooms/room-state.js';
import type { DeviceListService, DeviceListUpdate } from './device-lists.js';
import { parseClaimQuery, parseDeviceKeysQuery, type ClaimedKeysMap, type E2eeKeyService, type KeysQueryResult } from './keys.js';
import type { RemoteDeviceLists } from './remote-device-lists.js';

/** The outbound queue's EDU entry point (QueueingFederationSender). */
export interface EduSender {
  sendEdu(destination: string, edu: { edu_type: string; content: JsonObject }, opts?: { coalesceKey?: string }): Promise<void>;
}

/** The answer of GET /_matrix/federation/v1/user/devices/{userId}. */
export interface UserDevicesAnswer {
  user_id: string;
  stream_id: number;
  devices: { device_id: string; keys: JsonObject; device_display_name?: string }[];
  master_key?: JsonObject;
  self_signing_key?: JsonObject;
}

export class E2eeFederation {
  /** A user's EDUs are built and queued one change at a time, in order. */
  private readonly order = new KeyedMutex();
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly serverName: string,
    private readonly keys: E2eeKeyService,
    private readonly rooms: RoomStore,
    private readonly roomState: RoomStateService,
    private readonly sender: EduSender,
    private readonly logger: Logger,
  ) {}

  /** Sends local changes out (the device-list listener) and takes received EDUs in (`remote`). */
  connect(deviceLists: DeviceListService, edus: { onEduType(type: string, handler: EduHandler): void }, remote: RemoteDeviceLists): void {
    deviceLists.addListener({ onLocalDeviceListUpdate: (u) => this.track(this.order.run(u.userId, () => this.announce(u))) });
    edus.onEduType('m.device_list_update', (origin, content) => remote.onDeviceListUpdate(origin, content));
    edus.onEduType('m.signing_key_update', (origin, content) => remote.onSigningKeyUpdate(origin, content));
  }

  private track(p: Promise<void>): void {
    const q = p.catch((err: unknown) => this.logger.error({ err }, 'federation: device-list EDUs could not be queued')).finally(() => this.pending.delete(q));
    this.pending.add(q);
  }

  /** EDUs being built have been queued (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  // ---- answers to other servers ---------------------------------------------------------------------

  private requireLocal(userId: string): void {
    const parsed = parseUserId(userId);
    if (!parsed) throw invalidParam(`Invalid user ID ${userId}`);
    if (parsed.domain !== this.serverName) throw invalidParam(`${userId} is not a user of this server`);
  }

  /** POST /user/keys/query (matrix-spec: server-server/user_keys.yaml#queryUserEncryptionKeys): local users only. */
  async queryKeys(body: JsonObject): Promise<Omit<KeysQueryResult, 'user_signing_keys'>> {
    if (body.device_keys === undefined) throw missingParam("'device_keys' is required");
    const deviceKeys = parseDeviceKeysQuery(body.device_keys);
    for (const userId of Object.keys(deviceKeys)) this.requireLocal(userId);
    // A server sees the keys' owners' signatures only, and no user-signing keys (requester null).
    const { device_keys, master_keys, self_signing_keys } = await this.keys.queryLocal(null, deviceKeys);
    return { device_keys, master_keys, self_signing_keys };
  }

  /** POST /user/keys/claim (matrix-spec: server-server/user_keys.yaml#claimUserEncryptionKeys): local users only. */
  async claimKeys(body: JsonObject): Promise<{ one_time_keys: ClaimedKeysMap }> {
    if (body.one_time_keys === undefined) throw missingParam("'one_time_keys' is required");
    const wanted = parseClaimQuery(body.one_time_keys);
    for (const userId of Object.keys(wanted)) this.requireLocal(userId);
    return { one_time_keys: await this.keys.claimLocal(wanted) };
  }

  /**
   * GET /user/devices/{userId} (matrix-spec: server-server/user_devices.yaml#getUserDevices): the
   * devices with keys and the public cross-signing keys; an unknown local user has none (as Synapse
   * answers), which tells the asking server nothing about who exists.
   */
  async userDevices(userId: string): Promise<UserDevicesAnswer> {
    this.requireLocal(userId);
    const list = await this.keys.localDeviceList(userId);
    return {
      user_id: userId, stream_id: list.streamId, devices: list.devices,
      ...(list.masterKey ? { master_key: list.masterKey } : {}),
      ...(list.selfSigningKey ? { self_signing_key: list.selfSigningKey } : {}),
    };
  }

  // ---- local changes to other servers -------------------------------------------------------------

  /** Servers other than this one with a member joined to one of the user's joined rooms. */
  private async serversSharingRoom(userId: string): Promise<Set<string>> {
    const out = new Set<string>();
    for (const m of await this.rooms.getRoomsForUser(userId, ['join'])) {
      const room = await this.roomState.get(m.roomId);
      if (room) for (const s of serversInRoom(room)) out.add(s);
    }
    out.delete(this.serverName);
    return out;
  }

  /**
   * The EDUs of one committed change. Devices: one m.device_list_update each, with the keys as
   * /user/keys/query shows them now (a device gone is `deleted`). A change of several devices has one
   * stream position S after the user's previous one P: its updates take S-n+1..S, each pointing at the
   * one before (the first at P), so that the last one is S, the stream_id /user/devices answers. When
   * (P, S] has no room for that, a single update with an empty prev_id makes the other servers resync
   * (Synapse and this server both do on an empty prev_id). Cross-signing: m.signing_key_update with
   * the current master and self-signing keys.
   */
  private async announce(u: DeviceListUpdate): Promise<void> {
    const servers = await this.serversSharingRoom(u.userId);
    if (servers.size === 0) return;
    const current = await this.keys.queryLocal(null, { [u.userId]: [] });
    const edus: { edu: { edu_type: string; content: JsonObject }; coalesceKey?: string }[] = [];
    const n = u.deviceIds.length;
    if (n > 0) {
      const fits = u.streamId - n + 1 > (u.prevId ?? 0);
      const devices = fits ? u.deviceIds : u.deviceIds.slice(-1);
      let prev: number[] = fits && u.prevId !== undefined ? [u.prevId] : [];
      devices.forEach((deviceId, i) => {
        const streamId = u.streamId - devices.length + 1 + i;
        const keys = u.deleted ? undefined : current.device_keys[u.userId]?.[deviceId];
        const content: JsonObject = { user_id: u.userId, device_id: deviceId, stream_id: streamId, prev_id: prev };
        if (keys === undefined) content.deleted = true;
        else {
          const { unsigned, ...signed } = keys;
          content.keys = signed;
          const name = (unsigned as JsonObject | undefined)?.device_display_name;
          if (typeof name === 'string') content.device_display_name = name;
        }
        edus.push({ edu: { edu_type: 'm.device_list_update', content } });
        prev = [streamId];
      });
    }
    if (u.crossSigning) {
      const master = current.master_keys[u.userId];
      const ssk = current.self_signing_keys[u.userId];
      edus.push({
        edu: { edu_type: 'm.signing_key_update', content: { user_id: u.userId, ...(master ? { master_key: master } : {}), ...(ssk ? { self_signing_key: ssk } : {}) } },
        coalesceKey: `m.signing_key_update ${u.userId}`,
      });
    }
    for (const server of servers) {
      for (const e of edus) await this.sender.sendEdu(server, e.edu, e.coalesceKey ? { coalesceKey: e.coalesceKey } : {});
    }
  }
}
