// Reading rooms: single events, history pages, context, members, state, with history visibility.
// (matrix-spec: rooms.yaml#getOneRoomEvent, #getRoomStateWithKey, #getRoomState, #getMembersByRoom,
//  #getJoinedMembersByRoom; message_pagination.yaml#getRoomEvents; event_context.yaml#getEventContext;
//  list_joined_rooms.yaml#getJoinedRooms; client-server-api modules/history_visibility.md)
//
// Tokens. `t<N>` names the point just after stream position N: paging backwards from it returns
// events with positions <= N, forwards events with positions > N. It is the same point a sync token
// `s<N>` names (core/tokens.ts), so /sync's prev_batch is accepted as `from`/`to`/`at` too.
//
// History visibility is worked out once per request as the list of position ranges the viewer may
// see (from the room's m.room.history_visibility history and the viewer's own m.room.member history,
// both short), so a /messages page is a handful of index range queries (store.getRoomEvents) over
// the visible ranges: it costs the same in a room of 100 events and of 1,000,000 events, and hidden
// stretches of history are skipped instead of being read and thrown away.
import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import { forbidden, invalidParam, MatrixError, notFound } from '../../errors.js';
import type { EventRecord, RoomStore } from '../../storage/types.js';
import type { AuthContext } from '../accounts/events.js';
import { clientFormatter, type ClientEvent, type Viewer } from '../events/client-format.js';
import type { JsonObject, StoredEvent } from '../events/types.js';
import { lookupIn, type RoomState, type RoomStateService } from './room-state.js';
import { eventMatches, type RoomEventFilter } from '../filters.js';
import { pagingToken, parsePagingToken, type TopologicalToken } from '../tokens.js';
import { compatSenderFor, DOMAIN_SENDERS_FILTER_KEY } from '../events/server-senders.js';

/** What the calling client said about itself (its session): it understands server-name senders. */
export interface ReadPrefs {
  domainSenders?: boolean;
}

export type Direction = 'b' | 'f';

export interface MessagesQuery {
  dir: Direction;
  from?: string;
  to?: string;
  limit: number;
  filter?: RoomEventFilter;
}

export interface MessagesResponse {
  start: string;
  end?: string;
  chunk: ClientEvent[];
  state?: ClientEvent[];
}

export interface ContextResponse {
  start: string;
  end: string;
  events_before: ClientEvent[];
  event: ClientEvent;
  events_after: ClientEvent[];
  state: ClientEvent[];
}

export interface MembersQuery {
  at?: string;
  membership?: string;
  notMembership?: string;
}

export const MAX_MESSAGES_LIMIT = 1000;
export const DEFAULT_MESSAGES_LIMIT = 10;
/** Memberships /members accepts in `membership` / `not_membership` (rooms.yaml#getMembersByRoom enum). */
export const MEMBERSHIPS = ['join', 'invite', 'knock', 'leave', 'ban'];

/** Highest position; stands for "no upper bound". */
const END = Number.MAX_SAFE_INTEGER - 1;


type HistoryVisibility = 'world_readable' | 'shared' | 'invited' | 'joined';

/** "By default if no history_visibility is set, or if the value is not understood, the visibility is assumed to be shared." */
function historyVisibilityOf(e: StoredEvent | null | undefined): HistoryVisibility {
  const v = e?.content.history_visibility;
  return v === 'world_readable' || v === 'invited' || v === 'joined' ? v : 'shared';
}

/** A member event's membership; a key that left the state (null) counts as leave. */
const membershipValue = (e: StoredEvent | null): string => (e !== null && typeof e.content.membership === 'string' ? e.content.membership : 'leave');

/**
 * modules/history_visibility.md "Server behaviour", for the state of the room at an event:
 * 1. world_readable: allow. 2. membership join: allow. 3. shared, and the user joined at any point
 * after the event: allow. 4. membership invite and invited: allow. 5. otherwise deny.
 */
function allowed(hv: HistoryVisibility, membership: string | undefined, joinedAfter: boolean): boolean {
  if (hv === 'world_readable') return true;
  if (membership === 'join') return true;
  if (hv === 'shared' && joinedAfter) return true;
  return hv === 'invited' && membership === 'invite';
}

