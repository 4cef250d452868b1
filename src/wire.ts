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

/**
 * The PDU of a stored event, as it was hashed and signed (what storage keeps and federation sends):
 * without event_id and unsigned, and without room_id for a create event that names its room (room
 * version 12: the room ID is the create event's ID with '!', and its PDU has no room_id; the core
 * still carries room_id on it for convenience).
 */
export function pduOf(event: StoredEvent | Pdu): Pdu {
  const { event_id: id, unsigned: _u, ...pdu } = event as StoredEvent;
  if (event.type === 'm.room.create' && id !== undefined && event.room_id === `!${id.slice(1)}`) {
    const { room_id: _r, ...rest } = pdu;
    return rest as Pdu;
  }
  return pdu;
}
