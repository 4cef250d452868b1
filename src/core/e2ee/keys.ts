// End-to-end encryption keys (matrix-spec: keys.yaml, cross_signing.yaml; client-server-api
// "End-to-End Encryption"). The server stores and hands out public keys and signatures; it never sees
// a private key or plaintext. Every change of what /keys/query shows about a user goes through the
// device-list service (a position, the waiting syncs of the users concerned woken, federation told).
//
// For federation: queryLocal/claimLocal answer /_matrix/federation/v1/user/keys/query and .../claim,
// localDeviceList answers /user/devices/{userId}; a RemoteKeyClient, when the server has one, is
// asked for the keys of other servers' users (without one they are reported in `failures`).
import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import { badJson, forbidden, invalidParam, invalidSignature, MatrixError, missingParam } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { CrossSigningKeyRecord, CrossSigningUsage, DeviceListChangeRecord, E2eeStore, SignatureRecord } from '../../storage/e2ee-types.js';
import type { AccountStore } from '../../storage/types.js';
import type { JsonObject, JsonValue } from '../../wire.js';
import type { AuthContext } from '../accounts/events.js';
import { PASSWORD_FLOWS, passwordStageCheck } from '../accounts/policy.js';
import { parseUserId } from '../ids.js';
import type { UiaService } from '../uia.js';
import type { DeviceListChange, DeviceListService } from './device-lists.js';
import {
  canonical, CROSS_SIGNING_FIELDS, hasValidSignature, parseCrossSigningKey, parseDeviceKeys, parseOneTimeKeys, requireObject, sameSignedContent,
  signaturesOf, withSignatures,
} from './objects.js';

/** user -> device -> device keys (with unsigned.device_display_name). */
export type DeviceKeysMap = Record<string, Record<string, JsonObject>>;

export interface KeysQueryResult {
  device_keys: DeviceKeysMap;
  master_keys: Record<string, JsonObject>;
  self_signing_keys: Record<string, JsonObject>;
  /** Only the requester's own, and only for a local requester. */
  user_signing_keys?: Record<string, JsonObject>;
}

/** user -> device -> `<algorithm>:<key_id>` -> key. */
export type ClaimedKeysMap = Record<string, Record<string, Record<string, JsonValue>>>;

/** Another server's key APIs (federation user/keys/query and user/keys/claim), plugged in by the federation layer. */
export interface RemoteKeyClient {
  queryKeys(serverName: string, deviceKeys: Record<string, string[]>, timeoutMs: number): Promise<Omit<KeysQueryResult, 'user_signing_keys'>>;
  claimKeys(serverName: string, oneTimeKeys: Record<string, Record<string, string>>, timeoutMs: number): Promise<ClaimedKeysMap>;
}

/** A local user's device list as federation's GET /user/devices/{userId} needs it. */
export interface LocalDeviceList {
  userId: string;
  /** The position of the user's latest device-list change (0 when none). */
  streamId: number;
  devices: { device_id: string; keys: JsonObject; device_display_name?: string }[];
  masterKey?: JsonObject;
  selfSigningKey?: JsonObject;
}

export interface SyncKeysSection {
  device_lists: { changed: string[]; left: string[] };
  device_one_time_keys_count: Record<string, number>;
  device_unused_fallback_key_types: string[];
}

/** Synapse's failure shape for a server that could not be asked. */
const unreachable = (message: string) => ({ status: 503, message });
/** A server that answered an error keeps its status (Synapse's `_exception_to_failure`); any other failure is 503. */
const failureOf = (err: unknown): JsonObject => {
  const status = (err as { kind?: unknown; status?: unknown }).status;
  const message = err instanceof Error ? err.message : String(err);
  return typeof status === 'number' ? { status, message } : unreachable(message);
};
const DEFAULT_REMOTE_TIMEOUT_MS = 10_000;
const MAX_REMOTE_TIMEOUT_MS = 30_000;
/** The algorithm clients count on; reported even at zero (as Synapse does), so they know to upload. */
const SIGNED_CURVE25519 = 'signed_curve25519';

