// Events that did not originate here (server-server-api "Checks performed on receipt of a PDU";
// spec/event-graph.md): the entry point federation calls for each PDU it receives, tested without any
// network. In order:
//   1. a valid event of the room's version (format, event ID from the reference hash); else dropped;
//   2. signed by the sender's server (and, for restricted joins, the authorising server); else dropped;
//   3. the content hash matches; else the event is processed in its redacted form;
//   4. allowed by the auth rules against its own auth_events; else stored as rejected;
//   5. allowed against the state before it (the resolution of its prev events' states); else rejected;
//   6. allowed against the room's current state; else stored but soft-failed (never sent to clients,
//      never a prev event).
// An accepted event joins the graph: its state groups are stored, it replaces its prev events among
// the forward extremities, the room's current state becomes the resolution of the extremities' states
// (its changes recorded as deltas at the event's position), and /sync is woken. Rejected, soft-failed
// and outlier events take negative stream positions: they never enter the stream clients sync.
import { MatrixError } from '../../errors.js';
import type { EventRecord, NewStateGroup, PersistEventInput, RoomStore, RoomWriteLock, StateDelta } from '../../storage/types.js';
import { pduOf } from '../../wire.js';
import { AuthError, canApplyRedaction, checkAuthEventsList, checkEventAuth } from '../auth-rules.js';
import { computeEventId, redactEvent, verifyContentHash } from '../crypto/event-hashing.js';
import type { RoomVersion } from '../room-versions.js';
import { lookupIn, type Extremity, type RoomState, type RoomStateService } from '../rooms/room-state.js';
import { stateKeyOf, type GroupRef, type StateGroupService, type StateMap } from '../state/groups.js';
import type { JsonObject, StoredEvent } from './types.js';
import type { EventWriter, StateResolver } from './writer.js';

/** Verifies the signatures a received event must carry (the federation layer's key ring). */
export interface EventSignatureVerifier {
  /** Throws unless the event is signed by the sender's server (and any server the auth rules name). */
  verifyEvent(event: StoredEvent, version: RoomVersion): Promise<void>;
}

export interface ReceiveOptions {
  /**
   * The state before the event when its prev events are not stored here (a remote server's answer to
   * /state_ids, or the state a send_join returned): the event is then stored with that state and its
   * missing prev events become backward extremities.
   */
  stateBefore?: StateMap;
  /** Store the event without state and outside the graph (auth chain and state events fetched for others). */
  outlier?: boolean;
  /** History fetched later (backfill): placed in the graph, but before every stream position, never in /sync. */
  backfilled?: boolean;
  /** (Internal) the event is stored as an outlier and is being placed in the graph: its row is replaced. */
  promote?: boolean;
}

export type ReceiveStatus = 'accepted' | 'soft_failed' | 'rejected' | 'outlier' | 'duplicate';

export interface ReceiveResult {
  eventId: string;
  status: ReceiveStatus;
  /** Why it was rejected or soft-failed (an auth rule). */
  reason?: string;
}

/** The event cannot be placed yet: these events must be fetched first (federation does, then retries). */
export class MissingEventsError extends MatrixError {
  constructor(readonly kind: 'auth_events' | 'prev_events', readonly missing: string[]) {
    super(400, 'M_MISSING_EVENTS', `Unknown ${kind}: ${missing.join(', ')}`);
  }
}

const forbiddenKeys = (e: JsonObject): boolean => typeof e.event_id === 'string';

export class EventReceiver {
  /** Positions below every stream position (rejected, soft-failed, outlier and backfilled events). */
  private nextBackward: number | undefined;

  constructor(
    private readonly store: RoomStore,
    private readonly writer: EventWriter,
    private readonly roomState: RoomStateService,
    private readonly groups: StateGroupService,
    private readonly resolve: StateResolver,
    private readonly signatures: EventSignatureVerifier,
  ) {}

