// Room versions this server supports (matrix-spec: content/rooms/v10.md, content/rooms/v11.md).

export type RoomVersionId = '10' | '11';

export interface RoomVersion {
  id: RoomVersionId;
  /** v11: the create event has no `creator`; the sender is the creator (rooms/v11 "Remove creator"). */
  createHasCreator: boolean;
  /** v11: `redacts` is a content property instead of a top-level key (rooms/v11 "Moving the redacts key"). */
  redactsInContent: boolean;
  /** Redaction algorithm of the version (rooms/v11 "Redactions"). */
  redaction: 'v10' | 'v11';
  /** v12: the room ID is the create event's ID with the '!' sigil, and the create event has no room_id. */
  roomIdFromCreateEvent: boolean;
}

export const ROOM_VERSIONS: Readonly<Record<RoomVersionId, RoomVersion>> = {
  '10': { id: '10', createHasCreator: true, redactsInContent: false, redaction: 'v10', roomIdFromCreateEvent: false },
  '11': { id: '11', createHasCreator: false, redactsInContent: true, redaction: 'v11', roomIdFromCreateEvent: false },
};

export const DEFAULT_ROOM_VERSION: RoomVersionId = '11';

export function roomVersion(id: string): RoomVersion | undefined {
  return Object.prototype.hasOwnProperty.call(ROOM_VERSIONS, id) ? ROOM_VERSIONS[id as RoomVersionId] : undefined;
}
