// Room versions whose rules this code knows (matrix-spec: content/rooms/v10.md, content/rooms/v11.md,
// content/rooms/v12.md), and the subset this server hosts rooms of (SUPPORTED_ROOM_VERSIONS). Each flag
// names one thing that differs between versions, so code asks about the behaviour
// (`version.roomIdFromCreateEvent`) rather than about version numbers.
import { computeEventId } from './crypto/event-hashing.js';

export type RoomVersionId = '10' | '11' | '12';

export interface RoomVersion {
  id: RoomVersionId;
  /** v11: the create event has no `creator`; the sender is the creator (rooms/v11 "Remove creator"). */
  createHasCreator: boolean;
  /** v11: `redacts` is a content property instead of a top-level key (rooms/v11 "Moving the redacts key"). */
  redactsInContent: boolean;
  /** Redaction algorithm of the version (rooms/v11 "Redactions"; v12 keeps v11's). */
  redaction: 'v10' | 'v11';
  /**
   * v12: the room ID is the create event's ID with the sigil `!` instead of `$` (so it has no server
   * name), and the create event itself has no `room_id` (rooms/v12 auth rule 1.2). Consequences: the
   * create event is never selected into `auth_events` (auth rule 3.2 and server-server-api "Auth
   * events selection"), and every other event must name an accepted create event by its `room_id`
   * (auth rule 2). See `roomIdForCreateEvent` and `createEventIdForRoom`.
   */
  roomIdFromCreateEvent: boolean;
  /**
   * v12: "room creators" (the create event's `sender` plus `content.additional_creators`) have an
   * infinitely high power level, which `m.room.power_levels` can neither lower nor mention
   * (rooms/v12 "Authorisation rules", auth rules 1.4 and 10.4).
   */
  privilegedCreators: boolean;
  /**
   * State resolution algorithm: 'v2' is rooms/v2's (fragments/v2-state-res.md); 'v2.1' is rooms/v12's
   * variant (iterative auth checks of the power events start from an empty state map, and the full
   * conflicted set includes the conflicted state subgraph).
   */
  stateResolution: 'v2' | 'v2.1';
  /**
   * Which numbering `AuthError.rule` follows. rooms/v10 and rooms/v11 number their authorisation rules
   * alike; rooms/v12 inserts a new rule 2, so its rules 2..10 are v11's 3..11 shifted by one (and
   * inserts 10.4), e.g. v11 '4.3.2' is v12 '5.3.2'.
   */
  authRuleNumbering: 'v10' | 'v12';
}

export const ROOM_VERSIONS: Readonly<Record<RoomVersionId, RoomVersion>> = {
  '10': {
    id: '10', createHasCreator: true, redactsInContent: false, redaction: 'v10',
    roomIdFromCreateEvent: false, privilegedCreators: false, stateResolution: 'v2', authRuleNumbering: 'v10',
  },
  '11': {
    id: '11', createHasCreator: false, redactsInContent: true, redaction: 'v11',
    roomIdFromCreateEvent: false, privilegedCreators: false, stateResolution: 'v2', authRuleNumbering: 'v10',
  },
  '12': {
    id: '12', createHasCreator: false, redactsInContent: true, redaction: 'v11',
    roomIdFromCreateEvent: true, privilegedCreators: true, stateResolution: 'v2.1', authRuleNumbering: 'v12',
  },
};

/**
 * The version of new rooms when neither the client nor the config names one: 12, Synapse's default,
 * now that rooms of version 12 federate with Synapse (test/interop/synapse-rooms.test.ts).
 */
export const DEFAULT_ROOM_VERSION: RoomVersionId = '12';

/** The versions this server hosts rooms of: what capabilities advertise, createRoom accepts and the event writer builds. */
export const SUPPORTED_ROOM_VERSIONS: readonly RoomVersionId[] = ['10', '11', '12'];

/** A version this server hosts rooms of (`SUPPORTED_ROOM_VERSIONS`), or undefined. */
export function roomVersion(id: string): RoomVersion | undefined {
  return (SUPPORTED_ROOM_VERSIONS as readonly string[]).includes(id) ? ROOM_VERSIONS[id as RoomVersionId] : undefined;
}

/**
 * Any version whose rules this code knows, hosted here or not: a "recognised version" for auth rule 1.3,
 * and what to resolve or authorise a room of that version with.
 */
export function knownRoomVersion(id: string): RoomVersion | undefined {
  return Object.prototype.hasOwnProperty.call(ROOM_VERSIONS, id) ? ROOM_VERSIONS[id as RoomVersionId] : undefined;
}

/**
 * The ID of the room that `createEvent` (an m.room.create PDU, with or without `event_id`) creates.
 * v12 (`roomIdFromCreateEvent`): its event ID (reference hash) with the sigil `!` instead of `$`
 * (rooms/v12 auth rule 1.2, note); the event must not carry a `room_id`. v10/v11: the `room_id` it
 * carries, chosen by its creator.
 */
export function roomIdForCreateEvent(createEvent: object, version: RoomVersion): string {
  if (version.roomIdFromCreateEvent) return `!${computeEventId(createEvent, version).slice(1)}`;
  const roomId = (createEvent as { room_id?: unknown }).room_id;
  if (typeof roomId !== 'string') throw new TypeError('m.room.create event has no room_id');
  return roomId;
}

/**
 * The event ID of the create event of `roomId`, when the room version derives the room ID from it
 * (v12: `$` + the room ID without its `!`); `undefined` for v10/v11, whose room IDs say nothing about
 * their create event.
 */
export function createEventIdForRoom(roomId: string, version: RoomVersion): string | undefined {
  // `typeof`: a v12 create event handed over as a Pdu has no room_id at all.
  if (!version.roomIdFromCreateEvent || typeof roomId !== 'string' || !roomId.startsWith('!')) return undefined;
  return `$${roomId.slice(1)}`;
}