  /**
   * Receives one PDU of `roomId` (whose version the caller knows from the room, or from the create
   * event or make_join answer for a room being joined). Throws MatrixError for an event that must be
   * dropped (bad format, signature) and MissingEventsError when auth or prev events must be fetched.
   */
  async receive(pdu: JsonObject, version: RoomVersion, opts: ReceiveOptions = {}): Promise<ReceiveResult> {
    // 1. Format and identity: the event ID is the reference hash of the (redacted) event.
    if (forbiddenKeys(pdu)) throw new MatrixError(400, 'M_BAD_JSON', 'A PDU of this room version carries no event_id');
    const eventId = computeEventId(pdu, version);
    const event = this.asEvent(pdu, eventId, version);
    // An event is stored once. One first stored as an outlier (an auth or state event fetched for
    // others) joins the graph when history reaches it (backfill): it is placed like a new event and
    // replaces the outlier row.
    const existing = await this.store.getEvent(eventId);
    if (existing) {
      if (!(opts.backfilled && existing.graph?.outlier && !existing.graph.rejected && !existing.serverLocal)) return { eventId, status: 'duplicate' };
      opts = { ...opts, promote: true };
    }
    // 2. Signatures (dropped when they do not verify).
    await this.signatures.verifyEvent(event, version);
    // 3. Content hash: a mismatch means the event is processed in its redacted form.
    const checked = verifyContentHash(pduOf(event)) ? event : this.asEvent(redactEvent(pduOf(event), version) as JsonObject, eventId, version);
    if (event.type === 'm.room.create') return this.withLock(event.room_id, () => this.receiveCreate(checked, version, opts));
    // Placed against the room's cached state; placed again when another writer moved the room meanwhile.
    return this.withLock(event.room_id, () => this.writer.retryOnStale(event.room_id, (lock) => this.place(checked, version, opts, lock)));
  }

  private withLock<T>(roomId: string, fn: () => Promise<T>): Promise<T> {
    return this.writer.withRoomLock(roomId, fn);
  }

  private asEvent(pdu: JsonObject, eventId: string, version: RoomVersion): StoredEvent {
    for (const key of ['type', 'sender'] as const) {
      if (typeof pdu[key] !== 'string') throw new MatrixError(400, 'M_BAD_JSON', `PDU without a valid ${key}`);
    }
    if (!Array.isArray(pdu.prev_events) || !Array.isArray(pdu.auth_events) || typeof pdu.depth !== 'number' || typeof pdu.content !== 'object') {
      throw new MatrixError(400, 'M_BAD_JSON', 'PDU without prev_events, auth_events, depth or content');
    }
    // `unsigned` is the sender's, never part of the event (hashes and signatures leave it out).
    const { unsigned: _unsigned, ...signed } = pdu;
    const event = { ...(signed as unknown as StoredEvent), event_id: eventId };
    if (pdu.type === 'm.room.create' && version.roomIdFromCreateEvent) event.room_id = `!${eventId.slice(1)}`;
    if (typeof event.room_id !== 'string') throw new MatrixError(400, 'M_BAD_JSON', 'PDU without a room_id');
    return event;
  }

  /** Negative stream positions, one below the other (they never enter the stream clients sync). */
  private async backwardPosition(): Promise<number> {
    if (this.nextBackward === undefined) this.nextBackward = Math.min(0, await this.store.minStreamOrdering()) - 1;
    return this.nextBackward--;
  }

  /** A room's create event: the first event of a room this server learns of (a remote room it joins). */
  private async receiveCreate(event: StoredEvent, version: RoomVersion, opts: ReceiveOptions): Promise<ReceiveResult> {
    try {
      // Checked as it is on the wire: a v12 create event has no room_id (the core adds it).
      checkEventAuth({ ...pduOf(event), event_id: event.event_id } as StoredEvent, () => undefined, version);
    } catch (e) {
      if (e instanceof AuthError) return this.storeHidden(event, version, { rejected: e.message, promote: opts.promote });
      throw e;
    }
    // Backfill reached the room's beginning: the create event, stored as an outlier when the room was
    // joined, takes its place in the graph (state before: empty; after: itself), never in /sync.
    if (opts.promote && opts.backfilled) {
      const key = stateKeyOf(event.type, event.state_key ?? '');
      const created = await this.groups.create(event.room_id, null, new Map([[key, event.event_id]]), new Map([[key, event.event_id]]));
      const room = await this.roomState.get(event.room_id);
      await this.writer.persistDirect({
        event, streamOrdering: await this.backwardPosition(), unsigned: null, replacesOutlier: true,
        extremities: room?.extremities.map((x) => x.eventId) ?? [],
        graph: { newGroups: [created.group], stateBefore: null, stateAfter: created.ref.id },
      });
      return { eventId: event.event_id, status: 'accepted' };
    }
    // A create event is kept as an outlier: the room begins here once its state is known (a join).
    return this.storeHidden(event, version, { outlier: true, promote: opts.promote });
  }