/** What one user may see of one room's history. */
export class Visibility {
  constructor(
    /** Inclusive [lo, hi] position ranges, ascending and disjoint. */
    readonly ranges: [number, number][],
    /** The user's m.room.member history: (position, membership), oldest first. */
    private readonly memberships: { pos: number; membership: string }[],
  ) {}

  isVisible(pos: number): boolean {
    return this.rangeIndex(pos) >= 0;
  }

  /** The index of the range holding `pos`, or -(insertion point) - 1 when none does. */
  private rangeIndex(pos: number): number {
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.ranges[mid]!;
      if (pos < r[0]) hi = mid - 1;
      else if (pos > r[1]) lo = mid + 1;
      else return mid;
    }
    return -lo - 1;
  }

  /**
   * For an invisible position, where paging in `dir` finds visible history again: the end of the
   * visible range below it ('b') or the start of the one above it ('f'); undefined when there is none.
   */
  nextVisible(pos: number, dir: 'b' | 'f'): number | undefined {
    const i = this.rangeIndex(pos);
    if (i >= 0) return pos;
    const insertion = -i - 1;
    return dir === 'b' ? this.ranges[insertion - 1]?.[1] : this.ranges[insertion]?.[0];
  }

  /**
   * unsigned.membership (client_event_without_room_id.yaml): the user's membership "at the point of the
   * event, including any changes caused by the event", `leave` before they had any.
   */
  membershipAt(pos: number): string {
    let out = 'leave';
    for (const m of this.memberships) {
      if (m.pos > pos) break;
      out = m.membership;
    }
    return out;
  }

}

/**
 * Builds the visible ranges. The state is constant between two "change points" (an
 * m.room.history_visibility event or one of the user's own m.room.member events), and so is "the user
 * joined after the event" (joins are change points), so each stretch between change points is wholly
 * visible or not. The change points themselves follow the module's extra rules: an
 * m.room.history_visibility event is visible if the visibility before *or* after it allows it; the
 * user's own m.room.member event if their membership before *or* after it allows it (and, as Synapse
 * does, a leave that ends an invite or a join is always visible to its subject).
 */
export function computeVisibility(
  hvHistory: { event: StoredEvent | null; streamOrdering: number }[],
  memberHistory: { event: StoredEvent | null; streamOrdering: number }[],
): Visibility {
  type Change = { pos: number; hv?: HistoryVisibility; membership?: string };
  const changes: Change[] = [
    ...hvHistory.map((h) => ({ pos: h.streamOrdering, hv: historyVisibilityOf(h.event) })),
    ...memberHistory.map((m) => ({ pos: m.streamOrdering, membership: membershipValue(m.event) })),
  ].sort((a, b) => a.pos - b.pos);
  const joins = memberHistory.filter((m) => membershipValue(m.event) === 'join').map((m) => m.streamOrdering);
  const joinedAfter = (pos: number) => joins.some((j) => j > pos);

  const ranges: [number, number][] = [];
  const add = (lo: number, hi: number) => {
    if (lo > hi) return;
    const last = ranges[ranges.length - 1];
    if (last && last[1] >= lo - 1) last[1] = Math.max(last[1], hi);
    else ranges.push([lo, hi]);
  };

  let hv: HistoryVisibility = 'shared';
  let membership: string | undefined;
  // From the very beginning: history fetched later (backfill) has negative positions.
  let segStart = -END;
  for (const c of changes) {
    // The stretch before this change point: the state after the previous one.
    if (allowed(hv, membership, joinedAfter(c.pos - 1))) add(segStart, c.pos - 1);
    const hvBefore = hv;
    const memberBefore = membership;
    if (c.hv !== undefined) hv = c.hv;
    if (c.membership !== undefined) membership = c.membership;
    const after = joinedAfter(c.pos);
    let visible = allowed(hv, membership, after);
    if (!visible && c.hv !== undefined) visible = allowed(hvBefore, membership, after);
    if (!visible && c.membership !== undefined) {
      visible = allowed(hv, memberBefore, after)
        || ((membership === 'leave' || membership === 'ban') && (memberBefore === 'join' || memberBefore === 'invite'));
    }
    if (visible) add(c.pos, c.pos);
    segStart = c.pos + 1;
  }
  if (allowed(hv, membership, false)) add(segStart, END);
  return new Visibility(ranges, memberHistory.map((m) => ({ pos: m.streamOrdering, membership: membershipValue(m.event) })));
}

