// PostgreSQL only: two writers (two services, each with its own pool, as two processes would be) on one
// database, sending to one room at the same time. The room's write lock in the database
// (spec/postgres.md) keeps one linear chain: a writer whose room state went stale is refused, takes the
// lock, reads the room again and stores its event under the lock. (SQLite has one writer, its one
// connection, and no lock to wait on across connections: not tested here.)
import { buildConfig } from '../../src/config.js';
import { FakeClock } from '../../src/clock.js';
import { createLogger } from '../../src/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { openSharedTestStorage } from '../helpers/storage.js';

describe('two writers sending to one room at once (two pools on one database)', () => {
  const clock = new FakeClock();
  const config = buildConfig({ server_name: 'test.local', logging: { level: 'silent' }, rate_limits: { enabled: false } });
  let shared: ReturnType<typeof openSharedTestStorage>;
  let a: Services;
  let b: Services;
  beforeAll(() => {
    shared = openSharedTestStorage(() => clock.now());
    const opts = { logger: createLogger('silent'), scrypt: { N: 1 << 10, r: 8, p: 1 } };
    a = createServices(config, shared.a, clock, opts);
    b = createServices(config, shared.b, clock, opts);
  });
  afterAll(async () => {
    await a.stop();
    await b.stop();
    await shared.close();
  });

  const noAliases = { async reserve() { throw new Error('no aliases'); }, release() {}, async commit() {} };
  let n = 0;
  async function roomWithMember(): Promise<{ roomId: string; userId: string }> {
    const r = await a.registration.createUser({ localpart: `u${++n}`, password: null, admin: false, login: true });
    const auth = await a.tokens.authenticate(r.access_token!);
    return { roomId: await a.rooms.createRoom(auth, { preset: 'public_chat' }, noAliases), userId: r.user_id };
  }
  const message = (userId: string, body: string) => ({ type: 'm.room.message', sender: userId, content: { msgtype: 'm.text', body } });

  it('leave one linear chain, every event stored once at its own position', async () => {
    const { roomId, userId } = await roomWithMember();
    await b.roomState.get(roomId);
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? a : b).events.send(roomId, message(userId, `m${i}`))));
    const ids = results.map((r) => r.eventId);
    expect(new Set(ids).size).toBe(30);
    expect(new Set(results.map((r) => r.streamOrdering)).size).toBe(30);
    const events = await a.storage.rooms.getEvents(ids);
    expect(events).toHaveLength(30);
    // One chain: every message names exactly one parent, no parent is named twice, one extremity.
    const parents = events.map((e) => e.event.prev_events);
    for (const p of parents) expect(p).toHaveLength(1);
    expect(new Set(parents.map((p) => p[0])).size).toBe(30);
    const tips = await a.storage.rooms.getExtremities(roomId);
    expect(tips).toHaveLength(1);
    expect(ids).toContain(tips[0]);
    const depths = events.map((e) => e.event.depth).sort((x, y) => x - y);
    for (let i = 1; i < depths.length; i++) expect(depths[i]).toBe(depths[i - 1]! + 1);
  });

  it('a writer holding the room lock makes the other writer wait, not fork', async () => {
    const { roomId, userId } = await roomWithMember();
    await b.roomState.get(roomId);
    const lock = await shared.a.rooms.lockRoom(roomId);
    let sent = false;
    const send = b.events.send(roomId, message(userId, 'waits')).then((r) => { sent = true; return r; });
    await new Promise((r) => setTimeout(r, 100));
    expect(sent).toBe(false); // b's transaction waits on the lock
    await lock.release();
    const r = await send;
    expect((await a.storage.rooms.getExtremities(roomId))).toEqual([r.eventId]);
  });
});
