// Errors the storage engines raise for the core to act on (not bugs, not bad input).

/**
 * A graph event was built on forward extremities that are no longer the room's: another writer (a
 * second services instance on the same database, or another process) wrote to the room meanwhile.
 * Raised from inside the persist transaction, which is rolled back: nothing of the batch is stored.
 * The writer reloads the room's state and builds the event again.
 */
export class StaleExtremitiesError extends Error {
  constructor(readonly roomId: string, readonly expected: string[], readonly found: string[]) {
    super(`The forward extremities of ${roomId} changed under the writer (expected ${expected.length}, found ${found.length})`);
    this.name = 'StaleExtremitiesError';
  }
}

/** Whether two lists of event IDs hold the same set (extremities are a set; their order means nothing). */
export function sameIdSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  if (set.size !== a.length) return false;
  return b.every((x) => set.has(x));
}

/** The database could not be reached or opened (the message names it without any password). */
export class DatabaseOpenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseOpenError';
  }
}

/**
 * A text value holds a NUL character (U+0000), which PostgreSQL's text type cannot store (SQLite can).
 * Raised before the statement is sent; the HTTP layer answers 400 M_INVALID_PARAM (a client's input:
 * a state key, a transaction ID, a device ID...), never 500. JSON columns never meet it: JSON escapes it.
 */
export class UnstorableTextError extends Error {
  constructor() {
    super('Text with a NUL character (U+0000) cannot be stored');
    this.name = 'UnstorableTextError';
  }
}
