// What the transport hands received PDUs and EDUs to (the room-level federation protocol implements
// it with EventReceiver: room-handler.ts).
import type { Logger } from '../../logger.js';
import type { RoomStore } from '../../storage/types.js';
import type { JsonObject } from '../../wire.js';
import { computeEventId } from '../crypto/event-hashing.js';
import { knownRoomVersion, type RoomVersion } from '../room-versions.js';

/** An ephemeral data unit (matrix-spec: server-server/definitions/edu.yaml). */
export interface Edu {
  edu_type: string;
  content: JsonObject;
}

/**
 * The outcome of one received PDU, answered in the transaction's `pdus` under `eventId`
 * (transactions.yaml#sendTransaction "PDU Processing Results"): no `error` means it was handled. The
 * event ID depends on the room version, which only the handler knows (it looks the room up): a
 * result without `eventId` (the version is unknown, the PDU is not an event) is left out of the answer.
 */
export interface PduResult {
  eventId?: string;
  error?: string;
}

export interface FederationEventHandler {
  /** One PDU of a transaction from `origin`, as received (transactions deliver them one by one, in order). */
  onPdu(origin: string, pdu: JsonObject): Promise<PduResult>;
  /** One EDU of a transaction from `origin`; failures are logged by the caller, never answered. */
  onEdu(origin: string, edu: Edu): Promise<void>;
}

/**
 * The version of the room a PDU belongs to, when this server can know it: the room it has stored, or
 * for a create event the `room_version` of its content (absent means "1", which is not known here).
 */
export async function roomVersionOfPdu(rooms: Pick<RoomStore, 'getRoom'>, pdu: JsonObject): Promise<RoomVersion | undefined> {
  if (typeof pdu.room_id === 'string') {
    const room = await rooms.getRoom(pdu.room_id);
    if (room) return knownRoomVersion(room.roomVersion);
  }
  if (pdu.type === 'm.room.create' && typeof pdu.content === 'object' && pdu.content !== null && !Array.isArray(pdu.content)) {
    const v = (pdu.content as JsonObject).room_version;
    if (typeof v === 'string') return knownRoomVersion(v);
  }
  return undefined;
}
