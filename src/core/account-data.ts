// Account data, receipts and read markers, to-device messages: small per-user streams that /sync
// delivers. Each change takes a position from the global counter and wakes the users it concerns.
// (matrix-spec: account-data.yaml, receipts.yaml, read_markers.yaml, to_device.yaml) Receipts and
// to-device messages of other servers' users arrive here from federation (receiveRemoteReceipt,
// deliverRemoteToDevice); ours for them leave through the listeners.
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { badJson, forbidden, invalidParam, MatrixError, notFound } from '../errors.js';
import type { AccountStore, ReceiptRecord, RoomStore, SyncStore, ToDeviceRecord, ToDeviceTxn } from '../storage/types.js';
import type { AuthContext } from './accounts/events.js';
import { membershipOf } from './auth-rules.js';
import type { JsonObject } from './events/types.js';
import { joinedMembers, lookupIn, type RoomState, type RoomStateService } from './rooms/room-state.js';
import { isValidRoomId, parseUserId } from './ids.js';
import { KeyedMutex } from './lock.js';
import type { Notifier } from './notifier.js';
import type { StreamPositions } from './stream.js';

/** Account data types the server owns (matrix-spec: account-data.yaml#setAccountData 405). */
const SERVER_OWNED_TYPES = new Set(['m.fully_read', 'm.push_rules']);
export const RECEIPT_TYPES = new Set(['m.read', 'm.read.private', 'm.fully_read']);

/** To-device messages for one user's devices ('*': all of them), by user ID. */
export type ToDeviceMessages = Record<string, Record<string, JsonObject>>;

/** What federation sends on: local users' receipts, and to-device messages for other servers' users. */
export interface AccountDataListener {
  /** A local user's receipt was stored (every type: the listener picks what may leave the server). */
  receiptStored?(r: ReceiptRecord): void;
  /** A local user sent to-device messages to users of other servers (the listener groups them by server). */
  remoteToDevice?(sender: string, type: string, messages: ToDeviceMessages): void;
}

export class AccountDataService {
  private readonly listeners: AccountDataListener[] = [];

  constructor(
    private readonly config: Config,
    private readonly store: SyncStore,
    private readonly rooms: RoomStore,
    private readonly accounts: AccountStore,
    private readonly roomState: RoomStateService,
    private readonly notifier: Notifier,
    private readonly positions: () => Promise<StreamPositions>,
    private readonly clock: Clock,
    /** Threaded receipts: 400 M_INVALID_PARAM unless the event is in the thread (RelationsService.checkReceiptThread). */
    private readonly checkReceiptThread: (eventId: string, threadId: string) => Promise<void> = async () => undefined,
  ) {}

  addListener(l: AccountDataListener): void {
    this.listeners.push(l);
  }

  private checkOwner(auth: AuthContext, userId: string): void {
    if (userId !== auth.userId) throw forbidden('You can only access your own account data');
  }

  private checkType(type: string): void {
    if (type.length === 0 || Buffer.byteLength(type, 'utf8') > 255) throw invalidParam('Invalid account data type');
  }

  private ignoredCache = new Map<string, Set<string>>();

  /** Another process changed the user's account data: what is cached of it here is stale. */
  forgetCached(userId: string): void {
    this.ignoredCache.delete(userId);
  }

  /** The users `userId` ignores (m.ignored_user_list), cached: read for every member on every send. */
  async ignoredBy(userId: string): Promise<Set<string>> {
    let set = this.ignoredCache.get(userId);
    if (!set) {
      const users = (await this.store.getAccountData(userId, '', 'm.ignored_user_list'))?.ignored_users;
      set = new Set(users && typeof users === 'object' && !Array.isArray(users) ? Object.keys(users) : []);
      if (this.ignoredCache.size > 100_000) this.ignoredCache.clear();
      this.ignoredCache.set(userId, set);
    }
    return set;
  }

  /** Stores account data without the server-owned check (used for m.fully_read and m.push_rules). */
  async put(userId: string, roomId: string, type: string, content: JsonObject): Promise<number> {
    const positions = await this.positions();
    await positions.available();
    const pos = positions.begin();
    try {
      await this.store.setAccountData(userId, roomId, type, content, pos);
    } finally {
      positions.done(pos);
    }
    if (roomId === '' && type === 'm.ignored_user_list') this.ignoredCache.delete(userId);
    this.notifier.notify([userId], pos);
    return pos;
  }

  /** PUT /user/{userId}/account_data/{type} and the per-room variant. */
  async set(auth: AuthContext, userId: string, roomId: string, type: string, content: JsonObject): Promise<void> {
    this.checkOwner(auth, userId);
    this.checkType(type);
    if (SERVER_OWNED_TYPES.has(type)) throw new MatrixError(405, 'M_BAD_JSON', `${type} is managed by the server and cannot be set this way`);
    if (roomId !== '' && !isValidRoomId(roomId)) throw invalidParam('Invalid room ID');
    if (type === 'm.ignored_user_list') {
      const users = content.ignored_users;
      if (typeof users !== 'object' || users === null || Array.isArray(users)) throw badJson('ignored_users must be an object');
    }
    await this.put(userId, roomId, type, content);
  }

