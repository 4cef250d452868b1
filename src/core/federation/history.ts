// A room's events and state for other servers (matrix-spec: server-server/events.yaml,
// event_auth.yaml, backfill.yaml; server-server-api "Retrieving events", "Backfilling and retrieving
// missing events"). Only servers with a member in the room (joined, invited, or one who left) and
// allowed by its ACL are answered; rejected events are never served, server-generated events
// (outside the graph) never either.
import type { Clock } from '../../clock.js';
import { forbidden, MatrixError, notFound } from '../../errors.js';
import type { EventRecord, RoomStore } from '../../storage/types.js';
import { pduOf, type JsonObject } from '../../wire.js';
import type { RoomState, RoomStateService } from '../rooms/room-state.js';
import type { StateGroupService } from '../state/groups.js';
import { roomAllowsServer, serversInRoom } from './room-servers.js';

/** Most events one answer carries (backfill, get_missing_events). */
export const MAX_HISTORY_EVENTS = 100;
/** Most events of an auth chain (a room's whole auth history is rarely more). */
const MAX_AUTH_CHAIN = 50_000;

const servable = (r: EventRecord | undefined): r is EventRecord => r !== undefined && !r.serverLocal && !r.graph?.rejected;

export class FederationHistory {
  constructor(
    private readonly serverName: string,
    private readonly store: RoomStore,
    private readonly roomState: RoomStateService,
    private readonly groups: StateGroupService,
    private readonly clock: Clock,
  ) {}

  /** The room, if `origin` may read it: known here, allowed by its ACL, with a member of `origin`. */
  async roomFor(origin: string, roomId: string): Promise<RoomState> {
    const room = await this.roomState.get(roomId);
    if (!room || room.state.size === 0) throw notFound('Unknown room');
    if (!roomAllowsServer(room, origin)) throw forbidden('The room\'s server ACL does not allow your server');
    if (!serversInRoom(room, ['join', 'invite', 'leave', 'knock', 'ban']).has(origin)) throw forbidden('Your server has no member in this room');
    return room;
  }

  private async eventIn(roomId: string, eventId: string): Promise<EventRecord> {
    const r = await this.store.getEvent(eventId);
    if (!servable(r) || r.event.room_id !== roomId) throw notFound('Unknown event');
    return r;
  }

  /** GET /event/{eventId} (matrix-spec: events.yaml#getEvent). */
  async event(origin: string, eventId: string): Promise<JsonObject> {
    const r = await this.store.getEvent(eventId);
    if (!servable(r)) throw notFound('Unknown event');
    await this.roomFor(origin, r.event.room_id);
    return { origin: this.serverName, origin_server_ts: this.clock.now(), pdus: [pduOf(r.event) as unknown as JsonObject] };
  }

  /** The state just before or just after a stored graph event (type\0state_key -> event ID). */
  async stateIdsAt(r: EventRecord, which: 'before' | 'after'): Promise<Map<string, string>> {
    return this.groups.load((which === 'before' ? r.graph?.stateBefore : r.graph?.stateAfter) ?? null);
  }

  /** The state before an event (its `state_before` group), as event IDs. */
  private async stateIdsBefore(r: EventRecord): Promise<string[]> {
    if (r.graph?.outlier) throw notFound('The state at that event is not known here');
    return [...(await this.groups.load(r.graph?.stateBefore ?? null)).values()];
  }

  /** GET /state/{roomId}?event_id= (matrix-spec: events.yaml#getRoomState): the state before the event and its auth chain. */
  async state(origin: string, roomId: string, eventId: string): Promise<JsonObject> {
    await this.roomFor(origin, roomId);
    const ids = await this.stateIdsBefore(await this.eventIn(roomId, eventId));
    const state = (await this.store.getEvents(ids)).filter(servable);
    const chain = await this.authChain(state.map((r) => r.event.event_id));
    return { pdus: state.map((r) => pduOf(r.event) as unknown as JsonObject), auth_chain: chain.map((r) => pduOf(r.event) as unknown as JsonObject) };
  }

  /** GET /state_ids/{roomId}?event_id= (matrix-spec: events.yaml#getRoomStateIds). */
  async stateIds(origin: string, roomId: string, eventId: string): Promise<JsonObject> {
    await this.roomFor(origin, roomId);
    const ids = await this.stateIdsBefore(await this.eventIn(roomId, eventId));
    const chain = await this.authChain(ids);
    return { pdu_ids: ids, auth_chain_ids: chain.map((r) => r.event.event_id) };
  }

  /** GET /event_auth/{roomId}/{eventId} (matrix-spec: event_auth.yaml#getEventAuth): the event's full auth chain. */
  async eventAuth(origin: string, roomId: string, eventId: string): Promise<JsonObject> {
    await this.roomFor(origin, roomId);
    const r = await this.eventIn(roomId, eventId);
    // The event's auth events and their chains: authChain of [event] minus the event itself.
    const chain = (await this.authChain([r.event.event_id])).filter((c) => c.event.event_id !== eventId);
    return { auth_chain: chain.map((c) => pduOf(c.event) as unknown as JsonObject) };
  }

