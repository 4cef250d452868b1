// SQLite implementation of RoomStore: events, state, membership, extremities, transactions, aliases.
import type Database from 'better-sqlite3';
import { pduOf, type JsonObject, type StoredEvent } from '../../wire.js';
import type {
  EventRecord, LoadedRoom, MembershipRecord, PersistEventInput, RoomEventsQuery, RoomRecord, RoomStore, TopologicalEventsQuery,
} from '../types.js';
import { EVENT_COLUMNS, SHOWN, toEvent, withIds, type EventRow } from './event-rows.js';
import { createRelationStatements } from './relations.js';
import { createSearchStatements } from './search.js';
import { sameIdSet, StaleExtremitiesError } from '../errors.js';
import { createStateGroupStatements } from './state-groups.js';

interface RoomRow { room_id: string; room_version: string; creator: string; created_ts: number; visibility: string; state_group: number | null }
interface MemberRow { room_id: string; user_id: string; membership: string; event_id: string; stream_ordering: number }

const toRoom = (r: RoomRow): RoomRecord => ({
  roomId: r.room_id, roomVersion: r.room_version, creator: r.creator, createdTs: r.created_ts,
  visibility: r.visibility === 'public' ? 'public' : 'private', stateGroup: r.state_group,
});
const toMember = (r: MemberRow): MembershipRecord => ({
  roomId: r.room_id, userId: r.user_id, membership: r.membership, eventId: r.event_id, streamOrdering: r.stream_ordering,
});
const stateEvent = (r: { event_id: string; json: string }): StoredEvent => withIds(r.json, r.event_id);

/**
 * A filter pattern as an SQLite GLOB: `*` stays the wildcard; GLOB's other metacharacters (`?` and
 * `[`) match themselves only (a one-character set). `]` outside a set is already literal.
 */