  /** GET /user/{userId}/account_data/{type} and the per-room variant. */
  async get(auth: AuthContext, userId: string, roomId: string, type: string): Promise<JsonObject> {
    this.checkOwner(auth, userId);
    if (roomId !== '' && !isValidRoomId(roomId)) throw invalidParam('Invalid room ID');
    const content = await this.store.getAccountData(userId, roomId, type);
    if (content === undefined) throw notFound('Account data not found');
    return content;
  }

  // ---- room tags (matrix-spec: tags.yaml): the room's `m.tag` account data, so /sync delivers them ----

  private readonly tagLock = new KeyedMutex();

  private async currentTags(userId: string, roomId: string): Promise<JsonObject> {
    const tags = (await this.store.getAccountData(userId, roomId, 'm.tag'))?.tags;
    return tags && typeof tags === 'object' && !Array.isArray(tags) ? { ...(tags as JsonObject) } : {};
  }

  private checkTagOwner(auth: AuthContext, userId: string): void {
    if (userId !== auth.userId) throw forbidden('You can only access your own tags');
  }

  /** GET /user/{userId}/rooms/{roomId}/tags (matrix-spec: tags.yaml#getRoomTags). */
  async getTags(auth: AuthContext, userId: string, roomId: string): Promise<JsonObject> {
    this.checkTagOwner(auth, userId);
    return this.currentTags(userId, roomId);
  }

  /**
   * PUT /user/{userId}/rooms/{roomId}/tags/{tag} (matrix-spec: tags.yaml#setRoomTag). Read-modify-write
   * of the room's tags, one change at a time per user and room, so concurrent changes are all kept.
   */
  async setTag(auth: AuthContext, userId: string, roomId: string, tag: string, content: JsonObject): Promise<void> {
    this.checkTagOwner(auth, userId);
    if (content.order !== undefined && (typeof content.order !== 'number' || !Number.isFinite(content.order))) throw badJson("'order' must be a number");
    if (tag.length === 0 || Buffer.byteLength(tag, 'utf8') > 255) throw badJson('Tags are 1 to 255 bytes');
    await this.tagLock.run(`${userId}\u0000${roomId}`, async () => {
      const tags = await this.currentTags(userId, roomId);
      tags[tag] = content;
      await this.put(userId, roomId, 'm.tag', { tags });
    });
  }

  /** DELETE /user/{userId}/rooms/{roomId}/tags/{tag} (matrix-spec: tags.yaml#deleteRoomTag). */
  async deleteTag(auth: AuthContext, userId: string, roomId: string, tag: string): Promise<void> {
    this.checkTagOwner(auth, userId);
    await this.tagLock.run(`${userId}\u0000${roomId}`, async () => {
      const tags = await this.currentTags(userId, roomId);
      if (!(tag in tags)) return;
      delete tags[tag];
      await this.put(userId, roomId, 'm.tag', { tags });
    });
  }

  private async requireJoined(auth: AuthContext, roomId: string) {
    const room = await this.roomState.get(roomId);
    if (!room || membershipOf(auth.userId, lookupIn(room.state)) !== 'join') throw forbidden('You are not in this room');
    return room;
  }

  /** POST /rooms/{roomId}/receipt/{receiptType}/{eventId} (matrix-spec: receipts.yaml#postReceipt). */
  async receipt(auth: AuthContext, roomId: string, receiptType: string, eventId: string, threadId: string | undefined): Promise<void> {
    if (!RECEIPT_TYPES.has(receiptType)) throw invalidParam(`Unknown receipt type ${receiptType}`);
    if (threadId !== undefined && receiptType === 'm.fully_read') throw invalidParam('m.fully_read cannot be threaded');
    const room = await this.requireJoined(auth, roomId);
    const target = await this.rooms.getEvent(eventId);
    if (!target || target.event.room_id !== roomId) throw notFound('Unknown event');
    if (threadId !== undefined) await this.checkReceiptThread(eventId, threadId);
    if (receiptType === 'm.fully_read') {
      await this.put(auth.userId, roomId, 'm.fully_read', { event_id: eventId });
      return;
    }
    const r = await this.storeReceipt(room, receiptType, auth.userId, threadId ?? '', eventId, target.streamOrdering, this.clock.now());
    if (r) for (const l of this.listeners) l.receiptStored?.(r);
  }

  /** Stores a receipt and wakes those who see it; undefined when it is older than the user's current one. */
  private async storeReceipt(room: RoomState, receiptType: string, userId: string, threadId: string, eventId: string, eventStreamOrdering: number, ts: number): Promise<ReceiptRecord | undefined> {
    // A write in flight: readers see positions up to the last one below every write still under way.
    const positions = await this.positions();
    await positions.available();
    const pos = positions.begin();
    const r: ReceiptRecord = { roomId: room.roomId, receiptType, userId, threadId, eventId, eventStreamOrdering, ts, streamOrdering: pos };
    let stored: boolean;
    try {
      stored = await this.store.putReceipt(r);
    } finally {
      positions.done(pos);
    }
    if (!stored) return undefined; // an older event than the current receipt: nothing changes
    this.notifier.notify(receiptType === 'm.read.private' ? [userId] : joinedMembers(room), pos);
    return r;
  }

