// PostgreSQL implementation of MediaRecordStore (migrations/postgres/0013_media.sql); the same behaviour
// as sqlite/media.ts. Listings sort NULL first when ascending, last when descending, as SQLite does.
import type pg from 'pg';
import type { MediaOrder, MediaRecord, MediaRecordStore, ThumbnailRecord } from '../media-types.js';
import { toMedia, type MediaRow } from '../rows.js';
import { Batch, exec, row, rows, sql, transaction, type Queryable, type Statement } from './db.js';

interface ThumbnailRow {
  server_name: string; media_id: string; width: number; height: number; method: string; animated: boolean; content_type: string;
  length: number; store_key: string; created_ts: number;
}

const toThumbnail = (r: ThumbnailRow): ThumbnailRecord => ({
  serverName: r.server_name, mediaId: r.media_id, width: r.width, height: r.height, method: r.method as 'crop' | 'scale',
  animated: r.animated, contentType: r.content_type, length: r.length, storeKey: r.store_key, createdTs: r.created_ts,
});

const MEDIA_COLUMNS = `server_name, media_id, uploader, created_ts, expires_ts, uploaded_ts, content_type, served_type, upload_name, length, sha256,
  quarantined_by, quarantined_ts, last_access_ts`;
const THUMBNAIL_COLUMNS = 'server_name, media_id, width, height, method, animated, content_type, length, store_key, created_ts';

/** Sort columns of the admin listing (Synapse's order_by values), with media_id as the tie-break. */
const ORDER_COLUMNS: Record<MediaOrder, string> = {
  media_id: 'media_id', upload_name: 'upload_name', created_ts: 'created_ts', last_access_ts: 'last_access_ts',
  media_length: 'length', media_type: 'content_type', quarantined_by: 'quarantined_by',
};

const Q = {
  insert: sql(`INSERT INTO media (${MEDIA_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING`),
  get: sql(`SELECT ${MEDIA_COLUMNS} FROM media WHERE server_name = $1 AND media_id = $2`),
  lock: sql('SELECT 1 AS x FROM media WHERE server_name = $1 AND media_id = $2 FOR UPDATE'),
  pending: sql(`SELECT COUNT(*)::bigint AS count, MIN(expires_ts) AS earliest FROM media
    WHERE uploader = $1 AND uploaded_ts IS NULL AND expires_ts > $2`),
  deleteExpired: sql('DELETE FROM media WHERE uploaded_ts IS NULL AND expires_ts IS NOT NULL AND expires_ts <= $1'),
  complete: sql(`UPDATE media SET content_type = $1, served_type = $2, upload_name = $3, length = $4, sha256 = $5, uploaded_ts = $6, expires_ts = NULL
    WHERE server_name = $7 AND media_id = $8 AND uploaded_ts IS NULL`),
  quarantine: sql('UPDATE media SET quarantined_by = $1, quarantined_ts = $2 WHERE server_name = $3 AND media_id = $4'),
  lastAccess: sql('UPDATE media SET last_access_ts = $1 WHERE server_name = $2 AND media_id = $3'),
  thumbnailsOf: sql(`SELECT ${THUMBNAIL_COLUMNS} FROM media_thumbnails WHERE server_name = $1 AND media_id = $2
    ORDER BY width, height, method, animated`),
  deleteThumbnails: sql('DELETE FROM media_thumbnails WHERE server_name = $1 AND media_id = $2'),
  deleteMedia: sql('DELETE FROM media WHERE server_name = $1 AND media_id = $2'),
  countUser: sql('SELECT COUNT(*)::bigint AS n FROM media WHERE uploader = $1 AND uploaded_ts IS NOT NULL'),
  getThumbnail: sql(`SELECT ${THUMBNAIL_COLUMNS} FROM media_thumbnails
    WHERE server_name = $1 AND media_id = $2 AND width = $3 AND height = $4 AND method = $5 AND animated = $6`),
  putThumbnail: sql(`INSERT INTO media_thumbnails (${THUMBNAIL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    ON CONFLICT (server_name, media_id, width, height, method, animated) DO UPDATE SET
    content_type = excluded.content_type, length = excluded.length, store_key = excluded.store_key, created_ts = excluded.created_ts`),
};

