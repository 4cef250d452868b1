// The storage API the core uses. Async and coarse-grained so that another implementation (PostgreSQL)
// can be added without touching core; each method is atomic on its own.
import type { JsonObject, StoredEvent } from '../core/events/types.js';

export interface UserRecord {
  userId: string;
  localpart: string;
  passwordHash: string | null;
  isAdmin: boolean;
  isGuest: boolean;
  deactivated: boolean;
  createdTs: number;
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
}

export interface DeviceLoginResult {
  /** Token hashes that belonged to the device before (now revoked). */
  revokedTokenHashes: string[];
  createdDevice: boolean;
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
}

export interface RoomRecord {
  roomId: string;
  roomVersion: string;
  creator: string;
  createdTs: number;
  visibility: 'public' | 'private';
}

/** An event as stored, with what the client format needs beside the PDU. */
export interface EventRecord {
  event: StoredEvent;
  streamOrdering: number;
  /** prev_content, prev_sender, replaces_state: fixed when the event was persisted. */
  unsigned: JsonObject | null;
  redactedBy: string | null;
  txn: { userId: string; deviceId: string; txnId: string } | null;
  serverLocal: boolean;
}

export interface PersistEventInput {
  event: StoredEvent;
  streamOrdering: number;
  /** Set for the m.room.create event: the room row is created in the same transaction. */
  newRoom?: { roomVersion: string; creator: string; createdTs: number };
  unsigned: JsonObject | null;
  /** The room's forward extremities after this event. */
  extremities: string[];
  txn?: { userId: string; deviceId: string; txnId: string; ts: number };
  /** A redaction that applies now: the target's stored JSON is replaced by its redacted form. */
  redaction?: { targetEventId: string; redactedJson: JsonObject };
  /** Server-generated event outside the room graph (not state, not an extremity). */
  serverLocal?: boolean;
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

export interface AliasRecord {
  alias: string;
  roomId: string;
  creator: string;
}

export interface RoomStore {
  /** The highest position any stored item carries (start-up resumes after it). */
  maxStreamOrdering(): Promise<number>;
  /** Atomically: event row, room row (create), current state, membership, extremities, txn, redaction. */
  persistEvent(input: PersistEventInput): Promise<void>;
  /** Several events in order, in one transaction (room creation). */
  persistEvents(inputs: PersistEventInput[]): Promise<void>;
  getRoom(roomId: string): Promise<RoomRecord | undefined>;
  setRoomVisibility(roomId: string, visibility: 'public' | 'private'): Promise<void>;
  listPublicRooms(): Promise<RoomRecord[]>;
  /** Current state events of the room. */
  getCurrentState(roomId: string): Promise<StoredEvent[]>;
  getExtremities(roomId: string): Promise<string[]>;
  getEvent(eventId: string): Promise<EventRecord | undefined>;
  getEvents(eventIds: string[]): Promise<EventRecord[]>;
  findTxn(userId: string, deviceId: string, txnId: string): Promise<string | undefined>;
  /** A page of a room's events in stream order, bounded by an index range. */
  getRoomEvents(q: RoomEventsQuery): Promise<EventRecord[]>;
  /** The state after position `at` (events with stream_ordering <= at). */
  getStateAt(roomId: string, at: number): Promise<StoredEvent[]>;
  /** Every state event of one (type, state_key) in a room, oldest first, with positions. */
  getStateHistory(roomId: string, type: string, stateKey: string): Promise<{ event: StoredEvent; streamOrdering: number }[]>;
  getMembership(roomId: string, userId: string): Promise<MembershipRecord | undefined>;
  /** Rooms where the user's current membership is one of `memberships`. */
  getRoomsForUser(userId: string, memberships: string[]): Promise<MembershipRecord[]>;
  getRoomMembers(roomId: string, memberships?: string[]): Promise<MembershipRecord[]>;
  /** Marks the user's (left) membership as forgotten. */
  forgetRoom(roomId: string, userId: string): Promise<void>;
  isForgotten(roomId: string, userId: string): Promise<boolean>;

  createAlias(alias: AliasRecord, ts: number): Promise<boolean>;
  getAlias(alias: string): Promise<AliasRecord | undefined>;
  deleteAlias(alias: string): Promise<boolean>;
  getAliasesForRoom(roomId: string): Promise<string[]>;

  getSigningKey(): Promise<{ keyId: string; seed: string } | undefined>;
  storeSigningKey(keyId: string, seed: string, ts: number): Promise<void>;
}

export interface Storage {
  readonly accounts: AccountStore;
  readonly rooms: RoomStore;
  close(): Promise<void>;
}
