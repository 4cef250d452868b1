// Writing events (see ../shared/docs/design-notes.md "Writing an event"): for a room, one writer at
// a time; read current state and forward extremities, build the PDU (prev_events, auth_events, depth,
// origin_server_ts), hash, sign, run the room version's auth rules against the current state, then
// persist in one transaction and only then tell listeners. A rejected event leaves no trace.
import type { Clock } from '../../clock.js';
import { forbidden, MatrixError, notFound } from '../../errors.js';
import type { EventRecord, PersistEventInput, PushActionRecord, RoomStore } from '../../storage/types.js';
import { AuthError, canApplyRedaction, checkEventAuth, selectAuthEvents, type StateLookup } from '../auth-rules.js';
import { CanonicalJsonError } from '../crypto/canonical-json.js';
import { hashSignAndIdentify, hashSignAndIdentifyAsync, redactEvent } from '../crypto/event-hashing.js';
import type { SigningKey } from '../crypto/signing.js';
import { KeyedMutex } from '../lock.js';
import { roomVersion as lookupRoomVersion, type RoomVersion } from '../room-versions.js';
import type { StreamPositions } from '../stream.js';
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
  /**
   * An event the server authors in a room it owns (the server-notices room; shutting a room down):
   * part of the graph and the state, but authorised by the server instead of the auth rules, which
   * cannot admit a server name as sender. Only core services set it, never a client request.
   */
  serverAuthored?: boolean;
}

export interface SendResult {
  eventId: string;
  streamOrdering: number;
  /** True when a transaction ID matched an earlier send: nothing new was stored. */
  duplicate: boolean;
}

/** A room's current state as the writer keeps it in memory. */
export interface RoomState {
  roomId: string;
  version: RoomVersion;
  state: Map<string, StoredEvent>;
  extremities: string[];
  depth: number;
}

export interface EventListener {
  /** Called after an event has been committed. */
  onEventPersisted(record: EventRecord, room: RoomState): void;
}

export const MAX_EVENT_BYTES = 65536;
const stateKeyOf = (type: string, stateKey: string) => `${type}\u0000${stateKey}`;

export const lookupIn = (state: Map<string, StoredEvent>): StateLookup => (type, key) => state.get(stateKeyOf(type, key));

export interface Membership {
  /** Joined users, sorted. */
  joined: string[];
  /** Invited users, sorted. */
  invited: string[];
}

// A room's state map is replaced (never changed in place) when its state changes, so derived views
// can be cached per map: busy rooms do not rescan their member list for every send, sync or typing.
const membershipCache = new WeakMap<Map<string, StoredEvent>, Membership>();

/** Joined and invited members of a room's current state (cached per state version). */
export function membershipOfRoom(room: RoomState): Membership {
  let m = membershipCache.get(room.state);
  if (!m) {
    const joined: string[] = [];
    const invited: string[] = [];
    for (const e of room.state.values()) {
      if (e.type !== 'm.room.member' || e.state_key === undefined) continue;
      if (e.content.membership === 'join') joined.push(e.state_key);
      else if (e.content.membership === 'invite') invited.push(e.state_key);
    }
    joined.sort();
    invited.sort();
    m = { joined, invited };
    membershipCache.set(room.state, m);
  }
  return m;
}

/** Joined members of the room (cached per state version). */
export const joinedMembers = (room: RoomState): string[] => membershipOfRoom(room).joined;

