// The built-in web client's static files (spec/web-client.md "Serving"): index.html with the page's
// security headers and no-cache, content-hashed files immutable, br/gzip chosen by Accept-Encoding,
// web_client.enabled and web_client.path, and Matrix routes untouched. Files come from a fixture
// directory shaped like the build's output; the last block checks the real build's output.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { FakeClock } from '../../src/clock.js';
import { buildConfig, ConfigError } from '../../src/config.js';
import { createApp } from '../../src/http/app.js';
import { chooseEncoding, IMMUTABLE, WEB_CLIENT_CSP } from '../../src/http/web-client.js';
import { createLogger } from '../../src/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { openSqliteStorage } from '../../src/storage/sqlite/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const INDEX = '<!doctype html><html><head><link rel="stylesheet" href="app-ABCD1234.css"><script type="module" src="app-WXYZ5678.js"></script></head><body></body></html>';
const JS = `console.log(${JSON.stringify('hearth '.repeat(200))});`;
const CSS = `body { color: #1b1f24; } ${'.x { margin: 0 }'.repeat(100)}`;

/** A directory shaped like dist/web: index.html and hashed files with .br/.gz siblings, plus a stray file. */
function fixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-web-'));
  const files: Record<string, string> = { 'index.html': INDEX, 'app-WXYZ5678.js': JS, 'app-ABCD1234.css': CSS };
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(dir, name), text);
    writeFileSync(join(dir, `${name}.br`), brotliCompressSync(Buffer.from(text)));
    writeFileSync(join(dir, `${name}.gz`), gzipSync(Buffer.from(text)));
  }
  writeFileSync(join(dir, 'notes.txt'), 'not part of the build: no content hash in its name');
  return dir;
}

interface Served {
  services: Services;
  server: Server;
  get(path: string, headers?: Record<string, string>, method?: string): Promise<Raw>;
  close(): Promise<void>;
}

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json(): Record<string, unknown>;
}

/** A Hearth app on a real listener (raw bytes: no client-side decompression). */
async function serve(webClient: Record<string, unknown>, dir: string): Promise<Served> {
  const config = buildConfig({ server_name: 'test.local', database: { path: ':memory:' }, logging: { level: 'silent' }, rate_limits: { enabled: false }, web_client: webClient });
  const clock = new FakeClock();
  const storage = openSqliteStorage(':memory:', () => clock.now());
  const services = createServices(config, storage, clock, { logger: createLogger('silent'), scrypt: { N: 1 << 10, r: 8, p: 1 } });
  const server = createServer(createApp(services, { webClientDir: dir }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    services, server,
    get: (path, headers = {}, method = 'GET') => new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString('utf8')) as Record<string, unknown> });
        });
      });
      req.on('error', reject);
      req.end();
    }),
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await services.stop();
      await storage.close();
    },
  };
}

const IDENTITY = { 'Accept-Encoding': 'identity' };