const USAGES: CrossSigningUsage[] = ['master', 'self_signing', 'user_signing'];

export class E2eeKeyService {
  private readonly passwordCheck: ReturnType<typeof passwordStageCheck>;

  constructor(
    private readonly config: Config,
    private readonly store: E2eeStore,
    private readonly accounts: AccountStore,
    private readonly deviceLists: DeviceListService,
    private readonly uia: UiaService,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly remote?: RemoteKeyClient,
  ) {
    this.passwordCheck = passwordStageCheck(config, accounts);
  }

  private isLocal(userId: string): boolean {
    return parseUserId(userId)?.domain === this.config.server_name;
  }

  // ---- POST /keys/upload --------------------------------------------------------------------------

  /** POST /keys/upload (matrix-spec: keys.yaml#uploadKeys): device keys, one-time keys, fallback keys. */
  async upload(auth: AuthContext, body: JsonObject): Promise<{ one_time_key_counts: Record<string, number> }> {
    const { userId, deviceId } = auth;
    const otks = parseOneTimeKeys(body.one_time_keys, 'one_time_keys');
    const fallbacks = parseOneTimeKeys(body.fallback_keys, 'fallback_keys');
    const algorithms = new Set<string>();
    for (const f of fallbacks) {
      if (algorithms.has(f.algorithm)) throw invalidParam(`fallback_keys: at most one key per algorithm (${f.algorithm})`);
      algorithms.add(f.algorithm);
    }
    if (body.device_keys !== undefined && body.device_keys !== null) {
      const { keys, ed25519 } = parseDeviceKeys(body.device_keys, userId, deviceId);
      // appendices "Signing JSON": the device signs its keys with its own ed25519 key.
      if (!hasValidSignature(keys, userId, `ed25519:${deviceId}`, ed25519)) throw invalidSignature('device_keys must be signed by the device\'s ed25519 key');
      const [before] = await this.store.getDeviceKeys(userId, [deviceId]);
      if (!before || canonical(before.keys) !== canonical(keys)) {
        if (before) this.logger.warn({ userId, deviceId }, 'a device uploaded new identity keys');
        await this.deviceLists.publish({ userId, deviceIds: [deviceId] },
          (change) => this.store.putDeviceKeys({ userId, deviceId, keys }, this.clock.now(), change));
      }
    }
    if (otks.length > 0) {
      const { conflicts } = await this.store.addOneTimeKeys(userId, deviceId, otks);
      if (conflicts.length > 0) throw invalidParam(`One-time key ${conflicts[0]} already exists with another value`);
    }
    if (fallbacks.length > 0) await this.store.setFallbackKeys(userId, deviceId, fallbacks);
    return { one_time_key_counts: await this.counts(userId, deviceId) };
  }

  private async counts(userId: string, deviceId: string): Promise<Record<string, number>> {
    return { [SIGNED_CURVE25519]: 0, ...(await this.store.countOneTimeKeys(userId, deviceId)) };
  }

  // ---- POST /keys/query ---------------------------------------------------------------------------

