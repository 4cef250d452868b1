// State resolution for room versions 10, 11 (rooms/v2 algorithm, rooms/fragments/v2-state-res.md) and
// 12 (rooms/v12 "State resolution": the same algorithm with an empty start for the power events and
// the conflicted state subgraph in the full conflicted set). `RoomVersion.stateResolution` says which.
//
// Pure domain code: events come from a `ResolutionSource`, asked in batches (one call per level of a
// breadth-first walk, never twice for the same ID), and memoised for the duration of one call. Costs
// are linear in the events reachable by `auth_events` from the states, which is dominated by the
// unconflicted state (walked once, breadth-first, to learn what every state's auth chain shares); the
// conflicted part, usually tiny, is where the ordering and the auth checks happen.
//
// Definitions and steps below quote the spec; "FCS" is the full conflicted set.
//
// Decisions where the spec is silent or where implementations differ (see also `isPowerEvent`):
// - Events a state names that the source does not know are left out of the full conflicted set (they
//   cannot be authorised), and so is a key whose only values are unknown; unknown auth events are
//   skipped wherever auth events are read.
// - Step 1 is read as written: X gets every event of the FCS that is in a power event's auth chain,
//   and the reverse topological power ordering puts x after y whenever y is in x's auth chain, also
//   when the auth path between them leaves the FCS. Synapse and ruma only walk auth edges inside the
//   FCS. For v12 both readings give the same X and order: there, an auth path between two FCS events
//   never leaves the FCS (its inner events are in the conflicted state subgraph, or in the auth
//   difference, or the end of the path would be in every auth chain). For v10/v11 they can differ when
//   an event of the conflicted state set is reachable from an FCS event only through events in every
//   state's auth chain.
// - Events of other rooms are not looked for: the auth rules refuse what they consult from another
//   room (rule 2.5, v12: 3.4), and the caller passes states of one room.
// - Rejected events (`ResolutionSource.isRejected`) are only kept out of the iterative auth checks as
//   the auth events an event brings along ("Rejected auth events are deliberately excluded"); a
//   rejected event that is itself being checked, or that is in the state being built, is handled like
//   any other ("handled as usual by the algorithm"). Synapse instead never re-admits rejected events.
import {
  AuthError,
  checkEventAuth,
  userPowerLevel,
  type AuthCheckOptions,
  type StateLookup,
} from '../auth-rules.js';
import type { StoredEvent } from '../events/types.js';
import { createEventIdForRoom, type RoomVersion } from '../room-versions.js';

/** `${type}\u0000${state_key}` */
export type StateKey = string;
/** A room state: state key -> event ID. */
export type StateMap = Map<StateKey, string>;

export const stateKey = (type: string, stateKey: string): StateKey => `${type}\u0000${stateKey}`;

export interface ResolutionSource {
  /**
   * Events by ID (those named by the states and everything in their auth chains). May be asked
   * repeatedly; batch where you can. Unknown IDs are simply absent from the answer.
   */
  fetchEvents(ids: string[]): Promise<Map<string, StoredEvent>>;
  /** Whether an event was rejected (rejected events are never used as auth events in iterative auth checks). Default: none are. */
  isRejected?(eventId: string): boolean;
}

/** Options of the auth rules that need more than the events (signature checks; see AuthCheckOptions). */
export type ResolutionAuthOptions = Pick<AuthCheckOptions, 'isSignedBy' | 'verifyThirdPartyInviteSignature'>;

/** One event of the iterative auth checks, in order: in step 2 (power events) or step 4 (the rest). */
export interface IterativeCheck {
  step: 2 | 4;
  eventId: string;
  /** Undefined when the event was applied to the state; the rule that refused it otherwise. */
  refused?: AuthError;
}

export interface ResolveOptions {
  /**
   * Passed to `checkEventAuth` in the iterative auth checks. Without `verifyThirdPartyInviteSignature`
   * invites by third-party invite never pass (auth rule 4.4.1.7, v12: 5.4.1.7).
   */
  auth?: ResolutionAuthOptions;
  /** Told about each event of the iterative auth checks, in order (for logs and tests). */
  observe?: (check: IterativeCheck) => void;
}

