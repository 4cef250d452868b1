#!/usr/bin/env node
// Loads benchmark data into a Hearth database (a SQLite file, or a PostgreSQL database named by its
// postgres:// URL: `--engine postgres`) BEFORE the server starts, in its own process,
// through Hearth's real services (built code in ../dist): registration.createUser for users and tokens,
// rooms.createRoom / rooms.join for rooms, and the event writer (events.send) for messages, so every
// event is a real PDU with hashes, a signature, auth checks and push actions.
//
//   node bench/load.mjs <plan> <database path or postgres:// URL> <output json> [json params]
//
// Plans: send, send-seq, fanout-a, fanout-b, initial-sync, ephemeral, empty (see PLANS below).
// The output JSON holds users ({localpart: {userId, token}}), rooms and the load timings.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
// HEARTH_BENCH_DIST: another build's dist/, for plans that build's own loader does not have (the
// plan then uses only services both builds have).
const distDir = process.env.HEARTH_BENCH_DIST ?? join(here, '..', 'dist');
const dist = (p) => join(distDir, p);
const { buildConfig } = await import(dist('config.js'));
const { createServices } = await import(dist('services.js'));
const { openSqliteStorage } = await import(dist('storage/sqlite/index.js'));
const { systemClock } = await import(dist('clock.js'));
const { createLogger } = await import(dist('logger.js'));

const [plan, dbPath, outPath, paramsJson] = process.argv.slice(2);
if (!plan || !dbPath || !outPath) {
  process.stderr.write('usage: node bench/load.mjs <plan> <db> <out.json> [params json]\n');
  process.exit(2);
}
const params = paramsJson ? JSON.parse(paramsJson) : {};
// A loader must never run away: it stops itself after this long whatever it is doing.
const HARD_LIMIT_MS = Number(params.hardLimitMs ?? 15 * 60_000);
setTimeout(() => {
  process.stderr.write(`load.mjs: hard time limit (${HARD_LIMIT_MS} ms) reached, exiting\n`);
  process.exit(3);
}, HARD_LIMIT_MS).unref();

const isPostgres = /^postgres(ql)?:\/\//.test(dbPath);
const config = buildConfig({
  rate_limits: { enabled: false }, logging: { level: 'warn' },
  database: isPostgres ? { engine: 'postgres', url: dbPath } : { path: dbPath },
}, {});
async function openStorage() {
  if (!isPostgres) return openSqliteStorage(dbPath, systemClock.now);
  const { openPostgresStorage } = await import(dist('storage/postgres/index.js'));
  return openPostgresStorage(dbPath, 8, systemClock.now, { migrate: 'apply' });
}
const storage = await openStorage();
const services = createServices(config, storage, systemClock, { logger: createLogger('warn') });
// SQLite only: the connection, to group the loader's writes in large transactions. On PostgreSQL each
// write is its own transaction, as in the server.
const db = isPostgres ? undefined : storage.db;

const noAliases = {
  async reserve() { throw new Error('no aliases in the benchmark'); },
  release() {},
  async commit() {},
};

const out = { plan, users: {}, rooms: {}, timings: {}, counts: {} };
const auths = new Map();
let lastProgress = Date.now();
const progress = (msg) => {
  if (Date.now() - lastProgress < 5000) return;
  lastProgress = Date.now();
  process.stdout.write(`  [load ${plan}] ${msg}\n`);
};

/** Runs fn() inside one SQLite transaction per `batch` calls (the writer's own transactions nest as savepoints). */
let inTx = 0;
function begin() { if (db && !db.inTransaction) db.exec('BEGIN'); inTx = 0; }
function maybeCommit(batch = 2000) {
  if (db && ++inTx >= batch) { db.exec('COMMIT'); db.exec('BEGIN'); inTx = 0; }
}
function commit() { if (db?.inTransaction) db.exec('COMMIT'); inTx = 0; }

async function users(prefix, count) {
  const t0 = performance.now();
  const list = [];
  begin();
  for (let i = 0; i < count; i++) {
    const localpart = `${prefix}${i}`;
    const r = await services.registration.createUser({ localpart, password: null, admin: false, login: true });
    const auth = await services.tokens.authenticate(r.access_token);
    auths.set(localpart, auth);
    out.users[localpart] = { userId: r.user_id, token: r.access_token, deviceId: r.device_id };
    list.push(localpart);
    maybeCommit(5000);
    progress(`${i + 1}/${count} users ${prefix}*`);
  }
  commit();
  const ms = performance.now() - t0;
  out.timings[`users_${prefix}`] = { count, ms, perSecond: count / (ms / 1000) };
  return list;
}

let eventsWritten = 0;
async function room(name, creator, members) {
  const roomId = await services.rooms.createRoom(auths.get(creator), { preset: 'public_chat', name }, noAliases);
  for (const m of members) {
    if (m === creator) continue;
    await services.rooms.join(auths.get(m), roomId);
    maybeCommit();
  }
  out.rooms[name] = { roomId, members: [...new Set([creator, ...members])] };
  return roomId;
}

