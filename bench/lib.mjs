// Helpers of the benchmark driver: child processes (Hearth, baselines, loader), a keep-alive HTTP
// client with client-side timing, /proc readings, /metrics parsing, percentiles.
import { spawn, execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { databaseUrl, startCluster, stopCluster } from '../scripts/pg-cluster.mjs';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(BENCH_DIR, '..');

/**
 * The checkout whose build the current Hearth runs from: a snapshot of dist/ taken right after the
 * build (bench/.build/current), so that a test run rebuilding dist/ meanwhile cannot change what a
 * long benchmark measures (run.mjs sets it).
 */
let currentRoot = ROOT;
export function setCurrentRoot(root) {
  currentRoot = root;
}
export const HOST = '127.0.0.1';

const started = Date.now();
export const log = (msg) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- temp dirs and children ------------------------------------------------------------------

const tempDirs = [];
export function tempDir(label) {
  const d = mkdtempSync(join(os.tmpdir(), `hearth-bench-${label}-`));
  tempDirs.push(d);
  return d;
}
export function cleanupTemp() {
  stopEngine();
  for (const d of tempDirs.splice(0)) {
    try { rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ }
  }
}

// ---- the storage engine of the run (--engine) ------------------------------------------------------
// sqlite (default): each data set is a SQLite file in its temp dir. postgres: one throwaway cluster for
// the whole run (scripts/pg-cluster.mjs, as the tests start theirs, but with fsync on and
// synchronous_commit off: a crash of the database server may lose the last commits, never corrupt
// them, what SQLite's synchronous=NORMAL promises), a new database per data set.

let engine = { kind: 'sqlite' };

export async function useEngine(kind, { workers = 1 } = {}) {
  if (kind === 'sqlite') {
    if (workers > 1) throw new Error('--workers N > 1 needs --engine postgres (SQLite is one process\'s file)');
    return;
  }
  if (kind !== 'postgres') throw new Error(`unknown engine ${kind} (sqlite or postgres)`);
  const cluster = await startCluster({ fsync: true });
  engine = { kind: 'postgres', cluster, n: 0, workers };
  log(`PostgreSQL cluster on 127.0.0.1:${cluster.port} (${cluster.dir}; fsync on, synchronous_commit off)`);
  if (workers > 1) {
    // Several Hearth processes (serve --workers N, one port) share their live state through a
    // throwaway redis-server (no persistence), emptied for each data set.
    engine.redis = await startRedisServer();
    log(`Redis on 127.0.0.1:${engine.redis.port}; Hearth runs as ${workers} processes (serve --workers ${workers})`);
  }
}

async function startRedisServer() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  // Lives for the whole run (killAll between scenarios leaves it); stopEngine or the run's exit ends it.
  process.once('exit', () => { try { child.kill('SIGKILL'); } catch { /* gone */ } });
  const failed = new Promise((_, reject) => child.once('error', (e) => reject(new Error(`redis-server could not start: ${e.message} (apt-get install -y redis-server)`))));
  const { createClient } = await import('redis');
  const end = Date.now() + 10_000;
  for (;;) {
    const client = createClient({ url: `redis://${HOST}:${port}/0`, socket: { reconnectStrategy: false } });
    client.on('error', () => {});
    try {
      await Promise.race([client.connect(), failed]);
      await client.close();
      return { port, url: `redis://${HOST}:${port}/0`, child };
    } catch (e) {
      if (Date.now() > end || child.exitCode !== null) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export const engineKind = () => (engine.workers > 1 ? `${engine.kind}+redis x${engine.workers}` : engine.kind);

/** Stops the run's cluster, synchronously (the run may exit right after). */
export function stopEngine() {
  const cluster = engine.cluster;
  try { engine.redis?.child.kill('SIGKILL'); } catch { /* gone */ }
  engine = { kind: 'sqlite' };
  if (cluster) stopCluster(cluster);
}

/** A new, empty database for one data set: a SQLite file in `dir`, or a database of the run's cluster (its URL). */
export async function newDatabase(dir) {
  if (engine.kind !== 'postgres') return join(dir, 'hearth.db');
  const name = `bench_${process.pid}_${++engine.n}`;
  if (engine.redis) {
    // The previous data set's live state (sessions, counters) goes with it.
    const { createClient } = await import('redis');
    const r = createClient({ url: engine.redis.url });
    await r.connect();
    await r.sendCommand(['FLUSHALL']);
    await r.close();
  }
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: engine.cluster.url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return databaseUrl(engine.cluster, name);
}

/** The environment that points a Hearth process at `db` (a SQLite path or a postgres:// URL). */
const databaseEnv = (db) => (/^postgres(ql)?:\/\//.test(db) ? { HEARTH_DATABASE_ENGINE: 'postgres', HEARTH_DATABASE_URL: db } : { HEARTH_DATABASE: db });

const children = new Set();
export function killAll() {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* gone */ }
  }
  children.clear();
}

function tryListen(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.unref();
    s.once('error', () => resolve(undefined));
    s.listen(port, HOST, () => {
      const got = s.address().port;
      s.close(() => resolve(got));
    });
  });
}

