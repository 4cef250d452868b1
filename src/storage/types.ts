// The storage API the core uses. Async and coarse-grained so that another implementation (PostgreSQL)
// can be added without touching core; each method is atomic on its own.
import type { JsonObject, JsonValue, Relation, SearchKey, StoredEvent } from '../wire.js';
import type { FederationStore } from './federation-types.js';
import type { E2eeStore } from './e2ee-types.js';
import type { MediaRecordStore } from './media-types.js';

export interface UserRecord {
  userId: string;
  localpart: string;
  passwordHash: string | null;
  isAdmin: boolean;
  isGuest: boolean;
  deactivated: boolean;
  createdTs: number;
  /** Sends are answered but reach nobody (admin API shadow_ban). */
  shadowBanned: boolean;
}

export interface DeviceRecord {
  userId: string;
  deviceId: string;
  displayName: string | null;
  createdTs: number;
  lastSeenTs: number | null;
  lastSeenIp: string | null;
  lastSeenUserAgent: string | null;
}

export interface TokenOwner {
  userId: string;
  deviceId: string;
  isGuest: boolean;
  isAdmin: boolean;
  deactivated: boolean;
  shadowBanned: boolean;
  /** The token stops working at this time (ms since the epoch); null: never. */
  validUntilMs: number | null;
}

export interface NewUser {
  userId: string;
  localpart: string;
  passwordHash: string | null;
  isAdmin: boolean;
  isGuest: boolean;
  createdTs: number;
  displayName: string | null;
}

export interface NewDeviceLogin {
  userId: string;
  deviceId: string;
  /** Used only when the device is new. */
  displayName: string | null;
  tokenHash: string;
  ts: number;
  /** The token stops working at this time; absent or null: never. */
  validUntilMs?: number | null;
}

export interface DeviceLoginResult {
  /** Token hashes that belonged to the device before (now revoked). */
  revokedTokenHashes: string[];
  createdDevice: boolean;
}

/** A pusher (pusher.yaml): where one user's notifications go, set by one of their devices. */
export interface PusherRecord {
  userId: string;
  appId: string;
  pushkey: string;
  /** The device that set it: the pusher goes when the device does. */
  deviceId: string;
  kind: string;
  appDisplayName: string;
  deviceDisplayName: string;
  profileTag: string | null;
  lang: string;
  data: JsonObject;
  /** When it was last set (ms since the epoch). */
  pushkeyTs: number;
}

export interface AccountStore {
  /** Creates the user (and, when given, a first device with a token) in one transaction. Returns false if the user ID is taken. */
  createUser(user: NewUser, login?: NewDeviceLogin): Promise<boolean>;
  getUser(userId: string): Promise<UserRecord | undefined>;
  /** Users whose localpart starts with a prefix are counted and listed by the admin API later; this counts all. */
  countUsers(): Promise<number>;
  nextCounter(name: string): Promise<number>;
  setPasswordHash(userId: string, hash: string | null): Promise<void>;
  setAdmin(userId: string, admin: boolean): Promise<void>;
  setDeactivated(userId: string, deactivated: boolean): Promise<void>;
  setShadowBanned(userId: string, shadowBanned: boolean): Promise<void>;
  /** Marks the user deactivated and deletes every device and token; returns the revoked token hashes. */
  deactivateUser(userId: string): Promise<string[]>;

  /** Creates the device if needed, revokes its earlier tokens and stores the new token hash, atomically. */
  loginDevice(login: NewDeviceLogin): Promise<DeviceLoginResult>;
  findTokenOwner(tokenHash: string): Promise<TokenOwner | undefined>;
  getDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined>;
  listDevices(userId: string): Promise<DeviceRecord[]>;
  setDeviceDisplayName(userId: string, deviceId: string, displayName: string | null): Promise<boolean>;
  updateDeviceLastSeen(userId: string, deviceId: string, ts: number, ip: string | null, userAgent: string | null): Promise<void>;
  /** Deletes the devices and their tokens; returns the revoked token hashes. */
  deleteDevices(userId: string, deviceIds: string[]): Promise<string[]>;
  /** Revokes every token of the user except those of `keepDeviceId`'s device; deletes those devices too when asked. */
  revokeOtherDevices(userId: string, keepDeviceId: string | null, deleteDevices: boolean): Promise<string[]>;
  revokeToken(tokenHash: string): Promise<void>;

