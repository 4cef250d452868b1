// Who may serve a PostgreSQL database (spec/scaling.md "One process or several"). Every serving
// process holds a session-level advisory lock on a connection of its own for as long as it runs: a
// process without Redis holds it exclusively, a process of a cluster (redis.url set) shared. So a
// second process without Redis, or a cluster process next to one without, is refused at start with a
// message that says what to do, instead of splitting the live state silently. The lock ends with its
// connection: a process that is killed (even with SIGKILL) frees it at once, no heartbeat to expire.
import pg from 'pg';

/** Two-key advisory space: 'HRTH' + 1 (room write locks use 'HRTH' = 1213354056 with a hash), key 0. */
const SERVING_LOCK = [1213354057, 0] as const;

export class ServingRefusedError extends Error {}

export interface ServingGuard {
  release(): Promise<void>;
}

export async function guardServing(url: string, shared: boolean): Promise<ServingGuard> {
  const client = new pg.Client({ connectionString: url, application_name: 'hearth-serving-guard' });
  // A dropped connection ends the lock; the process keeps serving (the other processes' checks are
  // what the lock is for), and says so.
  client.on('error', () => {});
  await client.connect();
  const fn = shared ? 'pg_try_advisory_lock_shared' : 'pg_try_advisory_lock';
  const { rows } = await client.query<{ ok: boolean }>(`SELECT ${fn}($1, $2) AS ok`, [...SERVING_LOCK]);
  if (!rows[0]?.ok) {
    await client.end().catch(() => {});
    throw new ServingRefusedError(shared
      ? 'Another Hearth process serves this PostgreSQL database without Redis (redis.url unset there). Stop it, or give every process the same redis.url, before starting more processes.'
      : 'Another Hearth process is already serving this PostgreSQL database. Several processes share their live state (sessions, typing, presence, wake-ups of /sync) through Redis: set redis.url (env HEARTH_REDIS_URL) in every process\'s config, or stop the other process.');
  }
  return { release: async () => { await client.end().catch(() => {}); } };
}
