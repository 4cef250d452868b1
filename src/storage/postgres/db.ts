// The connection pool and the few helpers every PostgreSQL store uses: statements named after their
// text (prepared once per connection), BIGINT columns read as numbers, and transactions on a client
// checked out of the pool.
import { createHash } from 'node:crypto';
import pg from 'pg';
import { UnstorableTextError } from '../errors.js';

/** A statement: its SQL and the name it is prepared under on each connection. */
export interface Statement {
  name: string;
  text: string;
}

/** SQL as a named statement (the name derives from the text, so two texts never share one). */
export function sql(text: string): Statement {
  return { name: `h_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`, text };
}

/** What runs statements: the pool (one statement, autocommit) or a client inside a transaction. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>>;
}

/**
 * Parameters as PostgreSQL can take them: a string (or a string in an array) with a NUL character
 * cannot be stored or compared in a text column, so it is refused here (UnstorableTextError) instead of
 * failing on the server.
 */
function checked(values: unknown[]): unknown[] {
  for (const v of values) {
    if (typeof v === 'string' ? v.includes('\u0000') : Array.isArray(v) && v.some((x) => typeof x === 'string' && x.includes('\u0000'))) {
      throw new UnstorableTextError();
    }
  }
  return values;
}

export async function rows<R extends pg.QueryResultRow>(q: Queryable, st: Statement, values: unknown[] = []): Promise<R[]> {
  return (await q.query<R>({ name: st.name, text: st.text, values: checked(values) })).rows;
}

export async function row<R extends pg.QueryResultRow>(q: Queryable, st: Statement, values: unknown[] = []): Promise<R | undefined> {
  return (await q.query<R>({ name: st.name, text: st.text, values: checked(values) })).rows[0];
}

/** Runs a statement; resolves with the number of rows it changed. */
export async function exec(q: Queryable, st: Statement, values: unknown[] = []): Promise<number> {
  return (await q.query({ name: st.name, text: st.text, values: checked(values) })).rowCount ?? 0;
}

// BIGINT (int8, OID 20) as a JavaScript number: every integer Hearth stores (positions, timestamps,
// depths up to 2^53 - 1, counts) fits in one. Set per pool, so other users of `pg` in the process
// keep the library's defaults.
const INT8_OID = 20;
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

export interface PoolOptions {
  /** Connections in the pool (database.pool_size). */
  size: number;
  /** Errors of idle connections (the server restarted, the network dropped): reported, not thrown. */
  onError?: (err: Error) => void;
}

export function createPool(url: string, opts: PoolOptions): pg.Pool {
  // Pipelining: the statements of a transaction are written together (Batch) instead of one round trip
  // each. pg refuses what cannot be pipelined (cursors, row-limited portals), which Hearth never uses.
  const pool = new pg.Pool({ connectionString: url, max: opts.size, types: TYPES, application_name: 'hearth', pipeline: true });
  // An idle connection that breaks emits 'error' on the pool; without a listener the process dies.
  pool.on('error', (err) => opts.onError?.(err));
  return pool;
}

/** PostgreSQL error codes Hearth reacts to. */
export const PG = {
  uniqueViolation: '23505',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
} as const;

export const pgCode = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : undefined;

/**
 * Runs `fn` in one transaction (READ COMMITTED) on a client checked out of the pool: committed when
 * `fn` resolves, rolled back when it throws. A transaction the server aborted to break a deadlock or a
 * serialization conflict is run again (a few times).
 */
export async function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (e) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        // The connection itself failed: it leaves the pool.
        broken = rollbackError as Error;
      }
      const code = pgCode(e);
      if (attempt < 3 && (code === PG.deadlockDetected || code === PG.serializationFailure)) continue;
      throw e;
    } finally {
      client.release(broken);
    }
  }
}

/**
 * Queues several statements on one client without waiting for each answer in between (pg sends
 * them in order; with a pipelining client they go out together), then waits for all. The first
 * failure is thrown once every statement has settled, so none is left running unobserved.
 */
export class Batch {
  private readonly pending: Promise<unknown>[] = [];

  constructor(private readonly client: Queryable) {}

  /** Queues a statement; its result (rows) is available once `flush` resolved. */
  add<R extends pg.QueryResultRow = pg.QueryResultRow>(st: Statement, values: unknown[]): Promise<pg.QueryResult<R>> {
    const p = this.client.query<R>({ name: st.name, text: st.text, values: checked(values) });
    p.catch(() => {}); // observed in flush(); never an unhandled rejection meanwhile
    this.pending.push(p);
    return p;
  }

  /** Queues a statement without parameters (BEGIN, COMMIT). */
  addText(text: string): void {
    const p = this.client.query({ text });
    p.catch(() => {});
    this.pending.push(p);
  }

  async flush(): Promise<void> {
    const settled = await Promise.allSettled(this.pending);
    this.pending.length = 0;
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
