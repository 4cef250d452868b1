// A fresh in-memory homeserver per test file: real storage (SQLite :memory:, or a fresh PostgreSQL
// database in the postgres jest project: test/helpers/storage.ts), real HTTP app, a fake clock, cheap
// password hashing, and helpers that register real users with real tokens.
import request from 'supertest';
import type { Express } from 'express';
import { FakeClock } from '../../src/clock.js';
import { buildConfig, type Config } from '../../src/config.js';
import { createApp } from '../../src/http/app.js';
import { createLogger } from '../../src/logger.js';
import { createServices, type ServiceOptions, type Services } from '../../src/services.js';
import type { Storage } from '../../src/storage/types.js';
import { openTestStorage } from './storage.js';

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

export interface TestUser {
  userId: string;
  accessToken: string;
  deviceId: string;
  password: string;
}

export interface TestServer {
  app: Express;
  services: Services;
  config: Config;
  clock: FakeClock;
  /** supertest agent bound to the app */
  http: ReturnType<typeof request>;
  /** Registers a user through the real endpoint and returns its credentials. */
  register(localpart?: string, password?: string): Promise<TestUser>;
  close(): Promise<void>;
}

let counter = 0;

/** Servers made here and not closed yet (flush() waits for their background work). */
const live = new Set<Services>();

/**
 * Resolves once every live test server has finished the work it started without waiting for it
 * (presence recomputes, typing ended by a send, automatic notices): with PostgreSQL such work takes
 * real I/O, so "a few turns of the event loop" is not enough.
 */
export async function settleServers(): Promise<void> {
  for (const services of [...live]) await services.settled();
}

/**
 * Builds a server; `overrides` are config values (rate limits are off unless a test turns them on).
 * `opts` replaces parts of the services (the federation event handler, push gateway timings) and
 * `opts.storage` wraps the storage the server uses (tests that delay or observe store calls).
 */
export function makeTestServer(overrides: Record<string, unknown> = {}, opts: Pick<ServiceOptions, 'federation' | 'pushers'> & { storage?: (raw: Storage) => Storage } = {}): TestServer {
  const config = buildConfig({
    server_name: 'test.local',
    database: { path: ':memory:' },
    logging: { level: 'silent' },
    ...overrides,
    rate_limits: { enabled: false, ...((overrides.rate_limits as object) ?? {}) },
  });
  const clock = new FakeClock();
  const raw = openTestStorage(() => clock.now());
  const storage = opts.storage ? opts.storage(raw) : raw;
  const { storage: _wrap, ...serviceOpts } = opts;
  const services = createServices(config, storage, clock, {
    logger: createLogger('silent'),
    scrypt: { N: 1 << 10, r: 8, p: 1 },
    ...serviceOpts,
  });
  const app = createApp(services);
  const http = request(app);
  live.add(services);
  return {
    app, services, config, clock, http,
    async register(localpart, password = 'correct horse battery') {
      const username = localpart ?? `user${++counter}`;
      const res = await request(app)
        .post('/_matrix/client/v3/register')
        .send({ username, password, auth: { type: 'm.login.dummy' } });
      if (res.status !== 200) throw new Error(`register ${username} failed: ${res.status} ${JSON.stringify(res.body)}`);
      return { userId: res.body.user_id, accessToken: res.body.access_token, deviceId: res.body.device_id, password };
    },
    async close() {
      live.delete(services);
      await services.stop();
      await storage.close();
    },
  };
}

export const bearer = (u: { accessToken: string }) => ({ Authorization: `Bearer ${u.accessToken}` });

/** Creates `count` rooms as `user` through the real endpoint (`body(i)` is the createRoom body); returns their IDs. */
export async function createRooms(s: TestServer, user: TestUser, count: number, body: (i: number) => object = () => ({})): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await s.http.post('/_matrix/client/v3/createRoom').set(bearer(user)).send(body(i));
    if (res.status !== 200) throw new Error(`createRoom failed: ${res.status} ${JSON.stringify(res.body)}`);
    ids.push(res.body.room_id);
  }
  return ids;
}

/** An error answer: the HTTP status and the Matrix errcode, checked together. */
export function expectError(res: { status: number; body: { errcode?: string } }, status: number, errcode: string): void {
  expect({ status: res.status, errcode: res.body.errcode }).toEqual({ status, errcode });
}
