#!/usr/bin/env node
// Hearth's benchmark suite (issue 7): `npm run bench [-- options]`.
//
//   --only a,b,...     scenarios to run: send, send-seq, fanout (= fanout-a,fanout-b), initial-sync,
//                      ephemeral, memory, state, federation (default: all, in that order)
//   --quick            a short smoke run (small sizes, short durations); writes *-quick files
//   --out FILE         where to write the JSON (default bench/results/<YYYY-MM-DD>[-quick].json); the
//                      chart then goes next to it (FILE without .json, plus -latency.svg)
//   --no-build         skip `npm run build` (warns when dist/ is older than src/)
//   --big-events N     events in scenario 4's big room (default 1,000,000)
//   --big-budget S     seconds the loader may spend writing the big room (default 150)
//   --against REF      also run every scenario against a build of git commit REF (bench/.against/<sha>),
//                      each build on its own loaded data; the report adds its values and current/REF
//   --no-peer          skip matrix-server-node (issue 20; bench/peer.mjs builds it from ../shared/peers
//                      into bench/.peers/ on first use and runs it in send, send-seq, fanout,
//                      initial-sync and memory)
//   --engine E         the storage engine Hearth runs on: sqlite (default) or postgres (a throwaway
//                      PostgreSQL cluster for the run, a new database per scenario)
//   --workers N        with --engine postgres: Hearth runs as N processes on one port (serve --workers
//                      N) sharing live state through a throwaway redis-server (spec/scaling.md); the
//                      issue's comparison is --engine sqlite, --engine postgres, --engine postgres --workers 2
//
// Hearth always runs as its own process (node dist/main.js serve) on a fresh database (a SQLite file in
// a temp dir, or a PostgreSQL database); the baselines (bench/baselines) too; load comes from this
// process, on 127.0.0.1 only.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { prepareAgainst } from './against.mjs';
import { PEER_NAME, preparePeer } from './peer.mjs';
import { BENCH_DIR, ROOT, cleanupTemp, engineKind, killAll, log, machineInfo, setCurrentRoot, useEngine } from './lib.mjs';
import * as S from './scenarios.mjs';
import { latencySvg } from './svg.mjs';

/** The scenarios matrix-server-node runs in (bench/peer.mjs); the others use Hearth-only APIs or a second server. */
const PEER_SCENARIOS = ['send', 'send-seq', 'fanout-a', 'fanout-b', 'initial-sync', 'memory'];
const ALL = ['send', 'send-seq', 'fanout-a', 'fanout-b', 'initial-sync', 'ephemeral', 'memory', 'state', 'federation'];
const RUNNERS = { send: S.send, 'send-seq': S.sendSeq, 'fanout-a': S.fanoutA, 'fanout-b': S.fanoutB, 'initial-sync': S.initialSync, ephemeral: S.ephemeral, memory: S.memory, state: S.stateDeep, federation: S.federation };
const TITLES = {
  send: '1 send', 'send-seq': '2 send-sequential', 'fanout-a': '3a fan-out 100 rooms', 'fanout-b': '3b fan-out 1 room',
  'initial-sync': '4 initial-sync', ephemeral: '5 ephemeral', memory: '6 memory', state: '7 state at an event', federation: '8 federation',
};

function parseArgs(argv) {
  const o = { only: ALL, quick: false, out: undefined, build: true, bigEvents: undefined, bigBudget: undefined, against: undefined, engine: 'sqlite', peer: true, workers: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--no-build') o.build = false;
    else if (a === '--no-peer') o.peer = false;
    else if (a.startsWith('--only')) {
      const names = val().split(',').map((s) => s.trim()).filter(Boolean).flatMap((n) => (n === 'fanout' ? ['fanout-a', 'fanout-b'] : [n]));
      for (const n of names) if (!ALL.includes(n)) throw new Error(`unknown scenario ${n} (known: ${ALL.join(', ')}, fanout)`);
      o.only = ALL.filter((n) => names.includes(n));
    } else if (a.startsWith('--out')) o.out = val();
    else if (a.startsWith('--big-events')) o.bigEvents = Number(val());
    else if (a.startsWith('--big-budget')) o.bigBudget = Number(val());
    else if (a.startsWith('--against')) o.against = val();
    else if (a.startsWith('--workers')) {
      o.workers = Number(val());
      if (!Number.isInteger(o.workers) || o.workers < 1) throw new Error('--workers needs a whole number >= 1');
    } else if (a.startsWith('--engine')) {
      o.engine = val();
      if (o.engine !== 'sqlite' && o.engine !== 'postgres') throw new Error(`--engine is sqlite or postgres, not ${o.engine}`);
    }
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`usage: npm run bench -- [--only ${ALL.join(',')}] [--quick] [--out FILE] [--no-build] [--big-events N] [--big-budget S] [--against REF] [--engine sqlite|postgres] [--workers N] [--no-peer]\n`);
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  return o;
}

