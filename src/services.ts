// Builds a whole server's domain services from config, storage and a clock. No singletons: each call
// makes an independent server (tests build one per file).
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import { AccountDataService } from './core/account-data.js';
import { AccountService } from './core/accounts.js';
import { InMemoryNotifier, type Notifier } from './core/notifier.js';
import { PushService } from './core/push/service.js';
import { SyncService } from './core/sync.js';
import type { SigningKey } from './core/crypto/signing.js';
import { EventWriter } from './core/events/writer.js';
import { loadOrCreateSigningKey } from './core/keys.js';
import { DirectoryService } from './core/rooms/directory.js';
import { RoomReader } from './core/rooms/read.js';
import { RoomService } from './core/rooms/service.js';
import { StreamPositions } from './core/stream.js';
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
  /** The server's signing key (generated and stored on first use). */
  signingKey(): Promise<SigningKey>;
  /** The global stream position counter (resumes after the highest stored position). */
  positions(): Promise<StreamPositions>;
  events: EventWriter;
  rooms: RoomService;
  directory: DirectoryService;
  reader: RoomReader;
  notifier: Notifier;
  sync: SyncService;
  accountData: AccountDataService;
  push: PushService;
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
  let key: Promise<SigningKey> | undefined;
  const signingKey = () => (key ??= loadOrCreateSigningKey(storage.rooms, clock.now()));
  let positionsP: Promise<StreamPositions> | undefined;
  const positions = () => (positionsP ??= storage.rooms.maxStreamOrdering().then((max) => new StreamPositions(max)));
  const events = new EventWriter(config.server_name, storage.rooms, clock, signingKey, positions);
  const rooms = new RoomService(config, storage.rooms, storage.accounts, events, clock, rateLimiter);
  const directory = new DirectoryService(config, storage.rooms, events);
  const reader = new RoomReader(config, storage.rooms, events, clock);
  const notifier = new InMemoryNotifier(clock);
  const sync = new SyncService(config, storage.rooms, storage.sync, events, reader, notifier, positions, clock);
  const accountData = new AccountDataService(config, storage.sync, storage.rooms, storage.accounts, events, notifier, positions, clock);
  const push = new PushService(storage.sync, accountData);
  events.setPushEvaluator((event, room) => push.actionsFor(event, room));
  sync.setPushRules(push);
  return {
    config,
    storage,
    clock,
    logger,
    rateLimiter,
    uia,
    accounts,
    signingKey,
    positions,
    events,
    rooms,
    directory,
    reader,
    notifier,
    sync,
    accountData,
    push,
    async stop() {},
  };
}
