// The media repository (matrix-spec: content-repo.yaml, authed-content-repo.yaml; client-server-api
// "Content repository"): uploads, reserved IDs, downloads with safe headers, thumbnails of real images
// made by sharp, the upload limit (refused while streaming), the legacy unauthenticated paths and
// their switch, and the r0 prefix.
import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { bearer, expectError, makeTestServer, type TestServer, type TestUser } from '../../helpers/server.js';
import { Readable } from 'node:stream';
import { MediaService } from '../../../src/core/media/service.js';
import { FileMediaStore } from '../../../src/core/media/store.js';

const CLIENT = '/_matrix/client/v1/media';
const MEDIA = '/_matrix/media/v3';
const CSP = "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';";

const s = makeTestServer({ presence: { enabled: false }, media: { allow_legacy_unauthenticated: true } });
afterAll(() => s.close());

let n = 0;
const user = (name = 'alice') => s.register(`${name}${++n}`);

const png = (width: number, height: number, colour = { r: 200, g: 30, b: 30 }) =>
  sharp({ create: { width, height, channels: 3, background: colour } }).png().toBuffer();
const jpeg = (width: number, height: number) => sharp({ create: { width, height, channels: 3, background: { r: 10, g: 120, b: 200 } } }).jpeg().toBuffer();
/** A two-frame animated GIF (red, then black). */
async function animatedGif(width: number, height: number): Promise<Buffer> {
  const frame = (r: number) => sharp({ create: { width, height, channels: 3, background: { r, g: 0, b: 0 } } }).raw().toBuffer();
  const frames = Buffer.concat([await frame(255), await frame(0)]);
  return sharp(frames, { raw: { width, height: height * 2, channels: 3, pageHeight: height } }).gif({ loop: 0 }).toBuffer();
}

/** supertest body parser: bytes as a Buffer, JSON (errors) parsed. */
function binaryParser(res: IncomingMessage, cb: (err: Error | null, body: unknown) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => {
    const body = Buffer.concat(chunks);
    cb(null, /application\/json/.test(res.headers['content-type'] ?? '') ? JSON.parse(body.toString()) : body);
  });
}
const binary = binaryParser as never;

async function upload(u: TestUser, body: Buffer | string, contentType?: string, filename?: string, server: TestServer = s) {
  let r = server.http.post(`${MEDIA}/upload`).set(bearer(u));
  if (filename !== undefined) r = r.query({ filename });
  if (contentType !== undefined) r = r.set('Content-Type', contentType);
  return r.send(body);
}
async function uploaded(u: TestUser, body: Buffer | string, contentType?: string, filename?: string): Promise<string> {
  const r = await upload(u, body, contentType, filename);
  expect(r.status).toBe(200);
  expect(r.body.content_uri).toMatch(/^mxc:\/\/test\.local\/[A-Za-z0-9_-]{24}$/);
  return (r.body.content_uri as string).slice('mxc://test.local/'.length);
}
const download = (u: TestUser | undefined, mediaId: string, path = CLIENT, server: TestServer = s) => {
  const r = server.http.get(`${path}/download/test.local/${mediaId}`).buffer(true).parse(binary);
  return u ? r.set(bearer(u)) : r;
};
const thumbnail = (u: TestUser, mediaId: string, query: Record<string, string | number>) =>
  s.http.get(`${CLIENT}/thumbnail/test.local/${mediaId}`).query(query).set(bearer(u)).buffer(true).parse(binary);

function expectSecurityHeaders(res: { headers: Record<string, string> }): void {
  expect(res.headers['content-security-policy']).toBe(CSP);
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['cross-origin-resource-policy']).toBe('cross-origin');
}

