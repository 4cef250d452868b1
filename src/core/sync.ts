// /sync (matrix-spec: sync.yaml#sync; client-server-api "Syncing"). One position orders everything
// (design-notes.md): `next_batch` is the current position read before gathering, a sync with
// `since=N` returns every change the user may see with a position in (N, next_batch]. An incremental
// sync with nothing new waits on the notifier until something concerning the user arrives or the
// timeout passes; it never returns early and empty.
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { notFound } from '../errors.js';
import type { AccountDataRecord, EventRecord, MembershipRecord, RoomStore, SyncStore } from '../storage/types.js';
import type { AuthContext } from './accounts/events.js';
import { clientFormatter, toStrippedState, type ClientEvent, type Viewer } from './events/client-format.js';
import { compatSenderFor, DOMAIN_SENDERS_FILTER_KEY } from './events/server-senders.js';
import { MAIN_THREAD } from './events/indexing.js';
import { total, unreadByThread } from './push/unread.js';
import type { JsonObject, StoredEvent } from './events/types.js';
import { joinedMembers, lookupIn, membershipOfRoom, type EventWriter, type RoomState } from './events/writer.js';
import type { RoomStateService } from './rooms/room-state.js';
import { applyEventFields, eventMatches, isInlineFilter, parseFilter, parseInlineFilter, roomAllowed, timelineLimit, type Filter, type RoomEventFilter } from './filters.js';
import type { Notifier } from './notifier.js';
import type { Aggregator } from './rooms/aggregations.js';
import type { RoomReader } from './rooms/read.js';
import type { StreamPositions } from './stream.js';
import { formatSyncToken, streamToken, type SyncToken } from './tokens.js';

export interface SyncRequest {
  since?: SyncToken;
  timeoutMs: number;
  fullState: boolean;
  filter?: Filter;
  signal?: AbortSignal;
  /** The client's session said it understands server-name senders (spec/server-events.md). */
  domainSenders?: boolean;
}

/** Pieces of sync that other services provide (typing, presence: the sessions issue). */
export interface SyncEphemeralSource {
  /** Ephemeral events of a room for the user: changed in (since, upTo], or the current state when since is undefined. */
  roomEphemeral?(roomId: string, userId: string, since: number | undefined, upTo: number): JsonObject[];
  /** Presence events of users the viewer shares a room with. */
  presence?(userId: string, since: number | undefined, upTo: number): Promise<JsonObject[]>;
  /** The end-to-end encryption sections: device lists changed in (since, upTo], the device's key counts. */
  e2ee?(auth: AuthContext, since: number | undefined, upTo: number): Promise<Pick<SyncResponse, 'device_lists' | 'device_one_time_keys_count' | 'device_unused_fallback_key_types'>>;
}

interface JoinedRoomSync {
  timeline: { events: ClientEvent[]; limited: boolean; prev_batch: string };
  state: { events: ClientEvent[] };
  ephemeral: { events: JsonObject[] };
  account_data: { events: JsonObject[] };
  unread_notifications: { notification_count: number; highlight_count: number };
  /** With the timeline filter's `unread_thread_notifications`: the counts of each thread that has some. */
  unread_thread_notifications?: Record<string, { notification_count: number; highlight_count: number }>;
  summary: JsonObject;
}

interface LeftRoomSync {
  timeline: { events: ClientEvent[]; limited: boolean; prev_batch: string };
  state: { events: ClientEvent[] };
  account_data: { events: JsonObject[] };
}

export interface SyncResponse {
  next_batch: string;
  rooms: { join: Record<string, JoinedRoomSync>; invite: Record<string, JsonObject>; leave: Record<string, LeftRoomSync>; knock: Record<string, JsonObject> };
  presence: { events: JsonObject[] };
  account_data: { events: JsonObject[] };
  to_device: { events: JsonObject[] };
  device_lists: { changed: string[]; left: string[] };
  device_one_time_keys_count: Record<string, number>;
  device_unused_fallback_key_types: string[];
}

const TO_DEVICE_LIMIT = 100;
/** Events one room's timeline may read looking for visible ones before it reports the rest as a gap. */
const MAX_TIMELINE_SCAN = 5000;
const MAX_TIMEOUT_MS = 5 * 60 * 1000;

/** What the sync service reads from (passed once, at construction). */
export interface SyncDeps {
  config: Config;
  rooms: RoomStore;
  store: SyncStore;
  writer: EventWriter;
  roomState: RoomStateService;
  reader: RoomReader;
  notifier: Notifier;
  positions: () => Promise<StreamPositions>;
  clock: Clock;
  /** The users a user ignores (m.ignored_user_list; AccountDataService.ignoredBy caches them). */
  ignoredUsers: (userId: string) => Promise<Set<string>>;
  /** Initial syncs carry the user's push rules as m.push_rules account data even before they change one. */
  pushRules: { hasStoredRules(userId: string): Promise<boolean>; getRules(userId: string): Promise<unknown> };
  /** Typing, presence and other ephemeral sources. */
  sources: SyncEphemeralSource[];
  /** Bundled aggregations of timeline events (unsigned["m.relations"]). */
  aggregator?: Aggregator;
}

