// Who migrates a PostgreSQL database (src/storage/postgres/migrate.ts; README "Scaling out"): an empty
// database is migrated at start; one with migrations pending is refused unless migrating is asked for
// (`hearth migrate`, `serve --migrate`); one with a migration this build does not know is always
// refused; two processes migrating at once apply each migration once.
import pg from 'pg';
import { MigrationError } from '../../src/storage/migrate.js';
import { loadPostgresMigrations, migratePostgres, openPostgresStorage } from '../../src/storage/postgres/index.js';
import { DatabaseOpenError } from '../../src/storage/errors.js';
import { createTestDatabase, type TestDatabase } from '../helpers/storage.js';

const all = loadPostgresMigrations();

async function appliedIn(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY id')).rows.map((r) => r.name);
  } finally {
    await c.end();
  }
}

async function thrown(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('did not throw');
}

describe('PostgreSQL migrations at start-up and by `hearth migrate`', () => {
  const dbs: TestDatabase[] = [];
  const empty = async () => {
    const db = await createTestDatabase({ empty: true });
    dbs.push(db);
    return db;
  };
  afterAll(async () => {
    for (const db of dbs) await db.drop();
  });

  it('an empty database is migrated when opened (a first start), and opened as is afterwards', async () => {
    const db = await empty();
    const s = await openPostgresStorage(db.url, 2, Date.now);
    expect(s.appliedMigrations).toEqual(all.map((m) => m.name));
    await s.close();
    const again = await openPostgresStorage(db.url, 2, Date.now);
    expect(again.appliedMigrations).toEqual([]);
    expect(await again.rooms.maxStreamOrdering()).toBe(0);
    await again.close();
  });

  it('a database with migrations pending is refused, naming them and `hearth migrate`, and left as it was', async () => {
    const db = await empty();
    await migratePostgres(db.url, all.slice(0, -1), Date.now, 'apply');
    const e = await thrown(openPostgresStorage(db.url, 2, Date.now));
    expect(e).toBeInstanceOf(MigrationError);
    expect(e.message).toContain(all[all.length - 1]!.name);
    expect(e.message).toContain('hearth migrate');
    expect(await appliedIn(db.url)).toEqual(all.slice(0, -1).map((m) => m.name));
    // `hearth migrate` / `serve --migrate` apply what is pending, and only that.
    const s = await openPostgresStorage(db.url, 2, Date.now, { migrate: 'apply' });
    expect(s.appliedMigrations).toEqual([all[all.length - 1]!.name]);
    await s.close();
    expect(await appliedIn(db.url)).toEqual(all.map((m) => m.name));
  });

  it("'check' never migrates, not even an empty database", async () => {
    const db = await empty();
    await expect(migratePostgres(db.url, all, Date.now, 'check')).rejects.toBeInstanceOf(MigrationError);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    expect((await c.query("SELECT to_regclass('users') AS t")).rows[0].t).toBeNull();
    await c.end();
  });

  it('a database written by a newer Hearth (a migration this build does not know) is refused, whatever the mode', async () => {
    const db = await empty();
    await migratePostgres(db.url, all, Date.now, 'apply');
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query("INSERT INTO schema_migrations (id, name, applied_ts) VALUES (9999, '9999_future', 1)");
    await c.end();
    for (const migrate of ['apply', 'if-empty', 'check'] as const) {
      const e = await thrown(openPostgresStorage(db.url, 2, Date.now, { migrate }));
      expect(e).toBeInstanceOf(MigrationError);
      expect(e.message).toMatch(/9999_future.*does not know|does not know.*9999_future/s);
    }
  });

  it('two processes starting on an empty database at once apply each migration once', async () => {
    const db = await empty();
    const [a, b] = await Promise.all([
      migratePostgres(db.url, all, Date.now, 'if-empty'),
      migratePostgres(db.url, all, Date.now, 'if-empty'),
    ]);
    expect([...a, ...b].sort()).toEqual(all.map((m) => m.name).sort());
    expect(await appliedIn(db.url)).toEqual(all.map((m) => m.name));
  });

  it('a migration that fails leaves nothing of itself behind', async () => {
    const db = await empty();
    const broken = [...all.slice(0, 2), { id: 3, name: '0003_broken', sql: 'CREATE TABLE half_made (x BIGINT); SELECT no_such_function();' }];
    const e = await thrown(migratePostgres(db.url, broken, Date.now, 'apply'));
    expect(e).toBeInstanceOf(MigrationError);
    expect(e.message).toContain('0003_broken');
    expect(await appliedIn(db.url)).toEqual(all.slice(0, 2).map((m) => m.name));
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    expect((await c.query("SELECT to_regclass('half_made') AS t")).rows[0].t).toBeNull();
    await c.end();
  });

  it('an unreachable server is reported with the URL, its password hidden', async () => {
    const e = await thrown(openPostgresStorage('postgres://hearth:n0t-shown@127.0.0.1:1/hearth', 2, Date.now));
    expect(e).toBeInstanceOf(DatabaseOpenError);
    expect(e.message).toContain('postgres://hearth:***@127.0.0.1:1/hearth');
    expect(e.message).not.toContain('n0t-shown');
  });
});