/**
 * The resolution of `states` (rooms/v2 and rooms/v12 "State resolution", "Algorithm"). The states are
 * not modified; the result is a new map. With fewer than two states, or identical ones, that is a copy.
 */
export async function resolveState(
  version: RoomVersion,
  states: StateMap[],
  source: ResolutionSource,
  options: ResolveOptions = {},
): Promise<StateMap> {
  if (states.length === 0) return new Map();
  if (states.length === 1 || states.every((s) => sameState(s, states[0]!))) return new Map(states[0]);
  return new Resolution(version, source, options).resolve(states);
}

function sameState(a: StateMap, b: StateMap): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

const POWER_LEVELS = stateKey('m.room.power_levels', '');

/**
 * Power events: "a state event with type m.room.power_levels or m.room.join_rules, or a state event with
 * type m.room.member where the membership is leave or ban and the sender does not match the state_key."
 *
 * Like Synapse and ruma (so that servers converge), power_levels and join_rules count only with the
 * state key '' (the only ones the auth rules read), and m.room.create with state key '' counts too. The
 * spec does not list m.room.create; it only reaches the full conflicted set when the states disagree
 * about the room's very first event, and then it sorts first either way (it is in every auth chain).
 */
function isPowerEvent(ev: StoredEvent): boolean {
  if (ev.state_key === undefined) return false;
  if (ev.type === 'm.room.power_levels' || ev.type === 'm.room.join_rules' || ev.type === 'm.room.create') {
    return ev.state_key === '';
  }
  if (ev.type === 'm.room.member') {
    const membership = ev.content['membership'];
    return (membership === 'leave' || membership === 'ban') && ev.sender !== ev.state_key;
  }
  return false;
}

/** One call of resolveState: the event cache and the steps of the algorithm. */
class Resolution {
  private readonly events = new Map<string, StoredEvent>();
  /** IDs the source was asked for and does not know. */
  private readonly unknown = new Set<string>();
  private readonly v21: boolean;

  constructor(
    private readonly version: RoomVersion,
    private readonly source: ResolutionSource,
    private readonly options: ResolveOptions,
  ) {
    this.v21 = version.stateResolution === 'v2.1';
  }

  async resolve(states: StateMap[]): Promise<StateMap> {
    // "Unconflicted state map and conflicted state set. ... If a given key K is present in every Si with
    // the same value V in each state map, then the pair (K, V) belongs to the unconflicted state map.
    // Otherwise, V belongs to the conflicted state set."
    const { unconflicted, conflicted } = separate(states);
    if (conflicted.size === 0) return unconflicted; // unreachable unless states are equal: kept for safety

    await this.load(states.flatMap((s) => [...s.values()]));

    // "Full conflicted set": the conflicted state set, the auth difference and (v12) the conflicted state
    // subgraph; only events the source knows.
    const fcs = new Set<string>();
    for (const id of conflicted) if (this.events.has(id)) fcs.add(id);
    for (const id of await this.authDifference(states, unconflicted)) fcs.add(id);
    if (this.v21) for (const id of await this.conflictedSubgraph(conflicted)) fcs.add(id);
    for (const id of fcs) if (!this.events.has(id)) fcs.delete(id);

    // Step 1. "Select the set X of all power events that appear in the full conflicted set. For each such
    // power event P, enlarge X by adding the events in the auth chain of P which also belong to the full
    // conflicted set. Sort X into a list using the reverse topological power ordering."
    const powerEvents = [...fcs].filter((id) => isPowerEvent(this.events.get(id)!));
    const closure = await this.authClosure(powerEvents);
    const x = new Set(powerEvents);
    for (const id of closure) if (fcs.has(id)) x.add(id);
    await this.loadCreateEvents(fcs);
    const sortedPower = await this.reverseTopologicalPowerOrder(x);

    // Step 2. "Apply the iterative auth checks algorithm, starting from the unconflicted state map (v12:
    // starting from an empty state map), to the list of events from the previous step to get a
    // partially resolved state."
    const partial = this.iterativeAuthChecks(this.v21 ? new Map() : new Map(unconflicted), sortedPower, 2);

    // Step 3. "Take all remaining events that weren't picked in step 1 and order them by the mainline
    // ordering based on the power level in the partially resolved state obtained in step 2."
    const remaining = [...fcs].filter((id) => !x.has(id));
    const sortedRemaining = await this.mainlineOrder(remaining, partial.get(POWER_LEVELS));

    // Step 4. "Apply the iterative auth checks algorithm on the partial resolved state and the list of
    // events from the previous step."
    const resolved = this.iterativeAuthChecks(partial, sortedRemaining, 4);

    // Step 5. "Update the result by replacing any event with the event with the same key from the
    // unconflicted state map, if such an event exists, to get the final resolved state."
    for (const [k, id] of unconflicted) resolved.set(k, id);
    return resolved;
  }

