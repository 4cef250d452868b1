// Two Hearth processes (the BUILT `hearth serve`, real child processes) on one throwaway PostgreSQL
// database and one throwaway Redis, as an operator runs them (spec/scaling.md): what a user does on
// one process holds on the other (accounts, sessions, typing, presence, rate limits, logout), a
// message sent on one wakes a /sync waiting on the other, concurrent sends into one room from both
// never fork it and no incremental /sync skips an event, and `kill -9` of one process leaves every
// acknowledged event stored while the other keeps serving and takes over the single-process work.
// Also: who may serve a database (a second process without Redis is refused, `--workers` too).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createClient } from 'redis';
import { request, until } from '../helpers/hearths.js';
import { freePort } from '../helpers/net.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { createTestDatabase, type TestDatabase } from '../helpers/storage.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SERVER = 'scale.test';

interface Proc {
  child: ChildProcess;
  url: string;
  out: string;
  err: string;
  processId?: string;
}

let build: string;
let redis: TestRedis;
let db: TestDatabase;
let configPath: string;
let a: Proc;
let b: Proc;
const procs = new Set<ChildProcess>();

function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HEARTH_')) env[k] = v;
  return { ...env, HEARTH_QUIET: '1', ...extra };
}

/** Starts `hearth serve` (with `args`); resolves once it listens, or rejects with what it printed when it ended first. */
async function serve(env: Record<string, string>, args: string[] = []): Promise<Proc> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(build, 'dist', 'main.js'), 'serve', '--config', configPath, ...args], {
    cwd: ROOT, env: childEnv({ HEARTH_PORT: String(port), ...env }), stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.add(child);
  child.on('exit', () => procs.delete(child));
  const p: Proc = { child, url: `http://127.0.0.1:${port}`, out: '', err: '' };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    p.out += d;
    p.processId ??= /"process_id":"([0-9a-f]+)"/.exec(p.out)?.[1];
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (p.err += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "Hearth is listening" within 30 s:\n${p.out}\n${p.err}`)), 30_000);
    const check = () => {
      if (/"msg":"Hearth is listening"/.test(p.out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`hearth serve ended (${code}):\n${p.err}`), { code, stderr: p.err }));
    });
  });
  return p;
}

const shared = () => ({ HEARTH_DATABASE_URL: db.url, HEARTH_REDIS_URL: redis.url });

async function register(base: string, username: string): Promise<{ token: string; userId: string }> {
  const r = await request(base, 'POST', '/_matrix/client/v3/register', { username, password: 'a-long-password', auth: { type: 'm.login.dummy' } });
  expect(r.status).toBe(200);
  return { token: r.body.access_token as string, userId: r.body.user_id as string };
}

async function login(base: string, username: string): Promise<{ status: number; token: string; body: Record<string, any> }> {
  const r = await request(base, 'POST', '/_matrix/client/v3/login', { type: 'm.login.password', identifier: { type: 'm.id.user', user: username }, password: 'a-long-password' });
  return { status: r.status, token: r.body.access_token as string, body: r.body };
}

async function sync(base: string, token: string, since?: string, timeout = 0): Promise<Record<string, any>> {
  const q = new URLSearchParams({ timeout: String(timeout), ...(since ? { since } : {}) });
  const r = await request(base, 'GET', `/_matrix/client/v3/sync?${q}`, undefined, token);
  expect(r.status).toBe(200);
  return r.body;
}

let txn = 0;
async function send(base: string, token: string, roomId: string, body: string): Promise<{ status: number; eventId?: string; errcode?: string }> {
  const r = await request(base, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t${++txn}`, { msgtype: 'm.text', body }, token);
  return { status: r.status, ...(r.body.event_id ? { eventId: r.body.event_id as string } : {}), ...(r.body.errcode ? { errcode: r.body.errcode as string } : {}) };
}

