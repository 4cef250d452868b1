// The BUILT command line (node dist/main.js ...) as a user runs it: child processes, real files, real
// signals. beforeAll builds dist/ with tsconfig.build.json first.
import Database from 'better-sqlite3';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { loadMigrations } from '../src/storage/migrate.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = join(ROOT, 'dist', 'main.js');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment for a child: ours without any HEARTH_* variable, plus `extra`. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HEARTH_')) env[k] = v;
  return { ...env, ...extra };
}

const children = new Set<ChildProcess>();

/** Runs `node dist/main.js ...args` to completion (killed after `timeoutMs`). */
function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

interface Served {
  child: ChildProcess;
  /** Resolves with everything printed once the process has exited. */
  exited: Promise<Result>;
  output(): string;
  /** Resolves once stdout + stderr match `re` (the banner and the log line are separate writes). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
}

/**
 * Starts `serve` and resolves once its output matches `ready` (by default the banner line
 * "... listening on http://..."); rejects if it exits first.
 */
function startServe(env: Record<string, string>, ready: RegExp = /listening on http/, timeoutMs = 20_000): Promise<Served> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, 'serve'], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    let isReady = false;
    const exited = new Promise<Result>((res) => {
      child.on('close', (code, signal) => {
        children.delete(child);
        res({ code, signal, stdout, stderr });
      });
    });
    const timer = setTimeout(() => {
      if (!isReady) {
        child.kill('SIGKILL');
        reject(new Error(`serve did not print ${ready} within ${timeoutMs} ms:\n${stdout}\n${stderr}`));
      }
    }, timeoutMs);
    const check = () => {
      if (!isReady && ready.test(stdout)) {
        isReady = true;
        clearTimeout(timer);
        const output = () => stdout + stderr;
        const waitFor = async (re: RegExp, ms = 5000) => {
          const deadline = Date.now() + ms;
          while (!re.test(output())) {
            if (Date.now() > deadline || child.exitCode !== null) throw new Error(`output never matched ${re}:\n${output()}`);
            await new Promise((r) => setTimeout(r, 20));
          }
          return output();
        };
        resolve({ child, exited, output, waitFor });
      }
    };
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; check(); });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    void exited.then((r) => {
      if (!isReady) {
        clearTimeout(timer);
        reject(new Error(`serve exited (code ${r.code}, signal ${r.signal}) before listening:\n${r.stdout}\n${r.stderr}`));
      }
    });
  });
}

