// Leaky-bucket rate limiting per (action, key): a bucket drains at `per_second` and holds at most
// `burst`; a request that would overflow it is refused with the time until it fits.
import type { Clock } from '../clock.js';
import type { Config, RateLimit } from '../config.js';
import { limitExceeded } from '../errors.js';

export type RateLimitAction = keyof Omit<Config['rate_limits'], 'enabled'>;

interface Bucket {
  level: number;
  ts: number;
}

export class RateLimiter {
  private buckets = new Map<string, Bucket>();

  constructor(private readonly config: Config['rate_limits'], private readonly clock: Clock) {}

  get enabled(): boolean {
    return this.config.enabled;
  }

  /** Counts one request; throws 429 M_LIMIT_EXCEEDED when the bucket is full. */
  check(action: RateLimitAction, key: string, exempt = false): void {
    if (!this.config.enabled || exempt) return;
    const wait = this.take(action, key, this.config[action]);
    if (wait > 0) throw limitExceeded(wait);
  }

  /** Throws 429 if one more request would not fit, without counting one (e.g. before a password check). */
  assertRoom(action: RateLimitAction, key: string, exempt = false): void {
    if (!this.config.enabled || exempt) return;
    const wait = this.waitFor(action, key, this.config[action], this.clock.now());
    if (wait > 0) throw limitExceeded(wait);
  }

  /** Counts one event without refusing it (e.g. a failed login, which is answered 403 itself). */
  record(action: RateLimitAction, key: string): void {
    if (!this.config.enabled) return;
    const now = this.clock.now();
    const id = `${action}\u0000${key}`;
    this.buckets.set(id, { level: this.level(id, this.config[action], now) + 1, ts: now });
  }

  private level(id: string, limit: RateLimit, now: number): number {
    const b = this.buckets.get(id);
    return b ? Math.max(0, b.level - ((now - b.ts) / 1000) * limit.per_second) : 0;
  }

  private waitFor(action: string, key: string, limit: RateLimit, now: number): number {
    const over = this.level(`${action}\u0000${key}`, limit, now) + 1 - limit.burst;
    if (over <= 0) return 0;
    return limit.per_second > 0 ? (over / limit.per_second) * 1000 : 60_000;
  }

  /** Returns 0 if taken, or the milliseconds until one more would fit. */
  private take(action: string, key: string, limit: RateLimit): number {
    const now = this.clock.now();
    const wait = this.waitFor(action, key, limit, now);
    if (wait > 0) return wait;
    const id = `${action}\u0000${key}`;
    this.buckets.set(id, { level: this.level(id, limit, now) + 1, ts: now });
    if (this.buckets.size > 50_000) this.sweep(now);
    return 0;
  }

  /** Forgets buckets that have drained completely, so memory follows the active keys only. */
  private sweep(now: number): void {
    for (const [id, b] of this.buckets) {
      const action = id.slice(0, id.indexOf('\u0000')) as RateLimitAction;
      const rate = this.config[action]?.per_second ?? 0;
      if (rate > 0 && b.level - ((now - b.ts) / 1000) * rate <= 0) this.buckets.delete(id);
    }
  }
}
