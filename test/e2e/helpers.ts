// End-to-end helpers: a real Hearth (real HTTP listener on port 0, SQLite :memory: or a fresh
// PostgreSQL database in the postgres jest project, production code path through startServer) and real
// matrix-js-sdk clients talking to it over the network.
//
//   const hs = await startE2eServer();
//   const alice = await hs.registerClient('alice');       // { client, userId, accessToken, deviceId, password }
//   const anon = hs.client();                              // unauthenticated client
//   ...
//   await hs.stop();                                       // stops every client made through hs, then the server
import * as sdk from 'matrix-js-sdk';
// The SDK's module-wide logger (loglevel), used by parts that take no per-client logger (InteractiveAuth...).
import { logger as sdkGlobalLogger } from 'matrix-js-sdk/lib/logger.js';
import { buildConfig, type Config } from '../../src/config.js';
import { startServer } from '../../src/main.js';
import type { Services } from '../../src/services.js';
import { testDatabaseConfig } from '../helpers/storage.js';

export interface E2eUser {
  client: sdk.MatrixClient;
  userId: string;
  accessToken: string;
  deviceId: string;
  password: string;
}

export interface E2eServer {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  services: Services;
  config: Config;
  /** A matrix-js-sdk client for this server; without credentials it is anonymous. */
  client(creds?: { userId: string; accessToken: string; deviceId?: string }): sdk.MatrixClient;
  /** Registers `localpart` (m.login.dummy) through the real endpoint and returns a logged-in client. */
  registerClient(localpart?: string, password?: string): Promise<E2eUser>;
  /** Stops every client made through this object, then the server. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * matrix-js-sdk logs a lot at debug/info; keep warnings and errors, and everything with E2E_DEBUG=1.
 * Expected noise is dropped: on every M_UNKNOWN_TOKEN (what tests of logout provoke on purpose) the
 * SDK tries a token refresh and logs that it has no refresh token.
 */
const quiet = process.env.E2E_DEBUG !== '1';
const expectedNoise = (m: unknown[]) => quiet && typeof m[0] === 'string' && m[0].startsWith('Unable to refresh token');
(sdkGlobalLogger as unknown as { setLevel?: (level: string, persist?: boolean) => void }).setLevel?.(quiet ? 'warn' : 'debug', false);
type SdkLogger = NonNullable<sdk.ICreateClientOpts['logger']>;
const sdkLogger: SdkLogger = {
  trace: (...m: unknown[]) => { if (!quiet) console.trace(...m); },
  debug: (...m: unknown[]) => { if (!quiet) console.debug(...m); },
  info: (...m: unknown[]) => { if (!quiet) console.info(...m); },
  warn: (...m: unknown[]) => { if (!expectedNoise(m)) console.warn(...m); },
  error: (...m: unknown[]) => { if (!expectedNoise(m)) console.error(...m); },
  getChild: () => sdkLogger,
};

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Merges nested mappings, so `{rate_limits: {login: {...}}}` keeps `rate_limits.enabled: false`. */
function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

let counter = 0;

/** Starts a real Hearth on 127.0.0.1 with a free port; `overrides` are config values. */
export async function startE2eServer(overrides: Record<string, unknown> = {}): Promise<E2eServer> {
  const db = await testDatabaseConfig();
  const config = buildConfig(
    deepMerge(
      {
        server_name: 'localhost',
        listen: { host: '127.0.0.1', port: 0 },
        database: db.database,
        logging: { level: 'silent' },
        rate_limits: { enabled: false },
      },
      overrides,
    ),
  );
  const running = await startServer(config);
  const clients: sdk.MatrixClient[] = [];

  const client: E2eServer['client'] = (creds) => {
    const c = sdk.createClient({
      baseUrl: running.url,
      userId: creds?.userId,
      accessToken: creds?.accessToken,
      deviceId: creds?.deviceId,
      logger: sdkLogger,
    });
    clients.push(c);
    return c;
  };

  let stopping: Promise<void> | undefined;
  return {
    url: running.url,
    services: running.services,
    config,
    client,
    async registerClient(localpart, password = 'correct horse battery staple') {
      const username = localpart ?? `e2euser${++counter}`;
      const res = await client().registerRequest({ username, password, auth: { type: 'm.login.dummy' } });
      if (!res.access_token || !res.device_id) throw new Error(`register ${username}: no access token or device in ${JSON.stringify(res)}`);
      const c = client({ userId: res.user_id, accessToken: res.access_token, deviceId: res.device_id });
      return { client: c, userId: res.user_id, accessToken: res.access_token, deviceId: res.device_id, password };
    },
    stop() {
      stopping ??= (async () => {
        for (const c of clients) {
          c.stopClient();
          c.http.abort();
        }
        await running.stop();
        await db.drop();
      })();
      return stopping;
    },
  };
}