  /**
   * A read receipt of another server's user, from their server (the caller checked the user, the
   * origin and the room's ACL): stored like a local one when it names an event of the room this
   * server has (and, when threaded, an event of that thread); returns whether it was stored.
   */
  async receiveRemoteReceipt(roomId: string, userId: string, eventId: string, threadId: string, ts: number): Promise<boolean> {
    const room = await this.roomState.get(roomId);
    const target = await this.rooms.getEvent(eventId);
    if (!room || !target || target.event.room_id !== roomId || target.serverLocal) return false;
    if (threadId !== '') {
      try {
        await this.checkReceiptThread(eventId, threadId);
      } catch (e) {
        if (e instanceof MatrixError) return false; // not in that thread: what a client of ours would be refused
        throw e;
      }
    }
    return (await this.storeReceipt(room, 'm.read', userId, threadId, eventId, target.streamOrdering, ts)) !== undefined;
  }

  /** POST /rooms/{roomId}/read_markers (matrix-spec: read_markers.yaml#setReadMarker). */
  async readMarkers(auth: AuthContext, roomId: string, body: { fullyRead?: string; read?: string; readPrivate?: string }): Promise<void> {
    await this.requireJoined(auth, roomId);
    if (body.fullyRead !== undefined) await this.receipt(auth, roomId, 'm.fully_read', body.fullyRead, undefined);
    if (body.read !== undefined) await this.receipt(auth, roomId, 'm.read', body.read, undefined);
    if (body.readPrivate !== undefined) await this.receipt(auth, roomId, 'm.read.private', body.readPrivate, undefined);
  }

  /**
   * PUT /sendToDevice/{eventType}/{txnId} (matrix-spec: to_device.yaml#sendToDevice): GTChat's
   * whisper, a private message to one user's devices ('*' = all of them). Idempotent per txnId.
   */
  async sendToDevice(auth: AuthContext, type: string, txnId: string, messages: ToDeviceMessages): Promise<void> {
    this.checkType(type);
    const remote: ToDeviceMessages = {};
    for (const [userId, byDevice] of Object.entries(messages)) {
      const parsed = parseUserId(userId);
      if (!parsed) throw invalidParam(`Invalid user ID ${userId}`);
      for (const content of Object.values(byDevice)) {
        if (typeof content !== 'object' || content === null || Array.isArray(content)) throw badJson('Each message must be an object');
      }
      if (parsed.domain !== this.config.server_name) remote[userId] = byDevice; // their server delivers them
    }
    // The transaction ID is scoped to the request path, which names the event type ("Transaction identifiers").
    const stored = await this.deliver(auth.userId, type, messages, { userId: auth.userId, deviceId: auth.deviceId, scope: `sendToDevice ${type}`, txnId, ts: this.clock.now() });
    if (stored && Object.keys(remote).length > 0) for (const l of this.listeners) l.remoteToDevice?.(auth.userId, type, remote);
  }

  /**
   * To-device messages from another server's user (m.direct_to_device; the caller checked that the
   * sender belongs to `origin`): delivered to this server's users' devices, once per message ID.
   */
  async deliverRemoteToDevice(origin: string, sender: string, type: string, messageId: string, messages: ToDeviceMessages): Promise<boolean> {
    return this.deliver(sender, type, messages, { userId: origin, deviceId: '', scope: 'federation m.direct_to_device', txnId: messageId, ts: this.clock.now() });
  }

  /** Stores the messages for this server's users (others are skipped), unless `txn` was seen; returns false for a repeat. */
  private async deliver(sender: string, type: string, messages: ToDeviceMessages, txn: ToDeviceTxn): Promise<boolean> {
    const positions = await this.positions();
    const out: ToDeviceRecord[] = [];
    const users = new Set<string>();
    for (const [userId, byDevice] of Object.entries(messages)) {
      if (parseUserId(userId)?.domain !== this.config.server_name) continue;
      // Messages to devices that do not exist go nowhere (they would never be fetched).
      const known = (await this.accounts.listDevices(userId)).map((d) => d.deviceId);
      for (const [deviceId, content] of Object.entries(byDevice)) {
        if (typeof content !== 'object' || content === null || Array.isArray(content)) continue;
        const devices = deviceId === '*' ? known : known.includes(deviceId) ? [deviceId] : [];
        for (const d of devices) {
          out.push({ streamOrdering: 0, userId, deviceId: d, sender, type, content });
          users.add(userId);
        }
      }
    }
    await positions.available(out.length);
    for (const m of out) m.streamOrdering = positions.begin();
    let stored: boolean;
    try {
      stored = await this.store.addToDevice(out, txn);
    } finally {
      for (const m of out) positions.done(m.streamOrdering);
    }
    if (stored && out.length > 0) this.notifier.notify(users, out[out.length - 1]!.streamOrdering);
    return stored;
  }
}