export function globOf(pattern: string): string {
  return pattern.replace(/[?[]/g, (c) => `[${c}]`);
}

/**
 * Filters (event_filter.yaml): `types`/`not_types` may use `*` as the one wildcard; `senders`/
 * `not_senders` are exact user IDs. The same rules as eventMatches (core/filters.ts).
 */
function filterClauses(where: string[], args: unknown[], q: { types?: string[]; notTypes?: string[]; senders?: string[]; notSenders?: string[] }): void {
  const list = (col: string, values: string[] | undefined, not: boolean, wildcards: boolean) => {
    if (!values || values.length === 0) return;
    const patterns = wildcards ? values.filter((v) => v.includes('*')) : [];
    const exact = values.filter((v) => !patterns.includes(v));
    const parts: string[] = [];
    if (exact.length > 0) { parts.push(`${col} IN (${exact.map(() => '?').join(',')})`); args.push(...exact); }
    for (const p of patterns) { parts.push(`${col} GLOB ?`); args.push(globOf(p)); }
    where.push(not ? `NOT (${parts.join(' OR ')})` : `(${parts.join(' OR ')})`);
  };
  list('type', q.types, false, true);
  list('type', q.notTypes, true, true);
  list('sender', q.senders, false, false);
  list('sender', q.notSenders, true, false);
}

/** The PDU as stored: without event_id (a column) and unsigned (computed per reader), as signed (pduOf). */
function pduJson(event: StoredEvent | JsonObject): string {
  return JSON.stringify(pduOf(event as StoredEvent));
}

export function createSqliteRoomStore(db: Database.Database): RoomStore {
  const s = {
    // Every table whose rows carry a position from the global counter.
    maxPos: db.prepare(`SELECT MAX(
      (SELECT COALESCE(MAX(stream_ordering), 0) FROM events),
      (SELECT COALESCE(MAX(stream_ordering), 0) FROM account_data),
      (SELECT COALESCE(MAX(stream_ordering), 0) FROM receipts),
      (SELECT COALESCE(MAX(stream_ordering), 0) FROM to_device_messages))`).pluck(),
    insertPushAction: db.prepare('INSERT OR IGNORE INTO event_push_actions (user_id, room_id, stream_ordering, event_id, highlight, thread_id) VALUES (?, ?, ?, ?, ?, ?)'),
    positionOf: db.prepare('SELECT stream_ordering FROM events WHERE event_id = ?').pluck(),
    byTsAfter: db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE room_id = ? AND origin_server_ts >= ? AND ${SHOWN} AND server_local = 0
      ORDER BY origin_server_ts ASC, stream_ordering ASC LIMIT ?`),
    byTsBefore: db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE room_id = ? AND origin_server_ts <= ? AND ${SHOWN} AND server_local = 0
      ORDER BY origin_server_ts DESC, stream_ordering DESC LIMIT ?`),
    insertRoom: db.prepare('INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES (?, ?, ?, ?)'),
    insertEvent: db.prepare(`INSERT INTO events (stream_ordering, event_id, room_id, type, state_key, sender, origin_server_ts, depth,
      membership, json, unsigned_json, txn_user_id, txn_device_id, txn_id, server_local, outlier, rejected, soft_failed, state_before, state_after)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    deleteState: db.prepare('DELETE FROM current_state WHERE room_id = ? AND type = ? AND state_key = ?'),
    deleteMember: db.prepare('DELETE FROM room_memberships WHERE room_id = ? AND user_id = ?'),
    insertDelta: db.prepare(`INSERT INTO current_state_deltas (room_id, type, state_key, stream_ordering, event_id, prev_event_id) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT(room_id, type, state_key, stream_ordering) DO UPDATE SET event_id = excluded.event_id`),
    setRoomGroup: db.prepare('UPDATE rooms SET state_group = ? WHERE room_id = ?'),
    insertEdge: db.prepare('INSERT OR IGNORE INTO event_edges (event_id, prev_event_id, room_id) VALUES (?, ?, ?)'),
    isStoredGraphEvent: db.prepare('SELECT 1 FROM events WHERE event_id = ? AND outlier = 0').pluck(),
    addBackwardExtremity: db.prepare('INSERT OR IGNORE INTO event_backward_extremities (room_id, event_id) VALUES (?, ?)'),
    removeBackwardExtremity: db.prepare('DELETE FROM event_backward_extremities WHERE room_id = ? AND event_id = ?'),
    backwardExtremities: db.prepare('SELECT event_id FROM event_backward_extremities WHERE room_id = ?').pluck(),
    hasChildren: db.prepare('SELECT 1 FROM event_edges WHERE prev_event_id = ? LIMIT 1').pluck(),
    minPos: db.prepare('SELECT COALESCE(MIN(stream_ordering), 0) FROM events').pluck(),
    upsertState: db.prepare(`INSERT INTO current_state (room_id, type, state_key, event_id, stream_ordering) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT(room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id, stream_ordering = excluded.stream_ordering`),
    deleteOutlier: db.prepare('DELETE FROM events WHERE event_id = ? AND outlier = 1'),
    upsertMember: db.prepare(`INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_ordering, forgotten) VALUES (?, ?, ?, ?, ?, 0)
      ON CONFLICT(room_id, user_id) DO UPDATE SET membership = excluded.membership, event_id = excluded.event_id,
      stream_ordering = excluded.stream_ordering, forgotten = 0`),
    clearExtremities: db.prepare('DELETE FROM room_extremities WHERE room_id = ?'),
    addExtremity: db.prepare('INSERT OR IGNORE INTO room_extremities (room_id, event_id) VALUES (?, ?)'),
    insertTxn: db.prepare('INSERT INTO event_txns (user_id, device_id, scope, txn_id, event_id, created_ts) VALUES (?, ?, ?, ?, ?, ?)'),
    redact: db.prepare('UPDATE events SET json = ?, redacted_by = ? WHERE event_id = ? AND redacted_by IS NULL'),
    getRoom: db.prepare('SELECT * FROM rooms WHERE room_id = ?'),
    setVisibility: db.prepare('UPDATE rooms SET visibility = ? WHERE room_id = ?'),
    publicRooms: db.prepare("SELECT * FROM rooms WHERE visibility = 'public' ORDER BY created_ts, room_id"),
    currentState: db.prepare(`SELECT e.event_id, e.json FROM current_state c JOIN events e ON e.event_id = c.event_id
      WHERE c.room_id = ? ORDER BY c.stream_ordering`),
    extremities: db.prepare('SELECT event_id FROM room_extremities WHERE room_id = ?').pluck(),
    latestPos: db.prepare('SELECT MAX(stream_ordering) FROM events WHERE room_id = ?').pluck(),
    getEvent: db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE event_id = ?`),
    findTxn: db.prepare('SELECT event_id FROM event_txns WHERE user_id = ? AND device_id = ? AND scope = ? AND txn_id = ?').pluck(),
    // The current state at a position: the newest delta of each key at or before it (a key whose newest
    // delta removed it is not in the state).
    stateAt: db.prepare(`SELECT e.event_id, e.json FROM current_state_deltas d
      JOIN (SELECT type, state_key, MAX(stream_ordering) AS pos FROM current_state_deltas
            WHERE room_id = ? AND stream_ordering <= ? GROUP BY type, state_key) latest
        ON d.room_id = ? AND d.type = latest.type AND d.state_key = latest.state_key AND d.stream_ordering = latest.pos
      JOIN events e ON e.event_id = d.event_id
      ORDER BY e.stream_ordering`),
    latestLocal: db.prepare('SELECT event_id FROM events WHERE room_id = ? AND server_local = 1 ORDER BY stream_ordering DESC LIMIT 1').pluck(),
    deltasAfter: db.prepare(`SELECT type, state_key, event_id, prev_event_id, stream_ordering FROM current_state_deltas
      WHERE room_id = ? AND stream_ordering > ? ORDER BY stream_ordering LIMIT ?`),
    topoAt: db.prepare(`SELECT depth, stream_ordering FROM events WHERE room_id = ? AND stream_ordering > 0 AND stream_ordering <= ?
      ORDER BY stream_ordering DESC LIMIT 1`),
    stateValueAt: db.prepare(`SELECT e.event_id, e.json, d.stream_ordering FROM current_state_deltas d JOIN events e ON e.event_id = d.event_id
      WHERE d.room_id = ? AND d.type = ? AND d.state_key = ? AND d.stream_ordering <= ?
        AND d.stream_ordering = (SELECT MAX(stream_ordering) FROM current_state_deltas
          WHERE room_id = d.room_id AND type = d.type AND state_key = d.state_key AND stream_ordering <= ?)`),
    stateHistory: db.prepare(`SELECT d.stream_ordering, d.event_id, e.json FROM current_state_deltas d
      LEFT JOIN events e ON e.event_id = d.event_id
      WHERE d.room_id = ? AND d.type = ? AND d.state_key = ? ORDER BY d.stream_ordering`),
    membership: db.prepare('SELECT * FROM room_memberships WHERE room_id = ? AND user_id = ?'),
    membersAll: db.prepare('SELECT * FROM room_memberships WHERE room_id = ? ORDER BY user_id'),
    forget: db.prepare("UPDATE room_memberships SET forgotten = 1 WHERE room_id = ? AND user_id = ? AND membership IN ('leave', 'ban')"),
    isForgotten: db.prepare('SELECT forgotten FROM room_memberships WHERE room_id = ? AND user_id = ?').pluck(),
    createAlias: db.prepare('INSERT OR IGNORE INTO room_aliases (alias, room_id, creator, created_ts) VALUES (?, ?, ?, ?)'),
    getAlias: db.prepare('SELECT alias, room_id, creator FROM room_aliases WHERE alias = ?'),
    deleteAlias: db.prepare('DELETE FROM room_aliases WHERE alias = ?'),
    roomAliases: db.prepare('SELECT alias FROM room_aliases WHERE room_id = ? ORDER BY created_ts, alias').pluck(),
    moveAliases: db.prepare('UPDATE room_aliases SET room_id = ? WHERE room_id = ?'),
    getKey: db.prepare('SELECT key_id, seed FROM server_keys WHERE active = 1 ORDER BY created_ts DESC LIMIT 1'),
    storeKey: db.prepare('INSERT INTO server_keys (key_id, seed, created_ts, active) VALUES (?, ?, ?, 1)'),
  };

  const groups = createStateGroupStatements(db);
  const relations = createRelationStatements(db);
  const search = createSearchStatements(db);

  const persistOne = (p: PersistEventInput) => {
    const e = p.event;
    if (p.expectedExtremities) {
      // One connection writes, so the transaction is the room's write lock: what the writer built on
      // must still be the room's extremities (another services instance on this file may have written).
      const found = s.extremities.all(e.room_id) as string[];
      if (!sameIdSet(found, p.expectedExtremities)) throw new StaleExtremitiesError(e.room_id, p.expectedExtremities, found);
    }
    if (p.newRoom) s.insertRoom.run(e.room_id, p.newRoom.roomVersion, p.newRoom.creator, p.newRoom.createdTs);
    const membership = e.type === 'm.room.member' && typeof e.content.membership === 'string' ? e.content.membership : null;
    const g = p.graph;
    for (const group of g?.newGroups ?? []) groups.insert(group);
    if (p.replacesOutlier) s.deleteOutlier.run(e.event_id);
    s.insertEvent.run(
      p.streamOrdering, e.event_id, e.room_id, e.type, e.state_key ?? null, e.sender, e.origin_server_ts, e.depth,
      membership, pduJson(e), p.unsigned ? JSON.stringify(p.unsigned) : null,
      p.txn?.userId ?? null, p.txn?.deviceId ?? null, p.txn?.txnId ?? null, p.serverLocal ? 1 : 0,
      g?.outlier ? 1 : 0, g?.rejected ?? null, g?.softFailed ? 1 : 0, g?.stateBefore ?? null, g?.stateAfter ?? null,
    );
    if (!p.serverLocal && !g?.outlier && !g?.rejected) {
      // Edges and gaps: the event is known now; the prev events it names that are not stored are where
      // history continues (backfill). A rejected event is no part of the graph.
      s.removeBackwardExtremity.run(e.room_id, e.event_id);
      for (const prev of e.prev_events) {
        s.insertEdge.run(e.event_id, prev, e.room_id);
        if (s.isStoredGraphEvent.get(prev) === undefined) s.addBackwardExtremity.run(e.room_id, prev);
      }
      if (!g?.rejected && !g?.softFailed) {
        s.clearExtremities.run(e.room_id);
        for (const x of p.extremities) s.addExtremity.run(e.room_id, x);
      }
    }
    if (p.currentState) {
      // The current state follows the resolved state, key by key, and keeps its history.
      for (const d of p.currentState.deltas) {
        if (d.eventId !== null) s.upsertState.run(e.room_id, d.type, d.stateKey, d.eventId, p.streamOrdering);
        else s.deleteState.run(e.room_id, d.type, d.stateKey);
        s.insertDelta.run(e.room_id, d.type, d.stateKey, p.streamOrdering, d.eventId, d.prevEventId);
        if (d.type === 'm.room.member') {
          if (d.eventId !== null) s.upsertMember.run(e.room_id, d.stateKey, d.membership ?? 'leave', d.eventId, p.streamOrdering);
          else s.deleteMember.run(e.room_id, d.stateKey);
        }
      }
      s.setRoomGroup.run(p.currentState.group, e.room_id);
    }
    if (p.outOfBand) s.upsertMember.run(e.room_id, p.outOfBand.userId, p.outOfBand.membership, e.event_id, p.outOfBand.streamOrdering);
    for (const a of p.pushActions ?? []) s.insertPushAction.run(a.userId, e.room_id, p.streamOrdering, e.event_id, a.highlight ? 1 : 0, p.threadId ?? 'main');
    relations.index(p);
    search.index(p);
    if (p.txn) s.insertTxn.run(p.txn.userId, p.txn.deviceId, p.txn.scope, p.txn.txnId, e.event_id, p.txn.ts);
    if (p.redaction && s.redact.run(pduJson(p.redaction.redactedJson), e.event_id, p.redaction.targetEventId).changes === 1) {
      // What was indexed from the redacted content goes with it: the relation is broken, the text gone.
      relations.unindex(p.redaction.targetEventId);
      const pos = s.positionOf.get(p.redaction.targetEventId) as number | undefined;
      if (pos !== undefined) search.unindex(pos);
    }
  };
  const persistTx = db.transaction(persistOne);
  // Several events (a new room's; a group commit of several rooms' sends) in one transaction.
  const persistManyTx = db.transaction((inputs: PersistEventInput[]) => {
    for (const p of inputs) persistOne(p);
  });

  // Statements built from a query's shape are prepared once per shape.
  const shapes = new Map<string, Database.Statement>();
  const prepared = (sql: string): Database.Statement => {
    let st = shapes.get(sql);
    if (!st) {
      st = db.prepare(sql);
      if (shapes.size < 256) shapes.set(sql, st);
    }
    return st;
  };

  const getEventsStmtCache = new Map<number, Database.Statement>();
  const getEventsStmt = (n: number) => {
    let st = getEventsStmtCache.get(n);
    if (!st) {
      st = db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE event_id IN (${Array(n).fill('?').join(',')})`);
      if (getEventsStmtCache.size < 64) getEventsStmtCache.set(n, st);
    }
    return st;
  };

  return {
    async maxStreamOrdering() { return s.maxPos.get() as number; },
    async persistEvent(input) { persistTx(input); },
    async lockRoom(roomId) {
      return {
        async persist(input) {
          if (input.event.room_id !== roomId) throw new Error(`the lock is for ${roomId}`);
          persistTx(input);
        },
        async release() {},
      };
    },
    async persistEvents(inputs) { persistManyTx(inputs); },
    async getRoom(roomId) {
      const r = s.getRoom.get(roomId) as RoomRow | undefined;
      return r ? toRoom(r) : undefined;
    },
    async setRoomVisibility(roomId, visibility) { s.setVisibility.run(visibility, roomId); },
    async listPublicRooms() { return (s.publicRooms.all() as RoomRow[]).map(toRoom); },
    async getCurrentState(roomId) { return (s.currentState.all(roomId) as { event_id: string; json: string }[]).map(stateEvent); },
    async getExtremities(roomId) { return s.extremities.all(roomId) as string[]; },
    async loadRooms(roomIds) {
      // Several rooms' current state in a few statements per 200 rooms (a cold initial sync of many rooms).
      const out: LoadedRoom[] = [];
      for (let i = 0; i < roomIds.length; i += 200) {
        const chunk = roomIds.slice(i, i + 200);
        const marks = chunk.map(() => '?').join(',');
        const rooms = prepared(`SELECT * FROM rooms WHERE room_id IN (${marks})`).all(...chunk) as RoomRow[];
        const state = prepared(`SELECT c.room_id, e.event_id, e.json FROM current_state c JOIN events e ON e.event_id = c.event_id
          WHERE c.room_id IN (${marks}) ORDER BY c.stream_ordering`).all(...chunk) as { room_id: string; event_id: string; json: string }[];
        const extremities = prepared(`SELECT x.room_id, x.event_id, e.depth FROM room_extremities x JOIN events e ON e.event_id = x.event_id
          WHERE x.room_id IN (${marks})`).all(...chunk) as { room_id: string; event_id: string; depth: number }[];
        const byRoom = new Map<string, LoadedRoom>();
        for (const r of rooms) {
          const loaded: LoadedRoom = { room: toRoom(r), state: [], extremities: [], depth: 0 };
          byRoom.set(r.room_id, loaded);
          out.push(loaded);
        }
        for (const r of state) byRoom.get(r.room_id)?.state.push(stateEvent(r));
        for (const x of extremities) {
          const loaded = byRoom.get(x.room_id);
          if (!loaded) continue;
          loaded.extremities.push({ eventId: x.event_id, depth: x.depth });
          loaded.depth = Math.max(loaded.depth, x.depth);
        }
      }
      return out;
    },
    async getLatestPosition(roomId) { return (s.latestPos.get(roomId) as number | null) ?? 0; },
    async getEvent(eventId) {
      const r = s.getEvent.get(eventId) as EventRow | undefined;
      return r ? toEvent(r) : undefined;
    },
    async getEvents(eventIds) {
      const out: EventRecord[] = [];
      for (let i = 0; i < eventIds.length; i += 100) {
        const chunk = eventIds.slice(i, i + 100);
        out.push(...(getEventsStmt(chunk.length).all(...chunk) as EventRow[]).map(toEvent));
      }
      return out;
    },
    async findTxn(userId, deviceId, scope, txnId) { return s.findTxn.get(userId, deviceId, scope, txnId) as string | undefined; },
    async getRoomEvents(q: RoomEventsQuery) {
      // Stream order is arrival order: only positive positions (outliers, rejected and soft-failed
      // events and backfilled history take negative ones and are never part of it).
      const where = ['room_id = ?', 'stream_ordering > 0'];
      const args: unknown[] = [q.roomId];
      if (q.dir === 'b') { where.push('stream_ordering < ?'); args.push(q.from); } else { where.push('stream_ordering > ?'); args.push(q.from); }
      if (q.to !== undefined) {
        if (q.dir === 'b') { where.push('stream_ordering > ?'); args.push(q.to); } else { where.push('stream_ordering <= ?'); args.push(q.to); }
      }
      filterClauses(where, args, q);
      args.push(q.limit);
      const sql = `SELECT ${EVENT_COLUMNS} FROM events WHERE ${where.join(' AND ')} ORDER BY stream_ordering ${q.dir === 'b' ? 'DESC' : 'ASC'} LIMIT ?`;
      return (prepared(sql).all(...args) as EventRow[]).map(toEvent);
    },
    async getStateAt(roomId, at) { return (s.stateAt.all(roomId, at, roomId) as { event_id: string; json: string }[]).map(stateEvent); },
    async getStateHistory(roomId, type, stateKey) {
      return (s.stateHistory.all(roomId, type, stateKey) as { event_id: string | null; json: string | null; stream_ordering: number }[])
        .map((r) => ({ event: r.event_id !== null && r.json !== null ? stateEvent({ event_id: r.event_id, json: r.json }) : null, streamOrdering: r.stream_ordering }));
    },
    async getStateValueAt(roomId, type, stateKey, at) {
      const r = s.stateValueAt.get(roomId, type, stateKey, at, at) as { event_id: string; json: string; stream_ordering: number } | undefined;
      return r ? { event: stateEvent(r), streamOrdering: r.stream_ordering } : undefined;
    },
    async getLatestServerLocalEvent(roomId) { return s.latestLocal.get(roomId) as string | undefined; },
    async getStateDeltasAfter(roomId, after, limit) {
      return (s.deltasAfter.all(roomId, after, limit) as { type: string; state_key: string; event_id: string | null; prev_event_id: string | null; stream_ordering: number }[])
        .map((r) => ({ type: r.type, stateKey: r.state_key, eventId: r.event_id, prevEventId: r.prev_event_id, streamOrdering: r.stream_ordering }));
    },
    async getTopologicalPositionAt(roomId, at) {
      const r = s.topoAt.get(roomId, at) as { depth: number; stream_ordering: number } | undefined;
      return r ? { depth: r.depth, streamOrdering: r.stream_ordering } : undefined;
    },
    async getRoomEventsTopological(q: TopologicalEventsQuery) {
      const where = ['room_id = ?', SHOWN];
      const args: unknown[] = [q.roomId];
      // (depth, stream_ordering) row values compare lexicographically: the index range of the page.
      // `from` and `to` name gaps just below an event's place: backwards, the events below `from` and at
      // or above `to`; forwards, those at or above `from` and below `to`.
      if (q.dir === 'b') { where.push('(depth, stream_ordering) < (?, ?)'); args.push(q.from.depth, q.from.streamOrdering); } else { where.push('(depth, stream_ordering) >= (?, ?)'); args.push(q.from.depth, q.from.streamOrdering); }
      if (q.to !== undefined) {
        if (q.dir === 'b') { where.push('(depth, stream_ordering) >= (?, ?)'); args.push(q.to.depth, q.to.streamOrdering); } else { where.push('(depth, stream_ordering) < (?, ?)'); args.push(q.to.depth, q.to.streamOrdering); }
      }
      filterClauses(where, args, q);
      args.push(q.limit);
      const order = q.dir === 'b' ? 'DESC' : 'ASC';
      const sql = `SELECT ${EVENT_COLUMNS} FROM events WHERE ${where.join(' AND ')} ORDER BY depth ${order}, stream_ordering ${order} LIMIT ?`;
      return (prepared(sql).all(...args) as EventRow[]).map(toEvent);
    },
    async getStateGroup(groupId) { return groups.read(groupId); },
    async getStateGroupKeys(groupId, keys) { return groups.readKeys(groupId, keys); },
    async getStateGroupHops(groupId) { return groups.hops(groupId); },
    async maxStateGroupId() { return groups.maxId(); },
    async hasChildren(eventId) { return s.hasChildren.get(eventId) !== undefined; },
    async getBackwardExtremities(roomId) { return s.backwardExtremities.all(roomId) as string[]; },
    async minStreamOrdering() { return s.minPos.get() as number; },
    async getMembership(roomId, userId) {
      const r = s.membership.get(roomId, userId) as MemberRow | undefined;
      return r ? toMember(r) : undefined;
    },
    async getRoomsForUser(userId, memberships) {
      const sql = `SELECT * FROM room_memberships WHERE user_id = ? AND forgotten = 0 AND membership IN (${memberships.map(() => '?').join(',')}) ORDER BY stream_ordering`;
      return (prepared(sql).all(userId, ...memberships) as MemberRow[]).map(toMember);
    },
    async getRoomMembers(roomId, memberships) {
      const rows = (s.membersAll.all(roomId) as MemberRow[]).map(toMember);
      return memberships ? rows.filter((m) => memberships.includes(m.membership)) : rows;
    },
    async forgetRoom(roomId, userId) { s.forget.run(roomId, userId); },
    async isForgotten(roomId, userId) { return (s.isForgotten.get(roomId, userId) as number | undefined) === 1; },
    async getRelation(eventId) { return relations.getRelation(eventId); },
    async getRelatingEvents(q) { return relations.getRelatingEvents(q); },
    async countRelations(parentIds, notSenders) { return relations.countRelations(parentIds, notSenders); },
    async getRelationsOf(parentIds, relType, limitPerParent) { return relations.getRelationsOf(parentIds, relType, limitPerParent); },
    async parentsRelatedBy(parentIds, relType, sender) { return relations.parentsRelatedBy(parentIds, relType, sender); },
    async findAnnotation(parentId, sender, type, key) { return relations.findAnnotation(parentId, sender, type, key); },
    async getThreads(roomId, before, limit) { return relations.getThreads(roomId, before, limit); },
    async searchEvents(q) { return search.search(q); },
    async countSearchResults(q) { return search.count(q); },
    async getEventsByTimestamp(roomId, ts, dir, limit) {
      return ((dir === 'f' ? s.byTsAfter : s.byTsBefore).all(roomId, ts, limit) as EventRow[]).map(toEvent);
    },
    async createAlias(a, ts) { return s.createAlias.run(a.alias, a.roomId, a.creator, ts).changes === 1; },
    async getAlias(alias) {
      const r = s.getAlias.get(alias) as { alias: string; room_id: string; creator: string } | undefined;
      return r ? { alias: r.alias, roomId: r.room_id, creator: r.creator } : undefined;
    },
    async deleteAlias(alias) { return s.deleteAlias.run(alias).changes === 1; },
    async getAliasesForRoom(roomId) { return s.roomAliases.all(roomId) as string[]; },
    async moveAliases(fromRoomId, toRoomId) {
      return db.transaction(() => {
        const aliases = s.roomAliases.all(fromRoomId) as string[];
        s.moveAliases.run(toRoomId, fromRoomId);
        return aliases;
      })();
    },
    async getSigningKey() {
      const r = s.getKey.get() as { key_id: string; seed: string } | undefined;
      return r ? { keyId: r.key_id, seed: r.seed } : undefined;
    },
    async storeSigningKey(keyId, seed, ts) { s.storeKey.run(keyId, seed, ts); },
  };
}
