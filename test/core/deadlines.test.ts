// The deadline queue behind sessions, typing and presence idle (spec/sessions.md "Expiry machinery";
// design-notes.md "Sessions, presence, typing"): one min-heap, one clock timer for the earliest entry.
import { FakeClock, type Clock, type TimerHandle } from '../../src/clock.js';
import { DeadlineQueue } from '../../src/core/deadlines.js';

/** A FakeClock that counts the timers it has pending (not cancelled, not yet fired). */
class CountingClock implements Clock {
  readonly inner = new FakeClock();
  pending = 0;
  created = 0;

  now(): number {
    return this.inner.now();
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    this.pending++;
    this.created++;
    let live = true;
    const h = this.inner.setTimer(() => {
      if (live) { live = false; this.pending--; }
      fn();
    }, ms);
    return {
      cancel: () => {
        if (live) { live = false; this.pending--; }
        h.cancel();
      },
    };
  }

  advance(ms: number): void {
    this.inner.advance(ms);
  }
}

describe('DeadlineQueue', () => {
  it('drives many deadlines with a single clock timer', () => {
    const clock = new CountingClock();
    const q = new DeadlineQueue(clock);
    const t0 = clock.now();
    for (let i = 0; i < 1000; i++) q.schedule(`k${i}`, t0 + 1000 + ((i * 7919) % 5000), () => {});
    expect(q.size).toBe(1000);
    expect(clock.pending).toBe(1);
    clock.advance(2500);
    expect(clock.pending).toBe(1);
    expect(q.size).toBeGreaterThan(0);
    expect(q.size).toBeLessThan(1000);
    clock.advance(5000);
    expect(q.size).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('fires each deadline at its time and not before', () => {
    const clock = new FakeClock();
    const q = new DeadlineQueue(clock);
    const fired: number[] = [];
    const t0 = clock.now();
    q.schedule('a', t0 + 100, () => fired.push(clock.now() - t0));
    q.schedule('b', t0 + 250, () => fired.push(clock.now() - t0));
    clock.advance(99);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([100]);
    clock.advance(149);
    expect(fired).toEqual([100]);
    clock.advance(1);
    expect(fired).toEqual([100, 250]);
  });

  it('fires in deadline order regardless of scheduling order, equal times in scheduling order', () => {
    const clock = new FakeClock();
    const q = new DeadlineQueue(clock);
    const order: string[] = [];
    const t0 = clock.now();
    q.schedule('late', t0 + 300, () => order.push('late'));
    q.schedule('early', t0 + 100, () => order.push('early'));
    q.schedule('mid', t0 + 200, () => order.push('mid'));
    for (let i = 0; i < 20; i++) q.schedule(`tie${i}`, t0 + 150, () => order.push(`tie${i}`));
    clock.advance(1000);
    expect(order).toEqual(['early', ...Array.from({ length: 20 }, (_, i) => `tie${i}`), 'mid', 'late']);
  });

  it('reschedules a key: only the newest time counts, earlier or later', () => {
    const clock = new CountingClock();
    const q = new DeadlineQueue(clock);
    const t0 = clock.now();
    const fired: string[] = [];
    q.schedule('x', t0 + 1000, () => fired.push('x@1000'));
    q.schedule('x', t0 + 3000, () => fired.push('x@3000'));
    q.schedule('y', t0 + 2000, () => fired.push('y@2000'));
    q.schedule('y', t0 + 500, () => fired.push('y@500'));
    expect(q.size).toBe(2);
    clock.advance(1000);
    expect(fired).toEqual(['y@500']);
    clock.advance(1500);
    expect(fired).toEqual(['y@500']);
    clock.advance(500);
    expect(fired).toEqual(['y@500', 'x@3000']);
    expect(q.size).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('cancel stops a deadline and has() reports live keys', () => {
    const clock = new FakeClock();
    const q = new DeadlineQueue(clock);
    const t0 = clock.now();
    const fired: string[] = [];
    q.schedule('a', t0 + 10, () => fired.push('a'));
    q.schedule('b', t0 + 20, () => fired.push('b'));
    expect(q.has('a')).toBe(true);
    q.cancel('a');
    expect(q.has('a')).toBe(false);
    expect(q.size).toBe(1);
    clock.advance(100);
    expect(fired).toEqual(['b']);
    expect(q.has('b')).toBe(false);
  });

  it('a callback may schedule new deadlines, including already due ones', () => {
    const clock = new FakeClock();
    const q = new DeadlineQueue(clock);
    const t0 = clock.now();
    const fired: string[] = [];
    q.schedule('a', t0 + 10, () => {
      fired.push('a');
      q.schedule('a2', clock.now(), () => fired.push('a2'));
      q.schedule('a3', clock.now() + 40, () => fired.push('a3'));
    });
    q.schedule('b', t0 + 20, () => fired.push('b'));
    clock.advance(20);
    expect(fired).toEqual(['a', 'a2', 'b']);
    clock.advance(30);
    expect(fired).toEqual(['a', 'a2', 'b', 'a3']);
  });

  it('10,000 deadlines each fire exactly once, in order, at their time', () => {
    const clock = new CountingClock();
    const q = new DeadlineQueue(clock);
    const t0 = clock.now();
    const n = 10_000;
    const due = new Map<string, number>();
    const fired: { key: string; at: number; now: number }[] = [];
    for (let i = 0; i < n; i++) {
      const at = t0 + 1 + ((i * 104729) % 60_000);
      due.set(`s${i}`, at);
      q.schedule(`s${i}`, at, () => fired.push({ key: `s${i}`, at, now: clock.now() }));
    }
    // Half are moved later, a tenth cancelled: what fires is exactly the live set.
    for (let i = 0; i < n; i += 2) {
      const at = due.get(`s${i}`)! + 30_000;
      due.set(`s${i}`, at);
      q.schedule(`s${i}`, at, () => fired.push({ key: `s${i}`, at, now: clock.now() }));
    }
    for (let i = 0; i < n; i += 10) {
      q.cancel(`s${i}`);
      due.delete(`s${i}`);
    }
    expect(q.size).toBe(due.size);
    expect(clock.pending).toBe(1);
    for (let step = 0; step < 100; step++) clock.advance(1000);
    expect(fired).toHaveLength(due.size);
    expect(new Set(fired.map((f) => f.key)).size).toBe(due.size);
    for (const f of fired) {
      expect(f.at).toBe(due.get(f.key));
      expect(f.now).toBe(f.at);
    }
    for (let i = 1; i < fired.length; i++) expect(fired[i]!.at).toBeGreaterThanOrEqual(fired[i - 1]!.at);
    expect(q.size).toBe(0);
    expect(clock.pending).toBe(0);
    expect(clock.created).toBeLessThan(70_000); // at most one timer per distinct due time, never one per entry and reschedule
  });

  it('stale entries from rescheduling do not pile up', () => {
    const clock = new FakeClock();
    const q = new DeadlineQueue(clock);
    const t0 = clock.now();
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 100; i++) q.schedule(`k${i}`, t0 + 1_000_000 + round, () => {});
    }
    expect(q.size).toBe(100);
    expect(q.heapSize).toBeLessThanOrEqual(2 * 1024);
  });

  it('a throwing callback does not stop the other deadlines or the queue', () => {
    const clock = new FakeClock();
    const q = new DeadlineQueue(clock);
    const t0 = clock.now();
    const fired: string[] = [];
    q.schedule('bad', t0 + 10, () => { throw new Error('boom'); });
    q.schedule('good', t0 + 10, () => fired.push('good'));
    q.schedule('later', t0 + 50, () => fired.push('later'));
    expect(() => clock.advance(10)).toThrow('boom');
    expect(fired).toEqual(['good']);
    clock.advance(100);
    expect(fired).toEqual(['good', 'later']);
  });

  it('stop() cancels the timer', () => {
    const clock = new CountingClock();
    const q = new DeadlineQueue(clock);
    const fired: string[] = [];
    q.schedule('a', clock.now() + 10, () => fired.push('a'));
    q.stop();
    expect(clock.pending).toBe(0);
    clock.advance(100);
    expect(fired).toEqual([]);
  });
});
