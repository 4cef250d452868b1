// HTTP behaviour shared by every endpoint: JSON bodies, size limit, 404/405, CORS, path encoding,
// unexpected errors (issue 2 "HTTP behaviour"; matrix-spec: client-server-api "API Standards",
// "Web Browser Clients").
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import request from 'supertest';
import { FakeClock } from '../../src/clock.js';
import { buildConfig } from '../../src/config.js';
import { createApp } from '../../src/http/app.js';
import { createLogger } from '../../src/logger.js';
import { createServices } from '../../src/services.js';
import { openSqliteStorage } from '../../src/storage/sqlite/index.js';
import { makeTestServer, bearer, expectError, type TestServer } from '../helpers/server.js';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: Record<string, unknown>;
}

/** Sends exactly the bytes and headers given (no Content-Type unless named); a list of buffers goes chunked. */
function raw(server: Server, opts: { method: string; path: string; headers?: Record<string, string>; body?: Buffer | Buffer[] }): Promise<RawResponse> {
  const { port } = server.address() as AddressInfo;
  const headers = { ...(opts.headers ?? {}) };
  if (Buffer.isBuffer(opts.body) && headers['Transfer-Encoding'] === undefined) headers['Content-Length'] = String(opts.body.length);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: opts.method, path: opts.path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Record<string, unknown> = {};
        try { body = text ? JSON.parse(text) : {}; } catch { body = {}; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
      });
    });
    req.on('error', reject);
    const parts = opts.body === undefined ? [] : Array.isArray(opts.body) ? opts.body : [opts.body];
    for (const p of parts) req.write(p);
    req.end();
  });
}