  getProfile(userId: string): Promise<Record<string, unknown>>;
  setProfileField(userId: string, field: string, value: unknown): Promise<void>;
  deleteProfileField(userId: string, field: string): Promise<void>;

  /**
   * Creates or replaces the user's pusher with this app_id and pushkey, in one transaction with, unless
   * `append`, the deletion of other users' pushers with the same app_id and pushkey (pusher.yaml
   * `append`). A device's pushers are deleted with the device.
   */
  setPusher(p: PusherRecord, append: boolean): Promise<void>;
  /** Deletes the user's pusher with this app_id and pushkey; false when there was none. */
  deletePusher(userId: string, appId: string, pushkey: string): Promise<boolean>;
  getPushers(userId: string): Promise<PusherRecord[]>;

  /** Stores an OpenID token (its hash) for the user until `expiresTs`; expired ones are deleted on the way. */
  putOpenIdToken(tokenHash: string, userId: string, expiresTs: number, now: number): Promise<void>;
  /** The user of an OpenID token that has not expired at `now`. */
  findOpenIdToken(tokenHash: string, now: number): Promise<string | undefined>;
}

export interface RoomRecord {
  roomId: string;
  roomVersion: string;
  creator: string;
  createdTs: number;
  visibility: 'public' | 'private';
  /** The state group of the room's current state (NULL before its first event). */
  stateGroup: number | null;
}

/** A state group to create (spec/event-graph.md): a full snapshot (prevGroup null) or a delta on prevGroup. */
export interface NewStateGroup {
  id: number;
  roomId: string;
  prevGroup: number | null;
  /** Deltas down to the snapshot (0 for a snapshot). */
  hops: number;
  /** [type, state_key, event_id]; a null event ID marks a key absent from this state (deltas only). */
  entries: [string, string, string | null][];
}

/** One change of a room's current state, recorded at the position of the event that caused it. */
export interface StateDelta {
  type: string;
  stateKey: string;
  /** The new value; null when the key leaves the state. */
  eventId: string | null;
  prevEventId: string | null;
  /** For m.room.member keys: the new membership (room_memberships follows the current state). */
  membership?: string;
}

/** An event as stored, with what the client format needs beside the PDU. */
export interface EventRecord {
  event: StoredEvent;
  streamOrdering: number;
  /** replaces_state and prev_sender of a state event: fixed when the event was persisted. */
  unsigned: JsonObject | null;
  redactedBy: string | null;
  txn: { userId: string; deviceId: string; txnId: string } | null;
  serverLocal: boolean;
  /** Its place in the graph (spec/event-graph.md); absent in records built before they were stored. */
  graph?: EventGraphInfo;
}

export interface EventGraphInfo {
  /** State groups just before and just after the event (null: empty state, or an outlier). */
  stateBefore: number | null;
  stateAfter: number | null;
  outlier: boolean;
  /** Why the auth rules rejected it, or null. */
  rejected: string | null;
  softFailed: boolean;
}

export interface PersistEventInput {
  event: StoredEvent;
  streamOrdering: number;
  /** Set for the m.room.create event: the room row is created in the same transaction. */
  newRoom?: { roomVersion: string; creator: string; createdTs: number };
  unsigned: JsonObject | null;
  /** The room's forward extremities after this event (graph events only). */
  extremities: string[];
  /**
   * The room's forward extremities the event was built on. When given, the store reads the room's
   * extremities inside the transaction (under the room's write lock) and refuses the whole write with
   * StaleExtremitiesError (storage/errors.ts) when they differ: another writer got there first.
   */
  expectedExtremities?: string[];
  /** Graph data (spec/event-graph.md): groups created with the event, its own groups, flags. */
  graph?: PersistGraph;
  /** The change of the room's current state the event causes (its own key, or a resolution's keys). */
  currentState?: { group: number | null; deltas: StateDelta[] };
  txn?: { userId: string; deviceId: string; scope: string; txnId: string; ts: number };
  /**
   * A redaction that applies now: the target's stored JSON is replaced by its redacted form, and what
   * was indexed from its content goes (its relation, so its thread's latest event is worked out again;
   * its search text).
   */
  redaction?: { targetEventId: string; redactedJson: JsonObject };
  /** Server-generated event outside the room graph (not state, not an extremity). */
  serverLocal?: boolean;
  /** Users this event notifies under their push rules (stored with the event). */
  pushActions?: PushActionRecord[];
  /**
   * A local user's membership in a room this server does not hold the state of (an invite from
   * another server, its rejection): recorded in the user's room list at this stream position, outside
   * the room's state (the event itself is an outlier).
   */
  outOfBand?: { userId: string; membership: string; streamOrdering: number };
  /** The event is stored as an outlier and now joins the graph (backfill reached it): that row is replaced. */
  replacesOutlier?: boolean;
  /**
   * The relation the event declares (wire.ts relationOf), indexed with it: set by the core for shown
   * graph events only. An `m.thread` relation also makes the event a candidate for its thread's
   * latest event (`threads`).
   */
  relation?: Relation;
  /** The thread the event is in ('main' or a thread root's ID): its push actions are counted per thread. */
  threadId?: string;
  /** Text the search API finds the event by (wire.ts searchableText): shown graph events only. */
  search?: { key: SearchKey; value: string };
}