async function rooms(prefix, groups) {
  const t0 = performance.now();
  begin();
  const ids = [];
  for (let i = 0; i < groups.length; i++) {
    ids.push(await room(`${prefix}${i}`, groups[i][0], groups[i]));
    progress(`${i + 1}/${groups.length} rooms ${prefix}*`);
  }
  commit();
  const ms = performance.now() - t0;
  out.timings[`rooms_${prefix}`] = { count: groups.length, memberships: groups.reduce((n, g) => n + g.length, 0), ms };
  return ids;
}

const body = (i) => ({ msgtype: 'm.text', body: `history message ${i}: the quick brown fox jumps over the lazy dog` });

/** Sends `perRoom[r]` messages into each room, round-robin over rooms, senders round-robin over members. */
async function messages(label, targets, budgetMs) {
  const t0 = performance.now();
  const total = targets.reduce((n, t) => n + t.count, 0);
  const left = targets.map((t) => t.count);
  let sent = 0;
  let stoppedEarly = false;
  begin();
  for (let round = 0; sent < total; round++) {
    for (let r = 0; r < targets.length; r++) {
      if (left[r] <= 0) continue;
      const t = targets[r];
      const sender = t.senders[(t.count - left[r]) % t.senders.length];
      await services.events.send(t.roomId, { type: 'm.room.message', sender: out.users[sender].userId, content: body(sent) });
      left[r]--;
      sent++;
      eventsWritten++;
      maybeCommit();
      if ((sent & 1023) === 0) {
        const el = performance.now() - t0;
        progress(`${label}: ${sent}/${total} events, ${Math.round(sent / (el / 1000))}/s`);
        if (budgetMs && el > budgetMs) { stoppedEarly = true; break; }
      }
    }
    if (stoppedEarly) break;
  }
  commit();
  const ms = performance.now() - t0;
  const actual = targets.map((t, r) => t.count - left[r]);
  out.timings[`events_${label}`] = { requested: total, written: sent, ms, perSecond: sent / (ms / 1000), stoppedEarly };
  return actual;
}

const range = (n) => Array.from({ length: n }, (_, i) => i);
const chunks = (list, size) => range(Math.ceil(list.length / size)).map((i) => list.slice(i * size, i * size + size));

/** Events stored (in one room): the store answers (older builds, loaded through --against, have no countEvents). */
async function eventCount(roomId) {
  if (typeof storage.admin.countEvents === 'function') return storage.admin.countEvents(roomId);
  return roomId === undefined ? db.prepare('SELECT COUNT(*) FROM events').pluck().get() : db.prepare('SELECT COUNT(*) FROM events WHERE room_id = ?').pluck().get(roomId);
}
const roomEventCount = (roomId) => eventCount(roomId);
const sumEvents = async (ids) => { let n = 0; for (const id of ids) n += await roomEventCount(id); return n; };