export class SyncService {
  /** Newest event position per room, kept current by the event writer's notifications. */
  private roomLatest = new Map<string, number>();
  private readonly inlineFilters = new Map<string, Filter>();
  private readonly config: Config;
  private readonly rooms: RoomStore;
  private readonly store: SyncStore;
  private readonly writer: EventWriter;
  private readonly roomState: RoomStateService;
  private readonly reader: RoomReader;
  private readonly notifier: Notifier;
  private readonly positions: () => Promise<StreamPositions>;
  private readonly clock: Clock;
  private readonly ignoredUsers: SyncDeps['ignoredUsers'];
  private readonly push: SyncDeps['pushRules'];
  private readonly sources: SyncEphemeralSource[];
  private readonly aggregator: Aggregator | undefined;

  constructor(deps: SyncDeps) {
    this.aggregator = deps.aggregator;
    ({ config: this.config, rooms: this.rooms, store: this.store, writer: this.writer, roomState: this.roomState, reader: this.reader, notifier: this.notifier,
      positions: this.positions, clock: this.clock, ignoredUsers: this.ignoredUsers, pushRules: this.push, sources: this.sources } = deps);
    this.writer.addListener({
      onEventPersisted: (rec, room) => {
        this.roomLatest.set(rec.event.room_id, rec.streamOrdering);
        // Joined members see the event; the target of a membership change sees it too (invites, kicks).
        const joined = joinedMembers(room);
        const target = rec.event.type === 'm.room.member' ? rec.event.state_key : undefined;
        this.notifier.notify(target !== undefined ? [...joined, target] : joined, rec.streamOrdering);
      },
    });
  }

  // ---- filters ---------------------------------------------------------------------------------

  /** POST /user/{userId}/filter (matrix-spec: filter.yaml#defineFilter). */
  async createFilter(userId: string, body: unknown): Promise<string> {
    const filter = parseFilter(body);
    return String(await this.store.putFilter(userId, JSON.stringify(filter)));
  }

  /** GET /user/{userId}/filter/{filterId} (matrix-spec: filter.yaml#getFilter). */
  async getFilter(userId: string, filterId: string): Promise<Filter> {
    if (!/^\d{1,15}$/.test(filterId)) throw notFound('No such filter');
    const json = await this.store.getFilter(userId, Number(filterId));
    if (json === undefined) throw notFound('No such filter');
    return JSON.parse(json) as Filter;
  }

  /** The `filter` query parameter: inline JSON (starting with `{`) or a filter ID. */
  async resolveFilter(userId: string, param: string | undefined): Promise<Filter | undefined> {
    if (param === undefined || param === '') return undefined;
    // The same parser as /messages' filter: text that is not JSON is M_NOT_JSON, a bad shape M_BAD_JSON.
    if (!isInlineFilter(param)) return this.getFilter(userId, param);
    // A client sends the same inline filter with every sync: parsed once (parsed filters are only read).
    let parsed = this.inlineFilters.get(param);
    if (!parsed) {
      parsed = parseInlineFilter(param);
      if (this.inlineFilters.size >= 256) this.inlineFilters.clear();
      this.inlineFilters.set(param, parsed);
    }
    return parsed;
  }

  // ---- sync ----------------------------------------------------------------------------------------

  async sync(auth: AuthContext, req: SyncRequest): Promise<SyncResponse> {
    const positions = await this.positions();
    const timeout = Math.min(Math.max(0, req.timeoutMs), MAX_TIMEOUT_MS);
    // A token from the future (e.g. after a database reset) counts as "now".
    const since = req.since && req.since.position > positions.current ? { position: positions.current, toDevice: Math.min(req.since.toDevice, positions.current) } : req.since;
    let result = await this.gather(auth, { ...req, since }, positions.current);
    // sync.yaml `full_state`: "the timeout parameter will be ignored and the query will return immediately".
    if (since === undefined || req.fullState || !isEmpty(result.response) || timeout === 0) return result.response;
    const deadline = this.clock.now() + timeout;
    let upTo = result.upTo;
    for (;;) {
      const remaining = deadline - this.clock.now();
      if (remaining <= 0) break;
      const woken = await this.notifier.wait(auth.userId, upTo, remaining, req.signal);
      if (woken <= upTo) break; // timed out or the client went away
      result = await this.gather(auth, { ...req, since }, positions.current);
      if (!isEmpty(result.response)) break;
      upTo = result.upTo;
    }
    return result.response;
  }

