// Server-side search (matrix-spec: search.yaml#search; client-server-api modules/search.md): the
// `room_events` category over message bodies, room names and topics (the index kept with every
// persisted event, storage SearchEventsQuery), in the rooms the user is or was in, each event checked
// against the same history visibility as /messages (RoomReader) before it is returned. Redacted events
// left the index with their content.
import { badJson, invalidParam } from '../../errors.js';
import type { EventRecord, RoomStore, SearchHit } from '../../storage/types.js';
import { SEARCH_KEYS, type JsonObject, type SearchKey } from '../../wire.js';
import type { AuthContext } from '../accounts/events.js';
import type { ClientEvent } from '../events/client-format.js';
import { eventMatches, parseRoomEventFilter, type RoomEventFilter } from '../filters.js';
import { END, gapAbove, gapBelow, type ReadPrefs, type RoomReader, type Visibility } from '../rooms/read.js';
import { pagingToken } from '../tokens.js';
import { parseSearchTerm } from './query.js';

export const DEFAULT_SEARCH_LIMIT = 10;
export const MAX_SEARCH_LIMIT = 50;
/** search.yaml event_context: "By default, this is 5." */
const DEFAULT_CONTEXT = 5;
const MAX_CONTEXT = 20;
/** Index rows read per request at most, whatever visibility hides (the page is then short, with a token). */
const SCAN_BUDGET = 1000;

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface RoomEventsCriteria {
  searchTerm: string;
  keys: SearchKey[];
  filter: RoomEventFilter;
  orderBy: 'rank' | 'recent';
  context?: { before: number; after: number; includeProfile: boolean };
  includeState: boolean;
  groupBy: ('room_id' | 'sender')[];
}

/** Parses search.yaml's request body (400 M_BAD_JSON naming the field that is wrong). */
export function parseSearchRequest(body: unknown): { roomEvents?: RoomEventsCriteria } {
  if (!isObject(body)) throw badJson('Content must be a JSON object');
  const categories = body.search_categories;
  if (!isObject(categories)) throw badJson("'search_categories' is required and must be an object");
  const re = categories.room_events;
  if (re === undefined) return {};
  if (!isObject(re)) throw badJson("'search_categories.room_events' must be an object");
  const at = (k: string) => `search_categories.room_events.${k}`;
  if (typeof re.search_term !== 'string') throw badJson(`'${at('search_term')}' is required and must be a string`);
  let keys: SearchKey[] = [...SEARCH_KEYS];
  if (re.keys !== undefined) {
    if (!Array.isArray(re.keys) || !re.keys.every((k) => typeof k === 'string' && (SEARCH_KEYS as readonly string[]).includes(k))) {
      throw badJson(`'${at('keys')}' must be a list of ${SEARCH_KEYS.join(', ')}`);
    }
    keys = [...new Set(re.keys as SearchKey[])];
  }
  const filter = re.filter === undefined ? {} : parseRoomEventFilter(re.filter);
  const orderBy = re.order_by ?? 'rank';
  if (orderBy !== 'rank' && orderBy !== 'recent') throw badJson(`'${at('order_by')}' must be 'rank' or 'recent'`);
  let context: RoomEventsCriteria['context'];
  if (re.event_context !== undefined) {
    const c = re.event_context;
    if (!isObject(c)) throw badJson(`'${at('event_context')}' must be an object`);
    const count = (k: string) => {
      const v = c[k];
      if (v === undefined) return DEFAULT_CONTEXT;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw badJson(`'${at(`event_context.${k}`)}' must be a non-negative integer`);
      return Math.min(v, MAX_CONTEXT);
    };
    if (c.include_profile !== undefined && typeof c.include_profile !== 'boolean') throw badJson(`'${at('event_context.include_profile')}' must be a boolean`);
    context = { before: count('before_limit'), after: count('after_limit'), includeProfile: c.include_profile === true };
  }
  if (re.include_state !== undefined && typeof re.include_state !== 'boolean') throw badJson(`'${at('include_state')}' must be a boolean`);
  const groupBy: RoomEventsCriteria['groupBy'] = [];
  if (re.groupings !== undefined) {
    const g = re.groupings;
    if (!isObject(g) || (g.group_by !== undefined && !Array.isArray(g.group_by))) throw badJson(`'${at('groupings.group_by')}' must be a list`);
    for (const item of (g.group_by as unknown[] | undefined) ?? []) {
      const key = isObject(item) ? item.key : undefined;
      if (key !== 'room_id' && key !== 'sender') throw badJson(`'${at('groupings.group_by')}' keys must be 'room_id' or 'sender'`);
      if (!groupBy.includes(key)) groupBy.push(key);
    }
  }
  return {
    roomEvents: {
      searchTerm: re.search_term, keys, filter, orderBy, includeState: re.include_state === true, groupBy,
      ...(context ? { context } : {}),
    },
  };
}

