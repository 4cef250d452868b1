#!/usr/bin/env node
// Entry point and CLI: config -> storage -> migrations -> services -> http app -> listen; graceful stop.
//   hearth [serve] [--migrate] [--config FILE]
//   hearth migrate [--config FILE]
//   hearth user create <localpart> [--password P] [--admin] [--config FILE]
//   hearth generate-config
//   hearth --version
import cluster from 'node:cluster';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { systemClock } from './clock.js';
import { ConfigError, describeDatabase, generateConfigYaml, loadConfig, type Config } from './config.js';
import { randomToken } from './core/ids.js';
import { MatrixError } from './errors.js';
import { createHttpServer } from './http/app.js';
import { assembleHearth, type HearthOptions } from './index.js';
import { createLogger } from './logger.js';
import { createServices, type Services } from './services.js';
import { ServingRefusedError } from './cluster/guard.js';
import { DatabaseOpenError } from './storage/errors.js';
import { MigrationError } from './storage/migrate.js';
import { openStorage } from './storage/open.js';
import type { Storage } from './storage/types.js';
import { SERVER_NAME_SOFTWARE, VERSION } from './version.js';

const USAGE = `${SERVER_NAME_SOFTWARE} ${VERSION}: a Matrix homeserver

Usage:
  hearth [serve] [--migrate] [--workers N] [--config FILE]
                                          run the homeserver (default); on PostgreSQL, --migrate
                                          applies pending migrations first (by default only an empty
                                          database is migrated at start); --workers N runs N
                                          processes on one port (PostgreSQL and redis.url needed)
  hearth migrate [--config FILE]          apply pending database migrations and exit (once per cluster)
  hearth user create <localpart> [--password P] [--admin] [--config FILE]
                                          create a user (a random password is printed if none is given)
  hearth generate-config                  print a config file with every key and its default
  hearth --version                        print the version

The config file may also be named by HEARTH_CONFIG; HEARTH_SERVER_NAME, HEARTH_PORT, HEARTH_BIND,
HEARTH_DATABASE, HEARTH_DATABASE_ENGINE, HEARTH_DATABASE_URL, HEARTH_REDIS_URL and HEARTH_LOG_LEVEL override
single keys.`;

interface Args {
  positional: string[];
  flags: Map<string, string | true>;
}

function parseArgs(argv: string[]): Args {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  const valued = new Set(['--config', '--password', '--workers']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) flags.set(a.slice(0, eq), a.slice(eq + 1));
      else if (valued.has(a)) {
        const v = argv[++i];
        if (v === undefined) throw new UsageError(`${a} needs a value`);
        flags.set(a, v);
      } else flags.set(a, true);
    } else if (a === '-h') flags.set('--help', true);
    else positional.push(a);
  }
  return { positional, flags };
}

class UsageError extends Error {}

export interface RunningServer {
  services: Services;
  storage: Storage;
  server: Server;
  url: string;
  /** The federation listener's URL when federation.enabled (https://..., or http://... without TLS files). */
  federationUrl?: string;
  stop(): Promise<void>;
}

/**
 * Starts a homeserver from a config: the client listener, and with federation.enabled the federation
 * listener (createHearth starts it, stop() closes it); used by `serve`, the e2e tests and the benchmark.
 * `migrate`: apply pending PostgreSQL migrations first (`serve --migrate`).
 */
export async function startServer(config: Config, opts: HearthOptions = {}): Promise<RunningServer> {
  const hearth = await assembleHearth(config, { defaultMetrics: true, ...opts, migrate: opts.migrate === true });
  const { services, storage } = hearth;
  const server: Server = createHttpServer(hearth.app);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.listen.port, config.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    await hearth.close();
    throw e;
  }
  server.keepAliveTimeout = 65_000;
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  let stopping: Promise<void> | undefined;
  return {
    services, storage, server, url,
    ...(hearth.federationListener ? { federationUrl: hearth.federationListener.url } : {}),
    stop() {
      stopping ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          // Long-polls and keep-alive connections must not hold the stop forever.
          setTimeout(() => server.closeAllConnections(), 2000).unref();
        });
        await hearth.close();
      })();
      return stopping;
    },
  };
}

