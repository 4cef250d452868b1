// SQLite statements for relations between events and threads (migrations/0014_relations.sql): the
// index kept with each persisted event, and the reads of /relations, /threads and bundled aggregations.
import type Database from 'better-sqlite3';
import type { StoredEvent } from '../../wire.js';
import type { EventRecord, PersistEventInput, RelationRecord, RelationsQuery, ThreadRecord, TopologicalPosition } from '../types.js';
import { EVENT_COLUMNS, SHOWN, toEvent, type EventRow } from './event-rows.js';

interface RelationRow {
  event_id: string; relates_to_id: string; rel_type: string; aggregation_key: string | null; room_id: string; type: string;
  sender: string; origin_server_ts: number; depth: number; stream_ordering: number;
}
const toRelation = (r: RelationRow): RelationRecord => ({
  eventId: r.event_id, relatesTo: r.relates_to_id, relType: r.rel_type, key: r.aggregation_key, roomId: r.room_id, type: r.type,
  sender: r.sender, originServerTs: r.origin_server_ts, depth: r.depth, streamOrdering: r.stream_ordering,
});

const THREAD = 'm.thread';
/** Event columns prefixed with the events table's alias `e`. */
const E_COLUMNS = EVENT_COLUMNS.split(',').map((c) => `e.${c.trim()}`).join(', ');
const E_SHOWN = SHOWN.split(' AND ').map((c) => `e.${c}`).join(' AND ');

export interface RelationStatements {
  /** Indexes a persisted event's relation (inside the persist transaction). */
  index(p: PersistEventInput): void;
  /** Drops what was indexed from a redacted event's content (inside the persist transaction). */
  unindex(eventId: string): void;
  getRelation(eventId: string): RelationRecord | undefined;
  getRelatingEvents(q: RelationsQuery): EventRecord[];
  countRelations(parentIds: string[], notSenders: string[]): Map<string, Map<string, number>>;
  getRelationsOf(parentIds: string[], relType: string, limitPerParent: number): RelationRecord[];
  parentsRelatedBy(parentIds: string[], relType: string, sender: string): Set<string>;
  findAnnotation(parentId: string, sender: string, type: string, key: string): string | undefined;
  getThreads(roomId: string, before: TopologicalPosition | undefined, limit: number): ThreadRecord[];
}

