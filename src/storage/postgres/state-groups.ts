// State groups in PostgreSQL (spec/event-graph.md): the same model and the same recursive query as
// the SQLite engine (sqlite/state-groups.ts): a group's chain is at most 101 groups long.
import type { NewStateGroup } from '../types.js';
import { stateMapKey } from '../sqlite/state-groups.js';
import { rows, row, sql, type Batch, type Queryable } from './db.js';

const CHAIN = `WITH RECURSIVE chain(id, prev, n) AS (
    SELECT id, prev_group, 0 FROM state_groups WHERE id = $1
    UNION ALL
    SELECT g.id, g.prev_group, c.n + 1 FROM state_groups g JOIN chain c ON g.id = c.prev
  )`;

interface EntryRow { n: number; type: string; state_key: string; event_id: string | null }

const Q = {
  insertGroup: sql('INSERT INTO state_groups (id, room_id, prev_group, hops) VALUES ($1, $2, $3, $4)'),
  insertEntries: sql(`INSERT INTO state_group_entries (group_id, type, state_key, event_id)
    SELECT $1, t.type, t.state_key, t.event_id FROM unnest($2::text[], $3::text[], $4::text[]) AS t(type, state_key, event_id)`),
  read: sql(`${CHAIN} SELECT c.n, e.type, e.state_key, e.event_id FROM chain c
    JOIN state_group_entries e ON e.group_id = c.id ORDER BY c.n DESC`),
  // For each key asked, the entry of the group nearest to the asked group in its chain.
  readKeys: sql(`${CHAIN} SELECT DISTINCT ON (e.type, e.state_key) c.n, e.type, e.state_key, e.event_id
    FROM chain c JOIN state_group_entries e ON e.group_id = c.id
    JOIN unnest($2::text[], $3::text[]) AS k(type, state_key) ON e.type = k.type AND e.state_key = k.state_key
    ORDER BY e.type, e.state_key, c.n`),
  hops: sql('SELECT hops FROM state_groups WHERE id = $1'),
  maxId: sql('SELECT COALESCE(MAX(id), 0)::bigint AS n FROM state_groups'),
};

/** Queues the statements that store a group (inside the persist transaction). */
export function insertStateGroup(batch: Batch, g: NewStateGroup): void {
  batch.add(Q.insertGroup, [g.id, g.roomId, g.prevGroup, g.hops]);
  if (g.entries.length === 0) return;
  batch.add(Q.insertEntries, [g.id, g.entries.map((e) => e[0]), g.entries.map((e) => e[1]), g.entries.map((e) => e[2])]);
}

export function createPostgresStateGroups(db: Queryable) {
  return {
    /** The whole state of a group: the snapshot, then each delta from the oldest to the group itself. */
    async read(groupId: number): Promise<Map<string, string>> {
      const out = new Map<string, string>();
      for (const r of await rows<EntryRow>(db, Q.read, [groupId])) {
        const key = stateMapKey(r.type, r.state_key);
        if (r.event_id === null) out.delete(key);
        else out.set(key, r.event_id);
      }
      return out;
    },
    async readKeys(groupId: number, keys: string[]): Promise<Map<string, string>> {
      const out = new Map<string, string>();
      if (keys.length === 0) return out;
      const types: string[] = [];
      const stateKeys: string[] = [];
      for (const key of keys) {
        const sep = key.indexOf('\u0000');
        types.push(key.slice(0, sep));
        stateKeys.push(key.slice(sep + 1));
      }
      for (const r of await rows<EntryRow>(db, Q.readKeys, [groupId, types, stateKeys])) {
        if (r.event_id !== null) out.set(stateMapKey(r.type, r.state_key), r.event_id);
      }
      return out;
    },
    async hops(groupId: number): Promise<number | undefined> {
      return (await row<{ hops: number }>(db, Q.hops, [groupId]))?.hops;
    },
    async maxId(): Promise<number> {
      return (await row<{ n: number }>(db, Q.maxId))!.n;
    },
  };
}