  /**
   * The auth chain of some events: their auth events, theirs, and so on (the events themselves
   * included when they are auth events of one another), oldest first.
   */
  async authChain(eventIds: string[]): Promise<EventRecord[]> {
    const seen = new Map<string, EventRecord>();
    let frontier = [...new Set(eventIds)];
    const roots = new Set(eventIds);
    const inChain = new Set<string>();
    while (frontier.length > 0 && seen.size < MAX_AUTH_CHAIN) {
      const records = (await this.store.getEvents(frontier.filter((id) => !seen.has(id)))).filter(servable);
      const next: string[] = [];
      for (const r of records) {
        seen.set(r.event.event_id, r);
        for (const a of r.event.auth_events) {
          inChain.add(a);
          if (!seen.has(a)) next.push(a);
        }
      }
      frontier = [...new Set(next)];
    }
    return [...seen.values()]
      .filter((r) => !roots.has(r.event.event_id) || inChain.has(r.event.event_id))
      .sort((a, b) => a.event.depth - b.event.depth || (a.event.event_id < b.event.event_id ? -1 : 1));
  }

  /**
   * GET /backfill/{roomId}?v=&limit= (matrix-spec: backfill.yaml#backfillRoom): the events `v` and
   * those before them, deepest first (a walk back over prev_events, always taking the deepest event
   * not taken yet), at most `limit`.
   */
  async backfill(origin: string, roomId: string, from: string[], limit: number): Promise<JsonObject> {
    await this.roomFor(origin, roomId);
    const max = Math.max(0, Math.min(limit, MAX_HISTORY_EVENTS));
    const out: EventRecord[] = [];
    const seen = new Set<string>();
    let queue: EventRecord[] = [];
    const enqueue = async (ids: string[]) => {
      const fresh = ids.filter((id) => !seen.has(id));
      for (const id of fresh) seen.add(id);
      const recs = (await this.store.getEvents(fresh)).filter((r) => servable(r) && r.event.room_id === roomId && !r.graph?.outlier);
      queue = [...queue, ...recs].sort((a, b) => b.event.depth - a.event.depth || (a.event.event_id < b.event.event_id ? -1 : 1));
    };
    await enqueue(from);
    while (out.length < max && queue.length > 0) {
      const r = queue.shift()!;
      out.push(r);
      await enqueue(r.event.prev_events);
    }
    return { origin: this.serverName, origin_server_ts: this.clock.now(), pdus: out.map((r) => pduOf(r.event) as unknown as JsonObject) };
  }

  /**
   * POST /get_missing_events/{roomId} (matrix-spec: events.yaml#getMissingPreviousEvents): walking
   * back from the prev events of `latest_events`, the events not in `earliest_events`, not below
   * `min_depth`, at most `limit`, oldest first.
   */
  async missingEvents(origin: string, roomId: string, body: { earliest: string[]; latest: string[]; limit: number; minDepth: number }): Promise<JsonObject> {
    await this.roomFor(origin, roomId);
    const max = Math.max(0, Math.min(body.limit, MAX_HISTORY_EVENTS));
    const stop = new Set(body.earliest);
    const seen = new Set<string>([...body.latest, ...body.earliest]);
    const out: EventRecord[] = [];
    let frontier: string[] = [];
    for (const r of (await this.store.getEvents(body.latest)).filter((x) => servable(x) && x.event.room_id === roomId)) frontier.push(...r.event.prev_events);
    while (frontier.length > 0 && out.length < max) {
      const ids = [...new Set(frontier)].filter((id) => !seen.has(id) && !stop.has(id));
      for (const id of ids) seen.add(id);
      const recs = (await this.store.getEvents(ids))
        .filter((r) => servable(r) && r.event.room_id === roomId && !r.graph?.outlier && r.event.depth >= body.minDepth)
        .sort((a, b) => b.event.depth - a.event.depth);
      frontier = [];
      for (const r of recs) {
        if (out.length >= max) break;
        out.push(r);
        frontier.push(...r.event.prev_events);
      }
    }
    out.sort((a, b) => a.event.depth - b.event.depth || (a.event.event_id < b.event.event_id ? -1 : 1));
    return { events: out.map((r) => pduOf(r.event) as unknown as JsonObject) };
  }
}

/** A room version the requesting server does not support (make_join's `ver`, invites). */
export function incompatibleRoomVersion(version: string): MatrixError {
  return new MatrixError(400, 'M_INCOMPATIBLE_ROOM_VERSION', `Your server does not support the room's version ${version}`, { room_version: version });
}
