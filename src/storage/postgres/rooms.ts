// PostgreSQL implementation of RoomStore: events, state, membership, extremities, transactions,
// aliases. The same behaviour as the SQLite engine (sqlite/rooms.ts), statement for statement where
// the dialects agree; lists are passed as arrays (`= ANY($n)`), so every statement has one shape and
// is prepared once per connection.
//
// Persisting is one transaction per call (one event, or a group commit of several rooms' events) on a
// client checked out of the pool. It first takes each room's write lock (a transaction-scoped advisory
// lock on the room ID, rooms in sorted order so two transactions never wait on each other), then, for
// an event built on known forward extremities, reads the room's extremities under that lock and
// refuses the whole transaction (StaleExtremitiesError) when another writer changed them: two writers
// sharing the database can never fork a room by accident (spec/postgres.md).
import type pg from 'pg';
import { pduOf, type JsonObject, type StoredEvent } from '../../wire.js';
import { sameIdSet, StaleExtremitiesError } from '../errors.js';
import type {
  EventRecord, LoadedRoom, MembershipRecord, PersistEventInput, RoomEventsQuery, RoomRecord, RoomStore, RoomWriteLock, TopologicalEventsQuery,
} from '../types.js';
import { Batch, exec, PG, pgCode, row, rows, sql, transaction, type Queryable, type Statement } from './db.js';
import { EVENT_COLUMNS, filterClauses, SHOWN, toEvent, withIds, type EventRow } from './event-rows.js';
import { createPostgresRelations, indexRelation, unindexRelation } from './relations.js';
import { countSearchResults, indexSearch, searchEvents, unindexSearch } from './search.js';
import { createPostgresStateGroups, insertStateGroup } from './state-groups.js';

export { likeOf } from './event-rows.js';

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

/** The PDU as stored: without event_id (a column) and unsigned (computed per reader), as signed (pduOf). */
function pduJson(event: StoredEvent | JsonObject): string {
  return JSON.stringify(pduOf(event as StoredEvent));
}