const listStatements = new Map<string, Statement>();
function listStatement(orderBy: MediaOrder, dir: 'f' | 'b'): Statement {
  const key = `${orderBy} ${dir}`;
  let st = listStatements.get(key);
  if (!st) {
    const d = dir === 'b' ? 'DESC NULLS LAST' : 'ASC NULLS FIRST';
    st = sql(`SELECT ${MEDIA_COLUMNS} FROM media WHERE uploader = $1 AND uploaded_ts IS NOT NULL
      ORDER BY ${ORDER_COLUMNS[orderBy]} ${d}, media_id ${d} LIMIT $2 OFFSET $3`);
    listStatements.set(key, st);
  }
  return st;
}

export function createPostgresMediaStore(pool: pg.Pool): MediaRecordStore {
  const db: Queryable = pool;
  return {
    async createMedia(r) {
      return (await exec(db, Q.insert, [
        r.serverName, r.mediaId, r.uploader, r.createdTs, r.expiresTs, r.uploadedTs, r.contentType, r.servedType, r.uploadName, r.length, r.sha256,
        r.quarantinedBy, r.quarantinedTs, r.lastAccessTs,
      ])) === 1;
    },
    async getMedia(serverName, mediaId) {
      const r = await row<MediaRow>(db, Q.get, [serverName, mediaId]);
      return r ? toMedia(r) : undefined;
    },
    async pendingReservations(uploader, now) {
      const r = (await row<{ count: number; earliest: number | null }>(db, Q.pending, [uploader, now]))!;
      return { count: r.count, earliestExpiry: r.earliest };
    },
    async deleteExpiredReservations(now) { return exec(db, Q.deleteExpired, [now]); },
    async completeUpload(serverName, mediaId, c) {
      return (await exec(db, Q.complete, [c.contentType, c.servedType, c.uploadName, c.length, c.sha256, c.uploadedTs, serverName, mediaId])) === 1;
    },
    async setQuarantine(serverName, mediaId, by, ts) {
      return (await exec(db, Q.quarantine, [by, by === null ? null : ts, serverName, mediaId])) === 1;
    },
    async setLastAccess(serverName, mediaId, ts) { await exec(db, Q.lastAccess, [ts, serverName, mediaId]); },
    async deleteMedia(serverName, mediaId) {
      return transaction(pool, async (c) => {
        if ((await row(c, Q.lock, [serverName, mediaId])) === undefined) return undefined;
        const thumbs = (await rows<ThumbnailRow>(c, Q.thumbnailsOf, [serverName, mediaId])).map(toThumbnail);
        const b = new Batch(c);
        b.add(Q.deleteThumbnails, [serverName, mediaId]);
        b.add(Q.deleteMedia, [serverName, mediaId]);
        await b.flush();
        return thumbs;
      });
    },
    async listUserMedia(q) {
      const [page, count] = await Promise.all([
        rows<MediaRow>(db, listStatement(q.orderBy, q.dir), [q.uploader, q.limit, q.from]),
        row<{ n: number }>(db, Q.countUser, [q.uploader]),
      ]);
      return { media: page.map(toMedia), total: count!.n };
    },
    async getThumbnail(serverName, mediaId, width, height, method, animated) {
      const r = await row<ThumbnailRow>(db, Q.getThumbnail, [serverName, mediaId, width, height, method, animated]);
      return r ? toThumbnail(r) : undefined;
    },
    async putThumbnail(t) {
      await exec(db, Q.putThumbnail, [t.serverName, t.mediaId, t.width, t.height, t.method, t.animated, t.contentType, t.length, t.storeKey, t.createdTs]);
    },
  };
}