  /** POST /keys/query (matrix-spec: keys.yaml#queryKeys): local users from storage, remote ones through federation. */
  async query(auth: AuthContext, deviceKeys: Record<string, string[]>, timeoutMs: number | undefined): Promise<KeysQueryResult & { failures: Record<string, JsonObject> }> {
    const local: Record<string, string[]> = {};
    const remote = new Map<string, Record<string, string[]>>();
    for (const [userId, devices] of Object.entries(deviceKeys)) {
      const parsed = parseUserId(userId);
      if (!parsed) throw invalidParam(`Invalid user ID ${userId}`);
      if (parsed.domain === this.config.server_name) local[userId] = devices;
      else (remote.get(parsed.domain) ?? remote.set(parsed.domain, {}).get(parsed.domain)!)[userId] = devices;
    }
    const result = await this.queryLocal(auth.userId, local);
    const failures: Record<string, JsonObject> = {};
    await Promise.all([...remote].map(async ([server, users]) => {
      if (!this.remote) {
        failures[server] = unreachable('Federation is not available on this server');
        return;
      }
      try {
        const r = await this.remote.queryKeys(server, users, clampTimeout(timeoutMs));
        // Only what was asked about, and only users of that server.
        for (const userId of Object.keys(users)) {
          const devices = r.device_keys?.[userId];
          if (devices) result.device_keys[userId] = devices;
          const master = r.master_keys?.[userId];
          if (master) result.master_keys[userId] = master;
          const ssk = r.self_signing_keys?.[userId];
          if (ssk) result.self_signing_keys[userId] = ssk;
        }
      } catch (err) {
        failures[server] = failureOf(err);
      }
    }));
    return { failures, ...result };
  }

  /**
   * The keys of local users (also federation's user/keys/query, with `requester` null). An empty
   * device list asks for every device. Signatures a requester may see (client-server-api "Key and
   * signature security"): those of the key's owner, and the requester's own; a remote server sees
   * the owner's only. The user-signing key goes to its owner alone.
   */
  async queryLocal(requester: string | null, deviceKeys: Record<string, string[]>): Promise<KeysQueryResult> {
    const users = Object.keys(deviceKeys).filter((u) => this.isLocal(u));
    const result: KeysQueryResult = { device_keys: {}, master_keys: {}, self_signing_keys: {} };
    if (requester !== null) result.user_signing_keys = {};
    if (users.length === 0) return result;
    const visible = (s: SignatureRecord) => s.signerUserId === s.targetUserId || s.signerUserId === requester;
    const extra = new Map<string, { userId: string; keyId: string; signature: string }[]>();
    for (const s of await this.store.getSignaturesFor(users)) {
      if (!visible(s)) continue;
      const k = `${s.targetUserId}\u0000${s.targetKeyId}`;
      const list = extra.get(k) ?? [];
      list.push({ userId: s.signerUserId, keyId: s.signerKeyId, signature: s.signature });
      extra.set(k, list);
    }
    const signed = (userId: string, keyId: string, obj: JsonObject) => withSignatures(obj, extra.get(`${userId}\u0000${keyId}`) ?? []);
    for (const userId of users) {
      const wanted = deviceKeys[userId]!;
      const records = await this.store.getDeviceKeys(userId, wanted.length > 0 ? wanted : undefined);
      const names = new Map((await this.accounts.listDevices(userId)).map((d) => [d.deviceId, d.displayName]));
      const devices: Record<string, JsonObject> = {};
      for (const r of records) {
        if (!names.has(r.deviceId)) continue; // deleted meanwhile
        const name = names.get(r.deviceId);
        devices[r.deviceId] = { ...signed(userId, r.deviceId, r.keys), ...(name ? { unsigned: { device_display_name: name } } : {}) };
      }
      result.device_keys[userId] = devices;
    }
    for (const k of await this.store.getCrossSigningKeys(users)) {
      if (k.usage === 'master') result.master_keys[k.userId] = signed(k.userId, k.publicKey, k.key);
      else if (k.usage === 'self_signing') result.self_signing_keys[k.userId] = k.key;
      else if (k.userId === requester) result.user_signing_keys![k.userId] = k.key;
    }
    return result;
  }