  /** Another process stored events in the room up to `pos` (a cluster; spec/scaling.md "Caches"). */
  roomAdvanced(roomId: string, pos: number): void {
    const cached = this.roomLatest.get(roomId);
    if (cached !== undefined && cached < pos) this.roomLatest.set(roomId, pos);
  }

  private async latestInRoom(roomId: string): Promise<number> {
    const cached = this.roomLatest.get(roomId);
    if (cached !== undefined) return cached;
    const read = await this.rooms.getLatestPosition(roomId);
    // An event persisted while the read was under way has set a newer position already: keep it.
    const pos = Math.max(read, this.roomLatest.get(roomId) ?? 0);
    this.roomLatest.set(roomId, pos);
    return pos;
  }

  private async gather(auth: AuthContext, req: SyncRequest, upTo: number): Promise<{ response: SyncResponse; upTo: number }> {
    const userId = auth.userId;
    const since = req.since?.position;
    const filter = req.filter ?? {};
    const roomFilter = filter.room;
    // Server-generated events show a server-owned user as sender to clients that need a user ID there.
    const compatSender = compatSenderFor(this.config, req.domainSenders === true || filter[DOMAIN_SENDERS_FILTER_KEY] === true);
    const viewer: Viewer = { userId, deviceId: auth.deviceId, compatSender };
    const now = this.clock.now();
    const ignored = await this.ignoredUsers(userId);

    const response: SyncResponse = {
      next_batch: streamToken(upTo),
      rooms: { join: {}, invite: {}, leave: {}, knock: {} },
      presence: { events: [] },
      account_data: { events: [] },
      to_device: { events: [] },
      device_lists: { changed: [], left: [] },
      device_one_time_keys_count: {},
      device_unused_fallback_key_types: [],
    };

    const memberships = await this.rooms.getRoomsForUser(userId, ['join', 'invite', 'leave', 'ban', 'knock']);
    // Initial and full-state syncs carry all account data; incremental ones what changed since `since`.
    const everything = since === undefined || req.fullState;
    const accountData = this.splitAccountData(await this.store.getAccountDataSince(userId, everything ? 0 : since), upTo, filter, userId);
    response.account_data.events.push(...accountData.global);
    const roomAccountData = accountData.rooms;
    // A room joined since `since` gets all of its account data, like its full state (tags set while invited).
    let all: Promise<Map<string, JsonObject[]>> | undefined;
    const allRoomAccountData = async (roomId: string) => {
      all ??= this.store.getAccountDataSince(userId, 0).then((records) => this.splitAccountData(records, upTo, filter, userId).rooms);
      return (await all).get(roomId) ?? [];
    };

    if (everything && !(await this.push.hasStoredRules(userId))
      && eventMatches(filter.account_data, { type: 'm.push_rules', sender: userId })) {
      response.account_data.events.push({ type: 'm.push_rules', content: (await this.push.getRules(userId)) as JsonObject });
    }

    // A cold initial sync loads the state of all its rooms in a few statements instead of four per room.
    if (since === undefined) await this.roomState.preload(memberships.filter((m) => m.membership === 'join').map((m) => m.roomId));
    const joinedIds: string[] = [];
    for (const current of memberships) {
      if (!roomAllowed(roomFilter, current.roomId)) continue;
      // Changed after this response's position (a race with the gathering): answer with the membership
      // as it was at that position; the change comes next time.
      const m = current.streamOrdering > upTo ? await this.membershipAt(current.roomId, userId, upTo) : current;
      if (!m) continue;
      if (m.membership === 'join') {
        joinedIds.push(m.roomId);
        const entry = await this.joinedRoom(auth, m, req, since, upTo, viewer, now, ignored, roomAccountData.get(m.roomId) ?? [], allRoomAccountData);
        if (entry) response.rooms.join[m.roomId] = entry;
      } else if (m.membership === 'invite') {
        if (since !== undefined && m.streamOrdering <= since) continue;
        const invite = await this.rooms.getEvent(m.eventId);
        if (!invite || ignored.has(invite.event.sender)) continue; // invites from ignored users never reach the ignorer
        response.rooms.invite[m.roomId] = { invite_state: { events: await this.strippedStateWith(m.roomId, invite.event, compatSender, invite.unsigned) } };
      } else if (m.membership === 'knock') {
        // sync.yaml `rooms.knock`: the knocked room's stripped state, until the knock is answered.
        if (since !== undefined && m.streamOrdering <= since) continue;
        const knock = await this.rooms.getEvent(m.eventId);
        if (!knock) continue;
        response.rooms.knock[m.roomId] = { knock_state: { events: await this.strippedStateWith(m.roomId, knock.event, compatSender) } };
      } else if (m.membership === 'leave' || m.membership === 'ban') {
        const include = since !== undefined ? m.streamOrdering > since : roomFilter?.include_leave === true;
        if (!include) continue;
        // A rejected invite or a leave from a room never joined shows only the membership event.
        response.rooms.leave[m.roomId] = await this.leftRoom(m, since, viewer, now, filter, ignored);
      }
    }

    // Receipts and other ephemeral events of joined rooms.
    const receipts = await this.store.getReceiptsSince(joinedIds, since ?? 0);
    const receiptsByRoom = new Map<string, JsonObject>();
    for (const r of receipts) {
      if (r.streamOrdering > upTo) continue;
      if (r.receiptType === 'm.read.private' && r.userId !== userId) continue; // private receipts only to their owner
      if (ignored.has(r.userId)) continue;
      const content = receiptsByRoom.get(r.roomId) ?? {};
      const byEvent = (content[r.eventId] ??= {}) as JsonObject;
      const byType = (byEvent[r.receiptType] ??= {}) as JsonObject;
      byType[r.userId] = r.threadId === '' ? { ts: r.ts } : { ts: r.ts, thread_id: r.threadId };
      receiptsByRoom.set(r.roomId, content);
    }
    for (const roomId of joinedIds) {
      const ephemeral: JsonObject[] = [];
      const receipt = receiptsByRoom.get(roomId);
      if (receipt) ephemeral.push({ type: 'm.receipt', content: receipt });
      for (const s of this.sources) ephemeral.push(...(s.roomEphemeral?.(roomId, userId, since, upTo) ?? []));
      const filtered = ephemeral.filter((e) => eventMatches(roomFilter?.ephemeral, { type: e.type as string, sender: userId, room_id: roomId }));
      if (filtered.length === 0) continue;
      let entry = response.rooms.join[roomId];
      if (!entry) {
        const room = await this.roomState.get(roomId);
        if (!room) continue;
        entry = emptyJoined(streamToken(upTo));
        Object.assign(entry, await this.unread(userId, roomId, threadedCounts(filter)));
        response.rooms.join[roomId] = entry;
      }
      entry.ephemeral.events.push(...filtered);
    }

    for (const s of this.sources) {
      if (!s.presence) continue;
      const events = await s.presence(userId, since, upTo);
      response.presence.events.push(...events.filter((e) => eventMatches(filter.presence, { type: e.type as string, sender: e.sender as string })));
    }

    // To-device: delivered once, deleted when the next sync acknowledges it (since covers it).
    const ackedToDevice = req.since?.toDevice ?? 0;
    if (req.since) await this.store.deleteToDevice(userId, auth.deviceId, ackedToDevice);
    const toDevice = await this.store.getToDevice(userId, auth.deviceId, ackedToDevice, TO_DEVICE_LIMIT + 1);
    const deliverable = toDevice.filter((m) => m.streamOrdering <= upTo);
    let toDeviceMark = upTo;
    if (deliverable.length > TO_DEVICE_LIMIT) {
      deliverable.length = TO_DEVICE_LIMIT;
      toDeviceMark = deliverable[deliverable.length - 1]!.streamOrdering;
    }
    response.to_device.events = deliverable.map((m) => ({ sender: m.sender, type: m.type, content: m.content }));
    response.next_batch = formatSyncToken({ position: upTo, toDevice: toDeviceMark });

    for (const s of this.sources) if (s.e2ee) Object.assign(response, await s.e2ee(auth, since, upTo));

    if (filter.event_fields) this.applyFields(response, filter.event_fields);
    return { response, upTo };
  }

