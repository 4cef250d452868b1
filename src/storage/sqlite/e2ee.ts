// SQLite implementation of E2eeStore (migrations/0012_e2ee.sql).
import type Database from 'better-sqlite3';
import type { JsonObject, JsonValue } from '../../wire.js';
import type {
  BackupVersionRecord, ClaimedKey, ClaimRequest, CrossSigningKeyRecord, CrossSigningUsage, DeviceKeysRecord, DeviceListChangeRecord,
  E2eeStore, OneTimeKeyRecord, RoomKeyRecord, SignatureRecord,
} from '../e2ee-types.js';

interface OtkRow { key_id: string; key_json: string }
interface CrossSigningRow { user_id: string; usage: string; public_key: string; key_json: string }
interface SignatureRow { signer_user_id: string; signer_key_id: string; target_user_id: string; target_key_id: string; signature: string }
interface ChangeRow { stream_ordering: number; user_id: string; only_for: string | null }
interface VersionRow { user_id: string; version: number; algorithm: string; auth_data_json: string; etag: number; deleted: number; count: number }
interface RoomKeyRow {
  room_id: string; session_id: string; first_message_index: number; forwarded_count: number; is_verified: number; session_data_json: string;
}

const toSignature = (r: SignatureRow): SignatureRecord => ({
  signerUserId: r.signer_user_id, signerKeyId: r.signer_key_id, targetUserId: r.target_user_id, targetKeyId: r.target_key_id, signature: r.signature,
});
const toChange = (r: ChangeRow): DeviceListChangeRecord => ({ streamOrdering: r.stream_ordering, userId: r.user_id, onlyFor: r.only_for });
const toRoomKey = (r: RoomKeyRow): RoomKeyRecord => ({
  roomId: r.room_id, sessionId: r.session_id, firstMessageIndex: r.first_message_index, forwardedCount: r.forwarded_count,
  isVerified: r.is_verified === 1, sessionData: JSON.parse(r.session_data_json) as JsonObject,
});

/** Statements with an IN list are prepared once per list length (up to this many values per statement). */
const CHUNK = 200;

