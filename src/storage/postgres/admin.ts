// PostgreSQL implementation of AdminStore: user and room listings, notices rooms, admin transactions.
// The same behaviour as sqlite/admin.ts (lower() folds ASCII only there: here it runs in the C
// collation, which does the same).
import type pg from 'pg';
import type { AdminStore, RegistrationTokenRecord, ReportRecord, RoomListEntry, UserListEntry } from '../types.js';
import { exec, row, rows, sql, transaction, type Queryable } from './db.js';

interface UserRow {
  user_id: string; localpart: string; password_hash: string | null; is_admin: boolean; is_guest: boolean;
  deactivated: boolean; created_ts: number; shadow_banned: boolean; displayname: string | null; avatar_url: string | null;
}

interface ReportRow {
  id: number; kind: string; received_ts: number; reporter: string; room_id: string | null; event_id: string | null;
  event_sender: string | null; target_user_id: string | null; reason: string | null; score: number | null;
}
const toReport = (r: ReportRow): ReportRecord => ({
  id: r.id, kind: r.kind as ReportRecord['kind'], receivedTs: r.received_ts, reporter: r.reporter, roomId: r.room_id, eventId: r.event_id,
  eventSender: r.event_sender, targetUserId: r.target_user_id, reason: r.reason, score: r.score,
});
const REPORT_COLUMNS = 'id, kind, received_ts, reporter, room_id, event_id, event_sender, target_user_id, reason, score';

interface TokenRow { token: string; uses_allowed: number | null; completed: number; expiry_time: number | null }
const toToken = (r: TokenRow): RegistrationTokenRecord => ({ token: r.token, usesAllowed: r.uses_allowed, completed: r.completed, expiryTime: r.expiry_time });

/** A profile field's JSON value as text (a JSON string unwrapped, like SQLite's json_extract(value, '$')). */
const field = (name: string) => `(SELECT p.value_json::jsonb #>> '{}' FROM profile_fields p WHERE p.user_id = u.user_id AND p.field = '${name}')`;

const Q = {
  activeUsers: sql('SELECT user_id FROM users WHERE NOT deactivated AND NOT is_guest ORDER BY user_id'),
  countEvents: sql('SELECT COUNT(*)::bigint AS n FROM events'),
  countRoomEvents: sql('SELECT COUNT(*)::bigint AS n FROM events WHERE room_id = $1'),
  rooms: sql(`SELECT r.room_id, r.room_version, r.creator, r.created_ts, r.visibility,
      EXISTS (SELECT 1 FROM room_blocks b WHERE b.room_id = r.room_id) AS blocked,
      (SELECT COUNT(*) FROM room_memberships m WHERE m.room_id = r.room_id AND m.membership = 'join')::bigint AS joined,
      (SELECT COUNT(*) FROM current_state c WHERE c.room_id = r.room_id)::bigint AS state_events
    FROM rooms r ORDER BY r.created_ts, r.room_id`),
  block: sql('INSERT INTO room_blocks (room_id, blocked_by, blocked_ts) VALUES ($1, $2, $3) ON CONFLICT (room_id) DO UPDATE SET blocked_by = excluded.blocked_by, blocked_ts = excluded.blocked_ts'),
  unblock: sql('DELETE FROM room_blocks WHERE room_id = $1'),
  getBlock: sql('SELECT blocked_by FROM room_blocks WHERE room_id = $1'),
  listTokens: sql('SELECT token, uses_allowed, completed, expiry_time FROM registration_tokens ORDER BY created_ts, token'),
  getToken: sql('SELECT token, uses_allowed, completed, expiry_time FROM registration_tokens WHERE token = $1'),
  insertToken: sql('INSERT INTO registration_tokens (token, uses_allowed, completed, expiry_time, created_ts) VALUES ($1, $2, 0, $3, $4) ON CONFLICT DO NOTHING'),
  setTokenUses: sql('UPDATE registration_tokens SET uses_allowed = $1 WHERE token = $2'),
  setTokenExpiry: sql('UPDATE registration_tokens SET expiry_time = $1 WHERE token = $2'),
  deleteToken: sql('DELETE FROM registration_tokens WHERE token = $1'),
  completeToken: sql('UPDATE registration_tokens SET completed = completed + 1 WHERE token = $1'),
  getNoticeRoom: sql('SELECT room_id FROM server_notice_rooms WHERE user_id = $1'),
  setNoticeRoom: sql(`INSERT INTO server_notice_rooms (user_id, room_id, created_ts) VALUES ($1, $2, $3)
    ON CONFLICT (user_id) DO UPDATE SET room_id = excluded.room_id`),
  addReport: sql(`INSERT INTO content_reports (kind, received_ts, reporter, room_id, event_id, event_sender, target_user_id, reason, score)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`),
  getReport: sql(`SELECT ${REPORT_COLUMNS} FROM content_reports WHERE id = $1`),
  deleteReport: sql('DELETE FROM content_reports WHERE id = $1'),
  getTxn: sql('SELECT response_json FROM admin_txns WHERE user_id = $1 AND scope = $2 AND txn_id = $3'),
  putTxn: sql('INSERT INTO admin_txns (user_id, scope, txn_id, response_json, created_ts) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING'),
};