  /** Account data records up to `upTo` as sync events: the global ones and those of each room, filtered. */
  private splitAccountData(records: AccountDataRecord[], upTo: number, filter: Filter, userId: string): { global: JsonObject[]; rooms: Map<string, JsonObject[]> } {
    const global: JsonObject[] = [];
    const rooms = new Map<string, JsonObject[]>();
    for (const a of records) {
      if (a.streamOrdering > upTo) continue; // changed after this response's position: next time
      const ev = { type: a.type, content: a.content };
      if (a.roomId === '') {
        if (eventMatches(filter.account_data, { type: a.type, sender: userId })) global.push(ev);
      } else if (eventMatches(filter.room?.account_data, { type: a.type, sender: userId, room_id: a.roomId })) {
        const list = rooms.get(a.roomId) ?? [];
        list.push(ev);
        rooms.set(a.roomId, list);
      }
    }
    return { global, rooms };
  }

  /**
   * The stripped state shown with an invite or a knock (client-server-api "Stripped state"): the
   * configured state types, the sender's member event (who invited, and why) and the membership
   * event itself.
   */
  private async strippedStateWith(roomId: string, invite: StoredEvent, compatSender: string | undefined, unsigned: JsonObject | null = null): Promise<JsonObject[]> {
    const room = await this.roomState.get(roomId);
    const out: JsonObject[] = [];
    if ((!room || room.state.size === 0) && Array.isArray(unsigned?.invite_room_state)) {
      // An invite from another server to a room this server is not in: the state that server sent.
      for (const e of unsigned.invite_room_state) {
        if (typeof e !== 'object' || e === null || Array.isArray(e) || typeof e.type !== 'string' || typeof e.sender !== 'string') continue;
        if (typeof e.content !== 'object' || e.content === null || Array.isArray(e.content)) continue;
        if (e.type === 'm.room.member' && e.state_key === invite.state_key) continue;
        out.push(toStrippedState({ type: e.type, state_key: typeof e.state_key === 'string' ? e.state_key : '', content: e.content, sender: e.sender }, compatSender));
      }
    } else if (room) {
      const lookup = lookupIn(room.state);
      for (const type of this.config.invite_room_state) {
        const e = lookup(type, '');
        if (e) out.push(toStrippedState(e, compatSender));
      }
    }
    // The inviter's member event shows who invited, and why.
    const inviter = room ? lookupIn(room.state)('m.room.member', invite.sender) : undefined;
    if (inviter && inviter.event_id !== invite.event_id) out.push(toStrippedState(inviter, compatSender));
    out.push({ ...toStrippedState(invite, compatSender), event_id: invite.event_id, origin_server_ts: invite.origin_server_ts });
    return out;
  }