export interface PersistGraph {
  /** Groups to create first, in order (a resolution of the prev events' states, the state after). */
  newGroups: NewStateGroup[];
  stateBefore: number | null;
  stateAfter: number | null;
  outlier?: boolean;
  rejected?: string | null;
  softFailed?: boolean;
}

export interface MembershipRecord {
  roomId: string;
  userId: string;
  membership: string;
  eventId: string;
  streamOrdering: number;
}

export interface RoomEventsQuery {
  roomId: string;
  /** Exclusive bound to start from. */
  from: number;
  dir: 'b' | 'f';
  limit: number;
  /** Inclusive bound in the paging direction; stops the page there. */
  to?: number;
  types?: string[];
  notTypes?: string[];
  senders?: string[];
  notSenders?: string[];
}

export interface LoadedRoom {
  room: RoomRecord;
  state: StoredEvent[];
  /** Forward extremities with their depths. */
  extremities: { eventId: string; depth: number }[];
  depth: number;
}

/** A page position in a room's topological order (depth, then arrival). */
export interface TopologicalPosition {
  depth: number;
  streamOrdering: number;
}

export interface TopologicalEventsQuery {
  roomId: string;
  /** The gap to start from (a place stands for the gap just below it). */
  from: TopologicalPosition;
  dir: 'b' | 'f';
  limit: number;
  /** The gap to stop at. */
  to?: TopologicalPosition;
  types?: string[];
  notTypes?: string[];
  senders?: string[];
  notSenders?: string[];
}

/** An indexed relation (event_relations): the child event, its parent and what aggregations need of the child. */
export interface RelationRecord {
  eventId: string;
  relatesTo: string;
  relType: string;
  key: string | null;
  roomId: string;
  type: string;
  sender: string;
  originServerTs: number;
  depth: number;
  streamOrdering: number;
}

/** A page of a parent's children (GET /relations), in topological order. */
export interface RelationsQuery {
  parentId: string;
  /** Only children of the parent's room. */
  roomId: string;
  relType?: string;
  eventType?: string;
  dir: 'b' | 'f';
  /** The gap to start from (as in TopologicalEventsQuery). */
  from: TopologicalPosition;
  /** The gap to stop at. */
  to?: TopologicalPosition;
  limit: number;
  /**
   * Levels of relations followed: 1 = direct children; n > 1 also children of children up to n hops,
   * through children that match relType and eventType only.
   */
  depth: number;
}

/** A thread of a room: its root and its topologically newest m.thread child. */
export interface ThreadRecord {
  threadId: string;
  latestEventId: string;
  latest: TopologicalPosition;
}

/** One alternative of a search clause: a word (with prefix matching) or a phrase of words. */
export interface SearchTerm {
  words: string[];
  /** The last word matches as a prefix. */
  prefix: boolean;
}

/** A parsed search (core/search/query.ts): every clause must match (a clause matches when one of its terms does), no `not` clause may. */
export interface SearchQuery {
  clauses: SearchTerm[][];
  not: SearchTerm[][];
}

export interface SearchEventsQuery {
  query: SearchQuery;
  roomIds: string[];
  keys: SearchKey[];
  order: 'rank' | 'recent';
  /** 'recent': only results that arrived before this position. */
  before?: number;
  /** 'rank': results skipped (offset into the ranked list). */
  offset?: number;
  limit: number;
  types?: string[];
  notTypes?: string[];
  senders?: string[];
  notSenders?: string[];
}