/** How a user may read a room right now. */
interface Access {
  room: RoomState;
  /** Positions after this are out of reach (a departed user's leave or ban), END otherwise. */
  cap: number;
}

/** Page of raw records from a scan and where the next page starts. */
interface Scan {
  events: EventRecord[];
  /** The place to continue from, when more may follow. */
  next?: TopologicalToken;
}

// A pagination token names a gap between two events of the room's topological order: (depth, arrival)
// stands for the gap just below the event at that place. Paging backwards from a gap returns the
// events below it, forwards the events above it (spec/event-graph.md).
/** The gaps below every event and above every event. */
const TOPO_START: TopologicalToken = { depth: -1, streamOrdering: 0 };
const TOPO_END: TopologicalToken = { depth: Number.MAX_SAFE_INTEGER, streamOrdering: Number.MAX_SAFE_INTEGER };
/** The gap just below an event, and the one just above it. */
const gapBelow = (r: EventRecord): TopologicalToken => ({ depth: r.event.depth, streamOrdering: r.streamOrdering });
const gapAbove = (r: EventRecord): TopologicalToken => ({ depth: r.event.depth, streamOrdering: r.streamOrdering + 1 });
/** Orders gaps like the places they stand below. */
const compareGaps = (a: TopologicalToken, b: TopologicalToken): number => a.depth - b.depth || a.streamOrdering - b.streamOrdering;
/** The gap past an event in a paging direction. */
const gapPast = (r: EventRecord, dir: Direction): TopologicalToken => (dir === 'b' ? gapBelow(r) : gapAbove(r));

export class RoomReader {
  constructor(
    readonly config: Config,
    readonly store: RoomStore,
    readonly currentState: RoomStateService,
    readonly clock: Clock,
    /**
     * Fetches older history of a room from other servers (federation's backfill; true when any event
     * was stored): /messages asks when it reaches the oldest event held here.
     */
    private readonly backfill?: (roomId: string, limit: number, gaps?: string[]) => Promise<boolean>,
  ) {}

  // ---- history visibility ---------------------------------------------------------------------

  /** The ranges of the room's history `userId` may see (history visibility only, no membership gate). */
  async visibility(userId: string, roomId: string): Promise<Visibility> {
    const [hv, member] = await Promise.all([
      this.store.getStateHistory(roomId, 'm.room.history_visibility', ''),
      this.store.getStateHistory(roomId, 'm.room.member', userId),
    ]);
    return computeVisibility(hv, member);
  }

  /** The records `userId` may see under history visibility, in their original order (used by /sync too). */
  async filterVisible(userId: string, roomId: string, records: EventRecord[]): Promise<EventRecord[]> {
    if (records.length === 0) return records;
    const vis = await this.visibility(userId, roomId);
    return records.filter((r) => r.event.room_id === roomId && vis.isVisible(r.streamOrdering));
  }

  /**
   * Who may read (matrix-spec: rooms.yaml 403 "You aren't a member of the room and weren't previously a
   * member of the room"): joined users see the room as it is; users who joined once and then left or
   * were banned see it up to their departure (unless they forgot it); anyone may read a
   * world_readable room (modules/history_visibility.md). Everyone else, and unknown rooms: 403.
   */
  private async access(userId: string, roomId: string): Promise<Access> {
    const room = await this.currentState.get(roomId);
    if (!room) throw forbidden('You are not a member of this room');
    const m = await this.store.getMembership(roomId, userId);
    if (m?.membership === 'join') return { room, cap: END };
    if ((m?.membership === 'leave' || m?.membership === 'ban') && !(await this.store.isForgotten(roomId, userId))) {
      const history = await this.store.getStateHistory(roomId, 'm.room.member', userId);
      if (history.some((h) => membershipValue(h.event) === 'join')) return { room, cap: m.streamOrdering };
    }
    if (historyVisibilityOf(lookupIn(room.state)('m.room.history_visibility', '')) === 'world_readable') {
      return { room, cap: END };
    }
    throw forbidden('You are not a member of this room');
  }

  // ---- formatting -----------------------------------------------------------------------------

  /** The viewer of a request: who, and how server-generated events' senders are shown (spec/server-events.md). */
  private viewerOf(auth: AuthContext, prefs: ReadPrefs, filter?: RoomEventFilter): Viewer {
    const understands = prefs.domainSenders === true || filter?.[DOMAIN_SENDERS_FILTER_KEY] === true;
    return { userId: auth.userId, deviceId: auth.deviceId, compatSender: compatSenderFor(this.config, understands) };
  }

