// Migration 0010_event_graph on a database of the previous schema (migrations 0001-0009): rooms,
// events and state written as before are converted (state groups per event, prev_events edges, the
// current-state history), and what clients read is unchanged: the state at every position, each
// user's membership history, /messages, /sync and the current state.
// SQLite only (jest.config.js): a PostgreSQL database cannot predate 0010 (its hook is a no-op,
// src/storage/postgres/migrate.ts).
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../../src/clock.js';
import { buildConfig } from '../../src/config.js';
import { stateKeyOf } from '../../src/core/state/groups.js';
import { createApp } from '../../src/http/app.js';
import { createLogger } from '../../src/logger.js';
import { createServices } from '../../src/services.js';
import { loadMigrations, migrate } from '../../src/storage/migrate.js';
import { openSqliteStorage, SQLITE_MIGRATION_HOOKS } from '../../src/storage/sqlite/index.js';
import request from 'supertest';

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;

function server(path: string) {
  const config = buildConfig({ server_name: 'test.local', database: { path }, logging: { level: 'silent' }, rate_limits: { enabled: false }, presence: { enabled: false } });
  const clock = new FakeClock();
  const storage = openSqliteStorage(path, () => clock.now());
  const services = createServices(config, storage, clock, { logger: createLogger('silent'), scrypt: { N: 1 << 10, r: 8, p: 1 } });
  return { storage, services, http: request(createApp(services)), close: async () => { await services.stop(); await storage.close(); } };
}

