// Where the bytes of media and thumbnails live: a small interface (an object store can implement it
// later) and its implementation on the local file system. Keys are opaque to the store: the media
// service makes them (hashes, never user input), the store only checks their shape.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';

/** What a completed write learned about the bytes. */
export interface StoredObject {
  size: number;
  /** Hex SHA-256 of the bytes. */
  sha256: string;
  /** The first bytes (up to HEAD_BYTES), for content sniffing. */
  head: Buffer;
}

/** An inclusive byte range. */
export interface ByteRange {
  start: number;
  end: number;
}

export const HEAD_BYTES = 4096;

/** The stream was longer than the write allowed; nothing was kept. */
export class MediaTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`More than ${maxBytes} bytes`);
    this.name = 'MediaTooLargeError';
  }
}

export interface MediaStore {
  /**
   * Streams `data` into the object `key` (replacing it), reading at most `maxBytes`: one byte more
   * rejects with MediaTooLargeError and keeps nothing, without reading the rest of the stream (the
   * caller answers, and closes the connection). An object is visible only once it is complete.
   */
  put(key: string, data: Readable, maxBytes: number): Promise<StoredObject>;
  /** The object's bytes (or a range of them); undefined when there is no such object. */
  get(key: string, range?: ByteRange): Promise<Readable | undefined>;
  /** The object's size, or undefined when there is none. */
  size(key: string): Promise<number | undefined>;
  /** Deletes the object (nothing when it does not exist). */
  delete(key: string): Promise<void>;
  /** Releases what the store holds (a temporary directory is removed). */
  close(): Promise<void>;
}

const KEY_RE = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;

/**
 * Files under one directory, spread over two levels of subdirectories by the key's first characters
 * (`ab/cd/abcd...`). Writes go to a temporary file beside the target and are renamed into place
 * when complete, so a reader never sees half a file.
 */
export class FileMediaStore implements MediaStore {
  private created = false;

  /** `temporary`: the directory belongs to this store (made on first write, removed by close()). */
  constructor(private readonly dir: string, private readonly temporary = false) {}

  /** A store in a fresh directory under the system's temporary directory (in-memory databases, tests). */
  static temporary(): FileMediaStore {
    return new FileMediaStore(join(tmpdir(), `hearth-media-${randomBytes(8).toString('hex')}`), true);
  }

  get directory(): string {
    return this.dir;
  }

  private pathOf(key: string): string {
    if (key.length > 200 || !KEY_RE.test(key)) throw new Error(`Invalid media store key ${JSON.stringify(key)}`);
    const a = key.slice(0, 2).padEnd(2, '_');
    const b = key.slice(2, 4).padEnd(2, '_');
    return join(this.dir, a, b, key);
  }

  async put(key: string, data: Readable, maxBytes: number): Promise<StoredObject> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    this.created = true;
    const part = `${path}.${randomBytes(6).toString('hex')}.part`;
    const file = createWriteStream(part, { flags: 'wx' });
    const hash = createHash('sha256');
    const head: Buffer[] = [];
    let headBytes = 0;
    let size = 0;
    try {
      await new Promise<void>((resolve, reject) => {
        let done = false;
        const finish = (err?: Error) => {
          if (done) return;
          done = true;
          data.off('data', onData);
          data.off('end', onEnd);
          data.off('error', onError);
          data.off('aborted', onAborted);
          file.off('error', onError);
          if (err) {
            // Stop reading: the rest of the upload is never read into memory or onto disk.
            data.pause();
            reject(err);
          } else {
            resolve();
          }
        };
        const onData = (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            finish(new MediaTooLargeError(maxBytes));
            return;
          }
          hash.update(chunk);
          if (headBytes < HEAD_BYTES) {
            head.push(chunk.subarray(0, HEAD_BYTES - headBytes));
            headBytes += Math.min(chunk.length, HEAD_BYTES - headBytes);
          }
          if (!file.write(chunk)) {
            data.pause();
            file.once('drain', () => {
              if (!done) data.resume();
            });
          }
        };
        const onEnd = () => {
          if (done) return;
          file.end((err?: Error | null) => {
            if (err) finish(err);
            else finish();
          });
        };
        const onError = (err: Error) => finish(err);
        const onAborted = () => finish(new Error('The upload was aborted'));
        data.on('data', onData);
        data.once('end', onEnd);
        data.once('error', onError);
        data.once('aborted', onAborted);
        file.once('error', onError);
        data.resume();
      });
      await rename(part, path);
    } catch (e) {
      file.destroy();
      await unlink(part).catch(() => undefined);
      throw e;
    }
    return { size, sha256: hash.digest('hex'), head: Buffer.concat(head) };
  }

  async get(key: string, range?: ByteRange): Promise<Readable | undefined> {
    const path = this.pathOf(key);
    if ((await this.size(key)) === undefined) return undefined;
    return createReadStream(path, range ? { start: range.start, end: range.end } : {});
  }

  async size(key: string): Promise<number | undefined> {
    try {
      return (await stat(this.pathOf(key))).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async close(): Promise<void> {
    if (this.temporary && this.created) await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * The store a config asks for (media.store_path): that directory; by default 'media' beside the
 * database file, or a temporary directory (removed when the server stops) for an in-memory database.
 */
export function mediaStoreFor(config: { database: { path: string }; media: { store_path: string | null } }): FileMediaStore {
  if (config.media.store_path !== null) return new FileMediaStore(config.media.store_path);
  if (config.database.path === ':memory:') return FileMediaStore.temporary();
  return new FileMediaStore(join(dirname(config.database.path), 'media'));
}

/** Reads a whole stream into memory (thumbnail sources, bounded by the caller). */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