  /** GET /user/devices/{userId} for federation: the user's devices with keys, the stream position, the public cross-signing keys. */
  async localDeviceList(userId: string): Promise<LocalDeviceList> {
    // The position first: keys read after it may be newer (the next update repeats them), never older.
    const streamId = (await this.store.latestDeviceListChange(userId)) ?? 0;
    const q = await this.queryLocal(null, { [userId]: [] });
    const devices = Object.entries(q.device_keys[userId] ?? {}).map(([deviceId, keys]) => {
      const { unsigned, ...rest } = keys;
      const name = (unsigned as JsonObject | undefined)?.device_display_name;
      return { device_id: deviceId, keys: rest, ...(typeof name === 'string' ? { device_display_name: name } : {}) };
    });
    return {
      userId,
      streamId,
      devices,
      ...(q.master_keys[userId] ? { masterKey: q.master_keys[userId] } : {}),
      ...(q.self_signing_keys[userId] ? { selfSigningKey: q.self_signing_keys[userId] } : {}),
    };
  }

  // ---- POST /keys/claim ---------------------------------------------------------------------------

  /** POST /keys/claim (matrix-spec: keys.yaml#claimKeys). */
  async claim(oneTimeKeys: Record<string, Record<string, string>>, timeoutMs: number | undefined): Promise<{ one_time_keys: ClaimedKeysMap; failures: Record<string, JsonObject> }> {
    const local: Record<string, Record<string, string>> = {};
    const remote = new Map<string, Record<string, Record<string, string>>>();
    for (const [userId, devices] of Object.entries(oneTimeKeys)) {
      const parsed = parseUserId(userId);
      if (!parsed) throw invalidParam(`Invalid user ID ${userId}`);
      if (parsed.domain === this.config.server_name) local[userId] = devices;
      else (remote.get(parsed.domain) ?? remote.set(parsed.domain, {}).get(parsed.domain)!)[userId] = devices;
    }
    const claimed = await this.claimLocal(local);
    const failures: Record<string, JsonObject> = {};
    await Promise.all([...remote].map(async ([server, users]) => {
      if (!this.remote) {
        failures[server] = unreachable('Federation is not available on this server');
        return;
      }
      try {
        const r = await this.remote.claimKeys(server, users, clampTimeout(timeoutMs));
        for (const userId of Object.keys(users)) if (r[userId]) claimed[userId] = r[userId];
      } catch (err) {
        failures[server] = failureOf(err);
      }
    }));
    return { one_time_keys: claimed, failures };
  }

  /**
   * Claims keys of local devices (also federation's user/keys/claim): each device's oldest one-time
   * key of the algorithm, else its fallback key (then marked used). Unknown users and devices, and
   * devices without keys, are left out.
   */
  async claimLocal(oneTimeKeys: Record<string, Record<string, string>>): Promise<ClaimedKeysMap> {
    const requests = Object.entries(oneTimeKeys).filter(([u]) => this.isLocal(u))
      .flatMap(([userId, devices]) => Object.entries(devices).map(([deviceId, algorithm]) => ({ userId, deviceId, algorithm })));
    const out: ClaimedKeysMap = {};
    for (const k of await this.store.claimKeys(requests)) ((out[k.userId] ??= {})[k.deviceId] ??= {})[`${k.algorithm}:${k.keyId}`] = k.key;
    return out;
  }

  // ---- /sync and /keys/changes ----------------------------------------------------------------------

  /** The end-to-end parts of a /sync response (client-server-api "Extensions to /sync"). */
  async syncSection(auth: AuthContext, since: number | undefined, upTo: number): Promise<SyncKeysSection> {
    return {
      // "only present on an incremental sync": an initial sync has it empty.
      device_lists: since === undefined ? { changed: [], left: [] } : await this.deviceLists.section(auth.userId, since, upTo),
      device_one_time_keys_count: await this.counts(auth.userId, auth.deviceId),
      device_unused_fallback_key_types: await this.store.unusedFallbackKeyTypes(auth.userId, auth.deviceId),
    };
  }

  /** GET /keys/changes (matrix-spec: keys.yaml#getKeysChanges): between two sync positions. */
  async changes(auth: AuthContext, from: number, to: number): Promise<{ changed: string[]; left: string[] }> {
    return this.deviceLists.section(auth.userId, from, to);
  }

