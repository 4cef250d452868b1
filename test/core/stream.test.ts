// StreamPositions (src/core/stream.ts): positions come from blocks reserved in the store, readers see
// only positions below every write still in flight (the persisted-up-to rule), and callbacks wait for
// a position to become visible.
import { POSITION_BLOCK, StreamPositions, type ReserveBlock } from '../../src/core/stream.js';

/** A store's block reservation: a shared ceiling, as MetaStore.reserveBlock keeps it. */
function store(initial = 0): { reserve: ReserveBlock; ceiling: () => number; calls: number[] } {
  let ceiling = initial;
  const calls: number[] = [];
  return {
    calls,
    ceiling: () => ceiling,
    reserve: async (floor, size) => {
      ceiling = Math.max(ceiling, floor) + size;
      calls.push(ceiling);
      return ceiling;
    },
  };
}

describe('StreamPositions', () => {
  it('resumes after the stored ceiling or the highest stored position, whichever is higher', async () => {
    const s = store(5000);
    const p = await StreamPositions.open(s.reserve, 1234);
    expect(p.current).toBe(5000);
    expect(p.next()).toBe(5001);
    const q = await StreamPositions.open(store(10).reserve, 1234);
    expect(q.next()).toBe(1235);
  });

  it('hands two writers sharing a store blocks that never overlap', async () => {
    const s = store();
    const a = await StreamPositions.open(s.reserve, 0);
    const b = await StreamPositions.open(s.reserve, 0);
    const seen = new Set<number>();
    for (let i = 0; i < 3 * POSITION_BLOCK; i++) {
      for (const p of [a, b]) {
        await p.available();
        const pos = p.next();
        expect(seen.has(pos)).toBe(false);
        seen.add(pos);
      }
    }
    // Each counter still counts up.
    expect(a.highest).toBeLessThan(b.highest + 2 * POSITION_BLOCK);
  });

  it('refuses to hand out a position no block covers (available() was not awaited)', async () => {
    const p = await StreamPositions.open(store().reserve, 0, 2);
    p.next();
    p.next();
    expect(() => p.next()).toThrow(/available\(\)/);
    await p.available(3);
    expect(p.remaining).toBeGreaterThanOrEqual(3);
    expect(p.next()).toBeGreaterThan(2);
  });

  it('reserves the next block before the current one runs out, and enough for a large batch', async () => {
    const s = store();
    const p = await StreamPositions.open(s.reserve, 0);
    for (let i = 0; i < POSITION_BLOCK / 2 + 1; i++) {
      await p.available();
      p.next();
    }
    await p.available(); // half the block is left: the next one is reserved now, not awaited
    await new Promise((r) => setImmediate(r));
    expect(s.calls.length).toBe(2); // the first block, and the one reserved ahead
    await p.available(5 * POSITION_BLOCK);
    expect(p.remaining).toBeGreaterThanOrEqual(5 * POSITION_BLOCK);
  });

  it('keeps readers below a write in flight until it settles, whatever commits after it', async () => {
    const p = await StreamPositions.open(store().reserve, 0);
    const a = p.begin(); // 1
    const b = p.begin(); // 2
    const typing = p.next(); // 3, complete at once
    expect(p.current).toBe(a - 1);
    p.done(b); // the later write commits first
    expect(p.current).toBe(a - 1);
    p.done(a);
    expect(p.current).toBe(typing);
    expect(p.inFlight).toBe(0);
  });

  it('an abandoned write (failed) releases the positions after it', async () => {
    const p = await StreamPositions.open(store().reserve, 0);
    const failed = p.begin();
    const ok = p.begin();
    p.done(ok);
    expect(p.current).toBe(failed - 1);
    p.done(failed);
    expect(p.current).toBe(ok);
  });

  it('runs a callback once its position is visible, at once when it already is, in position order', async () => {
    const p = await StreamPositions.open(store().reserve, 0);
    const order: string[] = [];
    const a = p.begin();
    const b = p.begin();
    p.whenVisible(b, () => order.push('b'));
    p.whenVisible(a, () => order.push('a'));
    p.done(b);
    expect(order).toEqual([]);
    p.done(a);
    expect(order).toEqual(['a', 'b']);
    p.whenVisible(a, () => order.push('now'));
    expect(order).toEqual(['a', 'b', 'now']);
  });

  it('stays right over many writes settling in random order', async () => {
    const p = await StreamPositions.open(store().reserve, 0);
    const open: number[] = [];
    let maxDone = 0;
    for (let round = 0; round < 5000; round++) {
      if (open.length === 0 || Math.random() < 0.55) {
        await p.available();
        open.push(p.begin());
      } else {
        const i = Math.floor(Math.random() * open.length);
        const [pos] = open.splice(i, 1);
        p.done(pos!);
        maxDone = Math.max(maxDone, pos!);
      }
      const lowestOpen = open.length > 0 ? Math.min(...open) : Infinity;
      // Never at or above a write in flight; never behind when nothing is in flight.
      expect(p.current).toBeLessThan(lowestOpen);
      if (open.length === 0) expect(p.current).toBe(p.highest);
    }
  });
});
