// Forward-only migrations: migrations/NNNN_name.sql (SQLite) and migrations/postgres/NNNN_name.sql
// (PostgreSQL, the same IDs and names) applied in order, each in its own transaction, recorded in
// schema_migrations. A database that has a migration this build does not know was written by a newer
// Hearth and is refused. This file runs the SQLite ones; src/storage/postgres/migrate.ts the others.
import type Database from 'better-sqlite3';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// src/storage/ and dist/storage/ are both two levels below the package root.
export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');
/** The PostgreSQL dialect of the same migrations. */
export const POSTGRES_MIGRATIONS_DIR = join(MIGRATIONS_DIR, 'postgres');

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

export class MigrationError extends Error {}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const migrations = files.map((file) => ({
    id: Number(file.slice(0, 4)),
    name: file.replace(/\.sql$/, ''),
    sql: readFileSync(join(dir, file), 'utf8'),
  }));
  migrations.forEach((m, i) => {
    if (m.id !== i + 1) throw new MigrationError(`migrations must be numbered 0001, 0002, ... without gaps; found ${m.name}`);
  });
  return migrations;
}

/**
 * Code that converts existing data after a migration's SQL, in the same transaction (keyed by the
 * migration's name, e.g. '0010_event_graph').
 */
export type MigrationHooks = Record<string, (db: Database.Database) => void>;

/** Refuses a database that has migrations this build does not know (written by a newer Hearth). */
export function checkKnown(applied: { id: number; name: string }[], migrations: Migration[]): void {
  const known = new Map(migrations.map((m) => [m.id, m]));
  const unknown = applied.filter((a) => known.get(a.id)?.name !== a.name);
  if (unknown.length > 0) {
    throw new MigrationError(
      `The database has migration(s) this build of Hearth does not know: ${unknown.map((u) => u.name).join(', ')}. ` +
        'It was probably written by a newer version; run that version or restore a backup.',
    );
  }
}

/** Applies pending migrations; returns the names applied. */
export function migrate(db: Database.Database, migrations: Migration[], now: () => number, hooks: MigrationHooks = {}): string[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ts INTEGER NOT NULL) STRICT`);
  const applied = db.prepare('SELECT id, name FROM schema_migrations ORDER BY id').all() as { id: number; name: string }[];
  checkKnown(applied, migrations);
  const done = new Set(applied.map((a) => a.id));
  const record = db.prepare('INSERT INTO schema_migrations (id, name, applied_ts) VALUES (?, ?, ?)');
  const names: string[] = [];
  for (const m of migrations) {
    if (done.has(m.id)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      hooks[m.name]?.(db);
      record.run(m.id, m.name, now());
    })();
    names.push(m.name);
  }
  return names;
}
