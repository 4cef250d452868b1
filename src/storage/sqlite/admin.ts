// SQLite implementation of AdminStore: user and room listings, notices rooms, admin transactions.
import type Database from 'better-sqlite3';
import type { AdminStore, RegistrationTokenRecord, ReportRecord, RoomListEntry, UserListEntry } from '../types.js';

interface ReportRow {
  id: number; kind: string; received_ts: number; reporter: string; room_id: string | null; event_id: string | null;
  event_sender: string | null; target_user_id: string | null; reason: string | null; score: number | null;
}
const toReport = (r: ReportRow): ReportRecord => ({
  id: r.id, kind: r.kind as ReportRecord['kind'], receivedTs: r.received_ts, reporter: r.reporter, roomId: r.room_id, eventId: r.event_id,
  eventSender: r.event_sender, targetUserId: r.target_user_id, reason: r.reason, score: r.score,
});

interface UserRow {
  user_id: string; localpart: string; password_hash: string | null; is_admin: number; is_guest: number;
  deactivated: number; created_ts: number; shadow_banned: number; displayname: string | null; avatar_url: string | null;
}

interface TokenRow { token: string; uses_allowed: number | null; completed: number; expiry_time: number | null }
const toToken = (r: TokenRow): RegistrationTokenRecord => ({ token: r.token, usesAllowed: r.uses_allowed, completed: r.completed, expiryTime: r.expiry_time });

