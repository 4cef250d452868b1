// A throwaway PostgreSQL cluster on loopback, for the tests (test/helpers/postgres-global.mjs) and the
// benchmark (bench/lib.mjs --engine postgres): initdb into a temporary directory, a free TCP port on
// 127.0.0.1, the unix socket in that directory, trust authentication for the `postgres` user; stopped
// and removed by stopCluster. PostgreSQL refuses to run as root: as root, the binaries run as the
// `postgres` system user (runuser), which owns the directory.
//
//   const cluster = await startCluster({ fsync: false });   // { url, dir, port, ... }
//   ...
//   stopCluster(cluster);
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** Where initdb, pg_ctl and postgres are: PATH first, then Debian's versioned directories. */
export function findPostgresBin() {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (existsSync(join(base, v, 'bin', 'initdb'))) return join(base, v, 'bin');
  }
  return undefined;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The uid and gid of the `postgres` system user (as root, the cluster runs as it). */
function postgresUser() {
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/**
 * Starts a cluster; resolves with { url, adminUrl, port, dir, data, bin, asRoot }. `fsync: false` for
 * tests (fast, not crash-safe); the benchmark keeps fsync on with synchronous_commit off (what SQLite's
 * synchronous=NORMAL promises: a crash of the database server may lose the last commits, never
 * corrupt). Throws an Error whose message says what is missing or what the server printed.
 */
export async function startCluster(opts = {}) {
  const bin = findPostgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed: initdb and pg_ctl are neither on PATH nor in /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql)');
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const dir = mkdtempSync(join(opts.tmp ?? tmpdir(), 'hearth-pg-'));
  const data = join(dir, 'data');
  const run = (cmd, args, what) => {
    const full = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]] : [join(bin, cmd), args];
    const r = spawnSync(full[0], full[1], { encoding: 'utf8', cwd: dir, timeout: 120_000 });
    if (r.status !== 0) {
      const log = existsSync(join(dir, 'server.log')) ? spawnSync('tail', ['-n', '20', join(dir, 'server.log')], { encoding: 'utf8' }).stdout : '';
      throw new Error(`${what} failed (${r.error?.message ?? `exit ${r.status}`}): ${(r.stderr || r.stdout || '').trim()}${log ? `\n${log}` : ''}`);
    }
    return r.stdout;
  };
  try {
    if (asRoot) {
      const { uid, gid } = postgresUser();
      chownSync(dir, uid, gid);
    }
    run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], 'initdb');
    let lastError;
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      const settings = [
        `-p ${port}`, `-k ${dir}`, '-c listen_addresses=127.0.0.1', `-c max_connections=${opts.maxConnections ?? 300}`,
        ...(opts.fsync === false ? ['-c fsync=off', '-c full_page_writes=off', '-c synchronous_commit=off'] : ['-c synchronous_commit=off']),
        ...(opts.settings ?? []).map((s) => `-c ${s}`),
      ];
      try {
        run('pg_ctl', ['-D', data, '-o', settings.join(' '), '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start'], 'pg_ctl start');
        const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
        const cluster = { url, adminUrl: url, port, dir, data, bin, asRoot };
        writeFileSync(join(dir, 'cluster.json'), JSON.stringify(cluster));
        return cluster;
      } catch (e) {
        lastError = e; // the port was taken meanwhile: another one
      }
    }
    throw lastError;
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** Stops the cluster (immediately: nothing in it is kept) and removes its directory. */
export function stopCluster(cluster) {
  if (!cluster) return;
  const args = ['-D', cluster.data, '-m', 'immediate', '-w', '-t', '30', 'stop'];
  const full = cluster.asRoot ? ['runuser', ['-u', 'postgres', '--', join(cluster.bin, 'pg_ctl'), ...args]] : [join(cluster.bin, 'pg_ctl'), args];
  spawnSync(full[0], full[1], { encoding: 'utf8', timeout: 60_000 });
  rmSync(cluster.dir, { recursive: true, force: true });
}

/** A URL for another database of the cluster. */
export function databaseUrl(cluster, name) {
  return `postgres://postgres@127.0.0.1:${cluster.port}/${name}`;
}
