// The space hierarchy (matrix-spec: space_hierarchy.yaml#getSpaceHierarchy; client-server-api
// modules/spaces.md): a depth-first walk from a space over its m.space.child state events. Only
// m.space.child events with a non-empty `via` count (spaces.md: a child without `via` is removed);
// m.space.parent events are not followed (space_hierarchy.yaml: "Only m.space.child state events of
// the room are considered"). Children are ordered by `order`, then the child event's timestamp, then
// room ID (spaces.md "Ordering of children within a space"). A room is listed, and walked into, only
// when the user may see it (space_hierarchy.yaml `rooms`): joined or invited, public, knockable,
// restricted with an allowed room the user is joined to, or world_readable. Rooms this server does not
// have (on other servers: no federation yet) are left out. Loops are walked once.
//
// Pagination: a `next_batch` token names the walk's remaining stack, kept in memory for a few minutes
// with the parameters of the first request, which later pages may not change (400 M_INVALID_PARAM).
import type { Clock } from '../../clock.js';
import { forbidden, invalidParam } from '../../errors.js';
import type { EventRecord, RoomStore } from '../../storage/types.js';
import type { AuthContext } from '../accounts/events.js';
import { membershipOf } from '../auth-rules.js';
import type { JsonObject, StoredEvent } from '../events/types.js';
import { lookupIn, type RoomStateService, type RoomState } from './room-state.js';
import { randomToken } from '../ids.js';
import { publishedRoomChunk, type PublicRoomChunk } from './directory.js';

export const DEFAULT_HIERARCHY_LIMIT = 50;
export const MAX_HIERARCHY_LIMIT = 100;
export const MAX_HIERARCHY_DEPTH = 50;
const SESSION_LIFETIME_MS = 5 * 60 * 1000;

export interface HierarchyQuery {
  suggestedOnly: boolean;
  limit?: number;
  maxDepth?: number;
  from?: string;
}

export interface HierarchyRoom extends PublicRoomChunk {
  children_state: JsonObject[];
}

interface Pending {
  roomId: string;
  depth: number;
}

interface Session {
  userId: string;
  roomId: string;
  suggestedOnly: boolean;
  maxDepth: number;
  /** The walk's stack: the next room to visit last. */
  stack: Pending[];
  seen: Set<string>;
  expiresTs: number;
}

/** spaces.md: a valid `order` is a string of at most 50 characters from \x20 to \x7E. */
const validOrder = (v: unknown): v is string => typeof v === 'string' && v.length <= 50 && /^[\x20-\x7E]*$/.test(v);

const hasVia = (e: StoredEvent): boolean => Array.isArray(e.content.via) && e.content.via.length > 0 && e.content.via.every((v) => typeof v === 'string');

