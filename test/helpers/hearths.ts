// Several real Hearths federating over TLS on loopback (issue 16): each started by startServer with
// its own database, client listener and federation listener, a self-signed certificate,
// verify_certificates off, loopback whitelisted, server names `localhost:<federation port>`
// (explicit ports: no well-known, no SRV). Clients talk to them over HTTP with fetch.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig, type Config } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/main.js';
import type { HearthOptions } from '../../src/index.js';
import { makeSelfSignedCertificate, type TestCertificate } from './tls.js';

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export async function until<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface ClientAnswer {
  status: number;
  body: Record<string, any>;
}

export interface FedUser {
  userId: string;
  token: string;
  deviceId: string;
  /** A client request as this user: `path` from /_matrix/... on. */
  call(method: string, path: string, body?: unknown): Promise<ClientAnswer>;
}

export interface FedHearth {
  name: string;
  running: RunningServer;
  config: Config;
  register(localpart: string): Promise<FedUser>;
  /** An unauthenticated client request. */
  call(method: string, path: string, body?: unknown, token?: string): Promise<ClientAnswer>;
  /** Stops the server (its database stays: `restart` brings it back on the same ports). */
  stop(): Promise<void>;
  restart(): Promise<void>;
}

export interface HearthCluster {
  servers: FedHearth[];
  close(): Promise<void>;
}

/**
 * Incremental /sync as `user` until `check` finds what it looks for in an answer (the answers so far
 * are kept on the user between calls, so a later wait starts where the last one stopped).
 */
export async function syncUntil<T>(user: FedUser & { since?: string }, what: string, check: (body: Record<string, any>) => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const left = end - Date.now();
    if (left <= 0) throw new Error(`timed out waiting for ${what} in ${user.userId}'s /sync`);
    const q = user.since ? `?since=${encodeURIComponent(user.since)}&timeout=${Math.min(2000, left)}` : '?timeout=0';
    const r = await user.call('GET', `/_matrix/client/v3/sync${q}`);
    if (r.status !== 200) throw new Error(`/sync: ${r.status} ${JSON.stringify(r.body)}`);
    user.since = r.body.next_batch as string;
    const v = check(r.body);
    if (v) return v;
  }
}

export async function request(base: string, method: string, path: string, body?: unknown, token?: string): Promise<ClientAnswer> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: Record<string, any> = {};
  try {
    parsed = text ? JSON.parse(text) as Record<string, any> : {};
  } catch {
    parsed = { raw: text };
  }
  return { status: res.status, body: parsed };
}

/**
 * Starts `n` federating Hearths. `configure` adjusts each one's config (index given); `options` the
 * HearthOptions (e.g. a faster outbound queue).
 */
export async function startHearths(n: number, configure: (i: number) => Record<string, unknown> = () => ({}), options: (i: number) => HearthOptions = () => ({})): Promise<HearthCluster> {
  const cert: TestCertificate = makeSelfSignedCertificate('localhost');
  const dir = mkdtempSync(join(tmpdir(), 'hearth-feds-'));
  const servers: FedHearth[] = [];
  for (let i = 0; i < n; i++) {
    // A port found free can be taken by a parallel test before the server binds it: then try others.
    let port = 0;
    let name = '';
    let config!: ReturnType<typeof buildConfig>;
    let running!: Awaited<ReturnType<typeof startServer>>;
    const opts: HearthOptions = { ...options(i), federation: { sender: { initialBackoffMs: 200, maxBackoffMs: 1000 }, ...(options(i).federation ?? {}) } };
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      name = `localhost:${port}`;
      config = buildConfig({
        server_name: name,
        listen: { host: '127.0.0.1', port: await freePort() },
        database: { path: join(dir, `hs${i}.db`) },
        logging: { level: process.env.HEARTH_TEST_LOG ?? 'silent' },
        rate_limits: { enabled: false },
        federation: {
          enabled: true, listen: { host: '127.0.0.1', port },
          tls_certificate_path: cert.certPath, tls_private_key_path: cert.keyPath, verify_certificates: false,
        },
        ip_range_whitelist: ['127.0.0.1', '::1'],
        ...configure(i),
      });
      try {
        running = await startServer(config, opts);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 5) throw e;
      }
    }
    let counter = 0;
    const h: FedHearth = {
      name, config,
      get running() { return running; },
      call: (method, path, body, token) => request(running.url, method, path, body, token),
      async register(localpart) {
        const r = await request(running.url, 'POST', '/_matrix/client/v3/register', { username: localpart, password: 'correct horse battery staple', auth: { type: 'm.login.dummy' }, device_id: `D${++counter}` });
        if (r.status !== 200) throw new Error(`register ${localpart} on ${name}: ${r.status} ${JSON.stringify(r.body)}`);
        const token = r.body.access_token as string;
        return { userId: r.body.user_id, token, deviceId: r.body.device_id, call: (method, path, body) => request(running.url, method, path, body, token) };
      },
      async stop() { await running.stop(); },
      async restart() { running = await startServer(config, opts); },
    } as FedHearth;
    servers.push(h);
  }
  return {
    servers,
    async close() {
      for (const s of servers) await s.running.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      cert.remove();
    },
  };
}