/**
 * A free port for a server, below the kernel's ephemeral range (32768-60999 here) so that a server
 * never listens on a number the kernel also hands out as the source port of the bench's own client
 * connections (thousands of them per scenario).
 */
export async function freePort() {
  for (let i = 0; i < 50; i++) {
    const port = await tryListen(20000 + Math.floor(Math.random() * 12000));
    if (port !== undefined) return port;
  }
  const port = await tryListen(0);
  if (port === undefined) throw new Error('no free port');
  return port;
}

export function track(child, logPath) {
  children.add(child);
  const out = createWriteStream(logPath);
  child.stdout?.pipe(out, { end: false });
  child.stderr?.pipe(out, { end: false });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    children.delete(child);
    resolve({ code, signal });
  }));
  return { exited, out };
}

export async function stopChild(child, exited, graceMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  child.kill('SIGTERM');
  const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, graceMs);
  const r = await exited;
  clearTimeout(t);
  return r;
}

/** Waits until GET path answers (any status), bounded. */
export async function waitHttp(port, path, timeoutMs, child) {
  const until = Date.now() + timeoutMs;
  const agent = new http.Agent({ keepAlive: false });
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`process exited with code ${child.exitCode} before it answered`);
    try {
      await request(agent, port, 'GET', path, { timeoutMs: 1000 });
      agent.destroy();
      return;
    } catch { await sleep(50); }
  }
  agent.destroy();
  throw new Error(`no answer on port ${port} within ${timeoutMs} ms`);
}

/**
 * Starts Hearth as its own process: node dist/main.js serve, SQLite file or PostgreSQL URL `dbPath`, rate limits off,
 * logging warn, port from a free-port probe. `extra` is merged into the config file. `root` is the
 * checkout whose dist/main.js runs (--against: the other build, as server kind `against`).
 */
