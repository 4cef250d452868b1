// EDUs across servers, both ways (matrix-spec: server-server-api "Typing Notifications", "Presence",
// "Receipts", "Send-to-device messaging", "Server Access Control Lists (ACLs)"; server-server/
// definitions/event-schemas/m.*.yaml), and Hearth's own `hearth.server_event` (spec/server-events.md
// "Across servers"). One place registers every inbound EDU type on the room handler and listens to
// the services whose changes leave the server:
//
//   typing      TypingService ──typingChanged──►  m.typing      ──► servers with joined members of the room
//   presence    PresenceService ──presenceChanged► m.presence    ──► servers sharing a room with the user
//               EventWriter (joins) ─────────────► m.presence    ──► (a new server gets our members' presence)
//   receipts    AccountDataService ──receiptStored► m.receipt    ──► servers with joined members of the room
//   to-device   AccountDataService ──remoteToDevice► m.direct_to_device ──► each recipient's server
//   server events ServerNoticeService ──roomEventSent► hearth.server_event ──► servers in the room
//
// Servers a room's ACL refuses get nothing of that room and are not listened to about it. A session
// that ends stops its typing and changes its presence: both reach other servers at once, like any
// other change (spec/sessions.md "Across servers").
import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import type { EventRecord, ReceiptRecord, RoomStore } from '../../storage/types.js';
import type { JsonObject } from '../../wire.js';
import type { AccountDataListener, AccountDataService, ToDeviceMessages } from '../account-data.js';
import { membershipOf } from '../auth-rules.js';
import type { DeadlineQueue } from '../deadlines.js';
import type { EventListener } from '../events/writer.js';
import { randomToken } from '../ids.js';
import type { ServerEventListener, ServerNoticeService } from '../notices.js';
import type { Presence, PresenceListener, PresenceService } from '../presence.js';
import { joinedMembers, lookupIn, type RoomState, type RoomStateService } from '../rooms/room-state.js';
import type { TypingListener, TypingService } from '../typing.js';
import type { EduHandler } from './room-handler.js';
import { isResident, roomAllowsServer, serverOfUser, serversInRoom } from './room-servers.js';
import type { FederationSender } from './sender.js';

/**
 * Another server's user stops typing here this long after their server last said they were typing.
 * Synapse's value (typing.py FEDERATION_TIMEOUT, 60 s): Synapse renews its users' typing every 40 s,
 * so a shorter timeout would make them flicker.
 */
export const REMOTE_TYPING_TIMEOUT_MS = 60_000;
/** Our users' typing is sent again this often while it lasts (Synapse: FEDERATION_PING_INTERVAL, 40 s). */
export const TYPING_RENEW_INTERVAL_MS = 40_000;
/** Another server's user turns offline here this long after their last presence update (Synapse: 30 min). */
export const REMOTE_PRESENCE_TIMEOUT_MS = 30 * 60_000;
/** Our users' presence, unless offline, is sent again this often (Synapse: 25 min). */
export const PRESENCE_RENEW_INTERVAL_MS = 25 * 60_000;
/** Hearth's EDU carrying a room-scoped server-generated event (spec/server-events.md). */
export const SERVER_EVENT_EDU = 'hearth.server_event';