  /**
   * Unread notification counts (core/push/unread.ts). With `threaded` (the timeline filter's `unread_thread_notifications`, sync.yaml) the room's
   * counts are the main timeline's and each thread with unread notifications gets its own; otherwise
   * the room's counts add up every thread.
   */
  private async unread(userId: string, roomId: string, threaded: boolean): Promise<Pick<JoinedRoomSync, 'unread_notifications' | 'unread_thread_notifications'>> {
    const byThread = await unreadByThread(this.store, userId, roomId);
    const counts = (c: { notifications: number; highlights: number } | undefined) => ({ notification_count: c?.notifications ?? 0, highlight_count: c?.highlights ?? 0 });
    if (!threaded) return { unread_notifications: counts(total(byThread)) };
    const threads: Record<string, { notification_count: number; highlight_count: number }> = {};
    for (const [thread, c] of byThread) if (thread !== MAIN_THREAD && c.notifications > 0) threads[thread] = counts(c);
    return { unread_notifications: counts(byThread.get(MAIN_THREAD)), ...(Object.keys(threads).length > 0 ? { unread_thread_notifications: threads } : {}) };
  }

  private summary(room: RoomState, userId: string): JsonObject {
    const { joined, invited } = membershipOfRoom(room);
    // Heroes: the first five other joined or invited members in sorted order. Both cached lists are
    // sorted, so the five come from the first five others of each.
    const firstOthers = (list: string[]) => list.filter((u) => u !== userId).slice(0, 5);
    const heroes = [...firstOthers(joined), ...firstOthers(invited)].sort().slice(0, 5);
    return { 'm.heroes': heroes, 'm.joined_member_count': joined.length, 'm.invited_member_count': invited.length };
  }

