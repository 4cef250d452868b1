// Data conversions of migrations 0014_relations and 0015_search for databases written before them:
// the events already stored are indexed the way new ones are when persisted (their relation, with
// the threads it makes and the thread of their notifications; their searchable text). Redacted events
// are stored redacted, so their content declares nothing and indexes nothing.
import type Database from 'better-sqlite3';
import { relationOf, searchableText, type JsonObject } from '../../wire.js';
import { SHOWN } from './event-rows.js';

const PAGE = 10_000;
/** Relation hops followed to find an event's thread (modules/push.md recommends 3). */
const THREAD_HOPS = 3;

interface Row {
  stream_ordering: number;
  event_id: string;
  room_id: string;
  type: string;
  sender: string;
  origin_server_ts: number;
  depth: number;
  json: string;
}

/** Pages through the shown graph events in stream order. */
function eachEvent(db: Database.Database, fn: (r: Row, content: JsonObject) => void): void {
  const page = db.prepare(`SELECT stream_ordering, event_id, room_id, type, sender, origin_server_ts, depth, json FROM events
    WHERE stream_ordering > ? AND ${SHOWN} ORDER BY stream_ordering LIMIT ${PAGE}`);
  let after = Number.MIN_SAFE_INTEGER;
  for (;;) {
    const rows = page.all(after) as Row[];
    if (rows.length === 0) break;
    for (const r of rows) {
      const content = (JSON.parse(r.json) as { content?: JsonObject }).content ?? {};
      fn(r, content);
    }
    after = rows[rows.length - 1]!.stream_ordering;
  }
}

/** 0014_relations: event_relations, threads, and event_push_actions.thread_id. */
export function indexRelations(db: Database.Database): void {
  const insert = db.prepare(`INSERT OR IGNORE INTO event_relations (event_id, relates_to_id, rel_type, aggregation_key, room_id, type, sender,
    origin_server_ts, depth, stream_ordering) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const upsertThread = db.prepare(`INSERT INTO threads (room_id, thread_id, latest_event_id, latest_depth, latest_stream_ordering) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT(room_id, thread_id) DO UPDATE SET latest_event_id = excluded.latest_event_id, latest_depth = excluded.latest_depth,
      latest_stream_ordering = excluded.latest_stream_ordering
    WHERE (excluded.latest_depth, excluded.latest_stream_ordering) > (threads.latest_depth, threads.latest_stream_ordering)`);
  const related: { eventId: string; relType: string; parent: string }[] = [];
  eachEvent(db, (r, content) => {
    const rel = relationOf(content);
    if (!rel) return;
    insert.run(r.event_id, rel.eventId, rel.relType, rel.key, r.room_id, r.type, r.sender, r.origin_server_ts, r.depth, r.stream_ordering);
    if (rel.relType === 'm.thread') upsertThread.run(r.room_id, rel.eventId, r.event_id, r.depth, r.stream_ordering);
    related.push({ eventId: r.event_id, relType: rel.relType, parent: rel.eventId });
  });
  // The thread of each related event's notifications, as EventWriter works it out for new events.
  const getRelation = db.prepare('SELECT relates_to_id, rel_type FROM event_relations WHERE event_id = ?');
  const setThread = db.prepare("UPDATE event_push_actions SET thread_id = ? WHERE event_id = ?");
  for (const r of related) {
    let relType = r.relType;
    let parent = r.parent;
    for (let hop = 1; relType !== 'm.thread' && hop < THREAD_HOPS; hop++) {
      const up = getRelation.get(parent) as { relates_to_id: string; rel_type: string } | undefined;
      if (!up) break;
      relType = up.rel_type;
      parent = up.relates_to_id;
    }
    if (relType === 'm.thread') setThread.run(parent, r.eventId);
  }
}

/** 0015_search: event_search. */
export function indexSearch(db: Database.Database): void {
  const insert = db.prepare('INSERT INTO event_search (rowid, value, room_id, key) VALUES (?, ?, ?, ?)');
  eachEvent(db, (r, content) => {
    const text = searchableText({ type: r.type, content });
    if (text) insert.run(r.stream_ordering, text.value, r.room_id, text.key);
  });
}