  // ---- events --------------------------------------------------------------------------------------

  /** Fetches, in one call, those of `ids` not yet cached nor known to be unknown. */
  private async load(ids: Iterable<string>): Promise<void> {
    const wanted = new Set<string>();
    for (const id of ids) if (!this.events.has(id) && !this.unknown.has(id)) wanted.add(id);
    if (wanted.size === 0) return;
    const found = await this.source.fetchEvents([...wanted]);
    for (const id of wanted) {
      const ev = found.get(id);
      if (ev) this.events.set(id, ev);
      else this.unknown.add(id);
    }
  }

  private isRejected(id: string): boolean {
    return this.source.isRejected?.(id) ?? false;
  }

  /** The known auth events of a (known) event. */
  private authEventsOf(ev: StoredEvent): StoredEvent[] {
    const out: StoredEvent[] = [];
    for (const id of ev.auth_events) {
      const ae = this.events.get(id);
      if (ae) out.push(ae);
    }
    return out;
  }

  /** v12: the create event the event's room ID names (loaded by `loadCreateEvents`); none for a create event. */
  private createEventFor(ev: StoredEvent): StoredEvent | undefined {
    if (ev.type === 'm.room.create') return undefined;
    const id = createEventIdForRoom(ev.room_id, this.version);
    return id === undefined ? undefined : this.events.get(id);
  }

  /** v12: loads the create events named by the room IDs of `ids` (there is normally exactly one). */
  private async loadCreateEvents(ids: Iterable<string>): Promise<void> {
    if (!this.version.roomIdFromCreateEvent) return;
    const createIds = new Set<string>();
    for (const id of ids) {
      const ev = this.events.get(id);
      const createId = ev && ev.type !== 'm.room.create' ? createEventIdForRoom(ev.room_id, this.version) : undefined;
      if (createId !== undefined) createIds.add(createId);
    }
    await this.load(createIds);
  }

  // ---- auth chains ---------------------------------------------------------------------------------

  /**
   * "Auth chain": the events reachable from `starts` by `auth_events` links (the starts themselves only
   * if reachable from another start), walked breadth-first with one fetch per level. The walk does not
   * enter `stopAt` (an auth chain already known: everything below it is in it too).
   */
  private async authClosure(starts: Iterable<string>, stopAt?: ReadonlySet<string>): Promise<Set<string>> {
    const reached = new Set<string>();
    let frontier = [...new Set(starts)];
    while (frontier.length > 0) {
      await this.load(frontier);
      const next: string[] = [];
      for (const id of frontier) {
        const ev = this.events.get(id);
        if (!ev) continue;
        for (const a of ev.auth_events) {
          if (reached.has(a) || stopAt?.has(a)) continue;
          reached.add(a);
          next.push(a);
        }
      }
      frontier = next;
    }
    return reached;
  }