  private async joinedRoom(
    auth: AuthContext, m: MembershipRecord, req: SyncRequest, since: number | undefined, upTo: number,
    viewer: Viewer, now: number, ignored: Set<string>, changedAccountData: JsonObject[],
    allAccountData: (roomId: string) => Promise<JsonObject[]>,
  ): Promise<JoinedRoomSync | undefined> {
    const room = await this.roomState.get(m.roomId);
    if (!room) return undefined;
    const roomFilter = req.filter?.room;
    const timelineFilter = roomFilter?.timeline;
    const limit = timelineLimit(req.filter);
    // Newly joined rooms get the latest timeline and the full state at its start; so do initial syncs.
    // full_state=true gives the full state too, but "the timeline will still be limited by the since
    // parameter" (sync.yaml `full_state`).
    const newlyJoined = since === undefined || (m.streamOrdering > since && !(await this.wasJoinedAt(m.roomId, auth.userId, since)));
    const fresh = newlyJoined || req.fullState;
    const accountData = newlyJoined && since !== undefined && !req.fullState ? await allAccountData(m.roomId) : changedAccountData;
    const latest = await this.latestInRoom(m.roomId);
    const changed = since === undefined || latest > since || m.streamOrdering > since;
    if (!changed && accountData.length === 0 && !req.fullState) return undefined;

    const lowerBound = newlyJoined ? undefined : since;
    const timeline = await this.timeline(m.roomId, upTo, lowerBound, limit, timelineFilter, auth.userId, ignored, m.membership === 'join' ? m.streamOrdering : undefined);
    const startPos = timeline.events[0]?.streamOrdering ?? upTo + 1;
    const stateFilter = roomFilter?.state;
    const lazy = stateFilter?.lazy_load_members === true || timelineFilter?.lazy_load_members === true;
    let stateEvents: StoredEvent[] = [];
    if (fresh) {
      stateEvents = await this.stateBefore(room, startPos);
      // State events after the timeline's start that the timeline does not show (filtered, hidden).
      if (timeline.hidden) stateEvents = await this.stateAround(m.roomId, undefined, stateEvents, upTo, timeline.events);
    } else if (timeline.limited || timeline.hidden) {
      // State that changed since `since` and is not in the timeline: at the timeline's start, and,
      // for events the timeline does not show, at its end (as Synapse computes it).
      const atStart = await this.rooms.getStateAt(m.roomId, startPos - 1);
      stateEvents = await this.stateAround(m.roomId, since, atStart, timeline.hidden ? upTo : undefined, timeline.events);
    }
    const timelineIds = new Set(timeline.events.map((r) => r.event.event_id));
    const timelineSenders = new Set(timeline.events.map((r) => r.event.sender));
    // With lazy loading a full state still carries the user's own member event (sync.yaml).
    const senders = new Set([...timelineSenders, auth.userId]);
    stateEvents = stateEvents.filter((e) => {
      if (timelineIds.has(e.event_id)) return false;
      if (!eventMatches(stateFilter, { type: e.type, sender: e.sender, room_id: m.roomId })) return false;
      // Lazy loading trims the member events of a full state; a limited incremental sync keeps the
      // member changes of the gap, "regardless as to whether or not they are redundant" (sync.yaml).
      if (lazy && fresh && e.type === 'm.room.member' && !senders.has(e.state_key!)) return false;
      return true;
    });
    if (lazy && !fresh) {
      // Members of the timeline's senders that the client may not have yet.
      const lookup = lookupIn(room.state);
      for (const s of timelineSenders) {
        const member = lookup('m.room.member', s);
        if (member && !timelineIds.has(member.event_id) && !stateEvents.some((e) => e.event_id === member.event_id)) stateEvents.push(member);
      }
    }
    // Everything new was hidden (filters, ignored senders): nothing to tell, so a waiting sync goes on waiting.
    if (!fresh && timeline.events.length === 0 && stateEvents.length === 0 && accountData.length === 0) return undefined;
    const stateRecords = stateEvents.map((event): EventRecord => ({ event, streamOrdering: 0, unsigned: null, redactedBy: null, txn: null, serverLocal: false }));
    const format = await clientFormatter(this.rooms, viewer, now, [...timeline.events, ...stateRecords]);
    const timelineEvents = timeline.events.map(format);
    await this.aggregator?.addTo(viewer, m.roomId, timeline.events, timelineEvents);
    return {
      timeline: {
        events: timelineEvents,
        limited: timeline.limited,
        prev_batch: streamToken(startPos - 1),
      },
      state: { events: stateRecords.map(format) },
      ephemeral: { events: [] },
      account_data: { events: accountData },
      ...(await this.unread(auth.userId, m.roomId, threadedCounts(req.filter ?? {}))),
      summary: this.summary(room, auth.userId),
    };
  }

  /**
   * The room's state just before position `start`: the cached current state with the changes recorded
   * from `start` on (current_state_deltas, whatever forks caused them) undone, newest first, instead of
   * rebuilding the state at that position. Falls back to that when too much changed since.
   */
  private async stateBefore(room: RoomState, start: number): Promise<StoredEvent[]> {
    const MAX_UNDO = 200;
    const current = room.state;
    const deltas = await this.rooms.getStateDeltasAfter(room.roomId, start - 1, MAX_UNDO + 1);
    if (deltas.length > MAX_UNDO) return this.rooms.getStateAt(room.roomId, start - 1);
    const ids = new Map<string, string | null>();
    for (const [k, e] of current) ids.set(k, e.event_id);
    for (let i = deltas.length - 1; i >= 0; i--) {
      const d = deltas[i]!;
      ids.set(`${d.type}\u0000${d.stateKey}`, d.prevEventId);
    }
    const missing: string[] = [];
    const state = new Map<string, StoredEvent>();
    for (const [k, id] of ids) {
      if (id === null) continue;
      const e = current.get(k);
      if (e?.event_id === id) state.set(k, e);
      else missing.push(id);
    }
    if (missing.length > 0) {
      for (const r of await this.rooms.getEvents(missing)) state.set(`${r.event.type}\u0000${r.event.state_key}`, r.event);
    }
    return [...state.values()];
  }

