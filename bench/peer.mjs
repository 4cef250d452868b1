// matrix-server-node (issue 20) as a baseline of the bench: another Matrix homeserver on Node and
// better-sqlite3, run beside Hearth in the same scenarios. It comes as an archive in ../shared/peers/
// (beside the repository's root), is built once into bench/.peers/<id>/ (npm install + tsc, marked
// when complete) and runs as its own process. It has no loader and no admin API: each scenario's
// users, rooms and messages are created over its client API (open registration with m.login.dummy,
// createRoom, join, send) before it is measured, in the same shape as Hearth's loaded data, and the
// process is then restarted on that database so that, like Hearth, it is measured as a fresh process.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  BENCH_DIR, ROOT, cpuOver, freePort, keepAlive, log, pool, request, sleep, stopChild, tempDir, track, waitHttp,
} from './lib.mjs';

export const PEER_NAME = 'matrix-server-node';
const PEER_ID = 'matrix-server-node-bf1556d';
const ARCHIVE = `${PEER_ID}.tar.gz`;
const MARKER = '.bench-build-complete';
/** Where the archive and bind-localhost.cjs are: ../shared/peers from the repository's root. */
export const peersDir = () => process.env.BENCH_PEERS_DIR ?? join(ROOT, '..', 'shared', 'peers');

const tail = (text, n = 15) => text.split('\n').filter((l) => l.trim() !== '').slice(-n).join('\n');

/**
 * Builds the peer into bench/.peers/<id>/ unless a complete build of the same archive for this Node
 * ABI is there (better-sqlite3 is a native module). Never throws: a failed build returns
 * {ok: false, error} and the run goes on without it (its cells say "build failed").
 */
export function preparePeer() {
  const t0 = Date.now();
  const base = { name: PEER_NAME, id: PEER_ID, archive: join(peersDir(), ARCHIVE), dir: join(BENCH_DIR, '.peers', PEER_ID) };
  const fail = (error) => {
    log(`[peer] ${PEER_NAME} will not run: ${error.split('\n')[0]}`);
    return { ...base, ok: false, error, seconds: (Date.now() - t0) / 1000 };
  };
  const bind = join(peersDir(), 'bind-localhost.cjs');
  if (!existsSync(base.archive)) return fail(`${base.archive} does not exist (the bench looks for ../shared/peers beside the repository; BENCH_PEERS_DIR overrides it)`);
  if (!existsSync(bind)) return fail(`${bind} does not exist`);
  const sha256 = createHash('sha256').update(readFileSync(base.archive)).digest('hex');
  const want = { sha256, abi: process.versions.modules };
  let marker = null;
  try { marker = JSON.parse(readFileSync(join(base.dir, MARKER), 'utf8')); } catch { /* not built */ }
  if (marker?.sha256 === want.sha256 && marker?.abi === want.abi && existsSync(join(base.dir, 'dist', 'index.js'))) {
    log(`[peer] reusing the build of ${PEER_NAME} in ${relative(process.cwd(), base.dir)}`);
    return { ...base, ok: true, bind, built: 'cached', seconds: (Date.now() - t0) / 1000 };
  }
  // Anything there without a matching marker is an interrupted or outdated build: start clean.
  rmSync(base.dir, { recursive: true, force: true });
  mkdirSync(base.dir, { recursive: true });
  const logPath = join(BENCH_DIR, '.peers', `${PEER_ID}-build.log`);
  writeFileSync(logPath, '');
  const step = (name, cmd, args, opts) => {
    log(`[peer] building ${PEER_NAME}: ${name}`);
    const r = spawnSync(cmd, args, { cwd: base.dir, encoding: 'utf8', maxBuffer: 64 * 2 ** 20, ...opts });
    writeFileSync(logPath, `$ ${name}\n${r.stdout ?? ''}${r.stderr ?? ''}\n`, { flag: 'a' });
    if (r.error) return `${name} failed: ${r.error.message}`;
    if (r.status !== 0) return `${name} failed (exit ${r.status ?? r.signal}): ${tail(`${r.stdout ?? ''}\n${r.stderr ?? ''}`)}`;
    return null;
  };
  const env = { ...process.env };
  // As in against.mjs: better-sqlite3 compiles against the installed Node headers, not downloaded ones.
  const prefix = join(process.execPath, '..', '..');
  if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node.h'))) env.npm_config_nodedir = prefix;
  const err = step(`tar -xzf ${ARCHIVE}`, 'tar', ['-xzf', base.archive, '-C', base.dir], { timeout: 2 * 60_000 })
    // It declares Node >= 22 (a warning only); it runs on 20.
    ?? step('npm install --no-audit --no-fund (minutes: better-sqlite3 compiles)', 'npm', ['install', '--no-audit', '--no-fund'], { env, timeout: 15 * 60_000 })
    ?? (existsSync(join(base.dir, 'node_modules', 'typescript', 'bin', 'tsc')) ? null : 'npm install left no node_modules/typescript')
    ?? step('tsc', process.execPath, [join(base.dir, 'node_modules', 'typescript', 'bin', 'tsc')], { timeout: 10 * 60_000 })
    ?? (existsSync(join(base.dir, 'dist', 'index.js')) ? null : 'tsc wrote no dist/index.js');
  if (err) return fail(`${err}\n(full output: ${relative(process.cwd(), logPath)})`);
  writeFileSync(join(base.dir, MARKER), JSON.stringify({ ...want, builtAt: new Date().toISOString(), node: process.version }));
  const seconds = (Date.now() - t0) / 1000;
  log(`[peer] ${PEER_NAME} built in ${seconds.toFixed(0)} s`);
  return { ...base, ok: true, bind, built: 'now', seconds };
}

