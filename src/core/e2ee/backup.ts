// Server-side key backups (matrix-spec: key_backup.yaml; client-server-api "Server-side key
// backups"). The server keeps encrypted megolm session keys per user and backup version; it cannot
// read them. Versions are numbered per user (1, 2, ...; never reused); keys may only be written to
// the current (newest) version; a stored key is replaced only by a better one; the etag changes
// whenever a version's keys change.
import { badJson, invalidParam, missingParam, notFound, wrongRoomKeysVersion } from '../../errors.js';
import type { BackupVersionRecord, E2eeStore, RoomKeyRecord } from '../../storage/e2ee-types.js';
import type { JsonObject } from '../../wire.js';
import { KeyedMutex } from '../lock.js';

/** The backup algorithms the spec defines (key_backup.yaml#postRoomKeysVersion `algorithm`). */
const ALGORITHMS = new Set(['m.megolm_backup.v1.curve25519-aes-sha2']);

export interface BackupVersionInfo {
  algorithm: string;
  auth_data: JsonObject;
  count: number;
  etag: string;
  version: string;
}

export interface RoomKeysUpdate {
  etag: string;
  count: number;
}

/** `rooms` of a PUT/GET of all keys: room -> `{sessions: {session -> key data}}`. */
export type RoomKeysBody = Record<string, { sessions: Record<string, JsonObject> }>;

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The replace rule (client-server-api "Server-side key backups"): a verified key beats an unverified
 * one; then the lower first_message_index; then the lower forwarded_count. Equal keys are not replaced.
 */
export function isBetterKey(candidate: RoomKeyRecord, current: RoomKeyRecord): boolean {
  if (candidate.isVerified !== current.isVerified) return candidate.isVerified;
  if (candidate.firstMessageIndex !== current.firstMessageIndex) return candidate.firstMessageIndex < current.firstMessageIndex;
  return candidate.forwardedCount < current.forwardedCount;
}

/** Parses a KeyBackupData (definitions/key_backup_data.yaml). */
export function parseKeyBackupData(v: unknown, roomId: string, sessionId: string): RoomKeyRecord {
  if (!isObject(v)) throw badJson(`Key data of ${sessionId} must be an object`);
  const int = (k: string) => {
    const x = v[k];
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) throw badJson(`${k} must be a non-negative integer`);
    return x;
  };
  if (typeof v.is_verified !== 'boolean') throw badJson('is_verified must be a boolean');
  if (!isObject(v.session_data)) throw badJson('session_data must be an object');
  return { roomId, sessionId, firstMessageIndex: int('first_message_index'), forwardedCount: int('forwarded_count'), isVerified: v.is_verified, sessionData: v.session_data };
}

export const keyBackupData = (k: RoomKeyRecord): JsonObject => ({
  first_message_index: k.firstMessageIndex, forwarded_count: k.forwardedCount, is_verified: k.isVerified, session_data: k.sessionData,
});

/** A version path or query parameter: a positive integer (anything else names no version). */
function versionNumber(v: string): number | undefined {
  return /^[1-9]\d{0,14}$/.test(v) ? Number(v) : undefined;
}

export class KeyBackupService {
  /** Read-compare-write of a user's keys, one at a time per user. */
  private readonly lock = new KeyedMutex();

  constructor(private readonly store: E2eeStore) {}

  private info(v: BackupVersionRecord): BackupVersionInfo {
    return { algorithm: v.algorithm, auth_data: v.authData, count: v.count, etag: String(v.etag), version: String(v.version) };
  }

  private parseVersionBody(body: JsonObject): { algorithm: string; authData: JsonObject } {
    if (typeof body.algorithm !== 'string') throw missingParam("'algorithm' is required");
    if (!ALGORITHMS.has(body.algorithm)) throw invalidParam(`Unknown backup algorithm ${body.algorithm}`);
    if (!isObject(body.auth_data)) throw missingParam("'auth_data' must be an object");
    return { algorithm: body.algorithm, authData: body.auth_data };
  }

  /** POST /room_keys/version (matrix-spec: key_backup.yaml#postRoomKeysVersion): the new version becomes current. */
  async create(userId: string, body: JsonObject): Promise<{ version: string }> {
    const { algorithm, authData } = this.parseVersionBody(body);
    return { version: String(await this.store.createBackupVersion(userId, algorithm, authData)) };
  }

  /** GET /room_keys/version[/{version}] (matrix-spec: key_backup.yaml#getRoomKeysVersionCurrent, #getRoomKeysVersion). */
  async get(userId: string, version?: string): Promise<BackupVersionInfo> {
    if (version === undefined) {
      const current = await this.store.getBackupVersion(userId);
      if (!current) throw notFound('No current backup version');
      return this.info(current);
    }
    const n = versionNumber(version);
    const v = n === undefined ? undefined : await this.store.getBackupVersion(userId, n);
    if (!v || v.deleted) throw notFound('Unknown backup version');
    return this.info(v);
  }

  /** PUT /room_keys/version/{version} (matrix-spec: key_backup.yaml#putRoomKeysVersion): only auth_data changes. */
  async update(userId: string, version: string, body: JsonObject): Promise<void> {
    const n = versionNumber(version);
    const v = n === undefined ? undefined : await this.store.getBackupVersion(userId, n);
    if (!v || v.deleted) throw notFound('Unknown backup version');
    const { algorithm, authData } = this.parseVersionBody(body);
    if (body.version !== undefined && body.version !== version) throw invalidParam('version in the body does not match the path');
    if (algorithm !== v.algorithm) throw invalidParam('Algorithm does not match the backup\'s');
    await this.store.updateBackupAuthData(userId, v.version, authData);
  }

