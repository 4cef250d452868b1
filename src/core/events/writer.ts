// Writing local events (design-notes.md "Writing an event"; spec/event-graph.md): for a room, one writer
// at a time. The new event names the room's forward extremities as prev_events (at most 10, the
// deepest), its depth is one more than theirs, its auth_events are selected from the state before it
// (the resolved state of those extremities: the room's current state); it is hashed, signed, checked
// by the room version's auth rules against that state, then persisted in one transaction with its
// state groups, the room's new extremities and current state, and only then announced. A rejected
// event leaves no trace.
import type { Clock } from '../../clock.js';
import { forbidden, MatrixError, notFound } from '../../errors.js';
import { StaleExtremitiesError } from '../../storage/errors.js';
import type { EventRecord, NewStateGroup, PersistEventInput, PushActionRecord, RoomStore, RoomWriteLock, StateDelta } from '../../storage/types.js';
import { AuthError, canApplyRedaction, checkEventAuth, selectAuthEvents } from '../auth-rules.js';
import { CanonicalJsonError } from '../crypto/canonical-json.js';
import { hashSignAndIdentify, hashSignAndIdentifyAsync, redactEvent } from '../crypto/event-hashing.js';
import type { SigningKey } from '../crypto/signing.js';
import { KeyedMutex } from '../lock.js';
import type { RoomVersion } from '../room-versions.js';
import { lookupIn, stateMapOf, type Extremity, type RoomState, type RoomStateService } from '../rooms/room-state.js';
import { stateKeyOf, type GroupRef, type StateGroupService, type StateMap } from '../state/groups.js';
import type { StreamPositions } from '../stream.js';
import { addIndexes } from './indexing.js';
import type { JsonObject, StoredEvent } from './types.js';

/** What a caller asks to be sent; the writer fills in the rest. */
export interface EventDraft {
  type: string;
  state_key?: string;
  sender: string;
  content: JsonObject;
  /** For m.room.redaction: the event redacted (top-level before v11, in content from v11). */
  redacts?: string;
}

export interface SendOptions {
  /** Transaction ID of the request, scoped to the device and the request path ('send <room> <type>'). */
  txn?: { userId: string; deviceId: string; scope: string; txnId: string };
  /**
   * Server-generated event outside the room graph (spec/server-events.md): stored and ordered in the
   * room's timeline, but no event names it in prev_events or auth_events, it changes no state, and
   * the auth rules do not apply to it (only the server creates one).
   */
  serverLocal?: boolean;
  /** A server-generated event received from another server keeps that server's timestamp. */
  originServerTs?: number;
  /**
   * Called with the built and authorised event before it is stored, under the room's lock: returns
   * the event with more signatures (an invite countersigned by the invitee's server, which the spec
   * requires before the invite is sent on). Its event ID must not change. A throw stops the send and
   * nothing is stored.
   */
  countersign?: (event: StoredEvent, room: RoomState) => Promise<StoredEvent>;
}

export interface SendResult {
  eventId: string;
  streamOrdering: number;
  /** True when a transaction ID matched an earlier send: nothing new was stored. */
  duplicate: boolean;
}

/** Where a committed event came from: built here (`local`) or received from another server. */
export type EventSource = 'local' | 'received';

export interface EventListener {
  /** Called after an event has been committed: where it came from, and the users it notifies under their push rules. */
  onEventPersisted(record: EventRecord, room: RoomState, source: EventSource, pushActions: PushActionRecord[]): void;
}

export const MAX_EVENT_BYTES = 65536;
/** Builds of one event under the store's room lock after a stale one (SQLite holds no lock: see lockRoom). */
export const MAX_STALE_ATTEMPTS = 5;
/** At most this many prev_events in a new local event (the deepest extremities), as big servers do. */
export const MAX_PREV_EVENTS = 10;

