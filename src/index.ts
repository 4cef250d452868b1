// Hearth as a library: `import { createHearth } from 'hearth'`. createHearth takes the same keys as
// the YAML config file (defaults filled in, every problem reported at once), opens the storage, builds
// the services and returns the Express app and router:
//
//   const hearth = await createHearth({ server_name: 'example.org', database: { path: './hearth.db' } });
//   host.use(hearth.router);          // every Hearth route beside the host's own
//   ...
//   await hearth.close();             // timers stopped, database closed
import type { Express, Router } from 'express';
import { systemClock, type Clock } from './clock.js';
import { buildConfig, ConfigError, type Config } from './config.js';
import { compatSenderId } from './core/events/server-senders.js';
import type { FederationServiceOptions } from './core/federation/types.js';
import { createApp, createHearthRouter } from './http/app.js';
import { startFederationListener, type FederationListener } from './http/federation-listener.js';
import { createLogger, type Logger } from './logger.js';
import { createServices, type Services } from './services.js';
import { openStorage } from './storage/open.js';
import { RedisCluster } from './cluster/bus.js';
import { guardServing, type ServingGuard } from './cluster/guard.js';
import { RedisSessionStore } from './cluster/sessions.js';
import { redactUrl } from './config.js';
import type { Storage } from './storage/types.js';

export { ConfigError, type Config } from './config.js';
export { MatrixError } from './errors.js';
export type { Services } from './services.js';
export { VERSION } from './version.js';

export interface HearthOptions {
  /** Time source (tests inject a fake clock); the system clock by default. */
  clock?: Clock;
  /** A pino logger; by default one at `logging.level` on stdout. */
  logger?: Logger;
  /** Process-level metrics (CPU, memory, event loop) in /metrics (`hearth serve` turns them on). */
  defaultMetrics?: boolean;
  /** Federation transport parts to replace (tests: DNS, well-known, queue timings, the event handler). */
  federation?: FederationServiceOptions;
  /**
   * PostgreSQL only: apply pending migrations at start. By default they are applied only to an empty
   * database; a database with migrations pending is refused (run `hearth migrate` once for a cluster).
   * SQLite databases are always migrated at start.
   */
  migrate?: boolean;
  /**
   * PostgreSQL: hold the serving lock (src/cluster/guard.ts) while running, so that a second process
   * without Redis is refused (`hearth serve` sets it).
   */
  guardServing?: boolean;
}

export interface Hearth {
  /** An Express application serving Hearth alone (what `hearth serve` listens with). */
  app: Express;
  /** An Express router with every Hearth route and its middleware, to mount in a host application. */
  router: Router;
  services: Services;
  config: Config;
  /**
   * With `federation.enabled`: the federation listener createHearth started (only /_matrix/federation
   * and /_matrix/key, on federation.listen; HTTPS with federation.tls_*), closed by close().
   */
  federationListener?: FederationListener;
  /** Stops the federation listener, timers and background work, and closes the database. */
  close(): Promise<void>;
}

/**
 * Builds a homeserver from config values (the YAML file's keys as an object; a ConfigError lists
 * every problem). The app and the router share one set of services: mount either, not both.
 */
export async function createHearth(raw: unknown = {}, opts: HearthOptions = {}): Promise<Hearth> {
  return assembleHearth(buildConfig(raw), opts);
}

/** createHearth for a config that is already built (the CLI's `serve`). */
export async function assembleHearth(config: Config, opts: HearthOptions = {}): Promise<Hearth & { storage: Storage }> {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? createLogger(config.logging.level);
  const storage = await openStorage(config, () => clock.now(), {
    migrate: opts.migrate ? 'apply' : 'if-empty',
    onError: (err) => logger.warn({ err }, 'a PostgreSQL connection failed'),
  });
  if (storage.appliedMigrations.length > 0) logger.info({ migrations: storage.appliedMigrations }, 'applied database migrations');
  // The compat sender stands for the server: an account under that ID that someone can log in to could
  // speak as the server. Only the server-owned system user (no password) may carry it.
  const compat = compatSenderId(config);
  const existing = compat !== undefined ? await storage.accounts.getUser(compat) : undefined;
  const isSystemUser = compat === `@${config.server_notices.system_user_localpart}:${config.server_name}` && existing?.passwordHash === null;
  if (compat !== undefined && existing && !isSystemUser) {
    await storage.close();
    throw new ConfigError([`server_events.compat_sender_localpart: ${compat} is an existing account; choose a localpart nobody has`]);
  }
  // One process or several (spec/scaling.md): the serving lock on PostgreSQL, the Redis connection.
  let guard: ServingGuard | undefined;
  let cluster: RedisCluster | undefined;
  let sessions: RedisSessionStore | undefined;
  try {
    if (opts.guardServing && config.database.engine === 'postgres' && config.database.url !== null) {
      guard = await guardServing(config.database.url, config.redis.url !== null);
    }
    if (config.redis.url !== null) {
      const ttl = config.redis.lease_ttl_ms;
      cluster = await RedisCluster.connect(config.redis.url, config.server_name, logger, { heartbeatTtlMs: ttl, leaseTtlMs: ttl });
      sessions = await RedisSessionStore.open(cluster, cluster.lease('timers'));
      logger.info({ redis: redactUrl(config.redis.url), process_id: cluster.processId }, 'connected to Redis: live state shared with the other processes');
    }
  } catch (e) {
    await cluster?.close();
    await guard?.release();
    await storage.close();
    throw e;
  }
  const services = createServices(config, storage, clock, {
    logger, ...(opts.federation ? { federation: opts.federation } : {}), ...(cluster && sessions ? { cluster: { cluster, sessions } } : {}),
  });
  const { router, metrics } = createHearthRouter(services, { defaultMetrics: opts.defaultMetrics === true });
  const app = createApp(services, { router });
  let federationListener: FederationListener | undefined;
  if (config.federation.enabled) {
    try {
      // What a previous run left queued for other servers is sent again (spec/federation.md).
      await services.federation.sender.start();
      federationListener = await startFederationListener(services, { metrics });
    } catch (e) {
      await services.stop();
      await cluster?.close();
      await guard?.release();
      await storage.close();
      throw e;
    }
    logger.info({ url: federationListener.url }, 'federation listener started');
  }
  let closing: Promise<void> | undefined;
  return {
    app, router, services, config, storage,
    ...(federationListener ? { federationListener } : {}),
    close() {
      closing ??= (async () => {
        await federationListener?.close();
        await services.stop();
        await cluster?.close();
        await guard?.release();
        await storage.close();
      })();
      return closing;
    },
  };
}