  /** The user's membership of a room as it was at position `at` (one lookup), or undefined when they had none. */
  private async membershipAt(roomId: string, userId: string, at: number): Promise<MembershipRecord | undefined> {
    const v = await this.rooms.getStateValueAt(roomId, 'm.room.member', userId, at);
    if (!v) return undefined;
    const membership = typeof v.event.content.membership === 'string' ? v.event.content.membership : 'leave';
    return { roomId, userId, membership, eventId: v.event.event_id, streamOrdering: v.streamOrdering };
  }

  /**
   * Whether the user's membership at position `at` was join. A member event after `since` is not
   * always a new join: a display name or avatar change is join -> join and must not resend the room.
   */
  private async wasJoinedAt(roomId: string, userId: string, at: number): Promise<boolean> {
    return (await this.membershipAt(roomId, userId, at))?.membership === 'join';
  }

  /**
   * The newest `limit` visible events in (lowerBound, upTo], oldest first. `limited` is true only when
   * a visible event older than them was left out (sync.yaml `limited`: "True if the number of events
   * returned was limited by the limit on the filter"): events the user may not see, or that the filter
   * drops, never make a gap by themselves. `hidden` tells whether any event of the range may have been
   * left out for either reason (their state changes then go to the state section).
   */
  private async timeline(
    roomId: string, upTo: number, lowerBound: number | undefined, limit: number, filter: RoomEventFilter | undefined,
    userId: string, ignored: Set<string>, joinedFrom?: number,
  ): Promise<{ events: EventRecord[]; limited: boolean; hidden: boolean }> {
    const picked: EventRecord[] = [];
    // Types and senders are narrowed in the query: events it drops are never read, so they may hide state.
    let hidden = filter?.types !== undefined || filter?.not_types !== undefined || filter?.senders !== undefined || filter?.not_senders !== undefined;
    let from = upTo + 1;
    let limited = false;
    let pageSize = limit + 1;
    let scanned = 0;
    // Page backwards until one visible event more than `limit` is found (then there is a gap) or the
    // range ends (then there is none). Pages grow, and a scan budget bounds one room's work: past it,
    // the rest is unknown and reported as a gap (the client can paginate).
    for (;;) {
      const page = await this.rooms.getRoomEvents({
        roomId, from, dir: 'b', limit: pageSize, ...(lowerBound !== undefined ? { to: lowerBound } : {}),
        ...(filter?.types ? { types: filter.types } : {}), ...(filter?.not_types ? { notTypes: filter.not_types } : {}),
        ...(filter?.senders ? { senders: filter.senders } : {}), ...(filter?.not_senders ? { notSenders: filter.not_senders } : {}),
      });
      if (page.length === 0) break;
      scanned += page.length;
      // Events from the user's (still current) join onwards are visible to them: no history lookup needed.
      const allSinceJoin = joinedFrom !== undefined && page[page.length - 1]!.streamOrdering >= joinedFrom;
      const visible = new Set(allSinceJoin ? page : await this.reader.filterVisible(userId, roomId, page));
      for (const r of page) {
        const shown = visible.has(r) && (r.event.state_key !== undefined || !ignored.has(r.event.sender))
          && eventMatches(filter, { type: r.event.type, sender: r.event.sender, room_id: roomId, content: r.event.content });
        if (!shown) {
          hidden = true;
          continue;
        }
        if (picked.length === limit) {
          limited = true;
          break;
        }
        picked.push(r);
      }
      if (limited || page.length < pageSize) break; // a gap found, or nothing older in range
      if (scanned >= MAX_TIMELINE_SCAN) {
        limited = true;
        break;
      }
      from = page[page.length - 1]!.streamOrdering;
      pageSize = Math.min(pageSize * 2, 1000);
    }
    picked.reverse();
    return { events: picked, limited, hidden };
  }

