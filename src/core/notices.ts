// Server-generated events and server notices (spec/server-events.md; the Matrix draft's
// "Server-generated events" in ../shared/seeds; GTChat's `broadcast`). Their sender is the server
// name, with no leading '@', and only the server creates them: no client request can. They stay
// outside the room graph (design-notes.md): everything in a graph is sent by a user, so each user's
// notices room is created, and its user invited, by the server-owned system user
// (server_notices.system_user_localpart), an account without password or devices.
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { badJson, forbidden, invalidParam, notFound } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AccountStore, AdminStore } from '../storage/types.js';
import type { AccountDataService } from './account-data.js';
import { membershipOf } from './auth-rules.js';
import type { JsonObject } from './events/types.js';
import { lookupIn, type EventDraft, type EventWriter } from './events/writer.js';
import type { RoomStateService } from './rooms/room-state.js';
import { parseUserId, randomToken } from './ids.js';
import { KeyedMutex } from './lock.js';
import { roomVersion } from './room-versions.js';

/** The notices room gives its user no right to post or change anything (design-notes.md). */
const NOTICE_ROOM_POWER_LEVELS = (system: string | undefined): JsonObject => ({
  users: system === undefined ? {} : { [system]: 100 },
  users_default: 0,
  events: {},
  events_default: 100,
  state_default: 100,
  ban: 100,
  kick: 100,
  redact: 100,
  invite: 100,
});

/** Told of each room-scoped server-generated event meant for the room's members on every server. */
export interface ServerEventListener {
  roomEventSent(roomId: string, eventId: string): void;
}

export class ServerNoticeService {
  private readonly locks = new KeyedMutex();
  private readonly listeners: ServerEventListener[] = [];

