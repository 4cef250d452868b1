// PostgreSQL implementation of E2eeStore (migrations/postgres/0012_e2ee.sql); the same behaviour as
// sqlite/e2ee.ts. Where SQLite's single writer made a read-then-write safe, the statements here do it
// in one step or under a lock: a claim deletes the oldest one-time key it takes (SKIP LOCKED, so two
// claims at once get two keys, never one twice), an upload of one-time keys holds the device's
// advisory lock, a new backup version is numbered in its insert (a concurrent one retries).
import type pg from 'pg';
import type { JsonObject, JsonValue } from '../../wire.js';
import type {
  BackupVersionRecord, ClaimedKey, CrossSigningUsage, DeviceListChangeRecord, E2eeStore, RoomKeyRecord, SignatureRecord,
} from '../e2ee-types.js';
import { Batch, exec, PG, pgCode, row, rows, sql, transaction, type Queryable } from './db.js';

interface OtkRow { key_id: string; key_json: string }
interface CrossSigningRow { user_id: string; usage: string; public_key: string; key_json: string }
interface SignatureRow { signer_user_id: string; signer_key_id: string; target_user_id: string; target_key_id: string; signature: string }
interface ChangeRow { stream_ordering: number; user_id: string; only_for: string | null }
interface VersionRow { user_id: string; version: number; algorithm: string; auth_data_json: string; etag: number; deleted: boolean; count: number }
interface RoomKeyRow {
  room_id: string; session_id: string; first_message_index: number; forwarded_count: number; is_verified: boolean; session_data_json: string;
}

const toSignature = (r: SignatureRow): SignatureRecord => ({
  signerUserId: r.signer_user_id, signerKeyId: r.signer_key_id, targetUserId: r.target_user_id, targetKeyId: r.target_key_id, signature: r.signature,
});
const toChange = (r: ChangeRow): DeviceListChangeRecord => ({ streamOrdering: r.stream_ordering, userId: r.user_id, onlyFor: r.only_for });
const toRoomKey = (r: RoomKeyRow): RoomKeyRecord => ({
  roomId: r.room_id, sessionId: r.session_id, firstMessageIndex: r.first_message_index, forwardedCount: r.forwarded_count,
  isVerified: r.is_verified, sessionData: JSON.parse(r.session_data_json) as JsonObject,
});
const toVersion = (r: VersionRow): BackupVersionRecord => ({
  userId: r.user_id, version: r.version, algorithm: r.algorithm, authData: JSON.parse(r.auth_data_json) as JsonObject,
  etag: r.etag, deleted: r.deleted, count: r.count,
});

const VERSION_SELECT = `SELECT v.user_id, v.version, v.algorithm, v.auth_data_json, v.etag, v.deleted,
    (SELECT COUNT(*) FROM e2e_room_keys k WHERE k.user_id = v.user_id AND k.version = v.version)::bigint AS count
  FROM e2e_room_keys_versions v`;
const ROOM_KEY_COLUMNS = 'room_id, session_id, first_message_index, forwarded_count, is_verified, session_data_json';
/** Devices of user $1 gone from `devices` (for a table aliased t). */
const REMOVED = 'NOT EXISTS (SELECT 1 FROM devices d WHERE d.user_id = t.user_id AND d.device_id = t.device_id)';