const Q = {
  // Every table whose rows carry a position from the global counter.
  maxPos: sql(`SELECT GREATEST(
    (SELECT COALESCE(MAX(stream_ordering), 0) FROM events),
    (SELECT COALESCE(MAX(stream_ordering), 0) FROM account_data),
    (SELECT COALESCE(MAX(stream_ordering), 0) FROM receipts),
    (SELECT COALESCE(MAX(stream_ordering), 0) FROM to_device_messages))::bigint AS n`),
  // The room's write lock, held until the transaction ends (two-key advisory lock space: 'HRTH', hash).
  lockRoom: sql('SELECT pg_advisory_xact_lock(1213354056, hashtext($1))'),
  insertPushActions: sql(`INSERT INTO event_push_actions (user_id, room_id, stream_ordering, event_id, highlight, thread_id)
    SELECT t.user_id, $2, $3, $4, t.highlight, $6 FROM unnest($1::text[], $5::boolean[]) AS t(user_id, highlight)
    ON CONFLICT DO NOTHING`),
  byTsAfter: sql(`SELECT ${EVENT_COLUMNS} FROM events WHERE room_id = $1 AND origin_server_ts >= $2 AND ${SHOWN} AND NOT server_local
    ORDER BY origin_server_ts ASC, stream_ordering ASC LIMIT $3`),
  byTsBefore: sql(`SELECT ${EVENT_COLUMNS} FROM events WHERE room_id = $1 AND origin_server_ts <= $2 AND ${SHOWN} AND NOT server_local
    ORDER BY origin_server_ts DESC, stream_ordering DESC LIMIT $3`),
  deleteOutlier: sql('DELETE FROM events WHERE event_id = $1 AND outlier'),
  insertRoom: sql('INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES ($1, $2, $3, $4)'),
  insertEvent: sql(`INSERT INTO events (stream_ordering, event_id, room_id, type, state_key, sender, origin_server_ts, depth,
    membership, json, unsigned_json, txn_user_id, txn_device_id, txn_id, server_local, outlier, rejected, soft_failed, state_before, state_after)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`),
  deleteState: sql('DELETE FROM current_state WHERE room_id = $1 AND type = $2 AND state_key = $3'),
  deleteMember: sql('DELETE FROM room_memberships WHERE room_id = $1 AND user_id = $2'),
  insertDelta: sql(`INSERT INTO current_state_deltas (room_id, type, state_key, stream_ordering, event_id, prev_event_id) VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (room_id, type, state_key, stream_ordering) DO UPDATE SET event_id = excluded.event_id`),
  setRoomGroup: sql('UPDATE rooms SET state_group = $1 WHERE room_id = $2'),
  insertEdges: sql(`INSERT INTO event_edges (event_id, prev_event_id, room_id) SELECT $1, p, $2 FROM unnest($3::text[]) AS p
    ON CONFLICT DO NOTHING`),
  // The prev events not stored as graph events are where history continues (backfill).
  addBackwardExtremities: sql(`INSERT INTO event_backward_extremities (room_id, event_id)
    SELECT $1, p FROM unnest($2::text[]) AS p WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = p AND NOT e.outlier)
    ON CONFLICT DO NOTHING`),
  removeBackwardExtremity: sql('DELETE FROM event_backward_extremities WHERE room_id = $1 AND event_id = $2'),
  backwardExtremities: sql('SELECT event_id FROM event_backward_extremities WHERE room_id = $1 ORDER BY event_id'),
  hasChildren: sql('SELECT 1 AS x FROM event_edges WHERE prev_event_id = $1 LIMIT 1'),
  minPos: sql('SELECT COALESCE(MIN(stream_ordering), 0)::bigint AS n FROM events'),
  upsertState: sql(`INSERT INTO current_state (room_id, type, state_key, event_id, stream_ordering) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id, stream_ordering = excluded.stream_ordering`),
  upsertMember: sql(`INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_ordering, forgotten) VALUES ($1, $2, $3, $4, $5, FALSE)
    ON CONFLICT (room_id, user_id) DO UPDATE SET membership = excluded.membership, event_id = excluded.event_id,
    stream_ordering = excluded.stream_ordering, forgotten = FALSE`),
  clearExtremities: sql('DELETE FROM room_extremities WHERE room_id = $1'),
  addExtremities: sql('INSERT INTO room_extremities (room_id, event_id) SELECT $1, x FROM unnest($2::text[]) AS x ON CONFLICT DO NOTHING'),
  insertTxn: sql('INSERT INTO event_txns (user_id, device_id, scope, txn_id, event_id, created_ts) VALUES ($1, $2, $3, $4, $5, $6)'),
  redact: sql('UPDATE events SET json = $1, redacted_by = $2 WHERE event_id = $3 AND redacted_by IS NULL'),
  getRoom: sql('SELECT room_id, room_version, creator, created_ts, visibility, state_group FROM rooms WHERE room_id = $1'),
  setVisibility: sql('UPDATE rooms SET visibility = $1 WHERE room_id = $2'),
  publicRooms: sql("SELECT room_id, room_version, creator, created_ts, visibility, state_group FROM rooms WHERE visibility = 'public' ORDER BY created_ts, room_id"),
  currentState: sql(`SELECT e.event_id, e.json FROM current_state c JOIN events e ON e.event_id = c.event_id
    WHERE c.room_id = $1 ORDER BY c.stream_ordering`),
  extremities: sql('SELECT event_id FROM room_extremities WHERE room_id = $1 ORDER BY event_id'),
  extremitiesOf: sql('SELECT room_id, event_id FROM room_extremities WHERE room_id = ANY($1::text[])'),
  latestPos: sql('SELECT MAX(stream_ordering) AS n FROM events WHERE room_id = $1'),
  getEvent: sql(`SELECT ${EVENT_COLUMNS} FROM events WHERE event_id = $1`),
  // Ordered as the SQLite engine answers (it probes an IN list in sorted order).
  getEvents: sql(`SELECT ${EVENT_COLUMNS} FROM events WHERE event_id = ANY($1::text[]) ORDER BY event_id`),
  loadRooms: sql('SELECT room_id, room_version, creator, created_ts, visibility, state_group FROM rooms WHERE room_id = ANY($1::text[]) ORDER BY room_id'),
  loadState: sql(`SELECT c.room_id, e.event_id, e.json FROM current_state c JOIN events e ON e.event_id = c.event_id
    WHERE c.room_id = ANY($1::text[]) ORDER BY c.stream_ordering`),
  loadExtremities: sql(`SELECT x.room_id, x.event_id, e.depth FROM room_extremities x JOIN events e ON e.event_id = x.event_id
    WHERE x.room_id = ANY($1::text[]) ORDER BY x.room_id, x.event_id`),
  findTxn: sql('SELECT event_id FROM event_txns WHERE user_id = $1 AND device_id = $2 AND scope = $3 AND txn_id = $4'),
  // The current state at a position: the newest delta of each key at or before it (a key whose newest
  // delta removed it is not in the state).
  stateAt: sql(`SELECT e.event_id, e.json FROM current_state_deltas d
    JOIN (SELECT type, state_key, MAX(stream_ordering) AS pos FROM current_state_deltas
          WHERE room_id = $1 AND stream_ordering <= $2 GROUP BY type, state_key) latest
      ON d.room_id = $1 AND d.type = latest.type AND d.state_key = latest.state_key AND d.stream_ordering = latest.pos
    JOIN events e ON e.event_id = d.event_id
    ORDER BY e.stream_ordering`),
  latestLocal: sql('SELECT event_id FROM events WHERE room_id = $1 AND server_local ORDER BY stream_ordering DESC LIMIT 1'),
  deltasAfter: sql(`SELECT type, state_key, event_id, prev_event_id, stream_ordering FROM current_state_deltas
    WHERE room_id = $1 AND stream_ordering > $2 ORDER BY stream_ordering LIMIT $3`),
  topoAt: sql(`SELECT depth, stream_ordering FROM events WHERE room_id = $1 AND stream_ordering > 0 AND stream_ordering <= $2
    ORDER BY stream_ordering DESC LIMIT 1`),
  stateValueAt: sql(`SELECT e.event_id, e.json, d.stream_ordering FROM current_state_deltas d JOIN events e ON e.event_id = d.event_id
    WHERE d.room_id = $1 AND d.type = $2 AND d.state_key = $3 AND d.stream_ordering <= $4
      AND d.stream_ordering = (SELECT MAX(stream_ordering) FROM current_state_deltas
        WHERE room_id = d.room_id AND type = d.type AND state_key = d.state_key AND stream_ordering <= $4)`),
  stateHistory: sql(`SELECT d.stream_ordering, d.event_id, e.json FROM current_state_deltas d
    LEFT JOIN events e ON e.event_id = d.event_id
    WHERE d.room_id = $1 AND d.type = $2 AND d.state_key = $3 ORDER BY d.stream_ordering`),
  membership: sql('SELECT room_id, user_id, membership, event_id, stream_ordering FROM room_memberships WHERE room_id = $1 AND user_id = $2'),
  roomsForUser: sql(`SELECT room_id, user_id, membership, event_id, stream_ordering FROM room_memberships
    WHERE user_id = $1 AND NOT forgotten AND membership = ANY($2::text[]) ORDER BY stream_ordering`),
  membersAll: sql('SELECT room_id, user_id, membership, event_id, stream_ordering FROM room_memberships WHERE room_id = $1 ORDER BY user_id'),
  forget: sql("UPDATE room_memberships SET forgotten = TRUE WHERE room_id = $1 AND user_id = $2 AND membership IN ('leave', 'ban')"),
  isForgotten: sql('SELECT forgotten FROM room_memberships WHERE room_id = $1 AND user_id = $2'),
  createAlias: sql('INSERT INTO room_aliases (alias, room_id, creator, created_ts) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING'),
  getAlias: sql('SELECT alias, room_id, creator FROM room_aliases WHERE alias = $1'),
  deleteAlias: sql('DELETE FROM room_aliases WHERE alias = $1'),
  roomAliases: sql('SELECT alias FROM room_aliases WHERE room_id = $1 ORDER BY created_ts, alias'),
  lockRoomAliases: sql('SELECT alias FROM room_aliases WHERE room_id = $1 ORDER BY created_ts, alias FOR UPDATE'),
  moveAliases: sql('UPDATE room_aliases SET room_id = $1 WHERE room_id = $2'),
  getKey: sql('SELECT key_id, seed FROM server_keys WHERE active ORDER BY created_ts DESC LIMIT 1'),
  storeKey: sql('INSERT INTO server_keys (key_id, seed, created_ts, active) VALUES ($1, $2, $3, TRUE)'),
};

