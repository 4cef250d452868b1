// Test harness for state resolution: an in-memory room whose events are built by hand (explicit
// auth_events) or by branches that select their auth events from their own state, as a server does
// (server-server-api "Auth events selection"), and merge by resolving their states.
import { selectAuthEvents, type StateLookup } from '../../../src/core/auth-rules.js';
import type { JsonObject, StoredEvent } from '../../../src/core/events/types.js';
import type { RoomVersion } from '../../../src/core/room-versions.js';
import {
  resolveState,
  stateKey,
  type ResolutionSource,
  type ResolveOptions,
  type StateMap,
} from '../../../src/core/state/resolution.js';

export const ALICE = '@alice:example.com';
export const BOB = '@bob:example.com';
export const CHARLIE = '@charlie:example.com';
export const EVELYN = '@evelyn:example.com';
export const ZARA = '@zara:example.com';

export interface EventInit {
  id: string;
  type: string;
  sender: string;
  state_key?: string;
  content?: JsonObject;
  /** origin_server_ts; by default one more than the previous event's. */
  ts?: number;
}

export class TestRoom {
  readonly events = new Map<string, StoredEvent>();
  readonly rejected = new Set<string>();
  /** Every fetchEvents call, in order. */
  readonly fetches: string[][] = [];
  private clock = 1000;

  constructor(readonly version: RoomVersion, readonly createId = '$CREATE') {}

  get roomId(): string {
    return this.version.roomIdFromCreateEvent ? `!${this.createId.slice(1)}` : '!room:example.com';
  }

  readonly source: ResolutionSource = {
    fetchEvents: async (ids) => {
      this.fetches.push([...ids]);
      const out = new Map<string, StoredEvent>();
      for (const id of ids) {
        const ev = this.events.get(id);
        if (ev) out.set(id, ev);
      }
      return out;
    },
    isRejected: (id) => this.rejected.has(id),
  };

  /**
   * An event with exactly the given auth_events, except that v10/v11 events other than the create
   * event also cite the create event first (their auth events selection requires it; v12 forbids it).
   */
  event(init: EventInit, auth: string[], prev: string[] = []): StoredEvent {
    if (this.events.has(init.id)) throw new Error(`duplicate test event ${init.id}`);
    this.clock = init.ts ?? this.clock + 1;
    const isCreate = init.type === 'm.room.create';
    const authEvents = !isCreate && !this.version.roomIdFromCreateEvent && !auth.includes(this.createId) ? [this.createId, ...auth] : auth;
    const event = {
      event_id: init.id,
      sender: init.sender,
      type: init.type,
      content: init.content ?? {},
      origin_server_ts: this.clock,
      prev_events: prev,
      auth_events: authEvents,
      depth: this.events.size + 1,
      hashes: { sha256: 'x' },
      signatures: { 'example.com': { 'ed25519:1': 'sig' } },
    } as unknown as StoredEvent;
    // v12: the create event has no room_id (rooms/v12 auth rule 1.2).
    if (!(isCreate && this.version.roomIdFromCreateEvent)) event.room_id = this.roomId;
    if (init.state_key !== undefined) event.state_key = init.state_key;
    this.events.set(init.id, event);
    return event;
  }

  /** The create event's content for this version (v10 needs `creator`). */
  createContent(extra: JsonObject = {}): JsonObject {
    return { ...(this.version.createHasCreator ? { creator: ALICE } : {}), room_version: this.version.id, ...extra };
  }

  /**
   * power_levels content with `users`; v12 leaves the room creators out (auth rule 10.4: they have
   * infinite power and may not be listed).
   */
  pl(users: Record<string, number>, extra: JsonObject = {}): JsonObject {
    const list: JsonObject = {};
    for (const [u, level] of Object.entries(users)) {
      if (this.version.privilegedCreators && this.creators().includes(u)) continue;
      list[u] = level;
    }
    return { users: list, ...extra };
  }