export class EventWriter {
  private readonly mutex = new KeyedMutex();
  private readonly rooms = new Map<string, RoomState>();
  private readonly listeners: EventListener[] = [];
  constructor(
    private readonly serverName: string,
    private readonly store: RoomStore,
    private readonly clock: Clock,
    private readonly key: () => Promise<SigningKey>,
    private readonly positions: () => Promise<StreamPositions>,
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

  /** The room's current state (cached), or undefined for an unknown room. */
  async getRoomState(roomId: string): Promise<RoomState | undefined> {
    const cached = this.rooms.get(roomId);
    if (cached) return cached;
    const room = await this.store.getRoom(roomId);
    if (!room) return undefined;
    const version = lookupRoomVersion(room.roomVersion);
    if (!version) throw new MatrixError(500, 'M_UNKNOWN', `Room ${roomId} has unsupported version ${room.roomVersion}`);
    const state = new Map<string, StoredEvent>();
    for (const e of await this.store.getCurrentState(roomId)) state.set(stateKeyOf(e.type, e.state_key!), e);
    const extremities = await this.store.getExtremities(roomId);
    const depth = Math.max(0, ...(await this.store.getEvents(extremities)).map((r) => r.event.depth));
    const loaded: RoomState = { roomId, version, state, extremities, depth };
    // Another caller may have loaded it meanwhile; keep the first so all share one object.
    const existing = this.rooms.get(roomId);
    if (existing) return existing;
    this.rooms.set(roomId, loaded);
    return loaded;
  }

  /** Loads the current state of many rooms at once (those not cached yet), for a cold initial sync. */
  async preloadRooms(roomIds: string[]): Promise<void> {
    const missing = roomIds.filter((id) => !this.rooms.has(id));
    if (missing.length < 2) return;
    for (const loaded of await this.store.loadRooms(missing)) {
      const roomId = loaded.room.roomId;
      const version = lookupRoomVersion(loaded.room.roomVersion);
      // Loaded by someone else meanwhile (a send holds the newest): keep that one.
      if (!version || this.rooms.has(roomId)) continue;
      const state = new Map<string, StoredEvent>();
      for (const e of loaded.state) state.set(stateKeyOf(e.type, e.state_key!), e);
      this.rooms.set(roomId, { roomId, version, state, extremities: loaded.extremities, depth: loaded.depth });
    }
  }

  /**
   * Creates a room from a list of drafts (m.room.create first), all auth-checked in order against
   * the state they build up, and persisted in one go: if any is refused, nothing is stored.
   */
  async createRoom(roomId: string, version: RoomVersion, drafts: EventDraft[], creator: string, opts: { serverAuthored?: boolean } = {}): Promise<string[]> {
    return this.mutex.run(roomId, async () => {
      if (this.rooms.has(roomId) || (await this.store.getRoom(roomId))) throw new MatrixError(400, 'M_ROOM_IN_USE', 'Room ID already in use');
      const room: RoomState = { roomId, version, state: new Map(), extremities: [], depth: 0 };
      const built: { event: StoredEvent; unsigned: JsonObject | null }[] = [];
      for (const draft of drafts) built.push(await this.build(room, draft, { serverAuthored: opts.serverAuthored === true }));
      const positions = await this.positions();
      const now = this.clock.now();
      const records: EventRecord[] = [];
      const inputs = built.map((b, i) => {
        const streamOrdering = positions.next();
        records.push({ event: b.event, streamOrdering, unsigned: b.unsigned, redactedBy: null, txn: null, serverLocal: false });
        return {
          event: b.event, streamOrdering, unsigned: b.unsigned, extremities: [b.event.event_id],
          ...(i === 0 ? { newRoom: { roomVersion: version.id, creator, createdTs: now } } : {}),
        };
      });
      await this.store.persistEvents(inputs);
      this.rooms.set(roomId, room);
      for (const r of records) this.notify(r, room);
      return built.map((b) => b.event.event_id);
    });
  }

  /** Builds, authorises and persists one event in an existing room. */
  async send(roomId: string, draft: EventDraft, opts: SendOptions = {}): Promise<SendResult> {
    return this.mutex.run(roomId, () => this.sendLocked(roomId, draft, opts));
  }

  /** `send` for callers that already hold the room lock (withRoomLock). */
  async sendLocked(roomId: string, draft: EventDraft, opts: SendOptions = {}): Promise<SendResult> {
    if (opts.txn) {
      // Inside the lock, so a retry racing the original still gets the same event ID.
      const existing = await this.store.findTxn(opts.txn.userId, opts.txn.deviceId, opts.txn.scope, opts.txn.txnId);
      if (existing) {
        const rec = await this.store.getEvent(existing);
        return { eventId: existing, streamOrdering: rec?.streamOrdering ?? 0, duplicate: true };
      }
    }
    const room = await this.getRoomState(roomId);
    if (!room) throw notFound('Unknown room');
    // Only a state event changes the state: messages share the current map instead of copying it.
    const changesState = draft.state_key !== undefined && !opts.serverLocal;
    const scratch: RoomState = { ...room, state: changesState ? new Map(room.state) : room.state, extremities: [...room.extremities] };
    const { event, unsigned } = await this.build(scratch, draft, { serverLocal: opts.serverLocal === true, serverAuthored: opts.serverAuthored === true });

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
      extremities: opts.serverLocal ? room.extremities : [event.event_id],
      ...(opts.txn ? { txn: { ...opts.txn, ts: this.clock.now() } } : {}),
      ...(redaction ? { redaction } : {}),
      ...(opts.serverLocal ? { serverLocal: true } : {}),
    });
    if (!opts.serverLocal) {
      room.state = scratch.state;
      room.extremities = scratch.extremities;
      room.depth = scratch.depth;
    }
    if (redaction) {
      // A redacted state event is redacted in the cached current state too.
      for (const [k, e] of room.state) {
        if (e.event_id !== redaction.targetEventId) continue;
        room.state = new Map(room.state); // a new version: cached views of the old one stay valid for it
        room.state.set(k, { ...(redaction.redactedJson as unknown as StoredEvent), event_id: e.event_id });
        break;
      }
    }
    const txn = opts.txn ? { userId: opts.txn.userId, deviceId: opts.txn.deviceId, txnId: opts.txn.txnId } : null;
    const record: EventRecord = { event, streamOrdering, unsigned, redactedBy: null, txn, serverLocal: opts.serverLocal === true };
    this.notify(record, room);
    return { eventId: event.event_id, streamOrdering, duplicate: false };
  }

  /**
   * Builds the next event of `room` from a draft and checks it against the room's auth rules;
   * on success `room` (a scratch copy or a room being created) is advanced past it.
   */
  private async build(room: RoomState, draft: EventDraft, mode: { serverLocal?: boolean; serverAuthored?: boolean }): Promise<{ event: StoredEvent; unsigned: JsonObject | null }> {
    const serverLocal = mode.serverLocal === true;
    const version = room.version;
    const lookup = lookupIn(room.state);
    const isCreate = draft.type === 'm.room.create';
    const content: JsonObject = { ...draft.content };
    if (draft.type === 'm.room.redaction' && version.redactsInContent && draft.redacts !== undefined) content.redacts = draft.redacts;
    const pdu: Omit<StoredEvent, 'event_id' | 'hashes' | 'signatures'> = {
      room_id: room.roomId,
      sender: draft.sender,
      type: draft.type,
      ...(draft.state_key !== undefined ? { state_key: draft.state_key } : {}),
      content,
      origin_server_ts: this.clock.now(),
      prev_events: isCreate || serverLocal ? [] : [...room.extremities],
      auth_events: isCreate || serverLocal ? [] : selectAuthEvents(draft, lookup, version),
      depth: serverLocal ? room.depth : room.depth + 1,
      ...(draft.type === 'm.room.redaction' && !version.redactsInContent && draft.redacts !== undefined ? { redacts: draft.redacts } : {}),
    };
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
    const event: StoredEvent = { ...built.pdu, event_id: built.eventId };
    if (!serverLocal && !mode.serverAuthored) {
      try {
        checkEventAuth(event, lookup, version, { isSignedBy: () => true });
      } catch (e) {
        if (e instanceof AuthError) throw forbidden(e.message, { 'org.hearth.auth_rule': e.rule });
        throw e;
      }
    }
    let unsigned: JsonObject | null = null;
    if (event.state_key !== undefined && !serverLocal) {
      const prev = lookup(event.type, event.state_key);
      // Only the pointer: prev_content is read from the replaced event when formatting (client-format.ts),
      // so redacting that event also redacts what later events show of it.
      if (prev) unsigned = { replaces_state: prev.event_id, prev_sender: prev.sender };
      room.state.set(stateKeyOf(event.type, event.state_key), event);
    }
    if (!serverLocal) {
      room.extremities = [event.event_id];
      room.depth = event.depth;
    }
    return { event, unsigned };
  }

  // ---- group commit ----------------------------------------------------------------------------
  // Sends of different rooms that are ready in the same turn of the event loop are written in one
  // storage transaction (each room's lock is held until its event committed, so one room's events
  // still commit in order). Stream positions are handed out inside the flush, right before the
  // transaction, so no reader ever sees a position whose event is not yet stored (the SQLite store
  // commits synchronously inside persistEvents). If the batch fails, each event is retried in its own
  // transaction, so one bad event fails only its own request.
  /** Events being hashed and signed right now (in any room). */
  private building = 0;
  private queue: { input: PersistEventInput; resolve: (pos: number) => void; reject: (e: unknown) => void }[] = [];
  private flushScheduled = false;

  private commit(input: PersistEventInput): Promise<number> {
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    this.flushScheduled = false;
    if (batch.length === 0) return;
    const positions = await this.positions();
    for (const b of batch) b.input.streamOrdering = positions.next();
    const started = this.persistTiming ? process.hrtime.bigint() : 0n;
    try {
      if (batch.length === 1) await this.store.persistEvent(batch[0]!.input);
      else await this.store.persistEvents(batch.map((b) => b.input));
    } catch (e) {
      if (batch.length === 1) {
        batch[0]!.reject(e);
        return;
      }
      for (const b of batch) {
        b.input.streamOrdering = positions.next();
        try {
          await this.store.persistEvent(b.input);
          b.resolve(b.input.streamOrdering);
        } catch (err) {
          b.reject(err);
        }
      }
      return;
    }
    if (this.persistTiming) this.persistTiming(Number(process.hrtime.bigint() - started) / 1e9);
    for (const b of batch) b.resolve(b.input.streamOrdering);
  }

  private notify(record: EventRecord, room: RoomState): void {
    for (const l of this.listeners) l.onEventPersisted(record, room);
  }
}
