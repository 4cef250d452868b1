// The media repository (matrix-spec: content-repo.yaml, authed-content-repo.yaml; client-server-api
// "Content repository"). Uploads stream into a MediaStore (never buffered whole, refused past
// media.max_upload_bytes); metadata goes to the database; downloads and thumbnails are served with the
// type sniffing and headers of sniff.ts. Media IDs are 24 random URL-safe characters (18 bytes).
//
// Federation plugs in through a RemoteMediaFetcher: media of another server is fetched once, kept in
// the same store and table (uploader NULL) and served like local media, quarantine included.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Clock, TimerHandle } from '../../clock.js';
import type { Config } from '../../config.js';
import { cannotOverwriteMedia, forbidden, guestAccessForbidden, invalidParam, limitExceeded, MatrixError, notFound, notYetUploaded } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { MediaOrder, MediaRecord, MediaRecordStore } from '../../storage/media-types.js';
import type { AccountStore } from '../../storage/types.js';
import type { AuthContext } from '../accounts/events.js';
import { isValidServerName, parseUserId, randomToken } from '../ids.js';
import { KeyedMutex } from '../lock.js';
import { baseType, contentDisposition, dispositionType, INLINE_TYPES, OCTET_STREAM, servedTypeOf } from './sniff.js';
import { MediaTooLargeError, readAll, type ByteRange, type MediaStore } from './store.js';
import { chooseSize, makeThumbnail, THUMBNAIL_SOURCES, cannotThumbnail, type ThumbnailSize } from './thumbnails.js';

/** Another server's media (federation `/_matrix/federation/v1/media/download`), plugged in by the federation layer. */
export interface RemoteMediaFetcher {
  /** The media's bytes with its type and name; undefined when the server does not have it. */
  download(serverName: string, mediaId: string, opts: { maxBytes: number; timeoutMs: number }): Promise<{ contentType: string | null; uploadName: string | null; body: Readable } | undefined>;
}

/** A media or thumbnail answer: headers and a body to stream. */
export interface MediaResponse {
  contentType: string;
  contentDisposition: string;
  /** Size of the whole content. */
  length: number;
  /** The range served (206), if one was asked for and satisfiable. */
  range?: ByteRange;
  body: Readable;
}

export interface UploadInput {
  contentType: string | null;
  filename: string | null;
  /** The declared body length (Content-Length), when there is one. */
  contentLength: number | null;
  body: Readable;
}

const MEDIA_ID_RE = /^[A-Za-z0-9_-]{1,255}$/;
/** An ID reserved by POST /create must be uploaded within this time (Synapse's default: 24 hours). */
export const UNUSED_EXPIRY_MS = 24 * 60 * 60 * 1000;
/** Reserved IDs not uploaded yet, per user (Synapse's max_pending_media_uploads). */
export const MAX_PENDING_UPLOADS = 5;
const DEFAULT_WAIT_MS = 20_000;
const MAX_WAIT_MS = 60_000;
const LAST_ACCESS_GRANULARITY_MS = 10 * 60 * 1000;
const MAX_FILENAME_BYTES = 255;

/** 413 M_TOO_LARGE; the connection is closed after it (the rest of the upload is never read). */
const uploadTooLarge = (max: number) => new MatrixError(413, 'M_TOO_LARGE', `Uploads are limited to ${max} bytes`, {}, { Connection: 'close' });

export interface UserMediaEntry {
  created_ts: number;
  last_access_ts: number | null;
  media_id: string;
  media_length: number | null;
  media_type: string | null;
  quarantined_by: string | null;
  safe_from_quarantine: boolean;
  upload_name: string | null;
}

export const MEDIA_ORDERS: MediaOrder[] = ['media_id', 'upload_name', 'created_ts', 'last_access_ts', 'media_length', 'media_type', 'quarantined_by'];

export class MediaService {
  private readonly uploadLock = new KeyedMutex();
  private readonly thumbnailLock = new KeyedMutex();
  /** Downloads waiting for a reserved ID's content, by store key. */
  private readonly waiting = new Map<string, Set<() => void>>();

  constructor(
    private readonly config: Config,
    private readonly records: MediaRecordStore,
    private readonly store: MediaStore,
    private readonly accounts: AccountStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly remote?: RemoteMediaFetcher,
  ) {}

  private get serverName(): string {
    return this.config.server_name;
  }