  /** Steps 4 to 6 and storage, under the room's lock (and the store's, `lock`, when a first try found it stale). */
  private async place(event: StoredEvent, version: RoomVersion, opts: ReceiveOptions, lock?: RoomWriteLock): Promise<ReceiveResult> {
    const authRecords = await this.store.getEvents(event.auth_events);
    const missingAuth = event.auth_events.filter((id) => !authRecords.some((r) => r.event.event_id === id));
    if (missingAuth.length > 0) throw new MissingEventsError('auth_events', missingAuth);
    const create = await this.createEventOf(event, version, authRecords);

    // 4. Against its own auth events; an auth event that was itself rejected rejects it (rule 2.3 / v12 3.3).
    const rejectedAuth = authRecords.find((r) => r.graph?.rejected);
    if (rejectedAuth) return this.storeHidden(event, version, { rejected: `auth event ${rejectedAuth.event.event_id} was rejected`, promote: opts.promote }, undefined, undefined, lock);
    try {
      const lookup = checkAuthEventsList(event, authRecords.map((r) => r.event), version, create ? { createEvent: create } : {});
      checkEventAuth(event, lookup, version, create ? { createEvent: create } : {});
    } catch (e) {
      if (e instanceof AuthError) return this.storeHidden(event, version, { rejected: e.message, promote: opts.promote }, undefined, undefined, lock);
      throw e;
    }
    if (opts.outlier) return this.storeHidden(event, version, { outlier: true, promote: opts.promote }, undefined, undefined, lock);

    // 5. Against the state before it.
    const room = await this.roomState.get(event.room_id);
    const prevRecords = await this.store.getEvents(event.prev_events);
    const known = prevRecords.filter((r) => !r.graph?.outlier && !r.graph?.rejected);
    let before: { map: StateMap; group: GroupRef | null; newGroups: NewStateGroup[] };
    if (known.length < event.prev_events.length) {
      if (!opts.stateBefore) {
        const missing = event.prev_events.filter((id) => !known.some((r) => r.event.event_id === id));
        throw new MissingEventsError('prev_events', missing);
      }
      const created = await this.groups.create(event.room_id, null, new Map(opts.stateBefore), opts.stateBefore);
      before = { map: opts.stateBefore, group: created.ref, newGroups: [created.group] };
    } else {
      before = await this.stateBeforePrevs(event.room_id, version, known);
    }
    const beforeState = await this.stateEvents(before.map);
    try {
      checkEventAuth(event, lookupIn(beforeState), version, create ? { createEvent: create } : {});
    } catch (e) {
      if (e instanceof AuthError) return this.storeHidden(event, version, { rejected: e.message, promote: opts.promote }, before, undefined, lock);
      throw e;
    }

    // The state after it.
    const newGroups = [...before.newGroups];
    let after = before.group;
    let afterMap = before.map;
    if (event.state_key !== undefined) {
      const key = stateKeyOf(event.type, event.state_key);
      afterMap = new Map(before.map);
      afterMap.set(key, event.event_id);
      const full = afterMap;
      const created = await this.groups.create(event.room_id, before.group, new Map([[key, event.event_id]]), async () => full);
      newGroups.push(created.group);
      after = created.ref;
    }

    // 6. Against the current state (a room this server is in, not one it is joining): a failure soft-fails it.
    if (room && room.state.size > 0 && !opts.backfilled) {
      try {
        checkEventAuth(event, lookupIn(room.state), version, create ? { createEvent: create } : {});
      } catch (e) {
        if (e instanceof AuthError) return this.storeHidden(event, version, { softFailed: true, reason: e.message, promote: opts.promote }, { ...before, newGroups }, after, lock);
        throw e;
      }
    }

    // Accepted: the graph moves on.
    const hasChildren = await this.store.hasChildren(event.event_id);
    const oldExtremities = room?.extremities ?? [];
    const prevs = new Set(event.prev_events);
    const extremities: Extremity[] = oldExtremities.filter((x) => !prevs.has(x.eventId));
    if (!hasChildren && !opts.backfilled) extremities.push({ eventId: event.event_id, depth: event.depth });
    const unsigned = await this.unsignedOf(event, before.map);
    // The first event placed here (a join through another server): its deltas replace the state it
    // was placed on, so a sync that undoes them finds the room's state before the join.
    const { current, currentGroup, deltas } = await this.currentStateAfter(room, version, event, extremities, afterMap, after, newGroups, room && room.extremities.length > 0 ? undefined : before.map);
    const input: PersistEventInput = {
      event, streamOrdering: 0, unsigned,
      extremities: extremities.map((x) => x.eventId),
      expectedExtremities: oldExtremities.map((x) => x.eventId),
      graph: { newGroups, stateBefore: before.group?.id ?? null, stateAfter: after?.id ?? null },
      ...(deltas.length > 0 ? { currentState: { group: currentGroup?.id ?? null, deltas } } : {}),
      ...(room ? {} : { newRoom: { roomVersion: version.id, creator: create?.sender ?? event.sender, createdTs: event.origin_server_ts } }),
    };
    // A redaction from another server applies as a local one does (rooms/v11 "Redactions": the
    // redacter may redact, or is of the target's server); a target not received yet stays as it is.
    if (event.type === 'm.room.redaction') {
      const targetId = version.redactsInContent ? event.content.redacts : event.redacts;
      const target = typeof targetId === 'string' ? await this.store.getEvent(targetId) : undefined;
      if (target && target.event.room_id === event.room_id && !target.redactedBy && !target.serverLocal
        && canApplyRedaction(event, target.event, lookupIn(beforeState), version)) {
        input.redaction = { targetEventId: target.event.event_id, redactedJson: redactEvent(pduOf(target.event), version) as JsonObject };
      }
    }
    if (opts.backfilled) {
      input.streamOrdering = await this.backwardPosition();
      if (opts.promote) input.replacesOutlier = true;
      await this.writer.persistDirect(input, lock);
      return { eventId: event.event_id, status: 'accepted' };
    }
    let nextState = current ?? room?.state ?? new Map<string, StoredEvent>();
    if (input.redaction) {
      // A redacted state event is redacted in the cached current state too (a new map: views of the old stay valid).
      const redactedId = input.redaction.targetEventId;
      for (const [k, e] of nextState) {
        if (e.event_id !== redactedId) continue;
        nextState = new Map(nextState);
        nextState.set(k, { ...(input.redaction.redactedJson as unknown as StoredEvent), event_id: redactedId, room_id: e.room_id });
        break;
      }
    }
    const next: RoomState = {
      roomId: event.room_id, version, state: nextState, group: currentGroup,
      extremities, depth: Math.max(0, ...extremities.map((x) => x.depth)),
    };
    const record = await this.writer.commitReceived(input, next, lock);
    this.roomState.set(next);
    this.writer.announce(record, next, input.pushActions ?? []);
    return { eventId: event.event_id, status: 'accepted' };
  }