function listen(s: TestServer): Promise<Server> {
  const server = createServer(s.app);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const LOGIN = '/_matrix/client/v3/login';

describe('request bodies', () => {
  const s = makeTestServer({ max_request_body_bytes: 1000 });
  let server: Server;
  beforeAll(async () => { server = await listen(s); });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await s.close();
  });

  it('refuses a body that is not JSON, sent as application/json, with 400 M_NOT_JSON', async () => {
    const res = await s.http.post(LOGIN).set('Content-Type', 'application/json').send('{not json');
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_NOT_JSON');
  });

  it('refuses a body that is not JSON, sent without a Content-Type, with 400 M_NOT_JSON', async () => {
    const res = await raw(server, { method: 'POST', path: LOGIN, body: Buffer.from('definitely not json') });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_NOT_JSON');
  });

  it('refuses a body that is not JSON, sent as text/plain, with 400 M_NOT_JSON', async () => {
    const res = await s.http.post(LOGIN).set('Content-Type', 'text/plain').send('hello');
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_NOT_JSON');
  });

  it('parses a JSON body sent without a Content-Type', async () => {
    const u = await s.register('nocontenttype');
    const res = await raw(server, {
      method: 'POST', path: LOGIN,
      body: Buffer.from(JSON.stringify({ type: 'm.login.password', user: 'nocontenttype', password: u.password })),
    });
    expect(res.status).toBe(200);
    expect(res.body.user_id).toBe('@nocontenttype:test.local');
  });

  it('parses a JSON body sent with another Content-Type', async () => {
    const u = await s.register('othercontenttype');
    const res = await s.http.post(LOGIN).set('Content-Type', 'text/plain')
      .send(JSON.stringify({ type: 'm.login.password', user: 'othercontenttype', password: u.password }));
    expect(res.status).toBe(200);
  });

  it('refuses a body that is not valid UTF-8 with 400 M_NOT_JSON', async () => {
    const bytes = Buffer.concat([Buffer.from('{"type":"m.login.password","user":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]);
    const res = await raw(server, { method: 'POST', path: LOGIN, headers: { 'Content-Type': 'application/json' }, body: bytes });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_NOT_JSON');
  });

  it('refuses invalid UTF-8 sent without a Content-Type with 400 M_NOT_JSON', async () => {
    const res = await raw(server, { method: 'POST', path: LOGIN, body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc0, 0xaf, 0x22, 0x7d]) });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_NOT_JSON');
  });

  it('refuses a JSON array where an object is expected with 400 M_BAD_JSON', async () => {
    const res = await s.http.post(LOGIN).set('Content-Type', 'application/json').send('[]');
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
  });

  it('refuses a JSON string or number where an object is expected with 400 M_BAD_JSON', async () => {
    const str = await s.http.post(LOGIN).set('Content-Type', 'application/json').send('"m.login.password"');
    expect(str.status).toBe(400);
    expect(str.body.errcode).toBe('M_BAD_JSON');
    const num = await s.http.post(LOGIN).set('Content-Type', 'application/json').send('42');
    expect(num.status).toBe(400);
    expect(num.body.errcode).toBe('M_BAD_JSON');
  });

  it('refuses JSON null where an object is expected with 400 M_BAD_JSON', async () => {
    const res = await s.http.post(LOGIN).set('Content-Type', 'application/json').send('null');
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
  });

  it('refuses a field of the wrong type with 400 M_BAD_JSON', async () => {
    const res = await s.http.post(LOGIN).send({ type: 'm.login.password', user: 'someone', password: ['not', 'a', 'string'] });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
    const res2 = await s.http.post(LOGIN).send({ type: 7 });
    expect(res2.status).toBe(400);
    expect(res2.body.errcode).toBe('M_BAD_JSON');
  });

  it('refuses a body over max_request_body_bytes with 413 M_TOO_LARGE', async () => {
    const res = await s.http.post(LOGIN).send({ type: 'm.login.password', user: 'big', password: 'x'.repeat(2000) });
    expect(res.status).toBe(413);
    expect(res.body.errcode).toBe('M_TOO_LARGE');
  });

  it('refuses a chunked body (no Content-Length) that grows over the limit with 413 M_TOO_LARGE', async () => {
    const chunk = Buffer.from('x'.repeat(400));
    const res = await raw(server, {
      method: 'POST', path: LOGIN,
      headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
      body: [Buffer.from('{"a":"'), chunk, chunk, chunk, Buffer.from('"}')],
    });
    expect(res.status).toBe(413);
    expect(res.body.errcode).toBe('M_TOO_LARGE');
  });

  it('accepts a body just under the limit', async () => {
    const u = await s.register('underlimit');
    const payload = { type: 'm.login.password', user: 'underlimit', password: u.password, initial_device_display_name: '' };
    const base = Buffer.byteLength(JSON.stringify(payload));
    payload.initial_device_display_name = 'd'.repeat(1000 - base);
    expect(Buffer.byteLength(JSON.stringify(payload))).toBe(1000);
    const res = await s.http.post(LOGIN).send(payload);
    expect(res.status).toBe(200);
  });

  it('treats an empty body as an empty object', async () => {
    const res = await raw(server, { method: 'POST', path: LOGIN });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_MISSING_PARAM');
  });
});

