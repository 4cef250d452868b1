// The event shapes, for core code (defined in src/wire.ts, which storage and crypto share).
export type { JsonObject, JsonValue, Pdu, StoredEvent } from '../../wire.js';
