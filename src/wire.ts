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

/** An event's relation to its parent (client-server-api "Forming relationships between events"). */
export interface Relation {
  /** The parent event. */
  eventId: string;
  relType: string;
  /** `key` of an m.annotation (event_annotations.md), else null. */
  key: string | null;
}

/**
 * The relation an event's content declares in `m.relates_to` (definitions/m.relates_to.yaml): an
 * object with a string `rel_type` and a string `event_id`. Anything else (a reply's `m.in_reply_to`
 * alone, wrong types) is no relation: "relationships which don't match the schema ... are simply
 * ignored". Only the cleartext `m.relates_to` counts, also for encrypted events.
 */
export function relationOf(content: JsonObject): Relation | undefined {
  const r = content['m.relates_to'];
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return undefined;
  const { rel_type: relType, event_id: eventId, key } = r;
  if (typeof relType !== 'string' || relType === '' || typeof eventId !== 'string' || !eventId.startsWith('$')) return undefined;
  return { eventId, relType, key: relType === 'm.annotation' && typeof key === 'string' ? key : null };
}

/** The keys the search API searches (search.yaml `keys`: content.body, content.name, content.topic). */
export type SearchKey = 'content.body' | 'content.name' | 'content.topic';
export const SEARCH_KEYS: readonly SearchKey[] = ['content.body', 'content.name', 'content.topic'];

/**
 * The searchable text of an event (search.yaml `keys`): the body of an m.room.message, the name of an
 * m.room.name, the topic of an m.room.topic; nothing for other events or non-string values.
 */
export function searchableText(event: { type: string; content: JsonObject }): { key: SearchKey; value: string } | undefined {
  const field = event.type === 'm.room.message' ? 'body' : event.type === 'm.room.name' ? 'name' : event.type === 'm.room.topic' ? 'topic' : undefined;
  if (field === undefined) return undefined;
  const value = event.content[field];
  return typeof value === 'string' && value.trim() !== '' ? { key: `content.${field}` as SearchKey, value } : undefined;
}
