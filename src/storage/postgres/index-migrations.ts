// Data conversions of migrations 0014_relations and 0015_search for PostgreSQL databases written before
// them (by the engine as it was at 0010): the events already stored are indexed the way new ones are
// when persisted (their relation, with the threads it makes and the thread of their notifications;
// their searchable text). The same steps as sqlite/index-migrations.ts, in the migration's transaction.
// Redacted events are stored redacted, so their content declares nothing and indexes nothing.
import type pg from 'pg';
import { relationOf, searchableText, type JsonObject } from '../../wire.js';
import { SHOWN } from './event-rows.js';
import { storableText, vectorLiteral } from './search.js';

const PAGE = 10_000;
/** Relation hops followed to find an event's thread (modules/push.md recommends 3). */
const THREAD_HOPS = 3;

interface Row {
  stream_ordering: number | string;
  event_id: string;
  room_id: string;
  type: string;
  sender: string;
  origin_server_ts: string;
  depth: string;
  json: string;
}

/** Pages through the shown graph events in stream order. */
async function eachEvent(c: pg.ClientBase, fn: (r: Row, content: JsonObject) => Promise<void>): Promise<void> {
  let after = Number.MIN_SAFE_INTEGER;
  for (;;) {
    // (A migration's client reads BIGINT as text, pg's default; positions are numbers here.)
    const rows = (await c.query<Row>(`SELECT stream_ordering, event_id, room_id, type, sender, origin_server_ts, depth, json FROM events
      WHERE stream_ordering > $1 AND ${SHOWN} ORDER BY stream_ordering LIMIT ${PAGE}`, [after])).rows;
    if (rows.length === 0) break;
    for (const r of rows) {
      r.stream_ordering = Number(r.stream_ordering);
      const content = (JSON.parse(r.json) as { content?: JsonObject }).content ?? {};
      await fn(r, content);
    }
    after = Number(rows[rows.length - 1]!.stream_ordering);
  }
}

/** 0014_relations: event_relations, threads, and event_push_actions.thread_id. */
export async function indexRelations(c: pg.ClientBase): Promise<void> {
  const related: { eventId: string; relType: string; parent: string }[] = [];
  await eachEvent(c, async (r, content) => {
    const rel = relationOf(content);
    if (!rel) return;
    await c.query(`INSERT INTO event_relations (event_id, relates_to_id, rel_type, aggregation_key, room_id, type, sender,
      origin_server_ts, depth, stream_ordering) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
    [r.event_id, rel.eventId, rel.relType, rel.key, r.room_id, r.type, r.sender, r.origin_server_ts, r.depth, r.stream_ordering]);
    if (rel.relType === 'm.thread') {
      await c.query(`INSERT INTO threads (room_id, thread_id, latest_event_id, latest_depth, latest_stream_ordering) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (room_id, thread_id) DO UPDATE SET latest_event_id = excluded.latest_event_id, latest_depth = excluded.latest_depth,
          latest_stream_ordering = excluded.latest_stream_ordering
        WHERE (excluded.latest_depth, excluded.latest_stream_ordering) > (threads.latest_depth, threads.latest_stream_ordering)`,
      [r.room_id, rel.eventId, r.event_id, r.depth, r.stream_ordering]);
    }
    related.push({ eventId: r.event_id, relType: rel.relType, parent: rel.eventId });
  });
  // The thread of each related event's notifications, as EventWriter works it out for new events.
  for (const r of related) {
    let relType = r.relType;
    let parent = r.parent;
    for (let hop = 1; relType !== 'm.thread' && hop < THREAD_HOPS; hop++) {
      const up = (await c.query<{ relates_to_id: string; rel_type: string }>('SELECT relates_to_id, rel_type FROM event_relations WHERE event_id = $1', [parent])).rows[0];
      if (!up) break;
      relType = up.rel_type;
      parent = up.relates_to_id;
    }
    if (relType === 'm.thread') await c.query('UPDATE event_push_actions SET thread_id = $1 WHERE event_id = $2', [parent, r.eventId]);
  }
}

/** 0015_search: event_search. */
export async function indexSearch(c: pg.ClientBase): Promise<void> {
  await eachEvent(c, async (r, content) => {
    const text = searchableText({ type: r.type, content });
    if (text) {
      await c.query('INSERT INTO event_search (stream_ordering, value, room_id, key, vector) VALUES ($1, $2, $3, $4, $5::tsvector)',
        [r.stream_ordering, storableText(text.value), r.room_id, text.key, vectorLiteral(text.value)]);
    }
  });
}
