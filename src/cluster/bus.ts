// The connection of one Hearth process to the Redis shared by a cluster (spec/scaling.md): a command
// connection, a subscriber on the cluster's one channel, the process's heartbeat, and leases.
//
// One channel for every message (`<prefix>bus`): Redis delivers the messages of one publisher in the
// order it published them, so a cache invalidation published before a position's "visible" update is
// applied before it by every other process (a /sync never reads a stale cache for a position it may
// already read). Messages carry the publishing process's ID; a process ignores its own unless the
// subscriber asked for them.
//
// node-redis (the `redis` package, v5): maintained by Redis itself, promise-based, with the RESP3
// protocol, and nothing else installed with it. Commands are sent raw (`sendCommand`) so the code does
// not follow the client's per-command option shapes, which changed between major versions.
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import type { Logger } from '../logger.js';

export interface BusMessage {
  t: string;
  [key: string]: unknown;
}

type Handler = (msg: BusMessage, from: string) => void;

/** What a shared implementation needs of Redis. */
export interface Cluster {
  /** This process's ID (random per start). */
  readonly processId: string;
  /** Key and channel prefix, `hearth:<server_name>:`. */
  readonly prefix: string;
  /** The one channel every process listens to. */
  readonly channel: string;
  /** Publishes on the cluster channel; messages of one process arrive in the order published. */
  publish(msg: BusMessage): void;
  /** Calls `fn` for each message of type `t` published by another process (`self`: by this one too). */
  on(t: string, fn: Handler, self?: boolean): void;
  command<T = unknown>(args: (string | number)[]): Promise<T>;
  /** Resolves once every publish, and every command passed to `track`, issued so far has been answered. */
  flushed(): Promise<void>;
  /** Counts `p` in `flushed` (a change other processes must see before this process answers). */
  track(p: Promise<unknown>): void;
  eval<T = unknown>(script: string, keys: string[], args: (string | number)[]): Promise<T>;
  /** Whether the process with this ID is alive (its heartbeat has not expired). */
  isLive(processId: string): Promise<boolean>;
  /** IDs of the processes whose heartbeat is current. */
  liveProcesses(): Promise<string[]>;
  lease(name: string): Lease;
  close(): Promise<void>;
}

/** Work that must run in exactly one process at a time (spec/scaling.md "Leases"). */
export interface Lease {
  readonly held: boolean;
  /** Called when this process takes the lease (and at once when it holds it already). */
  onAcquired(fn: () => void): void;
}

/** The single process's lease: always held. */
export const LOCAL_LEASE: Lease = { held: true, onAcquired: (fn) => fn() };

export interface ClusterTimings {
  /** A process whose heartbeat is older than this is dead (ms). */
  heartbeatTtlMs: number;
  /** A lease not renewed for this long passes to another process (ms). */
  leaseTtlMs: number;
}

export const DEFAULT_TIMINGS: ClusterTimings = { heartbeatTtlMs: 5000, leaseTtlMs: 5000 };

// Renews the lease if this process holds it; takes it when nobody does. Returns 1 when held after.
const LEASE = `
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 0`;

type Client = ReturnType<typeof createClient>;

class RedisLease implements Lease {
  held = false;
  private readonly acquired: (() => void)[] = [];
  constructor(private readonly cluster: RedisCluster, readonly key: string) {}

  onAcquired(fn: () => void): void {
    this.acquired.push(fn);
    if (this.held) fn();
  }

  async tick(): Promise<void> {
    const ok = Number(await this.cluster.eval(LEASE, [this.key], [this.cluster.processId, this.cluster.timings.leaseTtlMs])) === 1;
    const was = this.held;
    this.held = ok;
    if (ok && !was) for (const fn of this.acquired) fn();
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    await this.cluster.eval(RELEASE, [this.key], [this.cluster.processId]);
  }
}

export class RedisCluster implements Cluster {
  readonly processId = randomBytes(8).toString('hex');
  readonly channel: string;
  private readonly handlers = new Map<string, { fn: Handler; self: boolean }[]>();
  private readonly leases = new Map<string, RedisLease>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly pending = new Set<Promise<unknown>>();

  private constructor(
    readonly prefix: string,
    private readonly client: Client,
    private readonly sub: Client,
    readonly timings: ClusterTimings,
    private readonly logger: Logger,
  ) {
    this.channel = `${prefix}bus`;
  }

