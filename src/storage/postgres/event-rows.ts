// Rows of the events table as the PostgreSQL stores read them: the columns, the shown-events condition
// and the mapping to EventRecord (shared by the room, relation and search statements; sqlite/event-rows.ts).
import type { JsonObject } from '../../wire.js';
import type { EventRecord } from '../types.js';
import { withIds } from '../rows.js';

export interface EventRow {
  stream_ordering: number;
  event_id: string;
  json: string;
  unsigned_json: string | null;
  redacted_by: string | null;
  txn_user_id: string | null;
  txn_device_id: string | null;
  txn_id: string | null;
  server_local: boolean;
  outlier: boolean;
  rejected: string | null;
  soft_failed: boolean;
  state_before: number | null;
  state_after: number | null;
}

export const EVENT_COLUMNS = `stream_ordering, event_id, json, unsigned_json, redacted_by, txn_user_id, txn_device_id, txn_id, server_local,
  outlier, rejected, soft_failed, state_before, state_after`;
/** Graph events a client may be shown (not outliers, rejected or soft-failed). */
export const SHOWN = 'NOT outlier AND rejected IS NULL AND NOT soft_failed';
/** The same with the events table's alias `e`. */
export const E_COLUMNS = EVENT_COLUMNS.split(',').map((c) => `e.${c.trim()}`).join(', ');
export const E_SHOWN = 'NOT e.outlier AND e.rejected IS NULL AND NOT e.soft_failed';

export { withIds } from '../rows.js';

export function toEvent(r: EventRow): EventRecord {
  return {
    event: withIds(r.json, r.event_id),
    streamOrdering: r.stream_ordering,
    unsigned: r.unsigned_json ? (JSON.parse(r.unsigned_json) as JsonObject) : null,
    redactedBy: r.redacted_by,
    txn: r.txn_user_id && r.txn_device_id && r.txn_id ? { userId: r.txn_user_id, deviceId: r.txn_device_id, txnId: r.txn_id } : null,
    serverLocal: r.server_local,
    graph: { stateBefore: r.state_before, stateAfter: r.state_after, outlier: r.outlier, rejected: r.rejected, softFailed: r.soft_failed },
  };
}

/**
 * A filter pattern as a LIKE pattern: `*` is the one wildcard; LIKE's own metacharacters (`%`, `_`)
 * and its escape character match themselves (the same rules as SQLite's GLOB form, sqlite/rooms.ts).
 */
export function likeOf(pattern: string): string {
  return pattern.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%');
}

/**
 * Filters (event_filter.yaml): `types`/`not_types` may use `*` as the one wildcard; `senders`/
 * `not_senders` are exact user IDs. The same rules as eventMatches (core/filters.ts). `alias`: the
 * events table's alias with its dot ('e.'), when the statement has one.
 */
export function filterClauses(
  where: string[], args: unknown[], q: { types?: string[]; notTypes?: string[]; senders?: string[]; notSenders?: string[] }, alias = '',
): void {
  const list = (col: string, values: string[] | undefined, not: boolean, wildcards: boolean) => {
    if (!values || values.length === 0) return;
    const patterns = wildcards ? values.filter((v) => v.includes('*')) : [];
    const exact = values.filter((v) => !patterns.includes(v));
    const parts: string[] = [];
    if (exact.length > 0) { args.push(exact); parts.push(`${col} = ANY($${args.length}::text[])`); }
    if (patterns.length > 0) { args.push(patterns.map(likeOf)); parts.push(`${col} LIKE ANY($${args.length}::text[])`); }
    where.push(not ? `NOT (${parts.join(' OR ')})` : `(${parts.join(' OR ')})`);
  };
  list(`${alias}type`, q.types, false, true);
  list(`${alias}type`, q.notTypes, true, true);
  list(`${alias}sender`, q.senders, false, false);
  list(`${alias}sender`, q.notSenders, true, false);
}
