// Hearth as a library (src/index.ts): createHearth validates its config like the YAML file, and its
// router mounts inside a host Express app beside the host's own routes and middleware, driven over
// real HTTP by plain requests and by matrix-js-sdk clients going through the host.
import express from 'express';
import * as sdk from 'matrix-js-sdk';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { FakeClock } from '../src/clock.js';
import { ConfigError, createHearth, type Hearth } from '../src/index.js';
import { createLogger } from '../src/logger.js';
import { createHarness, muteKnownSdkNoise } from './e2e/sdk-harness.js';

const quietLogger = createLogger('silent');

describe('createHearth(config)', () => {
  it('refuses bad config with every problem in one ConfigError', async () => {
    let err: unknown;
    try {
      await createHearth({ server_name: '', listen: { port: 'x' }, no_such_key: 1 }, { logger: quietLogger });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/server_name/);
    expect(msg).toMatch(/listen\.port/);
    expect(msg).toMatch(/no_such_key/);
  });

  it('fills in defaults, serves its own app, and close() closes the database', async () => {
    const hearth = await createHearth({ database: { path: ':memory:' } }, { clock: new FakeClock(), logger: quietLogger });
    expect(hearth.config.server_name).toBe('localhost');
    const res = await request(hearth.app).get('/_matrix/client/versions');
    expect(res.status).toBe(200);
    expect(res.body.versions).toContain('v1.12');
    await hearth.close();
    await expect(hearth.services.storage.accounts.countUsers()).rejects.toThrow();
    await hearth.close(); // twice is fine
  });
});

describe('Hearth mounted in a host Express app', () => {
  let hearth: Hearth;
  let server: Server;
  let base = '';
  const seenByHost: string[] = [];
  const harness = createHarness(() => base);
  let unmute: () => void;

  beforeAll(async () => {
    unmute = muteKnownSdkNoise();
    hearth = await createHearth({
      server_name: 'embedded.test',
      database: { path: ':memory:' },
      rate_limits: { enabled: false },
      logging: { level: 'silent' },
    }, { logger: quietLogger });
    const host = express();
    // The host's own middleware runs in front of Hearth, as helmet or morgan would.
    host.use((req, res, next) => {
      seenByHost.push(`${req.method} ${req.path}`);
      res.setHeader('X-Host-Middleware', 'yes');
      next();
    });
    host.get('/hello', (_req, res) => {
      res.json({ hello: 'from the host' });
    });
    host.get('/boom', () => {
      throw new Error('host failure');
    });
    host.use(hearth.router);
    host.use((_req, res) => {
      res.status(404).type('text/plain').send('host 404');
    });
    host.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).type('text/plain').send(`host error: ${err.message}`);
    });
    server = createServer(host);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const c of harness.clients) c.stopClient();
    unmute();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await hearth.close();
  });

  it('serves the host route and Hearth routes side by side, through the host middleware', async () => {
    const hello = await request(base).get('/hello');
    expect(hello.status).toBe(200);
    expect(hello.body).toEqual({ hello: 'from the host' });
    const versions = await request(base).get('/_matrix/client/versions');
    expect(versions.status).toBe(200);
    expect(versions.headers['x-host-middleware']).toBe('yes');
    expect(versions.headers['access-control-allow-origin']).toBe('*');
    expect(seenByHost).toEqual(expect.arrayContaining(['GET /hello', 'GET /_matrix/client/versions']));
  });

  it('answers unknown paths under its prefixes with Matrix errors and leaves other paths to the host', async () => {
    const matrix404 = await request(base).get('/_matrix/client/v3/no/such/thing');
    expect({ status: matrix404.status, errcode: matrix404.body.errcode }).toEqual({ status: 404, errcode: 'M_UNRECOGNIZED' });
    const host404 = await request(base).get('/elsewhere');
    expect(host404.status).toBe(404);
    expect(host404.text).toBe('host 404');
    const hostError = await request(base).get('/boom');
    expect(hostError.status).toBe(500);
    expect(hostError.text).toBe('host error: host failure');
    const notJson = await request(base).post('/_matrix/client/v3/login').set('Content-Type', 'application/json').send('{nope');
    expect({ status: notJson.status, errcode: notJson.body.errcode }).toEqual({ status: 400, errcode: 'M_NOT_JSON' });
  });

  it('carries matrix-js-sdk clients through the host: register, create a room, join, message, sync', async () => {
    const anon = harness.makeClient('anon');
    const reg = async (username: string) => {
      const r = await anon.registerRequest({ username, password: 'correct horse battery', auth: { type: 'm.login.dummy' } });
      return harness.makeClient(username, { userId: r.user_id, accessToken: r.access_token!, deviceId: r.device_id! });
    };
    const alice = await reg('alice');
    const bob = await reg('bob');
    const { room_id: roomId } = await alice.createRoom({ preset: sdk.Preset.PublicChat, name: 'Embedded' });
    await bob.joinRoom(roomId);
    await bob.startClient({ initialSyncLimit: 10 });
    await alice.sendTextMessage(roomId, 'hello through the host');
    const body = await harness.waitFor(bob, ['Room.timeline', 'sync'], () => {
      const ev = bob.getRoom(roomId)?.getLiveTimeline().getEvents().find((e) => e.getType() === 'm.room.message');
      return ev?.getContent().body as string | undefined;
    }, 10_000, 'bob to receive alice\'s message');
    expect(body).toBe('hello through the host');
    expect(seenByHost.some((r) => r.startsWith('GET /_matrix/client/v3/sync'))).toBe(true);
  });
});