const FULL = {
  send: { users: 100, rooms: 20, connections: 64, durationS: 10, warmS: 2 },
  sendSeq: { messages: 2000, warmup: 100 },
  fanoutA: { users: 1000, roomSize: 10, rate: 100, durationS: 10, graceMs: 5000, readyTimeoutMs: 120_000 },
  fanoutB: { users: 1000, rate: 2, durationS: 10, graceMs: 15000, readyTimeoutMs: 120_000 },
  initialSync: { rooms: 500, events: 200_000, bigEvents: 1_000_000, bigBudgetS: 150, smallEvents: 1000, syncRepeats: 5, msgRepeats: 200, pages: 20 },
  ephemeral: { sessions: 20_000, typing: 2000, typingRoomSize: 10, typingTimeoutMs: 20_000, idleTimeoutMs: 60_000, cpuWindowS: 10, expiryGraceMs: 15_000 },
  stateDeep: { events: 100_000, stateEvery: 10, members: 200, repeats: 200 },
  federation: { joins: 20, latencyMessages: 300, burstS: 10, concurrency: 16, graceMs: 15_000 },
};
const QUICK = {
  send: { users: 100, rooms: 20, connections: 64, durationS: 3, warmS: 1 },
  sendSeq: { messages: 300, warmup: 50 },
  fanoutA: { users: 200, roomSize: 10, rate: 50, durationS: 3, graceMs: 3000, readyTimeoutMs: 30_000 },
  fanoutB: { users: 200, rate: 2, durationS: 3, graceMs: 3000, readyTimeoutMs: 30_000 },
  initialSync: { rooms: 50, events: 10_000, bigEvents: 20_000, bigBudgetS: 30, smallEvents: 1000, syncRepeats: 3, msgRepeats: 50, pages: 5 },
  ephemeral: { sessions: 2000, typing: 200, typingRoomSize: 10, typingTimeoutMs: 6000, idleTimeoutMs: 15_000, cpuWindowS: 3, expiryGraceMs: 8000 },
  stateDeep: { events: 5000, stateEvery: 10, members: 50, repeats: 50 },
  federation: { joins: 5, latencyMessages: 50, burstS: 3, concurrency: 16, graceMs: 10_000 },
};

function newestMtime(dir, ext) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p, ext));
    else if (e.name.endsWith(ext)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * A private copy of the build the run measures (bench/.build/current: dist/ copied, the loader copied
 * so it imports that dist/, migrations, package.json and node_modules linked), so a later rebuild of
 * dist/ (a test run, say) cannot change what a long benchmark runs.
 */
function snapshotBuild() {
  const dir = join(BENCH_DIR, '.build', 'current');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'bench'), { recursive: true });
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  copyFileSync(join(BENCH_DIR, 'load.mjs'), join(dir, 'bench', 'load.mjs'));
  for (const name of ['migrations', 'package.json', 'node_modules']) symlinkSync(join(ROOT, name), join(dir, name));
  setCurrentRoot(dir);
  log(`measuring the build copied to ${relative(ROOT, dir)}`);
}