export interface SearchHit {
  eventId: string;
  roomId: string;
  streamOrdering: number;
  /** Higher is closer (search.yaml `rank`). */
  rank: number;
}

export interface AliasRecord {
  alias: string;
  roomId: string;
  creator: string;
}

/**
 * A room's write lock held in the store (RoomStore.lockRoom): until `release`, no other writer sharing
 * the database persists an event of the room, so state read meanwhile stays current.
 */
export interface RoomWriteLock {
  /** Persists one event of the locked room under the lock (its own transaction). */
  persist(input: PersistEventInput): Promise<void>;
  /** Ends the lock (after a persist, or without one). */
  release(): Promise<void>;
}

export interface RoomStore {
  /** The highest position any stored item carries (start-up resumes after it). */
  maxStreamOrdering(): Promise<number>;
  /** Atomically: event row, room row (create), current state, membership, extremities, txn, redaction. */
  persistEvent(input: PersistEventInput): Promise<void>;
  /**
   * Takes the room's write lock in the store (PostgreSQL: a transaction holding the room's advisory
   * lock; SQLite, whose one connection is its one writer: nothing to hold, the persist is checked as
   * usual). The writer takes it after a StaleExtremitiesError, before reading the room again, so
   * another writer cannot get there first twice.
   */
  lockRoom(roomId: string): Promise<RoomWriteLock>;
  /** Several events in order, in one transaction (room creation, a group commit of several rooms' sends). */
  persistEvents(inputs: PersistEventInput[]): Promise<void>;
  getRoom(roomId: string): Promise<RoomRecord | undefined>;
  setRoomVisibility(roomId: string, visibility: 'public' | 'private'): Promise<void>;
  listPublicRooms(): Promise<RoomRecord[]>;
  /** Current state events of the room. */
  getCurrentState(roomId: string): Promise<StoredEvent[]>;
  getExtremities(roomId: string): Promise<string[]>;
  /** Rooms with their current state, forward extremities and the depth of the deepest extremity (unknown rooms are left out). */
  loadRooms(roomIds: string[]): Promise<LoadedRoom[]>;
  /** The position of the room's newest event (0 for none). */
  getLatestPosition(roomId: string): Promise<number>;
  getEvent(eventId: string): Promise<EventRecord | undefined>;
  getEvents(eventIds: string[]): Promise<EventRecord[]>;
  /** The event an earlier request with this transaction ID on the same path (scope) produced. */
  findTxn(userId: string, deviceId: string, scope: string, txnId: string): Promise<string | undefined>;
  /** A page of a room's events in stream order, bounded by an index range. */
  getRoomEvents(q: RoomEventsQuery): Promise<EventRecord[]>;
  /** The room's current state as it was at stream position `at` (current_state_deltas up to `at`). */
  getStateAt(roomId: string, at: number): Promise<StoredEvent[]>;
  /**
   * Every value the room's current state took for one (type, state_key), oldest first, with the
   * position where it took effect (a key that left the state has no event).
   */
  getStateHistory(roomId: string, type: string, stateKey: string): Promise<{ event: StoredEvent | null; streamOrdering: number }[]>;
  /**
   * The value the room's current state had for one key at stream position `at`, with the position
   * where it took effect (one indexed lookup); undefined when the key was not in the state.
   */
  getStateValueAt(roomId: string, type: string, stateKey: string, at: number): Promise<{ event: StoredEvent; streamOrdering: number } | undefined>;
  /** The ID of the room's newest server-generated event (outside the graph), if any. */
  getLatestServerLocalEvent(roomId: string): Promise<string | undefined>;
  /** The changes of the room's current state after position `after`, oldest first, at most `limit`. */
  getStateDeltasAfter(roomId: string, after: number, limit: number): Promise<(StateDelta & { streamOrdering: number })[]>;
  /** The topological place of the room's newest shown event at or before stream position `at` (undefined: none). */
  getTopologicalPositionAt(roomId: string, at: number): Promise<TopologicalPosition | undefined>;
  /** A page of a room's visible graph events in topological order (depth, then arrival). */
  getRoomEventsTopological(q: TopologicalEventsQuery): Promise<EventRecord[]>;
  /** A state group as a map from `type\u0000state_key` to event ID (every delta folded in). */
  getStateGroup(groupId: number): Promise<Map<string, string>>;
  /** Some keys (`type\u0000state_key`) of a state group. */
  getStateGroupKeys(groupId: number, keys: string[]): Promise<Map<string, string>>;
  /** The hops of a group (deltas down to its snapshot). */
  getStateGroupHops(groupId: number): Promise<number | undefined>;
  /** The highest state group ID (allocation resumes after it). */
  maxStateGroupId(): Promise<number>;
  /** Whether some stored event names this one in prev_events. */
  hasChildren(eventId: string): Promise<boolean>;
  /** Prev events the room's events name that are not stored (where backfill continues). */
  getBackwardExtremities(roomId: string): Promise<string[]>;
  /** The lowest stream position (outliers and backfilled history take positions below the others). */
  minStreamOrdering(): Promise<number>;
  getMembership(roomId: string, userId: string): Promise<MembershipRecord | undefined>;
  /** Rooms where the user's current membership is one of `memberships`. */
  getRoomsForUser(userId: string, memberships: string[]): Promise<MembershipRecord[]>;
  getRoomMembers(roomId: string, memberships?: string[]): Promise<MembershipRecord[]>;
  /** Marks the user's (left) membership as forgotten. */
  forgetRoom(roomId: string, userId: string): Promise<void>;
  isForgotten(roomId: string, userId: string): Promise<boolean>;