const PLANS = {
  // Nothing but the schema and the signing key: scenario 6's empty server.
  async empty() {
    await services.signingKey();
  },
  // Scenario 1: `users` users in `rooms` rooms (users/rooms per room), everybody joined.
  async send() {
    const n = params.users ?? 100;
    const r = params.rooms ?? 20;
    const list = await users('s', n);
    await rooms('send', chunks(list, Math.ceil(n / r)));
  },
  // Scenario 2: one user, one room.
  async 'send-seq'() {
    const list = await users('q', 1);
    await rooms('seq', [list]);
  },
  // Scenario 3a: `users` users in rooms of `roomSize`.
  async 'fanout-a'() {
    const list = await users('f', params.users ?? 1000);
    await rooms('fa', chunks(list, params.roomSize ?? 10));
  },
  // Scenario 3b: `users` users in one room.
  async 'fanout-b'() {
    const list = await users('g', params.users ?? 1000);
    await rooms('fb', [list]);
  },
  // Scenario 4: one user in `rooms` rooms with `events` events in total (state included; each room has
  // the heavy user and one of 50 other users), a room of `bigEvents` events and one of `smallEvents`.
  async 'initial-sync'() {
    const nRooms = params.rooms ?? 500;
    const totalEvents = params.events ?? 200_000;
    const [heavy] = await users('heavy', 1);
    const others = await users('o', Math.min(50, nRooms));
    const [historian] = await users('hist', 1);
    const groups = range(nRooms).map((i) => [heavy, others[i % others.length]]);
    const ids = await rooms('is', groups);
    const stateEvents = await sumEvents(ids);
    const perRoom = Math.max(0, Math.floor((totalEvents - stateEvents) / nRooms));
    const extra = Math.max(0, totalEvents - stateEvents - perRoom * nRooms);
    await messages('sync_rooms', ids.map((roomId, i) => ({ roomId, count: perRoom + (i < extra ? 1 : 0), senders: groups[i] })));
    out.counts.syncRoomsEvents = await sumEvents(ids);
    out.counts.syncRooms = nRooms;
    const [small, big] = await rooms('hist', [[historian], [historian]]);
    out.rooms.small = out.rooms.hist0;
    out.rooms.big = out.rooms.hist1;
    await messages('small_room', [{ roomId: small, count: (params.smallEvents ?? 1000) - (await roomEventCount(small)), senders: [historian] }]);
    await messages('big_room', [{ roomId: big, count: (params.bigEvents ?? 1_000_000) - (await roomEventCount(big)), senders: [historian] }], params.bigBudgetMs);
    out.counts.smallRoomEvents = await roomEventCount(small);
    out.counts.bigRoomEvents = await roomEventCount(big);
    out.counts.bigRoomRequested = params.bigEvents ?? 1_000_000;
  },
  // Scenario 7: one room of `events` events whose state keeps changing (every `stateEvery`-th event
  // is a state event: `members` users join one by one, then topics and display names change), and
  // the IDs of probe events at fractions of its history, for state lookups deep in it.
  async 'state-deep'() {
    const total = params.events ?? 100_000;
    const every = params.stateEvery ?? 10;
    const list = await users('m', params.members ?? 200);
    const owner = list[0];
    const [roomId] = await rooms('deep', [[owner]]);
    const fractions = params.probes ?? [0.01, 0.1, 0.5, 0.9];
    const probeAt = new Map(fractions.map((f) => [Math.floor(total * f), f]));
    out.probes = [];
    let joined = 1;
    const t0 = performance.now();
    begin();
    for (let i = await roomEventCount(roomId); i < total; i++) {
      const sender = list[i % joined];
      let r;
      if (i % every !== 0) r = await services.events.send(roomId, { type: 'm.room.message', sender: out.users[sender].userId, content: body(i) });
      else if (joined < list.length) { await services.rooms.join(auths.get(list[joined]), roomId); joined++; r = undefined; }
      else if ((i / every) % 2 === 0) r = await services.events.send(roomId, { type: 'm.room.topic', state_key: '', sender: out.users[owner].userId, content: { topic: `topic ${i}` } });
      else {
        const u = out.users[sender].userId;
        r = await services.events.send(roomId, { type: 'm.room.member', state_key: u, sender: u, content: { membership: 'join', displayname: `${sender} ${i}` } });
      }
      if (r && probeAt.has(i)) out.probes.push({ fraction: probeAt.get(i), index: i, eventId: r.eventId });
      else if (!r && probeAt.has(i)) probeAt.set(i + 1, probeAt.get(i));
      maybeCommit();
      if ((i & 1023) === 0) progress(`state-deep: ${i}/${total} events, ${joined} members`);
    }
    commit();
    out.timings.events_deep = { written: total, ms: performance.now() - t0 };
    out.counts.deepRoomEvents = await roomEventCount(roomId);
    out.counts.deepRoomMembers = joined;
    // The lookup itself, on a new storage handle (cold SQLite page cache, no state cache), when this
    // build has state groups: the event's record, then the whole state map before it (the storage
    // read every state cache miss makes), the first time and 200 more.
    if (typeof storage.rooms.getStateGroup === 'function') {
      db?.pragma('wal_checkpoint(TRUNCATE)');
      const fresh = await openStorage();
      out.lookups = [];
      for (const p of out.probes) {
        const times = [];
        let size = 0;
        for (let k = 0; k < 201; k++) {
          const a = performance.now();
          const rec = await fresh.rooms.getEvent(p.eventId);
          const state = await fresh.rooms.getStateGroup(rec.graph.stateBefore);
          times.push(performance.now() - a);
          size = state.size;
        }
        out.lookups.push({ ...p, stateSize: size, coldMs: times[0], times: times.slice(1) });
      }
      await fresh.close();
    }
  },
  // Scenario 5: `sessions` users (one session each later), typists in rooms of `typingRoomSize`
  // (first `typing` users), one observer per typing room, the other users in rooms of `otherRoomSize`.
  async ephemeral() {
    const n = params.sessions ?? 20_000;
    const typing = params.typing ?? 2000;
    const typingRoomSize = params.typingRoomSize ?? 10;
    const list = await users('e', n);
    const typingRooms = Math.ceil(typing / typingRoomSize);
    const observers = await users('obs', typingRooms);
    const groups = chunks(list.slice(0, typing), typingRoomSize).map((g, i) => [observers[i], ...g]);
    await rooms('ty', groups);
    await rooms('pr', chunks(list.slice(typing), params.otherRoomSize ?? 100));
  },
};

const fn = PLANS[plan];
if (!fn) {
  process.stderr.write(`unknown plan ${plan}\n`);
  process.exit(2);
}
const t0 = performance.now();
try {
  await fn();
  out.counts.totalEvents = await eventCount();
  out.counts.users = await storage.accounts.countUsers();
  // The planner's statistics for the data just written (PostgreSQL; autovacuum would, later).
  if (typeof storage.admin.analyze === 'function') await storage.admin.analyze();
} finally {
  if (db?.inTransaction) db.exec('COMMIT');
  await services.stop();
  db?.pragma('wal_checkpoint(TRUNCATE)');
  await storage.close();
}
out.timings.totalMs = performance.now() - t0;
out.counts.messagesWritten = eventsWritten;
writeFileSync(outPath, JSON.stringify(out));
process.stdout.write(`  [load ${plan}] done in ${(out.timings.totalMs / 1000).toFixed(1)} s: ${out.counts.users} users, ${out.counts.totalEvents} events\n`);