  private get maxUpload(): number {
    return this.config.media.max_upload_bytes;
  }

  /** Where the bytes of a media item are in the store: a hash, never the (remote-controlled) IDs themselves. */
  static storeKey(serverName: string, mediaId: string): string {
    return createHash('sha256').update(`${serverName}/${mediaId}`).digest('hex');
  }

  private thumbnailKey(serverName: string, mediaId: string, t: ThumbnailSize, animated: boolean): string {
    return `${MediaService.storeKey(serverName, mediaId)}.${t.width}x${t.height}-${t.method}${animated ? '-animated' : ''}`;
  }

  /** GET /media/config (matrix-spec: authed-content-repo.yaml#getConfigAuthed). */
  mediaConfig(): { 'm.upload.size': number } {
    return { 'm.upload.size': this.maxUpload };
  }

  private checkFilename(filename: string | null): void {
    if (filename !== null && Buffer.byteLength(filename, 'utf8') > MAX_FILENAME_BYTES) throw invalidParam(`filename may be at most ${MAX_FILENAME_BYTES} bytes`);
  }

  /** Streams an upload into the store; 413 before reading when Content-Length says too much, or as soon as the stream does. */
  private async receive(key: string, input: UploadInput) {
    if (input.contentLength !== null && input.contentLength > this.maxUpload) throw uploadTooLarge(this.maxUpload);
    try {
      return await this.store.put(key, input.body, this.maxUpload);
    } catch (e) {
      if (e instanceof MediaTooLargeError) throw uploadTooLarge(this.maxUpload);
      throw e;
    }
  }

  /** POST /_matrix/media/v3/upload (matrix-spec: content-repo.yaml#uploadContent). */
  async upload(auth: AuthContext, input: UploadInput): Promise<{ content_uri: string }> {
    if (auth.isGuest) throw guestAccessForbidden();
    this.checkFilename(input.filename);
    const mediaId = randomToken(18);
    const key = MediaService.storeKey(this.serverName, mediaId);
    const stored = await this.receive(key, input);
    const now = this.clock.now();
    const created = await this.records.createMedia({
      serverName: this.serverName, mediaId, uploader: auth.userId, createdTs: now, expiresTs: null, uploadedTs: now,
      contentType: input.contentType, servedType: servedTypeOf(input.contentType, stored.head), uploadName: input.filename,
      length: stored.size, sha256: stored.sha256, quarantinedBy: null, quarantinedTs: null, lastAccessTs: null,
    }).catch(async (e: unknown) => {
      await this.store.delete(key);
      throw e;
    });
    if (!created) throw new MatrixError(500, 'M_UNKNOWN', 'Media ID collision');
    return { content_uri: `mxc://${this.serverName}/${mediaId}` };
  }

  /** POST /_matrix/media/v1/create (matrix-spec: content-repo.yaml#createContent): an ID to upload to later. */
  async create(auth: AuthContext): Promise<{ content_uri: string; unused_expires_at: number }> {
    if (auth.isGuest) throw guestAccessForbidden();
    const now = this.clock.now();
    await this.records.deleteExpiredReservations(now);
    const pending = await this.records.pendingReservations(auth.userId, now);
    if (pending.count >= MAX_PENDING_UPLOADS) throw limitExceeded((pending.earliestExpiry ?? now + 1000) - now);
    const mediaId = randomToken(18);
    const expiresTs = now + UNUSED_EXPIRY_MS;
    await this.records.createMedia({
      serverName: this.serverName, mediaId, uploader: auth.userId, createdTs: now, expiresTs, uploadedTs: null,
      contentType: null, servedType: null, uploadName: null, length: null, sha256: null, quarantinedBy: null, quarantinedTs: null, lastAccessTs: null,
    });
    return { content_uri: `mxc://${this.serverName}/${mediaId}`, unused_expires_at: expiresTs };
  }

