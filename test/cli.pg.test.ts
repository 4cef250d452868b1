// The BUILT command line on PostgreSQL, as an operator runs it (child processes, real signals):
// `hearth migrate` once for a cluster, `hearth serve` migrating only an empty database unless started
// with --migrate, refusing a schema it does not know, and never printing the URL's password. The build
// is private to this file (a temporary directory; test/cli.test.ts builds dist/ itself).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadPostgresMigrations, migratePostgres } from '../src/storage/postgres/index.js';
import { createTestDatabase, databaseUrl, type TestDatabase } from './helpers/storage.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SECRET = 'pg-Secret-42';

interface Result { code: number | null; stdout: string; stderr: string }

let build: string;
const children = new Set<ChildProcess>();
const dbs: TestDatabase[] = [];

/** The environment for a child: ours without HEARTH_* variables, plus `extra`. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HEARTH_')) env[k] = v;
  return { ...env, HEARTH_QUIET: '1', ...extra };
}

/** The database's URL with a password in it (the throwaway cluster trusts loopback and ignores it). */
function withSecret(db: TestDatabase): string {
  const u = new URL(db.url);
  u.password = SECRET;
  return u.toString();
}

const pgEnv = (db: TestDatabase, extra: Record<string, string> = {}) => ({ HEARTH_DATABASE_ENGINE: 'postgres', HEARTH_DATABASE_URL: withSecret(db), HEARTH_PORT: '0', ...extra });

function run(args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(build, 'dist', 'main.js'), ...args], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts `serve`; resolves once it logged that it listens (with everything printed so far), then stops it with SIGTERM. */
function serveOnce(args: string[], env: Record<string, string>): Promise<Result & { listened: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(build, 'dist', 'main.js'), 'serve', ...args], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    let listened = false;
    const onData = () => {
      if (!listened && /"msg":"Hearth is listening"/.test(stdout)) {
        listened = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; onData(); });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr, listened });
    });
  });
}

async function applied(db: TestDatabase): Promise<string[]> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    if ((await c.query("SELECT to_regclass('schema_migrations') AS t")).rows[0].t === null) return [];
    return (await c.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY id')).rows.map((r) => r.name);
  } finally {
    await c.end();
  }
}

async function emptyDb(): Promise<TestDatabase> {
  const db = await createTestDatabase({ empty: true });
  dbs.push(db);
  return db;
}

const all = loadPostgresMigrations().map((m) => m.name);

beforeAll(() => {
  // A private build: dist/ beside links to the package's migrations, package.json and node_modules.
  build = mkdtempSync(join(tmpdir(), 'hearth-cli-pg-'));
  for (const name of ['migrations', 'package.json', 'node_modules']) symlinkSync(join(ROOT, name), join(build, name));
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', join(build, 'dist')], {
      cwd: ROOT, stdio: 'pipe', timeout: 180_000,
    });
  } catch (e) {
    const err = e as { stdout?: Buffer; stderr?: Buffer; message: string };
    throw new Error(`tsc -p tsconfig.build.json failed:\n${err.stdout?.toString() ?? ''}${err.stderr?.toString() ?? err.message}`);
  }
}, 180_000);

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const db of dbs) await db.drop();
  if (build) rmSync(build, { recursive: true, force: true });
});

describe('hearth migrate (PostgreSQL)', () => {
  it('applies every migration once, then finds nothing to do; the password is never printed', async () => {
    const db = await emptyDb();
    const first = await run(['migrate'], pgEnv(db));
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('Applied to the postgres database postgres://postgres:***@127.0.0.1:');
    for (const name of all) expect(first.stdout).toContain(`  ${name}\n`);
    expect(first.stdout).not.toContain(SECRET);
    expect(await applied(db)).toEqual(all);
    const again = await run(['migrate'], pgEnv(db));
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^The postgres database postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/\S+ is up to date\.\n$/);
  });

  it('reports a server it cannot reach (exit 1, no stack, no password)', async () => {
    const r = await run(['migrate'], { HEARTH_DATABASE_ENGINE: 'postgres', HEARTH_DATABASE_URL: `postgres://hearth:${SECRET}@127.0.0.1:1/hearth` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Cannot open the PostgreSQL database postgres://hearth:***@127.0.0.1:1/hearth');
    expect(r.stderr).not.toContain(SECRET);
    expect(r.stderr).not.toMatch(/    at /);
  });
});

describe('hearth serve (PostgreSQL)', () => {
  it('migrates an empty database at its first start and listens; its log names the database without the password', async () => {
    const db = await emptyDb();
    const r = await serveOnce([], pgEnv(db));
    expect(r.listened).toBe(true);
    expect(r.code).toBe(0);
    expect(await applied(db)).toEqual(all);
    const line = r.stdout.split('\n').find((l) => l.includes('Hearth is listening'))!;
    expect(JSON.parse(line)).toMatchObject({ engine: 'postgres', database: expect.stringMatching(/^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\//) });
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it('refuses a database with migrations pending (run `hearth migrate`), and starts with --migrate', async () => {
    const db = await emptyDb();
    await migratePostgres(db.url, loadPostgresMigrations().slice(0, -1), Date.now, 'apply');
    const refused = await run(['serve'], pgEnv(db));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(all[all.length - 1]!);
    expect(refused.stderr).toContain('hearth migrate');
    expect(refused.stdout).not.toMatch(/listening/i);
    expect(await applied(db)).toEqual(all.slice(0, -1));

    const started = await serveOnce(['--migrate'], pgEnv(db));
    expect(started.listened).toBe(true);
    expect(await applied(db)).toEqual(all);
  });

  it('refuses a database written by a newer Hearth, with or without --migrate', async () => {
    const db = await emptyDb();
    await migratePostgres(db.url, loadPostgresMigrations(), Date.now, 'apply');
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query("INSERT INTO schema_migrations (id, name, applied_ts) VALUES (9999, '9999_future', 1)");
    await c.end();
    for (const args of [[], ['--migrate']]) {
      const r = await run(['serve', ...args], pgEnv(db));
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('9999_future');
      expect(r.stderr).toMatch(/does not know/);
    }
  });

  it('user create works on PostgreSQL (and migrates an empty database like serve)', async () => {
    const db = await emptyDb();
    const r = await run(['user', 'create', 'pgadmin', '--admin', '--password', 'longpassword1'], { ...pgEnv(db), HEARTH_SERVER_NAME: 'example.org' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Created @pgadmin:example.org (admin)\n');
    const c = new pg.Client({ connectionString: databaseUrl(db.name) });
    await c.connect();
    expect((await c.query('SELECT user_id, is_admin FROM users')).rows).toEqual([{ user_id: '@pgadmin:example.org', is_admin: true }]);
    await c.end();
  });
});
