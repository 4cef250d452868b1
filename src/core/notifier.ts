// The notifier wakes waiting /sync requests; it never carries data (design-notes.md "The notifier
// wakes, it does not deliver"). A change with position P that concerns users U wakes exactly the
// waiters of U; the woken request reads what it needs like any other sync. Behind an interface so a
// shared implementation (PostgreSQL LISTEN/NOTIFY, Redis) can replace it for several processes.
import type { Clock, TimerHandle } from '../clock.js';

export interface Notifier {
  /**
   * Resolves with the newest position the user was notified of once that is after `after`, or with
   * `after` when `timeoutMs` passes first (or `signal` aborts).
   */
  wait(userId: string, after: number, timeoutMs: number, signal?: AbortSignal): Promise<number>;
  /** A change at `position` concerns these users. */
  notify(userIds: Iterable<string>, position: number): void;
  /** Number of requests waiting now (metrics). */
  readonly waiting: number;
}

interface Waiter {
  after: number;
  resolve: (pos: number) => void;
  timer: TimerHandle;
}

export class InMemoryNotifier implements Notifier {
  /** Newest position each user was notified of (so a change between gather and wait is not missed). */
  private latest = new Map<string, number>();
  private waiters = new Map<string, Set<Waiter>>();
  private count = 0;

  constructor(private readonly clock: Clock) {}

  get waiting(): number {
    return this.count;
  }

  wait(userId: string, after: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    const seen = this.latest.get(userId) ?? 0;
    if (seen > after) return Promise.resolve(seen);
    if (timeoutMs <= 0 || signal?.aborted) return Promise.resolve(after);
    return new Promise<number>((resolve) => {
      let set = this.waiters.get(userId);
      if (!set) {
        set = new Set();
        this.waiters.set(userId, set);
      }
      const users = set;
      const finish = (pos: number) => {
        if (!users.delete(waiter)) return;
        this.count--;
        if (users.size === 0 && this.waiters.get(userId) === users) this.waiters.delete(userId);
        waiter.timer.cancel();
        signal?.removeEventListener('abort', onAbort);
        resolve(pos);
      };
      const onAbort = () => finish(after);
      const waiter: Waiter = { after, resolve: finish, timer: this.clock.setTimer(() => finish(after), timeoutMs) };
      users.add(waiter);
      this.count++;
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  notify(userIds: Iterable<string>, position: number): void {
    for (const userId of userIds) {
      if ((this.latest.get(userId) ?? 0) < position) this.latest.set(userId, position);
      const set = this.waiters.get(userId);
      if (!set) continue;
      for (const w of [...set]) if (position > w.after) w.resolve(position);
    }
  }
}

/** What the gate needs of the position counter (core/stream.ts). */
interface Visibility {
  whenVisible(pos: number, fn: () => void): void;
}

/**
 * A notifier that wakes waiters only once a position is visible to readers: a change committed at
 * position P while an earlier position is still in flight is announced when that one has settled, so
 * the woken /sync reads up to P (instead of waking, finding nothing it may read yet, and waiting again).
 * `positions` is undefined until the counter exists (nothing can be notified before a position exists).
 */
export class VisibleNotifier implements Notifier {
  constructor(private readonly inner: Notifier, private readonly positions: () => Visibility | undefined) {}

  get waiting(): number {
    return this.inner.waiting;
  }

  wait(userId: string, after: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    return this.inner.wait(userId, after, timeoutMs, signal);
  }

  notify(userIds: Iterable<string>, position: number): void {
    const p = this.positions();
    if (!p) {
      this.inner.notify(userIds, position);
      return;
    }
    const users = [...userIds];
    p.whenVisible(position, () => this.inner.notify(users, position));
  }
}