async function roomWith(base: string, owner: string, others: { token: string; userId: string; base: string }[]): Promise<string> {
  const c = await request(base, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' }, owner);
  expect(c.status).toBe(200);
  const roomId = c.body.room_id as string;
  for (const o of others) expect((await request(o.base, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {}, o.token)).status).toBe(200);
  return roomId;
}

/** Timeline event IDs of `roomId` in every incremental sync from `since` until `stop()` is true. */
function follow(base: string, token: string, roomId: string, since: string): { ids: string[]; done(): Promise<void>; stop(): void } {
  const ids: string[] = [];
  let stopped = false;
  const loop = (async () => {
    let next = since;
    while (!stopped) {
      const body = await sync(base, token, next, 500);
      for (const e of body.rooms?.join?.[roomId]?.timeline?.events ?? []) ids.push(e.event_id as string);
      expect(body.rooms?.join?.[roomId]?.timeline?.limited ?? false).toBe(false);
      next = body.next_batch as string;
    }
  })();
  return { ids, done: () => loop, stop: () => { stopped = true; } };
}

beforeAll(async () => {
  build = mkdtempSync(join(tmpdir(), 'hearth-scale-'));
  for (const name of ['migrations', 'package.json', 'node_modules']) symlinkSync(join(ROOT, name), join(build, name));
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', join(build, 'dist')], { cwd: ROOT, stdio: 'pipe', timeout: 180_000 });
  redis = await startRedis();
  db = await createTestDatabase();
  configPath = join(build, 'hearth.yaml');
  writeFileSync(configPath, [
    `server_name: ${SERVER}`,
    'database: { engine: postgres, pool_size: 4 }',
    'redis: { lease_ttl_ms: 1500 }',
    'web_client: { enabled: false }',
    'registration_shared_secret: cluster-secret',
    'server_notices: { on_new_login: false }',
    'rate_limits:',
    '  registration: { per_second: 100, burst: 1000 }',
    '  login: { per_second: 100, burst: 1000 }',
    '  message: { per_second: 100, burst: 1000 }',
    '  invite: { per_second: 0.001, burst: 3 }',
    'logging: { level: info }',
    '',
  ].join('\n'));
  a = await serve(shared());
  b = await serve(shared());
}, 240_000);

afterAll(async () => {
  for (const c of procs) c.kill('SIGKILL');
  await db?.drop().catch(() => {});
  await redis?.stop();
  if (build) rmSync(build, { recursive: true, force: true });
});

describe('two processes on PostgreSQL and Redis', () => {
  it('a user registered on A logs in on B, and B\'s token works on A', async () => {
    await register(a.url, 'alice');
    const onB = await login(b.url, 'alice');
    expect(onB.status).toBe(200);
    const who = await request(a.url, 'GET', '/_matrix/client/v3/account/whoami', undefined, onB.token);
    expect(who.status).toBe(200);
    expect(who.body.user_id).toBe(`@alice:${SERVER}`);
  });

  it('a user-interactive auth session started on A is continued on B (registration, device deletion)', async () => {
    const body = { username: 'uia-carol', password: 'a-long-password' };
    const first = await request(a.url, 'POST', '/_matrix/client/v3/register', body);
    expect(first.status).toBe(401);
    const session = first.body.session as string;
    expect(typeof session).toBe('string');
    const second = await request(b.url, 'POST', '/_matrix/client/v3/register', { ...body, auth: { type: 'm.login.dummy', session } });
    expect(second.status).toBe(200);
    expect(second.body.user_id).toBe(`@uia-carol:${SERVER}`);
    // The session is used up on every process.
    const again = await request(a.url, 'POST', '/_matrix/client/v3/register', { username: 'uia-carol2', password: 'a-long-password', auth: { type: 'm.login.dummy', session } });
    expect(again.status).toBe(400);
    expect(again.body.errcode).toBe('M_UNKNOWN');

    const phone = await login(a.url, 'uia-carol');
    const deviceId = phone.body.device_id as string;
    const path = `/_matrix/client/v3/devices/${encodeURIComponent(deviceId)}`;
    const challenge = await request(a.url, 'DELETE', path, {}, second.body.access_token as string);
    expect(challenge.status).toBe(401);
    const done = await request(b.url, 'DELETE', path, {
      auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'uia-carol' }, password: 'a-long-password', session: challenge.body.session },
    }, second.body.access_token as string);
    expect(done.status).toBe(200);
    expect((await request(a.url, 'GET', '/_matrix/client/v3/account/whoami', undefined, phone.token)).status).toBe(401);
  });

  it('a shared-secret registration nonce from A is accepted once, on B', async () => {
    const nonce = (await request(a.url, 'GET', '/_synapse/admin/v1/register')).body.nonce as string;
    const mac = createHmac('sha1', 'cluster-secret').update(`${nonce}\x00nonce-dave\x00a-long-password\x00notadmin`).digest('hex');
    const r = await request(b.url, 'POST', '/_synapse/admin/v1/register', { nonce, username: 'nonce-dave', password: 'a-long-password', admin: false, mac });
    expect(r.status).toBe(200);
    expect(r.body.user_id).toBe(`@nonce-dave:${SERVER}`);
    const replay = await request(a.url, 'POST', '/_synapse/admin/v1/register', { nonce, username: 'nonce-eve', password: 'a-long-password', admin: false, mac });
    expect(replay.status).toBe(400);
    expect(replay.body.errcode).toBe('M_UNKNOWN');
  });

  it('a message sent on A wakes a /sync waiting on B at once', async () => {
    const alice = await register(a.url, 'm-alice');
    const bob = await register(b.url, 'm-bob');
    const roomId = await roomWith(a.url, alice.token, [{ ...bob, base: b.url }]);
    let since = (await sync(b.url, bob.token)).next_batch as string;
    // Something else may wake B's sync first (alice's presence, say): each answer is followed by the
    // next long-poll from its next_batch, as a client does, until the message arrives; an answer that
    // skipped it would leave the loop waiting until it fails.
    let woke = 0;
    const waiting = (async () => {
      for (;;) {
        const body = await sync(b.url, bob.token, since, 20_000);
        since = body.next_batch as string;
        const ids = (body.rooms?.join?.[roomId]?.timeline?.events ?? []).map((e: { event_id: string }) => e.event_id);
        if (ids.length > 0) {
          woke = Date.now();
          return ids;
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 300)); // B's /sync is waiting
    const sent = await send(a.url, alice.token, roomId, 'hello from A');
    const acked = Date.now();
    expect(sent.status).toBe(200);
    expect(await waiting).toEqual([sent.eventId]);
    // The issue asks for 100 ms; loaded CI machines get some slack, a poll-based design would not make it.
    expect(woke - acked).toBeLessThan(250);
  });

  it('typing set on A is seen on B, and ends on time there', async () => {
    const alice = await register(a.url, 't-alice');
    const bob = await register(b.url, 't-bob');
    const roomId = await roomWith(a.url, alice.token, [{ ...bob, base: b.url }]);
    let since = (await sync(b.url, bob.token)).next_batch as string;
    const r = await request(a.url, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(alice.userId)}`, { typing: true, timeout: 1500 }, alice.token);
    expect(r.status).toBe(200);
    const typingIn = (body: Record<string, any>) => (body.rooms?.join?.[roomId]?.ephemeral?.events ?? []).find((e: { type: string }) => e.type === 'm.typing')?.content.user_ids as string[] | undefined;
    const seen = await until('typing on B', async () => {
      const body = await sync(b.url, bob.token, since, 2000);
      since = body.next_batch as string;
      return typingIn(body);
    });
    expect(seen).toEqual([alice.userId]);
    const started = Date.now();
    const ended = await until('typing ended on B', async () => {
      const body = await sync(b.url, bob.token, since, 3000);
      since = body.next_batch as string;
      const users = typingIn(body);
      return users !== undefined && users.length === 0;
    }, 6000);
    expect(ended).toBe(true);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('presence and status set on A are what B answers', async () => {
    const alice = await register(a.url, 'p-alice');
    const bob = await register(b.url, 'p-bob');
    await roomWith(a.url, alice.token, [{ ...bob, base: b.url }]);
    const set = await request(a.url, 'PUT', `/_matrix/client/v3/presence/${encodeURIComponent(alice.userId)}/status`, { presence: 'online', status_msg: 'on process A' }, alice.token);
    expect(set.status).toBe(200);
    const got = await until('presence on B', async () => {
      const r = await request(b.url, 'GET', `/_matrix/client/v3/presence/${encodeURIComponent(alice.userId)}/status`, undefined, bob.token);
      return r.body.status_msg === 'on process A' ? r : undefined;
    }, 3000);
    expect(got.status).toBe(200);
    expect(got.body.presence).toBe('online');
    const body = await sync(b.url, bob.token);
    const ev = (body.presence?.events ?? []).find((e: { sender: string }) => e.sender === alice.userId);
    expect(ev?.content.presence).toBe('online');
  });

  it('a rate limit is per user, not per process', async () => {
    const alice = await register(a.url, 'r-alice');
    const roomId = await roomWith(a.url, alice.token, []);
    const invitees: string[] = [];
    for (let i = 0; i < 6; i++) invitees.push((await register(i % 2 === 0 ? a.url : b.url, `r-invitee${i}`)).userId);
    // invite: burst 3, next one in ~1000 s; alternate the processes.
    const answers: { status: number; errcode?: string }[] = [];
    for (let i = 0; i < 6; i++) {
      const base = i % 2 === 0 ? a.url : b.url;
      const r = await request(base, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/invite`, { user_id: invitees[i] }, alice.token);
      answers.push({ status: r.status, ...(r.body.errcode ? { errcode: r.body.errcode as string } : {}) });
    }
    expect(answers.filter((x) => x.status === 200)).toHaveLength(3);
    expect(answers.slice(3)).toEqual([
      { status: 429, errcode: 'M_LIMIT_EXCEEDED' }, { status: 429, errcode: 'M_LIMIT_EXCEEDED' }, { status: 429, errcode: 'M_LIMIT_EXCEEDED' },
    ]);
  });

  it('a session started on A continues on B; ended on A, it is refused on B; a logout on A ends the token on B', async () => {
    const alice = await register(a.url, 's-alice');
    const started = await request(a.url, 'POST', '/_matrix/client/unstable/hearth/sessions', { presence: 'online' }, alice.token);
    expect(started.status).toBe(200);
    const sid = started.body.session_id as string;
    const onB = await fetch(`${b.url}/_matrix/client/v3/account/whoami`, { headers: { authorization: `Bearer ${alice.token}`, 'hearth-session': sid } });
    expect(onB.status).toBe(200);
    expect(onB.headers.get('hearth-session')).toBe(sid);
    const ended = await request(a.url, 'DELETE', `/_matrix/client/unstable/hearth/sessions/${sid}`, undefined, alice.token);
    expect(ended.status).toBe(200);
    const refused = await fetch(`${b.url}/_matrix/client/v3/account/whoami`, { headers: { authorization: `Bearer ${alice.token}`, 'hearth-session': sid } });
    expect(refused.status).toBe(410);
    expect((await refused.json() as { errcode: string }).errcode).toBe('HEARTH_SESSION_EXPIRED');
    // The token is cached on B after the request above; a logout on A revokes it there too.
    expect((await request(a.url, 'POST', '/_matrix/client/v3/logout', {}, alice.token)).status).toBe(200);
    const after = await request(b.url, 'GET', '/_matrix/client/v3/account/whoami', undefined, alice.token);
    expect(after.status).toBe(401);
    expect(after.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('concurrent sends into one room on A and B never fork it, and no incremental /sync on B skips one', async () => {
    const alice = await register(a.url, 'c-alice');
    const bob = await register(b.url, 'c-bob');
    const roomId = await roomWith(a.url, alice.token, [{ ...bob, base: b.url }]);
    const since = (await sync(b.url, bob.token)).next_batch as string;
    const watcher = follow(b.url, bob.token, roomId, since);
    const sends: Promise<{ status: number; eventId?: string }>[] = [];
    for (let i = 0; i < 15; i++) {
      sends.push(send(a.url, alice.token, roomId, `a${i}`));
      sends.push(send(b.url, bob.token, roomId, `b${i}`));
    }
    const results = await Promise.all(sends);
    expect(results.every((r) => r.status === 200)).toBe(true);
    const sent = results.map((r) => r.eventId!);
    await until('B\'s syncs saw every event', () => sent.every((id) => watcher.ids.includes(id)), 15_000);
    watcher.stop();
    await watcher.done();
    expect(new Set(watcher.ids).size).toBe(watcher.ids.length); // none twice
    // No fork: the room has one forward extremity, and every message has exactly one parent.
    const pgc = new pg.Client({ connectionString: db.url });
    await pgc.connect();
    try {
      const ext = await pgc.query('SELECT event_id FROM room_extremities WHERE room_id = $1', [roomId]);
      expect(ext.rows).toHaveLength(1);
      const parents = await pgc.query<{ event_id: string; n: string }>(
        'SELECT event_id, count(*) AS n FROM event_edges WHERE event_id = ANY($1) GROUP BY event_id', [sent]);
      expect(parents.rows).toHaveLength(sent.length);
      expect(parents.rows.every((r) => Number(r.n) === 1)).toBe(true);
    } finally {
      await pgc.end();
    }
  });
});

describe('kill -9 of one process', () => {
  it('keeps every acknowledged event; the other keeps serving and takes over the single-process work', async () => {
    const alice = await register(a.url, 'k-alice');
    const bob = await register(b.url, 'k-bob');
    const roomId = await roomWith(b.url, bob.token, [{ ...alice, base: a.url }]);
    const r = createClient({ url: redis.url });
    await r.connect();
    const holder = await until('a lease holder', async () => (await r.get(`hearth:${SERVER}:lease:timers`)) ?? undefined);
    await r.close();
    const victim = holder === a.processId ? a : b;
    const survivor = victim === a ? b : a;
    const victimUser = victim === a ? alice : bob;
    const survivorUser = victim === a ? bob : alice;
    expect([a.processId, b.processId]).toContain(holder);
    // Sends on the victim, one after another, until it is killed in the middle of them.
    const acked: string[] = [];
    let stop = false;
    const sending = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          const s = await send(victim.url, victimUser.token, roomId, `v${i}`);
          if (s.status === 200) acked.push(s.eventId!);
        } catch {
          return; // the connection died with the process
        }
      }
    })();
    await until('some sends acknowledged', () => acked.length >= 5);
    victim.child.kill('SIGKILL');
    await sending;
    stop = true;
    const killedAt = Date.now();
    // The survivor serves: a send there is stored and seen by a sync there (past the victim's positions
    // left in flight, which the new lease holder drops).
    const after = await send(survivor.url, survivorUser.token, roomId, 'after the kill');
    expect(after.status).toBe(200);
    const seen = await until('the survivor\'s sync shows the new event', async () => {
      const body = await sync(survivor.url, survivorUser.token);
      const ids = (body.rooms?.join?.[roomId]?.timeline?.events ?? []).map((e: { event_id: string }) => e.event_id);
      return ids.includes(after.eventId!) ? Date.now() : undefined;
    }, 10_000);
    expect(seen - killedAt).toBeLessThan(6000);
    const page = await request(survivor.url, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=1000`, undefined, survivorUser.token);
    const stored = new Set((page.body.chunk as { event_id: string }[]).map((e) => e.event_id));
    for (const id of acked) expect(stored.has(id)).toBe(true);
    // The lease passed to the survivor.
    const r2 = createClient({ url: redis.url });
    await r2.connect();
    const newHolder = await until('the survivor holds the lease', async () => ((await r2.get(`hearth:${SERVER}:lease:timers`)) === survivor.processId ? true : undefined), 6000);
    await r2.close();
    expect(newHolder).toBe(true);
  });
});

describe('who may serve a database', () => {
  it('refuses a second process without redis.url, saying what to do', async () => {
    const err = await serve({ HEARTH_DATABASE_URL: db.url }).then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(err?.code).toBe(1);
    expect(err?.stderr).toContain('Another Hearth process is already serving this PostgreSQL database');
    expect(err?.stderr).toContain('redis.url');
  });

  it('refuses --workers 2 without redis.url', async () => {
    const other = await createTestDatabase();
    try {
      const err = await serve({ HEARTH_DATABASE_URL: other.url }, ['--workers', '2']).then(() => undefined, (e: { code: number; stderr: string }) => e);
      expect(err?.code).toBe(1);
      expect(err?.stderr).toContain('--workers 2: several processes share their live state');
    } finally {
      await other.drop();
    }
  });

  it('runs --workers 2 on one port with redis.url', async () => {
    const other = await createTestDatabase();
    try {
      const p = await serve({ HEARTH_DATABASE_URL: other.url, HEARTH_REDIS_URL: redis.url }, ['--workers', '2']);
      await until('both workers listening', () => (p.out.match(/"msg":"Hearth is listening"/g) ?? []).length === 2);
      const u = await register(p.url, 'w-alice');
      for (let i = 0; i < 4; i++) {
        const who = await request(p.url, 'GET', '/_matrix/client/v3/account/whoami', undefined, u.token);
        expect(who.status).toBe(200);
      }
      p.child.kill('SIGTERM');
      await new Promise((r) => p.child.once('exit', r));
    } finally {
      await other.drop();
    }
  });
});
