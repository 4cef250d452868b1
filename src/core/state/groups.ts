// State groups (spec/event-graph.md): the state of a room at any event is a group, a full snapshot or
// a delta on an earlier group. This service allocates group IDs, decides snapshot or delta (a snapshot
// every MAX_HOPS deltas, so reading any group folds at most MAX_HOPS + 1 groups), and keeps recently
// read groups in memory (bounded by their total number of entries).
import type { NewStateGroup, RoomStore } from '../../storage/types.js';
import type { StreamPositions } from '../stream.js';

/** Deltas between two snapshots. */
export const MAX_HOPS = 100;

/** `type\u0000state_key`, the key of a state map. */
export type StateKey = string;
/** A room state: state key -> event ID. */
export type StateMap = Map<StateKey, string>;

export const stateKeyOf = (type: string, stateKey: string): StateKey => `${type}\u0000${stateKey}`;

export function splitStateKey(key: StateKey): [string, string] {
  const i = key.indexOf('\u0000');
  return [key.slice(0, i), key.slice(i + 1)];
}

/** A group the caller already knows: its ID and how many deltas lie above its snapshot. */
export interface GroupRef {
  id: number;
  hops: number;
}

export class StateGroupService {
  /** Materialised groups, most recently used last; bounded by their total entries. */
  private readonly cache = new Map<number, StateMap>();
  private cachedEntries = 0;

  constructor(
    private readonly store: RoomStore,
    /** Group IDs (a counter like the stream positions; shared by every writer of the database). */
    private readonly ids: () => Promise<StreamPositions>,
    private readonly maxCachedEntries = 500_000,
  ) {}

  /** The whole state of a group (null: the empty state before a room's create event). */
  async load(groupId: number | null): Promise<StateMap> {
    if (groupId === null) return new Map();
    const hit = this.cache.get(groupId);
    if (hit) {
      this.cache.delete(groupId);
      this.cache.set(groupId, hit);
      return hit;
    }
    const state = await this.store.getStateGroup(groupId);
    this.remember(groupId, state);
    return state;
  }

  /** Some keys of a group (one indexed lookup per key; no materialisation). */
  async keys(groupId: number | null, keys: StateKey[]): Promise<StateMap> {
    if (groupId === null || keys.length === 0) return new Map();
    const hit = this.cache.get(groupId);
    if (hit) {
      const out: StateMap = new Map();
      for (const k of keys) {
        const v = hit.get(k);
        if (v !== undefined) out.set(k, v);
      }
      return out;
    }
    return this.store.getStateGroupKeys(groupId, keys);
  }

  async hops(groupId: number | null): Promise<number> {
    if (groupId === null) return 0;
    return (await this.store.getStateGroupHops(groupId)) ?? 0;
  }

  /**
   * A new group for `state`, given as a delta on `base` (the group it was derived from). Written as a
   * delta while the chain is short, else as a full snapshot (`full` must then be the whole state, or a
   * function that computes it). The caller stores the returned group with its event.
   */
  async create(
    roomId: string,
    base: GroupRef | null,
    delta: Map<StateKey, string | null>,
    full: StateMap | (() => Promise<StateMap>),
  ): Promise<{ group: NewStateGroup; ref: GroupRef }> {
    const ids = await this.ids();
    await ids.available();
    const id = ids.next();
    if (base !== null && base.hops < MAX_HOPS) {
      const entries = [...delta].map(([k, v]): [string, string, string | null] => [...splitStateKey(k), v]);
      return { group: { id, roomId, prevGroup: base.id, hops: base.hops + 1, entries }, ref: { id, hops: base.hops + 1 } };
    }
    const state = typeof full === 'function' ? await full() : full;
    const entries = [...state].map(([k, v]): [string, string, string | null] => [...splitStateKey(k), v]);
    this.remember(id, state);
    return { group: { id, roomId, prevGroup: null, hops: 0, entries }, ref: { id, hops: 0 } };
  }

  /** Tells the cache the whole state of a group the caller built (a new group, or one it loaded otherwise). */
  remember(groupId: number, state: StateMap): void {
    if (state.size > this.maxCachedEntries / 4) return; // a giant state would evict everything else
    this.cache.set(groupId, state);
    this.cachedEntries += state.size;
    while (this.cachedEntries > this.maxCachedEntries) {
      const oldest = this.cache.keys().next();
      if (oldest.done) break;
      this.cachedEntries -= this.cache.get(oldest.value)!.size;
      this.cache.delete(oldest.value);
    }
  }
}