export class HierarchyService {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly store: RoomStore,
    private readonly roomState: RoomStateService,
    private readonly clock: Clock,
  ) {}

  /** GET /_matrix/client/v1/rooms/{roomId}/hierarchy (matrix-spec: space_hierarchy.yaml#getSpaceHierarchy). */
  async hierarchy(auth: AuthContext, roomId: string, q: HierarchyQuery): Promise<{ rooms: HierarchyRoom[]; next_batch?: string }> {
    const now = this.clock.now();
    for (const [token, s] of this.sessions) if (s.expiresTs <= now) this.sessions.delete(token);
    const limit = Math.min(q.limit ?? DEFAULT_HIERARCHY_LIMIT, MAX_HIERARCHY_LIMIT);
    let session: Session;
    if (q.from !== undefined) {
      const found = this.sessions.get(q.from);
      if (!found || found.userId !== auth.userId || found.roomId !== roomId) throw invalidParam('Unknown pagination token');
      if (found.suggestedOnly !== q.suggestedOnly || (q.maxDepth !== undefined && Math.min(q.maxDepth, MAX_HIERARCHY_DEPTH) !== found.maxDepth)) {
        throw invalidParam('suggested_only and max_depth cannot change during pagination');
      }
      this.sessions.delete(q.from);
      session = found;
    } else {
      const root = await this.roomState.get(roomId);
      if (!root || !(await this.maySee(auth.userId, root))) throw forbidden('You cannot view this room');
      session = {
        userId: auth.userId, roomId, suggestedOnly: q.suggestedOnly, maxDepth: Math.min(q.maxDepth ?? MAX_HIERARCHY_DEPTH, MAX_HIERARCHY_DEPTH),
        stack: [{ roomId, depth: 0 }], seen: new Set(), expiresTs: 0,
      };
    }

    const rooms: HierarchyRoom[] = [];
    while (session.stack.length > 0 && rooms.length < limit) {
      const next = session.stack.pop()!;
      if (session.seen.has(next.roomId)) continue;
      session.seen.add(next.roomId);
      const room = await this.roomState.get(next.roomId);
      // Unknown here (a room on another server), or not visible to this user: left out, not walked into.
      if (!room || !(await this.maySee(auth.userId, room))) continue;
      const children = await this.children(room, session.suggestedOnly);
      rooms.push({ ...publishedRoomChunk(room), children_state: children.map((c) => this.strippedChild(c)) });
      if (next.depth < session.maxDepth) {
        // Depth-first in child order: the first child is visited next, so it goes on the stack last.
        for (let i = children.length - 1; i >= 0; i--) {
          const child = children[i]!.event.state_key!;
          if (!session.seen.has(child)) session.stack.push({ roomId: child, depth: next.depth + 1 });
        }
      }
    }
    const out: { rooms: HierarchyRoom[]; next_batch?: string } = { rooms };
    if (session.stack.some((p) => !session.seen.has(p.roomId))) {
      const token = randomToken(12);
      session.expiresTs = now + SESSION_LIFETIME_MS;
      this.sessions.set(token, session);
      out.next_batch = token;
    }
    return out;
  }

  /** space_hierarchy.yaml `rooms`: who may see a room in the hierarchy. */
  private async maySee(userId: string, room: RoomState): Promise<boolean> {
    const lookup = lookupIn(room.state);
    const membership = membershipOf(userId, lookup);
    if (membership === 'join' || membership === 'invite') return true;
    if (membership === 'ban') return false;
    if (lookup('m.room.history_visibility', '')?.content.history_visibility === 'world_readable') return true;
    const joinRules = lookup('m.room.join_rules', '')?.content;
    const rule = joinRules?.join_rule;
    if (rule === 'public' || rule === 'knock' || rule === 'knock_restricted') return true;
    if (rule === 'restricted' && Array.isArray(joinRules?.allow)) {
      for (const a of joinRules.allow) {
        if (typeof a !== 'object' || a === null || Array.isArray(a) || a.type !== 'm.room_membership' || typeof a.room_id !== 'string') continue;
        if ((await this.store.getMembership(a.room_id, userId))?.membership === 'join') return true;
      }
    }
    return false;
  }

  /** The room's valid m.space.child events, in the spec's order, with their records (for timestamps). */
  private async children(room: RoomState, suggestedOnly: boolean): Promise<EventRecord[]> {
    const events = [...room.state.values()].filter((e) => e.type === 'm.space.child' && e.state_key !== undefined && e.state_key.startsWith('!') && hasVia(e)
      && (!suggestedOnly || e.content.suggested === true));
    if (events.length === 0) return [];
    const records = await this.store.getEvents(events.map((e) => e.event_id));
    return records.sort((a, b) => {
      const ao = validOrder(a.event.content.order) ? a.event.content.order : undefined;
      const bo = validOrder(b.event.content.order) ? b.event.content.order : undefined;
      if (ao !== undefined && bo === undefined) return -1;
      if (ao === undefined && bo !== undefined) return 1;
      if (ao !== undefined && bo !== undefined && ao !== bo) return ao < bo ? -1 : 1;
      if (a.event.origin_server_ts !== b.event.origin_server_ts) return a.event.origin_server_ts - b.event.origin_server_ts;
      return a.event.state_key! < b.event.state_key! ? -1 : a.event.state_key! > b.event.state_key! ? 1 : 0;
    });
  }

  /** StrippedChildStateEvent: the stripped state event with its origin_server_ts. */
  private strippedChild(r: EventRecord): JsonObject {
    const e = r.event;
    return { type: e.type, state_key: e.state_key!, content: e.content, sender: e.sender, origin_server_ts: e.origin_server_ts };
  }
}
