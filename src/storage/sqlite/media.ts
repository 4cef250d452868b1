// SQLite implementation of MediaRecordStore (migrations/0013_media.sql).
import type Database from 'better-sqlite3';
import type { MediaOrder, MediaRecord, MediaRecordStore, ThumbnailRecord } from '../media-types.js';
import { toMedia, type MediaRow } from '../rows.js';

interface ThumbnailRow {
  server_name: string; media_id: string; width: number; height: number; method: string; animated: number; content_type: string;
  length: number; store_key: string; created_ts: number;
}

const toThumbnail = (r: ThumbnailRow): ThumbnailRecord => ({
  serverName: r.server_name, mediaId: r.media_id, width: r.width, height: r.height, method: r.method as 'crop' | 'scale',
  animated: r.animated === 1, contentType: r.content_type, length: r.length, storeKey: r.store_key, createdTs: r.created_ts,
});

/** Sort columns of the admin listing (Synapse's order_by values), with media_id as the tie-break. */
const ORDER_COLUMNS: Record<MediaOrder, string> = {
  media_id: 'media_id', upload_name: 'upload_name', created_ts: 'created_ts', last_access_ts: 'last_access_ts',
  media_length: 'length', media_type: 'content_type', quarantined_by: 'quarantined_by',
};

export function createSqliteMediaStore(db: Database.Database): MediaRecordStore {
  const s = {
    insert: db.prepare(`INSERT OR IGNORE INTO media (server_name, media_id, uploader, created_ts, expires_ts, uploaded_ts, content_type, served_type,
      upload_name, length, sha256, quarantined_by, quarantined_ts, last_access_ts) VALUES
      (@serverName, @mediaId, @uploader, @createdTs, @expiresTs, @uploadedTs, @contentType, @servedType, @uploadName, @length, @sha256,
       @quarantinedBy, @quarantinedTs, @lastAccessTs)`),
    get: db.prepare('SELECT * FROM media WHERE server_name = ? AND media_id = ?'),
    pending: db.prepare('SELECT COUNT(*) AS count, MIN(expires_ts) AS earliest FROM media WHERE uploader = ? AND uploaded_ts IS NULL AND expires_ts > ?'),
    deleteExpired: db.prepare('DELETE FROM media WHERE uploaded_ts IS NULL AND expires_ts IS NOT NULL AND expires_ts <= ?'),
    complete: db.prepare(`UPDATE media SET content_type = ?, served_type = ?, upload_name = ?, length = ?, sha256 = ?, uploaded_ts = ?, expires_ts = NULL
      WHERE server_name = ? AND media_id = ? AND uploaded_ts IS NULL`),
    quarantine: db.prepare('UPDATE media SET quarantined_by = ?, quarantined_ts = ? WHERE server_name = ? AND media_id = ?'),
    lastAccess: db.prepare('UPDATE media SET last_access_ts = ? WHERE server_name = ? AND media_id = ?'),
    thumbnailsOf: db.prepare('SELECT * FROM media_thumbnails WHERE server_name = ? AND media_id = ?'),
    deleteThumbnails: db.prepare('DELETE FROM media_thumbnails WHERE server_name = ? AND media_id = ?'),
    deleteMedia: db.prepare('DELETE FROM media WHERE server_name = ? AND media_id = ?'),
    countUser: db.prepare('SELECT COUNT(*) FROM media WHERE uploader = ? AND uploaded_ts IS NOT NULL').pluck(),
    getThumbnail: db.prepare(`SELECT * FROM media_thumbnails WHERE server_name = ? AND media_id = ? AND width = ? AND height = ? AND method = ? AND animated = ?`),
    putThumbnail: db.prepare(`INSERT INTO media_thumbnails (server_name, media_id, width, height, method, animated, content_type, length, store_key, created_ts)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(server_name, media_id, width, height, method, animated) DO UPDATE SET
      content_type = excluded.content_type, length = excluded.length, store_key = excluded.store_key, created_ts = excluded.created_ts`),
  };
  const listStatements = new Map<string, Database.Statement>();
  const listStatement = (orderBy: MediaOrder, dir: 'f' | 'b') => {
    const key = `${orderBy} ${dir}`;
    let st = listStatements.get(key);
    if (!st) {
      const d = dir === 'b' ? 'DESC' : 'ASC';
      st = db.prepare(`SELECT * FROM media WHERE uploader = ? AND uploaded_ts IS NOT NULL
        ORDER BY ${ORDER_COLUMNS[orderBy]} ${d}, media_id ${d} LIMIT ? OFFSET ?`);
      listStatements.set(key, st);
    }
    return st;
  };
  const deleteTx = db.transaction((serverName: string, mediaId: string): ThumbnailRecord[] | undefined => {
    if (s.get.get(serverName, mediaId) === undefined) return undefined;
    const thumbs = (s.thumbnailsOf.all(serverName, mediaId) as ThumbnailRow[]).map(toThumbnail);
    s.deleteThumbnails.run(serverName, mediaId);
    s.deleteMedia.run(serverName, mediaId);
    return thumbs;
  });

  return {
    async createMedia(r) { return s.insert.run(r).changes === 1; },
    async getMedia(serverName, mediaId) {
      const row = s.get.get(serverName, mediaId) as MediaRow | undefined;
      return row ? toMedia(row) : undefined;
    },
    async pendingReservations(uploader, now) {
      const r = s.pending.get(uploader, now) as { count: number; earliest: number | null };
      return { count: r.count, earliestExpiry: r.earliest };
    },
    async deleteExpiredReservations(now) { return s.deleteExpired.run(now).changes; },
    async completeUpload(serverName, mediaId, c) {
      return s.complete.run(c.contentType, c.servedType, c.uploadName, c.length, c.sha256, c.uploadedTs, serverName, mediaId).changes === 1;
    },
    async setQuarantine(serverName, mediaId, by, ts) {
      return s.quarantine.run(by, by === null ? null : ts, serverName, mediaId).changes === 1;
    },
    async setLastAccess(serverName, mediaId, ts) { s.lastAccess.run(ts, serverName, mediaId); },
    async deleteMedia(serverName, mediaId) { return deleteTx(serverName, mediaId); },
    async listUserMedia(q) {
      const media = (listStatement(q.orderBy, q.dir).all(q.uploader, q.limit, q.from) as MediaRow[]).map(toMedia);
      return { media, total: s.countUser.get(q.uploader) as number };
    },
    async getThumbnail(serverName, mediaId, width, height, method, animated) {
      const row = s.getThumbnail.get(serverName, mediaId, width, height, method, animated ? 1 : 0) as ThumbnailRow | undefined;
      return row ? toThumbnail(row) : undefined;
    },
    async putThumbnail(t) {
      s.putThumbnail.run(t.serverName, t.mediaId, t.width, t.height, t.method, t.animated ? 1 : 0, t.contentType, t.length, t.storeKey, t.createdTs);
    },
  };
}
