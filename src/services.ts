// Builds a whole server's domain services from config, storage and a clock. No singletons: each call
// makes an independent server (tests build one per file).
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import { AccountService } from './core/accounts.js';
import type { ScryptParams } from './core/passwords.js';
import { RateLimiter } from './core/ratelimit.js';
import { UiaService } from './core/uia.js';
import { createLogger, type Logger } from './logger.js';
import type { Storage } from './storage/types.js';

export interface Services {
  config: Config;
  storage: Storage;
  clock: Clock;
  logger: Logger;
  rateLimiter: RateLimiter;
  uia: UiaService;
  accounts: AccountService;
  /** Stops timers and background work (not the storage). */
  stop(): Promise<void>;
}

export interface ServiceOptions {
  logger?: Logger;
  /** Cheaper password hashing for tests; production uses the default. */
  scrypt?: ScryptParams;
}

export function createServices(config: Config, storage: Storage, clock: Clock, opts: ServiceOptions = {}): Services {
  const logger = opts.logger ?? createLogger(config.logging.level);
  const uia = new UiaService(clock);
  const rateLimiter = new RateLimiter(config.rate_limits, clock);
  const accounts = new AccountService(config, storage.accounts, clock, uia, rateLimiter, opts.scrypt);
  return {
    config,
    storage,
    clock,
    logger,
    rateLimiter,
    uia,
    accounts,
    async stop() {},
  };
}