  // ---- cross-signing ------------------------------------------------------------------------------

  /**
   * POST /keys/device_signing/upload (matrix-spec: cross_signing.yaml#uploadCrossSigningKeys). UIA
   * (m.login.password) is required unless the user has no master key yet, or the request only
   * repeats the keys stored (an idempotent retry). The self-signing and user-signing keys must be
   * signed by the master key (the one uploaded with them, else the stored one).
   */
  async uploadCrossSigningKeys(auth: AuthContext, body: JsonObject): Promise<void> {
    const userId = auth.userId;
    const parsed = new Map<CrossSigningUsage, { key: JsonObject; publicKey: string }>();
    for (const usage of USAGES) {
      const v = body[CROSS_SIGNING_FIELDS[usage]];
      if (v !== undefined && v !== null) parsed.set(usage, parseCrossSigningKey(v, userId, usage));
    }
    const stored = new Map((await this.store.getCrossSigningKeys([userId])).map((k) => [k.usage, k]));
    const storedMaster = stored.get('master');
    const onlyRepeats = [...parsed].every(([usage, p]) => {
      const s = stored.get(usage);
      return s !== undefined && canonical(s.key) === canonical(p.key);
    });
    if (storedMaster && !onlyRepeats) {
      await this.uia.authenticate('upload-cross-signing-keys', body.auth, PASSWORD_FLOWS, { userId, checkPassword: this.passwordCheck });
    }
    const changedUsages = [...parsed].filter(([usage, p]) => {
      const s = stored.get(usage);
      return s === undefined || canonical(s.key) !== canonical(p.key);
    });
    if (changedUsages.length === 0) return;
    const master = parsed.get('master')?.publicKey ?? storedMaster?.publicKey;
    for (const usage of ['self_signing', 'user_signing'] as const) {
      const p = parsed.get(usage);
      if (!p) continue;
      if (master === undefined) throw missingParam('No master signing key is available to check the signature of the ' + CROSS_SIGNING_FIELDS[usage]);
      if (!hasValidSignature(p.key, userId, `ed25519:${master}`, master)) throw invalidSignature(`${CROSS_SIGNING_FIELDS[usage]} is not signed by the master key`);
    }
    // client-server-api "Cross-signing": device IDs and cross-signing public keys share a namespace.
    const deviceIds = new Set((await this.accounts.listDevices(userId)).map((d) => d.deviceId));
    for (const [, p] of parsed) if (deviceIds.has(p.publicKey)) throw forbidden('Key ID in use: a device has this ID');

    const records: CrossSigningKeyRecord[] = changedUsages.map(([usage, p]) => ({ userId, usage, publicKey: p.publicKey, key: p.key }));
    const publicChange = changedUsages.some(([usage]) => usage !== 'user_signing');
    const now = this.clock.now();
    // Everyone sharing a room learns of a new master or self-signing key; the user-signing key is the user's alone.
    await this.deviceLists.publish(publicChange ? { userId, crossSigning: true } : { userId, onlyFor: userId },
      (change) => this.store.putCrossSigningKeys(records, now, [change]));
  }