  /**
   * "Auth difference": with Ci the full auth chain of state Si (the union of the auth chains of its
   * events), ∪Ci − ∩Ci.
   *
   * Computed without building each Ci: the auth chain U of the unconflicted events is in every Ci, so
   * with Di = the auth chain of Si's conflicted events, Ci = U ∪ Di and ∪Ci − ∩Ci = (∪Di − U) − ∩Di.
   * U is walked once; each Di only down to where it meets U.
   */
  private async authDifference(states: StateMap[], unconflicted: StateMap): Promise<Set<string>> {
    const shared = await this.authClosure(unconflicted.values());
    const perState: Set<string>[] = [];
    for (const s of states) {
      const own = [...s].filter(([k, id]) => unconflicted.get(k) !== id).map(([, id]) => id);
      perState.push(await this.authClosure(own, shared));
    }
    const diff = new Set<string>();
    for (const d of perState) {
      for (const id of d) if (!perState.every((other) => other.has(id))) diff.add(id);
    }
    return diff;
  }

  /**
   * v12 "Conflicted state subgraph": every event on an `auth_events` path from one event of the
   * conflicted state set to another (endpoints included): the events in the auth chain of a conflicted
   * event whose own auth chain holds a conflicted event.
   */
  private async conflictedSubgraph(conflicted: ReadonlySet<string>): Promise<Set<string>> {
    const below = await this.authClosure(conflicted);
    // reaches(n): n's auth chain holds a conflicted event. Settled in post-order (auth events first) by
    // an explicit stack, since auth chains can be deep.
    const reaches = new Map<string, boolean>();
    for (const root of below) {
      if (reaches.has(root)) continue;
      const stack: Array<[string, number]> = [[root, 0]];
      const onStack = new Set<string>([root]);
      while (stack.length > 0) {
        const top = stack[stack.length - 1]!;
        const ev = this.events.get(top[0]);
        const auth = ev ? ev.auth_events : [];
        if (top[1] < auth.length) {
          const a = auth[top[1]++]!;
          if (!reaches.has(a) && !onStack.has(a) && this.events.has(a)) {
            stack.push([a, 0]);
            onStack.add(a);
          }
          continue;
        }
        stack.pop();
        onStack.delete(top[0]);
        reaches.set(top[0], auth.some((a) => conflicted.has(a) || reaches.get(a) === true));
      }
    }
    const subgraph = new Set<string>(conflicted);
    for (const id of below) if (reaches.get(id)) subgraph.add(id);
    return subgraph;
  }

  // ---- orderings -----------------------------------------------------------------------------------

  /**
   * "Reverse topological power ordering": the lexicographically smallest topological ordering of `set`
   * by the auth events DAG, earliest first, by Kahn's algorithm picking at each step the smallest
   * candidate under: x < y if x's sender has the greater power level (looking at x's and y's own
   * auth_events), then the smaller origin_server_ts, then the smaller event_id.
   *
   * x must come after y when y is in x's auth chain. The edges used are x -> its nearest members of
   * `set` along auth_events (walking through events outside `set`), which order `set` exactly as its
   * auth chains do without a quadratic edge list.
   */
  private async reverseTopologicalPowerOrder(set: ReadonlySet<string>): Promise<string[]> {
    // Every auth chain read below is loaded: `set` lies within the power events and their auth chains.
    const nearest = new Map<string, ReadonlySet<string>>();
    const nearestOf = (start: string): ReadonlySet<string> => {
      // Iterative post-order over the auth events outside `set` below `start`.
      const stack: Array<[string, number]> = [[start, 0]];
      const onStack = new Set<string>([start]);
      while (stack.length > 0) {
        const top = stack[stack.length - 1]!;
        const auth = this.events.get(top[0])?.auth_events ?? [];
        if (top[1] < auth.length) {
          const a = auth[top[1]++]!;
          if (!set.has(a) && !nearest.has(a) && !onStack.has(a) && this.events.has(a)) {
            stack.push([a, 0]);
            onStack.add(a);
          }
          continue;
        }
        stack.pop();
        onStack.delete(top[0]);
        const found = new Set<string>();
        for (const a of auth) {
          if (set.has(a)) found.add(a);
          else for (const n of nearest.get(a) ?? []) found.add(n);
        }
        // Members of `set` are memoised too, but as their own entry point they must not be confused
        // with a non-member's pass-through result: only non-members are cached.
        if (!set.has(top[0])) nearest.set(top[0], found);
        if (stack.length === 0) return found;
      }
      return new Set();
    };

    const dependents = new Map<string, string[]>();
    const pending = new Map<string, number>();
    for (const id of set) {
      const preds = nearestOf(id);
      pending.set(id, preds.size);
      for (const p of preds) {
        const list = dependents.get(p);
        if (list) list.push(id);
        else dependents.set(p, [id]);
      }
    }

    const power = new Map<string, number>();
    for (const id of set) power.set(id, this.senderPowerFromAuthEvents(this.events.get(id)!));
    const smaller = (a: string, b: string): boolean => {
      const pa = power.get(a)!;
      const pb = power.get(b)!;
      if (pa !== pb) return pa > pb;
      const ta = this.events.get(a)!.origin_server_ts;
      const tb = this.events.get(b)!.origin_server_ts;
      if (ta !== tb) return ta < tb;
      return a < b;
    };

    const ready = new Heap<string>(smaller);
    for (const [id, n] of pending) if (n === 0) ready.push(id);
    const sorted: string[] = [];
    while (ready.size > 0) {
      const id = ready.pop()!;
      sorted.push(id);
      for (const d of dependents.get(id) ?? []) {
        const n = pending.get(d)! - 1;
        pending.set(d, n);
        if (n === 0) ready.push(d);
      }
    }
    // A cycle (impossible with hashed event IDs) would leave events out; they are dropped.
    return sorted;
  }

