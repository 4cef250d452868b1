// PostgreSQL implementation of MetaStore. Block reservations are one upsert: concurrent reservers are
// serialised by the row lock, so blocks never overlap whichever process asks.
import type pg from 'pg';
import type { MetaStore } from '../types.js';
import { exec, row, sql, type Queryable } from './db.js';

const Q = {
  get: sql('SELECT value FROM server_meta WHERE key = $1'),
  set: sql('INSERT INTO server_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
  reserve: sql(`INSERT INTO server_meta (key, value) VALUES ($1, ($2::bigint + $3::bigint)::text)
    ON CONFLICT (key) DO UPDATE SET value = (GREATEST(server_meta.value::bigint, $2::bigint) + $3::bigint)::text
    RETURNING value::bigint AS ceiling`),
  getPresence: sql('SELECT status_msg, last_active_ts FROM presence_status WHERE user_id = $1'),
  setPresence: sql(`INSERT INTO presence_status (user_id, status_msg, last_active_ts) VALUES ($1, $2, $3)
    ON CONFLICT (user_id) DO UPDATE SET status_msg = excluded.status_msg, last_active_ts = excluded.last_active_ts`),
};

export function createPostgresMetaStore(pool: pg.Pool): MetaStore {
  const db: Queryable = pool;
  return {
    async get(key) { return (await row<{ value: string }>(db, Q.get, [key]))?.value; },
    async set(key, value) { await exec(db, Q.set, [key, value]); },
    async reserveBlock(name, floor, size) { return (await row<{ ceiling: number }>(db, Q.reserve, [name, floor, size]))!.ceiling; },
    async getPresenceStatus(userId) {
      const r = await row<{ status_msg: string | null; last_active_ts: number | null }>(db, Q.getPresence, [userId]);
      return r ? { statusMsg: r.status_msg, lastActiveTs: r.last_active_ts } : undefined;
    },
    async setPresenceStatus(userId, statusMsg, lastActiveTs) { await exec(db, Q.setPresence, [userId, statusMsg, lastActiveTs]); },
  };
}
