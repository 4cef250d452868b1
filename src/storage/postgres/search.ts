// Full-text search on PostgreSQL (migrations/postgres/0015_search.sql; spec/search.md, spec/postgres.md
// "Search"): PostgreSQL's own machinery (a tsvector per event under a GIN index, a tsquery matched
// with @@, ts_rank for `order_by: rank`), with the words split and folded here, in TypeScript, the
// way SQLite's FTS5 tokenizer does it (unicode61 remove_diacritics 2: letters, numbers and marks make
// words; case and diacritics folded). Both the indexed text and the query go through the same
// function, and the vector and the query are given to PostgreSQL as literals of lexemes, so no
// text-search configuration, parser or dictionary of the database (nor its locale) changes what
// matches: both engines find the same events. Only the rank's numbers differ (bm25 there, ts_rank here).
import type { PersistEventInput, SearchEventsQuery, SearchHit, SearchQuery, SearchTerm } from '../types.js';
import { row, rows, sql, type Batch, type Queryable, type Statement } from './db.js';
import { E_SHOWN, filterClauses } from './event-rows.js';

/** search.yaml `count` is "an approximate count": counting stops here. */
const COUNT_CAP = 10_000;
/** tsvector limits: a lexeme is shorter than 2 KiB (bytes), positions go up to 16383. */
const MAX_LEXEME_BYTES = 2046;
const MAX_POSITION = 16_383;

/**
 * The words of a text as the index holds them: runs of letters, numbers and marks (everything else
 * separates), lower-cased, with diacritics taken off (canonical decomposition, non-spacing marks
 * dropped). Idempotent, so words of a parsed query (already split) give themselves back.
 */
export function searchWords(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/[^\p{L}\p{N}\p{M}]+/u)) {
    if (raw === '') continue;
    const w = raw.toLowerCase().normalize('NFD').replace(/\p{Mn}+/gu, '').normalize('NFC');
    if (w !== '' && Buffer.byteLength(w) <= MAX_LEXEME_BYTES) out.push(w);
  }
  return out;
}