describe('POST /_matrix/media/v3/upload and GET /_matrix/client/v1/media/download', () => {
  it('stores the bytes and serves them back with type, inline disposition and file name', async () => {
    const u = await user();
    const image = await png(64, 32);
    const id = await uploaded(u, image, 'image/png', 'cat.png');
    const r = await download(u, id);
    expect(r.status).toBe(200);
    expect(Buffer.compare(r.body as Buffer, image)).toBe(0);
    expect(r.headers['content-type']).toBe('image/png');
    expect(r.headers['content-disposition']).toBe('inline; filename="cat.png"');
    expect(r.headers['content-length']).toBe(String(image.length));
    expectSecurityHeaders(r);
  });

  it('gives unguessable IDs: 24 URL-safe random characters, different every time', async () => {
    const u = await user();
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add(await uploaded(u, 'x', 'text/plain'));
    expect(ids.size).toBe(5);
  });

  it('serves types outside the inline list as attachments, and no file name when none was given', async () => {
    const u = await user();
    const id = await uploaded(u, '<html><script>alert(1)</script></html>', 'text/html');
    const r = await download(u, id);
    expect(r.headers['content-type']).toMatch(/^text\/html/);
    expect(r.headers['content-disposition']).toBe('attachment');
    expectSecurityHeaders(r);
    const svg = await uploaded(u, '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 'image/svg+xml', 'x.svg');
    expect((await download(u, svg)).headers['content-disposition']).toBe('attachment; filename="x.svg"');
  });

  it('does not trust a declared type the bytes contradict: HTML as text/plain, a non-image as image/png', async () => {
    const u = await user();
    const html = await uploaded(u, '<!DOCTYPE html><html><body><script>alert(1)</script></body></html>', 'text/plain');
    const r1 = await download(u, html);
    expect(r1.headers['content-type']).toBe('text/html');
    expect(r1.headers['content-disposition']).toBe('attachment');
    const fake = await uploaded(u, Buffer.from('definitely not a png: encrypted bytes'), 'image/png', 'photo.png');
    const r2 = await download(u, fake);
    expect(r2.headers['content-type']).toBe('application/octet-stream');
    expect(r2.headers['content-disposition']).toBe('attachment; filename="photo.png"');
    // What was declared is kept for the admin API.
    const [m] = (await s.services.media.listUserMedia(u.userId, { from: 0, limit: 10, orderBy: 'created_ts', dir: 'f' })).media.filter((x) => x.media_id === fake);
    expect(m?.media_type).toBe('image/png');
  });

  it('serves media without a declared type as application/octet-stream attachments', async () => {
    const u = await user();
    const r = await s.http.post(`${MEDIA}/upload`).set(bearer(u)).set('Content-Type', '').send(Buffer.from([1, 2, 3]));
    expect(r.status).toBe(200);
    const d = await download(u, (r.body.content_uri as string).split('/').pop()!);
    expect(d.headers['content-type']).toBe('application/octet-stream');
    expect(d.headers['content-disposition']).toBe('attachment');
  });

  it('encodes file names safely (RFC 6266 filename*), and takes the name from the path when given', async () => {
    const u = await user();
    const id = await uploaded(u, 'hello', 'text/plain', 'résumé "final".txt');
    const r = await download(u, id);
    expect(r.headers['content-disposition']).toBe(`inline; filename="r_sum_ _final_.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.txt`);
    const named = await s.http.get(`${CLIENT}/download/test.local/${id}/other.txt`).set(bearer(u));
    expect(named.headers['content-disposition']).toBe('inline; filename="other.txt"');
    expect(named.text).toBe('hello');
  });

  it('serves byte ranges', async () => {
    const u = await user();
    const id = await uploaded(u, '0123456789', 'text/plain');
    const r = await s.http.get(`${CLIENT}/download/test.local/${id}`).set(bearer(u)).set('Range', 'bytes=2-5');
    expect(r.status).toBe(206);
    expect(r.text).toBe('2345');
    expect(r.headers['content-range']).toBe('bytes 2-5/10');
    expect((await s.http.get(`${CLIENT}/download/test.local/${id}`).set(bearer(u)).set('Range', 'bytes=-3')).text).toBe('789');
    const bad = await s.http.get(`${CLIENT}/download/test.local/${id}`).set(bearer(u)).set('Range', 'bytes=20-');
    expect(bad.status).toBe(416);
    expect(bad.headers['content-range']).toBe('bytes */10');
  });

  it('answers 404 M_NOT_FOUND for unknown media, 400 for malformed IDs, 401 without a token', async () => {
    const u = await user();
    expectError(await download(u, 'AAAAAAAAAAAAAAAAAAAAAAAA'), 404, 'M_NOT_FOUND');
    expectError(await s.http.get(`${CLIENT}/download/test.local/bad.id`).set(bearer(u)), 400, 'M_INVALID_PARAM');
    expectError(await s.http.get(`${CLIENT}/download/bad_server!/AAAA`).set(bearer(u)), 400, 'M_INVALID_PARAM');
    const noToken = await download(undefined, 'AAAA');
    expectError(noToken, 401, 'M_MISSING_TOKEN');
    expectSecurityHeaders(noToken);
  });

  it('answers 404 for media of another server while there is no federation', async () => {
    const u = await user();
    expectError(await s.http.get(`${CLIENT}/download/elsewhere.example/AAAA`).set(bearer(u)), 404, 'M_NOT_FOUND');
  });

  it('lets guests download but not upload', async () => {
    const u = await user();
    const id = await uploaded(u, 'for everyone', 'text/plain');
    const g = await s.http.post('/_matrix/client/v3/register').query({ kind: 'guest' }).send({});
    const guest = { userId: g.body.user_id, accessToken: g.body.access_token, deviceId: g.body.device_id, password: '' };
    expect((await s.http.get(`${CLIENT}/download/test.local/${id}`).set(bearer(guest))).text).toBe('for everyone');
    expectError(await upload(guest, 'x', 'text/plain'), 403, 'M_GUEST_ACCESS_FORBIDDEN');
  });
});

describe('POST /_matrix/media/v1/create and PUT /_matrix/media/v3/upload/{serverName}/{mediaId}', () => {
  it('reserves an ID that its creator uploads to once', async () => {
    const u = await user();
    const c = await s.http.post('/_matrix/media/v1/create').set(bearer(u)).send({});
    expect(c.status).toBe(200);
    expect(c.body.unused_expires_at).toBe(s.clock.now() + 24 * 60 * 60 * 1000);
    const id = (c.body.content_uri as string).split('/').pop()!;
    const put = await s.http.put(`${MEDIA}/upload/test.local/${id}`).query({ filename: 'later.txt' }).set(bearer(u)).set('Content-Type', 'text/plain').send('uploaded later');
    expect(put.status).toBe(200);
    expect(put.body).toEqual({});
    const r = await s.http.get(`${CLIENT}/download/test.local/${id}`).set(bearer(u));
    expect(r.text).toBe('uploaded later');
    expect(r.headers['content-disposition']).toBe('inline; filename="later.txt"');
    expectError(await s.http.put(`${MEDIA}/upload/test.local/${id}`).set(bearer(u)).set('Content-Type', 'text/plain').send('again'), 409, 'M_CANNOT_OVERWRITE_MEDIA');
  });

  it('refuses an upload by another user (403), to an unknown or expired ID (404)', async () => {
    const u = await user();
    const other = await user('mallory');
    const id = ((await s.http.post('/_matrix/media/v1/create').set(bearer(u)).send({})).body.content_uri as string).split('/').pop()!;
    expectError(await s.http.put(`${MEDIA}/upload/test.local/${id}`).set(bearer(other)).send('x'), 403, 'M_FORBIDDEN');
    expectError(await s.http.put(`${MEDIA}/upload/test.local/AAAAAAAAAAAAAAAAAAAAAAAA`).set(bearer(u)).send('x'), 404, 'M_NOT_FOUND');
    expectError(await s.http.put(`${MEDIA}/upload/elsewhere.example/${id}`).set(bearer(u)).send('x'), 404, 'M_NOT_FOUND');
    s.clock.advance(24 * 60 * 60 * 1000);
    expectError(await s.http.put(`${MEDIA}/upload/test.local/${id}`).set(bearer(u)).send('x'), 404, 'M_NOT_FOUND');
  });

  it('limits IDs reserved and not uploaded to five per user (429 M_LIMIT_EXCEEDED)', async () => {
    const u = await user();
    for (let i = 0; i < 5; i++) expect((await s.http.post('/_matrix/media/v1/create').set(bearer(u)).send({})).status).toBe(200);
    const sixth = await s.http.post('/_matrix/media/v1/create').set(bearer(u)).send({});
    expectError(sixth, 429, 'M_LIMIT_EXCEEDED');
    expect(sixth.body.retry_after_ms).toBeGreaterThan(0);
  });

  it('a download of a reserved ID waits for the upload, or answers 504 M_NOT_YET_UPLOADED', async () => {
    const u = await user();
    const id = ((await s.http.post('/_matrix/media/v1/create').set(bearer(u)).send({})).body.content_uri as string).split('/').pop()!;
    expectError(await s.http.get(`${CLIENT}/download/test.local/${id}`).query({ timeout_ms: 0 }).set(bearer(u)), 504, 'M_NOT_YET_UPLOADED');
    const waiting = s.http.get(`${CLIENT}/download/test.local/${id}`).query({ timeout_ms: 10_000 }).set(bearer(u)).then((r) => r);
    await new Promise((r) => setTimeout(r, 50));
    await s.http.put(`${MEDIA}/upload/test.local/${id}`).set(bearer(u)).set('Content-Type', 'text/plain').send('arrived');
    const r = await waiting;
    expect(r.status).toBe(200);
    expect(r.text).toBe('arrived');
  });

  it('a waiting download gives up when its timeout passes (fake clock)', async () => {
    const u = await user();
    const id = ((await s.http.post('/_matrix/media/v1/create').set(bearer(u)).send({})).body.content_uri as string).split('/').pop()!;
    const waiting = s.http.get(`${CLIENT}/download/test.local/${id}`).query({ timeout_ms: 5000 }).set(bearer(u)).then((r) => r);
    await new Promise((r) => setTimeout(r, 50));
    s.clock.advance(5000);
    expectError(await waiting, 504, 'M_NOT_YET_UPLOADED');
  });
});

describe('GET /_matrix/client/v1/media/thumbnail', () => {
  it('scales into the smallest standard box covering the request, keeping the aspect ratio', async () => {
    const u = await user();
    const id = await uploaded(u, await png(1000, 500), 'image/png');
    const r = await thumbnail(u, id, { width: 300, height: 200, method: 'scale' });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('image/png');
    expect(r.headers['content-disposition']).toBe('inline; filename="thumbnail.png"');
    expectSecurityHeaders(r);
    const meta = await sharp(r.body as Buffer).metadata();
    expect([meta.width, meta.height]).toEqual([320, 160]);
  });

  it('crops to the requested aspect ratio, never smaller than asked', async () => {
    const u = await user();
    const id = await uploaded(u, await jpeg(1000, 500), 'image/jpeg');
    for (const [w, h, expected] of [[32, 32, 32], [50, 50, 96], [96, 96, 96]] as const) {
      const r = await thumbnail(u, id, { width: w, height: h, method: 'crop' });
      expect(r.headers['content-type']).toBe('image/jpeg');
      const meta = await sharp(r.body as Buffer).metadata();
      expect([meta.width, meta.height, meta.format]).toEqual([expected, expected, 'jpeg']);
    }
  });

  it('makes sizes beyond the standard ones on request', async () => {
    const u = await user();
    const id = await uploaded(u, await png(2000, 1000), 'image/png');
    const meta = await sharp((await thumbnail(u, id, { width: 1000, height: 1000, method: 'scale' })).body as Buffer).metadata();
    expect([meta.width, meta.height]).toEqual([1000, 500]);
  });

  it('answers the original when it is smaller than asked (never upscales)', async () => {
    const u = await user();
    const small = await png(40, 20);
    const id = await uploaded(u, small, 'image/png');
    const r = await thumbnail(u, id, { width: 320, height: 240, method: 'scale' });
    expect(Buffer.compare(r.body as Buffer, small)).toBe(0);
    expect(r.headers['content-disposition']).toBe('inline; filename="thumbnail.png"');
  });

  it('makes each thumbnail once and keeps it', async () => {
    const u = await user();
    const id = await uploaded(u, await png(800, 800), 'image/png');
    const a = await thumbnail(u, id, { width: 96, height: 96, method: 'crop' });
    const b = await thumbnail(u, id, { width: 90, height: 90, method: 'crop' });
    expect(Buffer.compare(a.body as Buffer, b.body as Buffer)).toBe(0);
    expect(await s.services.storage.media.getThumbnail('test.local', id, 96, 96, 'crop', false)).toBeDefined();
  });

  it('gives an animated WebP only when animated=true, else the first frame', async () => {
    const u = await user();
    const gif = await animatedGif(400, 400);
    expect((await sharp(gif, { animated: true }).metadata()).pages).toBe(2);
    const id = await uploaded(u, gif, 'image/gif');
    const moving = await thumbnail(u, id, { width: 96, height: 96, method: 'crop', animated: 'true' });
    expect(moving.headers['content-type']).toBe('image/webp');
    expect((await sharp(moving.body as Buffer, { animated: true }).metadata()).pages).toBe(2);
    const still = await thumbnail(u, id, { width: 96, height: 96, method: 'crop' });
    expect(still.headers['content-type']).toBe('image/png');
    expect((await sharp(still.body as Buffer, { animated: true }).metadata()).pages ?? 1).toBe(1);
    const stillFalse = await thumbnail(u, id, { width: 96, height: 96, method: 'crop', animated: 'false' });
    expect(stillFalse.headers['content-type']).toBe('image/png');
  });

  it('refuses what is not an image (400 M_UNKNOWN), and bad parameters', async () => {
    const u = await user();
    const text = await uploaded(u, 'not an image', 'text/plain');
    expectError(await thumbnail(u, text, { width: 32, height: 32 }), 400, 'M_UNKNOWN');
    const fake = await uploaded(u, 'not a png', 'image/png');
    expectError(await thumbnail(u, fake, { width: 32, height: 32 }), 400, 'M_UNKNOWN');
    const image = await uploaded(u, await png(100, 100), 'image/png');
    expectError(await thumbnail(u, image, { width: 0, height: 32 }), 400, 'M_INVALID_PARAM');
    expectError(await thumbnail(u, image, { width: 32 }), 400, 'M_MISSING_PARAM');
    expectError(await thumbnail(u, image, { width: 32, height: 32, method: 'stretch' }), 400, 'M_INVALID_PARAM');
    expectError(await thumbnail(u, image, { width: 32, height: 32, animated: 'maybe' }), 400, 'M_INVALID_PARAM');
  });
});

describe('GET /media/config and /media/preview_url', () => {
  it('advertises the upload limit, authenticated and legacy', async () => {
    const u = await user();
    const r = await s.http.get(`${CLIENT}/config`).set(bearer(u));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ 'm.upload.size': 52428800 });
    expect((await s.http.get(`${MEDIA}/config`).set(bearer(u))).body).toEqual(r.body);
    expectError(await s.http.get(`${CLIENT}/config`), 401, 'M_MISSING_TOKEN');
  });

  it('answers URL previews with a clear refusal', async () => {
    const u = await user();
    const r = await s.http.get(`${CLIENT}/preview_url`).query({ url: 'https://matrix.org' }).set(bearer(u));
    expectError(r, 404, 'M_UNRECOGNIZED');
    expect(r.body.error).toMatch(/URL previews are not enabled/);
    expectError(await s.http.get(`${MEDIA}/preview_url`).query({ url: 'https://matrix.org' }).set(bearer(u)), 404, 'M_UNRECOGNIZED');
  });
});