/** A TCP port that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

let tmp: string;

beforeAll(() => {
  // Always build: dist/ must match src/ for these tests to mean anything.
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
      cwd: ROOT,
      stdio: 'pipe',
      timeout: 120_000,
    });
  } catch (e) {
    const err = e as { stdout?: Buffer; stderr?: Buffer; message: string };
    throw new Error(`npm run build (tsc -p tsconfig.build.json) failed:\n${err.stdout?.toString() ?? ''}${err.stderr?.toString() ?? err.message}`);
  }
  tmp = mkdtempSync(join(tmpdir(), 'hearth-cli-'));
}, 120_000);

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the package entry point (built)', () => {
  it("`import { createHearth } from 'hearth'` resolves through package.json exports to the build", async () => {
    const script = "import('hearth').then(async (m) => { const h = await m.createHearth({ database: { path: ':memory:' }, logging: { level: 'silent' } }); " +
      "const { default: request } = await import('supertest'); const r = await request(h.app).get('/_matrix/client/versions'); " +
      "await h.close(); console.log(typeof m.createHearth, r.status, typeof h.router); })";
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    expect(out.trim()).toBe('function 200 function');
    expect(existsSync(join(ROOT, 'dist', 'index.d.ts'))).toBe(true);
  });
});

describe('hearth CLI (built)', () => {
  it('--version prints exactly the version from package.json', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${PKG.version}\n`);
    expect(r.stderr).toBe('');
  });

  it('--help prints the usage with every command', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const cmd of ['serve', '--migrate', 'migrate', 'user create', 'generate-config', '--version']) expect(r.stdout).toContain(cmd);
  });

  it('an unknown command exits 2 with the usage on stderr', async () => {
    const r = await runCli(['frobnicate'], { HEARTH_DATABASE: join(tmp, 'unknown-cmd.db') });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command: frobnicate');
    expect(r.stderr).toContain('Usage:');
  });

  it('generate-config prints YAML that parses to the defaults and is accepted back as a config file', async () => {
    const r = await runCli(['generate-config']);
    expect(r.code).toBe(0);
    const parsed = YAML.parse(r.stdout) as Record<string, any>;
    expect(parsed.server_name).toBe('localhost');
    expect(parsed.listen).toEqual({ host: '127.0.0.1', port: 8008 });
    expect(parsed.database).toEqual({ engine: 'sqlite', path: './data/hearth.db', cache_mb: 64, url: null, pool_size: 10 });
    expect(parsed.enable_registration).toBe(true);
    expect(parsed.registration_shared_secret).toBeNull();
    expect(parsed.password_min_length).toBe(8);
    expect(parsed.max_request_body_bytes).toBe(1048576);
    expect(parsed.rate_limits.enabled).toBe(true);
    expect(parsed.jwt_login).toEqual({ enabled: false, secret: null, algorithm: 'HS256', issuer: null, audiences: [] });
    // Every key is documented by a comment.
    expect(r.stdout).toMatch(/^# /m);

    // The generated file is a valid config: `user create` accepts it (database path from env).
    const file = join(tmp, 'generated.yaml');
    writeFileSync(file, r.stdout);
    const created = await runCli(['user', 'create', 'gen', '--password', 'longpassword1', '--config', file], {
      HEARTH_DATABASE: join(tmp, 'generated.db'),
    });
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toBe('Created @gen:localhost\n');
  });

  it('user create makes an admin; a second run with the same name fails with a message', async () => {
    const db = join(tmp, 'users.db');
    const first = await runCli(['user', 'create', 'bob', '--password', 'longpassword1', '--admin'], { HEARTH_DATABASE: db });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toBe('Created @bob:localhost (admin)\n');
    expect(first.stdout).not.toContain('longpassword1');

    const conn = new Database(db, { readonly: true });
    try {
      const row = conn.prepare('SELECT user_id, is_admin, is_guest, password_hash FROM users WHERE localpart = ?').get('bob') as
        { user_id: string; is_admin: number; is_guest: number; password_hash: string } | undefined;
      expect(row).toBeDefined();
      expect(row!.user_id).toBe('@bob:localhost');
      expect(row!.is_admin).toBe(1);
      expect(row!.is_guest).toBe(0);
      expect(row!.password_hash).not.toContain('longpassword1');
    } finally {
      conn.close();
    }

    const second = await runCli(['user', 'create', 'bob', '--password', 'longpassword1', '--admin'], { HEARTH_DATABASE: db });
    expect(second.code).not.toBe(0);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('M_USER_IN_USE');
    expect(second.stdout).toBe('');
  });

  it('user create without --password prints a generated password; HEARTH_SERVER_NAME applies', async () => {
    const r = await runCli(['user', 'create', 'carol'], { HEARTH_DATABASE: join(tmp, 'gen-pass.db'), HEARTH_SERVER_NAME: 'example.org' });
    expect(r.code).toBe(0);
    const m = /^Created @carol:example\.org\nPassword: (\S+)\n$/.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(m![1]!.length).toBeGreaterThanOrEqual(8);
  });

  it('user create refuses a weak password and a missing localpart', async () => {
    const weak = await runCli(['user', 'create', 'dan', '--password', 'short'], { HEARTH_DATABASE: join(tmp, 'weak.db') });
    expect(weak.code).toBe(1);
    expect(weak.stderr).toContain('M_WEAK_PASSWORD');
    const none = await runCli(['user', 'create'], { HEARTH_DATABASE: join(tmp, 'weak.db') });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('user create needs a localpart');
  });

  it('a config file with an unknown key and a bad port stops serve, listing BOTH problems', async () => {
    const file = join(tmp, 'bad.yaml');
    writeFileSync(file, 'server_name: localhost\nbogus_setting: 1\nlisten:\n  port: 70000\n');
    const r = await runCli(['serve', '--config', file], { HEARTH_DATABASE: join(tmp, 'bad.db') });
    expect(r.code).not.toBe(0);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Invalid configuration');
    expect(r.stderr).toMatch(/bogus_setting: unknown key/);
    expect(r.stderr).toMatch(/listen\.port: must be an integer from 0 to 65535 \(got 70000\)/);
    expect(r.stdout).not.toMatch(/listening/i);
    // Nothing was started, so no database was created.
    expect(existsSync(join(tmp, 'bad.db'))).toBe(false);

    // The same through HEARTH_CONFIG.
    const viaEnv = await runCli(['serve'], { HEARTH_CONFIG: file, HEARTH_DATABASE: join(tmp, 'bad.db') });
    expect(viaEnv.code).toBe(1);
    expect(viaEnv.stderr).toMatch(/bogus_setting: unknown key/);
    expect(viaEnv.stderr).toMatch(/listen\.port/);
  });

  it('serve listens on HEARTH_PORT, answers /versions, logs in a CLI-created user, and exits 0 on SIGTERM', async () => {
    const db = join(tmp, 'serve', 'x.db'); // the directory does not exist yet
    const made = await runCli(['user', 'create', 'admin', '--password', 'longpassword1', '--admin'], { HEARTH_DATABASE: db });
    expect(made.code).toBe(0);

    const port = await freePort();
    const s = await startServe({ HEARTH_DATABASE: db, HEARTH_PORT: String(port) });
    try {
      const base = `http://127.0.0.1:${port}`;
      // Both the human banner and the structured log line name the URL.
      await s.waitFor(/listening on http/);
      await s.waitFor(/"msg":"Hearth is listening"/);
      expect(s.output()).toContain(`listening on ${base}`);
      expect(s.output()).toContain(`"url":"${base}"`);

      const versions = await fetch(`${base}/_matrix/client/versions`);
      expect(versions.status).toBe(200);
      const body = (await versions.json()) as { versions: string[] };
      expect(body.versions).toContain('v1.1');

      const fed = await fetch(`${base}/_matrix/federation/v1/version`);
      expect(fed.status).toBe(200);
      expect(((await fed.json()) as { server: { version: string } }).server.version).toBe(PKG.version);

      const login = await fetch(`${base}/_matrix/client/v3/login`, {
        method: 'POST',
        body: JSON.stringify({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'admin' }, password: 'longpassword1' }),
      });
      expect(login.status).toBe(200);
      expect(((await login.json()) as { user_id: string }).user_id).toBe('@admin:localhost');
    } finally {
      s.child.kill('SIGTERM');
    }
    const r = await s.exited;
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(existsSync(db)).toBe(true);
    // Secrets never reach the output.
    expect(r.stdout).not.toContain('longpassword1');
    // The data is in the file: the user is still there.
    const conn = new Database(db, { readonly: true });
    try {
      expect(conn.prepare('SELECT is_admin FROM users WHERE user_id = ?').get('@admin:localhost')).toEqual({ is_admin: 1 });
    } finally {
      conn.close();
    }
  });

  it('SIGTERM sent as soon as serve says it is listening still stops it cleanly (exit 0)', async () => {
    // A supervisor (systemd, docker stop, a test harness) may stop the server the moment it reports
    // readiness. The signal handlers must already be in place then.
    const db = join(tmp, 'early-term.db');
    const s = await startServe({ HEARTH_DATABASE: db, HEARTH_PORT: '0' }, /listening/i);
    s.child.kill('SIGTERM');
    const r = await s.exited;
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
  });

  it('serve with HEARTH_PORT=0 prints the real URL (a real port) in its log line and banner', async () => {
    const db = join(tmp, 'port0.db');
    const s = await startServe({ HEARTH_DATABASE: db, HEARTH_PORT: '0' });
    let url: string;
    try {
      await s.waitFor(/listening on http:\/\/\S+ /);
      await s.waitFor(/"msg":"Hearth is listening"/);
      const banner = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(s.output());
      expect(banner).not.toBeNull();
      url = banner![1]!;
      expect(Number(banner![2])).toBeGreaterThan(0);
      // The structured (pino) log line carries the same URL.
      const logLine = s.output().split('\n').find((l) => l.startsWith('{') && l.includes('Hearth is listening'));
      expect(logLine).toBeDefined();
      expect((JSON.parse(logLine!) as { url: string }).url).toBe(url);
      const res = await fetch(`${url}/_matrix/client/versions`);
      expect(res.status).toBe(200);
    } finally {
      s.child.kill('SIGINT');
    }
    const r = await s.exited;
    expect(r.code).toBe(0);
    expect(existsSync(db)).toBe(true);
  });

  it('serve exits non-zero with a clear message when the port is taken', async () => {
    const blocker = createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)));
    try {
      const r = await runCli(['serve'], { HEARTH_DATABASE: join(tmp, 'taken.db'), HEARTH_PORT: String(port) });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/Cannot listen: .*EADDRINUSE/);
      expect(r.stderr).not.toMatch(/TypeError|    at /); // a message, not a crash with a stack trace
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('migrate applies every migration to a new SQLite database, then finds nothing to do', async () => {
    const db = join(tmp, 'migrate-cmd.db');
    const first = await runCli(['migrate'], { HEARTH_DATABASE: db });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`Applied to the sqlite database ${db}:`);
    expect(first.stdout).toContain('  0001_accounts\n');
    const all = loadMigrations();
    for (const m of all) expect(first.stdout).toContain(`  ${m.name}\n`);
    const conn = new Database(db, { readonly: true });
    try {
      expect((conn.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get() as { n: number }).n).toBe(all.length);
    } finally {
      conn.close();
    }
    const again = await runCli(['migrate'], { HEARTH_DATABASE: db });
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`The sqlite database ${db} is up to date.\n`);
  });

  it('migrate takes no argument: anything after it is a usage error (exit 2)', async () => {
    const r = await runCli(['migrate', 'now'], { HEARTH_DATABASE: join(tmp, 'migrate-usage.db') });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command: migrate now');
    expect(existsSync(join(tmp, 'migrate-usage.db'))).toBe(false);
  });

  it('a config naming postgres without a URL, with a SQLite path given too, is refused with both problems', async () => {
    const r = await runCli(['migrate'], { HEARTH_DATABASE_ENGINE: 'postgres', HEARTH_DATABASE: join(tmp, 'mixed.db') });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('database.url: required when database.engine is postgres');
    expect(r.stderr).toContain('database.path: only used with database.engine: sqlite');
    expect(existsSync(join(tmp, 'mixed.db'))).toBe(false);
  });

  it('refuses a database carrying a migration this build does not know', async () => {
    const db = join(tmp, 'future.db');
    // First start creates and migrates the database.
    const s = await startServe({ HEARTH_DATABASE: db, HEARTH_PORT: '0' });
    const url = /listening on (http:\/\/\S+) /.exec(s.output())![1]!;
    expect((await fetch(`${url}/_matrix/client/versions`)).status).toBe(200);
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);

    const conn = new Database(db);
    try {
      const known = conn.prepare('SELECT name FROM schema_migrations ORDER BY id').all() as { name: string }[];
      expect(known.map((m) => m.name)).toContain('0001_accounts');
      conn.prepare('INSERT INTO schema_migrations (id, name, applied_ts) VALUES (?, ?, ?)').run(9999, '9999_future', Date.now());
    } finally {
      conn.close();
    }

    const r = await runCli(['serve'], { HEARTH_DATABASE: db, HEARTH_PORT: '0' });
    expect(r.code).not.toBe(0);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('9999_future');
    expect(r.stderr).toMatch(/does not know/);
    expect(r.stderr).toMatch(/newer version/);
    expect(r.stdout).not.toMatch(/listening/i);

    // user create refuses it the same way, without touching the data.
    const u = await runCli(['user', 'create', 'late', '--password', 'longpassword1'], { HEARTH_DATABASE: db });
    expect(u.code).toBe(1);
    expect(u.stderr).toContain('9999_future');
    const after = new Database(db, { readonly: true });
    try {
      expect(after.prepare('SELECT count(*) AS n FROM users WHERE localpart = ?').get('late')).toEqual({ n: 0 });
    } finally {
      after.close();
    }
  });
});