/** Statements whose shape depends on a query's filters, one per shape. */
const shapes = new Map<string, Statement>();
function shaped(text: string): Statement {
  let st = shapes.get(text);
  if (!st) {
    st = sql(text);
    if (shapes.size < 256) shapes.set(text, st);
  }
  return st;
}

/** Queues one event's statements (the same steps, in the same order, as the SQLite engine's persistOne). */
function persistOne(b: Batch, p: PersistEventInput): void {
  const e = p.event;
  if (p.newRoom) b.add(Q.insertRoom, [e.room_id, p.newRoom.roomVersion, p.newRoom.creator, p.newRoom.createdTs]);
  const membership = e.type === 'm.room.member' && typeof e.content.membership === 'string' ? e.content.membership : null;
  const g = p.graph;
  for (const group of g?.newGroups ?? []) insertStateGroup(b, group);
  if (p.replacesOutlier) b.add(Q.deleteOutlier, [e.event_id]);
  b.add(Q.insertEvent, [
    p.streamOrdering, e.event_id, e.room_id, e.type, e.state_key ?? null, e.sender, e.origin_server_ts, e.depth,
    membership, pduJson(e), p.unsigned ? JSON.stringify(p.unsigned) : null,
    p.txn?.userId ?? null, p.txn?.deviceId ?? null, p.txn?.txnId ?? null, p.serverLocal === true,
    g?.outlier === true, g?.rejected ?? null, g?.softFailed === true, g?.stateBefore ?? null, g?.stateAfter ?? null,
  ]);
  if (!p.serverLocal && !g?.outlier && !g?.rejected) {
    // Edges and gaps: the event is known now; the prev events it names that are not stored are where
    // history continues (backfill). A rejected event is no part of the graph.
    b.add(Q.removeBackwardExtremity, [e.room_id, e.event_id]);
    if (e.prev_events.length > 0) {
      b.add(Q.insertEdges, [e.event_id, e.room_id, e.prev_events]);
      b.add(Q.addBackwardExtremities, [e.room_id, e.prev_events]);
    }
    if (!g?.softFailed) {
      b.add(Q.clearExtremities, [e.room_id]);
      if (p.extremities.length > 0) b.add(Q.addExtremities, [e.room_id, p.extremities]);
    }
  }
  if (p.currentState) {
    // The current state follows the resolved state, key by key, and keeps its history.
    for (const d of p.currentState.deltas) {
      if (d.eventId !== null) b.add(Q.upsertState, [e.room_id, d.type, d.stateKey, d.eventId, p.streamOrdering]);
      else b.add(Q.deleteState, [e.room_id, d.type, d.stateKey]);
      b.add(Q.insertDelta, [e.room_id, d.type, d.stateKey, p.streamOrdering, d.eventId, d.prevEventId]);
      if (d.type === 'm.room.member') {
        if (d.eventId !== null) b.add(Q.upsertMember, [e.room_id, d.stateKey, d.membership ?? 'leave', d.eventId, p.streamOrdering]);
        else b.add(Q.deleteMember, [e.room_id, d.stateKey]);
      }
    }
    b.add(Q.setRoomGroup, [p.currentState.group, e.room_id]);
  }
  if (p.outOfBand) b.add(Q.upsertMember, [e.room_id, p.outOfBand.userId, p.outOfBand.membership, e.event_id, p.outOfBand.streamOrdering]);
  const actions = p.pushActions ?? [];
  if (actions.length > 0) {
    b.add(Q.insertPushActions, [actions.map((a) => a.userId), e.room_id, p.streamOrdering, e.event_id, actions.map((a) => a.highlight), p.threadId ?? 'main']);
  }
  indexRelation(b, p);
  indexSearch(b, p);
  if (p.txn) b.add(Q.insertTxn, [p.txn.userId, p.txn.deviceId, p.txn.scope, p.txn.txnId, e.event_id, p.txn.ts]);
  if (p.redaction) {
    b.add(Q.redact, [pduJson(p.redaction.redactedJson), e.event_id, p.redaction.targetEventId]);
    // What was indexed from the redacted content goes with it (the relation is broken, the text gone),
    // when the redaction applied (the target was stored and not redacted yet): the statements check it.
    unindexRelation(b, p.redaction.targetEventId, e.event_id);
    unindexSearch(b, p.redaction.targetEventId, e.event_id);
  }
}

