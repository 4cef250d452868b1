// PostgreSQL migrations: migrations/postgres/NNNN_name.sql, the same IDs and names as the SQLite ones
// (src/storage/migrate.ts), each applied in its own transaction (PostgreSQL's DDL is transactional)
// with its data conversion, recorded in schema_migrations. The whole run holds an advisory lock, so two
// processes starting at once (or `hearth migrate` run twice) apply each migration once.
//
// Who migrates (README "Scaling out"): `hearth migrate` applies what is pending; `hearth serve`
// applies migrations only to an empty database (a first start: no other process can be using it) or
// when started with --migrate; otherwise it refuses a database with pending migrations, as every
// engine refuses one with migrations it does not know (written by a newer Hearth).
import pg from 'pg';
import { checkKnown, loadMigrations, MigrationError, POSTGRES_MIGRATIONS_DIR, type Migration } from '../migrate.js';
import { indexRelations, indexSearch } from './index-migrations.js';

/** Data conversions that run with their migration, in its transaction. */
export type PostgresMigrationHooks = Record<string, (client: pg.ClientBase) => Promise<void>>;

export const POSTGRES_MIGRATION_HOOKS: PostgresMigrationHooks = {
  // SQLite's 0010 converts rooms written before the event graph existed (sqlite/graph-migration.ts).
  // A PostgreSQL database cannot hold such rooms: this engine came after 0010, so every PostgreSQL
  // database was created by the whole sequence and 0010 meets no rooms. Nothing to convert.
  '0010_event_graph': async () => {},
  // A PostgreSQL database written before 0014 and 0015 may hold events: they are indexed the way new
  // ones are (postgres/index-migrations.ts; SQLite: sqlite/index-migrations.ts).
  '0014_relations': indexRelations,
  '0015_search': indexSearch,
};

/** 'apply': apply what is pending; 'if-empty': only to a database with no migration yet; 'check': never. */
export type MigrateMode = 'apply' | 'if-empty' | 'check';

/** The advisory lock (single-key space; room write locks use the two-key space) held while migrating. */
const MIGRATION_LOCK = 7_262_019_171;

export function loadPostgresMigrations(): Migration[] {
  return loadMigrations(POSTGRES_MIGRATIONS_DIR);
}

/**
 * Brings the database at `url` up to `migrations` as `mode` allows; returns the names applied. Throws
 * MigrationError for a database with migrations this build does not know, or with pending migrations
 * that `mode` does not apply (naming them and `hearth migrate`).
 */
export async function migratePostgres(
  url: string,
  migrations: Migration[],
  now: () => number,
  mode: MigrateMode,
  hooks: PostgresMigrationHooks = POSTGRES_MIGRATION_HOOKS,
): Promise<string[]> {
  const client = new pg.Client({ connectionString: url, application_name: 'hearth-migrate' });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      const exists = (await client.query<{ e: boolean }>("SELECT to_regclass('schema_migrations') IS NOT NULL AS e")).rows[0]!.e;
      const applied = exists
        ? (await client.query<{ id: string; name: string }>('SELECT id, name FROM schema_migrations ORDER BY id')).rows.map((r) => ({ id: Number(r.id), name: r.name }))
        : [];
      checkKnown(applied, migrations);
      const done = new Set(applied.map((a) => a.id));
      const pending = migrations.filter((m) => !done.has(m.id));
      if (pending.length === 0) return [];
      if (mode === 'check' || (mode === 'if-empty' && applied.length > 0)) {
        throw new MigrationError(
          `The database needs migration(s) this process will not apply by itself: ${pending.map((m) => m.name).join(', ')}. ` +
            'Run `hearth migrate` once (with the same config), then start the server; or start it with --migrate.',
        );
      }
      if (!exists) {
        await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
          id BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ts BIGINT NOT NULL)`);
      }
      const names: string[] = [];
      for (const m of pending) {
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await hooks[m.name]?.(client);
          await client.query('INSERT INTO schema_migrations (id, name, applied_ts) VALUES ($1, $2, $3)', [m.id, m.name, now()]);
          await client.query('COMMIT');
        } catch (e) {
          await client.query('ROLLBACK').catch(() => {});
          throw new MigrationError(`Migration ${m.name} failed (nothing of it was applied): ${(e as Error).message}`);
        }
        names.push(m.name);
      }
      return names;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    }
  } finally {
    await client.end();
  }
}
