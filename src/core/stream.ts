// One position for everything a client syncs (see ../shared/docs/design-notes.md): every persisted
// event, receipt, account-data change and to-device message, and every typing or presence change,
// takes the next position from this counter.
//
// Allocation. Positions come in blocks reserved in the store (MetaStore.reserveBlock: an atomic bump
// of a stored ceiling), so no position is ever handed out twice, across restarts and across writers
// sharing a database; start-up resumes after max(highest stored position, stored ceiling). Within a
// process positions are handed out synchronously from the reserved blocks: a caller first awaits
// `available(n)` (which reserves another block when the ones held run low; normally it resolves at
// once, a block is fetched ahead of need), then takes its positions without awaiting in between.
//
// Visibility ("persisted up to", as Synapse's multi-writer ID generators). A write takes its position
// with `begin()` before its transaction and calls `done(pos)` once the transaction committed or failed.
// `current`, the position readers may use (a /sync's next_batch), is the highest position below every
// write still in flight: a reader never sees position N+1 while N may still commit, so a /sync never
// skips an event whatever order transactions commit in (the store calls yield). Ephemeral changes
// (typing, presence) take `next()`, complete at once. `whenVisible(pos, fn)` runs `fn` once `current`
// has reached `pos`: the notifier wakes waiting /syncs only for positions they can read.
//
// Several processes on one database: blocks never overlap, so writes never collide, but each process
// knows only its own writes in flight. Several serving processes use SharedStreamPositions
// (src/cluster/positions.ts) instead: positions one at a time from Redis and the persisted-up-to
// position kept there (spec/scaling.md "Stream positions").

export const POSITION_BLOCK = 1000;

/** Reserves `size` numbers above max(stored ceiling, floor); resolves with the new ceiling (the block is (ceiling - size, ceiling]). */
export type ReserveBlock = (floor: number, size: number) => Promise<number>;

interface Block {
  next: number;
  end: number;
}

/** The position counter as its users see it (LocalStreamPositions here; SharedStreamPositions for a cluster). */
export interface StreamPositions {
  /** The position readers may use: every position at or below it is stored, or was abandoned. */
  readonly current: number;
  /** The highest position handed out by this process (writes in flight included). */
  readonly highest: number;
  /** Positions that can be taken now without awaiting `available`. */
  readonly remaining: number;
  /** Writes of this process in flight. */
  readonly inFlight: number;
  /** Resolves once `n` positions can be taken synchronously; take them right after, awaiting nothing else first. */
  available(n?: number): Promise<void>;
  /** A position for an ephemeral change (typing, presence): nothing to commit, complete at once. */
  next(): number;
  /** A position for a write: `current` stays below it until `done(pos)`. */
  begin(): number;
  /** The write at `pos` committed or failed. */
  done(pos: number): void;
  /** Runs `fn` once `pos` is visible to readers (at once when it is already). */
  whenVisible(pos: number, fn: () => void): void;
}

/** `StreamPositions.open(...)`: the counter of one process (LocalStreamPositions.open). */
export const StreamPositions = {
  open: (reserve: ReserveBlock, floor: number, blockSize = POSITION_BLOCK): Promise<StreamPositions> => LocalStreamPositions.open(reserve, floor, blockSize),
};

/**
 * Callbacks waiting for a position to become visible, in position order (both StreamPositions
 * implementations keep one): `add` when it is not visible yet, `release` when the visible position rose.
 */
export class PositionWaiters {
  private waiters: { pos: number; fn: () => void }[] = [];

  add(pos: number, fn: () => void): void {
    let i = this.waiters.length;
    while (i > 0 && this.waiters[i - 1]!.pos > pos) i--;
    this.waiters.splice(i, 0, { pos, fn });
  }

  /** Runs (once) every callback waiting for a position at or below `visible`. */
  release(visible: number): void {
    let n = 0;
    while (n < this.waiters.length && this.waiters[n]!.pos <= visible) n++;
    if (n === 0) return;
    const ready = this.waiters.slice(0, n);
    this.waiters = this.waiters.slice(n);
    for (const w of ready) {
      try {
        w.fn();
      } catch (e) {
        queueMicrotask(() => { throw e; });
      }
    }
  }
}