/**
 * One transaction for several events, in order: the rooms' write locks first (sorted), then each
 * event's statements. An event built on known extremities has them compared, under the lock, with the
 * stored ones before anything of it is written; a mismatch rolls the whole transaction back.
 */
async function persistAll(pool: pg.Pool, inputs: PersistEventInput[]): Promise<void> {
  // Like transaction() (db.ts), in two round trips: BEGIN goes out with the locks and the read of the
  // extremities, COMMIT with the writes (a COMMIT after a failed statement only rolls back).
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await persistIn(client, inputs, { begin: true, commit: true });
      return;
    } catch (e) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => { broken = rollbackError; });
      const code = pgCode(e);
      if (attempt < 3 && (code === PG.deadlockDetected || code === PG.serializationFailure)) continue;
      throw e;
    } finally {
      client.release(broken);
    }
  }
}

/**
 * The statements of persistAll on `client`, inside a transaction it begins and commits when asked
 * (the room lock's transaction is already open; advisory locks are re-entrant in a session).
 */
async function persistIn(client: Queryable, inputs: PersistEventInput[], tx: { begin?: boolean; commit?: boolean } = {}): Promise<void> {
  const rooms = [...new Set(inputs.map((p) => p.event.room_id))].sort();
  const b = new Batch(client);
  if (tx.begin) b.addText('BEGIN');
  for (const r of rooms) b.add(Q.lockRoom, [r]);
  // Under the locks: the stored extremities of the rooms whose events say what they were built on.
  const checked = [...new Set(inputs.filter((p) => p.expectedExtremities).map((p) => p.event.room_id))];
  const stored = checked.length > 0 ? b.add<{ room_id: string; event_id: string }>(Q.extremitiesOf, [checked]) : undefined;
  await b.flush();
  const current = new Map<string, string[]>(checked.map((r) => [r, []]));
  for (const r of (await stored)?.rows ?? []) current.get(r.room_id)!.push(r.event_id);
  for (const p of inputs) {
    const roomId = p.event.room_id;
    if (p.expectedExtremities) {
      const found = current.get(roomId)!;
      if (!sameIdSet(found, p.expectedExtremities)) throw new StaleExtremitiesError(roomId, p.expectedExtremities, found);
    }
    // A later event of the same room in this batch is compared with what this one leaves.
    if (!p.serverLocal && !p.graph?.outlier && !p.graph?.rejected && !p.graph?.softFailed) current.set(roomId, [...p.extremities]);
  }
  for (const p of inputs) persistOne(b, p);
  if (tx.commit) b.addText('COMMIT');
  await b.flush();
}

