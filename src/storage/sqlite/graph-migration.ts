// Data conversion of migration 0010_event_graph (spec/event-graph.md) for databases written before it:
// every room was one linear chain of events written by this server, so each event's state is the state
// after the previous one. Walking each room in stream order gives every event its state groups
// (a delta per state event, a snapshot every MAX_HOPS), its prev_events edges, and the room's
// current_state_deltas history; state and history read afterwards exactly as before.
import type Database from 'better-sqlite3';
import { stateMapKey } from './state-groups.js';

const MAX_HOPS = 100;
const PAGE = 10_000;

interface Row {
  stream_ordering: number;
  event_id: string;
  type: string;
  state_key: string | null;
  prev_events: string;
  server_local: number;
}

export function convertToEventGraph(db: Database.Database): void {
  const rooms = db.prepare('SELECT room_id FROM rooms ORDER BY room_id').pluck().all() as string[];
  const page = db.prepare(`SELECT stream_ordering, event_id, type, state_key, json_extract(json, '$.prev_events') AS prev_events, server_local
    FROM events WHERE room_id = ? AND stream_ordering > ? ORDER BY stream_ordering LIMIT ${PAGE}`);
  const setGroups = db.prepare('UPDATE events SET state_before = ?, state_after = ? WHERE stream_ordering = ?');
  const insertGroup = db.prepare('INSERT INTO state_groups (id, room_id, prev_group, hops) VALUES (?, ?, ?, ?)');
  const insertEntry = db.prepare('INSERT INTO state_group_entries (group_id, type, state_key, event_id) VALUES (?, ?, ?, ?)');
  const insertEdge = db.prepare('INSERT OR IGNORE INTO event_edges (event_id, prev_event_id, room_id) VALUES (?, ?, ?)');
  const insertDelta = db.prepare('INSERT INTO current_state_deltas (room_id, type, state_key, stream_ordering, event_id, prev_event_id) VALUES (?, ?, ?, ?, ?, ?)');
  const setRoomGroup = db.prepare('UPDATE rooms SET state_group = ? WHERE room_id = ?');
  let nextGroup = ((db.prepare('SELECT COALESCE(MAX(id), 0) FROM state_groups').pluck().get() as number) ?? 0) + 1;

  for (const roomId of rooms) {
    const state = new Map<string, { type: string; stateKey: string; eventId: string }>();
    let group: number | null = null;
    let hops = 0;
    let after = Number.MIN_SAFE_INTEGER;
    for (;;) {
      const rows = page.all(roomId, after) as Row[];
      if (rows.length === 0) break;
      for (const r of rows) {
        after = r.stream_ordering;
        if (r.server_local === 1) {
          setGroups.run(group, group, r.stream_ordering);
          continue;
        }
        const before = group;
        for (const prev of JSON.parse(r.prev_events ?? '[]') as string[]) insertEdge.run(r.event_id, prev, roomId);
        if (r.state_key !== null) {
          const key = stateMapKey(r.type, r.state_key);
          const prev = state.get(key);
          state.set(key, { type: r.type, stateKey: r.state_key, eventId: r.event_id });
          const id = nextGroup++;
          if (group === null || hops >= MAX_HOPS) {
            insertGroup.run(id, roomId, null, 0);
            for (const v of state.values()) insertEntry.run(id, v.type, v.stateKey, v.eventId);
            hops = 0;
          } else {
            insertGroup.run(id, roomId, group, hops + 1);
            insertEntry.run(id, r.type, r.state_key, r.event_id);
            hops += 1;
          }
          group = id;
          insertDelta.run(roomId, r.type, r.state_key, r.stream_ordering, r.event_id, prev?.eventId ?? null);
        }
        setGroups.run(before, group, r.stream_ordering);
      }
    }
    setRoomGroup.run(group, roomId);
  }
}
