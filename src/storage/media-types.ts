// The storage API of the media repository's metadata (issue 18). The bytes are not here: they live
// in a MediaStore (src/core/media/store.ts). Like types.ts: async, each method atomic, no rules.

export interface MediaRecord {
  serverName: string;
  mediaId: string;
  /** Who created it (local media); null for media cached from another server. */
  uploader: string | null;
  createdTs: number;
  /** A reserved ID (POST /create) that is not uploaded by then expires. */
  expiresTs: number | null;
  /** null: reserved, the content is not uploaded yet. */
  uploadedTs: number | null;
  /** As declared by the uploader. */
  contentType: string | null;
  /** The type it is served with (the declared one unless sniffing found it obviously wrong). */
  servedType: string | null;
  uploadName: string | null;
  length: number | null;
  sha256: string | null;
  quarantinedBy: string | null;
  quarantinedTs: number | null;
  lastAccessTs: number | null;
}

/** The content of an upload, once its bytes are stored. */
export interface MediaContent {
  contentType: string | null;
  servedType: string;
  uploadName: string | null;
  length: number;
  sha256: string;
  uploadedTs: number;
}

export interface ThumbnailRecord {
  serverName: string;
  mediaId: string;
  width: number;
  height: number;
  method: 'crop' | 'scale';
  animated: boolean;
  contentType: string;
  length: number;
  /** Where the bytes are in the MediaStore. */
  storeKey: string;
  createdTs: number;
}

export type MediaOrder = 'media_id' | 'upload_name' | 'created_ts' | 'last_access_ts' | 'media_length' | 'media_type' | 'quarantined_by';

export interface UserMediaQuery {
  uploader: string;
  from: number;
  limit: number;
  orderBy: MediaOrder;
  dir: 'f' | 'b';
}

export interface MediaRecordStore {
  /** Inserts a media row (a reservation without content, or an upload); false when the ID is taken. */
  createMedia(record: MediaRecord): Promise<boolean>;
  getMedia(serverName: string, mediaId: string): Promise<MediaRecord | undefined>;
  /** Reservations of the uploader that have no content yet and expire after `now`: how many, and the earliest expiry. */
  pendingReservations(uploader: string, now: number): Promise<{ count: number; earliestExpiry: number | null }>;
  /** Deletes reservations without content that expired at or before `now`; returns how many. */
  deleteExpiredReservations(now: number): Promise<number>;
  /** Gives a reservation its content; false when it already has content (or does not exist). */
  completeUpload(serverName: string, mediaId: string, content: MediaContent): Promise<boolean>;
  /** Sets (by an admin) or lifts (null) the quarantine; false for unknown media. */
  setQuarantine(serverName: string, mediaId: string, by: string | null, ts: number): Promise<boolean>;
  setLastAccess(serverName: string, mediaId: string, ts: number): Promise<void>;
  /** Deletes the media row and its thumbnails' rows; returns the thumbnails (their bytes are the caller's to delete), undefined for unknown media. */
  deleteMedia(serverName: string, mediaId: string): Promise<ThumbnailRecord[] | undefined>;
  /** A user's uploads (reservations without content left out), paged. */
  listUserMedia(q: UserMediaQuery): Promise<{ media: MediaRecord[]; total: number }>;
  getThumbnail(serverName: string, mediaId: string, width: number, height: number, method: 'crop' | 'scale', animated: boolean): Promise<ThumbnailRecord | undefined>;
  /** Stores a thumbnail row (replacing one of the same size, method and animation). */
  putThumbnail(t: ThumbnailRecord): Promise<void>;
}
