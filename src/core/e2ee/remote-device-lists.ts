// Other servers' users' device lists (matrix-spec: server-server-api "Device Management", "End-to-End
// Encryption"; server-server/user_keys.yaml, user_devices.yaml; the m.device_list_update and
// m.signing_key_update EDUs). This is the RemoteKeyClient of E2eeKeyService: a client's /keys/query
// and /keys/claim for users of another server are asked of that server (one request per server, with
// the client's timeout), and what /keys/query answers is kept in a cache that the EDUs keep current.
//
// The cache (memory only, at most MAX_ENTRIES users, least recently used first out):
//   - holds a remote user's whole device list (device keys with unsigned.device_display_name) and
//     public cross-signing keys, only while a local user shares a room with them (their server then
//     sends us their changes);
//   - is filled by a /user/keys/query answer for all of a user's devices (`streamId` unknown), or by
//     a resync through GET /user/devices/{userId} (`streamId` known);
//   - an m.device_list_update whose prev_id are all updates this copy has (or its snapshot) is
//     applied to it; any other (a gap, an empty prev_id, a copy whose position is unknown) marks the
//     copy stale, which a resync through /user/devices replaces in the background; a stale copy is
//     never served (the query goes to the user's server);
//   - an m.signing_key_update replaces the cross-signing keys it carries;
//   - a copy is dropped when sharing may have ended: a member event of that user, or a leave or ban
//     of a local user in a room they are in (a later query asks their server again);
//   - an answer that was in flight while one of these happened is not kept.
// Every accepted EDU also records the remote user's change in the device-list stream (after the
// cache is updated), so the local users who share a room see them in device_lists.changed.
import type { Logger } from '../../logger.js';
import type { RoomStore } from '../../storage/types.js';
import type { JsonObject, JsonValue } from '../../wire.js';
import type { EventWriter } from '../events/writer.js';
import type { FederationClient } from '../federation/client.js';
import { isResident, serverOfUser } from '../federation/room-servers.js';
import { joinedMembers, type RoomStateService } from '../rooms/room-state.js';
import type { DeviceListService } from './device-lists.js';
import type { ClaimedKeysMap, KeysQueryResult, RemoteKeyClient } from './keys.js';

/** Remote users whose device lists are kept, at most. */
export const MAX_ENTRIES = 10_000;
/** Stream IDs of applied updates remembered per user (for prev_id checks). */
const SEEN_IDS = 20;
const RESYNC_TIMEOUT_MS = 30_000;

type RemoteKeys = Omit<KeysQueryResult, 'user_signing_keys'>;

interface Entry {
  /** The remote's stream_id of this copy; null when it came from /user/keys/query (which has none). */
  streamId: number | null;
  /** stream_ids this copy includes (the snapshot's, then each applied update), newest last. */
  seen: number[];
  devices: Map<string, JsonObject>;
  masterKey: JsonObject | undefined;
  selfSigningKey: JsonObject | undefined;
  stale: boolean;
}