  creators(): string[] {
    const create = this.events.get(this.createId);
    const extra = create?.content['additional_creators'];
    return [create?.sender ?? ALICE, ...(Array.isArray(extra) ? (extra as string[]) : [])];
  }

  /** A new branch with an empty state (to start the room on). */
  branch(): Branch {
    return new Branch(this, new Map(), []);
  }

  /** A StateMap from event IDs (each a state event of this room). */
  state(...ids: string[]): StateMap {
    const s: StateMap = new Map();
    for (const id of ids) {
      const ev = this.events.get(id)!;
      s.set(stateKey(ev.type, ev.state_key!), id);
    }
    return s;
  }

  resolve(states: StateMap[], options?: ResolveOptions): Promise<StateMap> {
    return resolveState(this.version, states, this.source, options);
  }

  /** A state as `{ 'type|state_key': event_id }`, for readable assertions. */
  view(state: StateMap): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, id] of state) out[k.replace('\u0000', '|')] = id;
    return out;
  }
}

/** A line of events, each sent on the state the previous one left (its prev_events: the head). */
export class Branch {
  constructor(readonly room: TestRoom, public state: StateMap, public head: string[]) {}

  readonly lookup: StateLookup = (type, sk) => {
    const id = this.state.get(stateKey(type, sk));
    return id === undefined ? undefined : this.room.events.get(id);
  };

  /** Sends an event whose auth_events are selected from this branch's state. No auth check. */
  send(init: EventInit): StoredEvent {
    const draft = { type: init.type, sender: init.sender, content: init.content ?? {}, ...(init.state_key !== undefined ? { state_key: init.state_key } : {}) };
    const auth = init.type === 'm.room.create' ? [] : selectAuthEvents(draft, this.lookup, this.room.version);
    const ev = this.room.event(init, auth, this.head);
    // In place: a branch owns its map (fork() copies), so states handed out earlier are snapshots only
    // if taken with fork() or new Map().
    if (ev.state_key !== undefined) this.state.set(stateKey(ev.type, ev.state_key), ev.event_id);
    this.head = [ev.event_id];
    return ev;
  }

  fork(): Branch {
    return new Branch(this.room, new Map(this.state), [...this.head]);
  }

  /** The event after the heads of `branches`: its state before is the resolution of theirs. */
  static async merge(...branches: Branch[]): Promise<Branch> {
    const room = branches[0]!.room;
    const state = await room.resolve(branches.map((b) => b.state));
    return new Branch(room, state, branches.flatMap((b) => b.head));
  }
}

/**
 * The room every scenario starts from (Synapse's tests/state/test_v2.py has the same cast): Alice
 * creates the room and joins, power_levels gives Alice 100, the room is public, Bob, Charlie and Zara
 * join.
 */
export function startRoom(room: TestRoom, createExtra: JsonObject = {}): Branch {
  const b = room.branch();
  b.send({ id: room.createId, type: 'm.room.create', sender: ALICE, state_key: '', content: room.createContent(createExtra) });
  b.send({ id: '$IMA', type: 'm.room.member', sender: ALICE, state_key: ALICE, content: { membership: 'join' } });
  b.send({ id: '$IPOWER', type: 'm.room.power_levels', sender: ALICE, state_key: '', content: room.pl({ [ALICE]: 100 }) });
  b.send({ id: '$IJR', type: 'm.room.join_rules', sender: ALICE, state_key: '', content: { join_rule: 'public' } });
  b.send({ id: '$IMB', type: 'm.room.member', sender: BOB, state_key: BOB, content: { membership: 'join' } });
  b.send({ id: '$IMC', type: 'm.room.member', sender: CHARLIE, state_key: CHARLIE, content: { membership: 'join' } });
  b.send({ id: '$IMZ', type: 'm.room.member', sender: ZARA, state_key: ZARA, content: { membership: 'join' } });
  return b;
}

export const k = (type: string, sk = ''): string => `${type}|${sk}`;