function build(opts) {
  if (opts.build) {
    log('building: npm run build');
    const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit', timeout: 5 * 60_000 });
    if (r.status !== 0) throw new Error('npm run build failed: the benchmark needs a built dist/');
    snapshotBuild();
    return { built: true };
  }
  const src = newestMtime(join(ROOT, 'src'), '.ts');
  let distTime = 0;
  try { distTime = statSync(join(ROOT, 'dist', 'main.js')).mtimeMs; } catch { throw new Error('dist/main.js is missing: run without --no-build'); }
  const fresh = distTime >= src;
  if (!fresh) log('WARNING: src/ has changed since dist/ was built; the numbers are for the old build');
  snapshotBuild();
  return { built: false, fresh };
}

// ---- report ----------------------------------------------------------------------------------------

function fmt(v, unit) {
  if (v === null || v === undefined) return '—';
  if (!Number.isFinite(v)) return 'n/a';
  if (unit === 'count') return String(Math.round(v));
  if (unit === 'req/s') return `${Math.round(v).toLocaleString('en-US')}/s`;
  if (unit === 'ms') return `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`;
  if (unit === 'MB') return `${v.toFixed(1)} MB`;
  if (unit === '% core') return `${v.toFixed(2)}%`;
  if (unit === 'ratio') return v.toFixed(2);
  return String(v);
}
function targetText(r) {
  if (!r.target) return '';
  if (r.target.text) return r.target.text;
  return `${r.target.op} ${fmt(r.target.value, r.unit)}`;
}
const ratio = (v, b) => (Number.isFinite(v) && Number.isFinite(b) && b !== 0 ? `${(v / b).toFixed(2)}x` : '—');
// current / --against build. Counts (errors, missing) and ratios are compared by value: dividing them says nothing.
const againstRatio = (r) => (r.unit === 'count' || r.unit === 'ratio' ? '—' : ratio(r.value, r.against));

/** With --against: the other build's value and current / other, right after the current value. */
const againstCells = (report, r) => (report.against ? (r ? [fmt(r.against, r.unit), againstRatio(r)] : ['', '']) : []);

/**
 * matrix-server-node's cell for a row (issue 20): `cell(value)` when it measured the row, else why not
 * ("build failed", "failed" when its run in that scenario failed, "—" when it does not run there).
 */
function peerCell(report, s, r, cell) {
  if (!('peer' in r)) return '—';
  if (Number.isFinite(r.peer)) return cell(r.peer);
  if (!report.peer.ok) return 'build failed';
  return s.details?.results && !s.details.results.peer ? 'failed' : '—';
}
const peerCells = (report, s, r) => (report.peer ? [r ? peerCell(report, s, r, (v) => ratio(r.value, v)) : ''] : []);