  /** The relation an event declares, as indexed (undefined: none, or the event is redacted, hidden or unknown). */
  getRelation(eventId: string): Promise<RelationRecord | undefined>;
  /** A page of the shown graph events relating to a parent (see RelationsQuery). */
  getRelatingEvents(q: RelationsQuery): Promise<EventRecord[]>;
  /**
   * How many children relate to each parent, per rel_type, leaving out `notSenders`' (parents without
   * any are absent): one query tells which parents need a closer look.
   */
  countRelations(parentIds: string[], notSenders: string[]): Promise<Map<string, Map<string, number>>>;
  /** The relations of type `relType` to these parents, newest first, at most `limitPerParent` for each. */
  getRelationsOf(parentIds: string[], relType: string, limitPerParent: number): Promise<RelationRecord[]>;
  /** The parents among `parentIds` that `sender` relates to with `relType`. */
  parentsRelatedBy(parentIds: string[], relType: string, sender: string): Promise<Set<string>>;
  /** An unredacted m.annotation of `sender` with this event type and key on the parent (event_annotations.md). */
  findAnnotation(parentId: string, sender: string, type: string, key: string): Promise<string | undefined>;
  /** The room's threads, newest latest event first, those whose latest event is below `before` when given. */
  getThreads(roomId: string, before: TopologicalPosition | undefined, limit: number): Promise<ThreadRecord[]>;

  /** Full-text search over the events' searchable text (searchableText) in these rooms. */
  searchEvents(q: SearchEventsQuery): Promise<SearchHit[]>;
  /** How many events match (before any visibility check): search.yaml `count` is approximate. */
  countSearchResults(q: Omit<SearchEventsQuery, 'order' | 'before' | 'offset' | 'limit'>): Promise<number>;
  /**
   * The room's shown graph events nearest to `ts` in direction `dir`: at or after it, oldest first
   * ('f'), or at or before it, newest first ('b'), by origin_server_ts (then arrival); at most `limit`.
   */
  getEventsByTimestamp(roomId: string, ts: number, dir: 'b' | 'f', limit: number): Promise<EventRecord[]>;

  createAlias(alias: AliasRecord, ts: number): Promise<boolean>;
  getAlias(alias: string): Promise<AliasRecord | undefined>;
  deleteAlias(alias: string): Promise<boolean>;
  getAliasesForRoom(roomId: string): Promise<string[]>;
  /** Points every alias of `fromRoomId` to `toRoomId` (a room upgrade); returns the aliases moved. */
  moveAliases(fromRoomId: string, toRoomId: string): Promise<string[]>;

  getSigningKey(): Promise<{ keyId: string; seed: string } | undefined>;
  storeSigningKey(keyId: string, seed: string, ts: number): Promise<void>;
}

