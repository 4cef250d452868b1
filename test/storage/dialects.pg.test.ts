// The two dialects of the migrations (migrations/ for SQLite, migrations/postgres/ for PostgreSQL)
// are one sequence: the same IDs and names, a PostgreSQL counterpart (possibly a stated no-op) for
// every SQLite data conversion, and once applied the same tables, columns (name and nullability) and
// named indexes. A migration added to one dialect only fails here. (In the postgres project: it needs
// a PostgreSQL database, and reads SQLite in memory.)
import Database from 'better-sqlite3';
import pg from 'pg';
import { loadMigrations, migrate } from '../../src/storage/migrate.js';
import { loadPostgresMigrations, migratePostgres } from '../../src/storage/postgres/index.js';
import { POSTGRES_MIGRATION_HOOKS } from '../../src/storage/postgres/migrate.js';
import { SQLITE_MIGRATION_HOOKS } from '../../src/storage/sqlite/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/storage.js';

type Schema = Record<string, Record<string, 'NULL' | 'NOT NULL'>>;

/**
 * Full-text search is each engine's own machinery (migrations 0015_search): SQLite's event_search is
 * an FTS5 virtual table, which keeps its rows in shadow tables (event_search_data, _idx, _content,
 * _docsize, _config: FTS5's, not Hearth's), whose rowid is the event's stream_ordering and whose
 * columns carry no constraint (Hearth writes every one); PostgreSQL's is a plain table with that
 * column, the columns NOT NULL, the words as a tsvector and a GIN index on them. Compared as that.
 */
const FULL_TEXT = {
  table: 'event_search',
  shadowTables: ['_data', '_idx', '_content', '_docsize', '_config'].map((s) => `event_search${s}`),
  rowid: 'stream_ordering',
  postgresOnlyColumns: ['vector'],
  postgresOnlyIndexes: ['event_search_vector_idx'],
};

function sqliteSchema(): { tables: Schema; indexes: string[] } {
  const db = new Database(':memory:');
  try {
    migrate(db, loadMigrations(), () => 1, SQLITE_MIGRATION_HOOKS);
    const tables: Schema = {};
    const names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
    for (const t of names) {
      if (FULL_TEXT.shadowTables.includes(t)) continue;
      tables[t] = t === FULL_TEXT.table ? { [FULL_TEXT.rowid]: 'NOT NULL' } : {};
      for (const c of db.prepare(`PRAGMA table_info(${t})`).all() as { name: string; notnull: number; pk: number }[]) {
        if (t === FULL_TEXT.table) {
          tables[t]![c.name] = 'NOT NULL';
          continue;
        }
        // A primary key column holds no NULL (PostgreSQL makes it NOT NULL; SQLite enforces it for
        // INTEGER PRIMARY KEY and WITHOUT ROWID tables, and Hearth never writes NULL into the others).
        tables[t]![c.name] = c.notnull === 1 || c.pk > 0 ? 'NOT NULL' : 'NULL';
      }
    }
    // Indexes made by CREATE INDEX (automatic ones, for keys and UNIQUE, have no SQL).
    const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name").pluck().all() as string[];
    return { tables, indexes };
  } finally {
    db.close();
  }
}

async function postgresSchema(url: string): Promise<{ tables: Schema; indexes: string[] }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const tables: Schema = {};
    const cols = await c.query<{ table_name: string; column_name: string; is_nullable: string }>(`SELECT table_name, column_name, is_nullable
      FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`);
    for (const r of cols.rows) {
      if (r.table_name === FULL_TEXT.table && FULL_TEXT.postgresOnlyColumns.includes(r.column_name)) continue;
      (tables[r.table_name] ??= {})[r.column_name] = r.is_nullable === 'YES' ? 'NULL' : 'NOT NULL';
    }
    // Indexes made by CREATE INDEX (those of keys and UNIQUE constraints belong to the constraint).
    const idx = await c.query<{ indexname: string }>(`SELECT i.indexname FROM pg_indexes i
      WHERE i.schemaname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conname = i.indexname)
      ORDER BY i.indexname`);
    return { tables, indexes: idx.rows.map((r) => r.indexname).filter((n) => !FULL_TEXT.postgresOnlyIndexes.includes(n)) };
  } finally {
    await c.end();
  }
}

describe('the SQLite and PostgreSQL migrations', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ empty: true });
    await migratePostgres(db.url, loadPostgresMigrations(), () => 1, 'apply');
  });
  afterAll(() => db.drop());

  it('have the same IDs and names, in one sequence', () => {
    const ids = (ms: { id: number; name: string }[]) => ms.map((m) => `${m.id} ${m.name}`);
    expect(ids(loadPostgresMigrations())).toEqual(ids(loadMigrations()));
  });

  it('every SQLite data conversion has its PostgreSQL counterpart (a no-op where no old data can exist)', () => {
    expect(Object.keys(POSTGRES_MIGRATION_HOOKS).sort()).toEqual(Object.keys(SQLITE_MIGRATION_HOOKS).sort());
  });

  it('once applied, give the same tables with the same columns and nullability, and the same indexes', async () => {
    const lite = sqliteSchema();
    const post = await postgresSchema(db.url);
    expect(Object.keys(post.tables).sort()).toEqual(Object.keys(lite.tables).sort());
    for (const t of Object.keys(lite.tables)) {
      // The table travels with its columns so a failure names it.
      expect({ table: t, columns: post.tables[t] }).toEqual({ table: t, columns: lite.tables[t] });
    }
    // PostgreSQL keeps the first 63 bytes of a longer name (NAMEDATALEN - 1); SQLite keeps it whole.
    expect(post.indexes).toEqual(lite.indexes.map((n) => Buffer.from(n).subarray(0, 63).toString()));
  });
});