  /** Connects, subscribes to the cluster channel and starts the heartbeat. */
  static async connect(url: string, serverName: string, logger: Logger, timings: ClusterTimings = DEFAULT_TIMINGS): Promise<RedisCluster> {
    const client = createClient({ url, socket: { reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000) } });
    // Errors of a lost connection: logged; node-redis reconnects (commands meanwhile wait or fail).
    client.on('error', (err: unknown) => logger.warn({ err }, 'redis: connection error'));
    await client.connect();
    const sub = client.duplicate();
    sub.on('error', (err: unknown) => logger.warn({ err }, 'redis: subscriber connection error'));
    await sub.connect();
    const cluster = new RedisCluster(`hearth:${serverName}:`, client, sub, timings, logger);
    await sub.subscribe(cluster.channel, (raw: string) => cluster.dispatch(raw));
    await cluster.heartbeat();
    cluster.timer = setInterval(() => void cluster.tick(), Math.max(50, Math.floor(Math.min(timings.heartbeatTtlMs, timings.leaseTtlMs) / 3)));
    cluster.timer.unref();
    return cluster;
  }

  private dispatch(raw: string): void {
    let env: { f: string; m: BusMessage };
    try {
      env = JSON.parse(raw) as { f: string; m: BusMessage };
    } catch {
      return;
    }
    for (const h of this.handlers.get(env.m.t) ?? []) {
      if (env.f === this.processId && !h.self) continue;
      try {
        h.fn(env.m, env.f);
      } catch (err) {
        this.logger.error({ err, type: env.m.t }, 'redis: a cluster message handler failed');
      }
    }
  }

  publish(msg: BusMessage): void {
    if (this.closed) return;
    this.track(this.client.sendCommand(['PUBLISH', this.channel, JSON.stringify({ f: this.processId, m: msg })])
      .catch((err: unknown) => this.logger.warn({ err, type: msg.t }, 'redis: publish failed')));
  }

  track(p: Promise<unknown>): void {
    const settled = p.then(() => {}, () => {}).finally(() => this.pending.delete(settled));
    this.pending.add(settled);
  }

  async flushed(): Promise<void> {
    if (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  on(t: string, fn: Handler, self = false): void {
    let list = this.handlers.get(t);
    if (!list) this.handlers.set(t, (list = []));
    list.push({ fn, self });
  }

  command<T = unknown>(args: (string | number)[]): Promise<T> {
    return this.client.sendCommand(args.map(String)) as Promise<T>;
  }

  eval<T = unknown>(script: string, keys: string[], args: (string | number)[]): Promise<T> {
    return this.command<T>(['EVAL', script, keys.length, ...keys, ...args]);
  }

  private heartbeatKey(id: string): string {
    return `${this.prefix}proc:${id}`;
  }

  private async heartbeat(): Promise<void> {
    await this.command(['SET', this.heartbeatKey(this.processId), Date.now(), 'PX', this.timings.heartbeatTtlMs]);
  }

  private async tick(): Promise<void> {
    if (this.closed) return;
    try {
      await this.heartbeat();
      for (const l of this.leases.values()) await l.tick();
    } catch (err) {
      // Redis unreachable: leases lapse by themselves (their TTL); nothing here is held any more.
      for (const l of this.leases.values()) l.held = false;
      this.logger.warn({ err }, 'redis: heartbeat failed');
    }
  }

  /** Stops the heartbeat and lease renewals, as a process that hangs or is killed would (tests). */
  stopHeartbeat(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async isLive(processId: string): Promise<boolean> {
    return Number(await this.command(['EXISTS', this.heartbeatKey(processId)])) === 1;
  }

  async liveProcesses(): Promise<string[]> {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.command<[string, string[]]>(['SCAN', cursor, 'MATCH', `${this.prefix}proc:*`, 'COUNT', 1000]);
      cursor = next;
      for (const k of keys) out.push(k.slice(`${this.prefix}proc:`.length));
    } while (cursor !== '0');
    return out;
  }

  lease(name: string): Lease {
    let l = this.leases.get(name);
    if (!l) {
      l = new RedisLease(this, `${this.prefix}lease:${name}`);
      this.leases.set(name, l);
      void l.tick().catch((err: unknown) => this.logger.warn({ err, lease: name }, 'redis: lease failed'));
    }
    return l;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    try {
      for (const l of this.leases.values()) await l.release();
      await this.command(['DEL', this.heartbeatKey(this.processId)]);
    } catch {
      // Redis gone: the heartbeat and the leases expire by themselves.
    }
    await Promise.allSettled([this.sub.close(), this.client.close()]);
  }
}