/** A lexeme as a tsvector / tsquery literal (quoted; quote and backslash escaped). */
const lexeme = (w: string) => `'${w.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

/** The tsvector literal of a text: each word with its positions (phrases match adjacent positions). */
export function vectorLiteral(text: string): string {
  const positions = new Map<string, number[]>();
  searchWords(text).forEach((w, i) => {
    let p = positions.get(w);
    if (!p) positions.set(w, (p = []));
    p.push(Math.min(i + 1, MAX_POSITION));
  });
  return [...positions].map(([w, p]) => `${lexeme(w)}:${[...new Set(p)].join(',')}`).join(' ');
}

/** A term: a word (prefix match unless quoted) or a phrase (adjacent words; the last a prefix when unquoted). */
function termQuery(t: SearchTerm): string | undefined {
  const words = t.words.flatMap(searchWords);
  if (words.length === 0) return undefined;
  const parts = words.map((w, i) => `${lexeme(w)}${t.prefix && i === words.length - 1 ? ':*' : ''}`);
  return parts.length === 1 ? parts[0] : `(${parts.join(' <-> ')})`;
}

const alternatives = (clause: SearchTerm[]): string | undefined => {
  const terms = clause.map(termQuery);
  return terms.some((t) => t === undefined) || terms.length === 0 ? undefined : `(${terms.join(' | ')})`;
};

/** The tsquery literal of a parsed query, or undefined when it can match nothing (no positive clause). */
export function tsQuery(q: SearchQuery): string | undefined {
  const clauses = q.clauses.map(alternatives).filter((c): c is string => c !== undefined);
  if (clauses.length === 0) return undefined;
  let out = clauses.join(' & ');
  const not = q.not.map(alternatives).filter((c): c is string => c !== undefined);
  if (not.length > 0) out = `(${out}) & !(${not.join(' | ')})`;
  return out;
}

const Q = {
  insert: sql(`INSERT INTO event_search (stream_ordering, value, room_id, key, vector) VALUES ($1, $2, $3, $4, $5::tsvector)`),
  // A redaction that applied (the target's redacted_by is this redaction) takes the target's text out.
  unindex: sql(`DELETE FROM event_search WHERE stream_ordering =
    (SELECT stream_ordering FROM events WHERE event_id = $1 AND redacted_by = $2)`),
};

/** Statements whose shape depends on a query's filters, one per shape. */
const shapes = new Map<string, Statement>();
function shaped(text: string): Statement {
  let st = shapes.get(text);
  if (!st) {
    st = sql(text);
    if (shapes.size < 128) shapes.set(text, st);
  }
  return st;
}

/** The WHERE clause shared by the search and the count ($1 is the tsquery). */
function where(q: Omit<SearchEventsQuery, 'order' | 'before' | 'offset' | 'limit'>, args: unknown[]): string {
  args.push(q.roomIds, q.keys);
  const parts = [
    's.vector @@ $1::tsquery', `s.room_id = ANY($${args.length - 1}::text[])`, `s.key = ANY($${args.length}::text[])`,
    E_SHOWN, 'e.redacted_by IS NULL',
  ];
  filterClauses(parts, args, q, 'e.');
  return parts.join(' AND ');
}

/** Queues the indexing of a persisted event's searchable text (inside the persist transaction). */
export function indexSearch(b: Batch, p: PersistEventInput): void {
  if (p.search) b.add(Q.insert, [p.streamOrdering, storableText(p.search.value), p.event.room_id, p.search.key, vectorLiteral(p.search.value)]);
}

/**
 * The text as the value column keeps it: a NUL character (which event content may hold, JSON-escaped,
 * and PostgreSQL's text type cannot) becomes a space. It separates words either way, as in FTS5.
 */
export const storableText = (text: string) => text.replace(/\u0000/g, ' ');

/** Queues the removal of a redacted event's text, when the redaction `redactionId` applied to it. */
export function unindexSearch(b: Batch, targetEventId: string, redactionId: string): void {
  b.add(Q.unindex, [targetEventId, redactionId]);
}

export async function searchEvents(db: Queryable, q: SearchEventsQuery): Promise<SearchHit[]> {
  const match = tsQuery(q.query);
  if (match === undefined || q.roomIds.length === 0 || q.keys.length === 0 || q.limit <= 0) return [];
  const args: unknown[] = [match];
  const w = where(q, args);
  // ts_rank's normalization 1 divides by 1 + log(the document's length): like bm25, a word that is a
  // larger share of a shorter text ranks higher.
  let text = `SELECT e.event_id, s.room_id, s.stream_ordering AS pos, ts_rank(s.vector, $1::tsquery, 1)::float8 AS rank
    FROM event_search s JOIN events e ON e.stream_ordering = s.stream_ordering WHERE ${w}`;
  if (q.order === 'recent') {
    if (q.before !== undefined) {
      args.push(q.before);
      text += ` AND s.stream_ordering < $${args.length}`;
    }
    args.push(q.limit);
    text += ` ORDER BY s.stream_ordering DESC LIMIT $${args.length}`;
  } else {
    args.push(q.limit, q.offset ?? 0);
    text += ` ORDER BY rank DESC, s.stream_ordering DESC LIMIT $${args.length - 1} OFFSET $${args.length}`;
  }
  return (await rows<{ event_id: string; room_id: string; pos: number; rank: number }>(db, shaped(text), args))
    .map((r) => ({ eventId: r.event_id, roomId: r.room_id, streamOrdering: r.pos, rank: r.rank }));
}

export async function countSearchResults(db: Queryable, q: Omit<SearchEventsQuery, 'order' | 'before' | 'offset' | 'limit'>): Promise<number> {
  const match = tsQuery(q.query);
  if (match === undefined || q.roomIds.length === 0 || q.keys.length === 0) return 0;
  const args: unknown[] = [match];
  const text = `SELECT COUNT(*)::bigint AS n FROM (SELECT 1 FROM event_search s JOIN events e ON e.stream_ordering = s.stream_ordering
    WHERE ${where(q, args)} LIMIT ${COUNT_CAP}) m`;
  return (await row<{ n: number }>(db, shaped(text), args))!.n;
}
