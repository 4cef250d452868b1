// `--against REF`: a second build of Hearth, made from commit REF, that runs beside this checkout's
// build in the same run. The tree of REF is extracted with `git archive` into bench/.against/<short>/,
// gets node_modules (a symlink to ours when the lockfiles are byte-identical, else its own `npm ci`)
// and is built with its own tsc. A finished build is marked, so the next run with the same REF reuses it.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BENCH_DIR, ROOT, log } from './lib.mjs';

const MARKER = '.bench-build-complete';

/** Runs a command to completion; throws a message naming the step when it fails. */
function run(step, cmd, args, opts) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...opts });
  if (r.error) throw new Error(`--against: ${step} failed: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`--against: ${step} failed (exit ${r.status ?? r.signal}); its output is above`);
  return r;
}

function git(args) {
  const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`--against: git ${args.join(' ')} failed: ${(r.stderr || r.error?.message || '').trim()}`);
  return r.stdout.trim();
}

const sameLockfile = (dir) => {
  try { return readFileSync(join(dir, 'package-lock.json')).equals(readFileSync(join(ROOT, 'package-lock.json'))); } catch { return false; }
};

/** The marker's content: which commit, and how node_modules was made (a symlink is only right while the lockfiles match). */
function readMarker(dir) {
  try { return JSON.parse(readFileSync(join(dir, MARKER), 'utf8')); } catch { return null; }
}

/**
 * node_modules for the other build. Identical lockfiles: ours, by symlink (no install, no disk). Otherwise
 * its own `npm ci`, since an older or newer tree may need other versions (better-sqlite3 may compile).
 */
function installModules(dir) {
  const nm = join(dir, 'node_modules');
  if (existsSync(nm) || isLink(nm)) {
    if (isLink(nm)) unlinkSync(nm);
    else rmSync(nm, { recursive: true, force: true });
  }
  if (sameLockfile(dir)) {
    symlinkSync(join(ROOT, 'node_modules'), nm, 'dir');
    log(`[against] package-lock.json is identical: node_modules -> ${join(ROOT, 'node_modules')}`);
    return 'symlink';
  }
  log(`[against] package-lock.json differs from this checkout's: running npm ci --no-audit --no-fund in ${relative(process.cwd(), dir)} (minutes if better-sqlite3 compiles)`);
  const env = { ...process.env };
  // As .ci/run: better-sqlite3 compiles from source with the installed Node headers, not downloaded ones.
  const prefix = join(process.execPath, '..', '..');
  if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node.h'))) env.npm_config_nodedir = prefix;
  run(`npm ci in ${dir}`, 'npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, env, timeout: 20 * 60_000 });
  return 'ci';
}

function isLink(p) {
  try { return lstatSync(p).isSymbolicLink(); } catch { return false; }
}

/**
 * Resolves REF, extracts, installs and builds it (or reuses a complete earlier build).
 * Returns {ref, sha, short, dir, name}; throws with a clear message when a step fails.
 */
export function prepareAgainst(ref) {
  const r = spawnSync('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd: ROOT, encoding: 'utf8' });
  const sha = r.status === 0 ? r.stdout.trim() : '';
  if (!/^[0-9a-f]{40}$/.test(sha)) throw new Error(`--against: ${ref} is not a commit of the repository in ${ROOT} (git rev-parse found none)`);
  const short = git(['rev-parse', '--short', sha]);
  const dir = join(BENCH_DIR, '.against', short);
  const info = { ref, sha, short, dir, name: `Hearth@${short}` };
  const marker = readMarker(dir);
  const modules = sameLockfile(dir) ? 'symlink' : 'ci';
  if (marker?.sha === sha && existsSync(join(dir, 'dist', 'main.js')) && existsSync(join(dir, 'node_modules'))) {
    // A symlinked node_modules stays right only while our lockfile still equals REF's.
    if (marker.modules !== modules) {
      log(`[against] ${info.name}: this checkout's lockfile changed since it was built; redoing node_modules`);
      writeFileSync(join(dir, MARKER), JSON.stringify({ ...marker, modules: installModules(dir) }));
    }
    log(`[against] reusing the build of ${ref} (${sha.slice(0, 12)}) in ${relative(process.cwd(), dir)}`);
    return info;
  }
  // Anything there without a marker is an interrupted attempt: start clean.
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log(`[against] extracting ${ref} (${sha.slice(0, 12)}) into ${relative(process.cwd(), dir)}`);
  run(`git archive ${short} | tar -x -C ${dir}`, 'bash', ['-o', 'pipefail', '-c', 'git archive "$1" | tar -x -C "$2"', 'bash', sha, dir], { cwd: ROOT, timeout: 5 * 60_000 });
  const installed = installModules(dir);
  const tsc = join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) throw new Error(`--against: ${tsc} is missing: cannot build ${ref}`);
  log(`[against] building ${info.name}: tsc -p tsconfig.build.json`);
  run(`tsc -p tsconfig.build.json in ${dir}`, process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: dir, timeout: 10 * 60_000 });
  if (!existsSync(join(dir, 'dist', 'main.js'))) throw new Error(`--against: the build of ${ref} has no dist/main.js`);
  writeFileSync(join(dir, MARKER), JSON.stringify({ sha, ref, modules: installed, builtAt: new Date().toISOString() }));
  return info;
}
