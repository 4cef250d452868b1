// SQLite implementation of AccountStore. Statements are prepared once; multi-table writes run in one
// db.transaction.
import type Database from 'better-sqlite3';
import type { JsonObject } from '../../wire.js';
import type { AccountStore, DeviceLoginResult, DeviceRecord, NewDeviceLogin, NewUser, PusherRecord, TokenOwner, UserRecord } from '../types.js';

interface UserRow { user_id: string; localpart: string; password_hash: string | null; is_admin: number; is_guest: number; deactivated: number; created_ts: number; shadow_banned: number }
interface PusherRow {
  user_id: string; app_id: string; pushkey: string; device_id: string; kind: string; app_display_name: string; device_display_name: string;
  profile_tag: string | null; lang: string; data_json: string; pushkey_ts: number;
}
interface DeviceRow { user_id: string; device_id: string; display_name: string | null; created_ts: number; last_seen_ts: number | null; last_seen_ip: string | null; last_seen_user_agent: string | null }

const toUser = (r: UserRow): UserRecord => ({
  userId: r.user_id, localpart: r.localpart, passwordHash: r.password_hash, isAdmin: r.is_admin === 1,
  isGuest: r.is_guest === 1, deactivated: r.deactivated === 1, createdTs: r.created_ts, shadowBanned: r.shadow_banned === 1,
});
const toDevice = (r: DeviceRow): DeviceRecord => ({
  userId: r.user_id, deviceId: r.device_id, displayName: r.display_name, createdTs: r.created_ts,
  lastSeenTs: r.last_seen_ts, lastSeenIp: r.last_seen_ip, lastSeenUserAgent: r.last_seen_user_agent,
});

