// Work started without waiting for it (a presence recompute after a session change, typing ended by a
// send, an automatic server notice): tracked so that stopping the server (and a test) can wait for
// it, and its failure reported instead of left as an unhandled rejection, which ends a Node process.
// With a store whose calls really yield (PostgreSQL), such work outlives the request that started it.

export class BackgroundTasks {
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly onError: (err: unknown) => void = () => {}) {}

  /** Tracks `task` until it settles; a failure goes to onError. */
  run(task: Promise<unknown>): void {
    const p: Promise<void> = task.then(
      () => {},
      (err) => this.onError(err),
    ).finally(() => this.running.delete(p));
    this.running.add(p);
  }

  /** Tasks under way. */
  get size(): number {
    return this.running.size;
  }

  /** Resolves once no task is under way (tasks started meanwhile included). */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}
