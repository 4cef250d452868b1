// Pure parts of the media repository: what media is served as (sniff.ts), Content-Disposition,
// byte ranges, thumbnail sizes, and the file store's limits and atomic writes.
import { Readable } from 'node:stream';
import { readdir } from 'node:fs/promises';
import { contentDisposition, dispositionType, servedTypeOf } from '../../../src/core/media/sniff.js';
import { parseRange } from '../../../src/core/media/service.js';
import { FileMediaStore, MediaTooLargeError, mediaStoreFor, readAll } from '../../../src/core/media/store.js';
import { chooseSize } from '../../../src/core/media/thumbnails.js';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0]);
const GIF = Buffer.from('GIF89a....');
const WEBP = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WEBPVP8 ')]);

describe('servedTypeOf', () => {
  it('keeps a declared type the bytes agree with', () => {
    expect(servedTypeOf('image/png', PNG)).toBe('image/png');
    expect(servedTypeOf('image/jpeg', JPEG)).toBe('image/jpeg');
    expect(servedTypeOf('image/gif', GIF)).toBe('image/gif');
    expect(servedTypeOf('image/webp', WEBP)).toBe('image/webp');
    expect(servedTypeOf('text/plain; charset=utf-8', Buffer.from('hello'))).toBe('text/plain; charset=utf-8');
    expect(servedTypeOf('application/pdf', Buffer.from('%PDF-1.7'))).toBe('application/pdf');
    expect(servedTypeOf('video/mp4', Buffer.from('\0\0\0\x18ftypmp42'))).toBe('video/mp4');
  });

  it('serves an image type the bytes contradict as application/octet-stream', () => {
    expect(servedTypeOf('image/png', JPEG)).toBe('application/octet-stream');
    expect(servedTypeOf('image/jpeg', Buffer.from('<html>'))).toBe('application/octet-stream');
    expect(servedTypeOf('IMAGE/GIF', Buffer.from('encrypted'))).toBe('application/octet-stream');
  });

  it('serves HTML declared as plain text, CSS, CSV or JSON as text/html', () => {
    expect(servedTypeOf('text/plain', Buffer.from('\uFEFF  <!doctype html><p>hi'))).toBe('text/html');
    expect(servedTypeOf('text/css', Buffer.from('<script>alert(1)</script>'))).toBe('text/html');
    expect(servedTypeOf('application/json', Buffer.from('<svg onload=alert(1)>'))).toBe('text/html');
    expect(servedTypeOf('text/plain', Buffer.from('a < b and <b> is bold'))).toBe('text/plain');
  });

  it('serves markup declared as audio or video, and missing or malformed types, as application/octet-stream', () => {
    expect(servedTypeOf('video/mp4', Buffer.from('<html><script>'))).toBe('application/octet-stream');
    expect(servedTypeOf(null, PNG)).toBe('application/octet-stream');
    expect(servedTypeOf('not a type', PNG)).toBe('application/octet-stream');
    expect(servedTypeOf('text/plain\r\nX-Injected: yes', Buffer.from('x'))).toBe('application/octet-stream');
  });
});

describe('dispositionType and contentDisposition', () => {
  it('is inline only for the spec\'s safe types', () => {
    expect(dispositionType('image/png')).toBe('inline');
    expect(dispositionType('text/plain; charset=utf-8')).toBe('inline');
    expect(dispositionType('audio/x-flac')).toBe('inline');
    for (const t of ['text/html', 'image/svg+xml', 'application/pdf', 'application/octet-stream', 'application/javascript', 'text/xml']) expect(dispositionType(t)).toBe('attachment');
  });

  it('quotes plain names and encodes others with filename* (RFC 6266, RFC 5987)', () => {
    expect(contentDisposition('inline', null)).toBe('inline');
    expect(contentDisposition('attachment', 'a b.txt')).toBe('attachment; filename="a b.txt"');
    expect(contentDisposition('inline', 'ünï.png')).toBe("inline; filename=\"_n_.png\"; filename*=UTF-8''%C3%BCn%C3%AF.png");
    expect(contentDisposition('inline', 'a"b\\c.txt')).toBe("inline; filename=\"a_b_c.txt\"; filename*=UTF-8''a%22b%5Cc.txt");
    expect(contentDisposition('attachment', 'x\r\ny.txt')).toBe("attachment; filename=\"x__y.txt\"; filename*=UTF-8''x%0D%0Ay.txt");
    expect(contentDisposition('inline', "it's (1).txt")).toBe("inline; filename=\"it's (1).txt\"");
    expect(contentDisposition('inline', "é's (1)*.txt")).toBe("inline; filename=\"_'s (1)*.txt\"; filename*=UTF-8''%C3%A9%27s%20%281%29%2A.txt");
  });
});

