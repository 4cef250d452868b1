// Which storage engine a test runs on, decided in one place: the `postgres` jest project sets
// HEARTH_TEST_ENGINE=postgres (test/helpers/postgres-env.ts), the `sqlite` project leaves it unset.
// Test servers get SQLite :memory: or a fresh PostgreSQL database copied from a migrated template in
// the run's throwaway cluster (test/helpers/postgres-global-setup.mjs), dropped when the server closes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createPostgresStorage, loadPostgresMigrations, migratePostgres } from '../../src/storage/postgres/index.js';
import { openSqliteStorage } from '../../src/storage/sqlite/index.js';
import type { Storage } from '../../src/storage/types.js';

export type TestEngine = 'sqlite' | 'postgres';

export const testEngine = (): TestEngine => (process.env.HEARTH_TEST_ENGINE === 'postgres' ? 'postgres' : 'sqlite');

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TEMPLATE_DB = 'hearth_template';
/** Connections per test server's pool (a test file may hold several servers at once). */
const TEST_POOL_SIZE = 4;

/** The cluster's admin URL; a clear failure when the run has no cluster. */
export function clusterUrl(): string {
  const error = process.env.HEARTH_TEST_PG_ERROR;
  if (error) throw new Error(`This test needs PostgreSQL, and the test cluster could not start: ${error}`);
  const url = process.env.HEARTH_TEST_PG_URL;
  if (!url) throw new Error('This test needs PostgreSQL: run it in the postgres jest project (npm test), whose globalSetup starts a cluster (HEARTH_TEST_PG_URL is not set)');
  return url;
}

/** The URL of another database of the cluster. */
export function databaseUrl(name: string): string {
  const u = new URL(clusterUrl());
  u.pathname = `/${name}`;
  return u.toString();
}

let admin: pg.Pool | undefined;
const adminPool = () => (admin ??= new pg.Pool({ connectionString: clusterUrl(), max: 2 }));

export async function closeAdmin(): Promise<void> {
  const a = admin;
  admin = undefined;
  await a?.end();
}

const TEMPLATE_LOCK = 7_262_019_172;

/** Makes the migrated template database once per cluster (whichever test file gets here first). */
export async function ensureTemplate(): Promise<void> {
  const client = new pg.Client({ connectionString: clusterUrl() });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK]);
    const exists = (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [TEMPLATE_DB])).rowCount === 1;
    if (!exists) {
      // Built under another name and renamed when complete: a half-made template never counts.
      const building = `${TEMPLATE_DB}_building`;
      await client.query(`DROP DATABASE IF EXISTS ${building}`);
      await client.query(`CREATE DATABASE ${building}`);
      await migratePostgres(databaseUrl(building), loadPostgresMigrations(), Date.now, 'apply');
      await client.query(`ALTER DATABASE ${building} RENAME TO ${TEMPLATE_DB}`);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK]).catch(() => {});
    await client.end();
  }
}

let counter = 0;
const newName = () => `hearth_t_${process.pid}_${Date.now().toString(36)}_${++counter}`;
/** A copy of the template (FILE_COPY: with fsync off, the quicker way to create and to drop here). */
const createSql = (name: string) => `CREATE DATABASE "${name}" TEMPLATE "${TEMPLATE_DB}" STRATEGY FILE_COPY`;

// Test servers are built synchronously (makeTestServer), so their database must exist before the call
// returns: each test file keeps a small stock of databases made in the background, and a child
// process makes one when the stock is empty.
const CREATE_SCRIPT = `const { Client } = require('pg');
const [url, sql] = process.argv.slice(1);
const c = new Client({ connectionString: url });
c.connect().then(() => c.query(sql)).then(() => c.end(), (e) => { process.stderr.write(e.message); process.exit(1); });`;

const STOCK = 2;
const stock: TestDatabase[] = [];
const making = new Set<Promise<void>>();

function refill(): void {
  while (stock.length + making.size < STOCK) {
    const p: Promise<void> = createTestDatabase().then(
      (db) => { stock.push(db); },
      () => {}, // the next one is made synchronously, and fails visibly
    ).finally(() => making.delete(p));
    making.add(p);
  }
}

/** Fills the stock (a test file's setup). */
export async function fillStock(): Promise<void> {
  refill();
  await Promise.all([...making]);
}

/** Drops the databases left in the stock (a test file's end). */
export async function drainStock(): Promise<void> {
  await Promise.all([...making]);
  const left = stock.splice(0);
  await Promise.all(left.map((db) => db.drop()));
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

function database(name: string): TestDatabase {
  return {
    name,
    url: databaseUrl(name),
    async drop() {
      await adminPool().query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}

/** A fresh, migrated PostgreSQL database (a copy of the template), made before this returns. */
export function createTestDatabaseSync(): TestDatabase {
  const ready = stock.shift();
  refill();
  if (ready) return ready;
  const name = newName();
  try {
    execFileSync(process.execPath, ['-e', CREATE_SCRIPT, clusterUrl(), createSql(name)], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`Could not create the test database ${name}: ${stderr || (e as Error).message}`);
  }
  return database(name);
}

/** A fresh, migrated PostgreSQL database; `empty`: a database with no schema at all. */
export async function createTestDatabase(opts: { empty?: boolean } = {}): Promise<TestDatabase> {
  const name = newName();
  await adminPool().query(opts.empty ? `CREATE DATABASE "${name}"` : createSql(name));
  return database(name);
}

/** Storage for one test server on the engine of this run; closing it drops its database. */
export function openTestStorage(now: () => number = Date.now): Storage {
  if (testEngine() === 'sqlite') return openSqliteStorage(':memory:', now);
  const db = createTestDatabaseSync();
  const storage = createPostgresStorage(db.url, { poolSize: TEST_POOL_SIZE });
  let closing: Promise<void> | undefined;
  return {
    ...storage,
    close() {
      closing ??= (async () => {
        await storage.close();
        await db.drop();
      })();
      return closing;
    },
  };
}

/** The `database` config section of a server started with startServer, and what to do once it stopped. */
export async function testDatabaseConfig(): Promise<{ database: Record<string, unknown>; drop(): Promise<void> }> {
  if (testEngine() === 'sqlite') return { database: { path: ':memory:' }, drop: async () => {} };
  const db = await createTestDatabase();
  return { database: { engine: 'postgres', url: db.url, pool_size: TEST_POOL_SIZE }, drop: () => db.drop() };
}

/**
 * Two independent handles on one database, as two processes would have (two SQLite connections to one
 * file; two PostgreSQL pools): what one writes the other's caches know nothing of.
 */
export function openSharedTestStorage(now: () => number = Date.now): { a: Storage; b: Storage; close(): Promise<void> } {
  if (testEngine() === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-shared-'));
    const a = openSqliteStorage(join(dir, 'h.db'), now);
    const b = openSqliteStorage(join(dir, 'h.db'), now);
    return {
      a, b,
      async close() {
        await a.close();
        await b.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const db = createTestDatabaseSync();
  const a = createPostgresStorage(db.url, { poolSize: TEST_POOL_SIZE });
  const b = createPostgresStorage(db.url, { poolSize: TEST_POOL_SIZE });
  return {
    a, b,
    async close() {
      await a.close();
      await b.close();
      await db.drop();
    },
  };
}
