// Opens the SQLite database (WAL, synchronous=NORMAL, foreign keys, busy timeout), applies migrations
// and builds the stores. This folder is the only code that contains SQL.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadMigrations, migrate } from '../migrate.js';
import type { Storage } from '../types.js';
import { createSqliteAccountStore } from './accounts.js';
import { createSqliteAdminStore } from './admin.js';
import { createSqliteFederationStore } from './federation.js';
import { createSqliteE2eeStore } from './e2ee.js';
import { createSqliteMediaStore } from './media.js';
import { createSqliteMetaStore } from './meta.js';
import { convertToEventGraph } from './graph-migration.js';
import { indexRelations, indexSearch } from './index-migrations.js';
import { createSqliteRoomStore } from './rooms.js';
import { createSqliteSyncStore } from './sync.js';
import { startCheckpointer, type CheckpointerOptions } from './checkpointer.js';

export interface SqliteStorage extends Storage {
  readonly engine: 'sqlite';
  /** The connection itself: SQLite-only tools (the benchmark's loader, tests of pragmas) use it. */
  readonly db: Database.Database;
  readonly appliedMigrations: string[];
}

/** Data conversions that run with their migrations. */
export const SQLITE_MIGRATION_HOOKS = { '0010_event_graph': convertToEventGraph, '0014_relations': indexRelations, '0015_search': indexSearch };

export function openSqliteStorage(path: string, now: () => number = Date.now, opts: { cacheMb?: number; checkpointer?: CheckpointerOptions | false } = {}): SqliteStorage {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // Reads of many rooms' recent events touch pages all over the file (a room's events are spread
  // among everyone's): a larger page cache (database.cache_mb, default 64 MiB, grown on demand) keeps
  // them after the first read. (Memory-mapped reads were a little faster still, but every mapped page
  // counts in the process's RSS: bench/README.md.)
  db.pragma(`cache_size = -${Math.max(1, Math.floor((opts.cacheMb ?? 64) * 1024))}`);
  let applied: string[];
  try {
    applied = migrate(db, loadMigrations(), now, SQLITE_MIGRATION_HOOKS);
  } catch (e) {
    db.close();
    throw e;
  }
  // WAL checkpoints in a worker thread (checkpointer.ts), so no request pays for one.
  const checkpointer = path !== ':memory:' && opts.checkpointer !== false ? startCheckpointer(db, path, opts.checkpointer || {}) : undefined;
  return {
    engine: 'sqlite',
    db,
    appliedMigrations: applied,
    accounts: createSqliteAccountStore(db),
    rooms: createSqliteRoomStore(db),
    sync: createSqliteSyncStore(db),
    meta: createSqliteMetaStore(db),
    admin: createSqliteAdminStore(db),
    federation: createSqliteFederationStore(db),
    e2ee: createSqliteE2eeStore(db),
    media: createSqliteMediaStore(db),
    async close() {
      await checkpointer?.stop();
      if (db.open) db.close();
    },
  };
}
