// Wire shapes every layer shares (core, storage, crypto, api): JSON values and the PDU of room versions
// 4+ (rooms/v10, rooms/v11: "Event format"). A leaf: it imports nothing.

/** JSON object as it appears on the wire. */
export type JsonObject = { [key: string]: JsonValue };
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;

/**
 * A persistent data unit in the federation format of room versions 4+ (the event ID is not part of
 * the PDU itself: it is the reference hash, see crypto/event-hashing.ts). `event_id` is carried
 * beside it in storage and in client-format events.
 */
export interface Pdu {
  room_id: string;
  sender: string;
  type: string;
  state_key?: string;
  content: JsonObject;
  origin_server_ts: number;
  prev_events: string[];
  auth_events: string[];
  depth: number;
  hashes: { sha256: string };
  signatures: Record<string, Record<string, string>>;
  unsigned?: JsonObject;
  /** Top-level `redacts` exists up to room version 10; v11 moves it into `content`. */
  redacts?: string;
}

/** A PDU together with its event ID, as the core passes it around. */
export interface StoredEvent extends Pdu {
  event_id: string;
}