export function table(report) {
  const a = report.against;
  const header = ['scenario', 'metric', 'value', ...(a ? [a.name, `vs ${a.short}`] : []), 'target', 'met', 'vs Express', 'vs node:http', ...(report.peer ? [`vs ${PEER_NAME}`] : [])];
  const lines = [];
  for (const s of report.scenarios) {
    if (s.error) lines.push([TITLES[s.name], 'FAILED', s.error.split('\n')[0].slice(0, 80), ...againstCells(report), '', 'missed', '', '', ...peerCells(report, s)]);
    for (const r of s.rows) {
      lines.push([TITLES[s.name], r.metric, fmt(r.value, r.unit), ...againstCells(report, r), targetText(r), r.met === null ? '' : r.met ? 'met' : 'MISSED', ratio(r.value, r.express), ratio(r.value, r.nodeHttp), ...peerCells(report, s, r)]);
    }
  }
  const w = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(w[i])).join(' | ')} |`;
  return [line(header), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...lines.map(line)].join('\n');
}

function baselineTable(report) {
  // Absolute baseline values next to Hearth's, for the rows that have them.
  const a = report.against;
  const p = report.peer;
  const lines = [`| scenario | metric | Hearth |${a ? ` ${a.name} |` : ''} Express | node:http |${p ? ` ${PEER_NAME} |` : ''}`, `|---|---|---|${a ? '---|' : ''}---|---|${p ? '---|' : ''}`];
  for (const s of report.scenarios) for (const r of s.rows) {
    // Issue 20's goal rows repeat a value of a row above them.
    if ((r.express === null && r.nodeHttp === null && !Number.isFinite(r.peer)) || r.issue === 20) continue;
    lines.push(`| ${TITLES[s.name]} | ${r.metric} | ${fmt(r.value, r.unit)} |${a ? ` ${fmt(r.against, r.unit)} |` : ''} ${fmt(r.express, r.unit)} | ${fmt(r.nodeHttp, r.unit)} |${p ? ` ${peerCell(report, s, r, (v) => fmt(v, r.unit))} |` : ''}`);
  }
  return lines.join('\n');
}

// ---- main ------------------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const sizes = structuredClone(opts.quick ? QUICK : FULL);
  if (opts.bigEvents) sizes.initialSync.bigEvents = opts.bigEvents;
  if (opts.bigBudget) sizes.initialSync.bigBudgetS = opts.bigBudget;
  // The whole run stops by itself, whatever happens. --against runs every scenario's loader and Hearth
  // twice, and may first install and build the other tree.
  const hardLimitMs = opts.against
    ? (opts.quick ? 40 : 100) * 60_000 + (2 * sizes.initialSync.bigBudgetS * 1000)
    : (opts.quick ? 15 : 45) * 60_000 + (sizes.initialSync.bigBudgetS * 1000);
  // matrix-server-node: its first build (npm install compiles better-sqlite3), and every scenario once
  // more with its data created over HTTP (initial-sync: up to twice the budget).
  const peerWanted = opts.peer && opts.only.some((n) => PEER_SCENARIOS.includes(n));
  const peerLimitMs = peerWanted ? (opts.quick ? 20 : 40) * 60_000 + (2 * sizes.initialSync.bigBudgetS * 1000) : 0;
  const hard = setTimeout(() => {
    log(`hard time limit (${(hardLimitMs + peerLimitMs) / 60000} min) reached: stopping`);
    killAll();
    cleanupTemp();
    process.exit(3);
  }, hardLimitMs + peerLimitMs);
  hard.unref();
  const stopAll = (sig) => { log(`${sig}: stopping children`); killAll(); cleanupTemp(); process.exit(130); };
  process.once('SIGINT', () => stopAll('SIGINT'));
  process.once('SIGTERM', () => stopAll('SIGTERM'));

  const buildInfo = build(opts);
  // Before anything runs: a REF that cannot be built stops the run here, with the step that failed.
  let against;
  try {
    against = opts.against ? prepareAgainst(opts.against) : undefined;
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
  try {
    await useEngine(opts.engine, { workers: opts.workers });
  } catch (e) {
    process.stderr.write(`--engine ${opts.engine}: ${e.message}\n`);
    process.exit(1);
  }
  // The peer never stops the run: a failed build is reported and its cells say so.
  const peer = peerWanted ? preparePeer() : undefined;
  const machine = machineInfo();
  log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.ramGB} GB RAM, node ${machine.node}`);
  log(`${opts.quick ? 'QUICK' : 'FULL'} run of: ${opts.only.join(', ')} on ${engineKind()}${against ? ` against ${against.name} (${against.ref})` : ''}`);
  const started = new Date();
  const ctx = { sizes, quick: opts.quick, against, peer };
  const report = {
    date: started.toISOString(), mode: opts.quick ? 'quick' : 'full', engine: opts.engine, workers: opts.workers, machine, build: buildInfo,
    ...(against ? { against: { ref: against.ref, sha: against.sha, short: against.short, name: against.name, dir: against.dir } } : {}),
    ...(peer ? { peer: { name: peer.name, archive: peer.archive, dir: peer.dir, ok: peer.ok, built: peer.built ?? null, buildSeconds: peer.seconds, ...(peer.ok ? {} : { error: peer.error }) } } : {}),
    sizes, scenarios: [],
  };
  for (const name of opts.only) {
    const t0 = Date.now();
    log(`=== ${TITLES[name]} ===`);
    let res;
    try {
      res = await RUNNERS[name](ctx);
    } catch (e) {
      log(`${name} failed: ${e.stack ?? e}`);
      res = { rows: [], details: {}, problems: [], error: String(e.stack ?? e) };
    }
    killAll();
    // A Hearth run that failed (or measured nothing) is a missed target, never a silent gap.
    const hearth = res.details?.results?.hearth;
    if (res.details?.results && (hearth === null || hearth?.error)) {
      res.rows.push({ metric: `Hearth run failed${hearth?.error ? `: ${hearth.error}` : ''} (see problems)`, unit: 'count', value: 1, target: { op: '=', value: 0, text: 'completes' }, met: false, express: null, nodeHttp: null });
    }
    const entry = { name, title: TITLES[name], seconds: (Date.now() - t0) / 1000, ...res };
    report.scenarios.push(entry);
    for (const p of res.problems ?? []) log(`[${name}] PROBLEM: ${p}`);
    log(`=== ${TITLES[name]} done in ${entry.seconds.toFixed(0)} s ===`);
  }
  cleanupTemp();
  report.totalSeconds = (Date.now() - started.getTime()) / 1000;
  report.loadAverageAtEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  report.missed = report.scenarios.flatMap((s) => [
    ...(s.error ? [{ scenario: s.name, metric: 'scenario failed', value: s.error.split('\n')[0] }] : []),
    ...s.rows.filter((r) => r.met === false).map((r) => ({ scenario: s.name, metric: r.metric, value: r.value, unit: r.unit, target: targetText(r) })),
  ]);

  const resultsDir = join(BENCH_DIR, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const day = started.toISOString().slice(0, 10);
  // A run on PostgreSQL never overwrites the files of a SQLite run of the same day.
  const suffix = `${opts.engine === 'postgres' ? '-postgres' : ''}${opts.workers > 1 ? `-x${opts.workers}` : ''}${opts.quick ? '-quick' : ''}`;
  const out = opts.out ?? join(resultsDir, `${day}${suffix}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2));
  // With --out the chart goes next to that JSON, so a run elsewhere never overwrites the chart of results/.
  const svgPath = opts.out ? `${out.replace(/\.json$/, '')}-latency.svg` : join(resultsDir, `latency${suffix}.svg`);
  const svg = latencySvg(report);
  if (svg) writeFileSync(svgPath, svg);

  const text = table(report);
  process.stdout.write(`\n${text}\n\nAbsolute baseline values:\n${baselineTable(report)}\n\n`);
  process.stdout.write(`Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.ramGB} GB RAM, node ${machine.node}, ${machine.os}; load average at start ${machine.loadAverageAtStart.join(' ')}, at end ${report.loadAverageAtEnd.join(' ')}\n`);
  if (peer) process.stdout.write(peer.ok
    ? `Peer: ${PEER_NAME} (${relative(process.cwd(), peer.archive)}), ${peer.built === 'now' ? `built in ${peer.seconds.toFixed(0)} s` : 'build reused'} in ${relative(process.cwd(), peer.dir)}; "vs ${PEER_NAME}" is Hearth / ${PEER_NAME}\n`
    : `Peer: ${PEER_NAME} did not run, its build failed: ${peer.error}\n`);
  process.stdout.write(`Storage engine: ${opts.engine}\n`);
  if (against) process.stdout.write(`Against: ${against.name} = ${against.ref} (${against.sha}), built in ${relative(process.cwd(), against.dir)}; "vs ${against.short}" is this checkout / ${against.name}\n`);
  process.stdout.write(`Run: ${report.mode}, ${report.totalSeconds.toFixed(0)} s. JSON: ${relative(process.cwd(), out)}${svg ? `, chart: ${relative(process.cwd(), svgPath)}` : ''}\n`);
  const problems = report.scenarios.flatMap((s) => (s.problems ?? []).map((p) => `${s.name}: ${p}`));
  if (problems.length) process.stdout.write(`\nProblems seen:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
  if (report.missed.length) process.stdout.write(`\nTargets missed: ${report.missed.length}\n${report.missed.map((m) => `  - ${m.scenario}: ${m.metric} = ${typeof m.value === 'number' ? fmt(m.value, m.unit) : m.value} (target ${m.target ?? ''})`).join('\n')}\n`);
  else process.stdout.write('\nEvery checked target met.\n');
}

main().then(
  () => { killAll(); process.exit(0); },
  (e) => { process.stderr.write(`${e.stack ?? e}\n`); killAll(); cleanupTemp(); process.exit(1); },
);