const Q = {
  deviceKeysAll: sql('SELECT device_id, key_json FROM e2e_device_keys WHERE user_id = $1 ORDER BY device_id'),
  deviceKeysSome: sql('SELECT device_id, key_json FROM e2e_device_keys WHERE user_id = $1 AND device_id = ANY($2::text[]) ORDER BY device_id'),
  lockDeviceKeys: sql('SELECT key_json FROM e2e_device_keys WHERE user_id = $1 AND device_id = $2 FOR UPDATE'),
  putDeviceKeys: sql(`INSERT INTO e2e_device_keys (user_id, device_id, key_json, created_ts) VALUES ($1, $2, $3, $4)
    ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = excluded.key_json`),
  deleteSignaturesOnKey: sql('DELETE FROM e2e_cross_signing_signatures WHERE target_user_id = $1 AND target_key_id = $2'),
  // A device's one-time keys, written by one upload at a time (two-key advisory space: 'E2EK', hash).
  lockDevice: sql("SELECT pg_advisory_xact_lock(1160922443, hashtext($1 || ' ' || $2))"),
  getOtks: sql(`SELECT algorithm, key_id, key_json FROM e2e_one_time_keys WHERE user_id = $1 AND device_id = $2
    AND (algorithm, key_id) IN (SELECT * FROM unnest($3::text[], $4::text[]))`),
  nextSeq: sql('SELECT COALESCE(MAX(seq), 0)::bigint + 1 AS n FROM e2e_one_time_keys WHERE user_id = $1 AND device_id = $2'),
  insertOtks: sql(`INSERT INTO e2e_one_time_keys (user_id, device_id, algorithm, key_id, key_json, seq)
    SELECT $1, $2, t.algorithm, t.key_id, t.key_json, $6 FROM unnest($3::text[], $4::text[], $5::text[]) AS t(algorithm, key_id, key_json)`),
  countOtks: sql('SELECT algorithm, COUNT(*)::bigint AS n FROM e2e_one_time_keys WHERE user_id = $1 AND device_id = $2 GROUP BY algorithm ORDER BY algorithm'),
  // An identical key keeps its `used` flag; another one replaces it, unused.
  putFallback: sql(`INSERT INTO e2e_fallback_keys (user_id, device_id, algorithm, key_id, key_json, used) VALUES ($1, $2, $3, $4, $5, FALSE)
    ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET key_id = excluded.key_id, key_json = excluded.key_json, used = FALSE
    WHERE (e2e_fallback_keys.key_id, e2e_fallback_keys.key_json) IS DISTINCT FROM (excluded.key_id, excluded.key_json)`),
  unusedFallback: sql('SELECT algorithm FROM e2e_fallback_keys WHERE user_id = $1 AND device_id = $2 AND NOT used ORDER BY algorithm'),
  // The oldest one-time key of the device and algorithm, taken (deleted) by this claim alone.
  claimOtk: sql(`DELETE FROM e2e_one_time_keys WHERE (user_id, device_id, algorithm, key_id) IN (
      SELECT user_id, device_id, algorithm, key_id FROM e2e_one_time_keys WHERE user_id = $1 AND device_id = $2 AND algorithm = $3
      ORDER BY seq, key_id LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING key_id, key_json`),
  useFallback: sql('UPDATE e2e_fallback_keys SET used = TRUE WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 RETURNING key_id, key_json'),
  putCrossSigning: sql(`INSERT INTO e2e_cross_signing_keys (user_id, usage, public_key, key_json, created_ts) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (user_id, usage) DO UPDATE SET public_key = excluded.public_key, key_json = excluded.key_json, created_ts = excluded.created_ts`),
  crossSigning: sql('SELECT user_id, usage, public_key, key_json FROM e2e_cross_signing_keys WHERE user_id = ANY($1::text[]) ORDER BY user_id, usage'),
  putSignature: sql(`INSERT INTO e2e_cross_signing_signatures (signer_user_id, signer_key_id, target_user_id, target_key_id, signature)
    VALUES ($1, $2, $3, $4, $5) ON CONFLICT (target_user_id, target_key_id, signer_user_id, signer_key_id) DO UPDATE SET signature = excluded.signature`),
  signaturesFor: sql(`SELECT signer_user_id, signer_key_id, target_user_id, target_key_id, signature FROM e2e_cross_signing_signatures
    WHERE target_user_id = ANY($1::text[]) ORDER BY target_user_id, target_key_id, signer_user_id, signer_key_id`),
  recordChange: sql('INSERT INTO device_list_changes (stream_ordering, user_id, only_for) VALUES ($1, $2, $3)'),
  changes: sql('SELECT stream_ordering, user_id, only_for FROM device_list_changes WHERE stream_ordering > $1 AND stream_ordering <= $2 ORDER BY stream_ordering'),
  latestChange: sql('SELECT MAX(stream_ordering) AS n FROM device_list_changes WHERE user_id = $1 AND only_for IS NULL'),
  // Devices gone from `devices` whose end-to-end keys are still stored.
  removedWithKeys: sql(`SELECT t.device_id FROM e2e_device_keys t WHERE t.user_id = $1 AND ${REMOVED} ORDER BY t.device_id`),
  deleteSignaturesOnKeys: sql('DELETE FROM e2e_cross_signing_signatures WHERE target_user_id = $1 AND target_key_id = ANY($2::text[])'),
  deleteRemovedDeviceKeys: sql(`DELETE FROM e2e_device_keys t WHERE t.user_id = $1 AND ${REMOVED}`),
  deleteRemovedOtks: sql(`DELETE FROM e2e_one_time_keys t WHERE t.user_id = $1 AND ${REMOVED}`),
  deleteRemovedFallbacks: sql(`DELETE FROM e2e_fallback_keys t WHERE t.user_id = $1 AND ${REMOVED}`),
  deleteAllDeviceKeys: sql('DELETE FROM e2e_device_keys WHERE user_id = $1'),
  deleteAllOtks: sql('DELETE FROM e2e_one_time_keys WHERE user_id = $1'),
  deleteAllFallbacks: sql('DELETE FROM e2e_fallback_keys WHERE user_id = $1'),
  deleteAllCrossSigning: sql('DELETE FROM e2e_cross_signing_keys WHERE user_id = $1'),
  deleteSignaturesBy: sql('DELETE FROM e2e_cross_signing_signatures WHERE signer_user_id = $1'),
  deleteSignaturesOn: sql('DELETE FROM e2e_cross_signing_signatures WHERE target_user_id = $1'),
  deleteAllRoomKeys: sql('DELETE FROM e2e_room_keys WHERE user_id = $1'),
  markAllDeleted: sql('UPDATE e2e_room_keys_versions SET deleted = TRUE WHERE user_id = $1'),
  // The next version of the user, numbered in the insert itself; two at once for one user: the loser retries.
  insertVersion: sql(`INSERT INTO e2e_room_keys_versions (user_id, version, algorithm, auth_data_json, etag, deleted)
    SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, 0, FALSE FROM e2e_room_keys_versions WHERE user_id = $1 RETURNING version`),
  getVersion: sql(`${VERSION_SELECT} WHERE v.user_id = $1 AND v.version = $2`),
  currentVersion: sql(`${VERSION_SELECT} WHERE v.user_id = $1 AND NOT v.deleted ORDER BY v.version DESC LIMIT 1`),
  lockVersion: sql('SELECT 1 AS x FROM e2e_room_keys_versions WHERE user_id = $1 AND version = $2 FOR UPDATE'),
  updateAuthData: sql('UPDATE e2e_room_keys_versions SET auth_data_json = $1 WHERE user_id = $2 AND version = $3'),
  markDeleted: sql('UPDATE e2e_room_keys_versions SET deleted = TRUE WHERE user_id = $1 AND version = $2'),
  bumpEtag: sql('UPDATE e2e_room_keys_versions SET etag = etag + 1 WHERE user_id = $1 AND version = $2'),
  keysAll: sql(`SELECT ${ROOM_KEY_COLUMNS} FROM e2e_room_keys WHERE user_id = $1 AND version = $2 ORDER BY room_id, session_id`),
  keysRoom: sql(`SELECT ${ROOM_KEY_COLUMNS} FROM e2e_room_keys WHERE user_id = $1 AND version = $2 AND room_id = $3 ORDER BY session_id`),
  keysSession: sql(`SELECT ${ROOM_KEY_COLUMNS} FROM e2e_room_keys WHERE user_id = $1 AND version = $2 AND room_id = $3 AND session_id = $4`),
  putRoomKey: sql(`INSERT INTO e2e_room_keys (user_id, version, room_id, session_id, first_message_index, forwarded_count, is_verified, session_data_json)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET
    first_message_index = excluded.first_message_index, forwarded_count = excluded.forwarded_count, is_verified = excluded.is_verified,
    session_data_json = excluded.session_data_json`),
  deleteKeysAll: sql('DELETE FROM e2e_room_keys WHERE user_id = $1 AND version = $2'),
  deleteKeysRoom: sql('DELETE FROM e2e_room_keys WHERE user_id = $1 AND version = $2 AND room_id = $3'),
  deleteKeysSession: sql('DELETE FROM e2e_room_keys WHERE user_id = $1 AND version = $2 AND room_id = $3 AND session_id = $4'),
};