// Room state helpers live in rooms/room-state.ts; re-exported for the modules that build on the writer.
export { joinedMembers, lookupIn, membershipOfRoom, type Membership, type RoomState } from '../rooms/room-state.js';

/**
 * Resolves several room states into one (state resolution of the room's version; core/state);
 * `pending` are events the states name that are not stored yet.
 */
export type StateResolver = (version: RoomVersion, states: StateMap[], pending?: StoredEvent[]) => Promise<StateMap>;

/** The graph data of an event being built: the state before it and the groups to create with it. */
interface Placement {
  before: GroupRef | null;
  after: GroupRef | null;
  newGroups: NewStateGroup[];
  /** The change of the room's current state, when the event is a state event. */
  delta?: StateDelta;
}

export class EventWriter {
  private readonly mutex = new KeyedMutex();
  private readonly listeners: EventListener[] = [];

  constructor(
    private readonly serverName: string,
    private readonly store: RoomStore,
    private readonly clock: Clock,
    private readonly key: () => Promise<SigningKey>,
    private readonly positions: () => Promise<StreamPositions>,
    private readonly roomState: RoomStateService,
    private readonly groups: StateGroupService,
    /** State resolution, for a room with more forward extremities than one event may name. */
    private readonly resolve: StateResolver,
    /** Push rules are evaluated inside the room lock, before the event is stored with its actions. */
    private readonly pushEvaluator?: (event: StoredEvent, room: RoomState) => Promise<PushActionRecord[]>,
  ) {}

  addListener(l: EventListener): void {
    this.listeners.push(l);
  }

  private persistTiming: ((seconds: number) => void) | undefined;

  /** Reports how long each event's storage transaction took (metrics). */
  onPersistTiming(fn: (seconds: number) => void): void {
    this.persistTiming = fn;
  }

  /** Runs `fn` holding the room's lock (for read-check-write sequences around sends). */
  withRoomLock<T>(roomId: string, fn: () => Promise<T>): Promise<T> {
    return this.mutex.run(roomId, fn);
  }

