// Client format of events (matrix-spec: client-server-api "Room event format" / ClientEvent schema):
// event_id, type, sender, origin_server_ts, content, room_id, state_key where set, and `unsigned`
// (age, transaction_id for the sending device, prev_content/replaces_state for state, redacted_because).
//
// Content is never copied into another event's row: a state event stores only the ID of the event it
// replaced (unsigned.replaces_state), and prev_content is read from that event when formatting, so a
// redaction of the replaced event (which rewrites its stored JSON) reaches every view of it.
import type { EventRecord, RoomStore } from '../../storage/types.js';
import { isServerSender, SERVER_SENDER_KEY } from './server-senders.js';
import type { JsonObject } from './types.js';

export interface ClientEvent {
  event_id: string;
  type: string;
  sender: string;
  origin_server_ts: number;
  content: JsonObject;
  room_id: string;
  state_key?: string;
  redacts?: string;
  unsigned: JsonObject;
}

export interface Viewer {
  userId: string;
  deviceId: string;
  /**
   * Shown as the sender of server-generated events instead of the server name (the server-owned
   * user of server_events.compat_sender_localpart), for clients that need a user ID there.
   */
  compatSender?: string | undefined;
}

/** What formatting a batch of events needs from other events. */
export interface Related {
  /** The redaction events named by `redactedBy`, formatted (without their own redacted_because). */
  redactions: Map<string, ClientEvent>;
  /** The content of the events named by `unsigned.replaces_state`, as stored now (redacted if redacted). */
  replaced: Map<string, JsonObject>;
}

/**
 * Formats one stored event for `viewer`; `related` supplies redacted_because and prev_content
 * (clientFormatter loads it for a batch).
 */
export function toClientEvent(rec: EventRecord, now: number, viewer?: Viewer, related?: Related): ClientEvent {
  const e = rec.event;
  const out: ClientEvent = {
    event_id: e.event_id,
    type: e.type,
    sender: e.sender,
    origin_server_ts: e.origin_server_ts,
    content: e.content,
    room_id: e.room_id,
    unsigned: {},
  };
  if (e.state_key !== undefined) out.state_key = e.state_key;
  // Room v11 moved `redacts` into content; clients still read the top-level key, so both are given.
  const redacts = e.redacts ?? (typeof e.content.redacts === 'string' ? e.content.redacts : undefined);
  if (e.type === 'm.room.redaction' && redacts !== undefined) out.redacts = redacts;
  const unsigned: JsonObject = { age: Math.max(0, now - e.origin_server_ts) };
  if (rec.unsigned) {
    Object.assign(unsigned, rec.unsigned);
    // A redacted event keeps no view of other content either (as Synapse prunes unsigned).
    const replaced = typeof rec.unsigned.replaces_state === 'string' && !rec.redactedBy ? related?.replaced.get(rec.unsigned.replaces_state) : undefined;
    if (replaced) unsigned.prev_content = replaced;
  }
  if (viewer && rec.txn && rec.txn.userId === viewer.userId && rec.txn.deviceId === viewer.deviceId) {
    unsigned.transaction_id = rec.txn.txnId;
  }
  if (rec.redactedBy) {
    const because = related?.redactions.get(rec.redactedBy);
    if (because) unsigned.redacted_because = because as unknown as JsonObject;
  }
  const compat = viewer?.compatSender;
  if (compat !== undefined) {
    // spec/server-events.md: the server-owned user as sender, the real sender kept in unsigned.
    if (isServerSender(e.sender)) {
      out.sender = compat;
      unsigned[SERVER_SENDER_KEY] = e.sender;
    }
    if (typeof unsigned.prev_sender === 'string' && isServerSender(unsigned.prev_sender)) unsigned.prev_sender = compat;
  }
  out.unsigned = unsigned;
  return out;
}

/**
 * Stripped state (matrix-spec: client-server-api "Stripped state"): type, state_key, content, sender;
 * a server-name sender shows as `compatSender` when given (spec/server-events.md).
 */
export function toStrippedState(e: { type: string; state_key?: string; content: JsonObject; sender: string }, compatSender?: string): JsonObject {
  return { type: e.type, state_key: e.state_key ?? '', content: e.content, sender: compatSender !== undefined && isServerSender(e.sender) ? compatSender : e.sender };
}

/**
 * A formatter for a batch of records: loads, in one read each, the redaction events they name and the
 * state events they replaced, then formats each record for `viewer`.
 */
export async function clientFormatter(store: Pick<RoomStore, 'getEvents'>, viewer: Viewer, now: number, records: EventRecord[]): Promise<(r: EventRecord) => ClientEvent> {
  const redactionIds = new Set<string>();
  const replacedIds = new Set<string>();
  for (const r of records) {
    if (r.redactedBy !== null) redactionIds.add(r.redactedBy);
    const replaces = r.unsigned?.replaces_state;
    if (typeof replaces === 'string') replacedIds.add(replaces);
  }
  const related: Related = { redactions: new Map(), replaced: new Map() };
  if (redactionIds.size + replacedIds.size > 0) {
    for (const r of await store.getEvents([...redactionIds, ...replacedIds])) {
      const id = r.event.event_id;
      if (redactionIds.has(id)) related.redactions.set(id, toClientEvent(r, now, viewer));
      if (replacedIds.has(id)) related.replaced.set(id, r.event.content);
    }
  }
  return (r) => toClientEvent(r, now, viewer, related);
}
