// SQLite implementation of MetaStore.
import type Database from 'better-sqlite3';
import type { MetaStore } from '../types.js';

export function createSqliteMetaStore(db: Database.Database): MetaStore {
  const s = {
    get: db.prepare('SELECT value FROM server_meta WHERE key = ?').pluck(),
    set: db.prepare('INSERT INTO server_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
    // The ceiling is kept as text (server_meta holds small strings); the arithmetic is on integers.
    reserve: db.prepare(`INSERT INTO server_meta (key, value) VALUES (?, CAST(? + ? AS TEXT))
      ON CONFLICT(key) DO UPDATE SET value = CAST(MAX(CAST(value AS INTEGER), ?) + ? AS TEXT)
      RETURNING CAST(value AS INTEGER)`).pluck(),
    getPresence: db.prepare('SELECT status_msg, last_active_ts FROM presence_status WHERE user_id = ?'),
    setPresence: db.prepare(`INSERT INTO presence_status (user_id, status_msg, last_active_ts) VALUES (?, ?, ?)
      ON CONFLICT(user_id) DO UPDATE SET status_msg = excluded.status_msg, last_active_ts = excluded.last_active_ts`),
  };
  return {
    async get(key) { return s.get.get(key) as string | undefined; },
    async set(key, value) { s.set.run(key, value); },
    async reserveBlock(name, floor, size) { return s.reserve.get(name, floor, size, floor, size) as number; },
    async getPresenceStatus(userId) {
      const r = s.getPresence.get(userId) as { status_msg: string | null; last_active_ts: number | null } | undefined;
      return r ? { statusMsg: r.status_msg, lastActiveTs: r.last_active_ts } : undefined;
    },
    async setPresenceStatus(userId, statusMsg, lastActiveTs) { s.setPresence.run(userId, statusMsg, lastActiveTs); },
  };
}