  /** Client format for `viewer` (redacted_because, prev_content) and unsigned.membership when known. */
  private async format(viewer: Viewer, records: EventRecord[], vis?: Visibility): Promise<ClientEvent[]> {
    const format = await clientFormatter(this.store, viewer, this.clock.now(), records);
    return records.map((r) => {
      const ev = format(r);
      if (vis) ev.unsigned.membership = vis.membershipAt(r.streamOrdering);
      return ev;
    });
  }

  /** Records of state events, in stream order. */
  private async records(events: StoredEvent[]): Promise<EventRecord[]> {
    if (events.length === 0) return [];
    const recs = await this.store.getEvents(events.map((e) => e.event_id));
    return recs.sort((a, b) => a.streamOrdering - b.streamOrdering);
  }

  /** The room state the viewer sees: current, or as it was when they left. */
  private async visibleState(a: Access, roomId: string): Promise<StoredEvent[]> {
    if (a.cap === END) return [...a.room.state.values()];
    return this.store.getStateAt(roomId, a.cap);
  }

  // ---- paging ---------------------------------------------------------------------------------

  /**
   * Up to `limit` visible events after `from` (exclusive) in paging order through the room's
   * topological order (depth, then arrival: spec/event-graph.md), up to `to` (inclusive) when given.
   * `filter` types/senders go to the index query; history visibility, the reader's departure (`cap`)
   * and contains_url are checked after, within a scan budget so that a sparse match cannot make one
   * request read the whole room (the page is then short, with a token to carry on).
   */
  private async scan(
    roomId: string, vis: Visibility, cap: number, dir: Direction, from: TopologicalToken, to: TopologicalToken | undefined,
    limit: number, filter: RoomEventFilter | undefined,
  ): Promise<Scan> {
    // Empty `types`/`senders` lists allow nothing; `rooms`/`not_rooms` decide for the whole room.
    if (filter?.types?.length === 0 || filter?.senders?.length === 0) return { events: [] };
    if ((filter?.rooms && !filter.rooms.includes(roomId)) || filter?.not_rooms?.includes(roomId)) return { events: [] };
    const want = limit + 1; // one more than asked shows whether there is more
    let budget = 20 * want + 500;
    const picked: EventRecord[] = [];
    let at = from;
    let jumps = 0;
    for (;;) {
      if (limit === 0) {
        // Nothing asked: only whether there is more (an empty page, with a token when there is).
        const probe = await this.scan(roomId, vis, cap, dir, from, to, 1, filter);
        return probe.events.length > 0 ? { events: [], next: from } : { events: [] };
      }
      const batch = want - picked.length;
      const rows = await this.store.getRoomEventsTopological({
        roomId, dir, from: at, limit: batch, ...(to ? { to } : {}),
        ...(filter?.types ? { types: filter.types } : {}),
        ...(filter?.not_types ? { notTypes: filter.not_types } : {}),
        ...(filter?.senders ? { senders: filter.senders } : {}),
        ...(filter?.not_senders ? { notSenders: filter.not_senders } : {}),
      });
      budget -= rows.length;
      let jumped = false;
      for (const r of rows) {
        at = gapPast(r, dir);
        if (r.streamOrdering > cap || !vis.isVisible(r.streamOrdering)) {
          // A stretch of history the reader may not see: jump over it to the next visible stretch (its
          // events are contiguous in arrival order, and in a room written in order, in the graph too)
          // instead of reading it page by page. A few jumps per page at most; then plain scanning.
          const beyondCap = r.streamOrdering > cap;
          if (beyondCap && dir === 'f') continue; // arrived after the reader left: skipped one by one
          const target = vis.nextVisible(Math.min(r.streamOrdering, cap), dir);
          if (jumps < 8 && target !== undefined && target !== r.streamOrdering) {
            jumps++;
            const p = await this.store.getTopologicalPositionAt(roomId, dir === 'b' ? target : target - 1);
            const gap = p ? { depth: p.depth, streamOrdering: p.streamOrdering + 1 } : TOPO_START;
            // Only ever forwards in the paging direction.
            if (dir === 'b' ? compareGaps(gap, at) < 0 : compareGaps(gap, at) > 0) at = gap;
            jumped = true;
            break;
          }
          if (target === undefined) return { events: picked };
          continue;
        }
        // The index query already applied types/senders; this re-check also covers contains_url.
        if (!eventMatches(filter, { type: r.event.type, sender: r.event.sender, content: r.event.content })) continue;
        picked.push(r);
        if (picked.length === want) return { events: picked.slice(0, limit), next: gapPast(picked[limit - 1]!, dir) };
      }
      if (jumped) continue;
      if (rows.length < batch) return { events: picked }; // the room (or the range) is exhausted
      // Out of budget: hand back what was found and a token just past what was read.
      if (budget <= 0) return { events: picked, next: at };
    }
  }