describe('parseRange', () => {
  it('reads one bytes range, clamped to the content', () => {
    expect(parseRange(undefined, 10)).toBeUndefined();
    expect(parseRange('bytes=0-3', 10)).toEqual({ start: 0, end: 3 });
    expect(parseRange('bytes=4-', 10)).toEqual({ start: 4, end: 9 });
    expect(parseRange('bytes=-4', 10)).toEqual({ start: 6, end: 9 });
    expect(parseRange('bytes=5-100', 10)).toEqual({ start: 5, end: 9 });
    expect(parseRange('bytes=-100', 10)).toEqual({ start: 0, end: 9 });
  });

  it('ignores what it does not understand and refuses what cannot be satisfied (416)', () => {
    expect(parseRange('bytes=0-1,3-4', 10)).toBeUndefined();
    expect(parseRange('items=0-1', 10)).toBeUndefined();
    expect(parseRange('bytes=5-2', 10)).toBeUndefined();
    expect(() => parseRange('bytes=10-', 10)).toThrow(expect.objectContaining({ status: 416 }));
    expect(() => parseRange('bytes=-0', 10)).toThrow(expect.objectContaining({ status: 416 }));
  });
});

describe('chooseSize', () => {
  it('picks the smallest standard size of the method that covers the request', () => {
    expect(chooseSize(10, 10, 'crop')).toEqual({ width: 32, height: 32, method: 'crop' });
    expect(chooseSize(33, 20, 'crop')).toEqual({ width: 96, height: 96, method: 'crop' });
    expect(chooseSize(32, 32, 'scale')).toEqual({ width: 320, height: 240, method: 'scale' });
    expect(chooseSize(320, 241, 'scale')).toEqual({ width: 640, height: 480, method: 'scale' });
    expect(chooseSize(800, 600, 'scale')).toEqual({ width: 800, height: 600, method: 'scale' });
  });

  it('makes larger requests as asked, bounded', () => {
    expect(chooseSize(97, 97, 'crop')).toEqual({ width: 97, height: 97, method: 'crop' });
    expect(chooseSize(801, 100, 'scale')).toEqual({ width: 801, height: 100, method: 'scale' });
    expect(chooseSize(100_000, 50, 'scale')).toEqual({ width: 2048, height: 50, method: 'scale' });
  });
});

describe('FileMediaStore', () => {
  let store: FileMediaStore;
  beforeEach(() => { store = FileMediaStore.temporary(); });
  afterEach(() => store.close());

  it('writes, reads (whole and a range), sizes and deletes objects', async () => {
    const put = await store.put('abcdef', Readable.from([Buffer.from('hello '), Buffer.from('world')]), 100);
    expect(put.size).toBe(11);
    expect(put.sha256).toBe('b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9');
    expect(put.head.toString()).toBe('hello world');
    expect((await readAll((await store.get('abcdef'))!)).toString()).toBe('hello world');
    expect((await readAll((await store.get('abcdef', { start: 6, end: 10 }))!)).toString()).toBe('world');
    expect(await store.size('abcdef')).toBe(11);
    await store.delete('abcdef');
    expect(await store.get('abcdef')).toBeUndefined();
    await store.delete('abcdef');
  });

  it('refuses a stream past the limit and keeps nothing, not even a partial file', async () => {
    await expect(store.put('toolarge', Readable.from([Buffer.alloc(60), Buffer.alloc(60)]), 100)).rejects.toBeInstanceOf(MediaTooLargeError);
    expect(await store.get('toolarge')).toBeUndefined();
    const files = await readdir(store.directory, { recursive: true });
    expect(files.filter((f) => String(f).endsWith('.part'))).toEqual([]);
  });

  it('refuses keys that could escape its directory', async () => {
    for (const key of ['../x', 'a/b', '.hidden', '', 'a..b']) await expect(store.put(key, Readable.from([Buffer.from('x')]), 10)).rejects.toThrow(/Invalid media store key/);
  });

  it('removes its temporary directory on close, and only then', async () => {
    await store.put('keep', Readable.from([Buffer.from('x')]), 10);
    const dir = store.directory;
    await store.close();
    await expect(readdir(dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('is placed by the config: store_path, beside the database, or temporary for :memory:', () => {
    expect(mediaStoreFor({ database: { path: './data/hearth.db' }, media: { store_path: '/srv/media' } }).directory).toBe('/srv/media');
    expect(mediaStoreFor({ database: { path: './data/hearth.db' }, media: { store_path: null } }).directory).toBe('data/media');
    expect(mediaStoreFor({ database: { path: ':memory:' }, media: { store_path: null } }).directory).toMatch(/hearth-media-[0-9a-f]{16}$/);
  });
});
