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

  /** Calls `fire` at `at` (ms since epoch) unless rescheduled or cancelled first. */
  schedule(key: string, at: number, fire: () => void): void {
    const version = ++this.version;
    this.live.set(key, { version, at, fire });
    this.push({ at, key, version });
    if (at < this.timerAt) this.arm();
  }

  cancel(key: string): void {
    this.live.delete(key);
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
    while (this.heap.length > 0 && this.heap[0]!.at <= now) {
      const e = this.pop()!;
      const l = this.live.get(e.key);
      if (!l || l.version !== e.version) continue;
      this.live.delete(e.key);
      l.fire();
    }
    this.arm();
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= h[i]!.at) break;
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
        if (l < h.length && h[l]!.at < h[m]!.at) m = l;
        if (r < h.length && h[r]!.at < h[m]!.at) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}
