// PostgreSQL implementation of SyncStore: filters, account data, receipts, to-device messages, counts.
// The same behaviour as sqlite/sync.ts.
import type pg from 'pg';
import type { JsonObject } from '../../wire.js';
import type { AccountDataRecord, ReceiptRecord, SyncStore } from '../types.js';
import { exec, PG, pgCode, row, rows, sql, transaction, type Queryable } from './db.js';

interface ReceiptRow {
  room_id: string; receipt_type: string; user_id: string; thread_id: string; event_id: string;
  event_stream_ordering: number; ts: number; stream_ordering: number;
}
const toReceipt = (r: ReceiptRow): ReceiptRecord => ({
  roomId: r.room_id, receiptType: r.receipt_type, userId: r.user_id, threadId: r.thread_id, eventId: r.event_id,
  eventStreamOrdering: r.event_stream_ordering, ts: r.ts, streamOrdering: r.stream_ordering,
});
const RECEIPT_COLUMNS = 'room_id, receipt_type, user_id, thread_id, event_id, event_stream_ordering, ts, stream_ordering';

const Q = {
  // The next filter ID of the user, taken in the insert itself; two at once for one user: the loser retries.
  insertFilter: sql(`INSERT INTO filters (user_id, filter_id, filter_json)
    SELECT $1, COALESCE(MAX(filter_id), -1) + 1, $2 FROM filters WHERE user_id = $1 RETURNING filter_id`),
  getFilter: sql('SELECT filter_json FROM filters WHERE user_id = $1 AND filter_id = $2'),
  setAccountData: sql(`INSERT INTO account_data (user_id, room_id, type, content_json, stream_ordering) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (user_id, room_id, type) DO UPDATE SET content_json = excluded.content_json, stream_ordering = excluded.stream_ordering`),
  getAccountData: sql('SELECT content_json FROM account_data WHERE user_id = $1 AND room_id = $2 AND type = $3'),
  accountDataSince: sql('SELECT room_id, type, content_json, stream_ordering FROM account_data WHERE user_id = $1 AND stream_ordering > $2 ORDER BY stream_ordering'),
  getReceipt: sql(`SELECT ${RECEIPT_COLUMNS} FROM receipts WHERE room_id = $1 AND receipt_type = $2 AND user_id = $3 AND thread_id = $4`),
  putReceipt: sql(`INSERT INTO receipts (room_id, receipt_type, user_id, thread_id, event_id, event_stream_ordering, ts, stream_ordering)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (room_id, receipt_type, user_id, thread_id) DO UPDATE SET event_id = excluded.event_id,
      event_stream_ordering = excluded.event_stream_ordering, ts = excluded.ts, stream_ordering = excluded.stream_ordering
    WHERE excluded.event_stream_ordering > receipts.event_stream_ordering`),
  receiptsSince: sql(`SELECT ${RECEIPT_COLUMNS} FROM receipts WHERE room_id = $1 AND stream_ordering > $2 ORDER BY stream_ordering`),
  receiptsAfter: sql(`SELECT ${RECEIPT_COLUMNS} FROM receipts WHERE stream_ordering > $1 ORDER BY stream_ordering`),
  insertToDeviceTxn: sql('INSERT INTO to_device_txns (user_id, device_id, scope, txn_id, created_ts) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING'),
  insertToDevice: sql(`INSERT INTO to_device_messages (stream_ordering, user_id, device_id, sender, type, content_json)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])`),
  getToDevice: sql(`SELECT stream_ordering, user_id, device_id, sender, type, content_json FROM to_device_messages
    WHERE user_id = $1 AND device_id = $2 AND stream_ordering > $3 ORDER BY stream_ordering LIMIT $4`),
  anyToDeviceUpTo: sql('SELECT 1 AS x FROM to_device_messages WHERE user_id = $1 AND device_id = $2 AND stream_ordering <= $3 LIMIT 1'),
  deleteToDevice: sql('DELETE FROM to_device_messages WHERE user_id = $1 AND device_id = $2 AND stream_ordering <= $3'),
  countNotifications: sql(`SELECT COUNT(*)::bigint AS n, COALESCE(SUM(highlight::int), 0)::bigint AS h FROM event_push_actions
    WHERE user_id = $1 AND room_id = $2 AND stream_ordering > $3`),
  // Per thread, after the unthreaded receipt and after the user's newest read receipt of the thread.
  countByThread: sql(`SELECT a.thread_id, COUNT(*)::bigint AS n, COALESCE(SUM(a.highlight::int), 0)::bigint AS h FROM event_push_actions a
    WHERE a.user_id = $1 AND a.room_id = $2 AND a.stream_ordering > $3
      AND a.stream_ordering > COALESCE((SELECT MAX(r.event_stream_ordering) FROM receipts r
        WHERE r.room_id = a.room_id AND r.user_id = a.user_id AND r.thread_id = a.thread_id AND r.receipt_type IN ('m.read', 'm.read.private')), 0)
    GROUP BY a.thread_id`),
};