export function createSqliteAdminStore(db: Database.Database): AdminStore {
  const s = {
    activeUsers: db.prepare('SELECT user_id FROM users WHERE deactivated = 0 AND is_guest = 0 ORDER BY user_id').pluck(),
    countEvents: db.prepare('SELECT COUNT(*) FROM events').pluck(),
    countRoomEvents: db.prepare('SELECT COUNT(*) FROM events WHERE room_id = ?').pluck(),
    rooms: db.prepare(`SELECT r.room_id, r.room_version, r.creator, r.created_ts, r.visibility,
        EXISTS (SELECT 1 FROM room_blocks b WHERE b.room_id = r.room_id) AS blocked,
        (SELECT COUNT(*) FROM room_memberships m WHERE m.room_id = r.room_id AND m.membership = 'join') AS joined,
        (SELECT COUNT(*) FROM current_state c WHERE c.room_id = r.room_id) AS state_events
      FROM rooms r ORDER BY r.created_ts, r.room_id`),
    block: db.prepare('INSERT INTO room_blocks (room_id, blocked_by, blocked_ts) VALUES (?, ?, ?) ON CONFLICT(room_id) DO UPDATE SET blocked_by = excluded.blocked_by, blocked_ts = excluded.blocked_ts'),
    unblock: db.prepare('DELETE FROM room_blocks WHERE room_id = ?'),
    getBlock: db.prepare('SELECT blocked_by FROM room_blocks WHERE room_id = ?'),
    listTokens: db.prepare('SELECT token, uses_allowed, completed, expiry_time FROM registration_tokens ORDER BY created_ts, token'),
    getToken: db.prepare('SELECT token, uses_allowed, completed, expiry_time FROM registration_tokens WHERE token = ?'),
    insertToken: db.prepare('INSERT OR IGNORE INTO registration_tokens (token, uses_allowed, completed, expiry_time, created_ts) VALUES (?, ?, 0, ?, ?)'),
    setTokenUses: db.prepare('UPDATE registration_tokens SET uses_allowed = ? WHERE token = ?'),
    setTokenExpiry: db.prepare('UPDATE registration_tokens SET expiry_time = ? WHERE token = ?'),
    deleteToken: db.prepare('DELETE FROM registration_tokens WHERE token = ?'),
    completeToken: db.prepare('UPDATE registration_tokens SET completed = completed + 1 WHERE token = ?'),
    getNoticeRoom: db.prepare('SELECT room_id FROM server_notice_rooms WHERE user_id = ?').pluck(),
    setNoticeRoom: db.prepare(`INSERT INTO server_notice_rooms (user_id, room_id, created_ts) VALUES (?, ?, ?)
      ON CONFLICT(user_id) DO UPDATE SET room_id = excluded.room_id`),
    addReport: db.prepare(`INSERT INTO content_reports (kind, received_ts, reporter, room_id, event_id, event_sender, target_user_id, reason, score)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    getReport: db.prepare('SELECT * FROM content_reports WHERE id = ?'),
    deleteReport: db.prepare('DELETE FROM content_reports WHERE id = ?'),
    getTxn: db.prepare('SELECT response_json FROM admin_txns WHERE user_id = ? AND scope = ? AND txn_id = ?').pluck(),
    putTxn: db.prepare('INSERT OR IGNORE INTO admin_txns (user_id, scope, txn_id, response_json, created_ts) VALUES (?, ?, ?, ?, ?)'),
  };
  const USER_SELECT = `SELECT u.*,
      (SELECT json_extract(value_json, '$') FROM profile_fields p WHERE p.user_id = u.user_id AND p.field = 'displayname') AS displayname,
      (SELECT json_extract(value_json, '$') FROM profile_fields p WHERE p.user_id = u.user_id AND p.field = 'avatar_url') AS avatar_url
    FROM users u`;
  return {
    async addReport(r) {
      return Number(s.addReport.run(r.kind, r.receivedTs, r.reporter, r.roomId, r.eventId, r.eventSender, r.targetUserId, r.reason, r.score).lastInsertRowid);
    },
    async listReports(q) {
      const where = ['kind = ?'];
      const args: unknown[] = [q.kind];
      if (q.reporter !== undefined) { where.push('reporter = ?'); args.push(q.reporter); }
      if (q.roomId !== undefined) { where.push('room_id = ?'); args.push(q.roomId); }
      if (q.eventSender !== undefined) { where.push('event_sender = ?'); args.push(q.eventSender); }
      const clause = where.join(' AND ');
      const total = db.prepare(`SELECT COUNT(*) FROM content_reports WHERE ${clause}`).pluck().get(...args) as number;
      const rows = db.prepare(`SELECT * FROM content_reports WHERE ${clause} ORDER BY id ${q.dir === 'b' ? 'DESC' : 'ASC'} LIMIT ? OFFSET ?`)
        .all(...args, q.limit, q.from) as ReportRow[];
      return { reports: rows.map(toReport), total };
    },
    async getReport(id) {
      const r = s.getReport.get(id) as ReportRow | undefined;
      return r ? toReport(r) : undefined;
    },
    async deleteReport(id) { return s.deleteReport.run(id).changes === 1; },
    async listUsers(q) {
      const where: string[] = [];
      const args: unknown[] = [];
      if (!q.guests) where.push('u.is_guest = 0');
      if (!q.deactivated) where.push('u.deactivated = 0');
      if (q.name !== undefined && q.name !== '') {
        where.push(`(instr(lower(u.user_id), lower(?)) > 0 OR instr(lower(COALESCE((SELECT json_extract(value_json, '$') FROM profile_fields p
          WHERE p.user_id = u.user_id AND p.field = 'displayname'), '')), lower(?)) > 0)`);
        args.push(q.name, q.name);
      }
      const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
      const total = (db.prepare(`SELECT COUNT(*) FROM users u ${clause}`).pluck().get(...args) as number);
      const rows = db.prepare(`${USER_SELECT} ${clause} ORDER BY u.user_id LIMIT ? OFFSET ?`).all(...args, q.limit, q.from) as UserRow[];
      const users: UserListEntry[] = rows.map((r) => ({
        userId: r.user_id, localpart: r.localpart, passwordHash: r.password_hash, isAdmin: r.is_admin === 1, isGuest: r.is_guest === 1,
        deactivated: r.deactivated === 1, createdTs: r.created_ts, shadowBanned: r.shadow_banned === 1, displayName: r.displayname, avatarUrl: r.avatar_url,
      }));
      return { users, total };
    },
    async activeUserIds() { return s.activeUsers.all() as string[]; },
    async analyze() {},
    async countEvents(roomId) { return (roomId === undefined ? s.countEvents.get() : s.countRoomEvents.get(roomId)) as number; },
    async listRooms() {
      return (s.rooms.all() as { room_id: string; room_version: string; creator: string; created_ts: number; visibility: string; blocked: number; joined: number; state_events: number }[])
        .map((r): RoomListEntry => ({
          roomId: r.room_id, roomVersion: r.room_version, creator: r.creator, createdTs: r.created_ts,
          visibility: r.visibility === 'public' ? 'public' : 'private', blocked: r.blocked === 1, joinedMembers: r.joined, stateEvents: r.state_events,
        }));
    },
    async setRoomBlocked(roomId, blocked, by, ts) {
      if (blocked) s.block.run(roomId, by, ts);
      else s.unblock.run(roomId);
    },
    async isRoomBlocked(roomId) { return s.getBlock.get(roomId) !== undefined; },
    async getRoomBlock(roomId) {
      const row = s.getBlock.get(roomId) as { blocked_by: string | null } | undefined;
      return row ? { blockedBy: row.blocked_by } : undefined;
    },
    async listRegistrationTokens() { return (s.listTokens.all() as TokenRow[]).map(toToken); },
    async getRegistrationToken(token) {
      const row = s.getToken.get(token) as TokenRow | undefined;
      return row ? toToken(row) : undefined;
    },
    async createRegistrationToken(t, ts) { return s.insertToken.run(t.token, t.usesAllowed, t.expiryTime, ts).changes === 1; },
    async updateRegistrationToken(token, change) {
      return db.transaction(() => {
        if (change.usesAllowed !== undefined) s.setTokenUses.run(change.usesAllowed, token);
        if (change.expiryTime !== undefined) s.setTokenExpiry.run(change.expiryTime, token);
        const row = s.getToken.get(token) as TokenRow | undefined;
        return row ? toToken(row) : undefined;
      })();
    },
    async deleteRegistrationToken(token) { return s.deleteToken.run(token).changes === 1; },
    async completeRegistrationToken(token) { s.completeToken.run(token); },
    async getNoticeRoom(userId) { return s.getNoticeRoom.get(userId) as string | undefined; },
    async setNoticeRoom(userId, roomId, ts) { s.setNoticeRoom.run(userId, roomId, ts); },
    async getAdminTxn(userId, scope, txnId) { return s.getTxn.get(userId, scope, txnId) as string | undefined; },
    async putAdminTxn(userId, scope, txnId, json, ts) { s.putTxn.run(userId, scope, txnId, json, ts); },
  };
}