/** `--workers N`: a positive integer, 1 by default. */
function workersOf(args: Args): number {
  const raw = args.flags.get('--workers');
  if (raw === undefined) return 1;
  const n = raw === true ? NaN : Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new UsageError('--workers needs a whole number from 1 to 256');
  return n;
}

/**
 * Whether a config may run `workers` processes: several processes need PostgreSQL and Redis
 * (spec/scaling.md "One process or several"). Returns the reason when not.
 */
export function refuseWorkers(config: Config, workers: number): string | undefined {
  if (workers <= 1) return undefined;
  if (config.database.engine !== 'postgres') {
    return `--workers ${workers}: several processes need database.engine: postgres (SQLite is one process's file; it has a single writer)`;
  }
  if (config.redis.url === null) {
    return `--workers ${workers}: several processes share their live state (sessions, typing, presence, wake-ups of /sync) through Redis: set redis.url (env HEARTH_REDIS_URL)`;
  }
  return undefined;
}

/**
 * `serve --workers N`: this process (the primary) forks N workers that each run the server on the
 * same port (node:cluster hands them the connections). A worker that dies after it started is
 * replaced; one that fails to start stops the whole group with its exit code.
 */
async function serveWorkers(config: Config, args: Args, workers: number): Promise<void> {
  const refused = refuseWorkers(config, workers);
  if (refused) throw new ConfigError([refused]);
  // --migrate: once, here, before any worker opens the database.
  if (args.flags.has('--migrate')) await (await openStorage(config, systemClock.now, { migrate: 'apply' })).close();
  const started = new Set<number>();
  let stopping = false;
  const fork = (index: number) => {
    const w = cluster.fork({ HEARTH_WORKER_INDEX: String(index) });
    w.on('message', (m: unknown) => {
      if ((m as { hearth?: string }).hearth === 'listening') started.add(w.id);
    });
    w.on('exit', (code, signal) => {
      if (stopping) return;
      if (!started.has(w.id)) {
        process.stderr.write(`A worker could not start (exit code ${code ?? signal}); stopping.\n`);
        stopping = true;
        for (const other of Object.values(cluster.workers ?? {})) other?.kill('SIGTERM');
        process.exitCode = code ?? 1;
        return;
      }
      process.stderr.write(`Worker ${index} ended (${code ?? signal}); starting another.\n`);
      fork(index);
    });
  };
  for (let i = 0; i < workers; i++) fork(i);
  const stop = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function serve(config: Config, args: Args): Promise<void> {
  const workers = workersOf(args);
  if (workers > 1 && cluster.isPrimary) return serveWorkers(config, args, workers);
  const worker = cluster.isWorker ? Number(process.env.HEARTH_WORKER_INDEX ?? '0') : 0;
  const running = await startServer(config, { migrate: args.flags.has('--migrate') && cluster.isPrimary, guardServing: true });
  if (cluster.isWorker) process.send?.({ hearth: 'listening' });
  const log = running.services.logger;
  // Signals are handled before anything announces that the server is up.
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  log.info({ version: VERSION, url: running.url, federation_url: running.federationUrl, server_name: config.server_name, engine: config.database.engine, database: describeDatabase(config) }, 'Hearth is listening');
  if (worker === 0 && (process.stdout.isTTY || process.env.HEARTH_QUIET !== '1')) {
    const reg = config.enable_registration
      ? `  Register a first user with any Matrix client (e.g. Element: homeserver ${running.url}), or:\n` +
        `    curl -X POST ${running.url}/_matrix/client/v3/register -d '{"username":"alice","password":"a-long-password","auth":{"type":"m.login.dummy"}}'\n`
      : '';
    const web = config.web_client.enabled ? `  Chat in a browser: ${running.url}${config.web_client.path}\n` : '';
    const fed = running.federationUrl ? `  Federation (/_matrix/federation, /_matrix/key) on ${running.federationUrl}\n` : '';
    process.stdout.write(
      `\n${SERVER_NAME_SOFTWARE} ${VERSION} listening on ${running.url} for server name "${config.server_name}"\n` +
        web +
        fed +
        reg +
        `  Create an admin:   npm start -- user create admin --admin\n` +
        `  Stop with Ctrl-C.\n\n`,
    );
  }
  function stop(signal: string): void {
    log.info({ signal }, 'stopping');
    running.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  }
}

async function userCreate(config: Config, args: Args): Promise<void> {
  const localpart = args.positional[2];
  if (!localpart) throw new UsageError('user create needs a localpart');
  const given = args.flags.get('--password');
  if (given === true) throw new UsageError('--password needs a value');
  const password = given ?? randomToken(12);
  const storage = await openStorage(config, systemClock.now);
  const services = createServices(config, storage, systemClock, { logger: createLogger('warn') });
  try {
    const result = await services.registration.createUser({ localpart, password, admin: args.flags.has('--admin') });
    process.stdout.write(`Created ${result.user_id}${args.flags.has('--admin') ? ' (admin)' : ''}\n`);
    if (given === undefined) process.stdout.write(`Password: ${password}\n`);
  } finally {
    await services.stop();
    await storage.close();
  }
}

/** `hearth migrate`: applies what is pending (SQLite or PostgreSQL) and says what it did. */
async function migrateCommand(config: Config): Promise<void> {
  const storage = await openStorage(config, systemClock.now, { migrate: 'apply' });
  try {
    const where = `${config.database.engine} database ${describeDatabase(config)}`;
    if (storage.appliedMigrations.length === 0) process.stdout.write(`The ${where} is up to date.\n`);
    else process.stdout.write(`Applied to the ${where}:\n${storage.appliedMigrations.map((m) => `  ${m}\n`).join('')}`);
  } finally {
    await storage.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (args.flags.has('--version') || args.positional[0] === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (args.flags.has('--help') || args.positional[0] === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const command = args.positional[0] ?? 'serve';
  if (command === 'generate-config') {
    process.stdout.write(generateConfigYaml());
    return 0;
  }
  try {
    const configFlag = args.flags.get('--config');
    const config = loadConfig(typeof configFlag === 'string' ? configFlag : process.env.HEARTH_CONFIG);
    if (command === 'serve') {
      await serve(config, args);
      return -1; // keeps running
    }
    if (command === 'migrate') {
      if (args.positional.length > 1) throw new UsageError(`unknown command: ${args.positional.join(' ')}`);
      await migrateCommand(config);
      return 0;
    }
    if (command === 'user' && args.positional[1] === 'create') {
      await userCreate(config, args);
      return 0;
    }
    throw new UsageError(`unknown command: ${args.positional.join(' ')}`);
  } catch (e) {
    if (e instanceof UsageError) process.stderr.write(`${e.message}\n\n${USAGE}\n`);
    else if (e instanceof ConfigError || e instanceof MigrationError || e instanceof DatabaseOpenError || e instanceof ServingRefusedError) process.stderr.write(`${e.message}\n`);
    else if (e instanceof MatrixError) process.stderr.write(`${e.errcode}: ${e.message}\n`);
    else if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') process.stderr.write(`Cannot listen: ${(e as Error).message}\n`);
    else throw e;
    return e instanceof UsageError ? 2 : 1;
  }
}

// Run when executed directly (node dist/main.js, the hearth bin, npm start), not when imported.
const invoked = process.argv[1] ? pathToFileURL(process.argv[1]).href : '';
if (import.meta.url === invoked || invoked.endsWith('/bin/hearth')) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code >= 0) process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