  /** The gap above the room's newest event (or, for a departed reader, the newest one they saw). */
  private async newestGap(roomId: string, cap: number): Promise<TopologicalToken> {
    if (cap === END) {
      const top = await this.store.getRoomEventsTopological({ roomId, from: TOPO_END, dir: 'b', limit: 1 });
      return top[0] ? gapAbove(top[0]) : TOPO_START;
    }
    const p = await this.store.getTopologicalPositionAt(roomId, cap);
    return p ? { depth: p.depth, streamOrdering: p.streamOrdering + 1 } : TOPO_START;
  }

  /** A client's token as a place in the room's topological order (a stream position names the newest event at or before it). */
  private async place(roomId: string, token: string, name: string): Promise<TopologicalToken> {
    const t = parsePagingToken(token, name);
    if ('topological' in t) return t.topological;
    const p = await this.store.getTopologicalPositionAt(roomId, t.stream);
    // The gap just above that event: paging backwards from the token includes it.
    return p ? { depth: p.depth, streamOrdering: p.streamOrdering + 1 } : TOPO_START;
  }

  /** Member events of `senders` as of position `at` (lazy-loading, client-server-api "Lazy-loading room members"). */
  private async membersOf(roomId: string, senders: Iterable<string>, at: number): Promise<EventRecord[]> {
    const ids: string[] = [];
    for (const sender of new Set(senders)) {
      if (!sender.startsWith('@')) continue; // server-generated events have no member event
      const found = await this.store.getStateValueAt(roomId, 'm.room.member', sender, at);
      if (found) ids.push(found.event.event_id);
    }
    if (ids.length === 0) return [];
    return (await this.store.getEvents(ids)).sort((a, b) => a.streamOrdering - b.streamOrdering);
  }

  // ---- endpoints ------------------------------------------------------------------------------

  /** GET /rooms/{roomId}/event/{eventId} (matrix-spec: rooms.yaml#getOneRoomEvent): 404 when unknown or not visible. */
  async getEvent(auth: AuthContext, roomId: string, eventId: string, prefs: ReadPrefs = {}): Promise<ClientEvent> {
    const rec = await this.store.getEvent(eventId);
    // Outliers, rejected and soft-failed events are never shown to clients.
    if (!rec || rec.event.room_id !== roomId || rec.graph?.outlier || rec.graph?.rejected || rec.graph?.softFailed) throw notFound('Event not found');
    let a: Access;
    try {
      a = await this.access(auth.userId, roomId);
    } catch (e) {
      // The spec's only answer here is 404: "not found or you do not have permission to read this event".
      if (e instanceof MatrixError && e.errcode === 'M_FORBIDDEN') throw notFound('Event not found');
      throw e;
    }
    const vis = await this.visibility(auth.userId, roomId);
    if (rec.streamOrdering > a.cap || !vis.isVisible(rec.streamOrdering)) throw notFound('Event not found');
    const [ev] = await this.format(this.viewerOf(auth, prefs), [rec], vis);
    return ev!;
  }

