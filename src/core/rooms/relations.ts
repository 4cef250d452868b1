// Relations, threads, edits and reactions (matrix-spec: relations.yaml, threads_list.yaml; client-server-api
// "Forming relationships between events", modules/threading.md, event_replacements.md,
// event_annotations.md; spec/relations.md). Listing a parent's children and a room's threads, with
// the same history visibility as /messages (RoomReader), and the checks on sending related events.
import { badJson, invalidParam, MatrixError, notFound } from '../../errors.js';
import type { EventRecord, RoomStore } from '../../storage/types.js';
import { relationOf, type JsonObject } from '../../wire.js';
import type { AuthContext } from '../accounts/events.js';
import { redactEvent } from '../crypto/event-hashing.js';
import type { ClientEvent } from '../events/client-format.js';
import { MAIN_THREAD, threadOf } from '../events/indexing.js';
import { pagingToken, parsePagingToken, type TopologicalToken } from '../tokens.js';
import { gapPast, TOPO_END, TOPO_START, type Access, type ReadPrefs, type RoomReader } from './read.js';
import type { RoomStateService } from './room-state.js';

export const DEFAULT_RELATIONS_LIMIT = 5;
export const MAX_RELATIONS_LIMIT = 100;
/** relations.yaml `recurse`: "Homeservers SHOULD traverse at least 3 levels of relationships." */
export const RECURSION_DEPTH = 3;
export const DEFAULT_THREADS_LIMIT = 5;
export const MAX_THREADS_LIMIT = 100;

export interface RelationsRequest {
  relType?: string;
  eventType?: string;
  dir: 'b' | 'f';
  from?: string;
  to?: string;
  limit: number;
  /** undefined: the client did not say (then no recursion_depth in the answer). */
  recurse?: boolean;
}

export interface RelationsResponse {
  chunk: ClientEvent[];
  next_batch?: string;
  prev_batch?: string;
  recursion_depth?: number;
}

export interface ThreadsRequest {
  include: 'all' | 'participated';
  from?: string;
  limit: number;
}

export interface ThreadsResponse {
  chunk: ClientEvent[];
  next_batch?: string;
}

/** Rows read per request at most, whatever the visibility hides: the page is then short, with a token. */
const SCAN_BUDGET = 1000;

export class RelationsService {
  constructor(
    private readonly store: RoomStore,
    private readonly reader: RoomReader,
    private readonly roomState: RoomStateService,
    /** The users a user ignores (m.ignored_user_list). */
    private readonly ignoredBy: (userId: string) => Promise<Set<string>>,
  ) {}

  /** The room as the user may read it; rooms.yaml-style 403 becomes 404 where the spec has only that. */
  private async accessOr404(userId: string, roomId: string): Promise<Access> {
    try {
      return await this.reader.access(userId, roomId);
    } catch (e) {
      if (e instanceof MatrixError && e.errcode === 'M_FORBIDDEN') throw notFound('Event not found');
      throw e;
    }
  }

  private static shown(r: EventRecord | undefined, roomId: string): r is EventRecord {
    return r !== undefined && r.event.room_id === roomId && !r.graph?.outlier && !r.graph?.rejected && !r.graph?.softFailed;
  }

  /**
   * GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]] (matrix-spec:
   * relations.yaml#getRelatingEvents, #getRelatingEventsWithRelType, #getRelatingEventsWithRelTypeAndEventType):
   * the children the user may see, topologically newest first (dir b) or oldest first (dir f), from
   * users they do not ignore; 404 when the parent is unknown or not visible to them.
   */
  async relations(auth: AuthContext, roomId: string, eventId: string, q: RelationsRequest, prefs: ReadPrefs = {}): Promise<RelationsResponse> {
    const a = await this.accessOr404(auth.userId, roomId);
    const parent = await this.store.getEvent(eventId);
    const vis = await this.reader.visibility(auth.userId, roomId);
    if (!RelationsService.shown(parent, roomId) || parent.streamOrdering > a.cap || !vis.isVisible(parent.streamOrdering)) throw notFound('Event not found');
    const from = q.from !== undefined ? await this.reader.place(roomId, q.from, 'from') : q.dir === 'b' ? TOPO_END : TOPO_START;
    const to = q.to !== undefined ? await this.reader.place(roomId, q.to, 'to') : undefined;
    const depth = q.recurse === true ? RECURSION_DEPTH : 1;
    const ignored = await this.ignoredBy(auth.userId);
    const picked: EventRecord[] = [];
    let at: TopologicalToken = from;
    let budget = SCAN_BUDGET;
    let more = false;
    for (;;) {
      const batch = Math.min(q.limit + 1 - picked.length, budget);
      const rows = await this.store.getRelatingEvents({
        parentId: eventId, roomId, dir: q.dir, from: at, limit: batch, depth,
        ...(to ? { to } : {}), ...(q.relType !== undefined ? { relType: q.relType } : {}), ...(q.eventType !== undefined ? { eventType: q.eventType } : {}),
      });
      budget -= rows.length;
      for (const r of rows) {
        if (picked.length === q.limit) {
          more = true;
          break;
        }
        at = gapPast(r, q.dir);
        if (r.streamOrdering > a.cap || !vis.isVisible(r.streamOrdering) || ignored.has(r.event.sender)) continue;
        picked.push(r);
      }
      if (more || rows.length < batch) break;
      if (budget <= 0) {
        more = true; // a token just past what was read: the client carries on
        break;
      }
    }
    const out: RelationsResponse = { chunk: await this.reader.format(this.reader.viewerOf(auth, prefs), picked, vis, a.cap) };
    if (more) out.next_batch = pagingToken(at);
    if (q.from !== undefined) out.prev_batch = q.from;
    if (q.recurse !== undefined) out.recursion_depth = depth;
    return out;
  }

