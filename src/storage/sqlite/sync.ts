// SQLite implementation of SyncStore: filters, account data, receipts, to-device messages, counts.
import type Database from 'better-sqlite3';
import type { JsonObject } from '../../wire.js';
import type { AccountDataRecord, ReceiptRecord, SyncStore, ToDeviceRecord, ToDeviceTxn } from '../types.js';

interface ReceiptRow {
  room_id: string; receipt_type: string; user_id: string; thread_id: string; event_id: string;
  event_stream_ordering: number; ts: number; stream_ordering: number;
}
const toReceipt = (r: ReceiptRow): ReceiptRecord => ({
  roomId: r.room_id, receiptType: r.receipt_type, userId: r.user_id, threadId: r.thread_id, eventId: r.event_id,
  eventStreamOrdering: r.event_stream_ordering, ts: r.ts, streamOrdering: r.stream_ordering,
});

export function createSqliteSyncStore(db: Database.Database): SyncStore {
  const s = {
    nextFilterId: db.prepare('SELECT COALESCE(MAX(filter_id), -1) + 1 FROM filters WHERE user_id = ?').pluck(),
    insertFilter: db.prepare('INSERT INTO filters (user_id, filter_id, filter_json) VALUES (?, ?, ?)'),
    getFilter: db.prepare('SELECT filter_json FROM filters WHERE user_id = ? AND filter_id = ?').pluck(),
    setAccountData: db.prepare(`INSERT INTO account_data (user_id, room_id, type, content_json, stream_ordering) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT(user_id, room_id, type) DO UPDATE SET content_json = excluded.content_json, stream_ordering = excluded.stream_ordering`),
    getAccountData: db.prepare('SELECT content_json FROM account_data WHERE user_id = ? AND room_id = ? AND type = ?').pluck(),
    accountDataSince: db.prepare('SELECT room_id, type, content_json, stream_ordering FROM account_data WHERE user_id = ? AND stream_ordering > ? ORDER BY stream_ordering'),
    getReceipt: db.prepare('SELECT * FROM receipts WHERE room_id = ? AND receipt_type = ? AND user_id = ? AND thread_id = ?'),
    putReceipt: db.prepare(`INSERT INTO receipts (room_id, receipt_type, user_id, thread_id, event_id, event_stream_ordering, ts, stream_ordering)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(room_id, receipt_type, user_id, thread_id) DO UPDATE SET event_id = excluded.event_id,
        event_stream_ordering = excluded.event_stream_ordering, ts = excluded.ts, stream_ordering = excluded.stream_ordering
      WHERE excluded.event_stream_ordering > receipts.event_stream_ordering`),
    receiptsSince: db.prepare('SELECT * FROM receipts WHERE room_id = ? AND stream_ordering > ? ORDER BY stream_ordering'),
    insertToDeviceTxn: db.prepare('INSERT OR IGNORE INTO to_device_txns (user_id, device_id, scope, txn_id, created_ts) VALUES (?, ?, ?, ?, ?)'),
    insertToDevice: db.prepare('INSERT INTO to_device_messages (stream_ordering, user_id, device_id, sender, type, content_json) VALUES (?, ?, ?, ?, ?, ?)'),
    getToDevice: db.prepare(`SELECT * FROM to_device_messages WHERE user_id = ? AND device_id = ? AND stream_ordering > ?
      ORDER BY stream_ordering LIMIT ?`),
    receiptsAfter: db.prepare('SELECT * FROM receipts WHERE stream_ordering > ? ORDER BY stream_ordering'),
    anyToDeviceUpTo: db.prepare('SELECT 1 FROM to_device_messages WHERE user_id = ? AND device_id = ? AND stream_ordering <= ? LIMIT 1').pluck(),
    deleteToDevice: db.prepare('DELETE FROM to_device_messages WHERE user_id = ? AND device_id = ? AND stream_ordering <= ?'),
    countNotifications: db.prepare(`SELECT COUNT(*) AS n, COALESCE(SUM(highlight), 0) AS h FROM event_push_actions
      WHERE user_id = ? AND room_id = ? AND stream_ordering > ?`),
    // Per thread, after the unthreaded receipt and after the user's newest read receipt of the thread.
    countByThread: db.prepare(`SELECT a.thread_id, COUNT(*) AS n, COALESCE(SUM(a.highlight), 0) AS h FROM event_push_actions a
      WHERE a.user_id = ? AND a.room_id = ? AND a.stream_ordering > ?
        AND a.stream_ordering > COALESCE((SELECT MAX(r.event_stream_ordering) FROM receipts r
          WHERE r.room_id = a.room_id AND r.user_id = a.user_id AND r.thread_id = a.thread_id AND r.receipt_type IN ('m.read', 'm.read.private')), 0)
      GROUP BY a.thread_id`),
  };

  const putFilterTx = db.transaction((userId: string, json: string): number => {
    const id = s.nextFilterId.get(userId) as number;
    s.insertFilter.run(userId, id, json);
    return id;
  });
  const addToDeviceTx = db.transaction((messages: ToDeviceRecord[], txn: ToDeviceTxn | null): boolean => {
    if (txn && s.insertToDeviceTxn.run(txn.userId, txn.deviceId, txn.scope, txn.txnId, txn.ts).changes === 0) return false;
    for (const m of messages) s.insertToDevice.run(m.streamOrdering, m.userId, m.deviceId, m.sender, m.type, JSON.stringify(m.content));
    return true;
  });

  return {
    async putFilter(userId, json) { return putFilterTx(userId, json); },
    async getFilter(userId, id) { return s.getFilter.get(userId, id) as string | undefined; },
    async setAccountData(userId, roomId, type, content, pos) { s.setAccountData.run(userId, roomId, type, JSON.stringify(content), pos); },
    async getAccountData(userId, roomId, type) {
      const v = s.getAccountData.get(userId, roomId, type) as string | undefined;
      return v === undefined ? undefined : (JSON.parse(v) as JsonObject);
    },
    async getAccountDataSince(userId, since) {
      return (s.accountDataSince.all(userId, since) as { room_id: string; type: string; content_json: string; stream_ordering: number }[])
        .map((r): AccountDataRecord => ({ roomId: r.room_id, type: r.type, content: JSON.parse(r.content_json) as JsonObject, streamOrdering: r.stream_ordering }));
    },
    async putReceipt(r) {
      return s.putReceipt.run(r.roomId, r.receiptType, r.userId, r.threadId, r.eventId, r.eventStreamOrdering, r.ts, r.streamOrdering).changes === 1;
    },
    async getReceiptsSince(roomIds, since) {
      if (since > 0) {
        // Incremental: the few receipts after `since` in one index range, kept for the user's rooms.
        const rooms = new Set(roomIds);
        return (s.receiptsAfter.all(since) as ReceiptRow[]).filter((r) => rooms.has(r.room_id)).map(toReceipt);
      }
      const out: ReceiptRecord[] = [];
      for (const roomId of roomIds) out.push(...(s.receiptsSince.all(roomId, since) as ReceiptRow[]).map(toReceipt));
      return out;
    },
    async getReceipt(roomId, type, userId, threadId) {
      const r = s.getReceipt.get(roomId, type, userId, threadId) as ReceiptRow | undefined;
      return r ? toReceipt(r) : undefined;
    },
    async addToDevice(messages, txn) { return addToDeviceTx(messages, txn); },
    async getToDevice(userId, deviceId, after, limit) {
      return (s.getToDevice.all(userId, deviceId, after, limit) as { stream_ordering: number; user_id: string; device_id: string; sender: string; type: string; content_json: string }[])
        .map((r) => ({ streamOrdering: r.stream_ordering, userId: r.user_id, deviceId: r.device_id, sender: r.sender, type: r.type, content: JSON.parse(r.content_json) as JsonObject }));
    },
    async deleteToDevice(userId, deviceId, upTo) {
      // Most syncs acknowledge nothing: look before writing.
      if (s.anyToDeviceUpTo.get(userId, deviceId, upTo) !== undefined) s.deleteToDevice.run(userId, deviceId, upTo);
    },
    async countNotifications(userId, roomId, after) {
      const r = s.countNotifications.get(userId, roomId, after) as { n: number; h: number };
      return { notifications: r.n, highlights: r.h };
    },
    async countNotificationsByThread(userId, roomId, after) {
      const rows = s.countByThread.all(userId, roomId, after) as { thread_id: string; n: number; h: number }[];
      return new Map(rows.map((r) => [r.thread_id, { notifications: r.n, highlights: r.h }]));
    },
  };
}