interface SearchResult {
  rank: number;
  result: ClientEvent;
  context?: JsonObject;
}

export interface RoomEventsResults {
  count: number;
  highlights: string[];
  results: SearchResult[];
  next_batch?: string;
  state?: Record<string, ClientEvent[]>;
  groups?: Record<string, Record<string, { results: string[]; order: number }>>;
}

/** The `next_batch` of a search: where the ordered results continue (opaque to clients). */
type Cursor = { order: 'rank'; offset: number } | { order: 'recent'; before: number };

function parseCursor(token: string, order: 'rank' | 'recent'): Cursor {
  const rank = /^k(\d{1,9})$/.exec(token);
  if (rank && order === 'rank') return { order, offset: Number(rank[1]) };
  const recent = /^r(-?\d{1,15})$/.exec(token);
  if (recent && order === 'recent') return { order, before: Number(recent[1]) };
  throw invalidParam('Invalid next_batch token');
}
const cursorToken = (c: Cursor) => (c.order === 'rank' ? `k${c.offset}` : `r${c.before}`);

export class SearchService {
  constructor(private readonly store: RoomStore, private readonly reader: RoomReader) {}

  /**
   * The rooms the user may search and how far: rooms they are joined to (everything they may see),
   * and rooms they left or were banned from after joining (up to their departure), not forgotten.
   */
  private async searchableRooms(userId: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const m of await this.store.getRoomsForUser(userId, ['join', 'leave', 'ban'])) {
      out.set(m.roomId, m.membership === 'join' ? END : m.streamOrdering);
    }
    return out;
  }

  /** POST /search (matrix-spec: search.yaml#search). */
  async search(auth: AuthContext, body: unknown, nextBatch: string | undefined, prefs: ReadPrefs = {}): Promise<{ search_categories: { room_events?: RoomEventsResults } }> {
    const { roomEvents } = parseSearchRequest(body);
    if (!roomEvents) return { search_categories: {} };
    return { search_categories: { room_events: await this.roomEvents(auth, roomEvents, nextBatch, prefs) } };
  }

  private async roomEvents(auth: AuthContext, c: RoomEventsCriteria, nextBatch: string | undefined, prefs: ReadPrefs): Promise<RoomEventsResults> {
    let cursor: Cursor = nextBatch !== undefined ? parseCursor(nextBatch, c.orderBy) : c.orderBy === 'rank' ? { order: 'rank', offset: 0 } : { order: 'recent', before: Number.MAX_SAFE_INTEGER };
    const { query, highlights } = parseSearchTerm(c.searchTerm);
    const f = c.filter;
    const limit = Math.min(f.limit ?? DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT);
    const caps = await this.searchableRooms(auth.userId);
    const roomIds = [...caps.keys()].filter((id) => (!f.rooms || f.rooms.includes(id)) && !f.not_rooms?.includes(id));
    const base = {
      query, roomIds, keys: c.keys,
      ...(f.types ? { types: f.types } : {}), ...(f.not_types ? { notTypes: f.not_types } : {}),
      ...(f.senders ? { senders: f.senders } : {}), ...(f.not_senders ? { notSenders: f.not_senders } : {}),
    };
    // Empty `types`/`senders` lists allow nothing (event_filter.yaml).
    const nothing = f.types?.length === 0 || f.senders?.length === 0;
    const out: RoomEventsResults = { count: nothing ? 0 : await this.store.countSearchResults(base), highlights, results: [] };
    if (nothing || roomIds.length === 0) return out;

    const visibility = new Map<string, Visibility>();
    const visible = async (hit: SearchHit): Promise<boolean> => {
      let vis = visibility.get(hit.roomId);
      if (!vis) {
        vis = await this.reader.visibility(auth.userId, hit.roomId);
        visibility.set(hit.roomId, vis);
      }
      return hit.streamOrdering <= (caps.get(hit.roomId) ?? -1) && vis.isVisible(hit.streamOrdering);
    };
    const picked: { hit: SearchHit; rec: EventRecord }[] = [];
    let budget = SCAN_BUDGET;
    let more = false;
    for (;;) {
      const batch = Math.min(limit + 1 - picked.length, budget);
      const hits = await this.store.searchEvents({ ...base, order: c.orderBy, limit: batch, ...(cursor.order === 'rank' ? { offset: cursor.offset } : { before: cursor.before }) });
      budget -= hits.length;
      const records = new Map((await this.store.getEvents(hits.map((h) => h.eventId))).map((r) => [r.event.event_id, r]));
      for (const hit of hits) {
        if (picked.length === limit) {
          more = true;
          break;
        }
        cursor = cursor.order === 'rank' ? { order: 'rank', offset: cursor.offset + 1 } : { order: 'recent', before: hit.streamOrdering };
        const rec = records.get(hit.eventId);
        if (!rec || !(await visible(hit))) continue;
        if (!eventMatches(f, { type: rec.event.type, sender: rec.event.sender, room_id: rec.event.room_id, content: rec.event.content })) continue;
        picked.push({ hit, rec });
      }
      if (more || hits.length < batch) break;
      if (budget <= 0) {
        more = true;
        break;
      }
    }
    if (more) out.next_batch = cursorToken(cursor);

    // Results in order, formatted per room (with their aggregations), with context when asked.
    const viewerOf = () => this.reader.viewerOf(auth, prefs, f);
    const formatted = new Map<string, ClientEvent>();
    const byRoom = new Map<string, EventRecord[]>();
    for (const p of picked) byRoom.set(p.hit.roomId, [...(byRoom.get(p.hit.roomId) ?? []), p.rec]);
    for (const [roomId, recs] of byRoom) {
      const events = await this.reader.format(viewerOf(), recs, visibility.get(roomId), caps.get(roomId) ?? END);
      for (const e of events) formatted.set(e.event_id, e);
    }
    for (const p of picked) {
      const result: SearchResult = { rank: p.hit.rank, result: formatted.get(p.hit.eventId)! };
      if (c.context) result.context = await this.contextOf(auth, p.rec, c.context, visibility.get(p.hit.roomId)!, caps.get(p.hit.roomId) ?? END, prefs);
      out.results.push(result);
    }
    if (c.includeState) {
      out.state = {};
      for (const roomId of byRoom.keys()) out.state[roomId] = await this.reader.roomState(auth, roomId, prefs);
    }
    if (c.groupBy.length > 0) {
      out.groups = {};
      for (const key of c.groupBy) {
        const groups: Record<string, { results: string[]; order: number }> = {};
        for (const p of picked) {
          const value = key === 'room_id' ? p.rec.event.room_id : p.rec.event.sender;
          (groups[value] ??= { results: [], order: Object.keys(groups).length + 1 }).results.push(p.rec.event.event_id);
        }
        out.groups[key] = groups;
      }
    }
    return out;
  }

  /** search.yaml `context`: the visible events around a result, their tokens, and the senders' profiles at the result. */
  private async contextOf(auth: AuthContext, rec: EventRecord, c: NonNullable<RoomEventsCriteria['context']>, vis: Visibility, cap: number, prefs: ReadPrefs): Promise<JsonObject> {
    const roomId = rec.event.room_id;
    const before = await this.reader.scan(roomId, vis, cap, 'b', gapBelow(rec), undefined, c.before, undefined);
    const after = await this.reader.scan(roomId, vis, cap, 'f', gapAbove(rec), undefined, c.after, undefined);
    const viewer = this.reader.viewerOf(auth, prefs);
    const earliest = before.events[before.events.length - 1] ?? rec;
    const last = after.events[after.events.length - 1] ?? rec;
    const out: JsonObject = {
      start: pagingToken(gapBelow(earliest)),
      end: pagingToken(gapAbove(last)),
      events_before: (await this.reader.format(viewer, before.events, vis, cap)) as unknown as JsonObject[],
      events_after: (await this.reader.format(viewer, after.events, vis, cap)) as unknown as JsonObject[],
    };
    if (c.includeProfile) {
      const profiles: JsonObject = {};
      for (const sender of new Set([rec, ...before.events, ...after.events].map((r) => r.event.sender))) {
        if (!sender.startsWith('@')) continue;
        const member = await this.store.getStateValueAt(roomId, 'm.room.member', sender, rec.streamOrdering);
        const profile: JsonObject = {};
        if (typeof member?.event.content.displayname === 'string') profile.displayname = member.event.content.displayname;
        if (typeof member?.event.content.avatar_url === 'string') profile.avatar_url = member.event.content.avatar_url;
        profiles[sender] = profile;
      }
      out.profile_info = profiles;
    }
    return out;
  }
}