  /** The power level of `ev`'s sender "when looking at their respective auth_events" (v12: plus the create event). */
  private senderPowerFromAuthEvents(ev: StoredEvent): number {
    const byKey = new Map<StateKey, StoredEvent>();
    for (const ae of this.authEventsOf(ev)) if (ae.state_key !== undefined) byKey.set(stateKey(ae.type, ae.state_key), ae);
    const create = this.createEventFor(ev);
    if (create) byKey.set(stateKey('m.room.create', ''), create);
    return userPowerLevel(ev.sender, (t, k) => byKey.get(stateKey(t, k)), this.version);
  }

  /** The m.room.power_levels event (state key '') among `ev`'s auth events, if any. */
  private powerLevelsAuthEvent(ev: StoredEvent): StoredEvent | undefined {
    for (const ae of this.authEventsOf(ev)) if (ae.type === 'm.room.power_levels' && ae.state_key === '') return ae;
    return undefined;
  }

  /**
   * "Mainline ordering" based on the power_levels event `powerLevelsId`: its mainline P0 (the event),
   * P1 (the power_levels event in P0's auth_events), ... Pn; the mainline position of an event e is the
   * i of the first Pi met walking e1, e2, ... (the power_levels events in the auth_events of e, of e1,
   * ...; e itself excluded), or ∞. x < y if x's position is greater, then by origin_server_ts, then by
   * event_id. Walks are memoised per power_levels event and advanced together, one fetch per step.
   */
  private async mainlineOrder(ids: string[], powerLevelsId: string | undefined): Promise<string[]> {
    if (ids.length === 0) return [];
    const position = new Map<string, number>();
    let i = 0;
    for (let p = powerLevelsId; p !== undefined && !position.has(p); i++) {
      await this.load([p]);
      const ev = this.events.get(p);
      if (!ev) break;
      position.set(p, i);
      await this.load(ev.auth_events);
      p = this.powerLevelsAuthEvent(ev)?.event_id;
    }

    // Each walk: the event it is for, and the power_levels events met so far that are not settled.
    interface Walk { cursor: StoredEvent; path: string[]; seen: Set<string> }
    const walks = new Map<string, Walk>();
    const result = new Map<string, number>();
    for (const id of ids) walks.set(id, { cursor: this.events.get(id)!, path: [], seen: new Set() });
    while (walks.size > 0) {
      await this.load([...walks.values()].flatMap((w) => w.cursor.auth_events));
      for (const [id, w] of walks) {
        const next = this.powerLevelsAuthEvent(w.cursor);
        let settled: number | undefined;
        if (next === undefined || w.seen.has(next.event_id)) settled = Infinity;
        else settled = position.get(next.event_id);
        if (settled === undefined) {
          w.path.push(next!.event_id);
          w.seen.add(next!.event_id);
          w.cursor = next!;
          continue;
        }
        for (const p of w.path) if (!position.has(p)) position.set(p, settled);
        result.set(id, settled);
        walks.delete(id);
      }
    }

    const ts = (id: string): number => this.events.get(id)!.origin_server_ts;
    return [...ids].sort((a, b) => {
      const pa = result.get(a)!;
      const pb = result.get(b)!;
      if (pa !== pb) return pa > pb ? -1 : 1; // the greater mainline position sorts first
      if (ts(a) !== ts(b)) return ts(a) < ts(b) ? -1 : 1;
      return a < b ? -1 : a > b ? 1 : 0;
    });
  }