/**
 * A transaction holding the room's write lock until it persists one event or is released: other
 * writers' persist transactions of the room wait for it (they take the same lock first).
 */
async function lockRoom(pool: pg.Pool, roomId: string): Promise<RoomWriteLock> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await exec(client, Q.lockRoom, [roomId]);
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    client.release();
    throw e;
  }
  let open = true;
  let released = false;
  return {
    async persist(input) {
      if (!open) throw new Error('the room lock was used or released already');
      if (input.event.room_id !== roomId) throw new Error(`the lock is for ${roomId}`);
      open = false;
      try {
        await persistIn(client, [input], { commit: true });
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        throw e;
      }
    },
    async release() {
      if (released) return;
      released = true;
      let broken: Error | undefined;
      if (open) {
        open = false;
        await client.query('ROLLBACK').catch((e: Error) => { broken = e; });
      }
      client.release(broken);
    },
  };
}

export function createPostgresRoomStore(pool: pg.Pool): RoomStore {
  const db: Queryable = pool;
  const groups = createPostgresStateGroups(db);
  const relations = createPostgresRelations(db);
  const eventsOf = async (ids: string[]) => (await rows<EventRow>(db, Q.getEvents, [ids])).map(toEvent);

  return {
    async maxStreamOrdering() { return (await row<{ n: number }>(db, Q.maxPos))!.n; },
    async persistEvent(input) { await persistAll(pool, [input]); },
    async persistEvents(inputs) { if (inputs.length > 0) await persistAll(pool, inputs); },
    lockRoom: (roomId) => lockRoom(pool, roomId),
    async getRoom(roomId) {
      const r = await row<RoomRow>(db, Q.getRoom, [roomId]);
      return r ? toRoom(r) : undefined;
    },
    async setRoomVisibility(roomId, visibility) { await exec(db, Q.setVisibility, [visibility, roomId]); },
    async listPublicRooms() { return (await rows<RoomRow>(db, Q.publicRooms)).map(toRoom); },
    async getCurrentState(roomId) { return (await rows<{ event_id: string; json: string }>(db, Q.currentState, [roomId])).map(stateEvent); },
    async getExtremities(roomId) { return (await rows<{ event_id: string }>(db, Q.extremities, [roomId])).map((r) => r.event_id); },
    async loadRooms(roomIds) {
      // Several rooms' current state in three statements per 500 rooms (a cold initial sync of many rooms).
      const out: LoadedRoom[] = [];
      for (let i = 0; i < roomIds.length; i += 500) {
        const chunk = roomIds.slice(i, i + 500);
        const [rooms, state, extremities] = await Promise.all([
          rows<RoomRow>(db, Q.loadRooms, [chunk]),
          rows<{ room_id: string; event_id: string; json: string }>(db, Q.loadState, [chunk]),
          rows<{ room_id: string; event_id: string; depth: number }>(db, Q.loadExtremities, [chunk]),
        ]);
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
    async getLatestPosition(roomId) { return (await row<{ n: number | null }>(db, Q.latestPos, [roomId]))?.n ?? 0; },
    async getEvent(eventId) {
      const r = await row<EventRow>(db, Q.getEvent, [eventId]);
      return r ? toEvent(r) : undefined;
    },
    async getEvents(eventIds) {
      if (eventIds.length === 0) return [];
      const out: EventRecord[] = [];
      for (let i = 0; i < eventIds.length; i += 500) out.push(...(await eventsOf(eventIds.slice(i, i + 500))));
      return out;
    },
    async findTxn(userId, deviceId, scope, txnId) {
      return (await row<{ event_id: string }>(db, Q.findTxn, [userId, deviceId, scope, txnId]))?.event_id;
    },
    async getRoomEvents(q: RoomEventsQuery) {
      // Stream order is arrival order: only positive positions (outliers, rejected and soft-failed
      // events and backfilled history take negative ones and are never part of it).
      const where = ['room_id = $1', 'stream_ordering > 0'];
      const args: unknown[] = [q.roomId];
      const arg = (v: unknown) => { args.push(v); return `$${args.length}`; };
      if (q.dir === 'b') where.push(`stream_ordering < ${arg(q.from)}`); else where.push(`stream_ordering > ${arg(q.from)}`);
      if (q.to !== undefined) {
        if (q.dir === 'b') where.push(`stream_ordering > ${arg(q.to)}`); else where.push(`stream_ordering <= ${arg(q.to)}`);
      }
      filterClauses(where, args, q);
      const limit = arg(q.limit);
      const text = `SELECT ${EVENT_COLUMNS} FROM events WHERE ${where.join(' AND ')} ORDER BY stream_ordering ${q.dir === 'b' ? 'DESC' : 'ASC'} LIMIT ${limit}`;
      return (await rows<EventRow>(db, shaped(text), args)).map(toEvent);
    },
    async getStateAt(roomId, at) { return (await rows<{ event_id: string; json: string }>(db, Q.stateAt, [roomId, at])).map(stateEvent); },
    async getStateHistory(roomId, type, stateKey) {
      return (await rows<{ event_id: string | null; json: string | null; stream_ordering: number }>(db, Q.stateHistory, [roomId, type, stateKey]))
        .map((r) => ({ event: r.event_id !== null && r.json !== null ? stateEvent({ event_id: r.event_id, json: r.json }) : null, streamOrdering: r.stream_ordering }));
    },
    async getStateValueAt(roomId, type, stateKey, at) {
      const r = await row<{ event_id: string; json: string; stream_ordering: number }>(db, Q.stateValueAt, [roomId, type, stateKey, at]);
      return r ? { event: stateEvent(r), streamOrdering: r.stream_ordering } : undefined;
    },
    async getLatestServerLocalEvent(roomId) { return (await row<{ event_id: string }>(db, Q.latestLocal, [roomId]))?.event_id; },
    async getStateDeltasAfter(roomId, after, limit) {
      return (await rows<{ type: string; state_key: string; event_id: string | null; prev_event_id: string | null; stream_ordering: number }>(db, Q.deltasAfter, [roomId, after, limit]))
        .map((r) => ({ type: r.type, stateKey: r.state_key, eventId: r.event_id, prevEventId: r.prev_event_id, streamOrdering: r.stream_ordering }));
    },
    async getTopologicalPositionAt(roomId, at) {
      const r = await row<{ depth: number; stream_ordering: number }>(db, Q.topoAt, [roomId, at]);
      return r ? { depth: r.depth, streamOrdering: r.stream_ordering } : undefined;
    },
    async getRoomEventsTopological(q: TopologicalEventsQuery) {
      const where = ['room_id = $1', SHOWN];
      const args: unknown[] = [q.roomId];
      const pair = (p: { depth: number; streamOrdering: number }) => {
        args.push(p.depth, p.streamOrdering);
        return `($${args.length - 1}::bigint, $${args.length}::bigint)`;
      };
      // (depth, stream_ordering) row values compare lexicographically: the index range of the page.
      // `from` and `to` name gaps just below an event's place: backwards, the events below `from` and at
      // or above `to`; forwards, those at or above `from` and below `to`.
      if (q.dir === 'b') where.push(`(depth, stream_ordering) < ${pair(q.from)}`); else where.push(`(depth, stream_ordering) >= ${pair(q.from)}`);
      if (q.to !== undefined) {
        if (q.dir === 'b') where.push(`(depth, stream_ordering) >= ${pair(q.to)}`); else where.push(`(depth, stream_ordering) < ${pair(q.to)}`);
      }
      filterClauses(where, args, q);
      args.push(q.limit);
      const order = q.dir === 'b' ? 'DESC' : 'ASC';
      const text = `SELECT ${EVENT_COLUMNS} FROM events WHERE ${where.join(' AND ')} ORDER BY depth ${order}, stream_ordering ${order} LIMIT $${args.length}`;
      return (await rows<EventRow>(db, shaped(text), args)).map(toEvent);
    },
    async getStateGroup(groupId) { return groups.read(groupId); },
    async getStateGroupKeys(groupId, keys) { return groups.readKeys(groupId, keys); },
    async getStateGroupHops(groupId) { return groups.hops(groupId); },
    async maxStateGroupId() { return groups.maxId(); },
    async hasChildren(eventId) { return (await row(db, Q.hasChildren, [eventId])) !== undefined; },
    async getBackwardExtremities(roomId) { return (await rows<{ event_id: string }>(db, Q.backwardExtremities, [roomId])).map((r) => r.event_id); },
    async minStreamOrdering() { return (await row<{ n: number }>(db, Q.minPos))!.n; },
    async getMembership(roomId, userId) {
      const r = await row<MemberRow>(db, Q.membership, [roomId, userId]);
      return r ? toMember(r) : undefined;
    },
    async getRoomsForUser(userId, memberships) {
      return (await rows<MemberRow>(db, Q.roomsForUser, [userId, memberships])).map(toMember);
    },
    async getRoomMembers(roomId, memberships) {
      const all = (await rows<MemberRow>(db, Q.membersAll, [roomId])).map(toMember);
      return memberships ? all.filter((m) => memberships.includes(m.membership)) : all;
    },
    async forgetRoom(roomId, userId) { await exec(db, Q.forget, [roomId, userId]); },
    async isForgotten(roomId, userId) { return (await row<{ forgotten: boolean }>(db, Q.isForgotten, [roomId, userId]))?.forgotten === true; },
    getRelation: (eventId) => relations.getRelation(eventId),
    getRelatingEvents: (q) => relations.getRelatingEvents(q),
    countRelations: (parentIds, notSenders) => relations.countRelations(parentIds, notSenders),
    getRelationsOf: (parentIds, relType, limitPerParent) => relations.getRelationsOf(parentIds, relType, limitPerParent),
    parentsRelatedBy: (parentIds, relType, sender) => relations.parentsRelatedBy(parentIds, relType, sender),
    findAnnotation: (parentId, sender, type, key) => relations.findAnnotation(parentId, sender, type, key),
    getThreads: (roomId, before, limit) => relations.getThreads(roomId, before, limit),
    searchEvents: (q) => searchEvents(db, q),
    countSearchResults: (q) => countSearchResults(db, q),
    async getEventsByTimestamp(roomId, ts, dir, limit) {
      return (await rows<EventRow>(db, dir === 'f' ? Q.byTsAfter : Q.byTsBefore, [roomId, ts, limit])).map(toEvent);
    },
    async createAlias(a, ts) { return (await exec(db, Q.createAlias, [a.alias, a.roomId, a.creator, ts])) === 1; },
    async getAlias(alias) {
      const r = await row<{ alias: string; room_id: string; creator: string }>(db, Q.getAlias, [alias]);
      return r ? { alias: r.alias, roomId: r.room_id, creator: r.creator } : undefined;
    },
    async deleteAlias(alias) { return (await exec(db, Q.deleteAlias, [alias])) === 1; },
    async getAliasesForRoom(roomId) { return (await rows<{ alias: string }>(db, Q.roomAliases, [roomId])).map((r) => r.alias); },
    async moveAliases(fromRoomId, toRoomId) {
      return transaction(pool, async (c) => {
        const aliases = (await rows<{ alias: string }>(c, Q.lockRoomAliases, [fromRoomId])).map((r) => r.alias);
        await exec(c, Q.moveAliases, [toRoomId, fromRoomId]);
        return aliases;
      });
    },
    async getSigningKey() {
      const r = await row<{ key_id: string; seed: string }>(db, Q.getKey);
      return r ? { keyId: r.key_id, seed: r.seed } : undefined;
    },
    async storeSigningKey(keyId, seed, ts) { await exec(db, Q.storeKey, [keyId, seed, ts]); },
  };
}
