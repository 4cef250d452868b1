// This server's media for other servers (matrix-spec: server-server/content_repository.yaml
// #getContent, #getContentThumbnail), asked by a fake remote server with signed requests: multipart
// answers (JSON metadata, then the bytes with their type and disposition) that the outbound parser
// reads back, local media only, unknown, quarantined and remote media 404 M_NOT_FOUND, a reserved ID
// not uploaded in time 504 M_NOT_YET_UPLOADED.
import type { IncomingMessage } from 'node:http';
import sharp from 'sharp';
import { boundaryOf, fileNameOf, parseMultipart } from '../../../src/core/media/multipart.js';
import { fakeDns, knownRemote, signedGet, type RemoteServer } from '../../helpers/federation.js';
import { bearer, expectError, makeTestServer, type TestUser } from '../../helpers/server.js';

const F = '/_matrix/federation/v1/media';

/** supertest body parser: the raw bytes; JSON (errors) parsed. */
function rawParser(res: IncomingMessage, cb: (err: Error | null, body: unknown) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => {
    const body = Buffer.concat(chunks);
    cb(null, /application\/json/.test(res.headers['content-type'] ?? '') ? JSON.parse(body.toString()) : body);
  });
}
const raw = rawParser as never;

describe('federation media', () => {
  const s = makeTestServer({ federation: { enabled: true }, presence: { enabled: false } }, { federation: { dns: fakeDns() } });
  afterAll(() => s.close());
  let remote: RemoteServer;
  let alice: TestUser;

  const get = (uri: string) => signedGet(s, remote, uri).buffer(true).parse(raw);
  async function upload(body: Buffer | string, contentType: string, filename?: string): Promise<string> {
    let r = s.http.post('/_matrix/media/v3/upload').set(bearer(alice)).set('Content-Type', contentType);
    if (filename !== undefined) r = r.query({ filename });
    const res = await r.send(body);
    expect(res.status).toBe(200);
    return (res.body.content_uri as string).slice('mxc://test.local/'.length);
  }
  function parts(res: { headers: Record<string, string>; body: Buffer }) {
    const boundary = boundaryOf(res.headers['content-type']);
    expect(boundary).toBeDefined();
    return parseMultipart(res.body, boundary!);
  }

  beforeAll(async () => {
    remote = await knownRemote(s, 'remote.test');
    alice = await s.register('alice');
  });

  describe('GET /_matrix/federation/v1/media/download/{mediaId}', () => {
    it('answers multipart/mixed: the JSON metadata, then the bytes with their type and file name', async () => {
      const png = await sharp({ create: { width: 20, height: 10, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer();
      const id = await upload(png, 'image/png', 'pixel ü.png');
      const res = await get(`${F}/download/${id}`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^multipart\/mixed; boundary=[0-9a-f]{32}$/);
      expect(Number(res.headers['content-length'])).toBe((res.body as Buffer).length);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      const [meta, media] = parts(res);
      expect(meta!.headers['content-type']).toBe('application/json');
      expect(JSON.parse(meta!.body.toString())).toEqual({});
      expect(media!.headers['content-type']).toBe('image/png');
      expect(media!.headers['content-disposition']).toMatch(/^inline; /);
      expect(fileNameOf(media!.headers['content-disposition'])).toBe('pixel ü.png');
      expect(media!.body.equals(png)).toBe(true);
    });

    it('serves what must not run on a page as an attachment, with the sniffed type', async () => {
      const id = await upload('<html><script>alert(1)</script></html>', 'text/plain');
      const [, media] = parts(await get(`${F}/download/${id}`));
      expect(media!.headers['content-type']).toBe('text/html');
      expect(media!.headers['content-disposition']).toBe('attachment');
    });

    it('answers 404 M_NOT_FOUND for unknown and quarantined media', async () => {
      expectError(await get(`${F}/download/NOSUCHMEDIA`), 404, 'M_NOT_FOUND');
      const id = await upload('secret', 'text/plain');
      await s.services.storage.media.setQuarantine('test.local', id, '@admin:test.local', s.clock.now());
      expectError(await get(`${F}/download/${id}`), 404, 'M_NOT_FOUND');
    });

    it('answers 404 M_NOT_FOUND for another server\'s media kept here: only local media is served', async () => {
      await s.services.storage.media.createMedia({
        serverName: 'other.test', mediaId: 'CACHEDREMOTE', uploader: null, createdTs: 1, expiresTs: null, uploadedTs: 1, contentType: 'text/plain',
        servedType: 'text/plain', uploadName: null, length: 1, sha256: null, quarantinedBy: null, quarantinedTs: null, lastAccessTs: null,
      });
      expectError(await get(`${F}/download/CACHEDREMOTE`), 404, 'M_NOT_FOUND');
    });

    it('answers 504 M_NOT_YET_UPLOADED for a reserved ID still empty when timeout_ms ends', async () => {
      const created = await s.http.post('/_matrix/media/v1/create').set(bearer(alice)).send({});
      const id = (created.body.content_uri as string).split('/').pop()!;
      expectError(await get(`${F}/download/${id}?timeout_ms=0`), 504, 'M_NOT_YET_UPLOADED');
    });

    it('refuses an invalid media ID with 400 M_INVALID_PARAM, and an unsigned request with 401 M_UNAUTHORIZED', async () => {
      expectError(await get(`${F}/download/bad%20id`), 400, 'M_INVALID_PARAM');
      expectError(await s.http.get(`${F}/download/NOSUCHMEDIA`), 401, 'M_UNAUTHORIZED');
    });
  });

  describe('GET /_matrix/federation/v1/media/thumbnail/{mediaId}', () => {
    it('answers a thumbnail of the asked size in multipart/mixed', async () => {
      const jpeg = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 10, g: 120, b: 200 } } }).jpeg().toBuffer();
      const id = await upload(jpeg, 'image/jpeg');
      const res = await get(`${F}/thumbnail/${id}?width=32&height=32&method=crop`);
      expect(res.status).toBe(200);
      const [meta, media] = parts(res);
      expect(JSON.parse(meta!.body.toString())).toEqual({});
      expect(media!.headers['content-type']).toBe('image/jpeg');
      expect(media!.headers['content-disposition']).toBe('inline; filename="thumbnail.jpg"');
      const m = await sharp(media!.body).metadata();
      expect([m.width, m.height]).toEqual([32, 32]);
    });

    it('refuses missing or bad sizes with 400, content it cannot thumbnail with 400 M_UNKNOWN, and unknown media with 404', async () => {
      const id = await upload('just text', 'text/plain');
      expectError(await get(`${F}/thumbnail/${id}?height=32`), 400, 'M_MISSING_PARAM');
      expectError(await get(`${F}/thumbnail/${id}?width=0&height=32`), 400, 'M_INVALID_PARAM');
      expectError(await get(`${F}/thumbnail/${id}?width=32&height=32`), 400, 'M_UNKNOWN');
      expectError(await get(`${F}/thumbnail/NOSUCHMEDIA?width=32&height=32`), 404, 'M_NOT_FOUND');
    });

    it('answers 404 M_NOT_FOUND for quarantined media', async () => {
      const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 9, g: 9, b: 9 } } }).png().toBuffer();
      const id = await upload(png, 'image/png');
      await s.services.storage.media.setQuarantine('test.local', id, '@admin:test.local', s.clock.now());
      expectError(await get(`${F}/thumbnail/${id}?width=32&height=32`), 404, 'M_NOT_FOUND');
    });
  });
});