  /**
   * POST /keys/signatures/upload (matrix-spec: cross_signing.yaml#uploadCrossSigningSignatures). The
   * signed object must be the stored key apart from its signatures; accepted are signatures of the
   * user's own devices by their self-signing key, of their own master key by their devices, and of
   * other users' master keys by their user-signing key. Each signature is verified; what fails is
   * reported per key in `failures`, the rest is stored.
   */
  async uploadSignatures(auth: AuthContext, body: JsonObject): Promise<{ failures: Record<string, Record<string, JsonObject>> }> {
    const me = auth.userId;
    const failures: Record<string, Record<string, JsonObject>> = {};
    const fail = (userId: string, keyId: string, e: MatrixError) => { (failures[userId] ??= {})[keyId] = e.toJSON() as JsonObject; };
    const mine = new Map((await this.store.getCrossSigningKeys([me])).map((k) => [k.usage, k]));
    const accepted: SignatureRecord[] = [];
    const others = new Set<string>();

    for (const [targetUser, byKey] of Object.entries(requireObject(body, 'body'))) {
      if (!parseUserId(targetUser)) throw invalidParam(`Invalid user ID ${targetUser}`);
      const keyObjects = requireObject(byKey, targetUser);
      for (const [keyId, value] of Object.entries(keyObjects)) {
        try {
          const obj = requireObject(value, `${targetUser}.${keyId}`);
          const sigs = signaturesOf(obj)[me] ?? {};
          if (targetUser === me) {
            const master = mine.get('master');
            if (master && keyId === master.publicKey) {
              // The master key, signed by the user's devices.
              if (!sameSignedContent(obj, master.key)) throw invalidSignature('The object does not match the stored master key');
              const found = await this.verifyByDevices(me, obj, sigs, signaturesOf(master.key)[me] ?? {});
              accepted.push(...found.map((s) => ({ ...s, targetUserId: me, targetKeyId: keyId })));
            } else {
              // A device, signed by the self-signing key.
              const [device] = await this.store.getDeviceKeys(me, [keyId]);
              if (!device) throw new MatrixError(404, 'M_NOT_FOUND', 'Unknown device or key');
              if (!sameSignedContent(obj, device.keys)) throw invalidSignature('The object does not match the stored device keys');
              const ssk = mine.get('self_signing');
              if (!ssk) throw new MatrixError(400, 'M_MISSING_PARAM', 'No self-signing key is uploaded');
              const sskId = `ed25519:${ssk.publicKey}`;
              if (sigs[sskId] === undefined) throw invalidSignature('No signature by the self-signing key');
              if (!hasValidSignature(obj, me, sskId, ssk.publicKey)) throw invalidSignature();
              accepted.push({ signerUserId: me, signerKeyId: sskId, targetUserId: me, targetKeyId: keyId, signature: sigs[sskId]! });
            }
          } else {
            // Another user's master key, signed by our user-signing key.
            const [theirMaster] = (await this.store.getCrossSigningKeys([targetUser])).filter((k) => k.usage === 'master');
            if (!theirMaster || theirMaster.publicKey !== keyId) throw new MatrixError(404, 'M_NOT_FOUND', 'Unknown master key');
            if (!sameSignedContent(obj, theirMaster.key)) throw invalidSignature('The object does not match the stored master key');
            const usk = mine.get('user_signing');
            if (!usk) throw new MatrixError(400, 'M_MISSING_PARAM', 'No user-signing key is uploaded');
            const uskId = `ed25519:${usk.publicKey}`;
            if (sigs[uskId] === undefined) throw invalidSignature('No signature by the user-signing key');
            if (!hasValidSignature(obj, me, uskId, usk.publicKey)) throw invalidSignature();
            accepted.push({ signerUserId: me, signerKeyId: uskId, targetUserId: targetUser, targetKeyId: keyId, signature: sigs[uskId]! });
            others.add(targetUser);
          }
        } catch (e) {
          if (!(e instanceof MatrixError)) throw e;
          fail(targetUser, keyId, e);
        }
      }
    }
    if (accepted.length > 0) {
      const own = accepted.filter((s) => s.targetUserId === me);
      const theirs = accepted.filter((s) => s.targetUserId !== me);
      if (own.length > 0) {
        const master = mine.get('master')?.publicKey;
        const devices = [...new Set(own.filter((s) => s.targetKeyId !== master).map((s) => s.targetKeyId))];
        await this.deviceLists.publish({ userId: me, deviceIds: devices, crossSigning: own.some((s) => s.targetKeyId === master) },
          (change) => this.store.putSignatures(own, [change]));
      }
      // A user-signing key's signature is seen by the signer alone (client-server-api "Key and signature security").
      for (const target of others) {
        const sigs = theirs.filter((s) => s.targetUserId === target);
        await this.deviceLists.publish({ userId: target, onlyFor: me }, (change) => this.store.putSignatures(sigs, [change]));
      }
    }
    return { failures };
  }