const PRESENCE_VALUES = new Set<Presence>(['online', 'unavailable', 'offline']);
const MAX_STATUS_MSG_CHARS = 1024;
const MAX_ID_BYTES = 255;

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const isShortString = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && Buffer.byteLength(v, 'utf8') <= MAX_ID_BYTES;
const isNonNegativeInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export class FederationEdus implements TypingListener, PresenceListener, AccountDataListener, ServerEventListener, EventListener {
  /** EDUs handed to the queue but not yet stored (settled waits for them). */
  private readonly pending = new Set<Promise<void>>();
  /**
   * The presence last announced for each local user (presence, status_msg, currently_active): one
   * change reported twice (a session's presence and a status set by one request) goes out once, however
   * the two reports interleave with the queue's sending (an outbound queue coalesces only what it has
   * not started to send). Renewals go out regardless.
   */
  private readonly presenceAnnounced = new Map<string, string>();

  constructor(
    private readonly serverName: string,
    /** federation.enabled: without it nothing is sent (received EDUs are refused before they get here). */
    private readonly enabled: boolean,
    private readonly sender: FederationSender,
    private readonly rooms: RoomStore,
    private readonly roomState: RoomStateService,
    private readonly typing: TypingService,
    private readonly presence: PresenceService,
    private readonly accountData: AccountDataService,
    private readonly notices: ServerNoticeService,
    writer: { addListener(l: EventListener): void },
    private readonly deadlines: DeadlineQueue,
    private readonly clock: Clock,
    private readonly logger: Logger,
    handler: { onEduType(type: string, handler: EduHandler): void },
  ) {
    typing.addListener(this);
    presence.addListener(this);
    accountData.addListener(this);
    notices.addListener(this);
    writer.addListener(this);
    handler.onEduType('m.typing', (origin, content) => this.receiveTyping(origin, content));
    handler.onEduType('m.presence', (origin, content) => this.receivePresence(origin, content));
    handler.onEduType('m.receipt', (origin, content) => this.receiveReceipts(origin, content));
    handler.onEduType('m.direct_to_device', (origin, content) => this.receiveToDevice(origin, content));
    handler.onEduType(SERVER_EVENT_EDU, (origin, content) => this.receiveServerEvent(origin, content));
  }

  /** Waits until every EDU handed over is queued durably (shutdown, tests). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private isLocal(userId: string): boolean {
    return serverOfUser(userId) === this.serverName;
  }

  // ---- where things go ----------------------------------------------------------------------

  /** The other servers with joined members in the room that its ACL allows. */
  private destinationsOf(room: RoomState): string[] {
    const out = serversInRoom(room);
    out.delete(this.serverName);
    return [...out].filter((s) => roomAllowsServer(room, s));
  }

  private async roomDestinations(roomId: string): Promise<string[]> {
    const room = await this.roomState.get(roomId);
    return room ? this.destinationsOf(room) : [];
  }

  /** The servers sharing a room with the user (each room's ACL applied to its own servers). */
  private async userDestinations(userId: string): Promise<string[]> {
    const out = new Set<string>();
    for (const m of await this.rooms.getRoomsForUser(userId, ['join'])) {
      for (const d of await this.roomDestinations(m.roomId)) out.add(d);
    }
    return [...out];
  }

  /** Queues an EDU for each destination; failures to queue are logged (the change is not undone). */
  private send(destinations: Iterable<string>, eduType: string, content: JsonObject, coalesceKey?: string): void {
    for (const destination of destinations) {
      const p = this.sender.sendEdu(destination, { edu_type: eduType, content }, coalesceKey !== undefined ? { coalesceKey } : {})
        .catch((err: unknown) => this.logger.error({ err, destination, eduType }, 'federation: could not queue an EDU'))
        .finally(() => this.pending.delete(p));
      this.pending.add(p);
    }
  }

  /** Runs an async outbound step from a synchronous listener, logging its failure. */
  private track(what: string, p: Promise<void>): void {
    const q = p.catch((err: unknown) => this.logger.error({ err }, `federation: ${what} failed`)).finally(() => this.pending.delete(q));
    this.pending.add(q);
  }

  // ---- typing -------------------------------------------------------------------------------

  /** TypingListener: our users' typing goes out when it starts and ends, and is renewed while it lasts. */
  typingChanged(roomId: string, userId: string, typing: boolean): void {
    if (!this.enabled || !this.isLocal(userId)) return;
    const key = `federation-typing:${roomId}|${userId}`;
    if (typing) {
      if (this.deadlines.has(key)) return; // already announced; the renewal keeps it alive over there
      this.track('sending typing', this.sendTyping(roomId, userId, true));
      this.scheduleTypingRenewal(key, roomId, userId);
      return;
    }
    if (!this.deadlines.has(key)) return;
    this.deadlines.cancel(key);
    this.track('sending typing', this.sendTyping(roomId, userId, false));
  }

  private scheduleTypingRenewal(key: string, roomId: string, userId: string): void {
    this.deadlines.schedule(key, this.clock.now() + TYPING_RENEW_INTERVAL_MS, () => {
      if (!this.typing.isTyping(roomId, userId)) return;
      this.track('renewing typing', this.sendTyping(roomId, userId, true));
      this.scheduleTypingRenewal(key, roomId, userId);
    });
  }

  private async sendTyping(roomId: string, userId: string, typing: boolean): Promise<void> {
    this.send(await this.roomDestinations(roomId), 'm.typing', { room_id: roomId, user_id: userId, typing }, `m.typing ${roomId} ${userId}`);
  }

  /**
   * m.typing from `origin`: for a user of that server who is joined to a room this server is in, and
   * only if the room's ACL allows the origin (server-server-api "Typing Notifications", "Server ACLs").
   */
  private async receiveTyping(origin: string, c: JsonObject): Promise<void> {
    const { room_id: roomId, user_id: userId, typing } = c;
    if (typeof roomId !== 'string' || typeof userId !== 'string' || typeof typing !== 'boolean') return this.refuse(origin, 'm.typing', 'malformed');
    if (serverOfUser(userId) !== origin) return this.refuse(origin, 'm.typing', 'a user of another server', { userId });
    const room = await this.joinedRoomOf(origin, roomId, userId);
    if (!room) return this.refuse(origin, 'm.typing', 'not joined, not our room, or refused by its ACL', { roomId, userId });
    await this.typing.setRemote(roomId, userId, typing, REMOTE_TYPING_TIMEOUT_MS);
  }

  /** The room, when this server is in it, its ACL allows `origin`, and `userId` is joined to it. */
  private async joinedRoomOf(origin: string, roomId: string, userId: string): Promise<RoomState | undefined> {
    const room = await this.roomState.get(roomId);
    if (!room || !isResident(room, this.serverName) || !roomAllowsServer(room, origin)) return undefined;
    return membershipOf(userId, lookupIn(room.state)) === 'join' ? room : undefined;
  }

  // ---- presence -----------------------------------------------------------------------------

  /** PresenceListener: every change of a local user's presence goes to the servers sharing a room with them. */
  presenceChanged(userId: string): void {
    if (!this.enabled) return;
    this.track('sending presence', this.sendPresence(userId, false));
  }

  private async sendPresence(userId: string, renewal: boolean): Promise<void> {
    const item = this.presenceItem(userId);
    const key = `federation-presence:${userId}`;
    if (!item) return;
    const state = JSON.stringify([item.presence, item.status_msg ?? null, item.currently_active ?? null]);
    if (!renewal && this.presenceAnnounced.get(userId) === state) return; // announced already
    this.presenceAnnounced.set(userId, state);
    // Renewed while not offline, so that other servers do not time it out (REMOTE_PRESENCE_TIMEOUT_MS there).
    if (item.presence === 'offline') this.deadlines.cancel(key);
    else this.deadlines.schedule(key, this.clock.now() + PRESENCE_RENEW_INTERVAL_MS, () => {
      if (this.enabled) this.track('renewing presence', this.sendPresence(userId, true));
    });
    this.send(await this.userDestinations(userId), 'm.presence', { push: [item] }, `m.presence ${userId}`);
  }

  /** A user's presence as an m.presence `push` item (m.presence.yaml), when known. */
  private presenceItem(userId: string): JsonObject | undefined {
    const c = this.presence.current(userId);
    return c ? { user_id: userId, ...c } : undefined;
  }

  /**
   * EventListener: presence a server does not have yet when someone joins (Synapse does the same):
   * a local user who joins is announced to the room's other servers; a server whose user joins a room
   * gets the presence of our members there. A join that follows a join (a profile change) is none.
   */
  onEventPersisted(record: EventRecord, room: RoomState): void {
    const e = record.event;
    if (!this.enabled || !this.presence.enabled || record.serverLocal || e.type !== 'm.room.member' || e.state_key === undefined) return;
    if (e.content.membership !== 'join') return;
    this.track('sending presence on a join', this.presenceOnJoin(e.state_key, room, record.unsigned?.replaces_state));
  }

  private async presenceOnJoin(joiner: string, room: RoomState, replaces: unknown): Promise<void> {
    if (typeof replaces === 'string' && (await this.rooms.getEvent(replaces))?.event.content.membership === 'join') return;
    const server = serverOfUser(joiner);
    if (server === this.serverName) {
      const item = this.presenceItem(joiner);
      if (item && item.presence !== 'offline') this.send(this.destinationsOf(room), 'm.presence', { push: [item] }, `m.presence ${joiner}`);
      return;
    }
    if (!server || !isResident(room, this.serverName) || !roomAllowsServer(room, server)) return;
    for (const member of joinedMembers(room)) {
      if (!this.isLocal(member)) continue;
      const item = this.presenceItem(member);
      if (item && item.presence !== 'offline') this.send([server], 'm.presence', { push: [item] }, `m.presence ${member}`);
    }
  }

  /**
   * m.presence from `origin`: updates of that server's users who share a room with ours (one whose ACL
   * allows the origin); others are ignored (server-server-api "Presence").
   */
  private async receivePresence(origin: string, c: JsonObject): Promise<void> {
    if (!this.presence.enabled) return;
    if (!Array.isArray(c.push)) return this.refuse(origin, 'm.presence', 'malformed');
    for (const item of c.push) {
      if (!isObject(item) || typeof item.user_id !== 'string' || !PRESENCE_VALUES.has(item.presence as Presence)) {
        this.refuse(origin, 'm.presence', 'a malformed update');
        continue;
      }
      const userId = item.user_id;
      if (serverOfUser(userId) !== origin) {
        this.refuse(origin, 'm.presence', 'a user of another server', { userId });
        continue;
      }
      if (!(await this.sharesAllowedRoom(origin, userId))) {
        this.refuse(origin, 'm.presence', 'a user who shares no room with us', { userId });
        continue;
      }
      const status = item.status_msg;
      await this.presence.setRemote(userId, {
        presence: item.presence as Presence,
        ...(isNonNegativeInt(item.last_active_ago) ? { lastActiveAgo: item.last_active_ago } : {}),
        currentlyActive: item.currently_active === true,
        // status_msg absent means none (m.presence.yaml makes it optional: Synapse leaves it out when unset).
        statusMsg: typeof status === 'string' ? status.slice(0, MAX_STATUS_MSG_CHARS) : null,
      }, REMOTE_PRESENCE_TIMEOUT_MS);
    }
  }

  /** Whether the user is joined to a room this server is in whose ACL allows `origin`. */
  private async sharesAllowedRoom(origin: string, userId: string): Promise<boolean> {
    for (const m of await this.rooms.getRoomsForUser(userId, ['join'])) {
      const room = await this.roomState.get(m.roomId);
      if (room && isResident(room, this.serverName) && roomAllowsServer(room, origin)) return true;
    }
    return false;
  }

  // ---- receipts -----------------------------------------------------------------------------

  /** AccountDataListener: a local m.read receipt goes to the room's other servers; m.read.private never leaves. */
  receiptStored(r: ReceiptRecord): void {
    if (!this.enabled || r.receiptType !== 'm.read' || !this.isLocal(r.userId)) return;
    this.track('sending a receipt', this.sendReceipt(r));
  }

  private async sendReceipt(r: ReceiptRecord): Promise<void> {
    // A server-generated event exists only here: other servers would not know the event.
    if ((await this.rooms.getEvent(r.eventId))?.serverLocal) return;
    const data: JsonObject = { ts: r.ts, ...(r.threadId !== '' ? { thread_id: r.threadId } : {}) };
    const content = { [r.roomId]: { 'm.read': { [r.userId]: { event_ids: [r.eventId], data } } } };
    this.send(await this.roomDestinations(r.roomId), 'm.receipt', content, `m.receipt ${r.roomId} ${r.userId} ${r.threadId}`);
  }

  /**
   * m.receipt from `origin`: per room, ignored whole when this server is not in it or its ACL refuses
   * the origin; then each m.read receipt of a joined user of the origin naming an event of the room.
   * Other receipt types are ignored (m.read.private never crosses servers).
   */
  private async receiveReceipts(origin: string, c: JsonObject): Promise<void> {
    for (const [roomId, byType] of Object.entries(c)) {
      if (!isObject(byType)) continue;
      const room = await this.roomState.get(roomId);
      if (!room || !isResident(room, this.serverName) || !roomAllowsServer(room, origin)) {
        this.refuse(origin, 'm.receipt', 'not our room, or refused by its ACL', { roomId });
        continue;
      }
      const byUser = byType['m.read'];
      if (!isObject(byUser)) continue;
      const state = lookupIn(room.state);
      for (const [userId, receipt] of Object.entries(byUser)) {
        if (serverOfUser(userId) !== origin || membershipOf(userId, state) !== 'join') {
          this.refuse(origin, 'm.receipt', 'a user of another server or not joined', { roomId, userId });
          continue;
        }
        if (!isObject(receipt) || !Array.isArray(receipt.event_ids)) continue;
        const data = isObject(receipt.data) ? receipt.data : {};
        const ts = isNonNegativeInt(data.ts) ? data.ts : this.clock.now();
        const threadId = typeof data.thread_id === 'string' && data.thread_id !== '' ? data.thread_id : '';
        for (const eventId of receipt.event_ids) {
          if (typeof eventId !== 'string') continue;
          if (!(await this.accountData.receiveRemoteReceipt(roomId, userId, eventId, threadId, ts))) {
            this.logger.debug({ origin, roomId, userId, eventId }, 'federation: a receipt for an unknown event or older than the current one, ignored');
          }
        }
      }
    }
  }

  // ---- to-device ----------------------------------------------------------------------------

  /** AccountDataListener: messages for other servers' users, one m.direct_to_device per server. */
  remoteToDevice(sender: string, type: string, messages: ToDeviceMessages): void {
    if (!this.enabled) return;
    const byServer = new Map<string, ToDeviceMessages>();
    for (const [userId, byDevice] of Object.entries(messages)) {
      const server = serverOfUser(userId);
      if (!server || server === this.serverName) continue;
      let m = byServer.get(server);
      if (!m) byServer.set(server, (m = {}));
      m[userId] = byDevice;
    }
    for (const [server, m] of byServer) {
      // message_id: at most 32 code points (m.direct_to_device.yaml); 22 here.
      this.send([server], 'm.direct_to_device', { sender, type, message_id: randomToken(16), messages: m });
    }
  }

  /** m.direct_to_device from `origin`: from a user of that server, to our users' devices, once per message_id. */
  private async receiveToDevice(origin: string, c: JsonObject): Promise<void> {
    const { sender, type, message_id: messageId, messages } = c;
    if (typeof sender !== 'string' || !isShortString(type) || !isShortString(messageId) || !isObject(messages)) return this.refuse(origin, 'm.direct_to_device', 'malformed');
    if (serverOfUser(sender) !== origin) return this.refuse(origin, 'm.direct_to_device', 'a sender of another server', { sender });
    const valid: ToDeviceMessages = {};
    for (const [userId, byDevice] of Object.entries(messages)) if (isObject(byDevice)) valid[userId] = byDevice as Record<string, JsonObject>;
    if (!(await this.accountData.deliverRemoteToDevice(origin, sender, type, messageId, valid))) {
      this.logger.debug({ origin, messageId }, 'federation: a to-device message already delivered');
    }
  }

  // ---- server-generated events ---------------------------------------------------------------

  /** ServerEventListener: a room-scoped server event of ours goes to the room's other servers. */
  roomEventSent(roomId: string, eventId: string): void {
    if (!this.enabled) return;
    this.track('sending a server event', (async () => {
      const rec = await this.rooms.getEvent(eventId);
      if (!rec || rec.event.sender !== this.serverName) return;
      const e = rec.event;
      this.send(await this.roomDestinations(roomId), SERVER_EVENT_EDU, {
        event_id: e.event_id, room_id: roomId, type: e.type, content: e.content, origin_server_ts: e.origin_server_ts,
      });
    })());
  }

  /**
   * hearth.server_event from `origin`: stored as that server's server-generated event of the room
   * (sender = origin), for a room this server is in, where the origin has joined members and which
   * its ACL allows; once per (origin, event_id).
   */
  private async receiveServerEvent(origin: string, c: JsonObject): Promise<void> {
    const { event_id: id, room_id: roomId, type, content, origin_server_ts: ts } = c;
    if (!isShortString(id) || typeof roomId !== 'string' || !isShortString(type) || !isObject(content) || !isNonNegativeInt(ts)) {
      return this.refuse(origin, SERVER_EVENT_EDU, 'malformed');
    }
    const room = await this.roomState.get(roomId);
    if (!room || !isResident(room, this.serverName) || !serversInRoom(room).has(origin) || !roomAllowsServer(room, origin)) {
      return this.refuse(origin, SERVER_EVENT_EDU, 'a room the origin does not share with us, or refused by its ACL', { roomId });
    }
    await this.notices.receiveRemoteRoomEvent(origin, roomId, id, type, content, ts);
  }

  private refuse(origin: string, eduType: string, why: string, extra: JsonObject = {}): void {
    this.logger.info({ origin, eduType, ...extra }, `federation: EDU ignored: ${why}`);
  }
}
