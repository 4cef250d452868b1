// The Redis implementations of the live state, each against a real throwaway redis-server
// (test/helpers/redis.ts), two connections standing for two processes: positions and their
// persisted-up-to rule, the notifier, sessions, rate-limit buckets, leases and cache invalidation.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { buildConfig } from '../../src/config.js';
import { RedisCluster, type ClusterTimings } from '../../src/cluster/bus.js';
import { ClusterNotifier } from '../../src/cluster/notifier.js';
import { SharedStreamPositions } from '../../src/cluster/positions.js';
import { RedisBuckets } from '../../src/cluster/ratelimit.js';
import { RedisSessionStore } from '../../src/cluster/sessions.js';
import { systemClock } from '../../src/clock.js';
import { InMemoryNotifier } from '../../src/core/notifier.js';
import { RateLimiter } from '../../src/core/ratelimit.js';
import type { Session } from '../../src/core/sessions.js';
import { MatrixError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
const open: RedisCluster[] = [];
const logger = createLogger('silent');
const FAST: ClusterTimings = { heartbeatTtlMs: 600, leaseTtlMs: 600 };
let serverSeq = 0;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
});

/** Two "processes" of one server (a fresh server name per test: its own keys and channel). */
async function pair(timings?: ClusterTimings): Promise<[RedisCluster, RedisCluster]> {
  const name = `t${++serverSeq}.example`;
  const a = await RedisCluster.connect(redis.url, name, logger, timings);
  const b = await RedisCluster.connect(redis.url, name, logger, timings);
  open.push(a, b);
  return [a, b];
}

/** A database ceiling as MetaStore.reserveBlock keeps it. */
function ceilingStore() {
  let ceiling = 0;
  return { reserve: async (floor: number, size: number) => (ceiling = Math.max(ceiling, floor) + size), get ceiling() { return ceiling; } };
}