  /** New signatures by the user's own devices on `obj` (their master key), each verified; throws when none is new and valid. */
  private async verifyByDevices(userId: string, obj: JsonObject, sigs: Record<string, string>, known: Record<string, string>) {
    const out: Omit<SignatureRecord, 'targetUserId' | 'targetKeyId'>[] = [];
    for (const [keyId, signature] of Object.entries(sigs)) {
      if (known[keyId] === signature || !keyId.startsWith('ed25519:')) continue;
      const deviceId = keyId.slice('ed25519:'.length);
      const [device] = await this.store.getDeviceKeys(userId, [deviceId]);
      const pub = device?.keys.keys && typeof device.keys.keys === 'object' ? (device.keys.keys as JsonObject)[keyId] : undefined;
      if (typeof pub !== 'string') continue;
      if (!hasValidSignature(obj, userId, keyId, pub)) throw invalidSignature(`Invalid signature by ${keyId}`);
      out.push({ signerUserId: userId, signerKeyId: keyId, signature });
    }
    if (out.length === 0) throw invalidSignature('No new signature by one of your devices');
    return out;
  }

  // ---- removal --------------------------------------------------------------------------------------

  /** Devices were deleted (logout, deletion by the user or an admin): their keys go, contacts are told. */
  async devicesRemoved(userId: string): Promise<void> {
    const change: DeviceListChange = { userId, deleted: true };
    await this.deviceLists.publish(change, async (record: DeviceListChangeRecord) => {
      change.deviceIds = await this.store.deleteKeysOfRemovedDevices(userId, record);
      return change.deviceIds.length > 0;
    });
  }

  /** A deactivated account's keys all go (devices, cross-signing keys, signatures, backups); contacts are told. */
  async userDeactivated(userId: string): Promise<void> {
    // The devices whose keys go, for the other servers' m.device_list_update (deleted).
    const deviceIds = (await this.store.getDeviceKeys(userId)).map((d) => d.deviceId);
    await this.deviceLists.publish({ userId, deleted: true, crossSigning: true, deviceIds }, (change) => this.store.deleteAllKeys(userId, change));
  }
}

function clampTimeout(ms: number | undefined): number {
  if (ms === undefined) return DEFAULT_REMOTE_TIMEOUT_MS;
  return Math.min(Math.max(0, ms), MAX_REMOTE_TIMEOUT_MS);
}

/** The device_keys map of a /keys/query body: user -> list of device IDs. */
export function parseDeviceKeysQuery(v: unknown): Record<string, string[]> {
  const o = requireObject(v, 'device_keys');
  const out: Record<string, string[]> = {};
  for (const [userId, devices] of Object.entries(o)) {
    if (!Array.isArray(devices) || !devices.every((d) => typeof d === 'string')) throw badJson(`device_keys.${userId} must be a list of device IDs`);
    out[userId] = devices as string[];
  }
  return out;
}

/** The one_time_keys map of a /keys/claim body: user -> device -> algorithm. */
export function parseClaimQuery(v: unknown): Record<string, Record<string, string>> {
  const o = requireObject(v, 'one_time_keys');
  const out: Record<string, Record<string, string>> = {};
  for (const [userId, devices] of Object.entries(o)) {
    const d = requireObject(devices, `one_time_keys.${userId}`);
    if (!Object.values(d).every((a) => typeof a === 'string')) throw badJson(`one_time_keys.${userId} must map device IDs to algorithms`);
    out[userId] = d as Record<string, string>;
  }
  return out;
}