/** The startup lines the peer always prints; anything else in its output is reported as a problem. */
const ROUTINE = [/^Generated signing key /, /^Seed \(set SIGNING_KEY_SEED/, /^Using SQLite storage at /, /^matrix-server-node listening on /];

/**
 * Starts the peer as its own process, as its README says, on SQLite file `dbPath` (same server name as
 * Hearth's, so IDs and events have the same sizes). `seed` keeps its signing key across a restart.
 */
export async function startPeer(peer, dir, dbPath, seed, tag = '') {
  const port = await freePort();
  const logPath = join(dir, `peer${tag}.log`);
  const child = spawn(process.execPath, ['--require', peer.bind, join(peer.dir, 'dist', 'index.js')], {
    cwd: dir,
    env: { ...process.env, SERVER_NAME: 'localhost', PORT: String(port), STORAGE: 'sqlite', DATABASE_PATH: dbPath, DISABLE_RATE_LIMIT: '1', SIGNING_KEY_SEED: seed, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { exited, out } = track(child, logPath);
  try {
    await waitHttp(port, '/_matrix/client/versions', 30_000, child);
  } catch (e) {
    await stopChild(child, exited);
    out.end();
    let text = '';
    try { text = readFileSync(logPath, 'utf8'); } catch { /* none */ }
    throw new Error(`${PEER_NAME} did not start: ${e.message}${text ? `; its output: ${tail(text, 8)}` : ''}`);
  }
  return {
    kind: 'peer', name: PEER_NAME, pid: child.pid, port, child, logPath, exited,
    crashed: () => child.exitCode !== null || child.signalCode !== null,
    async stop() { const r = await stopChild(child, exited); out.end(); return r; },
    problems() {
      let text = '';
      try { text = readFileSync(logPath, 'utf8'); } catch { return []; }
      return text.split('\n').filter((l) => l.trim() !== '' && !ROUTINE.some((re) => re.test(l)));
    },
  };
}

/**
 * The peer for one scenario: a temp dir, a fresh database, the scenario's data created over its client
 * API (`load(api)` returns it in the loader's shape: users, rooms, counts), then a restart on that
 * database. Returns {server, data}; on failure stops what it started and throws.
 */
export async function startLoadedPeer(peer, label, load) {
  const dir = tempDir(`${label}-peer`);
  const dbPath = join(dir, 'peer.db');
  const seed = randomBytes(32).toString('base64');
  let server = await startPeer(peer, dir, dbPath, seed, '-load');
  let data;
  let timer;
  try {
    const t0 = performance.now();
    // Bounded: after the plan's time limit the process is stopped, which fails its requests in flight.
    const limit = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`not done within ${load.timeoutMs / 1000} s`)), load.timeoutMs); });
    const loading = load(client(server.port));
    loading.catch(() => { /* after the time limit its requests fail against the stopped process */ });
    data = await Promise.race([loading, limit]);
    data.timings.totalMs = performance.now() - t0;
    log(`[${label}] ${PEER_NAME}: data created over its client API in ${(data.timings.totalMs / 1000).toFixed(1)} s (${Object.keys(data.users).length} users, ${Object.keys(data.rooms).length} rooms${data.counts.messagesWritten ? `, ${data.counts.messagesWritten} messages` : ''})`);
  } catch (e) {
    const lines = server.problems();
    await server.stop();
    throw new Error(`creating its data failed: ${e.message}${lines.length ? `; it logged: ${lines.slice(0, 3).join(' | ').slice(0, 600)}` : ''}`);
  } finally {
    clearTimeout(timer);
  }
  const loadProblems = server.problems();
  await server.stop();
  if (loadProblems.length) data.loadProblems = loadProblems.slice(0, 5);
  server = await startPeer(peer, dir, dbPath, seed);
  return { server, data };
}

// ---- its client API --------------------------------------------------------------------------------