  /**
   * GET /rooms/{roomId}/threads (matrix-spec: threads_list.yaml#getThreadRoots): the room's thread
   * roots the user may see, ordered by their newest reply, newest first; `participated`: only those
   * they sent the root of or replied to. A root sent by a user they ignore is shown redacted.
   */
  async threads(auth: AuthContext, roomId: string, q: ThreadsRequest, prefs: ReadPrefs = {}): Promise<ThreadsResponse> {
    const a = await this.reader.access(auth.userId, roomId);
    let before: TopologicalToken | undefined;
    if (q.from !== undefined) {
      const t = parsePagingToken(q.from, 'from');
      if (!('topological' in t)) throw invalidParam('Unknown pagination token');
      before = t.topological;
    }
    const vis = await this.reader.visibility(auth.userId, roomId);
    const ignored = await this.ignoredBy(auth.userId);
    const roots: EventRecord[] = [];
    let more = false;
    let budget = SCAN_BUDGET;
    for (;;) {
      const batch = Math.min(q.limit + 1 - roots.length, budget);
      const threads = await this.store.getThreads(roomId, before, batch);
      budget -= threads.length;
      const records = new Map((await this.store.getEvents(threads.map((t) => t.threadId))).map((r) => [r.event.event_id, r]));
      const participated = q.include === 'participated'
        ? await this.store.parentsRelatedBy(threads.map((t) => t.threadId), 'm.thread', auth.userId)
        : undefined;
      for (const t of threads) {
        if (roots.length === q.limit) {
          more = true;
          break;
        }
        before = t.latest;
        const root = records.get(t.threadId);
        if (!RelationsService.shown(root, roomId) || root.streamOrdering > a.cap || !vis.isVisible(root.streamOrdering)) continue;
        if (participated && root.event.sender !== auth.userId && !participated.has(t.threadId)) continue;
        roots.push(root);
      }
      if (more || threads.length < batch) break;
      if (budget <= 0) {
        more = true;
        break;
      }
    }
    const room = await this.roomState.get(roomId);
    // threads_list.yaml: "If the thread root event was sent by an ignored user, the event is returned redacted".
    const shown = roots.map((r) => (ignored.has(r.event.sender) && room && r.redactedBy === null
      ? { ...r, event: { ...(redactEvent(r.event, room.version) as unknown as typeof r.event), event_id: r.event.event_id } }
      : r));
    const out: ThreadsResponse = { chunk: await this.reader.format(this.reader.viewerOf(auth, prefs), shown, vis, a.cap) };
    // The next page: the threads below the last one looked at.
    if (more && before) out.next_batch = pagingToken(before);
    return out;
  }

  /** The thread of a stored event ('main' outside threads), as its notifications are counted. */
  async threadOfEvent(eventId: string): Promise<string> {
    const rec = await this.store.getEvent(eventId);
    if (!rec) return MAIN_THREAD;
    const rel = relationOf(rec.event.content);
    return threadOf(rel && rel.eventId !== eventId ? rel : undefined, (id) => this.store.getRelation(id));
  }

  /**
   * Checks a related event a client sends (PUT /send):
   * - m.thread may not start a thread off an event that itself has a relation (modules/threading.md
   *   "Validation of m.thread relationships": 400 M_UNKNOWN);
   * - a second m.annotation with the same event type and key on the same event by the same user is
   *   refused (event_annotations.md "Avoiding duplicate annotations": 400 M_DUPLICATE_ANNOTATION).
   * A parent that is not known in the room is left alone: the relation is simply ignored.
   */
  async checkOutgoing(roomId: string, sender: string, type: string, content: JsonObject): Promise<void> {
    const raw = content['m.relates_to'];
    if (raw !== undefined && (typeof raw !== 'object' || raw === null || Array.isArray(raw))) throw badJson("'m.relates_to' must be an object");
    const rel = relationOf(content);
    if (!rel) return;
    if (rel.relType === 'm.thread') {
      const parent = await this.store.getEvent(rel.eventId);
      if (parent && parent.event.room_id === roomId && relationOf(parent.event.content)) {
        throw new MatrixError(400, 'M_UNKNOWN', 'Cannot start a thread from an event with a relation');
      }
    }
    if (rel.relType === 'm.annotation' && rel.key !== null) {
      if (await this.store.findAnnotation(rel.eventId, sender, type, rel.key)) {
        throw new MatrixError(400, 'M_DUPLICATE_ANNOTATION', 'You already sent this annotation to this event');
      }
    }
  }

  /**
   * receipts.yaml 400 "The event_id is not related to the thread_id": a threaded receipt names the
   * thread its event is in (`main` for the main timeline, which holds thread roots); the root itself
   * is also accepted in its own thread (clients show it at the top of the thread).
   */
  async checkReceiptThread(eventId: string, threadId: string): Promise<void> {
    const thread = await this.threadOfEvent(eventId);
    if (thread === threadId || (threadId !== MAIN_THREAD && eventId === threadId)) return;
    throw invalidParam(`The event ${eventId} is not in thread ${threadId}`);
  }
}
