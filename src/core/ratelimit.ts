// Leaky-bucket rate limiting per (action, key): a bucket drains at `per_second` and holds at most
// `burst`; a request that would overflow it is refused with the time until it fits. The buckets sit
// behind an interface: in this process's memory, or in Redis so a limit is per user across the
// processes of a cluster (src/cluster/ratelimit.ts).
import type { Clock } from '../clock.js';
import type { Config, RateLimit } from '../config.js';
import { limitExceeded } from '../errors.js';

export type RateLimitAction = keyof Omit<Config['rate_limits'], 'enabled'>;

/** How a bucket is used: count one if it fits (`take`), only ask (`peek`), or count one regardless (`add`). */
export type BucketMode = 'take' | 'peek' | 'add';

/** Where the buckets live. Answers 0 when one more fits (counted unless `peek`), or the ms until it would. */
export interface RateLimitBuckets {
  use(id: string, limit: RateLimit, now: number, mode: BucketMode): Promise<number> | number;
}

interface Bucket {
  level: number;
  ts: number;
}

/** The level of a bucket that held `level` at `ts`, drained until `now`. */
export const drained = (level: number, ts: number, now: number, limit: RateLimit): number =>
  Math.max(0, level - ((now - ts) / 1000) * limit.per_second);

/** The wait before one more fits into a bucket at `level`, or 0. */
export function waitFor(level: number, limit: RateLimit): number {
  const over = level + 1 - limit.burst;
  if (over <= 0) return 0;
  return limit.per_second > 0 ? (over / limit.per_second) * 1000 : 60_000;
}

export class InMemoryBuckets implements RateLimitBuckets {
  private buckets = new Map<string, Bucket>();
  private readonly rates = new Map<string, number>();

  use(id: string, limit: RateLimit, now: number, mode: BucketMode): number {
    const b = this.buckets.get(id);
    const level = b ? drained(b.level, b.ts, now, limit) : 0;
    if (mode !== 'add') {
      const wait = waitFor(level, limit);
      if (wait > 0 || mode === 'peek') return wait;
    }
    this.buckets.set(id, { level: level + 1, ts: now });
    this.rates.set(id, limit.per_second);
    if (this.buckets.size > 50_000) this.sweep(now);
    return 0;
  }

  /** Forgets buckets that have drained completely, so memory follows the active keys only. */
  private sweep(now: number): void {
    for (const [id, b] of this.buckets) {
      const rate = this.rates.get(id) ?? 0;
      if (rate > 0 && b.level - ((now - b.ts) / 1000) * rate <= 0) {
        this.buckets.delete(id);
        this.rates.delete(id);
      }
    }
  }
}

export class RateLimiter {
  constructor(
    private readonly config: Config['rate_limits'],
    private readonly clock: Clock,
    private readonly buckets: RateLimitBuckets = new InMemoryBuckets(),
  ) {}

  get enabled(): boolean {
    return this.config.enabled;
  }

  /** Counts one request; throws 429 M_LIMIT_EXCEEDED when the bucket is full. */
  async check(action: RateLimitAction, key: string, exempt = false): Promise<void> {
    if (!this.config.enabled || exempt) return;
    const wait = await this.buckets.use(`${action}\u0000${key}`, this.config[action], this.clock.now(), 'take');
    if (wait > 0) throw limitExceeded(wait);
  }

  /** Throws 429 if one more request would not fit, without counting one (e.g. before a password check). */
  async assertRoom(action: RateLimitAction, key: string, exempt = false): Promise<void> {
    if (!this.config.enabled || exempt) return;
    const wait = await this.buckets.use(`${action}\u0000${key}`, this.config[action], this.clock.now(), 'peek');
    if (wait > 0) throw limitExceeded(wait);
  }

  /** Counts one event without refusing it (e.g. a failed login, which is answered 403 itself). */
  async record(action: RateLimitAction, key: string): Promise<void> {
    if (!this.config.enabled) return;
    await this.buckets.use(`${action}\u0000${key}`, this.config[action], this.clock.now(), 'add');
  }
}