  /** GET /rooms/{roomId}/messages (matrix-spec: message_pagination.yaml#getRoomEvents), in topological order. */
  async messages(auth: AuthContext, roomId: string, q: MessagesQuery, prefs: ReadPrefs = {}): Promise<MessagesResponse> {
    const a = await this.access(auth.userId, roomId);
    const viewer = this.viewerOf(auth, prefs, q.filter);
    const vis = await this.visibility(auth.userId, roomId);
    // "If [from] is not provided, the homeserver shall return a list of messages from the first or last
    // (per the value of the dir parameter) visible event in the room history for the requesting user."
    // A departed user's history ends with their departure.
    let from: TopologicalToken;
    if (q.from !== undefined) from = await this.place(roomId, q.from, 'from');
    else if (q.dir === 'f') from = TOPO_START;
    else from = await this.newestGap(roomId, a.cap);
    const to = q.to !== undefined ? await this.place(roomId, q.to, 'to') : undefined;
    let page = await this.scan(roomId, vis, a.cap, q.dir, from, to, q.limit, q.filter);
    // History this server lacks (a room joined over federation starts at the join; events sent while
    // none of our users was in it are missing): when the page reaches the start of what is held, or
    // crosses a gap (an event whose prev events are not stored), ask the room's other servers, then
    // read again.
    if (q.dir === 'b' && this.backfill) {
      const gaps = new Set(await this.store.getBackwardExtremities(roomId));
      if (gaps.size > 0) {
        const crossed = [...new Set(page.events.flatMap((r) => r.event.prev_events.filter((p) => gaps.has(p))))];
        const atStart = page.next === undefined && page.events.length < q.limit && to === undefined;
        if ((crossed.length > 0 || atStart) && (await this.backfill(roomId, q.limit, crossed.length > 0 ? crossed : undefined))) {
          page = await this.scan(roomId, vis, a.cap, q.dir, from, to, q.limit, q.filter);
        }
      }
    }
    const out: MessagesResponse = { start: q.from ?? pagingToken(from), chunk: await this.format(viewer, page.events, vis) };
    if (page.next !== undefined) out.end = pagingToken(page.next);
    if (q.filter?.lazy_load_members) {
      const newest = Math.max(0, ...page.events.map((r) => r.streamOrdering));
      out.state = await this.format(viewer, await this.membersOf(roomId, page.events.map((r) => r.event.sender), newest));
    }
    return out;
  }

  /** GET /rooms/{roomId}/context/{eventId} (matrix-spec: event_context.yaml#getEventContext). */
  async context(auth: AuthContext, roomId: string, eventId: string, limit: number, filter: RoomEventFilter | undefined, prefs: ReadPrefs = {}): Promise<ContextResponse> {
    const a = await this.access(auth.userId, roomId);
    const viewer = this.viewerOf(auth, prefs, filter);
    const rec = await this.store.getEvent(eventId);
    if (!rec || rec.event.room_id !== roomId || rec.graph?.outlier || rec.graph?.rejected || rec.graph?.softFailed) throw notFound('Event not found');
    const vis = await this.visibility(auth.userId, roomId);
    if (rec.streamOrdering > a.cap || !vis.isVisible(rec.streamOrdering)) throw notFound('Event not found');
    // The limit covers events_before and events_after together; the event itself is always returned.
    const beforeLimit = Math.floor(limit / 2);
    const afterLimit = limit - beforeLimit;
    const before = await this.scan(roomId, vis, a.cap, 'b', gapBelow(rec), undefined, beforeLimit, filter);
    const after = await this.scan(roomId, vis, a.cap, 'f', gapAbove(rec), undefined, afterLimit, filter);
    const earliest = before.events[before.events.length - 1] ?? rec;
    const last = after.events[after.events.length - 1] ?? rec;

    // "The state of the room at the last event returned": the state group after it, filtered like
    // the events (with lazy loading: every non-member state event, and the member events of the senders shown).
    let state = [...(await this.currentState.stateEvents(last.graph?.stateAfter ?? null)).values()];
    if (filter?.lazy_load_members) {
      const senders = new Set([rec, ...before.events, ...after.events].map((r) => r.event.sender));
      state = state.filter((e) => e.type !== 'm.room.member' || senders.has(e.state_key!));
    }
    state = state.filter((e) => eventMatches(filter, { type: e.type, sender: e.sender, room_id: roomId, content: e.content }));

    const [event] = await this.format(viewer, [rec], vis);
    return {
      // start: the gap below the earliest event returned; end: the gap above the last.
      start: pagingToken(gapBelow(earliest)),
      end: pagingToken(gapAbove(last)),
      events_before: await this.format(viewer, before.events, vis),
      event: event!,
      events_after: await this.format(viewer, after.events, vis),
      state: await this.format(viewer, await this.records(state)),
    };
  }

