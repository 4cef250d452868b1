// Row mappings that are the same on both engines (sqlite/ and postgres/ read these columns alike).
import type { StoredEvent } from '../wire.js';
import type { MediaRecord } from './media-types.js';

/** A stored PDU with its event ID (and, for a v12 create event, the room ID its PDU has no field for). */
export function withIds(json: string, eventId: string): StoredEvent {
  const event = JSON.parse(json) as StoredEvent;
  event.event_id = eventId;
  if (event.room_id === undefined && event.type === 'm.room.create') event.room_id = `!${eventId.slice(1)}`;
  return event;
}

/** A row of the media table (migrations/0013_media.sql, migrations/postgres/0013_media.sql). */
export interface MediaRow {
  server_name: string; media_id: string; uploader: string | null; created_ts: number; expires_ts: number | null; uploaded_ts: number | null;
  content_type: string | null; served_type: string | null; upload_name: string | null; length: number | null; sha256: string | null;
  quarantined_by: string | null; quarantined_ts: number | null; last_access_ts: number | null;
}

export const toMedia = (r: MediaRow): MediaRecord => ({
  serverName: r.server_name, mediaId: r.media_id, uploader: r.uploader, createdTs: r.created_ts, expiresTs: r.expires_ts,
  uploadedTs: r.uploaded_ts, contentType: r.content_type, servedType: r.served_type, uploadName: r.upload_name, length: r.length,
  sha256: r.sha256, quarantinedBy: r.quarantined_by, quarantinedTs: r.quarantined_ts, lastAccessTs: r.last_access_ts,
});
