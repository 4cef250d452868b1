// State groups in SQLite (spec/event-graph.md): a group is a full snapshot or a delta on a previous
// group; reading one folds its chain (at most 101 groups: snapshots are written every 100 deltas) in
// one recursive query.
import type Database from 'better-sqlite3';
import type { NewStateGroup } from '../types.js';

const CHAIN = `WITH RECURSIVE chain(id, prev, n) AS (
    SELECT id, prev_group, 0 FROM state_groups WHERE id = ?
    UNION ALL
    SELECT g.id, g.prev_group, c.n + 1 FROM state_groups g JOIN chain c ON g.id = c.prev
  )`;

interface EntryRow { n: number; type: string; state_key: string; event_id: string | null }

export const stateMapKey = (type: string, stateKey: string): string => `${type}\u0000${stateKey}`;

export function createStateGroupStatements(db: Database.Database) {
  const s = {
    insertGroup: db.prepare('INSERT INTO state_groups (id, room_id, prev_group, hops) VALUES (?, ?, ?, ?)'),
    insertEntry: db.prepare('INSERT INTO state_group_entries (group_id, type, state_key, event_id) VALUES (?, ?, ?, ?)'),
    read: db.prepare(`${CHAIN} SELECT c.n, e.type, e.state_key, e.event_id FROM chain c
      JOIN state_group_entries e ON e.group_id = c.id ORDER BY c.n DESC`),
    readKey: db.prepare(`${CHAIN} SELECT c.n, e.type, e.state_key, e.event_id FROM chain c
      JOIN state_group_entries e ON e.group_id = c.id AND e.type = ? AND e.state_key = ? ORDER BY c.n LIMIT 1`),
    hops: db.prepare('SELECT hops FROM state_groups WHERE id = ?').pluck(),
    maxId: db.prepare('SELECT COALESCE(MAX(id), 0) FROM state_groups').pluck(),
  };
  return {
    insert(g: NewStateGroup): void {
      s.insertGroup.run(g.id, g.roomId, g.prevGroup, g.hops);
      for (const [type, stateKey, eventId] of g.entries) s.insertEntry.run(g.id, type, stateKey, eventId);
    },
    /** The whole state of a group: the snapshot, then each delta from the oldest to the group itself. */
    read(groupId: number): Map<string, string> {
      const out = new Map<string, string>();
      for (const r of s.read.all(groupId) as EntryRow[]) {
        const key = stateMapKey(r.type, r.state_key);
        if (r.event_id === null) out.delete(key);
        else out.set(key, r.event_id);
      }
      return out;
    },
    /** Some keys of a group: for each, the entry of the group nearest to it in its chain. */
    readKeys(groupId: number, keys: string[]): Map<string, string> {
      const out = new Map<string, string>();
      for (const key of keys) {
        const sep = key.indexOf('\u0000');
        const r = s.readKey.get(groupId, key.slice(0, sep), key.slice(sep + 1)) as EntryRow | undefined;
        if (r && r.event_id !== null) out.set(key, r.event_id);
      }
      return out;
    },
    hops(groupId: number): number | undefined {
      return s.hops.get(groupId) as number | undefined;
    },
    maxId(): number {
      return s.maxId.get() as number;
    },
  };
}