describe('the upload size limit', () => {
  const small = makeTestServer({ media: { max_upload_bytes: 1000 } });
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = small.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await small.close();
  });

  it('accepts an upload of exactly the limit and refuses one byte more (413 M_TOO_LARGE)', async () => {
    const u = await small.register('alice');
    expect((await upload(u, Buffer.alloc(1000, 1), 'application/octet-stream', undefined, small)).status).toBe(200);
    const r = await upload(u, Buffer.alloc(1001, 1), 'application/octet-stream', undefined, small);
    expectError(r, 413, 'M_TOO_LARGE');
    expectSecurityHeaders(r);
    expect((await small.services.media.listUserMedia(u.userId, { from: 0, limit: 10, orderBy: 'created_ts', dir: 'f' })).total).toBe(1);
  });

  it('refuses a chunked upload without Content-Length as soon as it passes the limit, without reading the rest', async () => {
    const u = await small.register('bob');
    const req = httpRequest(`${base}/_matrix/media/v3/upload`, { method: 'POST', headers: { Authorization: `Bearer ${u.accessToken}`, 'Content-Type': 'application/octet-stream', 'Transfer-Encoding': 'chunked' } });
    req.on('error', () => undefined); // the server closes the connection after answering
    const response = new Promise<{ status: number; body: string; connection: string | undefined }>((resolve) => {
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c.toString(); });
        res.on('end', () => resolve({ status: res.statusCode!, body, connection: res.headers.connection }));
      });
    });
    let sent = 0;
    let answered = false;
    void response.then(() => { answered = true; });
    // Keep sending 200-byte chunks until the server answers; it must answer long before 10 KB.
    while (!answered && sent < 100_000) {
      req.write(Buffer.alloc(200, 7));
      sent += 200;
      await new Promise((r) => setTimeout(r, 5));
    }
    const r = await response;
    req.destroy();
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).errcode).toBe('M_TOO_LARGE');
    expect(r.connection).toBe('close');
    expect(sent).toBeLessThan(10_000);
    expect((await small.services.media.listUserMedia(u.userId, { from: 0, limit: 10, orderBy: 'created_ts', dir: 'f' })).total).toBe(0);
  });

  it('advertises the limit', async () => {
    const u = await small.register('carol');
    expect((await small.http.get(`${CLIENT}/config`).set(bearer(u))).body).toEqual({ 'm.upload.size': 1000 });
  });
});

