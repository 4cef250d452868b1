// The PostgreSQL engine (issue 17; spec/postgres.md): a pg connection pool, the stores over it, and the
// migrations (migrations/postgres/). This folder and ../sqlite are the only code that contains SQL.
import type pg from 'pg';
import { redactUrl } from '../../config.js';
import { DatabaseOpenError } from '../errors.js';
import { MigrationError } from '../migrate.js';
import type { Storage } from '../types.js';
import { createPostgresAccountStore } from './accounts.js';
import { createPostgresAdminStore } from './admin.js';
import { createPool } from './db.js';
import { createPostgresE2eeStore } from './e2ee.js';
import { createPostgresFederationStore } from './federation.js';
import { createPostgresMediaStore } from './media.js';
import { createPostgresMetaStore } from './meta.js';
import { loadPostgresMigrations, migratePostgres, type MigrateMode } from './migrate.js';
import { createPostgresRoomStore } from './rooms.js';
import { createPostgresSyncStore } from './sync.js';

export { loadPostgresMigrations, migratePostgres, type MigrateMode } from './migrate.js';

export interface PostgresStorage extends Storage {
  readonly engine: 'postgres';
  readonly pool: pg.Pool;
  /** Migrations applied when it was opened. */
  readonly appliedMigrations: string[];
}

export interface PostgresOptions {
  /** Connections in the pool (database.pool_size). */
  poolSize?: number;
  /** Errors of idle pool connections (reported, never thrown). */
  onError?: (err: Error) => void;
}

/**
 * The stores over a database whose schema is already current (no migration, no connection yet: the
 * pool connects on the first statement). openPostgresStorage is what servers use.
 */
export function createPostgresStorage(url: string, opts: PostgresOptions = {}, appliedMigrations: string[] = []): PostgresStorage {
  const pool = createPool(url, { size: opts.poolSize ?? 10, ...(opts.onError ? { onError: opts.onError } : {}) });
  let closing: Promise<void> | undefined;
  return {
    engine: 'postgres',
    pool,
    appliedMigrations,
    accounts: createPostgresAccountStore(pool),
    rooms: createPostgresRoomStore(pool),
    sync: createPostgresSyncStore(pool),
    meta: createPostgresMetaStore(pool),
    admin: createPostgresAdminStore(pool),
    federation: createPostgresFederationStore(pool),
    e2ee: createPostgresE2eeStore(pool),
    media: createPostgresMediaStore(pool),
    close() {
      closing ??= pool.end();
      return closing;
    },
  };
}

/**
 * Opens the database at `url`: checks its schema and brings it up to date as `migrate` allows
 * (src/storage/postgres/migrate.ts), then builds the stores over a pool of `poolSize` connections.
 * Throws MigrationError for a schema this build will not use, DatabaseOpenError when the server
 * cannot be reached or refuses the connection (the message names the URL without its password).
 */
export async function openPostgresStorage(url: string, poolSize: number, now: () => number, opts: { migrate?: MigrateMode; onError?: (err: Error) => void } = {}): Promise<PostgresStorage> {
  let applied: string[];
  try {
    applied = await migratePostgres(url, loadPostgresMigrations(), now, opts.migrate ?? 'if-empty');
  } catch (e) {
    if (e instanceof MigrationError) throw e;
    throw new DatabaseOpenError(`Cannot open the PostgreSQL database ${redactUrl(url)}: ${(e as Error).message}`);
  }
  return createPostgresStorage(url, { poolSize, ...(opts.onError ? { onError: opts.onError } : {}) }, applied);
}