/** A request in flight whose answer may be kept, unless the user's list changed meanwhile. */
interface FillToken {
  invalidated: boolean;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStreamId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export class RemoteDeviceLists implements RemoteKeyClient {
  private readonly entries = new Map<string, Entry>();
  private readonly fills = new Map<string, Set<FillToken>>();
  private readonly resyncs = new Map<string, { again: boolean; done: Promise<void> }>();

  constructor(
    private readonly serverName: string,
    private readonly client: FederationClient,
    private readonly rooms: RoomStore,
    private readonly roomState: RoomStateService,
    writer: EventWriter,
    private readonly deviceLists: DeviceListService,
    private readonly logger: Logger,
  ) {
    writer.addListener({
      onEventPersisted: (rec, room) => {
        const target = rec.event.state_key;
        if (rec.event.type !== 'm.room.member' || target === undefined) return;
        if (!this.isLocal(target)) {
          this.forget(target);
          return;
        }
        const membership = rec.event.content.membership;
        if (membership === 'leave' || membership === 'ban') for (const u of joinedMembers(room)) if (!this.isLocal(u)) this.forget(u);
      },
    });
  }

  private isLocal(userId: string): boolean {
    return serverOfUser(userId) === this.serverName;
  }

  // ---- RemoteKeyClient ------------------------------------------------------------------------------

  /** POST /_matrix/federation/v1/user/keys/query on `serverName` for the users not served from the cache. */
  async queryKeys(serverName: string, deviceKeys: Record<string, string[]>, timeoutMs: number): Promise<RemoteKeys> {
    const out: RemoteKeys = { device_keys: {}, master_keys: {}, self_signing_keys: {} };
    const ask: Record<string, string[]> = {};
    for (const [userId, wanted] of Object.entries(deviceKeys)) {
      const e = this.fresh(userId);
      if (!e) {
        ask[userId] = wanted;
        continue;
      }
      const devices: Record<string, JsonObject> = {};
      for (const [deviceId, keys] of e.devices) if (wanted.length === 0 || wanted.includes(deviceId)) devices[deviceId] = keys;
      out.device_keys[userId] = devices;
      if (e.masterKey) out.master_keys[userId] = e.masterKey;
      if (e.selfSigningKey) out.self_signing_keys[userId] = e.selfSigningKey;
    }
    const users = Object.keys(ask);
    if (users.length === 0) return out;
    // A copy of a whole list may be kept: the users asked about with all their devices.
    const tokens = new Map(users.filter((u) => ask[u]!.length === 0).map((u) => [u, this.track(u)]));
    try {
      const r = await this.client.request<unknown>({ destination: serverName, method: 'POST', path: '/_matrix/federation/v1/user/keys/query', body: { device_keys: ask }, timeoutMs });
      const answer = isObject(r) ? r : {};
      const deviceMap = isObject(answer.device_keys) ? answer.device_keys : {};
      const masters = isObject(answer.master_keys) ? answer.master_keys : {};
      const ssks = isObject(answer.self_signing_keys) ? answer.self_signing_keys : {};
      for (const userId of users) {
        const devices = objectsOf(deviceMap[userId]);
        if (devices) out.device_keys[userId] = devices;
        const master = masters[userId];
        if (isObject(master)) out.master_keys[userId] = master;
        const ssk = ssks[userId];
        if (isObject(ssk)) out.self_signing_keys[userId] = ssk;
      }
      for (const [userId, token] of tokens) {
        const devices = out.device_keys[userId];
        if (!devices) continue;
        await this.keep(userId, token, {
          streamId: null, seen: [], devices: new Map(Object.entries(devices)),
          masterKey: out.master_keys[userId], selfSigningKey: out.self_signing_keys[userId], stale: false,
        });
      }
      return out;
    } finally {
      for (const [userId, token] of tokens) this.untrack(userId, token);
    }
  }

  /** POST /_matrix/federation/v1/user/keys/claim on `serverName` (never cached: each key is handed out once). */
  async claimKeys(serverName: string, oneTimeKeys: Record<string, Record<string, string>>, timeoutMs: number): Promise<ClaimedKeysMap> {
    const r = await this.client.request<unknown>({ destination: serverName, method: 'POST', path: '/_matrix/federation/v1/user/keys/claim', body: { one_time_keys: oneTimeKeys }, timeoutMs });
    const claimed = isObject(r) && isObject(r.one_time_keys) ? r.one_time_keys : {};
    const out: ClaimedKeysMap = {};
    for (const userId of Object.keys(oneTimeKeys)) {
      const devices = objectsOf(claimed[userId]);
      if (devices) out[userId] = devices as Record<string, Record<string, JsonValue>>;
    }
    return out;
  }

  // ---- EDUs -----------------------------------------------------------------------------------------

  /** An m.device_list_update from `origin` (matrix-spec: server-server-api "Device Management"). */
  async onDeviceListUpdate(origin: string, content: JsonObject): Promise<void> {
    const { user_id: userId, device_id: deviceId, stream_id: streamId } = content;
    if (typeof userId !== 'string' || typeof deviceId !== 'string' || !isStreamId(streamId)) {
      this.logger.debug({ origin }, 'federation: malformed m.device_list_update ignored');
      return;
    }
    if (!(await this.acceptFrom(origin, userId, 'm.device_list_update'))) return;
    const prevIds = Array.isArray(content.prev_id) ? content.prev_id.filter(isStreamId) : [];
    this.invalidateFills(userId);
    const e = this.entries.get(userId);
    if (e && !e.stale) {
      const follows = e.streamId !== null && prevIds.length > 0 && prevIds.every((p) => e.seen.includes(p) || p <= e.streamId!);
      if (e.streamId !== null && (streamId <= e.streamId || e.seen.includes(streamId))) {
        // Already in this copy (its snapshot is newer, or the same update again).
      } else if (follows) {
        const keys = content.keys;
        if (content.deleted === true || !isObject(keys)) e.devices.delete(deviceId);
        else {
          const name = content.device_display_name;
          e.devices.set(deviceId, { ...keys, ...(typeof name === 'string' ? { unsigned: { device_display_name: name } } : {}) });
        }
        e.streamId = streamId;
        e.seen = [...e.seen, streamId].slice(-SEEN_IDS);
      } else {
        e.stale = true;
      }
    }
    if (e?.stale) this.resync(userId);
    await this.deviceLists.recordRemoteChange(userId);
  }

  /** An m.signing_key_update from `origin`: the cross-signing keys it carries replace the cached ones. */
  async onSigningKeyUpdate(origin: string, content: JsonObject): Promise<void> {
    const userId = content.user_id;
    if (typeof userId !== 'string') return;
    if (!(await this.acceptFrom(origin, userId, 'm.signing_key_update'))) return;
    this.invalidateFills(userId);
    const e = this.entries.get(userId);
    if (e && !e.stale) {
      if (isObject(content.master_key)) e.masterKey = content.master_key;
      if (isObject(content.self_signing_key)) e.selfSigningKey = content.self_signing_key;
    }
    await this.deviceLists.recordRemoteChange(userId);
  }

  /** Only a user of the sending server, and only one a local user shares a room with. */
  private async acceptFrom(origin: string, userId: string, type: string): Promise<boolean> {
    if (serverOfUser(userId) !== origin) {
      this.logger.info({ origin, userId }, `federation: ${type} for a user of another server ignored`);
      return false;
    }
    if (!(await this.sharesRoom(userId))) {
      this.logger.debug({ origin, userId }, `federation: ${type} for a user no local user shares a room with ignored`);
      return false;
    }
    return true;
  }

  // ---- the cache ------------------------------------------------------------------------------------

  /** Whether a copy of the user's list is kept (fresh or stale); for tests and the admin. */
  has(userId: string): boolean {
    return this.entries.has(userId);
  }

  /** A copy that may be served (not stale), refreshed as recently used. */
  private fresh(userId: string): Entry | undefined {
    const e = this.entries.get(userId);
    if (!e || e.stale) return undefined;
    this.entries.delete(userId);
    this.entries.set(userId, e);
    return e;
  }

  private forget(userId: string): void {
    this.entries.delete(userId);
    this.invalidateFills(userId);
  }

  private track(userId: string): FillToken {
    const token: FillToken = { invalidated: false };
    const set = this.fills.get(userId) ?? new Set();
    set.add(token);
    this.fills.set(userId, set);
    return token;
  }

  private untrack(userId: string, token: FillToken): void {
    const set = this.fills.get(userId);
    if (!set) return;
    set.delete(token);
    if (set.size === 0) this.fills.delete(userId);
  }

  private invalidateFills(userId: string): void {
    for (const t of this.fills.get(userId) ?? []) t.invalidated = true;
  }

  /** Keeps a copy fetched under `token`, unless the list changed meanwhile or no local user shares a room with the user. */
  private async keep(userId: string, token: FillToken, entry: Entry): Promise<void> {
    if (token.invalidated || !(await this.sharesRoom(userId)) || token.invalidated) return;
    this.entries.delete(userId);
    this.entries.set(userId, entry);
    while (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Whether a local user is joined to a room the user is joined to. */
  private async sharesRoom(userId: string): Promise<boolean> {
    for (const m of await this.rooms.getRoomsForUser(userId, ['join'])) {
      if (isResident(await this.roomState.get(m.roomId), this.serverName)) return true;
    }
    return false;
  }

  /** Replaces a stale copy from GET /user/devices/{userId}, in the background; again if an update arrives meanwhile. */
  private resync(userId: string): void {
    const running = this.resyncs.get(userId);
    if (running) {
      running.again = true;
      return;
    }
    const state = { again: true, done: Promise.resolve() };
    state.done = (async () => {
      try {
        while (state.again) {
          state.again = false;
          if (!(await this.resyncOnce(userId))) break;
        }
      } finally {
        this.resyncs.delete(userId);
      }
    })();
    this.resyncs.set(userId, state);
  }

  /** Resyncs in flight have ended (tests). */
  async settled(): Promise<void> {
    while (this.resyncs.size > 0) await Promise.all([...this.resyncs.values()].map((r) => r.done));
  }

  private async resyncOnce(userId: string): Promise<boolean> {
    const server = serverOfUser(userId)!;
    const token = this.track(userId);
    try {
      const r = await this.client.request<unknown>({ destination: server, method: 'GET', path: `/_matrix/federation/v1/user/devices/${encodeURIComponent(userId)}`, timeoutMs: RESYNC_TIMEOUT_MS });
      if (!isObject(r) || r.user_id !== userId || !isStreamId(r.stream_id) || !Array.isArray(r.devices)) throw new Error('malformed user/devices answer');
      const devices = new Map<string, JsonObject>();
      for (const d of r.devices) {
        if (!isObject(d) || typeof d.device_id !== 'string' || !isObject(d.keys)) continue;
        const name = d.device_display_name;
        devices.set(d.device_id, { ...d.keys, ...(typeof name === 'string' ? { unsigned: { device_display_name: name } } : {}) });
      }
      await this.keep(userId, token, {
        streamId: r.stream_id, seen: [r.stream_id], devices,
        masterKey: isObject(r.master_key) ? r.master_key : undefined, selfSigningKey: isObject(r.self_signing_key) ? r.self_signing_key : undefined, stale: false,
      });
      return true;
    } catch (err) {
      // The copy stays stale: queries go to the user's server until an update or a query refills it.
      this.logger.info({ userId, err: (err as Error).message }, 'federation: device list resync failed');
      return false;
    } finally {
      this.untrack(userId, token);
    }
  }
}

/** A map of objects (device ID -> keys), or undefined when `v` is not one. */
function objectsOf(v: unknown): Record<string, JsonObject> | undefined {
  if (!isObject(v)) return undefined;
  const out: Record<string, JsonObject> = {};
  for (const [k, x] of Object.entries(v)) if (isObject(x)) out[k] = x;
  return out;
}
