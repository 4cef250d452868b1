// One timer for every deadline (session idle, typing timeouts, presence idle): a min-heap ordered by
// due time, driven by a single clock timer set for the earliest entry (design-notes.md "Sessions,
// presence, typing"). Rescheduling a key replaces its entry lazily: stale heap entries are skipped
// when popped. 100,000 live deadlines cost one timer and O(log n) per change.
import type { Clock, TimerHandle } from '../clock.js';

interface Entry {
  at: number;
  key: string;
  version: number;
}

export class DeadlineQueue {
  private heap: Entry[] = [];
  private live = new Map<string, { version: number; at: number; fire: () => void }>();
  private version = 0;
  private timer: TimerHandle | undefined;
  private timerAt = Infinity;

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.live.size;
  }

  /** Heap entries including stale ones not yet dropped (bounded by compaction; for tests and metrics). */
  get heapSize(): number {
    return this.heap.length;
  }

  /** Calls `fire` at `at` (ms since epoch) unless rescheduled or cancelled first. */
  schedule(key: string, at: number, fire: () => void): void {
    const version = ++this.version;
    this.live.set(key, { version, at, fire });
    this.push({ at, key, version });
    this.compactIfStale();
    if (at < this.timerAt) this.arm();
  }

  cancel(key: string): void {
    this.live.delete(key);
    this.compactIfStale();
  }

  has(key: string): boolean {
    return this.live.has(key);
  }

  /** Stops the timer (server shutdown). */
  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private arm(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = Infinity;
    while (this.heap.length > 0) {
      const top = this.heap[0]!;
      if (this.live.get(top.key)?.version !== top.version) {
        this.pop();
        continue;
      }
      this.timerAt = top.at;
      this.timer = this.clock.setTimer(() => this.run(), Math.max(0, top.at - this.clock.now()));
      return;
    }
  }

  private run(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.clock.now();
    // One failing callback must not stop the others or leave the queue without a timer: the rest
    // still fire, the timer is re-armed, and then the first error is rethrown.
    let failed: { error: unknown } | undefined;
    while (this.heap.length > 0 && this.heap[0]!.at <= now) {
      const e = this.pop()!;
      const l = this.live.get(e.key);
      if (!l || l.version !== e.version) continue;
      this.live.delete(e.key);
      try {
        l.fire();
      } catch (error) {
        failed ??= { error };
      }
    }
    this.arm();
    if (failed) throw failed.error;
  }

  /** Rescheduled and cancelled keys leave stale entries; rebuild once they outnumber the live ones. */
  private compactIfStale(): void {
    if (this.heap.length < 1024 || this.heap.length <= 2 * this.live.size) return;
    this.heap = [...this.live].map(([key, l]) => ({ at: l.at, key, version: l.version })).sort((a, b) => a.at - b.at || a.version - b.version);
    // A sorted array is a valid heap; the armed timer (if any) is still for a time <= the new top.
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}

/** Heap order: earlier due time first; equal times in the order they were scheduled. */
function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.version < b.version);
}