const record = (b: Batch, changes: DeviceListChangeRecord[]) => {
  for (const c of changes) b.add(Q.recordChange, [c.streamOrdering, c.userId, c.onlyFor]);
};

/** Runs statements queued by `fn` in one transaction (one round trip for all of them). */
async function batched(pool: pg.Pool, fn: (b: Batch) => void): Promise<void> {
  await transaction(pool, async (c) => {
    const b = new Batch(c);
    fn(b);
    await b.flush();
  });
}

export function createPostgresE2eeStore(pool: pg.Pool): E2eeStore {
  const db: Queryable = pool;
  return {
    async getDeviceKeys(userId, deviceIds) {
      const rs = deviceIds === undefined
        ? await rows<{ device_id: string; key_json: string }>(db, Q.deviceKeysAll, [userId])
        : deviceIds.length === 0 ? [] : await rows<{ device_id: string; key_json: string }>(db, Q.deviceKeysSome, [userId, deviceIds]);
      return rs.map((r) => ({ userId, deviceId: r.device_id, keys: JSON.parse(r.key_json) as JsonObject }));
    },
    async putDeviceKeys(r, ts, change) {
      await transaction(pool, async (c) => {
        const json = JSON.stringify(r.keys);
        const before = (await row<{ key_json: string }>(c, Q.lockDeviceKeys, [r.userId, r.deviceId]))?.key_json;
        const b = new Batch(c);
        // New keys make the signatures made on the old ones meaningless.
        if (before !== undefined && before !== json) b.add(Q.deleteSignaturesOnKey, [r.userId, r.deviceId]);
        b.add(Q.putDeviceKeys, [r.userId, r.deviceId, json, ts]);
        if (change) record(b, [change]);
        await b.flush();
      });
    },
    async addOneTimeKeys(userId, deviceId, keys) {
      return transaction(pool, async (c) => {
        await exec(c, Q.lockDevice, [userId, deviceId]);
        const stored = new Map<string, string>();
        if (keys.length > 0) {
          const found = await rows<{ algorithm: string; key_id: string; key_json: string }>(c, Q.getOtks,
            [userId, deviceId, keys.map((k) => k.algorithm), keys.map((k) => k.keyId)]);
          for (const f of found) stored.set(`${f.algorithm}:${f.key_id}`, f.key_json);
        }
        const conflicts: string[] = [];
        const fresh: { algorithm: string; keyId: string; json: string }[] = [];
        const seen = new Set<string>();
        for (const k of keys) {
          const id = `${k.algorithm}:${k.keyId}`;
          const json = JSON.stringify(k.key);
          const existing = stored.get(id);
          if (existing === undefined) {
            // A key named twice in one upload (a JSON object cannot) is stored once.
            if (seen.has(id)) continue;
            seen.add(id);
            stored.set(id, json);
            fresh.push({ algorithm: k.algorithm, keyId: k.keyId, json });
          } else if (existing !== json) conflicts.push(id);
        }
        if (conflicts.length > 0) return { conflicts };
        if (fresh.length > 0) {
          const seq = (await row<{ n: number }>(c, Q.nextSeq, [userId, deviceId]))!.n;
          await exec(c, Q.insertOtks, [userId, deviceId, fresh.map((k) => k.algorithm), fresh.map((k) => k.keyId), fresh.map((k) => k.json), seq]);
        }
        return { conflicts };
      });
    },
    async countOneTimeKeys(userId, deviceId) {
      const out: Record<string, number> = {};
      for (const r of await rows<{ algorithm: string; n: number }>(db, Q.countOtks, [userId, deviceId])) out[r.algorithm] = r.n;
      return out;
    },
    async setFallbackKeys(userId, deviceId, keys) {
      if (keys.length === 0) return;
      await batched(pool, (b) => {
        for (const k of keys) b.add(Q.putFallback, [userId, deviceId, k.algorithm, k.keyId, JSON.stringify(k.key)]);
      });
    },
    async unusedFallbackKeyTypes(userId, deviceId) {
      return (await rows<{ algorithm: string }>(db, Q.unusedFallback, [userId, deviceId])).map((r) => r.algorithm);
    },
    async claimKeys(requests) {
      if (requests.length === 0) return [];
      return transaction(pool, async (c) => {
        const out: ClaimedKey[] = [];
        for (const r of requests) {
          const otk = await row<OtkRow>(c, Q.claimOtk, [r.userId, r.deviceId, r.algorithm]);
          if (otk) {
            out.push({ ...r, keyId: otk.key_id, key: JSON.parse(otk.key_json) as JsonValue, fallback: false });
            continue;
          }
          const fb = await row<OtkRow>(c, Q.useFallback, [r.userId, r.deviceId, r.algorithm]);
          if (fb) out.push({ ...r, keyId: fb.key_id, key: JSON.parse(fb.key_json) as JsonValue, fallback: true });
        }
        return out;
      });
    },
    async getCrossSigningKeys(userIds) {
      if (userIds.length === 0) return [];
      return (await rows<CrossSigningRow>(db, Q.crossSigning, [userIds]))
        .map((r) => ({ userId: r.user_id, usage: r.usage as CrossSigningUsage, publicKey: r.public_key, key: JSON.parse(r.key_json) as JsonObject }));
    },
    async putCrossSigningKeys(keys, ts, changes) {
      await batched(pool, (b) => {
        for (const k of keys) b.add(Q.putCrossSigning, [k.userId, k.usage, k.publicKey, JSON.stringify(k.key), ts]);
        record(b, changes);
      });
    },
    async getSignaturesFor(targetUserIds) {
      if (targetUserIds.length === 0) return [];
      return (await rows<SignatureRow>(db, Q.signaturesFor, [targetUserIds])).map(toSignature);
    },
    async putSignatures(signatures, changes) {
      await batched(pool, (b) => {
        for (const g of signatures) b.add(Q.putSignature, [g.signerUserId, g.signerKeyId, g.targetUserId, g.targetKeyId, g.signature]);
        record(b, changes);
      });
    },
    async recordDeviceListChanges(changes) {
      if (changes.length > 0) await batched(pool, (b) => record(b, changes));
    },
    async getDeviceListChanges(after, upTo) { return (await rows<ChangeRow>(db, Q.changes, [after, upTo])).map(toChange); },
    async latestDeviceListChange(userId) { return (await row<{ n: number | null }>(db, Q.latestChange, [userId]))?.n ?? undefined; },
    async deleteKeysOfRemovedDevices(userId, change) {
      return transaction(pool, async (c) => {
        const gone = (await rows<{ device_id: string }>(c, Q.removedWithKeys, [userId])).map((r) => r.device_id);
        const b = new Batch(c);
        if (gone.length > 0) b.add(Q.deleteSignaturesOnKeys, [userId, gone]);
        b.add(Q.deleteRemovedDeviceKeys, [userId]);
        b.add(Q.deleteRemovedOtks, [userId]);
        b.add(Q.deleteRemovedFallbacks, [userId]);
        if (gone.length > 0) record(b, [change]);
        await b.flush();
        return gone;
      });
    },
    async deleteAllKeys(userId, change) {
      await batched(pool, (b) => {
        for (const st of [Q.deleteAllDeviceKeys, Q.deleteAllOtks, Q.deleteAllFallbacks, Q.deleteAllCrossSigning, Q.deleteSignaturesBy,
          Q.deleteSignaturesOn, Q.deleteAllRoomKeys, Q.markAllDeleted]) b.add(st, [userId]);
        record(b, [change]);
      });
    },
    async createBackupVersion(userId, algorithm, authData) {
      for (let attempt = 1; ; attempt++) {
        try {
          return (await row<{ version: number }>(db, Q.insertVersion, [userId, algorithm, JSON.stringify(authData)]))!.version;
        } catch (e) {
          if (pgCode(e) !== PG.uniqueViolation || attempt >= 5) throw e;
        }
      }
    },
    async getBackupVersion(userId, version) {
      const r = version === undefined ? await row<VersionRow>(db, Q.currentVersion, [userId]) : await row<VersionRow>(db, Q.getVersion, [userId, version]);
      return r ? toVersion(r) : undefined;
    },
    async updateBackupAuthData(userId, version, authData) { await exec(db, Q.updateAuthData, [JSON.stringify(authData), userId, version]); },
    async deleteBackupVersion(userId, version) {
      return transaction(pool, async (c) => {
        if ((await row(c, Q.lockVersion, [userId, version])) === undefined) return false;
        const b = new Batch(c);
        b.add(Q.deleteKeysAll, [userId, version]);
        b.add(Q.markDeleted, [userId, version]);
        await b.flush();
        return true;
      });
    },
    async getRoomKeys(userId, version, roomId, sessionId) {
      const rs = roomId === undefined ? await rows<RoomKeyRow>(db, Q.keysAll, [userId, version])
        : sessionId === undefined ? await rows<RoomKeyRow>(db, Q.keysRoom, [userId, version, roomId])
          : await rows<RoomKeyRow>(db, Q.keysSession, [userId, version, roomId, sessionId]);
      return rs.map(toRoomKey);
    },
    async putRoomKeys(userId, version, keys) {
      if (keys.length === 0) return;
      await batched(pool, (b) => {
        for (const k of keys) {
          b.add(Q.putRoomKey, [userId, version, k.roomId, k.sessionId, k.firstMessageIndex, k.forwardedCount, k.isVerified, JSON.stringify(k.sessionData)]);
        }
        b.add(Q.bumpEtag, [userId, version]);
      });
    },
    async deleteRoomKeys(userId, version, roomId, sessionId) {
      await transaction(pool, async (c) => {
        const n = roomId === undefined ? await exec(c, Q.deleteKeysAll, [userId, version])
          : sessionId === undefined ? await exec(c, Q.deleteKeysRoom, [userId, version, roomId])
            : await exec(c, Q.deleteKeysSession, [userId, version, roomId, sessionId]);
        if (n > 0) await exec(c, Q.bumpEtag, [userId, version]);
      });
    },
  };
}