const until = async (what: string, check: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('SharedStreamPositions', () => {
  it('hands out one sequence across processes, starting above the stored positions', async () => {
    const [a, b] = await pair();
    const db = ceilingStore();
    const pa = await SharedStreamPositions.open(a, db.reserve, 41);
    const pb = await SharedStreamPositions.open(b, db.reserve, 41);
    await pa.available();
    const x = pa.next();
    await pb.available();
    const y = pb.next();
    await pa.available();
    const z = pa.next();
    expect(x).toBeGreaterThan(41);
    expect([y - x, z - y]).toEqual([1, 1]);
    // The database's ceiling stays above every position handed out (a lost Redis restarts there).
    expect(db.ceiling).toBeGreaterThanOrEqual(z);
  });

  it('never lets a reader pass a position another process has not stored yet', async () => {
    const [a, b] = await pair();
    const db = ceilingStore();
    const pa = await SharedStreamPositions.open(a, db.reserve, 0);
    const pb = await SharedStreamPositions.open(b, db.reserve, 0);
    await pa.available();
    const first = pa.begin(); // process A's write in flight
    await pb.available();
    const second = pb.begin();
    pb.done(second); // B's later write committed first
    await new Promise((r) => setTimeout(r, 50));
    expect(pb.current).toBe(first - 1);
    expect(pa.current).toBe(first - 1);
    const seen: number[] = [];
    pb.whenVisible(second, () => seen.push(second));
    pa.done(first);
    await until('both positions visible on both processes', () => pa.current === second && pb.current === second);
    expect(seen).toEqual([second]);
  });

  it('gives up positions reserved and not taken, so they hold nobody back', async () => {
    const [a] = await pair();
    const pa = await SharedStreamPositions.open(a, ceilingStore().reserve, 0);
    await pa.available(3);
    const taken = pa.begin();
    pa.done(taken);
    await until('the unused positions given up', () => pa.current >= taken + 2);
    expect(pa.remaining).toBe(0);
  });

  it('settles again, once Redis answers, a write whose settling failed (readers wait only while it is away)', async () => {
    const [a, b] = await pair();
    const db = ceilingStore();
    let failing = false;
    // Process A's connection, whose settling script fails while `failing` (Redis away for it).
    const flaky = Object.create(a) as RedisCluster;
    flaky.eval = ((script: string, keys: string[], args: (string | number)[]) =>
      failing && script.includes('ZREM') ? Promise.reject(new Error('connection lost')) : a.eval(script, keys, args)) as RedisCluster['eval'];
    const pa = await SharedStreamPositions.open(flaky, db.reserve, 0);
    const pb = await SharedStreamPositions.open(b, db.reserve, 0);
    failing = true;
    await pa.available();
    const written = pa.begin();
    pa.done(written);
    await new Promise((r) => setTimeout(r, 100));
    expect(pb.current).toBe(written - 1); // still in flight for everyone
    failing = false;
    await until('the write settled by the retry', () => pb.current === written, 3000);
    expect(pa.current).toBe(written);
  });

  it('drops the positions in flight of a process that died, once its heartbeat expired', async () => {
    const [a, b] = await pair(FAST);
    const db = ceilingStore();
    const pa = await SharedStreamPositions.open(a, db.reserve, 0);
    const pb = await SharedStreamPositions.open(b, db.reserve, 0);
    await pa.available();
    const stuck = pa.begin();
    await pb.available();
    const later = pb.next();
    await new Promise((r) => setTimeout(r, 30));
    expect(pb.current).toBe(stuck - 1);
    // A dies without a word: its heartbeat stops (close() would delete it; stop the timer only).
    a.stopHeartbeat();
    await new Promise((r) => setTimeout(r, 800));
    expect(await b.isLive(a.processId)).toBe(false);
    expect(await pb.reap()).toBe(1);
    expect(pb.current).toBe(later);
  });
});

describe('ClusterNotifier', () => {
  it('wakes a waiter on another process with the position, once it is visible there', async () => {
    const [a, b] = await pair();
    const db = ceilingStore();
    const pa = await SharedStreamPositions.open(a, db.reserve, 0);
    const pb = await SharedStreamPositions.open(b, db.reserve, 0);
    const na = new ClusterNotifier(a, new InMemoryNotifier(systemClock), () => pa);
    const nb = new ClusterNotifier(b, new InMemoryNotifier(systemClock), () => pb);
    const start = pb.current;
    const woken = nb.wait('@bob:x', start, 5000);
    const other = nb.wait('@carol:x', start, 300);
    await pa.available();
    const pos = pa.begin();
    na.notify(['@bob:x'], pos);
    await new Promise((r) => setTimeout(r, 50));
    expect(nb.waiting).toBe(2); // not visible yet: the write is in flight
    const t0 = Date.now();
    pa.done(pos);
    expect(await woken).toBe(pos);
    expect(Date.now() - t0).toBeLessThan(100);
    expect(await other).toBe(start); // not concerned: times out with its own position
  });
});

describe('RedisSessionStore', () => {
  const session = (id: string): Session => ({
    id, userId: '@alice:x', deviceId: 'DEV', presence: 'online', createdTs: 1, lastSeenTs: 1, lastActiveTs: 1, inFlight: 0,
    ip: null, userAgent: null, domainSenders: false,
  });

  it('shares sessions, their requests in flight and their end; a later process loads them', async () => {
    const [a, b] = await pair();
    const sa = await RedisSessionStore.open(a);
    const sb = await RedisSessionStore.open(b);
    const started: string[] = [];
    sb.onRemoteStart((s) => started.push(s.id));
    const s = session('s1');
    sa.put(s);
    sa.setActiveForDevice('@alice:x', 'DEV', 's1');
    await until('B knows the session', () => sb.get('s1') !== undefined && sb.activeForDevice('@alice:x', 'DEV')?.id === 's1');
    expect(started).toEqual(['s1']);
    const onB = sb.get('s1')!;
    // A request in flight on B keeps it busy on A; the same object on B stays the same object.
    onB.inFlight++;
    onB.lastSeenTs = 500;
    sb.touched(onB, 1);
    await until('A sees the request in flight on B', () => s.inFlight === 1 && s.lastSeenTs === 500);
    onB.inFlight--;
    sb.touched(onB, -1);
    await until('A sees it end', () => s.inFlight === 0);
    expect(sb.get('s1')).toBe(onB);
    const c = await RedisCluster.connect(redis.url, a.prefix.split(':')[1]!, logger);
    open.push(c);
    const sc = await RedisSessionStore.open(c);
    expect(sc.get('s1')?.userId).toBe('@alice:x');
    sa.delete('s1');
    await until('B and C forget the ended session', () => sb.get('s1') === undefined && sc.get('s1') === undefined);
  });
});

describe('RedisBuckets', () => {
  it('limits a user across processes, and tells how long to wait', async () => {
    const [a, b] = await pair();
    const config = buildConfig({ rate_limits: { message: { per_second: 0.5, burst: 3 } } }).rate_limits;
    const la = new RateLimiter(config, systemClock, new RedisBuckets(a));
    const lb = new RateLimiter(config, systemClock, new RedisBuckets(b));
    await la.check('message', '@alice:x');
    await lb.check('message', '@alice:x');
    await la.check('message', '@alice:x');
    const err = await lb.check('message', '@alice:x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MatrixError);
    expect((err as MatrixError).status).toBe(429);
    expect((err as MatrixError).errcode).toBe('M_LIMIT_EXCEEDED');
    // Another user has a bucket of their own.
    await expect(lb.check('message', '@bob:x')).resolves.toBeUndefined();
  });
});

describe('leases', () => {
  it('are held by one process, and pass to another when the holder stops renewing', async () => {
    const [a, b] = await pair(FAST);
    const la = a.lease('work');
    await until('A takes the lease', () => la.held);
    const lb = b.lease('work');
    await new Promise((r) => setTimeout(r, 400));
    expect(lb.held).toBe(false);
    const acquired: number[] = [];
    lb.onAcquired(() => acquired.push(Date.now()));
    const t0 = Date.now();
    a.stopHeartbeat(); // A stops renewing, as a killed process would
    await until('B takes the lease over', () => lb.held, 3000);
    expect(acquired).toHaveLength(1);
    expect(acquired[0]! - t0).toBeLessThan(1500);
  });
});