export function createPostgresSyncStore(pool: pg.Pool): SyncStore {
  const db: Queryable = pool;
  return {
    async putFilter(userId, json) {
      for (let attempt = 1; ; attempt++) {
        try {
          return (await row<{ filter_id: number }>(db, Q.insertFilter, [userId, json]))!.filter_id;
        } catch (e) {
          if (pgCode(e) !== PG.uniqueViolation || attempt >= 5) throw e;
        }
      }
    },
    async getFilter(userId, id) { return (await row<{ filter_json: string }>(db, Q.getFilter, [userId, id]))?.filter_json; },
    async setAccountData(userId, roomId, type, content, pos) { await exec(db, Q.setAccountData, [userId, roomId, type, JSON.stringify(content), pos]); },
    async getAccountData(userId, roomId, type) {
      const r = await row<{ content_json: string }>(db, Q.getAccountData, [userId, roomId, type]);
      return r === undefined ? undefined : (JSON.parse(r.content_json) as JsonObject);
    },
    async getAccountDataSince(userId, since) {
      return (await rows<{ room_id: string; type: string; content_json: string; stream_ordering: number }>(db, Q.accountDataSince, [userId, since]))
        .map((r): AccountDataRecord => ({ roomId: r.room_id, type: r.type, content: JSON.parse(r.content_json) as JsonObject, streamOrdering: r.stream_ordering }));
    },
    async putReceipt(r) {
      return (await exec(db, Q.putReceipt, [r.roomId, r.receiptType, r.userId, r.threadId, r.eventId, r.eventStreamOrdering, r.ts, r.streamOrdering])) === 1;
    },
    async getReceiptsSince(roomIds, since) {
      if (since > 0) {
        // Incremental: the few receipts after `since` in one index range, kept for the user's rooms.
        const rooms = new Set(roomIds);
        return (await rows<ReceiptRow>(db, Q.receiptsAfter, [since])).filter((r) => rooms.has(r.room_id)).map(toReceipt);
      }
      const out: ReceiptRecord[] = [];
      for (const roomId of roomIds) out.push(...(await rows<ReceiptRow>(db, Q.receiptsSince, [roomId, since])).map(toReceipt));
      return out;
    },
    async getReceipt(roomId, type, userId, threadId) {
      const r = await row<ReceiptRow>(db, Q.getReceipt, [roomId, type, userId, threadId]);
      return r ? toReceipt(r) : undefined;
    },
    async addToDevice(messages, txn) {
      return transaction(pool, async (c) => {
        if (txn && (await exec(c, Q.insertToDeviceTxn, [txn.userId, txn.deviceId, txn.scope, txn.txnId, txn.ts])) === 0) return false;
        if (messages.length > 0) {
          await exec(c, Q.insertToDevice, [
            messages.map((m) => m.streamOrdering), messages.map((m) => m.userId), messages.map((m) => m.deviceId),
            messages.map((m) => m.sender), messages.map((m) => m.type), messages.map((m) => JSON.stringify(m.content)),
          ]);
        }
        return true;
      });
    },
    async getToDevice(userId, deviceId, after, limit) {
      return (await rows<{ stream_ordering: number; user_id: string; device_id: string; sender: string; type: string; content_json: string }>(db, Q.getToDevice, [userId, deviceId, after, limit]))
        .map((r) => ({ streamOrdering: r.stream_ordering, userId: r.user_id, deviceId: r.device_id, sender: r.sender, type: r.type, content: JSON.parse(r.content_json) as JsonObject }));
    },
    async deleteToDevice(userId, deviceId, upTo) {
      // Most syncs acknowledge nothing: look before writing.
      if ((await row(db, Q.anyToDeviceUpTo, [userId, deviceId, upTo])) !== undefined) await exec(db, Q.deleteToDevice, [userId, deviceId, upTo]);
    },
    async countNotifications(userId, roomId, after) {
      const r = (await row<{ n: number; h: number }>(db, Q.countNotifications, [userId, roomId, after]))!;
      return { notifications: r.n, highlights: r.h };
    },
    async countNotificationsByThread(userId, roomId, after) {
      const rs = await rows<{ thread_id: string; n: number; h: number }>(db, Q.countByThread, [userId, roomId, after]);
      return new Map(rs.map((r) => [r.thread_id, { notifications: r.n, highlights: r.h }]));
    },
  };
}
