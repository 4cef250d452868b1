// Relations between events and threads on PostgreSQL (migrations/postgres/0014_relations.sql): the index
// kept with each persisted event, and the reads of /relations, /threads and bundled aggregations. The
// same behaviour as sqlite/relations.ts; the writes are queued on the persist transaction's Batch, so
// what SQLite decides between statements (did the redaction apply? was that the thread's latest
// event?) is decided by the statements themselves.
import type { StoredEvent } from '../../wire.js';
import type { EventRecord, PersistEventInput, RelationRecord, RelationsQuery, ThreadRecord, TopologicalPosition } from '../types.js';
import { row, rows, sql, type Batch, type Queryable, type Statement } from './db.js';
import { E_COLUMNS, E_SHOWN, toEvent, type EventRow } from './event-rows.js';

interface RelationRow {
  event_id: string; relates_to_id: string; rel_type: string; aggregation_key: string | null; room_id: string; type: string;
  sender: string; origin_server_ts: number; depth: number; stream_ordering: number;
}
const toRelation = (r: RelationRow): RelationRecord => ({
  eventId: r.event_id, relatesTo: r.relates_to_id, relType: r.rel_type, key: r.aggregation_key, roomId: r.room_id, type: r.type,
  sender: r.sender, originServerTs: r.origin_server_ts, depth: r.depth, streamOrdering: r.stream_ordering,
});
interface ThreadRow { thread_id: string; latest_event_id: string; latest_depth: number; latest_stream_ordering: number }

const THREAD = 'm.thread';
const RELATION_COLUMNS = 'event_id, relates_to_id, rel_type, aggregation_key, room_id, type, sender, origin_server_ts, depth, stream_ordering';
/** A redaction applied to the target: it is the target's redacted_by ($1 target, $2 redaction). */
const APPLIED = 'EXISTS (SELECT 1 FROM events x WHERE x.event_id = $1 AND x.redacted_by = $2)';
/** The newest remaining m.thread child of a thread root `t.thread_id`. */
const NEWEST_REPLY = `SELECT r.event_id, r.depth, r.stream_ordering FROM event_relations r WHERE r.relates_to_id = t.thread_id AND r.rel_type = '${THREAD}'
  ORDER BY r.depth DESC, r.stream_ordering DESC LIMIT 1`;

const Q = {
  insert: sql(`INSERT INTO event_relations (${RELATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`),
  // A thread's latest event moves only forwards in topological order (a backfilled reply is older).
  upsertThread: sql(`INSERT INTO threads (room_id, thread_id, latest_event_id, latest_depth, latest_stream_ordering) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (room_id, thread_id) DO UPDATE SET latest_event_id = excluded.latest_event_id, latest_depth = excluded.latest_depth,
      latest_stream_ordering = excluded.latest_stream_ordering
    WHERE (excluded.latest_depth, excluded.latest_stream_ordering) > (threads.latest_depth, threads.latest_stream_ordering)`),
  // Unindexing a redacted child: its relation goes; a thread whose latest event it was takes the
  // newest remaining reply, or goes when none remains. (A thread always holds its newest reply, so only
  // a thread whose latest event was the child can change.)
  unindex: sql(`DELETE FROM event_relations WHERE event_id = $1 AND ${APPLIED}`),
  threadToNewest: sql(`UPDATE threads t SET (latest_event_id, latest_depth, latest_stream_ordering) = (${NEWEST_REPLY})
    WHERE t.latest_event_id = $1 AND ${APPLIED} AND EXISTS (${NEWEST_REPLY})`),
  dropThread: sql(`DELETE FROM threads t WHERE t.latest_event_id = $1 AND ${APPLIED} AND NOT EXISTS (${NEWEST_REPLY})`),
  get: sql(`SELECT ${RELATION_COLUMNS} FROM event_relations WHERE event_id = $1`),
  annotation: sql(`SELECT r.event_id FROM event_relations r JOIN events e ON e.event_id = r.event_id
    WHERE r.relates_to_id = $1 AND r.rel_type = 'm.annotation' AND r.sender = $2 AND r.type = $3 AND r.aggregation_key = $4 AND e.redacted_by IS NULL LIMIT 1`),
  count: sql(`SELECT relates_to_id, rel_type, COUNT(*)::bigint AS n FROM event_relations
    WHERE relates_to_id = ANY($1::text[]) AND sender <> ALL($2::text[]) GROUP BY relates_to_id, rel_type`),
  // The newest children of each parent, parents in the order asked.
  relationsOf: sql(`SELECT r.event_id, r.relates_to_id, r.rel_type, r.aggregation_key, r.room_id, r.type, r.sender, r.origin_server_ts, r.depth, r.stream_ordering
    FROM unnest($1::text[]) WITH ORDINALITY AS p(id, n)
    CROSS JOIN LATERAL (SELECT ${RELATION_COLUMNS} FROM event_relations WHERE relates_to_id = p.id AND rel_type = $2
      ORDER BY depth DESC, stream_ordering DESC LIMIT $3) r
    ORDER BY p.n, r.depth DESC, r.stream_ordering DESC`),
  relatedBy: sql('SELECT DISTINCT relates_to_id FROM event_relations WHERE relates_to_id = ANY($1::text[]) AND rel_type = $2 AND sender = $3'),
  threadsFirst: sql(`SELECT thread_id, latest_event_id, latest_depth, latest_stream_ordering FROM threads WHERE room_id = $1
    ORDER BY latest_depth DESC, latest_stream_ordering DESC LIMIT $2`),
  threadsBefore: sql(`SELECT thread_id, latest_event_id, latest_depth, latest_stream_ordering FROM threads WHERE room_id = $1
    AND (latest_depth, latest_stream_ordering) < ($2::bigint, $3::bigint) ORDER BY latest_depth DESC, latest_stream_ordering DESC LIMIT $4`),
};