describe('the web client at /', () => {
  let dir: string;
  let s: Served;
  beforeAll(async () => {
    dir = fixture();
    s = await serve({}, dir);
  });
  afterAll(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves index.html at / with the CSP, nosniff, no-referrer and no-cache', async () => {
    const res = await s.get('/', IDENTITY);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body.toString()).toBe(INDEX);
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['content-security-policy']).toBe(WEB_CLIENT_CSP);
    expect(res.headers['content-encoding']).toBeUndefined();
  });

  it('sends a strict Content-Security-Policy: no inline script or style, this origin only, no framing', async () => {
    const csp = String((await s.get('/', IDENTITY)).headers['content-security-policy']);
    const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k!, v.join(' ')]));
    expect(directives.get('default-src')).toBe("'self'");
    expect(directives.get('script-src')).toBe("'self'");
    expect(directives.get('style-src')).toBe("'self'");
    expect(directives.get('connect-src')).toBe("'self'");
    expect(directives.get('img-src')).toBe("'self' data: blob:");
    expect(directives.get('frame-ancestors')).toBe("'none'");
    expect(directives.get('base-uri')).toBe("'none'");
    expect(directives.get('form-action')).toBe("'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
  });

  it('serves /index.html too, and revalidates it by ETag (304)', async () => {
    const first = await s.get('/index.html', IDENTITY);
    expect(first.status).toBe(200);
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^".+"$/);
    const again = await s.get('/', { ...IDENTITY, 'If-None-Match': etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
  });

  it('serves content-hashed files as immutable for a year', async () => {
    const js = await s.get('/app-WXYZ5678.js', IDENTITY);
    expect(js.status).toBe(200);
    expect(js.headers['cache-control']).toBe(IMMUTABLE);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['x-content-type-options']).toBe('nosniff');
    expect(js.body.toString()).toBe(JS);
    const css = await s.get('/app-ABCD1234.css', IDENTITY);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['cache-control']).toBe(IMMUTABLE);
  });

  it('sends brotli when accepted, with Vary: Accept-Encoding', async () => {
    const res = await s.get('/app-WXYZ5678.js', { 'Accept-Encoding': 'gzip, deflate, br' });
    expect(res.headers['content-encoding']).toBe('br');
    expect(res.headers.vary).toBe('Accept-Encoding');
    expect(Number(res.headers['content-length'])).toBe(res.body.length);
    expect(res.body.length).toBeLessThan(JS.length);
    expect(brotliDecompressSync(res.body).toString()).toBe(JS);
  });

  it('sends gzip when brotli is not accepted (absent or q=0)', async () => {
    for (const accept of ['gzip', 'br;q=0, gzip;q=0.8', 'gzip, deflate']) {
      const res = await s.get('/', { 'Accept-Encoding': accept });
      expect({ accept, encoding: res.headers['content-encoding'] }).toEqual({ accept, encoding: 'gzip' });
      expect(res.headers.vary).toBe('Accept-Encoding');
      expect(gunzipSync(res.body).toString()).toBe(INDEX);
    }
  });

  it('sends the file as it is without an acceptable encoding, still with Vary', async () => {
    for (const accept of ['identity', 'deflate', 'br;q=0, gzip;q=0', '']) {
      const res = await s.get('/app-WXYZ5678.js', accept === '' ? {} : { 'Accept-Encoding': accept });
      expect({ accept, encoding: res.headers['content-encoding'] }).toEqual({ accept, encoding: undefined });
      expect(res.body.toString()).toBe(JS);
      expect(res.headers.vary).toBe('Accept-Encoding');
    }
  });

  it('gives each encoding its own ETag', async () => {
    const br = await s.get('/', { 'Accept-Encoding': 'br' });
    const gz = await s.get('/', { 'Accept-Encoding': 'gzip' });
    const plain = await s.get('/', IDENTITY);
    expect(new Set([br.headers.etag, gz.headers.etag, plain.headers.etag]).size).toBe(3);
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = await s.get('/app-WXYZ5678.js', IDENTITY, 'HEAD');
    expect(res.status).toBe(200);
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(JS));
    expect(res.body.length).toBe(0);
  });

  it('serves only the build: unknown names, names without a content hash and other methods get the Matrix 404', async () => {
    for (const path of ['/app-NOPE0000.js', '/notes.txt', '/index.html.br', '/../package.json', '/%2e%2e/package.json', '/something/else']) {
      const res = await s.get(path, IDENTITY);
      expect({ path, status: res.status, errcode: res.json().errcode }).toEqual({ path, status: 404, errcode: 'M_UNRECOGNIZED' });
    }
    const post = await s.get('/', IDENTITY, 'POST');
    expect({ status: post.status, errcode: post.json().errcode }).toEqual({ status: 404, errcode: 'M_UNRECOGNIZED' });
  });

  it('leaves Matrix routes as they were: JSON, CORS, no page headers', async () => {
    const versions = await s.get('/_matrix/client/versions', IDENTITY);
    expect(versions.status).toBe(200);
    expect(Array.isArray(versions.json().versions)).toBe(true);
    expect(versions.headers['access-control-allow-origin']).toBe('*');
    expect(versions.headers['content-security-policy']).toBeUndefined();
    const unknown = await s.get('/_matrix/client/v3/app-WXYZ5678.js', IDENTITY);
    expect({ status: unknown.status, errcode: unknown.json().errcode }).toEqual({ status: 404, errcode: 'M_UNRECOGNIZED' });
    const wellKnown = await s.get('/.well-known/matrix/client', IDENTITY);
    expect(wellKnown.status).toBe(200);
  });
});

describe('web_client.enabled: false', () => {
  let dir: string;
  let s: Served;
  beforeAll(async () => {
    dir = fixture();
    s = await serve({ enabled: false }, dir);
  });
  afterAll(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves nothing: / and the files get the Matrix 404', async () => {
    for (const path of ['/', '/index.html', '/app-WXYZ5678.js']) {
      const res = await s.get(path, IDENTITY);
      expect({ path, status: res.status, errcode: res.json().errcode }).toEqual({ path, status: 404, errcode: 'M_UNRECOGNIZED' });
      expect(res.headers['content-security-policy']).toBeUndefined();
    }
  });
});

