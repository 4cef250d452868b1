// The storage API of end-to-end encryption (issue 18): device keys, one-time and fallback keys,
// cross-signing keys and signatures, the device-list change stream and server-side key backups.
// Like types.ts: async, each method atomic on its own, no business rules (core decides).
import type { JsonObject, JsonValue } from '../wire.js';

/** A change of a user's device list or cross-signing keys at a position of the global stream. */
export interface DeviceListChangeRecord {
  streamOrdering: number;
  userId: string;
  /** The change concerns this user alone (user-signing keys and their signatures); null: everyone sharing a room. */
  onlyFor: string | null;
}

export interface DeviceKeysRecord {
  userId: string;
  deviceId: string;
  /** The signed device keys as uploaded, without `unsigned`. */
  keys: JsonObject;
}

/** A one-time or fallback key: `<algorithm>:<key_id>` split, with its value (a string or a signed object). */
export interface OneTimeKeyRecord {
  algorithm: string;
  keyId: string;
  key: JsonValue;
}

export interface ClaimRequest {
  userId: string;
  deviceId: string;
  algorithm: string;
}

export interface ClaimedKey extends ClaimRequest {
  keyId: string;
  key: JsonValue;
  /** A fallback key (now marked used), not a one-time key. */
  fallback: boolean;
}

export type CrossSigningUsage = 'master' | 'self_signing' | 'user_signing';

export interface CrossSigningKeyRecord {
  userId: string;
  usage: CrossSigningUsage;
  /** Unpadded base64 public key; the key ID is `ed25519:<publicKey>`. */
  publicKey: string;
  key: JsonObject;
}

/** A signature uploaded through /keys/signatures/upload. */
export interface SignatureRecord {
  signerUserId: string;
  /** `ed25519:<device ID or public key>` */
  signerKeyId: string;
  targetUserId: string;
  /** The target device's ID, or the public key of the target's master key. */
  targetKeyId: string;
  signature: string;
}

export interface BackupVersionRecord {
  userId: string;
  version: number;
  algorithm: string;
  authData: JsonObject;
  etag: number;
  deleted: boolean;
  /** Keys stored in this version. */
  count: number;
}

export interface RoomKeyRecord {
  roomId: string;
  sessionId: string;
  firstMessageIndex: number;
  forwardedCount: number;
  isVerified: boolean;
  sessionData: JsonObject;
}

export interface E2eeStore {
  // ---- device keys ----------------------------------------------------------------------------
  /** Device keys of the user's devices (all of them, or those named). */
  getDeviceKeys(userId: string, deviceIds?: string[]): Promise<DeviceKeysRecord[]>;
  /**
   * Stores (or replaces) a device's keys; signatures uploaded earlier for that device are dropped when
   * the keys change. With `change`, the device-list change is recorded in the same transaction.
   */
  putDeviceKeys(record: DeviceKeysRecord, ts: number, change: DeviceListChangeRecord | null): Promise<void>;

  // ---- one-time and fallback keys ---------------------------------------------------------------
  /**
   * Adds one-time keys in one transaction, as the newest upload. A key ID already stored with the same
   * value is skipped; one stored with another value is a conflict: then nothing is stored and the
   * conflicting `<algorithm>:<key_id>`s are returned.
   */
  addOneTimeKeys(userId: string, deviceId: string, keys: OneTimeKeyRecord[]): Promise<{ conflicts: string[] }>;
  /** Unclaimed one-time keys of the device, by algorithm. */
  countOneTimeKeys(userId: string, deviceId: string): Promise<Record<string, number>>;
  /** Sets the device's fallback key of each algorithm; an identical key keeps its `used` flag, a new one is unused. */
  setFallbackKeys(userId: string, deviceId: string, keys: OneTimeKeyRecord[]): Promise<void>;
  /** Algorithms of the device's fallback keys that no claim has handed out. */
  unusedFallbackKeyTypes(userId: string, deviceId: string): Promise<string[]>;
  /**
   * Claims, in one transaction, for each request the device's oldest one-time key of the algorithm
   * (deleted: never handed out twice), else its fallback key (marked used). Requests that find
   * neither are left out.
   */
  claimKeys(requests: ClaimRequest[]): Promise<ClaimedKey[]>;

  // ---- cross-signing ------------------------------------------------------------------------------
  getCrossSigningKeys(userIds: string[]): Promise<CrossSigningKeyRecord[]>;
  /** Stores (replaces) the user's keys of these usages and records the changes, in one transaction. */
  putCrossSigningKeys(keys: CrossSigningKeyRecord[], ts: number, changes: DeviceListChangeRecord[]): Promise<void>;
  /** Uploaded signatures on the keys (devices and master keys) of these users. */
  getSignaturesFor(targetUserIds: string[]): Promise<SignatureRecord[]>;
  /** Stores signatures (replacing one by the same signer key on the same target) and records the changes. */
  putSignatures(signatures: SignatureRecord[], changes: DeviceListChangeRecord[]): Promise<void>;

  // ---- the device-list change stream ----------------------------------------------------------
  recordDeviceListChanges(changes: DeviceListChangeRecord[]): Promise<void>;
  /** Changes with a position in (after, upTo], in stream order. */
  getDeviceListChanges(after: number, upTo: number): Promise<DeviceListChangeRecord[]>;
  /** The position of the user's latest change visible to everyone (the `prev_id` of the next federation update). */
  latestDeviceListChange(userId: string): Promise<number | undefined>;

  // ---- removal ----------------------------------------------------------------------------------
  /**
   * Deletes the end-to-end keys (device keys, one-time and fallback keys, signatures on them) of the
   * user's devices that no longer exist; when some of them had device keys, records `change`. Returns
   * the IDs of those devices.
   */
  deleteKeysOfRemovedDevices(userId: string, change: DeviceListChangeRecord): Promise<string[]>;
  /** Deletes every key of the user (devices, cross-signing keys, signatures by and on them, key backups) and records `change`. */
  deleteAllKeys(userId: string, change: DeviceListChangeRecord): Promise<void>;

  // ---- key backup ---------------------------------------------------------------------------------
  /** Creates the user's next backup version (one more than any before, deleted ones included). */
  createBackupVersion(userId: string, algorithm: string, authData: JsonObject): Promise<number>;
  /** A version (deleted ones too, flagged), or without `version` the newest one not deleted. */
  getBackupVersion(userId: string, version?: number): Promise<BackupVersionRecord | undefined>;
  updateBackupAuthData(userId: string, version: number, authData: JsonObject): Promise<void>;
  /** Marks the version deleted and drops its keys; false when it never existed. */
  deleteBackupVersion(userId: string, version: number): Promise<boolean>;
  /** Keys of a version: all, one room's, or one session's. */
  getRoomKeys(userId: string, version: number, roomId?: string, sessionId?: string): Promise<RoomKeyRecord[]>;
  /** Writes keys (insert or replace) and, when there are any, moves the version's etag on; one transaction. */
  putRoomKeys(userId: string, version: number, keys: RoomKeyRecord[]): Promise<void>;
  /** Deletes keys (all, one room's, one session's) and moves the etag on when any went. */
  deleteRoomKeys(userId: string, version: number, roomId?: string, sessionId?: string): Promise<void>;
}