export interface AccountDataRecord {
  /** '' for global account data. */
  roomId: string;
  type: string;
  content: JsonObject;
  streamOrdering: number;
}

export interface ReceiptRecord {
  roomId: string;
  receiptType: string;
  userId: string;
  /** '' for an unthreaded receipt. */
  threadId: string;
  eventId: string;
  eventStreamOrdering: number;
  ts: number;
  streamOrdering: number;
}

export interface ToDeviceRecord {
  streamOrdering: number;
  userId: string;
  deviceId: string;
  sender: string;
  type: string;
  content: JsonObject;
}

/** The transaction of a to-device send: scoped to the sending device and the request path ('sendToDevice <type>'). */
export interface ToDeviceTxn {
  userId: string;
  deviceId: string;
  scope: string;
  txnId: string;
  ts: number;
}

export interface PushActionRecord {
  userId: string;
  highlight: boolean;
  /** The rule's tweaks (sound, highlight...), for the push gateway; not stored. */
  tweaks?: Record<string, JsonValue>;
}

export interface SyncStore {
  /** Stores a filter and returns its new ID (per user, increasing). */
  putFilter(userId: string, filterJson: string): Promise<number>;
  getFilter(userId: string, filterId: number): Promise<string | undefined>;

  setAccountData(userId: string, roomId: string, type: string, content: JsonObject, streamOrdering: number): Promise<void>;
  getAccountData(userId: string, roomId: string, type: string): Promise<JsonObject | undefined>;
  /** Account data (global and per room) changed after `since` (0: all). */
  getAccountDataSince(userId: string, since: number): Promise<AccountDataRecord[]>;

  /** Stores a receipt unless the user already has one of that type and thread on a later event; returns whether it was stored. */
  putReceipt(r: ReceiptRecord): Promise<boolean>;
  /** Receipts in these rooms with a position after `since` (0: all current receipts). */
  getReceiptsSince(roomIds: string[], since: number): Promise<ReceiptRecord[]>;
  getReceipt(roomId: string, receiptType: string, userId: string, threadId: string): Promise<ReceiptRecord | undefined>;

  /** Stores messages unless (sender, device, scope, txnId) was seen; returns false for a repeat. */
  addToDevice(messages: ToDeviceRecord[], txn: ToDeviceTxn | null): Promise<boolean>;
  getToDevice(userId: string, deviceId: string, after: number, limit: number): Promise<ToDeviceRecord[]>;
  /** Deletes messages the device acknowledged (position <= upTo). */
  deleteToDevice(userId: string, deviceId: string, upTo: number): Promise<void>;

  /** Notifying events for the user in the room after position `after`. */
  countNotifications(userId: string, roomId: string, after: number): Promise<{ notifications: number; highlights: number }>;
  /**
   * Notifying events for the user in the room after position `after`, per thread ('main' for the main
   * timeline; threads without any are absent); in each thread only those after the user's newest
   * m.read or m.read.private receipt of that thread when it is later than `after`.
   */
  countNotificationsByThread(userId: string, roomId: string, after: number): Promise<Map<string, { notifications: number; highlights: number }>>;
}

export interface Storage {
  /** Which engine stores the data (metrics name it; the benchmark's loader batches SQLite writes). */
  readonly engine: 'sqlite' | 'postgres';
  readonly accounts: AccountStore;
  readonly rooms: RoomStore;
  readonly sync: SyncStore;
  readonly meta: MetaStore;
  readonly admin: AdminStore;
  /** Other servers' keys, the outbound federation queue, received transactions (federation-types.ts). */
  readonly federation: FederationStore;
  /** End-to-end encryption keys, device-list changes, key backups (e2ee-types.ts). */
  readonly e2ee: E2eeStore;
  /** Media repository metadata (media-types.ts). */
  readonly media: MediaRecordStore;
  close(): Promise<void>;
}

/** Small server-wide values (the position ceilings) and per-user presence status that outlive a restart. */
export interface MetaStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  /**
   * Reserves the next block of `size` numbers of the counter `name` (stream positions, state group
   * IDs) atomically, for whichever writer asks: the stored ceiling becomes max(ceiling, floor) + size
   * and is returned; the block is (returned - size, returned]. Blocks handed to different writers never
   * overlap, and none is handed out twice, across restarts too.
   */
  reserveBlock(name: string, floor: number, size: number): Promise<number>;
  getPresenceStatus(userId: string): Promise<{ statusMsg: string | null; lastActiveTs: number | null } | undefined>;
  setPresenceStatus(userId: string, statusMsg: string | null, lastActiveTs: number | null): Promise<void>;
}