describe('routing', () => {
  // Without the web client, / is like any other unknown path (test/http/web-client.test.ts has it on).
  const s = makeTestServer({ web_client: { enabled: false } });
  afterAll(() => s.close());

  it.each([
    ['GET', '/_matrix/client/v3/nope'],
    ['POST', '/_matrix/client/v3/not/a/real/endpoint'],
    ['GET', '/_matrix/client/unknown'],
    ['GET', '/_matrix/federation/v1/nope'],
    ['GET', '/something/else'],
    ['GET', '/'],
  ])('answers %s %s with 404 M_UNRECOGNIZED', async (method, path) => {
    const res = await s.http[method === 'GET' ? 'get' : 'post'](path);
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_UNRECOGNIZED');
    expect(typeof res.body.error).toBe('string');
  });

  it.each([
    ['DELETE', '/_matrix/client/v3/login'],
    ['PUT', '/_matrix/client/v3/register'],
    ['GET', '/_matrix/client/v3/logout'],
    ['POST', '/_matrix/client/versions'],
    ['POST', '/_matrix/client/v3/account/whoami'],
    ['PUT', '/_matrix/client/v3/delete_devices'],
    ['POST', '/_matrix/client/v3/devices/SOMEDEVICE'],
  ])('answers %s %s (known path, wrong method) with 405 M_UNRECOGNIZED', async (method, path) => {
    const m = method.toLowerCase() as 'get' | 'post' | 'put' | 'delete';
    const res = await s.http[m](path);
    expect(res.status).toBe(405);
    expect(res.body.errcode).toBe('M_UNRECOGNIZED');
  });

  // Regression (issue 14): the route is found before the body is parsed, so an unknown route with a
  // body that is not JSON is 404 M_UNRECOGNIZED, not 400 M_NOT_JSON.
  it.each([
    ['application/json', '{not json'],
    ['text/plain', 'hello'],
    ['application/octet-stream', '\u00ff\u00fe binary'],
  ])('answers an unknown route with a non-JSON body (%s) with 404 M_UNRECOGNIZED', async (type, body) => {
    for (const path of ['/_matrix/client/v3/not/a/real/endpoint', '/_matrix/client/r0/knock/!r:test.local', '/_synapse/admin/v1/nope']) {
      const res = await s.http.post(path).set('Content-Type', type).send(body);
      expectError(res, 404, 'M_UNRECOGNIZED');
    }
  });

  it('answers a known path with a wrong method and a non-JSON body with 405 M_UNRECOGNIZED', async () => {
    const res = await s.http.put('/_matrix/client/v3/login').set('Content-Type', 'application/json').send('{not json');
    expectError(res, 405, 'M_UNRECOGNIZED');
  });

  it('answers a wrong method before checking the token', async () => {
    const res = await s.http.put('/_matrix/client/v3/account/whoami');
    expect(res.status).toBe(405);
    expect(res.body.errcode).toBe('M_UNRECOGNIZED');
  });

  it('sends every error as JSON with errcode and error', async () => {
    const res = await s.http.get('/_matrix/client/v3/account/whoami');
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ errcode: 'M_MISSING_TOKEN', error: expect.any(String) });
  });
});

describe('CORS', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  function expectCors(headers: Record<string, string | string[] | undefined>): void {
    expect(headers['access-control-allow-origin']).toBe('*');
    const methods = String(headers['access-control-allow-methods']).split(/,\s*/);
    expect(methods).toEqual(expect.arrayContaining(['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS']));
    const allowed = String(headers['access-control-allow-headers']).toLowerCase().split(/,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'x-requested-with']));
  }

  it('answers an OPTIONS preflight with 204 and the CORS headers, without a token', async () => {
    const res = await s.http.options('/_matrix/client/v3/account/whoami')
      .set('Origin', 'https://app.example')
      .set('Access-Control-Request-Method', 'GET')
      .set('Access-Control-Request-Headers', 'authorization, content-type');
    expect(res.status).toBe(204);
    expectCors(res.headers);
  });

  it('answers OPTIONS on an endpoint that needs auth and a body with 204', async () => {
    const res = await s.http.options('/_matrix/client/v3/account/password').set('Origin', 'https://app.example');
    expect(res.status).toBe(204);
    expectCors(res.headers);
  });

  it('puts the CORS headers on successful responses', async () => {
    const u = await s.register('corsuser');
    const res = await s.http.get('/_matrix/client/v3/account/whoami').set(bearer(u)).set('Origin', 'https://app.example');
    expect(res.status).toBe(200);
    expectCors(res.headers);
  });

  it('puts the CORS headers on error responses', async () => {
    const res = await s.http.get('/_matrix/client/v3/account/whoami').set('Origin', 'https://app.example');
    expect(res.status).toBe(401);
    expectCors(res.headers);
    const notFound = await s.http.get('/_matrix/client/v3/nope');
    expect(notFound.status).toBe(404);
    expectCors(notFound.headers);
  });

  it('exposes Retry-After to browser clients', async () => {
    const res = await s.http.get('/_matrix/client/versions');
    const exposed = String(res.headers['access-control-expose-headers']).toLowerCase().split(/,\s*/);
    expect(exposed).toContain('retry-after');
  });
});

