// Opens the storage engine the config names (database.engine): SQLite (the default: one file,
// migrated at every start) or PostgreSQL (loaded only when chosen; migrated at start only when the
// database is empty or when asked: README "Scaling out", src/storage/postgres/migrate.ts).
import type { Config } from '../config.js';
import { openSqliteStorage } from './sqlite/index.js';
import type { Storage } from './types.js';

export interface OpenedStorage extends Storage {
  /** Migrations applied while opening (logged at start-up). */
  readonly appliedMigrations: string[];
}

export interface OpenOptions {
  /**
   * PostgreSQL only: 'apply' applies pending migrations (`hearth migrate`, `serve --migrate`);
   * 'if-empty' (the default) only to a database that has none yet; 'check' never. SQLite always applies.
   */
  migrate?: 'apply' | 'if-empty' | 'check';
  /** Errors of idle PostgreSQL connections (logged by the caller). */
  onError?: (err: Error) => void;
}

export async function openStorage(config: Config, now: () => number, opts: OpenOptions = {}): Promise<OpenedStorage> {
  const db = config.database;
  if (db.engine === 'postgres') {
    // config.ts makes sure a postgres config has its URL.
    const { openPostgresStorage } = await import('./postgres/index.js');
    return openPostgresStorage(db.url!, db.pool_size, now, { migrate: opts.migrate ?? 'if-empty', ...(opts.onError ? { onError: opts.onError } : {}) });
  }
  return openSqliteStorage(db.path, now, { cacheMb: db.cache_mb });
}
