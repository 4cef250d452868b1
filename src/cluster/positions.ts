// Stream positions shared by the processes of a cluster (spec/scaling.md "Stream positions").
//
// With one process, positions come in blocks and "visible" is the highest position below this
// process's writes in flight (src/core/stream.ts). With several, a /sync on process B must never pass
// a position that process A has handed out and not committed yet, and positions must follow the order
// they are handed out in across processes (blocks per process would let B's next_batch run ahead of
// A's writes, and A's later events would fall below a since B already answered). So:
//
// - Allocation: one position at a time from one counter in Redis (`pos:counter`, INCRBY), and each
//   position handed out is recorded in flight (`pos:inflight`, a sorted set of `<process>:<pos>`
//   scored by position) in the same script.
// - Visible ("persisted up to"): when a write settles, its member leaves the set and the visible
//   position becomes (lowest still in flight) - 1, or the counter when none is; stored in
//   `pos:visible`, only ever raised, and published on the cluster channel. Each process keeps the
//   newest value it heard: `current` never waits for Redis.
// - A process that dies with positions in flight would hold everyone back: the holder of the
//   `positions` lease drops the members of processes whose heartbeat expired.
// - Durability: the counter may be lost with Redis. The database's ceiling (MetaStore.reserveBlock)
//   is kept above every position handed out, and a counter missing or below it restarts there.
import { PositionWaiters, type ReserveBlock, type StreamPositions } from '../core/stream.js';
import type { Cluster, Lease } from './bus.js';

const CEILING_BLOCK = 1000;

/** Takes ARGV[1] positions in flight for process ARGV[2]; returns the highest. */
const ALLOC = `
local n = tonumber(ARGV[1])
local hi = redis.call('INCRBY', KEYS[1], n)
for p = hi - n + 1, hi do redis.call('ZADD', KEYS[2], p, ARGV[2] .. ':' .. p) end
return hi`;

/** Removes members ARGV[2..] from the in-flight set, raises the visible position; returns it. */
const SETTLE = `
for i = 2, #ARGV do redis.call('ZREM', KEYS[2], ARGV[i]) end
local m = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local v
if #m > 0 then v = tonumber(m[2]) - 1 else v = tonumber(redis.call('GET', KEYS[1]) or '0') end
local old = tonumber(redis.call('GET', KEYS[3]) or '0')
if v > old then
  redis.call('SET', KEYS[3], v)
  redis.call('PUBLISH', KEYS[4], cjson.encode({f = ARGV[1], m = {t = 'visible', p = v}}))
  return v
end
return old`;

/** At start: the counter at least ARGV[1]; returns {counter, visible} after settling nothing. */
const INIT = `
local f = tonumber(ARGV[1])
local c = tonumber(redis.call('GET', KEYS[1]) or '-1')
if c < f then redis.call('SET', KEYS[1], f) end
return 1`;

export class SharedStreamPositions implements StreamPositions {
  private readonly reserved: number[] = [];
  private last = 0;
  private visible = 0;
  private readonly pending = new Set<number>();
  private settling: number[] = [];
  private readonly waiters = new PositionWaiters();
  private leftoverCheck = false;
  private ceilingP: Promise<void> | undefined;
  private reaper: NodeJS.Timeout | undefined;
  /** Settled writes whose members Redis did not take out of the in-flight set yet (it was away). */
  private readonly unsettled: string[] = [];
  private retry: NodeJS.Timeout | undefined;
  private readonly keys: { counter: string; inflight: string; visible: string };

  private constructor(private readonly cluster: Cluster, private readonly reserve: ReserveBlock, private ceiling: number) {
    const p = cluster.prefix;
    this.keys = { counter: `${p}pos:counter`, inflight: `${p}pos:inflight`, visible: `${p}pos:visible` };
    cluster.on('visible', (m) => this.raise(Number(m.p)));
  }

  /**
   * The cluster's counter, not below `floor` (the highest stored position) nor the database's ceiling.
   * `lease`: while this process holds it, it drops the in-flight positions of dead processes.
   */
  static async open(cluster: Cluster, reserve: ReserveBlock, floor: number, lease?: Lease): Promise<SharedStreamPositions> {
    const ceiling = await reserve(floor, CEILING_BLOCK);
    const p = new SharedStreamPositions(cluster, reserve, ceiling);
    await cluster.eval(INIT, [p.keys.counter], [ceiling - CEILING_BLOCK]);
    p.raise(Number(await p.settle([])));
    p.last = p.visible;
    if (lease) p.reapWhileHeld(lease);
    return p;
  }

  get current(): number {
    return this.visible;
  }

  get highest(): number {
    return this.last;
  }