describe('path parameters', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('accepts a percent-encoded user ID in the path', async () => {
    await s.register('alice');
    const res = await s.http.get('/_matrix/client/v3/profile/%40alice%3Atest.local');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ displayname: 'alice' });
  });

  it('accepts a raw user ID in the path', async () => {
    await s.register('bob');
    const res = await s.http.get('/_matrix/client/v3/profile/@bob:test.local');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ displayname: 'bob' });
  });

  it('accepts a percent-encoded user ID with a field and in a PUT', async () => {
    const u = await s.register('carol');
    const put = await s.http.put('/_matrix/client/v3/profile/%40carol%3Atest.local/displayname').set(bearer(u)).send({ displayname: 'Carol' });
    expect(put.status).toBe(200);
    const get = await s.http.get('/_matrix/client/v3/profile/@carol:test.local/displayname');
    expect(get.status).toBe(200);
    expect(get.body).toEqual({ displayname: 'Carol' });
  });

  it('accepts a user ID with lower-case percent-encoding', async () => {
    await s.register('dave');
    const res = await s.http.get('/_matrix/client/v3/profile/%40dave%3atest.local');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ displayname: 'dave' });
  });

  it('refuses malformed percent-encoding with 400 M_INVALID_PARAM', async () => {
    const res = await s.http.get('/_matrix/client/v3/profile/%E0%A4%A');
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });
});

describe('unexpected errors', () => {
  const captured: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { captured.push(String(chunk)); cb(); } });
  const config = buildConfig({ server_name: 'test.local', database: { path: ':memory:' }, logging: { level: 'info' }, rate_limits: { enabled: false } });
  const clock = new FakeClock();
  const storage = openSqliteStorage(':memory:', () => clock.now());
  const services = createServices(config, storage, clock, { logger: createLogger('info', sink), scrypt: { N: 1 << 10, r: 8, p: 1 } });
  const app = createApp(services);
  const s = makeTestServer();
  afterAll(async () => {
    await services.stop();
    await storage.close();
    await s.close();
  });

  it('answers an exception with 500 M_UNKNOWN and no stack or message in the body', async () => {
    const u = await s.register('boomer');
    s.services.devices.list = async () => { throw new Error('boom: secret internals'); };
    const res = await s.http.get('/_matrix/client/v3/devices').set(bearer(u));
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: expect.any(String) });
    expect(res.text).not.toContain('boom');
    expect(res.text).not.toContain('secret internals');
    expect(res.text).not.toMatch(/\bat .*\.(ts|js):\d+/);
  });

  it('logs the exception with its stack', async () => {
    const reg = await request(app).post('/_matrix/client/v3/register').send({ username: 'logboom', password: 'correct horse battery', auth: { type: 'm.login.dummy' } });
    expect(reg.status).toBe(200);
    services.devices.list = async () => { throw new Error('kaboom in core'); };
    captured.length = 0;
    const res = await request(app).get('/_matrix/client/v3/devices').set(bearer({ accessToken: reg.body.access_token }));
    expect(res.status).toBe(500);
    expect(res.body.errcode).toBe('M_UNKNOWN');
    const errorLines = captured.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 50);
    expect(errorLines).toHaveLength(1);
    const logged = JSON.stringify(errorLines[0]);
    expect(logged).toContain('kaboom in core');
    expect(logged).toMatch(/\\n\s+at /);
  });

  it('never writes access tokens or passwords to the request log', async () => {
    captured.length = 0;
    const password = 'a very secret password 123';
    const reg = await request(app).post('/_matrix/client/v3/register').send({ username: 'logclean', password, auth: { type: 'm.login.dummy' } });
    expect(reg.status).toBe(200);
    const token = reg.body.access_token as string;
    await request(app).get('/_matrix/client/v3/account/whoami').query({ access_token: token });
    await request(app).get('/_matrix/client/v3/account/whoami').set(bearer({ accessToken: token }));
    await request(app).post('/_matrix/client/v3/login').send({ type: 'm.login.password', user: 'logclean', password });
    const text = captured.join('');
    expect(captured.length).toBeGreaterThanOrEqual(4);
    expect(text).not.toContain(token);
    expect(text).not.toContain(password);
  });
});