describe('web_client.path: /chat/', () => {
  let dir: string;
  let s: Served;
  beforeAll(async () => {
    dir = fixture();
    s = await serve({ path: '/chat' }, dir);
  });
  afterAll(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the client there, its files beside it, and nothing at /', async () => {
    const page = await s.get('/chat/', IDENTITY);
    expect(page.status).toBe(200);
    expect(page.body.toString()).toBe(INDEX);
    expect(page.headers['content-security-policy']).toBe(WEB_CLIENT_CSP);
    expect((await s.get('/chat/app-WXYZ5678.js', IDENTITY)).status).toBe(200);
    const root = await s.get('/', IDENTITY);
    expect({ status: root.status, errcode: root.json().errcode }).toEqual({ status: 404, errcode: 'M_UNRECOGNIZED' });
    expect((await s.get('/app-WXYZ5678.js', IDENTITY)).status).toBe(404);
  });

  it('redirects /chat to /chat/ (the page names its files relative to itself), keeping the query', async () => {
    const res = await s.get('/chat?x=1', IDENTITY);
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/chat/?x=1');
  });
});

describe('web client that is not built', () => {
  it('falls through to the Matrix 404 at / (the log says to run npm run build)', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'hearth-web-empty-'));
    const s = await serve({}, empty);
    try {
      const res = await s.get('/', IDENTITY);
      expect({ status: res.status, errcode: res.json().errcode }).toEqual({ status: 404, errcode: 'M_UNRECOGNIZED' });
    } finally {
      await s.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('config web_client', () => {
  it('is on at / by default', () => {
    expect(buildConfig({}).web_client).toEqual({ enabled: true, path: '/' });
  });

  it('normalises a path to end in a slash', () => {
    expect(buildConfig({ web_client: { path: '/chat' } }).web_client.path).toBe('/chat/');
    expect(buildConfig({ web_client: { path: '/a/b/' } }).web_client.path).toBe('/a/b/');
  });

  it.each(['chat', '/_matrix/', '/_matrix/client/', '/_synapse/x', '/_hearth', '/.well-known/matrix', '/metrics', '/a/../b', '/a b', '/a?x', '//'])('refuses the path %j', (path) => {
    let thrown: unknown;
    try {
      buildConfig({ web_client: { path } });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).problems).toEqual([expect.stringMatching(/^web_client\.path: /)]);
  });
});

describe('chooseEncoding', () => {
  it.each([
    ['br', 'br'],
    ['gzip, deflate, br, zstd', 'br'],
    ['gzip;q=1, br;q=0.5', 'gzip'],
    ['br;q=0', undefined],
    ['*', 'br'],
    ['*;q=0, gzip', 'gzip'],
    ['x-gzip', 'gzip'],
    ['identity', undefined],
    [undefined, undefined],
  ])('Accept-Encoding %j -> %j', (header, expected) => {
    expect(chooseEncoding(header, ['br', 'gzip'])).toBe(expected);
  });

  it('picks only among the variants that exist', () => {
    expect(chooseEncoding('br, gzip', ['gzip'])).toBe('gzip');
    expect(chooseEncoding('br', [])).toBeUndefined();
  });
});

describe('scripts/build-web.mjs', () => {
  const out = mkdtempSync(join(tmpdir(), 'hearth-web-build-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('writes index.html naming content-hashed bundles, each with .br and .gz, which the server serves', async () => {
    const dist = join(out, 'web');
    await promisify(execFile)(process.execPath, [join(ROOT, 'scripts/build-web.mjs'), '--outdir', dist, '--quiet'], { cwd: ROOT });
    const index = readFileSync(join(dist, 'index.html'), 'utf8');
    const named = [...index.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((n) => !n.startsWith('data:'));
    expect(named).toEqual(expect.arrayContaining([expect.stringMatching(/^app-[A-Z0-9]{8}\.js$/), expect.stringMatching(/^app-[A-Z0-9]{8}\.css$/)]));
    expect(index).not.toMatch(/<script>|<style|style=/); // nothing inline for the CSP to refuse
    for (const name of [...named, 'index.html']) {
      expect(existsSync(join(dist, name))).toBe(true);
      expect(existsSync(join(dist, `${name}.br`))).toBe(true);
      expect(existsSync(join(dist, `${name}.gz`))).toBe(true);
    }
    const s = await serve({}, dist);
    try {
      for (const name of named) {
        const res = await s.get(`/${name}`, { 'Accept-Encoding': 'br' });
        expect({ name, status: res.status, cache: res.headers['cache-control'], encoding: res.headers['content-encoding'] }).toEqual({ name, status: 200, cache: IMMUTABLE, encoding: 'br' });
      }
    } finally {
      await s.close();
    }
  }, 60_000);
});
