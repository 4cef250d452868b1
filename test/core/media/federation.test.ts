// Fetching other servers' media over federation (matrix-spec: server-server-api "Content Repository";
// server-server/content_repository.yaml#getContent) against an HTTPS "remote server" and an HTTP
// "media host" on loopback: the signed multipart request through the raw-bytes federation client,
// the bytes or a Location (followed through the address policy, redirects included), the fallback to
// the deprecated media API on 404 M_UNRECOGNIZED (allow_remote=false), and the failures as the media
// service answers them. Also the multipart framing and its parser.
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { FakeClock } from '../../../src/clock.js';
import { buildConfig } from '../../../src/config.js';
import { SigningKey } from '../../../src/core/crypto/signing.js';
import { HttpFederationClient } from '../../../src/core/federation/client.js';
import { ServerResolver } from '../../../src/core/federation/discovery.js';
import { parseXMatrix } from '../../../src/core/federation/x-matrix.js';
import { FederationMediaFetcher } from '../../../src/core/media/federation.js';
import { boundaryOf, fileNameOf, frameMedia, parseMultipart } from '../../../src/core/media/multipart.js';
import { readAll } from '../../../src/core/media/store.js';
import { AddressPolicy, OutboundGuard } from '../../../src/core/net/address-policy.js';
import { OutboundHttp } from '../../../src/core/net/http.js';
import { createLogger } from '../../../src/logger.js';
import { fakeDns } from '../../helpers/federation.js';
import { makeSelfSignedCertificate } from '../../helpers/tls.js';

const multipart = (res: ServerResponse, second: string | Buffer, boundary = 'b0undary') => {
  res.writeHead(200, { 'Content-Type': `multipart/mixed; boundary="${boundary}"` });
  res.end(Buffer.concat([
    Buffer.from(`preamble\r\n--${boundary}\r\nContent-Type: application/json\r\n\r\n{}\r\n--${boundary}\r\n`),
    Buffer.isBuffer(second) ? second : Buffer.from(second),
    Buffer.from(`\r\n--${boundary}--\r\nepilogue`),
  ]));
};
const matrixError = (res: ServerResponse, status: number, errcode: string) => {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ errcode, error: 'no' }));
};

