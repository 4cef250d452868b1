// Migrations 0014_relations and 0015_search on a PostgreSQL database written before them (by the engine
// as it was at 0010): the events already stored are indexed as new ones are (relations, threads, the
// thread of each notification, search text), so /relations, /threads, aggregations, unread counts and
// /search answer the same. The PostgreSQL counterpart of index-migrations.test.ts (its hooks are
// src/storage/postgres/index-migrations.ts).
import pg from 'pg';
import request from 'supertest';
import { FakeClock } from '../../src/clock.js';
import { buildConfig } from '../../src/config.js';
import { createApp } from '../../src/http/app.js';
import { createLogger } from '../../src/logger.js';
import { createServices } from '../../src/services.js';
import { createPostgresStorage, loadPostgresMigrations, migratePostgres } from '../../src/storage/postgres/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/storage.js';

const C = '/_matrix/client/v3';
const V1 = '/_matrix/client/v1';
const enc = encodeURIComponent;

function server(url: string, appliedMigrations: string[] = []) {
  const config = buildConfig({ server_name: 'test.local', database: { engine: 'postgres', url }, logging: { level: 'silent' }, rate_limits: { enabled: false }, presence: { enabled: false } });
  const clock = new FakeClock();
  const storage = createPostgresStorage(url, { poolSize: 4 }, appliedMigrations);
  const services = createServices(config, storage, clock, { logger: createLogger('silent'), scrypt: { N: 1 << 10, r: 8, p: 1 } });
  return { storage, clock, http: request(createApp(services)), close: async () => { await services.stop(); await storage.close(); } };
}

describe('0014_relations and 0015_search on existing events', () => {
  let db: TestDatabase;
  beforeAll(async () => { db = await createTestDatabase(); });
  afterAll(() => db.drop());

  it('indexes what was stored before, and clients read the same as before', async () => {
    const a = server(db.url);
    const register = async (name: string) => (await a.http.post(`${C}/register`).send({ username: name, password: 'correct horse battery', auth: { type: 'm.login.dummy' } })).body as { access_token: string; user_id: string };
    const alice = await register('alice');
    const bob = await register('bob');
    const as = (u: { access_token: string }) => ({ Authorization: `Bearer ${u.access_token}` });
    const roomId = (await a.http.post(`${C}/createRoom`).set(as(alice)).send({ preset: 'public_chat', name: 'Migrated room' })).body.room_id as string;
    await a.http.post(`${C}/rooms/${enc(roomId)}/join`).set(as(bob)).send({});
    let n = 0;
    const send = async (u: { access_token: string }, content: object, type = 'm.room.message') => {
      a.clock.advance(1000);
      return (await a.http.put(`${C}/rooms/${enc(roomId)}/send/${type}/m${++n}`).set(as(u)).send(content)).body.event_id as string;
    };
    const root = await send(alice, { msgtype: 'm.text', body: 'thread root about migrations' });
    const r1 = await send(bob, { msgtype: 'm.text', body: 'first reply', 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
    await send(bob, { 'm.relates_to': { rel_type: 'm.annotation', event_id: r1, key: '👍' } }, 'm.reaction');
    await send(alice, { msgtype: 'm.text', body: 'second reply', 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
    const edited = await send(alice, { msgtype: 'm.text', body: 'typo' });
    await send(alice, { msgtype: 'm.text', body: '* fixed', 'm.new_content': { msgtype: 'm.text', body: 'fixed' }, 'm.relates_to': { rel_type: 'm.replace', event_id: edited } });
    const redacted = await send(bob, { msgtype: 'm.text', body: 'secret migrations', 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
    await a.http.put(`${C}/rooms/${enc(roomId)}/redact/${enc(redacted)}/x1`).set(as(bob)).send({});

    const views = async (srv: ReturnType<typeof server>) => ({
      relations: (await srv.http.get(`${V1}/rooms/${enc(roomId)}/relations/${enc(root)}`).query({ limit: '20' }).set(as(alice))).body,
      threads: (await srv.http.get(`${V1}/rooms/${enc(roomId)}/threads`).set(as(alice))).body,
      root: (await srv.http.get(`${C}/rooms/${enc(roomId)}/event/${enc(root)}`).set(as(bob))).body.unsigned['m.relations'],
      edited: (await srv.http.get(`${C}/rooms/${enc(roomId)}/event/${enc(edited)}`).set(as(bob))).body.unsigned['m.relations'],
      search: (await srv.http.post(`${C}/search`).set(as(bob)).send({ search_categories: { room_events: { search_term: 'migrations', order_by: 'recent' } } })).body,
      counts: (await srv.http.get(`${C}/sync`).query({ filter: JSON.stringify({ room: { timeline: { unread_thread_notifications: true, limit: 1 } } }) }).set(as(bob))).body.rooms.join[roomId].unread_thread_notifications,
    });
    const before = await views(a);
    const now = a.clock.now();
    // What was indexed is there to compare with (not empty answers).
    expect(before.relations.chunk.length).toBe(2);
    expect(before.root['m.thread'].count).toBe(2);
    expect(before.edited['m.replace']).toBeDefined();
    expect(before.search.search_categories.room_events.results.length).toBe(1); // the redacted reply is gone
    expect(before.counts).toEqual({ [root]: { notification_count: 1, highlight_count: 0 } });
    await a.close();

    // The database as the previous version left it: no relation, thread or search index, no notification threads.
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query(`DROP TABLE event_relations; DROP TABLE threads; DROP TABLE event_search;
      ALTER TABLE event_push_actions DROP COLUMN thread_id; DROP INDEX events_room_id_origin_server_ts_idx;
      DELETE FROM schema_migrations WHERE id IN (14, 15, 16);`);
    expect((await c.query("SELECT COUNT(*)::int AS n FROM pg_class WHERE relname IN ('event_relations', 'threads', 'event_search')")).rows[0].n).toBe(0);
    await c.end();

    const applied = await migratePostgres(db.url, loadPostgresMigrations(), Date.now, 'apply');
    expect(applied).toEqual(['0014_relations', '0015_search', '0016_event_timestamps']);
    const b = server(db.url, applied);
    b.clock.advance(now - b.clock.now()); // the same time, so ages match
    expect(await views(b)).toEqual(before);
    await b.close();
  });
});