/** Copies every table of the previous schema, with the columns that schema has, from `from` into `to`. */
function copyPreviousSchema(from: Database.Database, to: Database.Database): void {
  const tables = to.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('schema_migrations', 'sqlite_sequence')").pluck().all() as string[];
  for (const t of tables) {
    const cols = (to.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((c) => c.name);
    const have = new Set((from.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((c) => c.name));
    const common = cols.filter((c) => have.has(c));
    if (common.length === 0) continue;
    const rows = from.prepare(`SELECT ${common.join(', ')} FROM ${t}`).all() as Record<string, unknown>[];
    const insert = to.prepare(`INSERT INTO ${t} (${common.join(', ')}) VALUES (${common.map((c) => `@${c}`).join(', ')})`);
    for (const r of rows) insert.run(r);
  }
}

describe('0010_event_graph on a database of the previous schema', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'hearth-graph-migration-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('converts rooms and events, and state and history read exactly as before', async () => {
    // 1. A server of this version writes rooms: state changes, messages, a redaction, members coming
    //    and going, a server notice (outside the graph).
    const a = server(join(dir, 'a.db'));
    const register = async (name: string) => (await a.http.post(`${C}/register`).send({ username: name, password: 'correct horse battery', auth: { type: 'm.login.dummy' } })).body as { access_token: string; user_id: string };
    const alice = await register('alice');
    const bob = await register('bob');
    const as = (u: { access_token: string }) => ({ Authorization: `Bearer ${u.access_token}` });
    const rooms: string[] = [];
    for (let r = 0; r < 2; r++) {
      const roomId = (await a.http.post(`${C}/createRoom`).set(as(alice)).send({ preset: 'public_chat', name: `room ${r}`, room_version: r === 0 ? '10' : '11' })).body.room_id as string;
      rooms.push(roomId);
      await a.http.post(`${C}/rooms/${enc(roomId)}/join`).set(as(bob)).send({});
      for (let i = 0; i < 30; i++) {
        await a.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/m${r}-${i}`).set(as(i % 2 ? bob : alice)).send({ body: `message ${i}` });
        if (i % 7 === 0) await a.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.topic/`).set(as(alice)).send({ topic: `topic ${i}` });
      }
      const secret = (await a.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.name/`).set(as(alice)).send({ name: 'SECRET' })).body.event_id as string;
      await a.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.name/`).set(as(alice)).send({ name: 'public' });
      await a.http.put(`${C}/rooms/${enc(roomId)}/redact/${enc(secret)}/x${r}`).set(as(alice)).send({});
      await a.http.post(`${C}/rooms/${enc(roomId)}/leave`).set(as(bob)).send({});
      await a.http.post(`${C}/rooms/${enc(roomId)}/join`).set(as(bob)).send({});
    }
    await a.services.notices.send(alice.user_id, { msgtype: 'm.text', body: 'a notice' });

    // What clients read, on the database as this version wrote it.
    const views = async (srv: ReturnType<typeof server>) => {
      const out: Record<string, unknown> = {};
      const max = await srv.storage.rooms.maxStreamOrdering();
      for (const roomId of [...rooms, ...(await srv.storage.rooms.getRoomsForUser(alice.user_id, ['join', 'invite'])).map((m) => m.roomId)]) {
        const at: string[][] = [];
        for (let p = 0; p <= max; p += 3) at.push((await srv.storage.rooms.getStateAt(roomId, p)).map((e) => e.event_id).sort());
        out[`${roomId} state at positions`] = at;
        out[`${roomId} bob's membership history`] = (await srv.storage.rooms.getStateHistory(roomId, 'm.room.member', bob.user_id)).map((h) => [h.event?.event_id, h.streamOrdering]);
        out[`${roomId} current state`] = (await srv.storage.rooms.getCurrentState(roomId)).map((e) => e.event_id).sort();
        out[`${roomId} members`] = (await srv.storage.rooms.getRoomMembers(roomId)).map((m) => [m.userId, m.membership, m.eventId]);
        const pages: string[] = [];
        let from: string | undefined;
        for (let i = 0; i < 20; i++) {
          const res = await srv.http.get(`${C}/rooms/${enc(roomId)}/messages`).query({ dir: 'b', limit: 7, ...(from ? { from } : {}) }).set(as(alice));
          // The notices room: alice is only invited there and reads its state in /sync, not /messages.
          if (res.status !== 200) { pages.push(`${res.status} ${res.body.errcode}`); break; }
          pages.push(...(res.body.chunk as { event_id: string; unsigned?: { prev_content?: unknown } }[]).map((e) => `${e.event_id} ${JSON.stringify(e.unsigned?.prev_content ?? null)}`));
          if (!res.body.end) break;
          from = res.body.end;
        }
        out[`${roomId} /messages`] = pages;
      }
      const sync = await srv.http.get(`${C}/sync`).set(as(alice));
      out['initial /sync timelines'] = Object.fromEntries(Object.entries(sync.body.rooms.join as Record<string, { timeline: { events: { event_id: string }[] }; state: { events: { event_id: string }[] } }>)
        .map(([id, r]) => [id, { timeline: r.timeline.events.map((e) => e.event_id), state: r.state.events.map((e) => e.event_id).sort() }]));
      return out;
    };
    const before = await views(a);
    await a.close();

    // 2. The same data in the previous schema: migrations 0001-0009 and this data's columns that exist there.
    const migrations = loadMigrations();
    const previous = new Database(join(dir, 'b.db'));
    migrate(previous, migrations.filter((m) => m.id <= 9), () => 1);
    const written = new Database(join(dir, 'a.db'), { readonly: true });
    copyPreviousSchema(written, previous);
    written.close();
    expect(previous.prepare("SELECT COUNT(*) FROM pragma_table_info('events') WHERE name = 'state_after'").pluck().get()).toBe(0);
    previous.close();

    // 3. This version opens it: the migration runs with its conversion, and clients read the same.
    const b = server(join(dir, 'b.db'));
    // 0010 first, then any later migration of this version.
    expect(b.storage.appliedMigrations[0]).toBe('0010_event_graph');
    void SQLITE_MIGRATION_HOOKS;
    const after = await views(b);
    expect(after).toEqual(before);
    // Every graph event has its state groups, equal to the state replayed in order.
    for (const roomId of rooms) {
      const records = await b.storage.rooms.getRoomEvents({ roomId, from: 0, dir: 'f', limit: 10_000 });
      const replay = new Map<string, string>();
      for (const r of records) {
        if (r.serverLocal) continue;
        expect(r.graph!.stateBefore === null ? new Map() : await b.storage.rooms.getStateGroup(r.graph!.stateBefore)).toEqual(replay);
        if (r.event.state_key !== undefined) replay.set(stateKeyOf(r.event.type, r.event.state_key), r.event.event_id);
        expect(await b.storage.rooms.getStateGroup(r.graph!.stateAfter!)).toEqual(replay);
      }
      expect((await b.storage.rooms.getRoom(roomId))!.stateGroup).not.toBeNull();
    }
    // And the converted rooms go on: a new event builds on them.
    const res = await b.http.put(`${C}/rooms/${enc(rooms[1]!)}/send/m.room.message/after`).set(as(alice)).send({ body: 'after the migration' });
    expect(res.status).toBe(200);
    await b.close();
  });
});