  constructor(
    private readonly config: Config,
    private readonly admin: AdminStore,
    private readonly accounts: AccountStore,
    private readonly writer: EventWriter,
    private readonly roomState: RoomStateService,
    private readonly accountData: AccountDataService,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  addListener(l: ServerEventListener): void {
    this.listeners.push(l);
  }

  get serverName(): string {
    return this.config.server_name;
  }

  /** The server-owned user that sends the notices rooms' graph events. */
  get systemUserId(): string {
    return `@${this.config.server_notices.system_user_localpart}:${this.config.server_name}`;
  }

  private systemUser: Promise<void> | undefined;

  /** Creates the system user's account on first use: no password, no device, never able to log in. */
  private ensureSystemUser(): Promise<void> {
    this.systemUser ??= (async () => {
      const userId = this.systemUserId;
      if (await this.accounts.getUser(userId)) return;
      await this.accounts.createUser({
        userId, localpart: this.config.server_notices.system_user_localpart, passwordHash: null,
        isAdmin: false, isGuest: false, createdTs: this.clock.now(), displayName: 'Server Notices',
      });
    })().catch((e) => {
      this.systemUser = undefined;
      throw e;
    });
    return this.systemUser;
  }

  private async requireLocalUser(userId: string): Promise<void> {
    const parsed = parseUserId(userId);
    if (!parsed) throw invalidParam(`Invalid user ID: ${userId}`);
    if (parsed.domain !== this.serverName) throw invalidParam('Server notices can only be sent to local users');
    const user = await this.accounts.getUser(userId);
    if (!user) throw notFound(`Unknown user ${userId}`);
    if (user.deactivated) throw badJson(`${userId} is deactivated`);
  }

  /**
   * Sends a notice to a user (Synapse admin API send_server_notice): the first one creates their
   * notices room; later ones reuse it and invite the user again if they left.
   */
  async send(userId: string, content: JsonObject, type = 'm.room.message'): Promise<string> {
    if (!this.config.server_notices.enabled) throw forbidden('Server notices are disabled');
    if (typeof type !== 'string' || type.length === 0 || Buffer.byteLength(type, 'utf8') > 255) throw badJson('Invalid event type');
    await this.requireLocalUser(userId);
    return this.locks.run(userId, async () => {
      const roomId = await this.noticeRoom(userId);
      // The notice itself: a server-generated event, outside the room graph.
      const r = await this.writer.send(roomId, { type, sender: this.serverName, content }, { serverLocal: true });
      return r.eventId;
    });
  }

  /** The user's notices room, created on first use; the user is (re-)invited unless joined or invited. */
  private async noticeRoom(userId: string): Promise<string> {
    await this.ensureSystemUser();
    const system = this.systemUserId;
    const existing = await this.admin.getNoticeRoom(userId);
    if (existing) {
      const room = await this.roomState.get(existing);
      if (room) {
        const m = membershipOf(userId, lookupIn(room.state));
        if (m !== 'join' && m !== 'invite') {
          await this.writer.send(existing, { type: 'm.room.member', state_key: userId, sender: system, content: { membership: 'invite' } });
        }
        return existing;
      }
    }
    const version = roomVersion(this.config.default_room_version)!;
    const roomId = `!${randomToken(18).replace(/[-_]/g, 'x')}:${this.serverName}`;
    // Creators of versions with privileged creators have infinite power and may not be listed.
    const drafts: EventDraft[] = [
      { type: 'm.room.create', state_key: '', sender: system, content: version.createHasCreator ? { room_version: version.id, creator: system } : { room_version: version.id } },
      { type: 'm.room.member', state_key: system, sender: system, content: { membership: 'join', displayname: 'Server Notices' } },
      { type: 'm.room.power_levels', state_key: '', sender: system, content: NOTICE_ROOM_POWER_LEVELS(version.privilegedCreators ? undefined : system) },
      { type: 'm.room.join_rules', state_key: '', sender: system, content: { join_rule: 'invite' } },
      { type: 'm.room.history_visibility', state_key: '', sender: system, content: { history_visibility: 'invited' } },
      { type: 'm.room.guest_access', state_key: '', sender: system, content: { guest_access: 'forbidden' } },
      { type: 'm.room.name', state_key: '', sender: system, content: { name: this.config.server_notices.room_name } },
      { type: 'm.room.member', state_key: userId, sender: system, content: { membership: 'invite' } },
    ];
    const created = await this.writer.createRoom(roomId, version, drafts, system);
    await this.admin.setNoticeRoom(userId, created.roomId, this.clock.now());
    // Tagged so clients show it as the server's notices room (client-server-api "Server Notices").
    await this.accountData.put(userId, created.roomId, 'm.tag', { tags: { 'm.server_notice': { order: 0 } } });
    return created.roomId;
  }

  /**
   * GTChat's broadcast: the notice to every active local user; returns how many were reached. One
   * user who cannot be reached (deactivated meanwhile, say) does not stop the others.
   */
  async broadcast(content: JsonObject, type = 'm.room.message'): Promise<number> {
    if (!this.config.server_notices.enabled) throw forbidden('Server notices are disabled');
    if (typeof type !== 'string' || type.length === 0 || Buffer.byteLength(type, 'utf8') > 255) throw badJson('Invalid event type');
    let sent = 0;
    for (const userId of await this.admin.activeUserIds()) {
      try {
        await this.send(userId, content, type);
        sent++;
      } catch (err) {
        this.logger.warn({ err, userId }, 'could not deliver a broadcast server notice');
      }
    }
    return sent;
  }

  /**
   * One server-generated event in a room's timeline, outside the room graph, seen by its members;
   * with `federate` (the default) also by the room's members on other servers (spec/server-events.md
   * "Across servers"): the listeners send it on.
   */
  async roomEvent(roomId: string, type: string, content: JsonObject, opts: { federate?: boolean } = {}): Promise<string> {
    if (typeof type !== 'string' || type.length === 0 || Buffer.byteLength(type, 'utf8') > 255) throw badJson('Invalid event type');
    const room = await this.roomState.get(roomId);
    if (!room) throw notFound('Unknown room');
    const r = await this.writer.send(roomId, { type, sender: this.serverName, content }, { serverLocal: true });
    if (opts.federate !== false && !r.duplicate) for (const l of this.listeners) l.roomEventSent(roomId, r.eventId);
    return r.eventId;
  }

  /**
   * A room-scoped server-generated event of another server (hearth.server_event; the caller checked
   * that `origin` shares the room and its ACL allows it): stored like ours, outside the graph, with
   * the origin's name as sender and its timestamp (never later than now); once per (origin, ID).
   */
  async receiveRemoteRoomEvent(origin: string, roomId: string, id: string, type: string, content: JsonObject, ts: number): Promise<string> {
    if (type.length === 0 || Buffer.byteLength(type, 'utf8') > 255) throw badJson('Invalid event type');
    const r = await this.writer.send(roomId, { type, sender: origin, content }, {
      serverLocal: true, originServerTs: Math.min(ts, this.clock.now()),
      txn: { userId: origin, deviceId: '', scope: 'hearth.server_event', txnId: id },
    });
    return r.eventId;
  }

  private pendingSends = new Set<Promise<unknown>>();

  /** An automatic notice that must never fail the request that caused it. */
  notifyQuietly(userId: string, body: string): void {
    if (!this.config.server_notices.enabled) return;
    const p = this.send(userId, { msgtype: 'm.text', body })
      .catch((err) => this.logger.warn({ err, userId }, 'could not send an automatic server notice'))
      .finally(() => this.pendingSends.delete(p));
    this.pendingSends.add(p);
  }

  /** Automatic notices under way. */
  get pending(): number {
    return this.pendingSends.size;
  }

  /** Resolves when automatic notices under way have been sent (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.pendingSends.size > 0) await Promise.all([...this.pendingSends]);
  }
}