  private async leftRoom(m: MembershipRecord, since: number | undefined, viewer: Viewer, now: number, filter: Filter, ignored: Set<string>): Promise<LeftRoomSync> {
    const roomFilter = filter.room;
    const limit = timelineLimit(filter);
    // The timeline ends with the user's departure: nothing after it reaches them.
    const timeline = await this.timeline(m.roomId, m.streamOrdering, since, limit, roomFilter?.timeline, viewer.userId, ignored);
    const events = timeline.events;
    // The leave event itself is always shown, even where history visibility or a filter hides the rest.
    if (!events.some((r) => r.event.event_id === m.eventId)) {
      const own = await this.rooms.getEvent(m.eventId);
      if (own) events.push(own);
    }
    const startPos = events[0]?.streamOrdering ?? m.streamOrdering;
    // State at the start of the timeline, as for joined rooms: the change since `since` for a user who
    // was joined then, the whole state for one who joined at some point after. A rejected invite or a
    // leave from a room never joined shows only the membership events.
    const history = await this.rooms.getStateHistory(m.roomId, 'm.room.member', viewer.userId);
    const everJoined = history.some((h) => h.streamOrdering <= m.streamOrdering && h.event?.content.membership === 'join');
    let stateEvents: StoredEvent[] = [];
    if (since !== undefined && (await this.membershipAt(m.roomId, viewer.userId, since))?.membership === 'join') {
      if (timeline.limited || timeline.hidden) {
        const atStart = await this.rooms.getStateAt(m.roomId, startPos - 1);
        stateEvents = await this.stateAround(m.roomId, since, atStart, timeline.hidden ? m.streamOrdering : undefined, events);
      }
    } else if (everJoined) {
      stateEvents = await this.rooms.getStateAt(m.roomId, startPos - 1);
    }
    const timelineIds = new Set(events.map((r) => r.event.event_id));
    stateEvents = stateEvents.filter((e) => !timelineIds.has(e.event_id) && eventMatches(roomFilter?.state, { type: e.type, sender: e.sender, room_id: m.roomId }));
    const stateRecords = stateEvents.map((event): EventRecord => ({ event, streamOrdering: 0, unsigned: null, redactedBy: null, txn: null, serverLocal: false }));
    const format = await clientFormatter(this.rooms, viewer, now, [...events, ...stateRecords]);
    const timelineEvents = events.map(format);
    if (this.aggregator) {
      const vis = await this.reader.visibility(viewer.userId, m.roomId);
      await this.aggregator.addTo(viewer, m.roomId, events, timelineEvents, { vis, cap: m.streamOrdering });
    }
    return {
      timeline: { events: timelineEvents, limited: timeline.limited, prev_batch: streamToken(startPos - 1) },
      state: { events: stateRecords.map(format) },
      account_data: { events: [] },
    };
  }

  /**
   * The state section of a room whose timeline starts after position `since` (undefined: an initial or
   * a newly joined room's sync): for each state key, the value at the timeline's start (`atStart`), or,
   * when the timeline leaves out events (history visibility, filters, ignored senders) and shows no
   * event of that key, its value at the timeline's end (`end`), so the client ends with the current
   * state; without what the client had at `since`.
   */
  private async stateAround(roomId: string, since: number | undefined, atStart: StoredEvent[], end: number | undefined, timeline: EventRecord[]): Promise<StoredEvent[]> {
    const keyOf = (e: StoredEvent) => `${e.type}\u0000${e.state_key}`;
    const byKey = new Map(atStart.map((e) => [keyOf(e), e]));
    if (end !== undefined) {
      const shownKeys = new Set(timeline.filter((r) => r.event.state_key !== undefined).map((r) => keyOf(r.event)));
      for (const e of await this.rooms.getStateAt(roomId, end)) if (!shownKeys.has(keyOf(e))) byKey.set(keyOf(e), e);
    }
    if (since === undefined) return [...byKey.values()];
    const had = new Set((await this.rooms.getStateAt(roomId, since)).map((e) => e.event_id));
    return [...byKey.values()].filter((e) => !had.has(e.event_id));
  }



  private applyFields(response: SyncResponse, fields: string[]): void {
    const apply = (list: { events: ClientEvent[] }) => {
      list.events = list.events.map((e) => applyEventFields(e, fields) as ClientEvent);
    };
    for (const r of [...Object.values(response.rooms.join), ...Object.values(response.rooms.leave)]) {
      apply(r.timeline);
      apply(r.state);
    }
  }
}

/** The timeline filter asks for per-thread notification counts (room_event_filter.yaml `unread_thread_notifications`). */
const threadedCounts = (filter: Filter): boolean => filter.room?.timeline?.unread_thread_notifications === true;

function emptyJoined(prevBatch: string): JoinedRoomSync {
  return {
    timeline: { events: [], limited: false, prev_batch: prevBatch },
    state: { events: [] },
    ephemeral: { events: [] },
    account_data: { events: [] },
    unread_notifications: { notification_count: 0, highlight_count: 0 },
    summary: {},
  };
}

/** Nothing for the client: an incremental sync keeps waiting. */
export function isEmpty(r: SyncResponse): boolean {
  return Object.keys(r.rooms.join).length === 0 && Object.keys(r.rooms.invite).length === 0
    && Object.keys(r.rooms.leave).length === 0 && Object.keys(r.rooms.knock).length === 0
    && r.presence.events.length === 0 && r.account_data.events.length === 0 && r.to_device.events.length === 0
    && r.device_lists.changed.length === 0 && r.device_lists.left.length === 0;
}