  get remaining(): number {
    return this.reserved.length;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  async available(n = 1): Promise<void> {
    while (this.reserved.length < n) {
      const need = n - this.reserved.length;
      const hi = Number(await this.cluster.eval(ALLOC, [this.keys.counter, this.keys.inflight], [need, this.cluster.processId]));
      // The database's ceiling stays above every position handed out (a Redis that lost its data
      // restarts the counter there).
      if (hi > this.ceiling) await this.raiseCeiling(hi);
      else if (hi > this.ceiling - CEILING_BLOCK / 2) void this.raiseCeiling(hi).catch(() => {});
      for (let p = hi - need + 1; p <= hi; p++) this.reserved.push(p);
    }
    // Positions reserved and not taken right after (a caller that found nothing to change) would hold
    // every reader back: they are given up once the callers resumed by this call have run.
    if (!this.leftoverCheck) {
      this.leftoverCheck = true;
      setImmediate(() => {
        this.leftoverCheck = false;
        for (const p of this.reserved.splice(0)) this.done(p);
      });
    }
  }

  private raiseCeiling(hi: number): Promise<void> {
    this.ceilingP ??= (async () => {
      try {
        this.ceiling = Math.max(this.ceiling, await this.reserve(hi, CEILING_BLOCK));
      } finally {
        this.ceilingP = undefined;
      }
    })();
    return this.ceilingP;
  }

  private take(): number {
    const pos = this.reserved.shift();
    if (pos === undefined) throw new Error('SharedStreamPositions: no position reserved (await available() before taking positions)');
    this.last = Math.max(this.last, pos);
    return pos;
  }

  next(): number {
    const pos = this.take();
    this.done(pos);
    return pos;
  }

  begin(): number {
    const pos = this.take();
    this.pending.add(pos);
    return pos;
  }

  done(pos: number): void {
    this.pending.delete(pos);
    this.settling.push(pos);
    if (this.settling.length === 1) {
      // Writes settling in one tick leave the set in one script.
      queueMicrotask(() => {
        const batch = this.settling;
        this.settling = [];
        // The answer to the request that wrote waits for this: its next /sync, anywhere, reads the write.
        this.cluster.track(this.settleMembers(batch.map((p) => `${this.cluster.processId}:${p}`)));
      });
    }
  }

  /**
   * Takes `members` (and any that failed before) out of the in-flight set. When Redis cannot be
   * reached they are kept and tried again every second until it answers, so a Redis that was away
   * holds readers back only while it is away, never until this process restarts.
   */
  private settleMembers(members: string[]): Promise<void> {
    const all = [...this.unsettled.splice(0), ...members];
    if (all.length === 0) return Promise.resolve();
    return this.settle(all).then((v) => this.raise(Number(v)), () => {
      this.unsettled.push(...all);
      if (this.retry) return;
      this.retry = setTimeout(() => {
        this.retry = undefined;
        void this.settleMembers([]);
      }, 1000);
      this.retry.unref();
    });
  }

  private settle(members: string[]): Promise<unknown> {
    return this.cluster.eval(SETTLE, [this.keys.counter, this.keys.inflight, this.keys.visible, this.cluster.channel], [this.cluster.processId, ...members]);
  }

  whenVisible(pos: number, fn: () => void): void {
    if (pos <= this.visible) {
      fn();
      return;
    }
    this.waiters.add(pos, fn);
  }

  private raise(v: number): void {
    if (!(v > this.visible)) return;
    this.visible = v;
    this.waiters.release(v);
  }

  /** While `lease` is held: positions in flight of processes that died are dropped (each heartbeat). */
  private reapWhileHeld(lease: Lease): void {
    this.reaper = setInterval(() => {
      if (lease.held) void this.reap().catch(() => {});
    }, 1000);
    this.reaper.unref();
  }

  /** Stops the reaper (server stop). */
  stop(): void {
    if (this.reaper) clearInterval(this.reaper);
    this.reaper = undefined;
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
  }

  /** Drops the in-flight positions of processes whose heartbeat expired; returns how many. */
  async reap(): Promise<number> {
    const members = await this.cluster.command<string[]>(['ZRANGE', this.keys.inflight, 0, -1]);
    const byProcess = new Map<string, string[]>();
    for (const m of members) {
      const proc = m.slice(0, m.indexOf(':'));
      if (proc === this.cluster.processId) continue;
      let list = byProcess.get(proc);
      if (!list) byProcess.set(proc, (list = []));
      list.push(m);
    }
    let dropped = 0;
    for (const [proc, list] of byProcess) {
      if (await this.cluster.isLive(proc)) continue;
      this.raise(Number(await this.settle(list)));
      dropped += list.length;
    }
    return dropped;
  }
}