  /** DELETE /room_keys/version/{version} (matrix-spec: key_backup.yaml#deleteRoomKeysVersion): also succeeds for a version deleted before. */
  async delete(userId: string, version: string): Promise<void> {
    const n = versionNumber(version);
    if (n === undefined || !(await this.lock.run(userId, () => this.store.deleteBackupVersion(userId, n)))) throw notFound('Unknown backup version');
  }

  /** The version a key request names: it must exist (404), and for writes be the current one (403 M_WRONG_ROOM_KEYS_VERSION). */
  private async version(userId: string, version: string | undefined, forWrite: boolean): Promise<BackupVersionRecord> {
    if (version === undefined) throw missingParam("The 'version' query parameter is required");
    const n = versionNumber(version);
    const v = n === undefined ? undefined : await this.store.getBackupVersion(userId, n);
    if (forWrite) {
      const current = await this.store.getBackupVersion(userId);
      if (!current) throw notFound('No backup version exists');
      if (!v || v.version !== current.version) throw wrongRoomKeysVersion(String(current.version));
      return current;
    }
    if (!v || v.deleted) throw notFound('Unknown backup version');
    return v;
  }

  private async updateResult(userId: string, v: BackupVersionRecord): Promise<RoomKeysUpdate> {
    const after = (await this.store.getBackupVersion(userId, v.version))!;
    return { etag: String(after.etag), count: after.count };
  }

  /**
   * PUT /room_keys/keys[/{roomId}[/{sessionId}]] (matrix-spec: key_backup.yaml#putRoomKeys and
   * variants): each key is stored unless the stored one is at least as good (isBetterKey).
   */
  async putKeys(userId: string, version: string | undefined, keys: RoomKeyRecord[]): Promise<RoomKeysUpdate> {
    return this.lock.run(userId, async () => {
      const v = await this.version(userId, version, true);
      const rooms = new Set(keys.map((k) => k.roomId));
      const stored = new Map<string, RoomKeyRecord>();
      for (const roomId of rooms) for (const k of await this.store.getRoomKeys(userId, v.version, roomId)) stored.set(`${k.roomId}\u0000${k.sessionId}`, k);
      const write = new Map<string, RoomKeyRecord>();
      for (const k of keys) {
        const id = `${k.roomId}\u0000${k.sessionId}`;
        const current = write.get(id) ?? stored.get(id);
        if (!current || isBetterKey(k, current)) write.set(id, k);
      }
      await this.store.putRoomKeys(userId, v.version, [...write.values()]);
      return this.updateResult(userId, v);
    });
  }

  /** GET /room_keys/keys (matrix-spec: key_backup.yaml#getRoomKeys): every room's keys. */
  async getAll(userId: string, version: string | undefined): Promise<{ rooms: RoomKeysBody }> {
    const v = await this.version(userId, version, false);
    const rooms: RoomKeysBody = {};
    for (const k of await this.store.getRoomKeys(userId, v.version)) (rooms[k.roomId] ??= { sessions: {} }).sessions[k.sessionId] = keyBackupData(k);
    return { rooms };
  }

  /** GET /room_keys/keys/{roomId} (matrix-spec: key_backup.yaml#getRoomKeysByRoomId): `{sessions: {}}` when there are none. */
  async getRoom(userId: string, version: string | undefined, roomId: string): Promise<{ sessions: Record<string, JsonObject> }> {
    const v = await this.version(userId, version, false);
    const sessions: Record<string, JsonObject> = {};
    for (const k of await this.store.getRoomKeys(userId, v.version, roomId)) sessions[k.sessionId] = keyBackupData(k);
    return { sessions };
  }

  /** GET /room_keys/keys/{roomId}/{sessionId} (matrix-spec: key_backup.yaml#getRoomKeyBySessionId). */
  async getSession(userId: string, version: string | undefined, roomId: string, sessionId: string): Promise<JsonObject> {
    const v = await this.version(userId, version, false);
    const [k] = await this.store.getRoomKeys(userId, v.version, roomId, sessionId);
    if (!k) throw notFound('Key not found');
    return keyBackupData(k);
  }

  /** DELETE /room_keys/keys[/{roomId}[/{sessionId}]] (matrix-spec: key_backup.yaml#deleteRoomKeys and variants). */
  async deleteKeys(userId: string, version: string | undefined, roomId?: string, sessionId?: string): Promise<RoomKeysUpdate> {
    return this.lock.run(userId, async () => {
      const v = await this.version(userId, version, false);
      await this.store.deleteRoomKeys(userId, v.version, roomId, sessionId);
      return this.updateResult(userId, v);
    });
  }
}

/** The `rooms` map of PUT /room_keys/keys. */
export function parseRoomKeysBody(body: JsonObject): RoomKeyRecord[] {
  if (!isObject(body.rooms)) throw badJson("'rooms' must be an object");
  return Object.entries(body.rooms).flatMap(([roomId, room]) => parseRoomBody(room, roomId));
}

/** `{sessions: {...}}` of PUT /room_keys/keys/{roomId}. */
export function parseRoomBody(room: unknown, roomId: string): RoomKeyRecord[] {
  if (!isObject(room) || !isObject(room.sessions)) throw badJson(`Keys of ${roomId} must be {"sessions": {...}}`);
  return Object.entries(room.sessions).map(([sessionId, data]) => parseKeyBackupData(data, roomId, sessionId));
}