  /**
   * PUT /_matrix/media/v3/upload/{serverName}/{mediaId} (matrix-spec: content-repo.yaml#uploadContentToMXC):
   * only its creator, only once (409 M_CANNOT_OVERWRITE_MEDIA), before it expires. Uploads to one ID
   * run one at a time, so a second one finds the first's content.
   */
  async uploadTo(auth: AuthContext, serverName: string, mediaId: string, input: UploadInput): Promise<void> {
    if (auth.isGuest) throw guestAccessForbidden();
    this.checkId(serverName, mediaId);
    this.checkFilename(input.filename);
    if (serverName !== this.serverName) throw notFound('Unknown media ID');
    const key = MediaService.storeKey(serverName, mediaId);
    await this.uploadLock.run(key, async () => {
      const m = await this.records.getMedia(serverName, mediaId);
      const now = this.clock.now();
      if (!m || (m.uploadedTs === null && m.expiresTs !== null && m.expiresTs <= now)) throw notFound('Unknown or expired media ID');
      if (m.uploader !== auth.userId) throw forbidden('You did not create this media ID');
      if (m.uploadedTs !== null) throw cannotOverwriteMedia();
      const stored = await this.receive(key, input);
      const done = await this.records.completeUpload(serverName, mediaId, {
        contentType: input.contentType, servedType: servedTypeOf(input.contentType, stored.head), uploadName: input.filename,
        length: stored.size, sha256: stored.sha256, uploadedTs: this.clock.now(),
      });
      if (!done) throw cannotOverwriteMedia();
    });
    for (const wake of this.waiting.get(key) ?? []) wake();
  }

  private checkId(serverName: string, mediaId: string): void {
    // client-server-api "Security considerations": server names by the grammar, media IDs [A-Za-z0-9_-].
    if (!isValidServerName(serverName)) throw invalidParam('Invalid server name');
    if (!MEDIA_ID_RE.test(mediaId)) throw invalidParam('Invalid media ID');
  }