export async function startHearth(dir, dbPath, extra = {}, { root = currentRoot, kind = 'hearth', name = 'Hearth' } = {}) {
  const port = await freePort();
  const cfgPath = join(dir, 'hearth.yaml');
  const cfg = { server_name: 'localhost', rate_limits: { enabled: false }, logging: { level: 'warn' }, ...extra };
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2)); // JSON is YAML
  const logPath = join(dir, 'hearth.log');
  // BENCH_HEARTH_NODE_ARGS adds node options to the Hearth process only (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
  const nodeArgs = (process.env.BENCH_HEARTH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const workers = engine.workers > 1 && /^postgres/.test(dbPath) ? ['--workers', String(engine.workers)] : [];
  const redisEnv = workers.length > 0 ? { HEARTH_REDIS_URL: engine.redis.url } : {};
  const child = spawn(process.execPath, [...nodeArgs, join(root, 'dist', 'main.js'), 'serve', ...workers], {
    cwd: dir,
    env: { ...process.env, HEARTH_CONFIG: cfgPath, HEARTH_PORT: String(port), ...databaseEnv(dbPath), ...redisEnv, HEARTH_BIND: HOST, HEARTH_QUIET: '1', HEARTH_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { exited, out } = track(child, logPath);
  await waitHttp(port, '/_matrix/client/versions', 30_000, child);
  return {
    kind, name, pid: child.pid, port, child, logPath, exited,
    crashed: () => child.exitCode !== null || child.signalCode !== null,
    async stop() { const r = await stopChild(child, exited); out.end(); return r; },
    /** Error lines (pino level >= 50) and anything that is not JSON in the server's output. */
    problems() {
      let text = '';
      try { text = readFileSync(logPath, 'utf8'); } catch { return []; }
      return text.split('\n').filter((l) => l.trim() !== '' && (!/^\{/.test(l) || /"level":(5\d|60)/.test(l)));
    },
  };
}

export const BASELINES = [
  { kind: 'express', name: 'Express', file: 'express.mjs' },
  { kind: 'node-http', name: 'node:http', file: 'node-http.mjs' },
];

export async function startBaseline(b, dir) {
  const port = await freePort();
  const logPath = join(dir, `${b.kind}.log`);
  const child = spawn(process.execPath, [join(BENCH_DIR, 'baselines', b.file), String(port)], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const { exited, out } = track(child, logPath);
  await waitHttp(port, '/_bench/waiting', 15_000, child);
  return {
    kind: b.kind, name: b.name, pid: child.pid, port, child, logPath, exited,
    crashed: () => child.exitCode !== null || child.signalCode !== null,
    async stop() { const r = await stopChild(child, exited); out.end(); return r; },
    problems() {
      try { return readFileSync(logPath, 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('listening')); } catch { return []; }
    },
  };
}

/**
 * Runs bench/load.mjs in its own process; its progress lines are echoed. `root` is the checkout whose
 * loader (and so whose dist/) writes the data: each build loads its own database (--against).
 */
export async function runLoader(plan, dbPath, outPath, params, timeoutMs, { root = currentRoot, tag = '', dist } = {}) {
  const loader = join(root, 'bench', 'load.mjs');
  if (!existsSync(loader)) throw new Error(`${loader} does not exist`);
  // `dist`: run this loader on another build's dist/ (for a plan that build's own loader lacks).
  const child = spawn(process.execPath, [loader, plan, dbPath, outPath, JSON.stringify({ ...params, hardLimitMs: timeoutMs })], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: dist ? { ...process.env, HEARTH_BENCH_DIST: dist } : process.env,
  });
  children.add(child);
  let err = '';
  const prefix = `          ${tag ? `${tag} ` : ''}`;
  child.stdout.on('data', (d) => process.stdout.write(String(d).split('\n').filter(Boolean).map((l) => `${prefix}${l.trim()}\n`).join('')));
  child.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((resolve) => child.once('exit', (c) => resolve(c)));
  children.delete(child);
  if (code !== 0) throw new Error(`loader ${plan} failed (exit ${code}): ${err.slice(-2000)}`);
  return JSON.parse(readFileSync(outPath, 'utf8'));
}

// ---- HTTP client ---------------------------------------------------------------------------------

export const keepAlive = (maxSockets) => new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, timeout: 120_000 });

/**
 * One request; resolves with status, body text and client-side timing (performance.now() when the
 * request was issued and when the whole body had arrived).
 */
export function request(agent, port, method, path, opts = {}) {
  return new Promise((resolve, reject) => {
    const headers = { ...(opts.headers ?? {}) };
    let body;
    if (opts.json !== undefined) {
      body = typeof opts.json === 'string' ? opts.json : JSON.stringify(opts.json);
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const t0 = performance.now();
    const req = http.request({ host: HOST, port, method, path, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const t1 = performance.now();
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), t0, t1, ms: t1 - t0 });
      });
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('response aborted')));
    });
    req.on('error', reject);
    if (opts.timeoutMs) req.setTimeout(opts.timeoutMs, () => req.destroy(new Error('client timeout')));
    req.end(body);
  });
}

/** Runs fn over items with at most `n` in flight. */
export async function pool(n, items, fn) {
  let i = 0;
  const worker = async () => {
    while (i < items.length) {
      const k = i++;
      await fn(items[k], k);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

// ---- /proc and /metrics --------------------------------------------------------------------------

let clkTck = 100;
try { clkTck = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100; } catch { /* default */ }

/** CPU time (user + system) of a process in seconds, from /proc/<pid>/stat. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / clkTck;
}

/** Resident set size in MB, from /proc/<pid>/status (VmRSS). */
export function rssMB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Fraction of one core a process used over `ms` (nothing else is read meanwhile). */
export async function cpuOver(pid, ms) {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await sleep(ms);
  const c1 = cpuSeconds(pid);
  return (c1 - c0) / ((performance.now() - t0) / 1000);
}

const metricsAgent = keepAlive(2);
export async function scrape(port, timeoutMs = 5000) {
  const r = await request(metricsAgent, port, 'GET', '/metrics', { timeoutMs });
  const values = {};
  for (const line of r.body.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([-0-9.e+NaInf]+)$/.exec(line);
    if (m && m[2] === undefined) values[m[1]] = Number(m[3]);
  }
  return values;
}

// ---- statistics ----------------------------------------------------------------------------------

export function percentiles(values, ps = [50, 90, 99]) {
  const sorted = Float64Array.from(values).sort();
  const out = { n: sorted.length };
  for (const p of ps) out[`p${p}`] = sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  out.max = sorted.length ? sorted[sorted.length - 1] : NaN;
  out.mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : NaN;
  return out;
}

export function machineInfo() {
  const cpus = os.cpus();
  let model = cpus[0]?.model ?? 'unknown';
  try {
    const m = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) model = m[1].trim();
  } catch { /* not linux */ }
  return {
    cpu: model,
    cores: cpus.length,
    ramGB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    hostname: os.hostname(),
    loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
