// Rows of the events table as the stores read them: the columns, the shown-events condition and the
// mapping to EventRecord (shared by the room, relation and search statements).
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
  server_local: number;
  outlier: number;
  rejected: string | null;
  soft_failed: number;
  state_before: number | null;
  state_after: number | null;
}

export const EVENT_COLUMNS = `stream_ordering, event_id, json, unsigned_json, redacted_by, txn_user_id, txn_device_id, txn_id, server_local,
  outlier, rejected, soft_failed, state_before, state_after`;
/** Graph events a client may be shown (not outliers, rejected or soft-failed). */
export const SHOWN = 'outlier = 0 AND rejected IS NULL AND soft_failed = 0';

export { withIds } from '../rows.js';

export function toEvent(r: EventRow): EventRecord {
  const event = withIds(r.json, r.event_id);
  return {
    event,
    streamOrdering: r.stream_ordering,
    unsigned: r.unsigned_json ? (JSON.parse(r.unsigned_json) as JsonObject) : null,
    redactedBy: r.redacted_by,
    txn: r.txn_user_id && r.txn_device_id && r.txn_id ? { userId: r.txn_user_id, deviceId: r.txn_device_id, txnId: r.txn_id } : null,
    serverLocal: r.server_local === 1,
    graph: { stateBefore: r.state_before, stateAfter: r.state_after, outlier: r.outlier === 1, rejected: r.rejected, softFailed: r.soft_failed === 1 },
  };
}