export function createSqliteAccountStore(db: Database.Database): AccountStore {
  const s = {
    insertUser: db.prepare('INSERT OR IGNORE INTO users (user_id, localpart, password_hash, is_admin, is_guest, created_ts) VALUES (?, ?, ?, ?, ?, ?)'),
    getUser: db.prepare('SELECT * FROM users WHERE user_id = ?'),
    countUsers: db.prepare('SELECT COUNT(*) AS n FROM users'),
    bumpCounter: db.prepare('INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value'),
    setPassword: db.prepare('UPDATE users SET password_hash = ? WHERE user_id = ?'),
    setAdmin: db.prepare('UPDATE users SET is_admin = ? WHERE user_id = ?'),
    setDeactivatedFlag: db.prepare('UPDATE users SET deactivated = ? WHERE user_id = ?'),
    setDeactivated: db.prepare('UPDATE users SET deactivated = 1 WHERE user_id = ?'),
    setShadowBanned: db.prepare('UPDATE users SET shadow_banned = ? WHERE user_id = ?'),
    insertOpenId: db.prepare('INSERT INTO openid_tokens (token_hash, user_id, expires_ts) VALUES (?, ?, ?)'),
    findOpenId: db.prepare('SELECT user_id FROM openid_tokens WHERE token_hash = ? AND expires_ts > ?').pluck(),
    deleteExpiredOpenId: db.prepare('DELETE FROM openid_tokens WHERE expires_ts <= ?'),
    getDevice: db.prepare('SELECT * FROM devices WHERE user_id = ? AND device_id = ?'),
    listDevices: db.prepare('SELECT * FROM devices WHERE user_id = ? ORDER BY created_ts, device_id'),
    insertDevice: db.prepare('INSERT OR IGNORE INTO devices (user_id, device_id, display_name, created_ts) VALUES (?, ?, ?, ?)'),
    setDeviceName: db.prepare('UPDATE devices SET display_name = ? WHERE user_id = ? AND device_id = ?'),
    setLastSeen: db.prepare('UPDATE devices SET last_seen_ts = ?, last_seen_ip = ?, last_seen_user_agent = ? WHERE user_id = ? AND device_id = ?'),
    deleteDevice: db.prepare('DELETE FROM devices WHERE user_id = ? AND device_id = ?'),
    deleteAllDevices: db.prepare('DELETE FROM devices WHERE user_id = ?'),
    tokensOfDevice: db.prepare('SELECT token_hash FROM access_tokens WHERE user_id = ? AND device_id = ?').pluck(),
    tokensOfUser: db.prepare('SELECT token_hash FROM access_tokens WHERE user_id = ?').pluck(),
    tokensOfOtherDevices: db.prepare('SELECT token_hash FROM access_tokens WHERE user_id = ? AND device_id IS NOT ?').pluck(),
    deleteTokensOfDevice: db.prepare('DELETE FROM access_tokens WHERE user_id = ? AND device_id = ?'),
    deleteTokensOfOtherDevices: db.prepare('DELETE FROM access_tokens WHERE user_id = ? AND device_id IS NOT ?'),
    deleteOtherDevices: db.prepare('DELETE FROM devices WHERE user_id = ? AND device_id IS NOT ?'),
    insertToken: db.prepare('INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, valid_until_ms) VALUES (?, ?, ?, ?, ?)'),
    deleteToken: db.prepare('DELETE FROM access_tokens WHERE token_hash = ?'),
    tokenOwner: db.prepare(`SELECT t.user_id, t.device_id, t.valid_until_ms, u.is_guest, u.is_admin, u.deactivated, u.shadow_banned
      FROM access_tokens t JOIN users u ON u.user_id = t.user_id WHERE t.token_hash = ?`),
    profile: db.prepare('SELECT field, value_json FROM profile_fields WHERE user_id = ? ORDER BY field'),
    setProfile: db.prepare('INSERT INTO profile_fields (user_id, field, value_json) VALUES (?, ?, ?) ON CONFLICT(user_id, field) DO UPDATE SET value_json = excluded.value_json'),
    deleteProfile: db.prepare('DELETE FROM profile_fields WHERE user_id = ? AND field = ?'),
    upsertPusher: db.prepare(`INSERT INTO pushers (user_id, app_id, pushkey, device_id, kind, app_display_name, device_display_name, profile_tag, lang, data_json, pushkey_ts)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(user_id, app_id, pushkey) DO UPDATE SET device_id = excluded.device_id, kind = excluded.kind, app_display_name = excluded.app_display_name,
        device_display_name = excluded.device_display_name, profile_tag = excluded.profile_tag, lang = excluded.lang, data_json = excluded.data_json,
        pushkey_ts = excluded.pushkey_ts`),
    deleteOtherUsersPushers: db.prepare('DELETE FROM pushers WHERE app_id = ? AND pushkey = ? AND user_id != ?'),
    deletePusher: db.prepare('DELETE FROM pushers WHERE user_id = ? AND app_id = ? AND pushkey = ?'),
    pushers: db.prepare('SELECT * FROM pushers WHERE user_id = ? ORDER BY app_id, pushkey'),
  };

  const loginDeviceTx = db.transaction((l: NewDeviceLogin): DeviceLoginResult => {
    const created = s.insertDevice.run(l.userId, l.deviceId, l.displayName, l.ts).changes === 1;
    const revoked = s.tokensOfDevice.all(l.userId, l.deviceId) as string[];
    s.deleteTokensOfDevice.run(l.userId, l.deviceId);
    s.insertToken.run(l.tokenHash, l.userId, l.deviceId, l.ts, l.validUntilMs ?? null);
    return { revokedTokenHashes: revoked, createdDevice: created };
  });

  const createUserTx = db.transaction((u: NewUser, login?: NewDeviceLogin): boolean => {
    if (s.insertUser.run(u.userId, u.localpart, u.passwordHash, u.isAdmin ? 1 : 0, u.isGuest ? 1 : 0, u.createdTs).changes === 0) return false;
    if (u.displayName !== null) s.setProfile.run(u.userId, 'displayname', JSON.stringify(u.displayName));
    if (login) loginDeviceTx(login);
    return true;
  });

  const putOpenIdTx = db.transaction((tokenHash: string, userId: string, expiresTs: number, now: number) => {
    s.deleteExpiredOpenId.run(now);
    s.insertOpenId.run(tokenHash, userId, expiresTs);
  });

  const setPusherTx = db.transaction((p: PusherRecord, append: boolean) => {
    if (!append) s.deleteOtherUsersPushers.run(p.appId, p.pushkey, p.userId);
    s.upsertPusher.run(p.userId, p.appId, p.pushkey, p.deviceId, p.kind, p.appDisplayName, p.deviceDisplayName, p.profileTag, p.lang, JSON.stringify(p.data), p.pushkeyTs);
  });

  const deleteDevicesTx = db.transaction((userId: string, deviceIds: string[]): string[] => {
    const revoked: string[] = [];
    for (const id of deviceIds) {
      revoked.push(...(s.tokensOfDevice.all(userId, id) as string[]));
      s.deleteDevice.run(userId, id); // tokens go with it (ON DELETE CASCADE)
    }
    return revoked;
  });

  const revokeOthersTx = db.transaction((userId: string, keep: string | null, deleteDevices: boolean): string[] => {
    const revoked = s.tokensOfOtherDevices.all(userId, keep) as string[];
    s.deleteTokensOfOtherDevices.run(userId, keep);
    if (deleteDevices) s.deleteOtherDevices.run(userId, keep);
    return revoked;
  });

  const deactivateTx = db.transaction((userId: string): string[] => {
    const revoked = s.tokensOfUser.all(userId) as string[];
    s.setDeactivated.run(userId);
    s.deleteAllDevices.run(userId);
    return revoked;
  });

  return {
    async createUser(user, login) { return createUserTx(user, login); },
    async getUser(userId) {
      const row = s.getUser.get(userId) as UserRow | undefined;
      return row ? toUser(row) : undefined;
    },
    async countUsers() { return (s.countUsers.get() as { n: number }).n; },
    async nextCounter(name) { return (s.bumpCounter.get(name) as { value: number }).value; },
    async setPasswordHash(userId, hash) { s.setPassword.run(hash, userId); },
    async setAdmin(userId, admin) { s.setAdmin.run(admin ? 1 : 0, userId); },
    async setDeactivated(userId, deactivated) { s.setDeactivatedFlag.run(deactivated ? 1 : 0, userId); },
    async setShadowBanned(userId, banned) { s.setShadowBanned.run(banned ? 1 : 0, userId); },
    async deactivateUser(userId) { return deactivateTx(userId); },
    async setPusher(p, append) { setPusherTx(p, append); },
    async deletePusher(userId, appId, pushkey) { return s.deletePusher.run(userId, appId, pushkey).changes === 1; },
    async getPushers(userId) {
      return (s.pushers.all(userId) as PusherRow[]).map((r) => ({
        userId: r.user_id, appId: r.app_id, pushkey: r.pushkey, deviceId: r.device_id, kind: r.kind, appDisplayName: r.app_display_name,
        deviceDisplayName: r.device_display_name, profileTag: r.profile_tag, lang: r.lang, data: JSON.parse(r.data_json) as JsonObject, pushkeyTs: r.pushkey_ts,
      }));
    },
    async loginDevice(login) { return loginDeviceTx(login); },
    async findTokenOwner(tokenHash) {
      const row = s.tokenOwner.get(tokenHash) as { user_id: string; device_id: string; valid_until_ms: number | null; is_guest: number; is_admin: number; deactivated: number; shadow_banned: number } | undefined;
      if (!row) return undefined;
      const owner: TokenOwner = {
        userId: row.user_id, deviceId: row.device_id, isGuest: row.is_guest === 1, isAdmin: row.is_admin === 1, deactivated: row.deactivated === 1,
        shadowBanned: row.shadow_banned === 1, validUntilMs: row.valid_until_ms,
      };
      return owner;
    },
    async getDevice(userId, deviceId) {
      const row = s.getDevice.get(userId, deviceId) as DeviceRow | undefined;
      return row ? toDevice(row) : undefined;
    },
    async listDevices(userId) { return (s.listDevices.all(userId) as DeviceRow[]).map(toDevice); },
    async setDeviceDisplayName(userId, deviceId, name) { return s.setDeviceName.run(name, userId, deviceId).changes === 1; },
    async updateDeviceLastSeen(userId, deviceId, ts, ip, ua) { s.setLastSeen.run(ts, ip, ua, userId, deviceId); },
    async deleteDevices(userId, deviceIds) { return deleteDevicesTx(userId, deviceIds); },
    async revokeOtherDevices(userId, keep, deleteDevices) { return revokeOthersTx(userId, keep, deleteDevices); },
    async revokeToken(tokenHash) { s.deleteToken.run(tokenHash); },
    async getProfile(userId) {
      const out: Record<string, unknown> = {};
      for (const r of s.profile.all(userId) as { field: string; value_json: string }[]) out[r.field] = JSON.parse(r.value_json);
      return out;
    },
    async setProfileField(userId, field, value) { s.setProfile.run(userId, field, JSON.stringify(value)); },
    async deleteProfileField(userId, field) { s.deleteProfile.run(userId, field); },
    async putOpenIdToken(tokenHash, userId, expiresTs, now) { putOpenIdTx(tokenHash, userId, expiresTs, now); },
    async findOpenIdToken(tokenHash, now) { return s.findOpenId.get(tokenHash, now) as string | undefined; },
  };
}