  /** The room's create event (v12 never lists it in auth_events: it is named by the room ID). */
  private async createEventOf(event: StoredEvent, version: RoomVersion, authRecords: EventRecord[]): Promise<StoredEvent | undefined> {
    const listed = authRecords.find((r) => r.event.type === 'm.room.create')?.event;
    if (listed || !version.roomIdFromCreateEvent) return listed;
    return (await this.store.getEvent(`$${event.room_id.slice(1)}`))?.event;
  }

  /** The resolved state after a set of stored prev events (one group when they share it). */
  private async stateBeforePrevs(roomId: string, version: RoomVersion, prevs: EventRecord[]): Promise<{ map: StateMap; group: GroupRef | null; newGroups: NewStateGroup[] }> {
    const groupIds = [...new Set(prevs.map((r) => r.graph?.stateAfter ?? null))];
    if (groupIds.length === 1) {
      const id = groupIds[0]!;
      return { map: await this.groups.load(id), group: id === null ? null : { id, hops: await this.groups.hops(id) }, newGroups: [] };
    }
    const states = await Promise.all(groupIds.map((id) => this.groups.load(id)));
    const resolved = await this.resolve(version, states);
    const created = await this.groups.create(roomId, null, new Map(resolved), resolved);
    return { map: resolved, group: created.ref, newGroups: [created.group] };
  }

  /** The events of a state map, keyed like a room state. */
  private async stateEvents(map: StateMap): Promise<Map<string, StoredEvent>> {
    const out = new Map<string, StoredEvent>();
    for (const r of await this.store.getEvents([...map.values()])) out.set(stateKeyOf(r.event.type, r.event.state_key ?? ''), r.event);
    return out;
  }

  /** replaces_state and prev_sender of a state event, from the state before it. */
  private async unsignedOf(event: StoredEvent, before: StateMap): Promise<JsonObject | null> {
    if (event.state_key === undefined) return null;
    const prevId = before.get(stateKeyOf(event.type, event.state_key));
    if (prevId === undefined) return null;
    const prev = await this.store.getEvent(prevId);
    return { replaces_state: prevId, ...(prev ? { prev_sender: prev.event.sender } : {}) };
  }

