// PostgreSQL implementation of AccountStore; the same behaviour as sqlite/accounts.ts. Multi-table
// writes run in one transaction; a device being logged in is row-locked so two logins of one device
// at once leave one token (SQLite's single writer gives the same).
import type pg from 'pg';
import type { JsonObject } from '../../wire.js';
import type { AccountStore, DeviceLoginResult, DeviceRecord, NewDeviceLogin, PusherRecord, TokenOwner, UserRecord } from '../types.js';
import { exec, row, rows, sql, transaction, type Queryable } from './db.js';

interface UserRow { user_id: string; localpart: string; password_hash: string | null; is_admin: boolean; is_guest: boolean; deactivated: boolean; created_ts: number; shadow_banned: boolean }
interface PusherRow {
  user_id: string; app_id: string; pushkey: string; device_id: string; kind: string; app_display_name: string; device_display_name: string;
  profile_tag: string | null; lang: string; data_json: string; pushkey_ts: number;
}
interface DeviceRow { user_id: string; device_id: string; display_name: string | null; created_ts: number; last_seen_ts: number | null; last_seen_ip: string | null; last_seen_user_agent: string | null }

const toUser = (r: UserRow): UserRecord => ({
  userId: r.user_id, localpart: r.localpart, passwordHash: r.password_hash, isAdmin: r.is_admin,
  isGuest: r.is_guest, deactivated: r.deactivated, createdTs: r.created_ts, shadowBanned: r.shadow_banned,
});
const toDevice = (r: DeviceRow): DeviceRecord => ({
  userId: r.user_id, deviceId: r.device_id, displayName: r.display_name, createdTs: r.created_ts,
  lastSeenTs: r.last_seen_ts, lastSeenIp: r.last_seen_ip, lastSeenUserAgent: r.last_seen_user_agent,
});

const toPusher = (r: PusherRow): PusherRecord => ({
  userId: r.user_id, appId: r.app_id, pushkey: r.pushkey, deviceId: r.device_id, kind: r.kind, appDisplayName: r.app_display_name,
  deviceDisplayName: r.device_display_name, profileTag: r.profile_tag, lang: r.lang, data: JSON.parse(r.data_json) as JsonObject, pushkeyTs: r.pushkey_ts,
});

const PUSHER_COLUMNS = 'user_id, app_id, pushkey, device_id, kind, app_display_name, device_display_name, profile_tag, lang, data_json, pushkey_ts';
const USER_COLUMNS = 'user_id, localpart, password_hash, is_admin, is_guest, deactivated, created_ts, shadow_banned';
const DEVICE_COLUMNS = 'user_id, device_id, display_name, created_ts, last_seen_ts, last_seen_ip, last_seen_user_agent';