export function createSqliteE2eeStore(db: Database.Database): E2eeStore {
  const s = {
    deviceKeysAll: db.prepare('SELECT device_id, key_json FROM e2e_device_keys WHERE user_id = ? ORDER BY device_id'),
    deviceKeysOne: db.prepare('SELECT key_json FROM e2e_device_keys WHERE user_id = ? AND device_id = ?').pluck(),
    putDeviceKeys: db.prepare(`INSERT INTO e2e_device_keys (user_id, device_id, key_json, created_ts) VALUES (?, ?, ?, ?)
      ON CONFLICT(user_id, device_id) DO UPDATE SET key_json = excluded.key_json`),
    deleteSignaturesOnKey: db.prepare('DELETE FROM e2e_cross_signing_signatures WHERE target_user_id = ? AND target_key_id = ?'),
    getOtk: db.prepare('SELECT key_json FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ? AND algorithm = ? AND key_id = ?').pluck(),
    nextSeq: db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ?').pluck(),
    insertOtk: db.prepare('INSERT INTO e2e_one_time_keys (user_id, device_id, algorithm, key_id, key_json, seq) VALUES (?, ?, ?, ?, ?, ?)'),
    countOtks: db.prepare('SELECT algorithm, COUNT(*) AS n FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ? GROUP BY algorithm'),
    getFallback: db.prepare('SELECT key_id, key_json FROM e2e_fallback_keys WHERE user_id = ? AND device_id = ? AND algorithm = ?'),
    putFallback: db.prepare(`INSERT INTO e2e_fallback_keys (user_id, device_id, algorithm, key_id, key_json, used) VALUES (?, ?, ?, ?, ?, 0)
      ON CONFLICT(user_id, device_id, algorithm) DO UPDATE SET key_id = excluded.key_id, key_json = excluded.key_json, used = 0`),
    unusedFallback: db.prepare('SELECT algorithm FROM e2e_fallback_keys WHERE user_id = ? AND device_id = ? AND used = 0 ORDER BY algorithm').pluck(),
    oldestOtk: db.prepare(`SELECT key_id, key_json FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ? AND algorithm = ?
      ORDER BY seq, key_id LIMIT 1`),
    deleteOtk: db.prepare('DELETE FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ? AND algorithm = ? AND key_id = ?'),
    useFallback: db.prepare('UPDATE e2e_fallback_keys SET used = 1 WHERE user_id = ? AND device_id = ? AND algorithm = ?'),
    putCrossSigning: db.prepare(`INSERT INTO e2e_cross_signing_keys (user_id, usage, public_key, key_json, created_ts) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT(user_id, usage) DO UPDATE SET public_key = excluded.public_key, key_json = excluded.key_json, created_ts = excluded.created_ts`),
    putSignature: db.prepare(`INSERT INTO e2e_cross_signing_signatures (signer_user_id, signer_key_id, target_user_id, target_key_id, signature)
      VALUES (?, ?, ?, ?, ?) ON CONFLICT(target_user_id, target_key_id, signer_user_id, signer_key_id) DO UPDATE SET signature = excluded.signature`),
    recordChange: db.prepare('INSERT INTO device_list_changes (stream_ordering, user_id, only_for) VALUES (?, ?, ?)'),
    changes: db.prepare('SELECT stream_ordering, user_id, only_for FROM device_list_changes WHERE stream_ordering > ? AND stream_ordering <= ? ORDER BY stream_ordering'),
    latestChange: db.prepare(`SELECT MAX(stream_ordering) FROM device_list_changes WHERE user_id = ? AND only_for IS NULL`).pluck(),
    // Devices gone from `devices` whose end-to-end keys are still stored.
    removedWithKeys: db.prepare(`SELECT k.device_id FROM e2e_device_keys k WHERE k.user_id = ?
      AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.user_id = k.user_id AND d.device_id = k.device_id)`).pluck(),
    deleteRemovedDeviceKeys: db.prepare(`DELETE FROM e2e_device_keys WHERE user_id = ?
      AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.user_id = e2e_device_keys.user_id AND d.device_id = e2e_device_keys.device_id)`),
    deleteRemovedOtks: db.prepare(`DELETE FROM e2e_one_time_keys WHERE user_id = ?
      AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.user_id = e2e_one_time_keys.user_id AND d.device_id = e2e_one_time_keys.device_id)`),
    deleteRemovedFallbacks: db.prepare(`DELETE FROM e2e_fallback_keys WHERE user_id = ?
      AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.user_id = e2e_fallback_keys.user_id AND d.device_id = e2e_fallback_keys.device_id)`),
    deleteAllDeviceKeys: db.prepare('DELETE FROM e2e_device_keys WHERE user_id = ?'),
    deleteAllOtks: db.prepare('DELETE FROM e2e_one_time_keys WHERE user_id = ?'),
    deleteAllFallbacks: db.prepare('DELETE FROM e2e_fallback_keys WHERE user_id = ?'),
    deleteAllCrossSigning: db.prepare('DELETE FROM e2e_cross_signing_keys WHERE user_id = ?'),
    deleteSignaturesBy: db.prepare('DELETE FROM e2e_cross_signing_signatures WHERE signer_user_id = ?'),
    deleteSignaturesOn: db.prepare('DELETE FROM e2e_cross_signing_signatures WHERE target_user_id = ?'),
    maxVersion: db.prepare('SELECT COALESCE(MAX(version), 0) FROM e2e_room_keys_versions WHERE user_id = ?').pluck(),
    insertVersion: db.prepare('INSERT INTO e2e_room_keys_versions (user_id, version, algorithm, auth_data_json, etag, deleted) VALUES (?, ?, ?, ?, 0, 0)'),
    getVersion: db.prepare(`SELECT v.*, (SELECT COUNT(*) FROM e2e_room_keys k WHERE k.user_id = v.user_id AND k.version = v.version) AS count
      FROM e2e_room_keys_versions v WHERE v.user_id = ? AND v.version = ?`),
    currentVersion: db.prepare(`SELECT v.*, (SELECT COUNT(*) FROM e2e_room_keys k WHERE k.user_id = v.user_id AND k.version = v.version) AS count
      FROM e2e_room_keys_versions v WHERE v.user_id = ? AND v.deleted = 0 ORDER BY v.version DESC LIMIT 1`),
    updateAuthData: db.prepare('UPDATE e2e_room_keys_versions SET auth_data_json = ? WHERE user_id = ? AND version = ?'),
    markDeleted: db.prepare('UPDATE e2e_room_keys_versions SET deleted = 1 WHERE user_id = ? AND version = ?'),
    markAllDeleted: db.prepare('UPDATE e2e_room_keys_versions SET deleted = 1 WHERE user_id = ?'),
    bumpEtag: db.prepare('UPDATE e2e_room_keys_versions SET etag = etag + 1 WHERE user_id = ? AND version = ?'),
    keysAll: db.prepare('SELECT * FROM e2e_room_keys WHERE user_id = ? AND version = ? ORDER BY room_id, session_id'),
    keysRoom: db.prepare('SELECT * FROM e2e_room_keys WHERE user_id = ? AND version = ? AND room_id = ? ORDER BY session_id'),
    keysSession: db.prepare('SELECT * FROM e2e_room_keys WHERE user_id = ? AND version = ? AND room_id = ? AND session_id = ?'),
    putRoomKey: db.prepare(`INSERT INTO e2e_room_keys (user_id, version, room_id, session_id, first_message_index, forwarded_count, is_verified, session_data_json)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(user_id, version, room_id, session_id) DO UPDATE SET
      first_message_index = excluded.first_message_index, forwarded_count = excluded.forwarded_count, is_verified = excluded.is_verified,
      session_data_json = excluded.session_data_json`),
    deleteKeysAll: db.prepare('DELETE FROM e2e_room_keys WHERE user_id = ? AND version = ?'),
    deleteKeysRoom: db.prepare('DELETE FROM e2e_room_keys WHERE user_id = ? AND version = ? AND room_id = ?'),
    deleteKeysSession: db.prepare('DELETE FROM e2e_room_keys WHERE user_id = ? AND version = ? AND room_id = ? AND session_id = ?'),
    deleteAllRoomKeys: db.prepare('DELETE FROM e2e_room_keys WHERE user_id = ?'),
  };

  const cache = new Map<string, Database.Statement>();
  const prepared = (sql: string): Database.Statement => {
    let st = cache.get(sql);
    if (!st) {
      st = db.prepare(sql);
      cache.set(sql, st);
    }
    return st;
  };
  /** Runs `query` over `values` in chunks and concatenates the rows. */
  const inChunks = <R>(values: string[], query: (marks: string) => string, args: (chunk: string[]) => unknown[] = (c) => c): R[] => {
    const out: R[] = [];
    for (let i = 0; i < values.length; i += CHUNK) {
      const chunk = values.slice(i, i + CHUNK);
      out.push(...(prepared(query(chunk.map(() => '?').join(','))).all(...args(chunk)) as R[]));
    }
    return out;
  };

  const record = (changes: DeviceListChangeRecord[]) => {
    for (const c of changes) s.recordChange.run(c.streamOrdering, c.userId, c.onlyFor);
  };

  const putDeviceKeysTx = db.transaction((r: DeviceKeysRecord, ts: number, change: DeviceListChangeRecord | null) => {
    const json = JSON.stringify(r.keys);
    const before = s.deviceKeysOne.get(r.userId, r.deviceId) as string | undefined;
    // New keys make the signatures made on the old ones meaningless.
    if (before !== undefined && before !== json) s.deleteSignaturesOnKey.run(r.userId, r.deviceId);
    s.putDeviceKeys.run(r.userId, r.deviceId, json, ts);
    if (change) record([change]);
  });

  const addOtksTx = db.transaction((userId: string, deviceId: string, keys: OneTimeKeyRecord[]): { conflicts: string[] } => {
    const conflicts: string[] = [];
    const fresh: OneTimeKeyRecord[] = [];
    for (const k of keys) {
      const existing = s.getOtk.get(userId, deviceId, k.algorithm, k.keyId) as string | undefined;
      if (existing === undefined) fresh.push(k);
      else if (existing !== JSON.stringify(k.key)) conflicts.push(`${k.algorithm}:${k.keyId}`);
    }
    if (conflicts.length > 0) return { conflicts };
    const seq = s.nextSeq.get(userId, deviceId) as number;
    for (const k of fresh) s.insertOtk.run(userId, deviceId, k.algorithm, k.keyId, JSON.stringify(k.key), seq);
    return { conflicts };
  });

  const setFallbacksTx = db.transaction((userId: string, deviceId: string, keys: OneTimeKeyRecord[]) => {
    for (const k of keys) {
      const json = JSON.stringify(k.key);
      const existing = s.getFallback.get(userId, deviceId, k.algorithm) as OtkRow | undefined;
      if (existing && existing.key_id === k.keyId && existing.key_json === json) continue;
      s.putFallback.run(userId, deviceId, k.algorithm, k.keyId, json);
    }
  });

  const claimTx = db.transaction((requests: ClaimRequest[]): ClaimedKey[] => {
    const out: ClaimedKey[] = [];
    for (const r of requests) {
      const otk = s.oldestOtk.get(r.userId, r.deviceId, r.algorithm) as OtkRow | undefined;
      if (otk) {
        s.deleteOtk.run(r.userId, r.deviceId, r.algorithm, otk.key_id);
        out.push({ ...r, keyId: otk.key_id, key: JSON.parse(otk.key_json) as JsonValue, fallback: false });
        continue;
      }
      const fb = s.getFallback.get(r.userId, r.deviceId, r.algorithm) as OtkRow | undefined;
      if (fb) {
        s.useFallback.run(r.userId, r.deviceId, r.algorithm);
        out.push({ ...r, keyId: fb.key_id, key: JSON.parse(fb.key_json) as JsonValue, fallback: true });
      }
    }
    return out;
  });

  const putCrossSigningTx = db.transaction((keys: CrossSigningKeyRecord[], ts: number, changes: DeviceListChangeRecord[]) => {
    for (const k of keys) s.putCrossSigning.run(k.userId, k.usage, k.publicKey, JSON.stringify(k.key), ts);
    record(changes);
  });

  const putSignaturesTx = db.transaction((sigs: SignatureRecord[], changes: DeviceListChangeRecord[]) => {
    for (const g of sigs) s.putSignature.run(g.signerUserId, g.signerKeyId, g.targetUserId, g.targetKeyId, g.signature);
    record(changes);
  });

  const deleteRemovedTx = db.transaction((userId: string, change: DeviceListChangeRecord): string[] => {
    const gone = s.removedWithKeys.all(userId) as string[];
    for (const d of gone) s.deleteSignaturesOnKey.run(userId, d);
    s.deleteRemovedDeviceKeys.run(userId);
    s.deleteRemovedOtks.run(userId);
    s.deleteRemovedFallbacks.run(userId);
    if (gone.length > 0) record([change]);
    return gone;
  });

  const deleteAllTx = db.transaction((userId: string, change: DeviceListChangeRecord) => {
    s.deleteAllDeviceKeys.run(userId);
    s.deleteAllOtks.run(userId);
    s.deleteAllFallbacks.run(userId);
    s.deleteAllCrossSigning.run(userId);
    s.deleteSignaturesBy.run(userId);
    s.deleteSignaturesOn.run(userId);
    s.deleteAllRoomKeys.run(userId);
    s.markAllDeleted.run(userId);
    record([change]);
  });

  const createVersionTx = db.transaction((userId: string, algorithm: string, authData: JsonObject): number => {
    const version = (s.maxVersion.get(userId) as number) + 1;
    s.insertVersion.run(userId, version, algorithm, JSON.stringify(authData));
    return version;
  });

  const deleteVersionTx = db.transaction((userId: string, version: number): boolean => {
    if (s.getVersion.get(userId, version) === undefined) return false;
    s.deleteKeysAll.run(userId, version);
    s.markDeleted.run(userId, version);
    return true;
  });

  const putRoomKeysTx = db.transaction((userId: string, version: number, keys: RoomKeyRecord[]) => {
    for (const k of keys) {
      s.putRoomKey.run(userId, version, k.roomId, k.sessionId, k.firstMessageIndex, k.forwardedCount, k.isVerified ? 1 : 0, JSON.stringify(k.sessionData));
    }
    if (keys.length > 0) s.bumpEtag.run(userId, version);
  });

  const deleteRoomKeysTx = db.transaction((userId: string, version: number, roomId?: string, sessionId?: string) => {
    const r = roomId === undefined ? s.deleteKeysAll.run(userId, version)
      : sessionId === undefined ? s.deleteKeysRoom.run(userId, version, roomId)
        : s.deleteKeysSession.run(userId, version, roomId, sessionId);
    if (r.changes > 0) s.bumpEtag.run(userId, version);
  });

  const toVersion = (r: VersionRow): BackupVersionRecord => ({
    userId: r.user_id, version: r.version, algorithm: r.algorithm, authData: JSON.parse(r.auth_data_json) as JsonObject,
    etag: r.etag, deleted: r.deleted === 1, count: r.count,
  });

  return {
    async getDeviceKeys(userId, deviceIds) {
      if (deviceIds === undefined) {
        return (s.deviceKeysAll.all(userId) as { device_id: string; key_json: string }[])
          .map((r) => ({ userId, deviceId: r.device_id, keys: JSON.parse(r.key_json) as JsonObject }));
      }
      const rows = inChunks<{ device_id: string; key_json: string }>(deviceIds,
        (marks) => `SELECT device_id, key_json FROM e2e_device_keys WHERE user_id = ? AND device_id IN (${marks}) ORDER BY device_id`,
        (chunk) => [userId, ...chunk]);
      return rows.map((r) => ({ userId, deviceId: r.device_id, keys: JSON.parse(r.key_json) as JsonObject }));
    },
    async putDeviceKeys(record, ts, change) { putDeviceKeysTx(record, ts, change); },
    async addOneTimeKeys(userId, deviceId, keys) { return addOtksTx(userId, deviceId, keys); },
    async countOneTimeKeys(userId, deviceId) {
      const out: Record<string, number> = {};
      for (const r of s.countOtks.all(userId, deviceId) as { algorithm: string; n: number }[]) out[r.algorithm] = r.n;
      return out;
    },
    async setFallbackKeys(userId, deviceId, keys) { setFallbacksTx(userId, deviceId, keys); },
    async unusedFallbackKeyTypes(userId, deviceId) { return s.unusedFallback.all(userId, deviceId) as string[]; },
    async claimKeys(requests) { return claimTx(requests); },
    async getCrossSigningKeys(userIds) {
      const rows = inChunks<CrossSigningRow>(userIds, (marks) => `SELECT user_id, usage, public_key, key_json FROM e2e_cross_signing_keys WHERE user_id IN (${marks})`);
      return rows.map((r) => ({ userId: r.user_id, usage: r.usage as CrossSigningUsage, publicKey: r.public_key, key: JSON.parse(r.key_json) as JsonObject }));
    },
    async putCrossSigningKeys(keys, ts, changes) { putCrossSigningTx(keys, ts, changes); },
    async getSignaturesFor(targetUserIds) {
      return inChunks<SignatureRow>(targetUserIds, (marks) => `SELECT * FROM e2e_cross_signing_signatures WHERE target_user_id IN (${marks})`).map(toSignature);
    },
    async putSignatures(signatures, changes) { putSignaturesTx(signatures, changes); },
    async recordDeviceListChanges(changes) { db.transaction(() => record(changes))(); },
    async getDeviceListChanges(after, upTo) { return (s.changes.all(after, upTo) as ChangeRow[]).map(toChange); },
    async latestDeviceListChange(userId) { return (s.latestChange.get(userId) as number | null) ?? undefined; },
    async deleteKeysOfRemovedDevices(userId, change) { return deleteRemovedTx(userId, change); },
    async deleteAllKeys(userId, change) { deleteAllTx(userId, change); },
    async createBackupVersion(userId, algorithm, authData) { return createVersionTx(userId, algorithm, authData); },
    async getBackupVersion(userId, version) {
      const row = (version === undefined ? s.currentVersion.get(userId) : s.getVersion.get(userId, version)) as VersionRow | undefined;
      return row ? toVersion(row) : undefined;
    },
    async updateBackupAuthData(userId, version, authData) { s.updateAuthData.run(JSON.stringify(authData), userId, version); },
    async deleteBackupVersion(userId, version) { return deleteVersionTx(userId, version); },
    async getRoomKeys(userId, version, roomId, sessionId) {
      const rows = roomId === undefined ? s.keysAll.all(userId, version)
        : sessionId === undefined ? s.keysRoom.all(userId, version, roomId)
          : s.keysSession.all(userId, version, roomId, sessionId);
      return (rows as RoomKeyRow[]).map(toRoomKey);
    },
    async putRoomKeys(userId, version, keys) { putRoomKeysTx(userId, version, keys); },
    async deleteRoomKeys(userId, version, roomId, sessionId) { deleteRoomKeysTx(userId, version, roomId, sessionId); },
  };
}