/** Statements whose shape depends on a query, one per shape. */
const shapes = new Map<string, Statement>();
function shaped(text: string): Statement {
  let st = shapes.get(text);
  if (!st) {
    st = sql(text);
    if (shapes.size < 128) shapes.set(text, st);
  }
  return st;
}

/** Queues the indexing of a persisted event's relation (inside the persist transaction). */
export function indexRelation(b: Batch, p: PersistEventInput): void {
  const r = p.relation;
  if (!r) return;
  const e: StoredEvent = p.event;
  b.add(Q.insert, [e.event_id, r.eventId, r.relType, r.key, e.room_id, e.type, e.sender, e.origin_server_ts, e.depth, p.streamOrdering]);
  if (r.relType === THREAD) b.add(Q.upsertThread, [e.room_id, r.eventId, e.event_id, e.depth, p.streamOrdering]);
}

/** Queues dropping what was indexed from a redacted event's content, when the redaction `redactionId` applied to it. */
export function unindexRelation(b: Batch, targetEventId: string, redactionId: string): void {
  b.add(Q.unindex, [targetEventId, redactionId]);
  b.add(Q.threadToNewest, [targetEventId, redactionId]);
  b.add(Q.dropThread, [targetEventId, redactionId]);
}

export function createPostgresRelations(db: Queryable) {
  return {
    async getRelation(eventId: string): Promise<RelationRecord | undefined> {
      const r = await row<RelationRow>(db, Q.get, [eventId]);
      return r ? toRelation(r) : undefined;
    },
    async getRelatingEvents(q: RelationsQuery): Promise<EventRecord[]> {
      const args: unknown[] = [];
      const arg = (v: unknown) => { args.push(v); return `$${args.length}`; };
      const match = (alias: string) => {
        const parts: string[] = [];
        if (q.relType !== undefined) parts.push(`${alias}.rel_type = ${arg(q.relType)}`);
        if (q.eventType !== undefined) parts.push(`${alias}.type = ${arg(q.eventType)}`);
        return parts.length > 0 ? ` AND ${parts.join(' AND ')}` : '';
      };
      const cmp = q.dir === 'b' ? ['<', '>='] : ['>=', '<'];
      const order = q.dir === 'b' ? 'DESC' : 'ASC';
      const pair = (p: TopologicalPosition) => `(${arg(p.depth)}::bigint, ${arg(p.streamOrdering)}::bigint)`;
      const range = (alias: string) => {
        let out = ` AND (${alias}.depth, ${alias}.stream_ordering) ${cmp[0]} ${pair(q.from)}`;
        if (q.to) out += ` AND (${alias}.depth, ${alias}.stream_ordering) ${cmp[1]} ${pair(q.to)}`;
        return out;
      };
      let text: string;
      if (q.depth <= 1) {
        // Direct children: one index range of event_relations in topological order, joined to their events.
        const parent = arg(q.parentId);
        const room = arg(q.roomId);
        const m = match('r');
        const rg = range('r');
        text = `SELECT ${E_COLUMNS} FROM event_relations r JOIN events e ON e.event_id = r.event_id
          WHERE r.relates_to_id = ${parent} AND r.room_id = ${room}${m}${rg} AND ${E_SHOWN}
          ORDER BY r.depth ${order}, r.stream_ordering ${order} LIMIT ${arg(q.limit)}`;
      } else {
        // Children of children, through matching children only, up to q.depth hops (cycles end there).
        const parent = arg(q.parentId);
        const room = arg(q.roomId);
        const first = match('r');
        const hops = arg(q.depth);
        const next = match('r');
        const rg = range('e');
        text = `WITH RECURSIVE tree(event_id, level) AS (
            SELECT r.event_id, 1 FROM event_relations r WHERE r.relates_to_id = ${parent} AND r.room_id = ${room}${first}
            UNION
            SELECT r.event_id, t.level + 1 FROM event_relations r JOIN tree t ON r.relates_to_id = t.event_id
              WHERE t.level < ${hops}::int AND r.room_id = ${room}${next})
          SELECT ${E_COLUMNS} FROM events e WHERE e.event_id IN (SELECT event_id FROM tree)${rg} AND ${E_SHOWN}
          ORDER BY e.depth ${order}, e.stream_ordering ${order} LIMIT ${arg(q.limit)}`;
      }
      return (await rows<EventRow>(db, shaped(text), args)).map(toEvent);
    },
    async countRelations(parentIds: string[], notSenders: string[]): Promise<Map<string, Map<string, number>>> {
      const out = new Map<string, Map<string, number>>();
      const ids = [...new Set(parentIds)];
      if (ids.length === 0) return out;
      for (const r of await rows<{ relates_to_id: string; rel_type: string; n: number }>(db, Q.count, [ids, notSenders])) {
        const byType = out.get(r.relates_to_id) ?? new Map<string, number>();
        byType.set(r.rel_type, r.n);
        out.set(r.relates_to_id, byType);
      }
      return out;
    },
    async getRelationsOf(parentIds: string[], relType: string, limitPerParent: number): Promise<RelationRecord[]> {
      const ids = [...new Set(parentIds)];
      if (ids.length === 0) return [];
      return (await rows<RelationRow>(db, Q.relationsOf, [ids, relType, limitPerParent])).map(toRelation);
    },
    async parentsRelatedBy(parentIds: string[], relType: string, sender: string): Promise<Set<string>> {
      if (parentIds.length === 0) return new Set();
      return new Set((await rows<{ relates_to_id: string }>(db, Q.relatedBy, [[...new Set(parentIds)], relType, sender])).map((r) => r.relates_to_id));
    },
    async findAnnotation(parentId: string, sender: string, type: string, key: string): Promise<string | undefined> {
      return (await row<{ event_id: string }>(db, Q.annotation, [parentId, sender, type, key]))?.event_id;
    },
    async getThreads(roomId: string, before: TopologicalPosition | undefined, limit: number): Promise<ThreadRecord[]> {
      const rs = before
        ? await rows<ThreadRow>(db, Q.threadsBefore, [roomId, before.depth, before.streamOrdering, limit])
        : await rows<ThreadRow>(db, Q.threadsFirst, [roomId, limit]);
      return rs.map((r) => ({ threadId: r.thread_id, latestEventId: r.latest_event_id, latest: { depth: r.latest_depth, streamOrdering: r.latest_stream_ordering } }));
    },
  };
}