const Q = {
  insertUser: sql('INSERT INTO users (user_id, localpart, password_hash, is_admin, is_guest, created_ts) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING'),
  getUser: sql(`SELECT ${USER_COLUMNS} FROM users WHERE user_id = $1`),
  countUsers: sql('SELECT COUNT(*)::bigint AS n FROM users'),
  bumpCounter: sql('INSERT INTO counters (name, value) VALUES ($1, 1) ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value'),
  setPassword: sql('UPDATE users SET password_hash = $1 WHERE user_id = $2'),
  setAdmin: sql('UPDATE users SET is_admin = $1 WHERE user_id = $2'),
  setDeactivatedFlag: sql('UPDATE users SET deactivated = $1 WHERE user_id = $2'),
  setDeactivated: sql('UPDATE users SET deactivated = TRUE WHERE user_id = $1'),
  setShadowBanned: sql('UPDATE users SET shadow_banned = $1 WHERE user_id = $2'),
  insertOpenId: sql('INSERT INTO openid_tokens (token_hash, user_id, expires_ts) VALUES ($1, $2, $3)'),
  findOpenId: sql('SELECT user_id FROM openid_tokens WHERE token_hash = $1 AND expires_ts > $2'),
  deleteExpiredOpenId: sql('DELETE FROM openid_tokens WHERE expires_ts <= $1'),
  getDevice: sql(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = $1 AND device_id = $2`),
  lockDevice: sql('SELECT 1 AS x FROM devices WHERE user_id = $1 AND device_id = $2 FOR UPDATE'),
  listDevices: sql(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = $1 ORDER BY created_ts, device_id`),
  insertDevice: sql('INSERT INTO devices (user_id, device_id, display_name, created_ts) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING'),
  setDeviceName: sql('UPDATE devices SET display_name = $1 WHERE user_id = $2 AND device_id = $3'),
  setLastSeen: sql('UPDATE devices SET last_seen_ts = $1, last_seen_ip = $2, last_seen_user_agent = $3 WHERE user_id = $4 AND device_id = $5'),
  deleteDevice: sql('DELETE FROM devices WHERE user_id = $1 AND device_id = $2'),
  deleteAllDevices: sql('DELETE FROM devices WHERE user_id = $1'),
  tokensOfDevice: sql('SELECT token_hash FROM access_tokens WHERE user_id = $1 AND device_id = $2'),
  tokensOfUser: sql('SELECT token_hash FROM access_tokens WHERE user_id = $1'),
  tokensOfOtherDevices: sql('SELECT token_hash FROM access_tokens WHERE user_id = $1 AND device_id IS DISTINCT FROM $2'),
  deleteTokensOfDevice: sql('DELETE FROM access_tokens WHERE user_id = $1 AND device_id = $2'),
  deleteTokensOfOtherDevices: sql('DELETE FROM access_tokens WHERE user_id = $1 AND device_id IS DISTINCT FROM $2'),
  deleteOtherDevices: sql('DELETE FROM devices WHERE user_id = $1 AND device_id IS DISTINCT FROM $2'),
  insertToken: sql('INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, valid_until_ms) VALUES ($1, $2, $3, $4, $5)'),
  deleteToken: sql('DELETE FROM access_tokens WHERE token_hash = $1'),
  tokenOwner: sql(`SELECT t.user_id, t.device_id, t.valid_until_ms, u.is_guest, u.is_admin, u.deactivated, u.shadow_banned
    FROM access_tokens t JOIN users u ON u.user_id = t.user_id WHERE t.token_hash = $1`),
  profile: sql('SELECT field, value_json FROM profile_fields WHERE user_id = $1 ORDER BY field'),
  setProfile: sql('INSERT INTO profile_fields (user_id, field, value_json) VALUES ($1, $2, $3) ON CONFLICT (user_id, field) DO UPDATE SET value_json = excluded.value_json'),
  deleteProfile: sql('DELETE FROM profile_fields WHERE user_id = $1 AND field = $2'),
  upsertPusher: sql(`INSERT INTO pushers (${PUSHER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
    ON CONFLICT (user_id, app_id, pushkey) DO UPDATE SET device_id = excluded.device_id, kind = excluded.kind, app_display_name = excluded.app_display_name,
      device_display_name = excluded.device_display_name, profile_tag = excluded.profile_tag, lang = excluded.lang, data_json = excluded.data_json,
      pushkey_ts = excluded.pushkey_ts`),
  deleteOtherUsersPushers: sql('DELETE FROM pushers WHERE app_id = $1 AND pushkey = $2 AND user_id <> $3'),
  deletePusher: sql('DELETE FROM pushers WHERE user_id = $1 AND app_id = $2 AND pushkey = $3'),
  pushers: sql(`SELECT ${PUSHER_COLUMNS} FROM pushers WHERE user_id = $1 ORDER BY app_id, pushkey`),
};

const hashes = (rs: { token_hash: string }[]) => rs.map((r) => r.token_hash);

async function loginDevice(c: Queryable, l: NewDeviceLogin): Promise<DeviceLoginResult> {
  const created = (await exec(c, Q.insertDevice, [l.userId, l.deviceId, l.displayName, l.ts])) === 1;
  await exec(c, Q.lockDevice, [l.userId, l.deviceId]);
  const revoked = hashes(await rows(c, Q.tokensOfDevice, [l.userId, l.deviceId]));
  await exec(c, Q.deleteTokensOfDevice, [l.userId, l.deviceId]);
  await exec(c, Q.insertToken, [l.tokenHash, l.userId, l.deviceId, l.ts, l.validUntilMs ?? null]);
  return { revokedTokenHashes: revoked, createdDevice: created };
}