describe('legacy unauthenticated media (/_matrix/media/v3, /_matrix/media/r0)', () => {
  it('serves downloads and thumbnails without a token when media.allow_legacy_unauthenticated is on', async () => {
    const u = await user();
    const image = await png(500, 500);
    const id = await uploaded(u, image, 'image/png', 'legacy.png');
    const r = await download(undefined, id, MEDIA);
    expect(r.status).toBe(200);
    expect(Buffer.compare(r.body as Buffer, image)).toBe(0);
    expectSecurityHeaders(r);
    const named = await s.http.get(`${MEDIA}/download/test.local/${id}/renamed.png`);
    expect(named.headers['content-disposition']).toBe('inline; filename="renamed.png"');
    const t = await s.http.get(`${MEDIA}/thumbnail/test.local/${id}`).query({ width: 96, height: 96, method: 'crop' }).buffer(true).parse(binary);
    expect(t.status).toBe(200);
    expect((await sharp(t.body as Buffer).metadata()).width).toBe(96);
  });

  it('answers the r0 prefix like v3 (upload, download, thumbnail, config)', async () => {
    const u = await user();
    const up = await s.http.post('/_matrix/media/r0/upload').set(bearer(u)).set('Content-Type', 'text/plain').send('old client');
    expect(up.status).toBe(200);
    const id = (up.body.content_uri as string).split('/').pop()!;
    expect((await s.http.get(`/_matrix/media/r0/download/test.local/${id}`)).text).toBe('old client');
    expect((await s.http.get('/_matrix/media/r0/config').set(bearer(u))).body).toEqual({ 'm.upload.size': 52428800 });
    // Routes added after r0 have no r0 alias.
    expectError(await s.http.post('/_matrix/media/r0/create').set(bearer(u)).send({}), 404, 'M_UNRECOGNIZED');
  });

  it('answers 404 M_NOT_FOUND on the legacy paths when the switch is off (the default), authenticated or not', async () => {
    const frozen = makeTestServer();
    try {
      expect(frozen.config.media.allow_legacy_unauthenticated).toBe(false);
      const u = await frozen.register('alice');
      const up = await frozen.http.post(`${MEDIA}/upload`).set(bearer(u)).set('Content-Type', 'text/plain').send('new media');
      const id = (up.body.content_uri as string).split('/').pop()!;
      const legacy = await frozen.http.get(`${MEDIA}/download/test.local/${id}`);
      expectError(legacy, 404, 'M_NOT_FOUND');
      expectSecurityHeaders(legacy);
      expectError(await frozen.http.get(`${MEDIA}/download/test.local/${id}`).set(bearer(u)), 404, 'M_NOT_FOUND');
      expectError(await frozen.http.get(`/_matrix/media/r0/thumbnail/test.local/${id}`).query({ width: 32, height: 32 }), 404, 'M_NOT_FOUND');
      expect((await frozen.http.get(`${CLIENT}/download/test.local/${id}`).set(bearer(u))).text).toBe('new media');
    } finally {
      await frozen.close();
    }
  });
});