export class LocalStreamPositions implements StreamPositions {
  /** Reserved blocks not used up yet, in order. */
  private readonly blocks: Block[] = [];
  /** The highest position handed out. */
  private last: number;
  /** Positions of writes in flight, ascending from `head` (begin() hands them out in order). */
  private pending: number[] = [];
  private head = 0;
  /** Writes that finished while an earlier one was still in flight. */
  private readonly finished = new Set<number>();
  /** Callbacks waiting for a position to become visible, ascending by position. */
  private readonly waiters = new PositionWaiters();
  private fetching: Promise<void> | undefined;

  private constructor(private readonly reserve: ReserveBlock, start: number, first: Block) {
    this.last = start;
    this.blocks.push(first);
  }

  /** A counter whose first block is reserved above `floor` (the highest stored position). */
  static async open(reserve: ReserveBlock, floor: number, blockSize = POSITION_BLOCK): Promise<LocalStreamPositions> {
    const ceiling = await reserve(floor, blockSize);
    const first = { next: ceiling - blockSize + 1, end: ceiling };
    return new LocalStreamPositions(reserve, first.next - 1, first);
  }

  /** The position readers may use: every position at or below it is stored, or was abandoned. */
  get current(): number {
    return this.head < this.pending.length ? this.pending[this.head]! - 1 : this.last;
  }

  /** The highest position handed out so far (writes in flight included). */
  get highest(): number {
    return this.last;
  }

  /** Positions that can be handed out without reserving another block. */
  get remaining(): number {
    let n = 0;
    for (const b of this.blocks) n += b.end - b.next + 1;
    return n;
  }

  /**
   * Resolves once `n` positions can be taken synchronously (next/begin); reserves blocks as needed,
   * and the next block ahead of need. Take them right after, without awaiting anything else first.
   */
  async available(n = 1): Promise<void> {
    while (this.remaining < n) await this.fetch(Math.max(POSITION_BLOCK, n - this.remaining));
    if (this.remaining < POSITION_BLOCK / 2 && this.fetching === undefined) {
      // Ahead of need: a failure here (the database unreachable) surfaces in the next available().
      this.fetch(POSITION_BLOCK).catch(() => {});
    }
  }

  private fetch(size: number): Promise<void> {
    this.fetching ??= (async () => {
      try {
        const floor = this.blocks.length > 0 ? this.blocks[this.blocks.length - 1]!.end : this.last;
        const ceiling = await this.reserve(floor, size);
        this.blocks.push({ next: ceiling - size + 1, end: ceiling });
      } finally {
        this.fetching = undefined;
      }
    })();
    return this.fetching;
  }

  private take(): number {
    const block = this.blocks[0];
    if (!block) throw new Error('StreamPositions: no position reserved (await available() before taking positions)');
    const pos = block.next++;
    if (block.next > block.end) this.blocks.shift();
    this.last = pos;
    return pos;
  }

  /** A position for an ephemeral change (typing, presence): nothing to commit, complete at once. */
  next(): number {
    const pos = this.take();
    this.advance();
    return pos;
  }

  /** A position for a write: `current` stays below it until `done(pos)`. */
  begin(): number {
    const pos = this.take();
    this.pending.push(pos);
    return pos;
  }

  /** The write at `pos` committed or failed (an abandoned position is simply never stored). */
  done(pos: number): void {
    if (this.head < this.pending.length && this.pending[this.head] === pos) this.head++;
    else this.finished.add(pos);
    while (this.head < this.pending.length && this.finished.delete(this.pending[this.head]!)) this.head++;
    if (this.head > 64 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
    this.advance();
  }

  /** Runs `fn` once `pos` is visible to readers (at once when it is already). */
  whenVisible(pos: number, fn: () => void): void {
    if (pos <= this.current) {
      fn();
      return;
    }
    this.waiters.add(pos, fn);
  }

  /** Writes in flight (metrics, tests). */
  get inFlight(): number {
    return this.pending.length - this.head;
  }

  private advance(): void {
    this.waiters.release(this.current);
  }
}