export function createPostgresAccountStore(pool: pg.Pool): AccountStore {
  const db: Queryable = pool;
  return {
    async createUser(u, login) {
      return transaction(pool, async (c) => {
        if ((await exec(c, Q.insertUser, [u.userId, u.localpart, u.passwordHash, u.isAdmin, u.isGuest, u.createdTs])) === 0) return false;
        if (u.displayName !== null) await exec(c, Q.setProfile, [u.userId, 'displayname', JSON.stringify(u.displayName)]);
        if (login) await loginDevice(c, login);
        return true;
      });
    },
    async getUser(userId) {
      const r = await row<UserRow>(db, Q.getUser, [userId]);
      return r ? toUser(r) : undefined;
    },
    async countUsers() { return (await row<{ n: number }>(db, Q.countUsers))!.n; },
    async nextCounter(name) { return (await row<{ value: number }>(db, Q.bumpCounter, [name]))!.value; },
    async setPasswordHash(userId, hash) { await exec(db, Q.setPassword, [hash, userId]); },
    async setAdmin(userId, admin) { await exec(db, Q.setAdmin, [admin, userId]); },
    async setDeactivated(userId, deactivated) { await exec(db, Q.setDeactivatedFlag, [deactivated, userId]); },
    async setShadowBanned(userId, banned) { await exec(db, Q.setShadowBanned, [banned, userId]); },
    async deactivateUser(userId) {
      return transaction(pool, async (c) => {
        const revoked = hashes(await rows(c, Q.tokensOfUser, [userId]));
        await exec(c, Q.setDeactivated, [userId]);
        await exec(c, Q.deleteAllDevices, [userId]);
        return revoked;
      });
    },
    async loginDevice(login) { return transaction(pool, (c) => loginDevice(c, login)); },
    async findTokenOwner(tokenHash) {
      const r = await row<{ user_id: string; device_id: string; valid_until_ms: number | null; is_guest: boolean; is_admin: boolean; deactivated: boolean; shadow_banned: boolean }>(db, Q.tokenOwner, [tokenHash]);
      if (!r) return undefined;
      const owner: TokenOwner = {
        userId: r.user_id, deviceId: r.device_id, isGuest: r.is_guest, isAdmin: r.is_admin, deactivated: r.deactivated,
        shadowBanned: r.shadow_banned, validUntilMs: r.valid_until_ms,
      };
      return owner;
    },
    async getDevice(userId, deviceId) {
      const r = await row<DeviceRow>(db, Q.getDevice, [userId, deviceId]);
      return r ? toDevice(r) : undefined;
    },
    async listDevices(userId) { return (await rows<DeviceRow>(db, Q.listDevices, [userId])).map(toDevice); },
    async setDeviceDisplayName(userId, deviceId, name) { return (await exec(db, Q.setDeviceName, [name, userId, deviceId])) === 1; },
    async updateDeviceLastSeen(userId, deviceId, ts, ip, ua) { await exec(db, Q.setLastSeen, [ts, ip, ua, userId, deviceId]); },
    async deleteDevices(userId, deviceIds) {
      return transaction(pool, async (c) => {
        const revoked: string[] = [];
        for (const id of deviceIds) {
          revoked.push(...hashes(await rows(c, Q.tokensOfDevice, [userId, id])));
          await exec(c, Q.deleteDevice, [userId, id]); // tokens go with it (ON DELETE CASCADE)
        }
        return revoked;
      });
    },
    async revokeOtherDevices(userId, keep, deleteDevices) {
      return transaction(pool, async (c) => {
        const revoked = hashes(await rows(c, Q.tokensOfOtherDevices, [userId, keep]));
        await exec(c, Q.deleteTokensOfOtherDevices, [userId, keep]);
        if (deleteDevices) await exec(c, Q.deleteOtherDevices, [userId, keep]);
        return revoked;
      });
    },
    async revokeToken(tokenHash) { await exec(db, Q.deleteToken, [tokenHash]); },
    async getProfile(userId) {
      const out: Record<string, unknown> = {};
      for (const r of await rows<{ field: string; value_json: string }>(db, Q.profile, [userId])) out[r.field] = JSON.parse(r.value_json);
      return out;
    },
    async setProfileField(userId, field, value) { await exec(db, Q.setProfile, [userId, field, JSON.stringify(value)]); },
    async deleteProfileField(userId, field) { await exec(db, Q.deleteProfile, [userId, field]); },
    async setPusher(p, append) {
      await transaction(pool, async (c) => {
        if (!append) await exec(c, Q.deleteOtherUsersPushers, [p.appId, p.pushkey, p.userId]);
        await exec(c, Q.upsertPusher, [
          p.userId, p.appId, p.pushkey, p.deviceId, p.kind, p.appDisplayName, p.deviceDisplayName, p.profileTag, p.lang, JSON.stringify(p.data), p.pushkeyTs,
        ]);
      });
    },
    async deletePusher(userId, appId, pushkey) { return (await exec(db, Q.deletePusher, [userId, appId, pushkey])) === 1; },
    async getPushers(userId) { return (await rows<PusherRow>(db, Q.pushers, [userId])).map(toPusher); },
    async putOpenIdToken(tokenHash, userId, expiresTs, now) {
      await transaction(pool, async (c) => {
        await exec(c, Q.deleteExpiredOpenId, [now]);
        await exec(c, Q.insertOpenId, [tokenHash, userId, expiresTs]);
      });
    },
    async findOpenIdToken(tokenHash, now) { return (await row<{ user_id: string }>(db, Q.findOpenId, [tokenHash, now]))?.user_id; },
  };
}