const USER_SELECT = `SELECT u.user_id, u.localpart, u.password_hash, u.is_admin, u.is_guest, u.deactivated, u.created_ts, u.shadow_banned,
    ${field('displayname')} AS displayname, ${field('avatar_url')} AS avatar_url
  FROM users u`;

export function createPostgresAdminStore(pool: pg.Pool): AdminStore {
  const db: Queryable = pool;
  return {
    async addReport(r) {
      return (await row<{ id: number }>(db, Q.addReport, [r.kind, r.receivedTs, r.reporter, r.roomId, r.eventId, r.eventSender, r.targetUserId, r.reason, r.score]))!.id;
    },
    async listReports(q) {
      const where = ['kind = $1'];
      const args: unknown[] = [q.kind];
      if (q.reporter !== undefined) { args.push(q.reporter); where.push(`reporter = $${args.length}`); }
      if (q.roomId !== undefined) { args.push(q.roomId); where.push(`room_id = $${args.length}`); }
      if (q.eventSender !== undefined) { args.push(q.eventSender); where.push(`event_sender = $${args.length}`); }
      const clause = where.join(' AND ');
      const total = (await row<{ n: number }>(db, sql(`SELECT COUNT(*)::bigint AS n FROM content_reports WHERE ${clause}`), args))!.n;
      const page = await rows<ReportRow>(db, sql(`SELECT ${REPORT_COLUMNS} FROM content_reports WHERE ${clause}
        ORDER BY id ${q.dir === 'b' ? 'DESC' : 'ASC'} LIMIT $${args.length + 1} OFFSET $${args.length + 2}`), [...args, q.limit, q.from]);
      return { reports: page.map(toReport), total };
    },
    async getReport(id) {
      const r = await row<ReportRow>(db, Q.getReport, [id]);
      return r ? toReport(r) : undefined;
    },
    async deleteReport(id) { return (await exec(db, Q.deleteReport, [id])) === 1; },
    async listUsers(q) {
      const where: string[] = [];
      const args: unknown[] = [];
      if (!q.guests) where.push('NOT u.is_guest');
      if (!q.deactivated) where.push('NOT u.deactivated');
      if (q.name !== undefined && q.name !== '') {
        args.push(q.name);
        where.push(`(strpos(lower(u.user_id COLLATE "C"), lower($1 COLLATE "C")) > 0
          OR strpos(lower(COALESCE(${field('displayname')}, '') COLLATE "C"), lower($1 COLLATE "C")) > 0)`);
      }
      const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
      const total = (await row<{ n: number }>(db, sql(`SELECT COUNT(*)::bigint AS n FROM users u ${clause}`), args))!.n;
      const page = await rows<UserRow>(db, sql(`${USER_SELECT} ${clause} ORDER BY u.user_id LIMIT $${args.length + 1} OFFSET $${args.length + 2}`), [...args, q.limit, q.from]);
      const users: UserListEntry[] = page.map((r) => ({
        userId: r.user_id, localpart: r.localpart, passwordHash: r.password_hash, isAdmin: r.is_admin, isGuest: r.is_guest,
        deactivated: r.deactivated, createdTs: r.created_ts, shadowBanned: r.shadow_banned, displayName: r.displayname, avatarUrl: r.avatar_url,
      }));
      return { users, total };
    },
    async activeUserIds() { return (await rows<{ user_id: string }>(db, Q.activeUsers)).map((r) => r.user_id); },
    async analyze() { await pool.query('ANALYZE'); },
    async countEvents(roomId) {
      return (roomId === undefined ? await row<{ n: number }>(db, Q.countEvents) : await row<{ n: number }>(db, Q.countRoomEvents, [roomId]))!.n;
    },
    async listRooms() {
      return (await rows<{ room_id: string; room_version: string; creator: string; created_ts: number; visibility: string; blocked: boolean; joined: number; state_events: number }>(db, Q.rooms))
        .map((r): RoomListEntry => ({
          roomId: r.room_id, roomVersion: r.room_version, creator: r.creator, createdTs: r.created_ts,
          visibility: r.visibility === 'public' ? 'public' : 'private', blocked: r.blocked, joinedMembers: r.joined, stateEvents: r.state_events,
        }));
    },
    async setRoomBlocked(roomId, blocked, by, ts) {
      if (blocked) await exec(db, Q.block, [roomId, by, ts]);
      else await exec(db, Q.unblock, [roomId]);
    },
    async isRoomBlocked(roomId) { return (await row(db, Q.getBlock, [roomId])) !== undefined; },
    async getRoomBlock(roomId) {
      const r = await row<{ blocked_by: string | null }>(db, Q.getBlock, [roomId]);
      return r ? { blockedBy: r.blocked_by } : undefined;
    },
    async listRegistrationTokens() { return (await rows<TokenRow>(db, Q.listTokens)).map(toToken); },
    async getRegistrationToken(token) {
      const r = await row<TokenRow>(db, Q.getToken, [token]);
      return r ? toToken(r) : undefined;
    },
    async createRegistrationToken(t, ts) { return (await exec(db, Q.insertToken, [t.token, t.usesAllowed, t.expiryTime, ts])) === 1; },
    async updateRegistrationToken(token, change) {
      return transaction(pool, async (c) => {
        if (change.usesAllowed !== undefined) await exec(c, Q.setTokenUses, [change.usesAllowed, token]);
        if (change.expiryTime !== undefined) await exec(c, Q.setTokenExpiry, [change.expiryTime, token]);
        const r = await row<TokenRow>(c, Q.getToken, [token]);
        return r ? toToken(r) : undefined;
      });
    },
    async deleteRegistrationToken(token) { return (await exec(db, Q.deleteToken, [token])) === 1; },
    async completeRegistrationToken(token) { await exec(db, Q.completeToken, [token]); },
    async getNoticeRoom(userId) { return (await row<{ room_id: string }>(db, Q.getNoticeRoom, [userId]))?.room_id; },
    async setNoticeRoom(userId, roomId, ts) { await exec(db, Q.setNoticeRoom, [userId, roomId, ts]); },
    async getAdminTxn(userId, scope, txnId) { return (await row<{ response_json: string }>(db, Q.getTxn, [userId, scope, txnId]))?.response_json; },
    async putAdminTxn(userId, scope, txnId, json, ts) { await exec(db, Q.putTxn, [userId, scope, txnId, json, ts]); },
  };
}