  /**
   * GET /rooms/{roomId}/members (matrix-spec: rooms.yaml#getMembersByRoom): current members for a
   * joined user, the members when they left for a departed one; `at` a token for the state at that
   * point (never past the departure). `membership` / `not_membership` together are an 'or'.
   */
  async members(auth: AuthContext, roomId: string, q: MembersQuery, prefs: ReadPrefs = {}): Promise<{ chunk: ClientEvent[] }> {
    const a = await this.access(auth.userId, roomId);
    const at = q.at !== undefined ? Math.min(await this.streamPositionOf(roomId, q.at), a.cap) : a.cap;
    const keep = (membership: string) => {
      if (q.membership === undefined && q.notMembership === undefined) return true;
      return (q.membership !== undefined && membership === q.membership) || (q.notMembership !== undefined && membership !== q.notMembership);
    };
    let recs: EventRecord[];
    if (at === END) {
      const members = (await this.store.getRoomMembers(roomId)).filter((m) => keep(m.membership));
      recs = members.length === 0 ? [] : (await this.store.getEvents(members.map((m) => m.eventId))).sort((x, y) => x.streamOrdering - y.streamOrdering);
    } else {
      const state = (await this.store.getStateAt(roomId, at)).filter((e) => e.type === 'm.room.member' && keep(membershipValue(e)));
      recs = await this.records(state);
    }
    return { chunk: await this.format(this.viewerOf(auth, prefs), recs) };
  }

  /** GET /rooms/{roomId}/joined_members (matrix-spec: rooms.yaml#getJoinedMembersByRoom): only for current members. */
  async joinedMembers(auth: AuthContext, roomId: string): Promise<{ joined: Record<string, JsonObject> }> {
    const m = await this.store.getMembership(roomId, auth.userId);
    if (m?.membership !== 'join') throw forbidden('You are not a member of this room');
    const members = await this.store.getRoomMembers(roomId, ['join']);
    const joined: Record<string, JsonObject> = {};
    for (const r of await this.store.getEvents(members.map((x) => x.eventId))) {
      const info: JsonObject = {};
      if (typeof r.event.content.displayname === 'string') info.display_name = r.event.content.displayname;
      if (typeof r.event.content.avatar_url === 'string') info.avatar_url = r.event.content.avatar_url;
      joined[r.event.state_key!] = info;
    }
    return { joined };
  }

  /** A token's stream position (`at` of /members): a topological gap counts as the arrival just below it. */
  private async streamPositionOf(_roomId: string, token: string): Promise<number> {
    const t = parsePagingToken(token, 'at');
    return 'topological' in t ? t.topological.streamOrdering - 1 : t.stream;
  }

  /** GET /joined_rooms (matrix-spec: list_joined_rooms.yaml#getJoinedRooms). */
  async joinedRooms(auth: AuthContext): Promise<{ joined_rooms: string[] }> {
    return { joined_rooms: (await this.store.getRoomsForUser(auth.userId, ['join'])).map((m) => m.roomId) };
  }

  /** GET /rooms/{roomId}/state (matrix-spec: rooms.yaml#getRoomState): current, or as at the user's departure. */
  async roomState(auth: AuthContext, roomId: string, prefs: ReadPrefs = {}): Promise<ClientEvent[]> {
    const a = await this.access(auth.userId, roomId);
    return this.format(this.viewerOf(auth, prefs), await this.records(await this.visibleState(a, roomId)));
  }

  /**
   * GET /rooms/{roomId}/state/{eventType}/{stateKey} (matrix-spec: rooms.yaml#getRoomStateWithKey):
   * the content, or with `format=event` the client-format event; 404 when that state is not set.
   */
  async stateEvent(auth: AuthContext, roomId: string, type: string, stateKey: string, format: 'content' | 'event', prefs: ReadPrefs = {}): Promise<JsonObject | ClientEvent> {
    const a = await this.access(auth.userId, roomId);
    let eventId: string | undefined;
    if (a.cap === END) {
      eventId = lookupIn(a.room.state)(type, stateKey)?.event_id;
    } else {
      eventId = (await this.store.getStateValueAt(roomId, type, stateKey, a.cap))?.event.event_id;
    }
    const rec = eventId !== undefined ? await this.store.getEvent(eventId) : undefined;
    if (!rec) throw notFound(`No ${type} state with key '${stateKey}' in this room`);
    if (format === 'content') return rec.event.content;
    const [ev] = await this.format(this.viewerOf(auth, prefs), [rec]);
    return ev!;
  }
}
