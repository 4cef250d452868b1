// Rooms' current state, kept in memory for the hot paths (spec/event-graph.md): the resolved state of
// each room's forward extremities, its state group, and the extremities themselves. Readers (sync,
// typing, presence, directory, push rules) ask this service; only the event writer and the receipt of
// remote events change it, under the room's lock, by replacing the room's state map (never changing
// it in place), so views derived from one version (member lists) stay valid for it.
import { MatrixError } from '../../errors.js';
import type { RoomStore } from '../../storage/types.js';
import type { StateLookup } from '../auth-rules.js';
import type { StoredEvent } from '../events/types.js';
import { roomVersion as lookupRoomVersion, type RoomVersion } from '../room-versions.js';
import { stateKeyOf, type GroupRef, type StateGroupService, type StateMap } from '../state/groups.js';

export interface Extremity {
  eventId: string;
  depth: number;
}

/** A room's current state as the server keeps it in memory. */
export interface RoomState {
  roomId: string;
  version: RoomVersion;
  /** The current state: `type\u0000state_key` -> event. */
  state: Map<string, StoredEvent>;
  /** The state group of the current state (null before the create event). */
  group: GroupRef | null;
  /** Forward extremities: the events the next local event names in prev_events. */
  extremities: Extremity[];
  /** The greatest depth among the extremities. */
  depth: number;
}

export const lookupIn = (state: Map<string, StoredEvent>): StateLookup => (type, key) => state.get(stateKeyOf(type, key));

/** The event IDs of a state (a state map for the state groups). */
export function stateMapOf(state: Map<string, StoredEvent>): StateMap {
  const out: StateMap = new Map();
  for (const [k, e] of state) out.set(k, e.event_id);
  return out;
}

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

export class RoomStateService {
  private readonly rooms = new Map<string, RoomState>();

  constructor(
    private readonly store: RoomStore,
    private readonly groups: StateGroupService,
  ) {}

  /** The room's current state (cached), or undefined for an unknown room. */
  async get(roomId: string): Promise<RoomState | undefined> {
    const cached = this.rooms.get(roomId);
    if (cached) return cached;
    const room = await this.store.getRoom(roomId);
    if (!room) return undefined;
    const version = this.versionOf(roomId, room.roomVersion);
    const state = new Map<string, StoredEvent>();
    for (const e of await this.store.getCurrentState(roomId)) state.set(stateKeyOf(e.type, e.state_key!), e);
    const extremities = (await this.store.getEvents(await this.store.getExtremities(roomId))).map((r) => ({ eventId: r.event.event_id, depth: r.event.depth }));
    const group = room.stateGroup === null ? null : { id: room.stateGroup, hops: await this.groups.hops(room.stateGroup) };
    const loaded: RoomState = { roomId, version, state, group, extremities, depth: Math.max(0, ...extremities.map((x) => x.depth)) };
    // Another caller may have loaded it meanwhile; keep the first so all share one object.
    const existing = this.rooms.get(roomId);
    if (existing) return existing;
    this.rooms.set(roomId, loaded);
    return loaded;
  }

  /** Loads the current state of many rooms at once (those not cached yet), for a cold initial sync. */
  async preload(roomIds: string[]): Promise<void> {
    const missing = roomIds.filter((id) => !this.rooms.has(id));
    if (missing.length < 2) return;
    const loadedRooms = await this.store.loadRooms(missing);
    const hops = new Map<number, number>();
    for (const loaded of loadedRooms) {
      const g = loaded.room.stateGroup;
      if (g !== null && !hops.has(g)) hops.set(g, await this.groups.hops(g));
    }
    for (const loaded of loadedRooms) {
      const roomId = loaded.room.roomId;
      const version = lookupRoomVersion(loaded.room.roomVersion);
      // Loaded by someone else meanwhile (a send holds the newest): keep that one.
      if (!version || this.rooms.has(roomId)) continue;
      const state = new Map<string, StoredEvent>();
      for (const e of loaded.state) state.set(stateKeyOf(e.type, e.state_key!), e);
      const g = loaded.room.stateGroup;
      this.rooms.set(roomId, {
        roomId, version, state,
        group: g === null ? null : { id: g, hops: hops.get(g) ?? 0 },
        extremities: loaded.extremities.map((x) => ({ eventId: x.eventId, depth: x.depth })),
        depth: loaded.depth,
      });
    }
  }

  /** Records a room's new current state (the writer, under the room's lock, after the commit). */
  set(room: RoomState): void {
    this.rooms.set(room.roomId, room);
  }

  /**
   * Drops a room's cached state: the store said its forward extremities are not the cached ones
   * (another writer on the same database wrote to the room). The next `get` reads it again.
   */
  forget(roomId: string): void {
    this.rooms.delete(roomId);
  }

  /** The events of a state group, keyed like a room state. */
  async stateEvents(groupId: number | null): Promise<Map<string, StoredEvent>> {
    const ids = await this.groups.load(groupId);
    const out = new Map<string, StoredEvent>();
    if (ids.size === 0) return out;
    const byId = new Map((await this.store.getEvents([...ids.values()])).map((r) => [r.event.event_id, r.event]));
    for (const [k, id] of ids) {
      const e = byId.get(id);
      if (e) out.set(k, e);
    }
    return out;
  }

  private versionOf(roomId: string, id: string): RoomVersion {
    const version = lookupRoomVersion(id);
    if (!version) throw new MatrixError(500, 'M_UNKNOWN', `Room ${roomId} has unsupported version ${id}`);
    return version;
  }
}