describe('the remote media hook', () => {
  it('fetches media of another server once through the RemoteMediaFetcher and serves it like local media', async () => {
    // A server gets its fetcher as ServiceOptions.remoteMedia; here the service is built by hand around a fake one.
    const calls: string[] = [];
    const store = FileMediaStore.temporary();
    const service = new MediaService(s.config, s.services.storage.media, store, s.services.storage.accounts, s.clock, s.services.logger, {
      async download(serverName, mediaId) {
        calls.push(`${serverName}/${mediaId}`);
        return mediaId === 'REMOTE1' ? { contentType: 'text/plain', uploadName: 'far.txt', body: Readable.from([Buffer.from('from afar')]) } : undefined;
      },
    });
    try {
      const first = await service.download('remote.example', 'REMOTE1', {});
      expect(first.contentDisposition).toBe('inline; filename="far.txt"');
      const second = await service.download('remote.example', 'REMOTE1', {});
      const chunks: Buffer[] = [];
      for await (const c of second.body) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).toString()).toBe('from afar');
      expect(calls).toEqual(['remote.example/REMOTE1']);
      await expect(service.download('remote.example', 'MISSING', {})).rejects.toMatchObject({ status: 404, errcode: 'M_NOT_FOUND' });
      await expect(service.download('remote.example', 'NOTCACHED', { allowRemote: false })).rejects.toMatchObject({ status: 404, errcode: 'M_NOT_FOUND' });
    } finally {
      await store.close();
    }
  });
});