describe('FederationMediaFetcher', () => {
  const cert = makeSelfSignedCertificate('remote.test');
  const key = SigningKey.generate();
  const seen: { url: string; authorization: string | undefined }[] = [];
  let remote: Server;
  let host: HttpServer;
  let port = 0;
  let hostPort = 0;
  const dns = fakeDns({ 'remote.test': ['127.0.0.1'], 'media.test': ['127.0.0.1'], 'internal.test': ['10.1.1.1'] });
  const http = new OutboundHttp(new OutboundGuard(new AddressPolicy(['127.0.0.0/8', '10.0.0.0/8'], ['127.0.0.1']), dns));
  const config = buildConfig({ server_name: 'me.test', federation: { enabled: true, verify_certificates: false } });
  const client = new HttpFederationClient(config, async () => key, new ServerResolver(dns, { fetch: async () => ({ kind: 'invalid' }) }, new FakeClock()), http, createLogger('silent'));
  const fetcher = new FederationMediaFetcher(client, http, false, createLogger('silent'));
  const dest = () => `remote.test:${port}`;
  const bytes = Buffer.from('\x89PNG\r\n--b0undar not quite a boundary\r\n', 'latin1');

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
    '/_matrix/federation/v1/media/download/OK': (_req, res) =>
      multipart(res, Buffer.concat([Buffer.from('Content-Type: image/png\r\nContent-Disposition: inline; filename="a.png"; filename*=UTF-8\'\'%C3%A9t%C3%A9.png\r\n\r\n'), bytes])),
    '/_matrix/federation/v1/media/download/LOC': (_req, res) => multipart(res, `Location: http://media.test:${hostPort}/redirect\r\n`),
    '/_matrix/federation/v1/media/download/BLOCKED': (_req, res) => multipart(res, 'Location: http://internal.test/file\r\n\r\n'),
    '/_matrix/federation/v1/media/download/OLD': (_req, res) => matrixError(res, 404, 'M_UNRECOGNIZED'),
    '/_matrix/federation/v1/media/download/GONE': (_req, res) => matrixError(res, 404, 'M_NOT_FOUND'),
    '/_matrix/federation/v1/media/download/WAIT': (_req, res) => matrixError(res, 504, 'M_NOT_YET_UPLOADED'),
    '/_matrix/federation/v1/media/download/DOWN': (_req, res) => matrixError(res, 500, 'M_UNKNOWN'),
    '/_matrix/federation/v1/media/download/BIG': (_req, res) => multipart(res, Buffer.concat([Buffer.from('Content-Type: text/plain\r\n\r\n'), Buffer.alloc(101, 'x')])),
    '/_matrix/federation/v1/media/download/HUGE': (_req, res) => multipart(res, Buffer.concat([Buffer.from('Content-Type: text/plain\r\n\r\n'), Buffer.alloc(200 * 1024, 'x')])),
    '/_matrix/federation/v1/media/download/JSON': (_req, res) => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end('{}'); },
    '/_matrix/federation/v1/media/download/ONEPART': (_req, res) => { res.writeHead(200, { 'Content-Type': 'multipart/mixed; boundary=x' }); res.end('--x\r\nContent-Type: application/json\r\n\r\n{}\r\n--x--\r\n'); },
  };

  beforeAll(async () => {
    remote = createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
      seen.push({ url: req.url!, authorization: req.headers.authorization });
      const path = req.url!.split('?')[0]!;
      if (path.startsWith('/_matrix/media/v3/download/')) {
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Disposition': 'attachment; filename=old.txt' });
        res.end('from the old API');
        return;
      }
      const route = routes[path];
      if (route) route(req, res);
      else matrixError(res, 404, 'M_UNRECOGNIZED');
    });
    host = createHttpServer((req, res) => {
      if (req.url === '/redirect') {
        res.writeHead(302, { Location: '/file' });
        res.end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Disposition': 'inline; filename="hosted.png"' });
      res.end(bytes);
    });
    await new Promise<void>((resolve) => remote.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
    port = (remote.address() as AddressInfo).port;
    hostPort = (host.address() as AddressInfo).port;
  });
  afterAll(async () => {
    http.close();
    await new Promise<void>((resolve) => remote.close(() => resolve()));
    await new Promise<void>((resolve) => host.close(() => resolve()));
    cert.remove();
  });
  beforeEach(() => { seen.length = 0; });

  const fetch = (mediaId: string, maxBytes = 100) => fetcher.download(dest(), mediaId, { maxBytes, timeoutMs: 5000 });

  it('sends a signed GET with timeout_ms and reads the bytes, type and file name of the second part', async () => {
    const got = await fetch('OK');
    expect(got).toMatchObject({ contentType: 'image/png', uploadName: 'été.png' });
    expect((await readAll(got!.body)).equals(bytes)).toBe(true);
    expect(seen[0]!.url).toBe('/_matrix/federation/v1/media/download/OK?timeout_ms=5000');
    expect(parseXMatrix(seen[0]!.authorization!)).toMatchObject({ origin: 'me.test', destination: dest(), key: key.keyId });
  });

  it('follows a Location in the second part, and redirects from there, through the address policy', async () => {
    const got = await fetch('LOC');
    expect(got).toMatchObject({ contentType: 'image/png', uploadName: 'hosted.png' });
    expect((await readAll(got!.body)).equals(bytes)).toBe(true);
  });

  it('refuses a Location on a blacklisted address: 502', async () => {
    await expect(fetch('BLOCKED')).rejects.toMatchObject({ status: 502, errcode: 'M_UNKNOWN' });
  });

  it('falls back to the deprecated media API, with allow_remote=false, on 404 M_UNRECOGNIZED', async () => {
    const got = await fetch('OLD');
    expect(got).toMatchObject({ contentType: 'text/plain', uploadName: 'old.txt' });
    expect((await readAll(got!.body)).toString()).toBe('from the old API');
    expect(seen.map((r) => r.url)).toEqual([
      '/_matrix/federation/v1/media/download/OLD?timeout_ms=5000',
      `/_matrix/media/v3/download/${encodeURIComponent(dest())}/OLD?allow_remote=false&timeout_ms=5000`,
    ]);
  });

  it('answers undefined (the media service\'s 404) when the server does not have it', async () => {
    expect(await fetch('GONE')).toBeUndefined();
  });

  it('passes 504 M_NOT_YET_UPLOADED on, and answers other failures 502', async () => {
    await expect(fetch('WAIT')).rejects.toMatchObject({ status: 504, errcode: 'M_NOT_YET_UPLOADED' });
    await expect(fetch('DOWN')).rejects.toMatchObject({ status: 502, errcode: 'M_UNKNOWN' });
    await expect(fetch('JSON')).rejects.toMatchObject({ status: 502, errcode: 'M_UNKNOWN' });
    await expect(fetch('ONEPART')).rejects.toMatchObject({ status: 502, errcode: 'M_UNKNOWN' });
    await expect(fetcher.download('localhost:1', 'X', { maxBytes: 100, timeoutMs: 1000 })).rejects.toMatchObject({ status: 502, errcode: 'M_UNKNOWN' });
  });

  it('answers 502 M_TOO_LARGE past the size limit, in the part or in the whole answer', async () => {
    await expect(fetch('BIG')).rejects.toMatchObject({ status: 502, errcode: 'M_TOO_LARGE' });
    await expect(fetch('HUGE')).rejects.toMatchObject({ status: 502, errcode: 'M_TOO_LARGE' });
    expect(await fetch('BIG', 101)).toMatchObject({ contentType: 'text/plain' });
  });
});