  /**
   * Runs `fn` (which builds an event on the room's cached state and persists it with the extremities
   * it built on) again when the store finds the room's extremities changed: another writer sharing
   * the database wrote to the room (spec/postgres.md, "The room lock"). The store compares them under
   * the room's write lock, in the persist transaction, so two writers never fork a room. The retry
   * first takes that lock in the store (RoomStore.lockRoom), then reads the room again and builds the
   * event anew (new prev_events, auth checks against the new state), and stores it under the lock
   * (`fn(lock)`): another writer cannot get there first twice.
   */
  async retryOnStale<T>(roomId: string, fn: (lock?: RoomWriteLock) => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof StaleExtremitiesError)) throw e;
    }
    for (let attempt = 1; ; attempt++) {
      this.roomState.forget(roomId);
      this.localTips.delete(roomId);
      const lock = await this.store.lockRoom(roomId);
      try {
        return await fn(lock);
      } catch (e) {
        if (!(e instanceof StaleExtremitiesError)) throw e;
        if (attempt >= MAX_STALE_ATTEMPTS) throw new MatrixError(503, 'M_UNKNOWN', 'The room is being written by another server process; try again');
      } finally {
        await lock.release();
      }
    }
  }

  /**
   * Creates a room from a list of drafts (m.room.create first), all auth-checked in order against
   * the state they build up, and persisted in one go: if any is refused, nothing is stored. The room
   * ID is `roomId`, or, in versions whose room IDs derive from the create event (12), that event's.
   */
  async createRoom(roomId: string, version: RoomVersion, drafts: EventDraft[], creator: string): Promise<{ roomId: string; eventIds: string[] }> {
    for (let attempt = 0; ; attempt++) {
      const room: RoomState = { roomId, version, state: new Map(), group: null, extremities: [], depth: 0 };
      const built: { event: StoredEvent; unsigned: JsonObject | null; placement: Placement }[] = [];
      // Version 12 names the room after its create event: two creates by one user with the same
      // content in the same millisecond would name the same room, so a taken name is made again a
      // millisecond later (the create event's timestamp is part of its hash).
      const ts = this.clock.now() + attempt;
      let taken = false;
      try {
        for (const draft of drafts) {
          const b = await this.build(room, draft, { ts });
          if (built.length === 0 && version.roomIdFromCreateEvent) {
            // The room is named after its create event: the rest of the room is built under that ID.
            room.roomId = b.event.room_id;
            for (const g of b.placement.newGroups) g.roomId = room.roomId;
            if (this.creating.has(room.roomId) || (await this.store.getRoom(room.roomId))) {
              taken = true;
              break;
            }
            this.creating.add(room.roomId);
          }
          built.push(b);
        }
        if (taken) {
          if (attempt < 100) continue;
          throw new MatrixError(400, 'M_ROOM_IN_USE', 'Room ID already in use');
        }
        return await this.persistNewRoom(room, version, built, creator);
      } finally {
        if (!taken && version.roomIdFromCreateEvent) this.creating.delete(room.roomId);
      }
    }
  }

  /** Room IDs of version-12 rooms being created (named after their create event, not stored yet). */
  private readonly creating = new Set<string>();

  private async persistNewRoom(
    room: RoomState, version: RoomVersion, built: { event: StoredEvent; unsigned: JsonObject | null; placement: Placement }[], creator: string,
  ): Promise<{ roomId: string; eventIds: string[] }> {
    const id = room.roomId;
    return this.mutex.run(id, async () => {
      if ((await this.roomState.get(id)) || (await this.store.getRoom(id))) throw new MatrixError(400, 'M_ROOM_IN_USE', 'Room ID already in use');
      const positions = await this.positions();
      await positions.available(built.length);
      const now = this.clock.now();
      const records: EventRecord[] = [];
      const inputs = built.map((b, i): PersistEventInput => {
        const streamOrdering = positions.begin();
        records.push({ event: b.event, streamOrdering, unsigned: b.unsigned, redactedBy: null, txn: null, serverLocal: false });
        return {
          event: b.event, streamOrdering, unsigned: b.unsigned, extremities: [b.event.event_id],
          graph: { newGroups: b.placement.newGroups, stateBefore: b.placement.before?.id ?? null, stateAfter: b.placement.after?.id ?? null },
          ...(b.placement.delta ? { currentState: { group: b.placement.after?.id ?? null, deltas: [b.placement.delta] } } : {}),
          ...(i === 0 ? { newRoom: { roomVersion: version.id, creator, createdTs: now } } : {}),
        };
      });
      for (const input of inputs) await addIndexes(input, (id) => this.store.getRelation(id));
      try {
        await this.store.persistEvents(inputs);
      } finally {
        for (const input of inputs) positions.done(input.streamOrdering);
      }
      this.roomState.set(room);
      for (const r of records) this.notify(r, room);
      return { roomId: id, eventIds: built.map((b) => b.event.event_id) };
    });
  }

  /** Builds, authorises and persists one event in an existing room. */
  async send(roomId: string, draft: EventDraft, opts: SendOptions = {}): Promise<SendResult> {
    return this.mutex.run(roomId, () => this.sendLocked(roomId, draft, opts));
  }

  /** `send` for callers that already hold the room lock (withRoomLock). */
  async sendLocked(roomId: string, draft: EventDraft, opts: SendOptions = {}): Promise<SendResult> {
    return this.retryOnStale(roomId, (lock) => this.sendOnce(roomId, draft, opts, lock));
  }

  private async sendOnce(roomId: string, draft: EventDraft, opts: SendOptions, lock?: RoomWriteLock): Promise<SendResult> {
    if (opts.txn) {
      // Inside the lock, so a retry racing the original still gets the same event ID.
      const existing = await this.store.findTxn(opts.txn.userId, opts.txn.deviceId, opts.txn.scope, opts.txn.txnId);
      if (existing) {
        const rec = await this.store.getEvent(existing);
        return { eventId: existing, streamOrdering: rec?.streamOrdering ?? 0, duplicate: true };
      }
    }
    const room = await this.roomState.get(roomId);
    if (!room) throw notFound('Unknown room');
    const serverLocal = opts.serverLocal === true;
    // The scratch copy advances past the event; the room itself changes only once it is committed.
    const scratch: RoomState = { ...room, extremities: [...room.extremities] };
    // A server-generated event names the previous one of the room, so two of them never share an
    // event ID (the reference hash leaves the content of a message out); no graph event names either.
    const localTip = serverLocal ? await this.serverLocalTip(roomId) : undefined;
    const built = await this.build(scratch, draft, {
      serverLocal, ...(localTip ? { prevs: [localTip] } : {}), ...(serverLocal && opts.originServerTs !== undefined ? { ts: opts.originServerTs } : {}),
    });
    const { unsigned, placement } = built;
    let event = built.event;
    if (opts.countersign) {
      const signed = await opts.countersign(event, room);
      if (signed.event_id !== event.event_id) throw new Error('countersign changed the event ID');
      event = signed;
    }

    let redaction: { targetEventId: string; redactedJson: JsonObject } | undefined;
    if (event.type === 'm.room.redaction') {
      const targetId = draft.redacts!;
      const target = await this.store.getEvent(targetId);
      if (target && target.event.room_id === roomId && !target.redactedBy
        && canApplyRedaction(event, target.event, lookupIn(room.state), room.version)) {
        redaction = { targetEventId: targetId, redactedJson: redactEvent(target.event, room.version) };
      }
    }

    const pushActions = this.pushEvaluator ? await this.pushEvaluator(event, scratch) : [];
    // Group commit: stored with whatever other rooms' events are ready in the same turn of the event
    // loop, in one transaction; acknowledged (and announced) only once that transaction committed.
    const streamOrdering = await this.commit({
      event, streamOrdering: 0, unsigned, pushActions,
      extremities: scratch.extremities.map((x) => x.eventId),
      // What the event was built on: the store refuses it if another writer moved the room meanwhile.
      ...(serverLocal ? {} : { expectedExtremities: room.extremities.map((x) => x.eventId) }),
      graph: { newGroups: placement.newGroups, stateBefore: placement.before?.id ?? null, stateAfter: placement.after?.id ?? null },
      ...(placement.delta ? { currentState: { group: placement.after?.id ?? null, deltas: [placement.delta] } } : {}),
      ...(opts.txn ? { txn: { ...opts.txn, ts: this.clock.now() } } : {}),
      ...(redaction ? { redaction } : {}),
      ...(serverLocal ? { serverLocal: true } : {}),
    }, lock);
    if (serverLocal) this.localTips.set(roomId, event.event_id);
    let next: RoomState = serverLocal ? room : scratch;
    if (redaction) {
      // A redacted state event is redacted in the cached current state too.
      for (const [k, e] of next.state) {
        if (e.event_id !== redaction.targetEventId) continue;
        const state = new Map(next.state); // a new version: cached views of the old one stay valid for it
        state.set(k, { ...(redaction.redactedJson as unknown as StoredEvent), event_id: e.event_id });
        next = { ...next, state };
        break;
      }
    }
    if (next !== room) this.roomState.set(next);
    const txn = opts.txn ? { userId: opts.txn.userId, deviceId: opts.txn.deviceId, txnId: opts.txn.txnId } : null;
    const record: EventRecord = { event, streamOrdering, unsigned, redactedBy: null, txn, serverLocal };
    this.notify(record, next, 'local', pushActions);
    return { eventId: event.event_id, streamOrdering, duplicate: false };
  }

  /**
   * The state before a new event whose prev_events are `prevs` (the deepest of the room's extremities):
   * the room's current state when they are all of them, else the resolution of their states (a room
   * with more extremities than one event may name), stored as a group of its own.
   */
  private async stateBefore(room: RoomState, prevs: Extremity[]): Promise<{ state: Map<string, StoredEvent>; group: GroupRef | null; newGroups: NewStateGroup[] }> {
    if (prevs.length === room.extremities.length) return { state: room.state, group: room.group, newGroups: [] };
    const recs = await this.store.getEvents(prevs.map((p) => p.eventId));
    const states = await Promise.all(recs.map((r) => this.groups.load(r.graph?.stateAfter ?? null)));
    const resolved = await this.resolve(room.version, states);
    const state = new Map<string, StoredEvent>();
    for (const r of await this.store.getEvents([...resolved.values()])) state.set(stateKeyOf(r.event.type, r.event.state_key ?? ''), r.event);
    const { group, ref } = await this.groups.create(room.roomId, null, new Map(resolved), resolved);
    return { state, group: ref, newGroups: [group] };
  }

  /**
   * Builds the next event of `room` from a draft and checks it against the auth rules with the state
   * before it; on success `room` (a scratch copy, or a room being created) is advanced past it: its
   * state, state group and forward extremities (the event replaces the prev events it names).
   */
  private async build(room: RoomState, draft: EventDraft, mode: { serverLocal?: boolean; prevs?: string[]; ts?: number }): Promise<{ event: StoredEvent; unsigned: JsonObject | null; placement: Placement }> {
    const serverLocal = mode.serverLocal === true;
    const version = room.version;
    const isCreate = draft.type === 'm.room.create';
    // prev_events: the deepest extremities (normally the one newest event).
    const prevs = serverLocal || isCreate ? []
      : [...room.extremities].sort((a, b) => b.depth - a.depth || (a.eventId < b.eventId ? -1 : 1)).slice(0, MAX_PREV_EVENTS);
    const before = serverLocal || isCreate ? { state: room.state, group: room.group, newGroups: [] as NewStateGroup[] } : await this.stateBefore(room, prevs);
    const lookup = lookupIn(before.state);
    const content: JsonObject = { ...draft.content };
    if (draft.type === 'm.room.redaction' && version.redactsInContent && draft.redacts !== undefined) content.redacts = draft.redacts;
    const pdu = {
      // A create event of a version whose room ID derives from it carries no room_id (rooms/v12).
      ...(isCreate && version.roomIdFromCreateEvent ? {} : { room_id: room.roomId }),
      sender: draft.sender,
      type: draft.type,
      ...(draft.state_key !== undefined ? { state_key: draft.state_key } : {}),
      content,
      origin_server_ts: mode.ts ?? this.clock.now(),
      prev_events: serverLocal ? mode.prevs ?? [] : prevs.map((p) => p.eventId),
      auth_events: isCreate || serverLocal ? [] : selectAuthEvents(draft, lookup, version),
      // Canonical JSON integers end at 2^53 - 1 (appendices.md "Canonical JSON"); a remote event that
      // deep cannot make ours deeper.
      depth: serverLocal ? room.depth : isCreate ? 1 : Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, ...prevs.map((p) => p.depth)) + 1),
      ...(draft.type === 'm.room.redaction' && !version.redactsInContent && draft.redacts !== undefined ? { redacts: draft.redacts } : {}),
    } as Omit<StoredEvent, 'event_id' | 'hashes' | 'signatures'>;
    let built;
    try {
      // With other sends under way, the signature is computed on the thread pool so the event loop
      // serves them meanwhile; a lone send signs inline (the hop to the pool would only add latency).
      const key = await this.key();
      this.building++;
      try {
        built = this.building > 1 || this.queue.length > 0
          ? await hashSignAndIdentifyAsync(pdu, this.serverName, key, version)
          : hashSignAndIdentify(pdu, this.serverName, key, version);
      } finally {
        this.building--;
      }
    } catch (e) {
      if (e instanceof CanonicalJsonError) throw new MatrixError(400, 'M_BAD_JSON', `Event content is not valid canonical JSON: ${e.message}`);
      throw e;
    }
    // Canonical JSON (already checked above) and JSON.stringify give the same bytes for a valid event,
    // whatever the key order, so the native serialiser measures the size.
    if (Buffer.byteLength(JSON.stringify(built.pdu), 'utf8') > MAX_EVENT_BYTES) throw new MatrixError(413, 'M_TOO_LARGE', `Event is larger than ${MAX_EVENT_BYTES} bytes`);
    const event = { ...built.pdu, event_id: built.eventId } as StoredEvent;
    if (!serverLocal) {
      try {
        checkEventAuth(event, lookup, version, { isSignedBy: () => true });
      } catch (e) {
        if (e instanceof AuthError) throw forbidden(e.message, { 'org.hearth.auth_rule': e.rule });
        throw e;
      }
    }
    // The room ID of such a create event is its own event ID with the '!' sigil (rooms/v12 rule 2); the
    // core carries it on the event, the stored and sent PDU does not (pduOf).
    if (isCreate && version.roomIdFromCreateEvent) event.room_id = `!${built.eventId.slice(1)}`;
    if (serverLocal) {
      // Outside the graph: stored beside the room's current state, changing nothing.
      return { event, unsigned: null, placement: { before: room.group, after: room.group, newGroups: [] } };
    }
    const placement: Placement = { before: before.group, after: before.group, newGroups: [...before.newGroups] };
    let unsigned: JsonObject | null = null;
    let state = before.state;
    if (event.state_key !== undefined) {
      const key = stateKeyOf(event.type, event.state_key);
      const prev = lookup(event.type, event.state_key);
      // Only the pointer: prev_content is read from the replaced event when formatting (client-format.ts),
      // so redacting that event also redacts what later events show of it.
      if (prev) unsigned = { replaces_state: prev.event_id, prev_sender: prev.sender };
      // A new map: the old one stays valid for whoever holds it (cached member lists, a sync in flight).
      state = new Map(before.state);
      state.set(key, event);
      const after = state;
      const { group, ref } = await this.groups.create(event.room_id, before.group, new Map([[key, event.event_id]]), async () => stateMapOf(after));
      placement.newGroups.push(group);
      placement.after = ref;
      placement.delta = {
        type: event.type, stateKey: event.state_key, eventId: event.event_id, prevEventId: prev?.event_id ?? null,
        ...(event.type === 'm.room.member' ? { membership: typeof event.content.membership === 'string' ? event.content.membership : 'leave' } : {}),
      };
    }
    const named = new Set(prevs.map((p) => p.eventId));
    room.state = state;
    room.group = placement.after;
    room.extremities = [...room.extremities.filter((x) => !named.has(x.eventId)), { eventId: event.event_id, depth: event.depth }];
    room.depth = Math.max(0, ...room.extremities.map((x) => x.depth));
    return { event, unsigned, placement };
  }

  /** The newest server-generated event of each room (loaded from storage on first use). */
  private readonly localTips = new Map<string, string>();

  private async serverLocalTip(roomId: string): Promise<string | undefined> {
    const known = this.localTips.get(roomId);
    if (known !== undefined) return known;
    const stored = await this.store.getLatestServerLocalEvent(roomId);
    if (stored !== undefined) this.localTips.set(roomId, stored);
    return stored;
  }

  // ---- events received from other servers (events/receive.ts) --------------------------------

  /** Stores an event that does not enter the stream (its position is given: negative); under `lock` when held. */
  async persistDirect(input: PersistEventInput, lock?: RoomWriteLock): Promise<void> {
    await addIndexes(input, (id) => this.store.getRelation(id));
    if (lock) await lock.persist(input);
    else await this.store.persistEvent(input);
  }

  /**
   * Stores an accepted remote event with the next stream position (group commit, push rules evaluated
   * with the room's state after it), under the room's lock the caller holds; returns its record.
   */
  async commitReceived(input: PersistEventInput, room: RoomState, lock?: RoomWriteLock): Promise<EventRecord> {
    input.pushActions = this.pushEvaluator ? await this.pushEvaluator(input.event, room) : [];
    const streamOrdering = await this.commit(input, lock);
    return { event: input.event, streamOrdering, unsigned: input.unsigned, redactedBy: null, txn: null, serverLocal: false };
  }

  /** Tells the listeners (sync, typing, presence, pushers) about a committed event received from another server. */
  announce(record: EventRecord, room: RoomState, pushActions: PushActionRecord[] = []): void {
    this.notify(record, room, 'received', pushActions);
  }

  // ---- group commit ----------------------------------------------------------------------------
  // Sends of different rooms that are ready in the same turn of the event loop are written in one
  // storage transaction (each room's lock is held until its event committed, so one room's events
  // still commit in order). Stream positions are handed out inside the flush, right before the
  // transaction, as writes in flight (StreamPositions.begin): readers see none of them, nor any later
  // position, until the transaction settled, however long the store takes and whatever else commits
  // meanwhile. If the batch fails, each event is retried in its own transaction with a new position,
  // so one bad event fails only its own request.
  /** Events being hashed and signed right now (in any room). */
  private building = 0;
  private queue: { input: PersistEventInput; resolve: (pos: number) => void; reject: (e: unknown) => void }[] = [];
  private flushScheduled = false;

  private async commit(input: PersistEventInput, lock?: RoomWriteLock): Promise<number> {
    await addIndexes(input, (id) => this.store.getRelation(id));
    if (lock) return this.commitLocked(input, lock);
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  /** An event stored under the room's lock in the store: on its own, outside the group commit. */
  private async commitLocked(input: PersistEventInput, lock: RoomWriteLock): Promise<number> {
    const positions = await this.positions();
    await positions.available();
    const pos = positions.begin();
    input.streamOrdering = pos;
    try {
      await lock.persist(input);
    } finally {
      positions.done(pos);
    }
    return pos;
  }

  private async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    this.flushScheduled = false;
    if (batch.length === 0) return;
    let positions: StreamPositions;
    try {
      positions = await this.positions();
      await positions.available(batch.length);
    } catch (e) {
      for (const b of batch) b.reject(e);
      return;
    }
    for (const b of batch) b.input.streamOrdering = positions.begin();
    const started = this.persistTiming ? process.hrtime.bigint() : 0n;
    try {
      if (batch.length === 1) await this.store.persistEvent(batch[0]!.input);
      else await this.store.persistEvents(batch.map((b) => b.input));
    } catch (e) {
      for (const b of batch) positions.done(b.input.streamOrdering);
      if (batch.length === 1) {
        batch[0]!.reject(e);
        return;
      }
      for (const b of batch) {
        try {
          await positions.available();
        } catch (err) {
          b.reject(err);
          continue;
        }
        const pos = positions.begin();
        b.input.streamOrdering = pos;
        try {
          await this.store.persistEvent(b.input);
          positions.done(pos);
          b.resolve(pos);
        } catch (err) {
          positions.done(pos);
          b.reject(err);
        }
      }
      return;
    }
    for (const b of batch) positions.done(b.input.streamOrdering);
    if (this.persistTiming) this.persistTiming(Number(process.hrtime.bigint() - started) / 1e9);
    for (const b of batch) b.resolve(b.input.streamOrdering);
  }

  private notify(record: EventRecord, room: RoomState, source: EventSource = 'local', pushActions: PushActionRecord[] = []): void {
    for (const l of this.listeners) l.onEventPersisted(record, room, source, pushActions);
  }
}