export function createRelationStatements(db: Database.Database): RelationStatements {
  const s = {
    insert: db.prepare(`INSERT OR IGNORE INTO event_relations (event_id, relates_to_id, rel_type, aggregation_key, room_id, type, sender,
      origin_server_ts, depth, stream_ordering) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    // A thread's latest event moves only forwards in topological order (a backfilled reply is older).
    upsertThread: db.prepare(`INSERT INTO threads (room_id, thread_id, latest_event_id, latest_depth, latest_stream_ordering) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT(room_id, thread_id) DO UPDATE SET latest_event_id = excluded.latest_event_id, latest_depth = excluded.latest_depth,
        latest_stream_ordering = excluded.latest_stream_ordering
      WHERE (excluded.latest_depth, excluded.latest_stream_ordering) > (threads.latest_depth, threads.latest_stream_ordering)`),
    get: db.prepare('SELECT * FROM event_relations WHERE event_id = ?'),
    delete: db.prepare('DELETE FROM event_relations WHERE event_id = ?'),
    newestReply: db.prepare(`SELECT event_id, depth, stream_ordering FROM event_relations WHERE relates_to_id = ? AND rel_type = '${THREAD}'
      ORDER BY depth DESC, stream_ordering DESC LIMIT 1`),
    setThread: db.prepare('UPDATE threads SET latest_event_id = ?, latest_depth = ?, latest_stream_ordering = ? WHERE room_id = ? AND thread_id = ?'),
    deleteThread: db.prepare('DELETE FROM threads WHERE room_id = ? AND thread_id = ?'),
    annotation: db.prepare(`SELECT r.event_id FROM event_relations r JOIN events e ON e.event_id = r.event_id
      WHERE r.relates_to_id = ? AND r.rel_type = 'm.annotation' AND r.sender = ? AND r.type = ? AND r.aggregation_key = ? AND e.redacted_by IS NULL LIMIT 1`).pluck(),
    threadsFirst: db.prepare(`SELECT thread_id, latest_event_id, latest_depth, latest_stream_ordering FROM threads WHERE room_id = ?
      ORDER BY latest_depth DESC, latest_stream_ordering DESC LIMIT ?`),
    threadsBefore: db.prepare(`SELECT thread_id, latest_event_id, latest_depth, latest_stream_ordering FROM threads WHERE room_id = ?
      AND (latest_depth, latest_stream_ordering) < (?, ?) ORDER BY latest_depth DESC, latest_stream_ordering DESC LIMIT ?`),
  };

  const shapes = new Map<string, Database.Statement>();
  const prepared = (sql: string): Database.Statement => {
    let st = shapes.get(sql);
    if (!st) {
      st = db.prepare(sql);
      if (shapes.size < 128) shapes.set(sql, st);
    }
    return st;
  };
  const marks = (n: number) => Array(n).fill('?').join(',');
  /** Runs `fn` over `ids` in chunks that stay below SQLite's parameter limit. */
  const chunked = <T>(ids: string[], fn: (chunk: string[]) => T[]): T[] => {
    const out: T[] = [];
    for (let i = 0; i < ids.length; i += 200) out.push(...fn(ids.slice(i, i + 200)));
    return out;
  };

  return {
    index(p) {
      const r = p.relation;
      if (!r) return;
      const e: StoredEvent = p.event;
      s.insert.run(e.event_id, r.eventId, r.relType, r.key, e.room_id, e.type, e.sender, e.origin_server_ts, e.depth, p.streamOrdering);
      if (r.relType === THREAD) s.upsertThread.run(e.room_id, r.eventId, e.event_id, e.depth, p.streamOrdering);
    },
    unindex(eventId) {
      const r = s.get.get(eventId) as RelationRow | undefined;
      if (!r) return;
      s.delete.run(eventId);
      if (r.rel_type !== THREAD) return;
      // The thread's latest event may have gone: the newest remaining reply, or no thread at all.
      const newest = s.newestReply.get(r.relates_to_id) as { event_id: string; depth: number; stream_ordering: number } | undefined;
      if (newest) s.setThread.run(newest.event_id, newest.depth, newest.stream_ordering, r.room_id, r.relates_to_id);
      else s.deleteThread.run(r.room_id, r.relates_to_id);
    },
    getRelation(eventId) {
      const r = s.get.get(eventId) as RelationRow | undefined;
      return r ? toRelation(r) : undefined;
    },
    getRelatingEvents(q) {
      const args: unknown[] = [];
      const match = (alias: string) => {
        const parts: string[] = [];
        if (q.relType !== undefined) { parts.push(`${alias}.rel_type = ?`); args.push(q.relType); }
        if (q.eventType !== undefined) { parts.push(`${alias}.type = ?`); args.push(q.eventType); }
        return parts.length > 0 ? ` AND ${parts.join(' AND ')}` : '';
      };
      const cmp = q.dir === 'b' ? ['<', '>='] : ['>=', '<'];
      const order = q.dir === 'b' ? 'DESC' : 'ASC';
      const range = (alias: string) => {
        let out = ` AND (${alias}.depth, ${alias}.stream_ordering) ${cmp[0]} (?, ?)`;
        args.push(q.from.depth, q.from.streamOrdering);
        if (q.to) {
          out += ` AND (${alias}.depth, ${alias}.stream_ordering) ${cmp[1]} (?, ?)`;
          args.push(q.to.depth, q.to.streamOrdering);
        }
        return out;
      };
      let sql: string;
      if (q.depth <= 1) {
        // Direct children: one index range of event_relations in topological order, joined to their events.
        args.push(q.parentId, q.roomId);
        const m = match('r');
        const rg = range('r');
        sql = `SELECT ${E_COLUMNS} FROM event_relations r JOIN events e ON e.event_id = r.event_id
          WHERE r.relates_to_id = ? AND r.room_id = ?${m}${rg} AND ${E_SHOWN}
          ORDER BY r.depth ${order}, r.stream_ordering ${order} LIMIT ?`;
      } else {
        // Children of children, through matching children only, up to q.depth hops (cycles end there).
        args.push(q.parentId, q.roomId);
        const first = match('r');
        args.push(q.depth, q.roomId);
        const next = match('r');
        const rg = range('e');
        sql = `WITH RECURSIVE tree(event_id, level) AS (
            SELECT r.event_id, 1 FROM event_relations r WHERE r.relates_to_id = ? AND r.room_id = ?${first}
            UNION
            SELECT r.event_id, t.level + 1 FROM event_relations r JOIN tree t ON r.relates_to_id = t.event_id
              WHERE t.level < ? AND r.room_id = ?${next})
          SELECT ${E_COLUMNS} FROM events e WHERE e.event_id IN (SELECT event_id FROM tree)${rg} AND ${E_SHOWN}
          ORDER BY e.depth ${order}, e.stream_ordering ${order} LIMIT ?`;
      }
      args.push(q.limit);
      return (prepared(sql).all(...args) as EventRow[]).map(toEvent);
    },
    countRelations(parentIds, notSenders) {
      const out = new Map<string, Map<string, number>>();
      const rows = chunked([...new Set(parentIds)], (chunk) => {
        const not = notSenders.length > 0 ? ` AND sender NOT IN (${marks(notSenders.length)})` : '';
        return prepared(`SELECT relates_to_id, rel_type, COUNT(*) AS n FROM event_relations WHERE relates_to_id IN (${marks(chunk.length)})${not}
          GROUP BY relates_to_id, rel_type`).all(...chunk, ...notSenders) as { relates_to_id: string; rel_type: string; n: number }[];
      });
      for (const r of rows) {
        const byType = out.get(r.relates_to_id) ?? new Map<string, number>();
        byType.set(r.rel_type, r.n);
        out.set(r.relates_to_id, byType);
      }
      return out;
    },
    getRelationsOf(parentIds, relType, limitPerParent) {
      const st = prepared(`SELECT * FROM event_relations WHERE relates_to_id = ? AND rel_type = ? ORDER BY depth DESC, stream_ordering DESC LIMIT ?`);
      const out: RelationRecord[] = [];
      for (const id of new Set(parentIds)) out.push(...(st.all(id, relType, limitPerParent) as RelationRow[]).map(toRelation));
      return out;
    },
    parentsRelatedBy(parentIds, relType, sender) {
      const rows = chunked(parentIds, (chunk) => prepared(`SELECT DISTINCT relates_to_id FROM event_relations
        WHERE relates_to_id IN (${marks(chunk.length)}) AND rel_type = ? AND sender = ?`).pluck().all(...chunk, relType, sender) as string[]);
      return new Set(rows);
    },
    findAnnotation(parentId, sender, type, key) {
      return s.annotation.get(parentId, sender, type, key) as string | undefined;
    },
    getThreads(roomId, before, limit) {
      const rows = (before
        ? s.threadsBefore.all(roomId, before.depth, before.streamOrdering, limit)
        : s.threadsFirst.all(roomId, limit)) as { thread_id: string; latest_event_id: string; latest_depth: number; latest_stream_ordering: number }[];
      return rows.map((r) => ({ threadId: r.thread_id, latestEventId: r.latest_event_id, latest: { depth: r.latest_depth, streamOrdering: r.latest_stream_ordering } }));
    },
  };
}