export interface UserListQuery {
  from: number;
  limit: number;
  /** Substring of the user ID or display name. */
  name?: string;
  guests: boolean;
  deactivated: boolean;
}

export interface UserListEntry extends UserRecord {
  displayName: string | null;
  avatarUrl: string | null;
}

/** A registration token as stored (`pending` uses live with UIA sessions, not here). */
export interface RegistrationTokenRecord {
  token: string;
  usesAllowed: number | null;
  completed: number;
  expiryTime: number | null;
}

export interface RoomListEntry {
  roomId: string;
  roomVersion: string;
  creator: string;
  createdTs: number;
  visibility: 'public' | 'private';
  blocked: boolean;
  joinedMembers: number;
  stateEvents: number;
}

/** A report of content by a user (report_content.yaml): of an event, a room or a user. */
export interface ReportRecord {
  id: number;
  kind: 'event' | 'room' | 'user';
  receivedTs: number;
  reporter: string;
  roomId: string | null;
  eventId: string | null;
  eventSender: string | null;
  targetUserId: string | null;
  reason: string | null;
  score: number | null;
}

export interface ReportListQuery {
  kind: ReportRecord['kind'];
  /** Offset into the list. */
  from: number;
  limit: number;
  /** 'b': newest first; 'f': oldest first. */
  dir: 'b' | 'f';
  reporter?: string;
  roomId?: string;
  eventSender?: string;
}

/** What the admin API and server notices need beyond the other stores. */
export interface AdminStore {
  listUsers(q: UserListQuery): Promise<{ users: UserListEntry[]; total: number }>;
  /** Every active (not deactivated, not guest) local user. */
  activeUserIds(): Promise<string[]>;
  listRooms(): Promise<RoomListEntry[]>;
  /** Stored events, of one room or of all (the benchmark's loader reports what it wrote). */
  countEvents(roomId?: string): Promise<number>;
  /**
   * Refreshes the query planner's statistics after a bulk load (the benchmark's loader). PostgreSQL:
   * ANALYZE, which autovacuum otherwise runs on its own schedule; without statistics a fresh database
   * may read a whole room to sort a page instead of walking the index. SQLite: nothing (its plans
   * here do not depend on statistics).
   */
  analyze(): Promise<void>;
  /** Blocks (by whom, null when the server itself) or unblocks a room, known to this server or not. */
  setRoomBlocked(roomId: string, blocked: boolean, by: string | null, ts: number): Promise<void>;
  isRoomBlocked(roomId: string): Promise<boolean>;
  getRoomBlock(roomId: string): Promise<{ blockedBy: string | null } | undefined>;
  listRegistrationTokens(): Promise<RegistrationTokenRecord[]>;
  getRegistrationToken(token: string): Promise<RegistrationTokenRecord | undefined>;
  /** Returns false when the token exists already. */
  createRegistrationToken(t: RegistrationTokenRecord, ts: number): Promise<boolean>;
  /** Changes the given fields; undefined when there is no such token. */
  updateRegistrationToken(token: string, change: { usesAllowed?: number | null; expiryTime?: number | null }): Promise<RegistrationTokenRecord | undefined>;
  deleteRegistrationToken(token: string): Promise<boolean>;
  /** One more registration completed with the token (nothing when it was deleted meanwhile). */
  completeRegistrationToken(token: string): Promise<void>;
  getNoticeRoom(userId: string): Promise<string | undefined>;
  setNoticeRoom(userId: string, roomId: string, ts: number): Promise<void>;
  /** Stores a report; returns its ID. */
  addReport(r: Omit<ReportRecord, 'id'>): Promise<number>;
  listReports(q: ReportListQuery): Promise<{ reports: ReportRecord[]; total: number }>;
  getReport(id: number): Promise<ReportRecord | undefined>;
  deleteReport(id: number): Promise<boolean>;
  getAdminTxn(userId: string, scope: string, txnId: string): Promise<string | undefined>;
  putAdminTxn(userId: string, scope: string, txnId: string, responseJson: string, ts: number): Promise<void>;
}