  /** Waits up to `ms` for a reserved ID's content (uploadTo wakes it). */
  private waitForUpload(key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: TimerHandle | undefined;
      const set = this.waiting.get(key) ?? new Set();
      this.waiting.set(key, set);
      const done = () => {
        timer?.cancel();
        set.delete(done);
        if (set.size === 0 && this.waiting.get(key) === set) this.waiting.delete(key);
        resolve();
      };
      set.add(done);
      timer = this.clock.setTimer(done, ms);
    });
  }

  /**
   * The record of servable media: local (waiting up to `timeoutMs` for a reserved ID's content, then
   * 504 M_NOT_YET_UPLOADED), or remote (fetched once through the RemoteMediaFetcher and kept).
   * Unknown, expired and quarantined media: 404 M_NOT_FOUND.
   */
  private async servable(serverName: string, mediaId: string, timeoutMs: number | undefined): Promise<MediaRecord> {
    this.checkId(serverName, mediaId);
    let m = await this.records.getMedia(serverName, mediaId);
    if (!m && serverName !== this.serverName) m = await this.fetchRemote(serverName, mediaId, timeoutMs);
    if (!m || m.quarantinedBy !== null) throw notFound('Media not found');
    if (m.uploadedTs === null) {
      if (m.expiresTs !== null && m.expiresTs <= this.clock.now()) throw notFound('Media not found');
      const wait = Math.min(Math.max(0, timeoutMs ?? DEFAULT_WAIT_MS), MAX_WAIT_MS);
      if (wait > 0) await this.waitForUpload(MediaService.storeKey(serverName, mediaId), wait);
      m = await this.records.getMedia(serverName, mediaId);
      if (!m || m.quarantinedBy !== null) throw notFound('Media not found');
      if (m.uploadedTs === null) throw notYetUploaded();
    }
    const now = this.clock.now();
    if (m.lastAccessTs === null || now - m.lastAccessTs >= LAST_ACCESS_GRANULARITY_MS) await this.records.setLastAccess(serverName, mediaId, now);
    return m;
  }

  private async fetchRemote(serverName: string, mediaId: string, timeoutMs: number | undefined): Promise<MediaRecord | undefined> {
    if (!this.remote) return undefined;
    const key = MediaService.storeKey(serverName, mediaId);
    return this.uploadLock.run(key, async () => {
      const cached = await this.records.getMedia(serverName, mediaId);
      if (cached) return cached;
      const fetched = await this.remote!.download(serverName, mediaId, { maxBytes: this.maxUpload, timeoutMs: Math.min(timeoutMs ?? DEFAULT_WAIT_MS, MAX_WAIT_MS) });
      if (!fetched) return undefined;
      let stored;
      try {
        stored = await this.store.put(key, fetched.body, this.maxUpload);
      } catch (e) {
        // client-server-api "Security considerations": remote content too large is 502 M_TOO_LARGE.
        if (e instanceof MediaTooLargeError) throw new MatrixError(502, 'M_TOO_LARGE', 'Remote content is too large');
        throw e;
      }
      const now = this.clock.now();
      const record: MediaRecord = {
        serverName, mediaId, uploader: null, createdTs: now, expiresTs: null, uploadedTs: now, contentType: fetched.contentType,
        servedType: servedTypeOf(fetched.contentType, stored.head), uploadName: fetched.uploadName, length: stored.size, sha256: stored.sha256,
        quarantinedBy: null, quarantinedTs: null, lastAccessTs: null,
      };
      await this.records.createMedia(record);
      return record;
    });
  }

  /**
   * GET /download/{serverName}/{mediaId}[/{fileName}] (matrix-spec: authed-content-repo.yaml
   * #getContentAuthed, #getContentOverrideNameAuthed; content-repo.yaml#getContent): the bytes with
   * the served type, inline or attachment, the upload's (or the path's) file name, one byte range.
   */
  async download(serverName: string, mediaId: string, opts: { fileName?: string; timeoutMs?: number; range?: string; allowRemote?: boolean }): Promise<MediaResponse> {
    if (opts.allowRemote === false && serverName !== this.serverName) {
      this.checkId(serverName, mediaId);
      if (!(await this.records.getMedia(serverName, mediaId))) throw notFound('Remote media is not fetched when allow_remote is false');
    }
    const m = await this.servable(serverName, mediaId, opts.timeoutMs);
    const key = MediaService.storeKey(serverName, mediaId);
    const length = m.length ?? (await this.store.size(key)) ?? 0;
    const range = parseRange(opts.range, length);
    const body = await this.store.get(key, range);
    if (!body) {
      this.logger.error({ serverName, mediaId }, 'media bytes missing from the store');
      throw notFound('Media not found');
    }
    const served = m.servedType ?? OCTET_STREAM;
    return {
      contentType: served,
      contentDisposition: contentDisposition(dispositionType(served), opts.fileName ?? m.uploadName),
      length,
      ...(range ? { range } : {}),
      body,
    };
  }

  /**
   * GET /thumbnail/{serverName}/{mediaId} (matrix-spec: authed-content-repo.yaml#getContentThumbnailAuthed):
   * made once per size and method (thumbnails.ts), kept in the store, always `inline`.
   */
  async thumbnail(serverName: string, mediaId: string, req: ThumbnailSize & { animated: boolean; timeoutMs?: number; allowRemote?: boolean }): Promise<MediaResponse> {
    if (req.allowRemote === false && serverName !== this.serverName) {
      this.checkId(serverName, mediaId);
      if (!(await this.records.getMedia(serverName, mediaId))) throw notFound('Remote media is not fetched when allow_remote is false');
    }
    const m = await this.servable(serverName, mediaId, req.timeoutMs);
    const served = baseType(m.servedType ?? OCTET_STREAM);
    if (!THUMBNAIL_SOURCES.has(served)) throw cannotThumbnail();
    const size = chooseSize(req.width, req.height, req.method);
    const cached = await this.records.getThumbnail(serverName, mediaId, size.width, size.height, size.method, req.animated);
    const fromCache = cached ? await this.store.get(cached.storeKey) : undefined;
    if (cached && fromCache) return { contentType: cached.contentType, contentDisposition: thumbnailDisposition(cached.contentType), length: cached.length, body: fromCache };

    return this.thumbnailLock.run(this.thumbnailKey(serverName, mediaId, size, req.animated), async () => {
      // Made by the request this one waited for?
      const made0 = await this.records.getThumbnail(serverName, mediaId, size.width, size.height, size.method, req.animated);
      const body0 = made0 ? await this.store.get(made0.storeKey) : undefined;
      if (made0 && body0) return { contentType: made0.contentType, contentDisposition: thumbnailDisposition(made0.contentType), length: made0.length, body: body0 };
      const key = MediaService.storeKey(serverName, mediaId);
      const source = await this.store.get(key);
      if (!source) throw notFound('Media not found');
      const made = await makeThumbnail(await readAll(source), served, size, req.animated);
      if (made === 'original') {
        // "When the content is smaller than the requested dimensions, servers should return the original content."
        const body = await this.store.get(key);
        if (!body || !INLINE_TYPES.has(served)) throw cannotThumbnail();
        return { contentType: m.servedType!, contentDisposition: thumbnailDisposition(served), length: m.length ?? 0, body };
      }
      const thumbKey = this.thumbnailKey(serverName, mediaId, size, req.animated);
      await this.store.put(thumbKey, Readable.from([made.data]), made.data.length + 1);
      await this.records.putThumbnail({
        serverName, mediaId, width: size.width, height: size.height, method: size.method, animated: req.animated,
        contentType: made.contentType, length: made.data.length, storeKey: thumbKey, createdTs: this.clock.now(),
      });
      return { contentType: made.contentType, contentDisposition: thumbnailDisposition(made.contentType), length: made.data.length, body: Readable.from([made.data]) };
    });
  }

  // ---- admin ----------------------------------------------------------------------------------------

  /** POST /_synapse/admin/v1/media/quarantine|unquarantine/{serverName}/{mediaId}: quarantined media answers 404. */
  async quarantine(admin: AuthContext, serverName: string, mediaId: string, on: boolean): Promise<void> {
    this.checkId(serverName, mediaId);
    if (!(await this.records.setQuarantine(serverName, mediaId, on ? admin.userId : null, this.clock.now()))) throw notFound('Unknown media');
  }

  /** DELETE /_synapse/admin/v1/media/{serverName}/{mediaId}: the record, the bytes and the thumbnails. */
  async delete(serverName: string, mediaId: string): Promise<{ deleted_media: string[]; total: number }> {
    this.checkId(serverName, mediaId);
    if (serverName !== this.serverName) throw invalidParam('Can only delete local media');
    const thumbnails = await this.records.deleteMedia(serverName, mediaId);
    if (thumbnails === undefined) throw notFound('Unknown media');
    await this.store.delete(MediaService.storeKey(serverName, mediaId));
    for (const t of thumbnails) await this.store.delete(t.storeKey);
    return { deleted_media: [mediaId], total: 1 };
  }

  /** GET /_synapse/admin/v1/users/{userId}/media (Synapse's shape). */
  async listUserMedia(userId: string, q: { from: number; limit: number; orderBy: MediaOrder; dir: 'f' | 'b' }): Promise<{ media: UserMediaEntry[]; total: number; next_token?: number }> {
    if (parseUserId(userId)?.domain !== this.serverName) throw invalidParam('Can only look up local users');
    if (!(await this.accounts.getUser(userId))) throw notFound('Unknown user');
    const { media, total } = await this.records.listUserMedia({ uploader: userId, ...q });
    const entries = media.map((m): UserMediaEntry => ({
      created_ts: m.createdTs, last_access_ts: m.lastAccessTs, media_id: m.mediaId, media_length: m.length, media_type: m.contentType,
      quarantined_by: m.quarantinedBy, safe_from_quarantine: false, upload_name: m.uploadName,
    }));
    return { media: entries, total, ...(q.from + entries.length < total ? { next_token: q.from + entries.length } : {}) };
  }

  /** Releases the store (a temporary directory goes). */
  async close(): Promise<void> {
    for (const set of this.waiting.values()) for (const wake of [...set]) wake();
    await this.store.close();
  }
}

const thumbnailDisposition = (contentType: string) => contentDisposition('inline', `thumbnail.${extensionOf(contentType)}`);

function extensionOf(contentType: string): string {
  const sub = baseType(contentType).split('/')[1] ?? 'bin';
  return sub === 'jpeg' ? 'jpg' : sub;
}

/**
 * One `bytes=` range of a Range header (RFC 9110 14.1.2): `a-b`, `a-`, `-n`. Anything else (several
 * ranges, other units) is ignored and the whole content served; an unsatisfiable range is 416.
 */
export function parseRange(header: string | undefined, length: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw rangeNotSatisfiable(length);
    start = Math.max(0, length - suffix);
    end = length - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? length - 1 : Math.min(Number(m[2]), length - 1);
    if (m[2] !== '' && Number(m[2]) < start) return undefined;
  }
  if (start >= length || length === 0) throw rangeNotSatisfiable(length);
  return { start, end };
}

const rangeNotSatisfiable = (length: number) => new MatrixError(416, 'M_UNKNOWN', 'Range not satisfiable', {}, { 'Content-Range': `bytes */${length}` });
