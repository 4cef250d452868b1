// SQLite statements for full-text search (migrations/0015_search.sql): the FTS5 index kept with each
// persisted event, and the search itself. The parsed query (core/search/query.ts) becomes an FTS5
// query here: every word and phrase quoted, so nothing a user types is read as FTS5 syntax.
import type Database from 'better-sqlite3';
import type { PersistEventInput, SearchEventsQuery, SearchHit, SearchQuery, SearchTerm } from '../types.js';
import { SHOWN } from './event-rows.js';

const E_SHOWN = SHOWN.split(' AND ').map((c) => `e.${c}`).join(' AND ');
/** search.yaml `count` is "an approximate count": counting stops here. */
const COUNT_CAP = 10_000;

const quote = (w: string) => `"${w.replace(/"/g, '""')}"`;

function termSql(t: SearchTerm): string {
  return `${quote(t.words.join(' '))}${t.prefix ? '*' : ''}`;
}

const alternatives = (clause: SearchTerm[]) => `(${clause.map(termSql).join(' OR ')})`;

/** The FTS5 MATCH expression of a parsed query, or undefined when it can match nothing (no positive clause). */
export function ftsQuery(q: SearchQuery): string | undefined {
  const clauses = q.clauses.filter((c) => c.length > 0 && c.every((t) => t.words.length > 0));
  if (clauses.length === 0) return undefined;
  let sql = clauses.map(alternatives).join(' AND ');
  const not = q.not.filter((c) => c.length > 0 && c.every((t) => t.words.length > 0));
  if (not.length > 0) sql = `(${sql}) NOT (${not.map(alternatives).join(' OR ')})`;
  return sql;
}

export interface SearchStatements {
  index(p: PersistEventInput): void;
  unindex(streamOrdering: number): void;
  search(q: SearchEventsQuery): SearchHit[];
  count(q: Omit<SearchEventsQuery, 'order' | 'before' | 'offset' | 'limit'>): number;
}

export function createSearchStatements(db: Database.Database): SearchStatements {
  const s = {
    insert: db.prepare('INSERT INTO event_search (rowid, value, room_id, key) VALUES (?, ?, ?, ?)'),
    delete: db.prepare('DELETE FROM event_search WHERE rowid = ?'),
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

  /** The WHERE clause shared by the search and the count. */
  const where = (q: Omit<SearchEventsQuery, 'order' | 'before' | 'offset' | 'limit'>, match: string, args: unknown[]): string => {
    const parts = ['event_search MATCH ?', `s.room_id IN (${marks(q.roomIds.length)})`, `s.key IN (${marks(q.keys.length)})`, E_SHOWN, 'e.redacted_by IS NULL'];
    args.push(match, ...q.roomIds, ...q.keys);
    const list = (col: string, values: string[] | undefined, not: boolean, wildcards: boolean) => {
      if (!values || values.length === 0) return;
      const alts = values.map((v) => {
        if (wildcards && v.includes('*')) {
          args.push(v.replace(/[?[]/g, (c) => `[${c}]`));
          return `${col} GLOB ?`;
        }
        args.push(v);
        return `${col} = ?`;
      });
      parts.push(`${not ? 'NOT ' : ''}(${alts.join(' OR ')})`);
    };
    list('e.type', q.types, false, true);
    list('e.type', q.notTypes, true, true);
    list('e.sender', q.senders, false, false);
    list('e.sender', q.notSenders, true, false);
    return parts.join(' AND ');
  };

  return {
    index(p) {
      if (p.search) s.insert.run(p.streamOrdering, p.search.value, p.event.room_id, p.search.key);
    },
    unindex(streamOrdering) {
      s.delete.run(streamOrdering);
    },
    search(q) {
      const match = ftsQuery(q.query);
      if (match === undefined || q.roomIds.length === 0 || q.keys.length === 0 || q.limit <= 0) return [];
      const args: unknown[] = [];
      let sql = `SELECT e.event_id, s.room_id, s.rowid AS pos, -bm25(event_search) AS rank FROM event_search s
        JOIN events e ON e.stream_ordering = s.rowid WHERE ${where(q, match, args)}`;
      if (q.order === 'recent') {
        if (q.before !== undefined) {
          sql += ' AND s.rowid < ?';
          args.push(q.before);
        }
        sql += ' ORDER BY s.rowid DESC LIMIT ?';
        args.push(q.limit);
      } else {
        sql += ' ORDER BY rank DESC, s.rowid DESC LIMIT ? OFFSET ?';
        args.push(q.limit, q.offset ?? 0);
      }
      return (prepared(sql).all(...args) as { event_id: string; room_id: string; pos: number; rank: number }[])
        .map((r) => ({ eventId: r.event_id, roomId: r.room_id, streamOrdering: r.pos, rank: r.rank }));
    },
    count(q) {
      const match = ftsQuery(q.query);
      if (match === undefined || q.roomIds.length === 0 || q.keys.length === 0) return 0;
      const args: unknown[] = [];
      const sql = `SELECT COUNT(*) FROM (SELECT 1 FROM event_search s JOIN events e ON e.stream_ordering = s.rowid
        WHERE ${where(q, match, args)} LIMIT ${COUNT_CAP})`;
      return prepared(sql).pluck().get(...args) as number;
    },
  };
}