  /**
   * The room's current state once the event is accepted: the resolution of its new extremities' states
   * (just the state after the event when it is the only extremity), and how it differs from the state
   * before (the deltas recorded at the event's position).
   */
  private async currentStateAfter(
    room: RoomState | undefined, version: RoomVersion, event: StoredEvent, extremities: Extremity[],
    afterMap: StateMap, after: GroupRef | null, newGroups: NewStateGroup[], placedOn?: StateMap,
  ): Promise<{ current: Map<string, StoredEvent> | undefined; currentGroup: GroupRef | null; deltas: StateDelta[] }> {
    let currentMap: StateMap;
    let currentGroup: GroupRef | null;
    const others = extremities.filter((x) => x.eventId !== event.event_id);
    if (others.length === 0 && extremities.length > 0) {
      currentMap = afterMap;
      currentGroup = after;
    } else {
      const recs = await this.store.getEvents(others.map((x) => x.eventId));
      const states = await Promise.all(recs.map((r) => this.groups.load(r.graph?.stateAfter ?? null)));
      if (extremities.some((x) => x.eventId === event.event_id)) states.push(afterMap);
      currentMap = states.length === 1 ? states[0]! : await this.resolve(version, states, [event]);
      const previous = room ? new Map([...room.state].map(([k, e]) => [k, e.event_id])) : new Map<string, string>();
      if (sameState(currentMap, previous) && room) {
        return { current: room.state, currentGroup: room.group, deltas: [] };
      }
      const created = await this.groups.create(event.room_id, null, new Map(currentMap), currentMap);
      newGroups.push(created.group);
      currentGroup = created.ref;
    }
    const previous = room?.state ?? new Map<string, StoredEvent>();
    const deltas: StateDelta[] = [];
    const changedIds: string[] = [];
    for (const [key, id] of currentMap) {
      if (previous.get(key)?.event_id !== id) changedIds.push(id);
    }
    const changed = new Map((await this.store.getEvents(changedIds)).map((r) => [r.event.event_id, r.event]));
    changed.set(event.event_id, event);
    const current = new Map(previous);
    for (const [key, id] of currentMap) {
      const prev = previous.get(key);
      if (prev?.event_id === id) continue;
      const e = changed.get(id);
      if (!e) continue;
      current.set(key, e);
      deltas.push({
        type: e.type, stateKey: e.state_key ?? '', eventId: id, prevEventId: prev?.event_id ?? placedOn?.get(key) ?? null,
        ...(e.type === 'm.room.member' ? { membership: typeof e.content.membership === 'string' ? e.content.membership : 'leave' } : {}),
      });
    }
    for (const [key, prev] of previous) {
      if (currentMap.has(key)) continue;
      current.delete(key);
      deltas.push({ type: prev.type, stateKey: prev.state_key ?? '', eventId: null, prevEventId: prev.event_id, ...(prev.type === 'm.room.member' ? { membership: 'leave' } : {}) });
    }
    return { current, currentGroup, deltas };
  }

  /** Stores an event that does not join the room's stream: an outlier, a rejected or a soft-failed event. */
  private async storeHidden(
    event: StoredEvent,
    version: RoomVersion,
    how: { outlier?: boolean; rejected?: string; softFailed?: boolean; reason?: string; promote?: boolean },
    before?: { group: GroupRef | null; newGroups: NewStateGroup[] },
    after?: GroupRef | null,
    lock?: RoomWriteLock,
  ): Promise<ReceiveResult> {
    if (how.promote) {
      // An outlier that cannot be placed in the graph stays the outlier it was.
      if (how.rejected !== undefined) return { eventId: event.event_id, status: 'rejected', reason: how.rejected };
      return { eventId: event.event_id, status: how.softFailed ? 'soft_failed' : 'outlier' };
    }
    const room = await this.roomState.get(event.room_id);
    const input: PersistEventInput = {
      event, streamOrdering: await this.backwardPosition(), unsigned: null, extremities: room?.extremities.map((x) => x.eventId) ?? [],
      graph: {
        newGroups: before?.newGroups ?? [],
        stateBefore: before?.group?.id ?? null,
        // A rejected event never becomes state: the state after it is the state before it.
        stateAfter: how.rejected !== undefined ? before?.group?.id ?? null : (after ?? before?.group)?.id ?? null,
        ...(how.outlier ? { outlier: true } : {}),
        ...(how.rejected !== undefined ? { rejected: how.rejected } : {}),
        ...(how.softFailed ? { softFailed: true } : {}),
      },
    };
    if (!room && event.type === 'm.room.create' && !how.rejected) {
      input.newRoom = { roomVersion: version.id, creator: event.sender, createdTs: event.origin_server_ts };
    }
    await this.writer.persistDirect(input, lock);
    if (how.rejected !== undefined) return { eventId: event.event_id, status: 'rejected', reason: how.rejected };
    if (how.softFailed) return { eventId: event.event_id, status: 'soft_failed', ...(how.reason ? { reason: how.reason } : {}) };
    return { eventId: event.event_id, status: 'outlier' };
  }
}

function sameState(a: StateMap, b: StateMap): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