  // ---- iterative auth checks -----------------------------------------------------------------------

  /**
   * "Iterative auth checks": for each event in order, apply it to the room state if the authorisation
   * rules allow it against that state, otherwise ignore it. "If a (event_type, state_key) key that is
   * required for checking the authorisation rules is not present in the state, then the appropriate state
   * event from the event's auth_events is used if the auth event is not rejected." Modifies and returns
   * `state`.
   */
  private iterativeAuthChecks(state: StateMap, order: string[], step: 2 | 4): StateMap {
    for (const id of order) {
      const ev = this.events.get(id);
      if (!ev || ev.state_key === undefined) continue;
      const fromAuthEvents = new Map<StateKey, StoredEvent>();
      for (const ae of this.authEventsOf(ev)) {
        if (ae.state_key !== undefined && !this.isRejected(ae.event_id)) fromAuthEvents.set(stateKey(ae.type, ae.state_key), ae);
      }
      const lookup: StateLookup = (type, sk) => {
        const k = stateKey(type, sk);
        const current = state.get(k);
        const inState = current === undefined ? undefined : this.events.get(current);
        return inState ?? fromAuthEvents.get(k);
      };
      // v12: the create event is never among auth_events; the room ID names it (auth rule 2).
      const create = this.version.roomIdFromCreateEvent ? this.createEventFor(ev) : undefined;
      try {
        checkEventAuth(ev, lookup, this.version, {
          ...this.options.auth,
          ...(create && !this.isRejected(create.event_id) ? { createEvent: create } : {}),
        });
      } catch (err) {
        if (!(err instanceof AuthError)) throw err;
        this.options.observe?.({ step, eventId: id, refused: err });
        continue;
      }
      this.options.observe?.({ step, eventId: id });
      state.set(stateKey(ev.type, ev.state_key), id);
    }
    return state;
  }
}

/** The unconflicted state map and the conflicted state set (as event IDs) of `states`. */
function separate(states: StateMap[]): { unconflicted: StateMap; conflicted: Set<string> } {
  const unconflicted: StateMap = new Map();
  const conflicted = new Set<string>();
  const keys = new Set<StateKey>();
  for (const s of states) for (const k of s.keys()) keys.add(k);
  for (const k of keys) {
    const first = states[0]!.get(k);
    if (first !== undefined && states.every((s) => s.get(k) === first)) {
      unconflicted.set(k, first);
      continue;
    }
    for (const s of states) {
      const id = s.get(k);
      if (id !== undefined) conflicted.add(id);
    }
  }
  return { unconflicted, conflicted };
}

/** A binary min-heap under `less`. */
class Heap<T> {
  private readonly items: T[] = [];

  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let min = i;
        if (l < items.length && this.less(items[l]!, items[min]!)) min = l;
        if (r < items.length && this.less(items[r]!, items[min]!)) min = r;
        if (min === i) break;
        [items[i], items[min]] = [items[min]!, items[i]!];
        i = min;
      }
    }
    return top;
  }
}