const enc = encodeURIComponent;

/** A small client of the peer's client-server API for creating data; every non-2xx answer throws. */
function client(port) {
  const agent = keepAlive(64);
  const call = async (method, path, token, json) => {
    const r = await request(agent, port, method, path, { headers: token ? { authorization: `Bearer ${token}` } : {}, json, timeoutMs: 60_000 });
    if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${path.split('?')[0]}: ${r.status} ${r.body.slice(0, 300)}`);
    return JSON.parse(r.body || '{}');
  };
  let txn = 0;
  return {
    port,
    call,
    // (matrix-spec: registration.yaml#register) with the dummy stage in the first request.
    register: (localpart) => call('POST', '/_matrix/client/v3/register', null, { username: localpart, password: `bench-${localpart}-password`, auth: { type: 'm.login.dummy' } }),
    createRoom: (token, name) => call('POST', '/_matrix/client/v3/createRoom', token, { preset: 'public_chat', name }),
    join: (token, roomId) => call('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/join`, token, {}),
    send: (token, roomId, content) => call('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/load${++txn}`, token, content),
    stateCount: async (token, roomId) => (await call('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/state`, token)).length,
    close: () => agent.destroy(),
  };
}

const range = (n) => Array.from({ length: n }, (_, i) => i);
const chunks = (list, size) => range(Math.ceil(list.length / size)).map((i) => list.slice(i * size, i * size + size));
const body = (i) => ({ msgtype: 'm.text', body: `history message ${i}: the quick brown fox jumps over the lazy dog` });

/** The plans of bench/load.mjs, over HTTP: same names, same shapes (users, rooms of the same members). */
function loader(api) {
  const out = { users: {}, rooms: {}, counts: {}, timings: {} };
  const tokenOf = (lp) => out.users[lp].token;
  let messagesWritten = 0;
  const users = async (prefix, count) => {
    const t0 = performance.now();
    const list = range(count).map((i) => `${prefix}${i}`);
    // Registration hashes each password with scrypt on the thread pool: a few in flight keep it busy.
    await pool(8, list, async (lp) => {
      const r = await api.register(lp);
      out.users[lp] = { userId: r.user_id, token: r.access_token, deviceId: r.device_id };
    });
    const ms = performance.now() - t0;
    out.timings[`users_${prefix}`] = { count, ms, perSecond: count / (ms / 1000) };
    return list;
  };
  /** Rooms in parallel; within a room the creator creates it, then the others join one by one. */
  const rooms = async (prefix, groups) => {
    const t0 = performance.now();
    const ids = new Array(groups.length);
    await pool(8, range(groups.length), async (i) => {
      const [creator, ...rest] = groups[i];
      const { room_id: roomId } = await api.createRoom(tokenOf(creator), `${prefix}${i}`);
      for (const m of rest) if (m !== creator) await api.join(tokenOf(m), roomId);
      out.rooms[`${prefix}${i}`] = { roomId, members: [...new Set(groups[i])] };
      ids[i] = roomId;
    });
    out.timings[`rooms_${prefix}`] = { count: groups.length, memberships: groups.reduce((n, g) => n + g.length, 0), ms: performance.now() - t0 };
    return ids;
  };
  /**
   * `targets[r].count` messages into each room, round-robin over the rooms, senders round-robin over
   * the room's members, 16 requests in flight; stops after `budgetMs` (the count reached is returned).
   */
  const messages = async (label, targets, budgetMs) => {
    const t0 = performance.now();
    const order = [];
    const left = targets.map((t) => t.count);
    for (let more = true; more;) {
      more = false;
      for (let r = 0; r < targets.length; r++) if (left[r] > 0) { order.push(r); left[r]--; more = true; }
    }
    const sent = targets.map(() => 0);
    let next = 0;
    let stoppedEarly = false;
    let lastLog = Date.now();
    await Promise.all(range(16).map(async () => {
      while (next < order.length) {
        if (budgetMs && performance.now() - t0 > budgetMs) { stoppedEarly = true; return; }
        const r = order[next++];
        const t = targets[r];
        const k = sent[r]++;
        await api.send(tokenOf(t.senders[k % t.senders.length]), t.roomId, body(messagesWritten++));
        if (Date.now() - lastLog > 5000) {
          lastLog = Date.now();
          const done = sent.reduce((a, b) => a + b, 0);
          process.stdout.write(`            [${PEER_NAME} load] ${label}: ${done}/${order.length} events, ${Math.round(done / ((performance.now() - t0) / 1000))}/s\n`);
        }
      }
    }));
    const written = sent.reduce((a, b) => a + b, 0);
    const ms = performance.now() - t0;
    out.timings[`events_${label}`] = { requested: order.length, written, ms, perSecond: written / (ms / 1000), stoppedEarly };
    return sent;
  };
  return { out, users, rooms, messages, tokenOf };
}

/**
 * Creates the data of a bench/load.mjs plan on the peer. `opts.budgetMs`: the most time the messages
 * of initial-sync may take (each of its two bulk steps), like the Hearth loader's big-room budget.
 * Returns `load(api)` for startLoadedPeer, with its time limit as `load.timeoutMs`.
 */
export function peerPlan(plan, params, opts = {}) {
  const load = async (api) => {
    const L = loader(api);
    const { out } = L;
    try {
      switch (plan) {
        case 'empty': break;
        case 'send': {
          const n = params.users ?? 100;
          const list = await L.users('s', n);
          await L.rooms('send', chunks(list, Math.ceil(n / (params.rooms ?? 20))));
          break;
        }
        case 'send-seq': await L.rooms('seq', [await L.users('q', 1)]); break;
        case 'fanout-a': await L.rooms('fa', chunks(await L.users('f', params.users ?? 1000), params.roomSize ?? 10)); break;
        case 'fanout-b': await L.rooms('fb', [await L.users('g', params.users ?? 1000)]); break;
        case 'initial-sync': {
          // As the Hearth plan: one user in `rooms` rooms (each with one of 50 others) holding `events`
          // events in total (state included), a room of `bigEvents` and one of `smallEvents` events.
          const nRooms = params.rooms ?? 500;
          const [heavy] = await L.users('heavy', 1);
          const others = await L.users('o', Math.min(50, nRooms));
          const [historian] = await L.users('hist', 1);
          const groups = range(nRooms).map((i) => [heavy, others[i % others.length]]);
          const ids = await L.rooms('is', groups);
          // The state events createRoom and the join wrote (no state event is replaced here).
          const stateEvents = (await api.stateCount(L.tokenOf(heavy), ids[0])) * nRooms;
          const perRoom = Math.max(0, Math.floor((params.events - stateEvents) / nRooms));
          const extra = Math.max(0, params.events - stateEvents - perRoom * nRooms);
          const sent = await L.messages('sync_rooms', ids.map((roomId, i) => ({ roomId, count: perRoom + (i < extra ? 1 : 0), senders: groups[i] })), opts.budgetMs);
          out.counts.syncRoomsEvents = stateEvents + sent.reduce((a, b) => a + b, 0);
          out.counts.syncRooms = nRooms;
          const [small, big] = await L.rooms('hist', [[historian], [historian]]);
          out.rooms.small = out.rooms.hist0;
          out.rooms.big = out.rooms.hist1;
          const histState = await api.stateCount(L.tokenOf(historian), small);
          const [smallSent] = await L.messages('small_room', [{ roomId: small, count: Math.max(0, params.smallEvents - histState), senders: [historian] }]);
          const [bigSent] = await L.messages('big_room', [{ roomId: big, count: Math.max(0, params.bigEvents - histState), senders: [historian] }], opts.budgetMs);
          out.counts.smallRoomEvents = histState + smallSent;
          out.counts.bigRoomEvents = histState + bigSent;
          out.counts.bigRoomRequested = params.bigEvents;
          out.counts.totalEvents = out.counts.syncRoomsEvents + out.counts.smallRoomEvents + out.counts.bigRoomEvents;
          break;
        }
        default: throw new Error(`no plan ${plan} for ${PEER_NAME}`);
      }
    } finally {
      api.close();
    }
    out.counts.users = Object.keys(out.users).length;
    out.counts.messagesWritten = Object.values(out.timings).reduce((n, t) => n + (t.written ?? 0), 0);
    return out;
  };
  // Its bulk steps stop at their budget; users and rooms take well under a few minutes.
  load.timeoutMs = (opts.budgetMs ? 2 * opts.budgetMs : 0) + 10 * 60_000;
  return load;
}

// ---- what the scenarios ask of it ----------------------------------------------------------------

/**
 * Presence online for each user through the standard API (matrix-spec: presence.yaml#setPresence):
 * the peer has no sessions, this is what Hearth's `POST /sessions {presence: online}` does for it.
 */
export const presenceOnline = (agent, port, user) => request(agent, port, 'PUT', `/_matrix/client/v3/presence/${enc(user.userId)}/status`, {
  headers: { authorization: `Bearer ${user.token}` }, json: { presence: 'online' }, timeoutMs: 60_000,
});

/**
 * Whether the peer's long-polls are parked: it has no metric of waiting syncs, so every one of the
 * client's `want` sync requests must be in flight (sent, not answered) and the process idle (under 3%
 * of a core over the reading's 300 ms: a sync it is still building would show as CPU).
 */
export async function peerParked(server, inFlight, want) {
  const cpu = await cpuOver(server.pid, 300);
  return { parked: inFlight() >= want && cpu < 0.03, cpu };
}