describe('multipart/mixed', () => {
  it('frames media so that the parser reads it back, the bytes unchanged', () => {
    const bytes = Buffer.from([0, 13, 10, 45, 45, 255, 13, 10]);
    const f = frameMedia('image/png', 'inline; filename="x.png"');
    const boundary = boundaryOf(f.contentType)!;
    expect(boundary).toMatch(/^[0-9a-f]{32}$/);
    const [meta, media, ...rest] = parseMultipart(Buffer.concat([f.head, bytes, f.tail]), boundary);
    expect(rest).toEqual([]);
    expect(meta).toEqual({ headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') });
    expect(media!.headers).toEqual({ 'content-type': 'image/png', 'content-disposition': 'inline; filename="x.png"' });
    expect(media!.body.equals(bytes)).toBe(true);
  });

  it('reads quoted and unquoted boundaries, and only from multipart types', () => {
    expect(boundaryOf('multipart/mixed; boundary="a b"')).toBe('a b');
    expect(boundaryOf('Multipart/Mixed;charset=x; BOUNDARY=abc')).toBe('abc');
    expect(boundaryOf('application/json; boundary=abc')).toBeUndefined();
    expect(boundaryOf('multipart/mixed')).toBeUndefined();
  });

  it('skips the preamble and epilogue, takes a part without headers and a part of headers only', () => {
    const body = Buffer.from('junk\r\n--b\r\n\r\nno headers\r\n--b\r\nLocation: https://x/y\r\n--b--\r\nafter');
    expect(parseMultipart(body, 'b')).toEqual([
      { headers: {}, body: Buffer.from('no headers') },
      { headers: { location: 'https://x/y' }, body: Buffer.alloc(0) },
    ]);
  });

  it('refuses a truncated body or one without the boundary', () => {
    expect(() => parseMultipart(Buffer.from('--b\r\nContent-Type: a/b\r\n\r\nbytes'), 'b')).toThrow(/closing/);
    expect(() => parseMultipart(Buffer.from('nothing here'), 'b')).toThrow(/boundary/);
  });

  it('reads file names from Content-Disposition: filename* first, then filename', () => {
    expect(fileNameOf('inline; filename="a.png"; filename*=UTF-8\'\'%C3%A9.png')).toBe('é.png');
    expect(fileNameOf('attachment; filename="say \\"hi\\".txt"')).toBe('say "hi".txt');
    expect(fileNameOf('attachment; filename=plain.txt')).toBe('plain.txt');
    expect(fileNameOf('attachment; filename*=UTF-8\'\'%ZZ; filename="fallback.txt"')).toBe('fallback.txt');
    expect(fileNameOf('inline')).toBeNull();
    expect(fileNameOf(undefined)).toBeNull();
  });
});
