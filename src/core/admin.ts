// The admin API's domain rules: users, rooms, sessions (GTChat's admin_show_table), room shutdown.
// Shapes follow Synapse's admin API where Synapse has the feature, so existing admin tools work.
import type { Config } from '../config.js';
import { badJson, invalidParam, invalidUsername, MatrixError, notFound } from '../errors.js';
import type { AccountStore, AdminStore, DeviceRecord, RoomStore, UserListEntry, UserRecord } from '../storage/types.js';
import type { Clock } from '../clock.js';
import type { AccountService } from './accounts/account.js';
import type { DeviceService } from './accounts/devices.js';
import type { AuthContext } from './accounts/events.js';
import type { TokenService } from './accounts/tokens.js';
import { toClientEvent } from './events/client-format.js';
import type { ProfileService } from './accounts/profile.js';
import type { RegistrationService } from './accounts/registration.js';
import type { JsonObject } from './events/types.js';
import { lookupIn, type EventWriter } from './events/writer.js';
import type { RoomStateService } from './rooms/room-state.js';
import { normaliseNewLocalpart, parseUserId, randomToken } from './ids.js';
import type { ServerNoticeService } from './notices.js';
import { byStart, type SessionService } from './sessions.js';

/** The automatic notice's text (as services.ts sends it when a user changes their own password). */
const PASSWORD_CHANGED_NOTICE = 'Your password was changed. If this was not you, contact the server administrator.';

export interface ShutdownResult {
  kicked_users: string[];
  failed_to_kick_users: string[];
  local_aliases: string[];
  new_room_id: null;
}

export class AdminService {
  private shutdowns = new Map<string, { roomId: string; result: ShutdownResult }>();

  constructor(
    private readonly config: Config,
    private readonly store: AdminStore,
    private readonly accountStore: AccountStore,
    private readonly accounts: AccountService,
    private readonly registration: RegistrationService,
    private readonly rooms: RoomStore,
    private readonly writer: EventWriter,
    private readonly currentState: RoomStateService,
    private readonly sessions: SessionService,
    private readonly notices: ServerNoticeService,
    private readonly profiles: ProfileService,
    private readonly devices: DeviceService,
    private readonly tokens: TokenService,
    private readonly clock: Clock,
  ) {}

  /** A local account that exists (deactivated or not), or 404 M_NOT_FOUND. */
  private async requireUser(userId: string): Promise<UserRecord> {
    this.requireLocalUserId(userId);
    const u = await this.accountStore.getUser(userId);
    if (!u) throw notFound('User not found');
    return u;
  }

  requireLocalUserId(userId: string): void {
    const p = parseUserId(userId);
    if (!p) throw invalidParam(`Invalid user ID: ${userId}`);
    if (p.domain !== this.config.server_name) throw invalidParam('Only local users can be managed here');
  }

  userJson(u: UserListEntry | (Awaited<ReturnType<AccountStore['getUser']>> & { displayName?: string | null; avatarUrl?: string | null })): JsonObject {
    return {
      name: u!.userId,
      displayname: u!.displayName ?? null,
      avatar_url: u!.avatarUrl ?? null,
      admin: u!.isAdmin,
      deactivated: u!.deactivated,
      is_guest: u!.isGuest,
      creation_ts: u!.createdTs,
      user_type: null,
      shadow_banned: u!.shadowBanned,
      locked: false,
      appservice_id: null,
      threepids: [],
      external_ids: [],
    };
  }

  /** GET /_synapse/admin/v2/users */
  async listUsers(q: { from: number; limit: number; name?: string; guests: boolean; deactivated: boolean }): Promise<JsonObject> {
    const { users, total } = await this.store.listUsers(q);
    const out: JsonObject = { users: users.map((u) => this.userJson(u)), total };
    if (q.from + users.length < total) out.next_token = String(q.from + users.length);
    return out;
  }

  async getUser(userId: string): Promise<JsonObject> {
    this.requireLocalUserId(userId);
    const u = await this.accountStore.getUser(userId);
    if (!u) throw notFound('User not found');
    const profile = await this.accountStore.getProfile(userId);
    return this.userJson({ ...u, displayName: typeof profile.displayname === 'string' ? profile.displayname : null, avatarUrl: typeof profile.avatar_url === 'string' ? profile.avatar_url : null });
  }

  /** PUT /_synapse/admin/v2/users/{userId}: creates (201) or modifies (200) a user. */
  async upsertUser(userId: string, b: { password?: string; logoutDevices: boolean; displayname?: string | null; avatarUrl?: string | null; admin?: boolean; deactivated?: boolean }): Promise<{ created: boolean; user: JsonObject }> {
    this.requireLocalUserId(userId);
    const existing = await this.accountStore.getUser(userId);
    let created = false;
    if (!existing) {
      if (b.deactivated) throw badJson('Cannot create a deactivated user');
      // The account is created under exactly the ID in the path: an ID that is not a valid new
      // localpart as it stands (capitals, say) would otherwise create another user than the one named.
      const localpart = parseUserId(userId)!.localpart;
      if (normaliseNewLocalpart(localpart, this.config.server_name) !== localpart) throw invalidUsername('User IDs may only contain a-z, 0-9, and the characters . _ = - / +');
      await this.registration.createUser({ localpart, password: b.password ?? null, admin: b.admin ?? false, displayName: b.displayname ?? null });
      created = true;
    } else {
      if (b.password !== undefined) {
        // The same password policy as for a new account.
        await this.accounts.setPassword(userId, b.password, b.logoutDevices);
      }
      if (b.admin !== undefined) await this.accounts.setAdmin(userId, b.admin);
      if (b.deactivated === true && !existing.deactivated) await this.accounts.deactivateUser(userId);
      if (b.deactivated === false && existing.deactivated) await this.accounts.reactivateUser(userId);
      // A password changed by an admin is a password change too: the user is told (server notice),
      // once the account is in its final state (a deactivated account gets none).
      const deactivated = b.deactivated ?? existing.deactivated;
      if (b.password !== undefined && !deactivated && this.config.server_notices.on_password_change) {
        this.notices.notifyQuietly(userId, PASSWORD_CHANGED_NOTICE);
      }
    }
    // Like the user's own change, a new display name or avatar reaches the user's rooms.
    await this.profiles.setByAdmin(userId, { ...(b.displayname !== undefined ? { displayname: b.displayname } : {}), ...(b.avatarUrl !== undefined ? { avatarUrl: b.avatarUrl } : {}) });
    return { created, user: await this.getUser(userId) };
  }

  /** POST /_synapse/admin/v1/deactivate/{userId} */
  async deactivate(userId: string): Promise<void> {
    this.requireLocalUserId(userId);
    const u = await this.accountStore.getUser(userId);
    if (!u) throw notFound('User not found');
    if (!u.deactivated) await this.accounts.deactivateUser(userId);
  }

  /** GET /_synapse/admin/v1/whois/{userId}: devices with their sessions (IP, user agent, last seen). */
  async whois(userId: string): Promise<JsonObject> {
    this.requireLocalUserId(userId);
    if (!(await this.accountStore.getUser(userId))) throw notFound('User not found');
    const devices: JsonObject = {};
    const live = this.sessions.list(userId);
    for (const d of await this.accountStore.listDevices(userId)) {
      const conns = live.filter((s) => s.deviceId === d.deviceId).map((s) => ({ ip: s.ip, last_seen: s.lastSeenTs, user_agent: s.userAgent, session_id: s.id, presence: s.presence }));
      if (conns.length === 0 && d.lastSeenTs !== null) conns.push({ ip: d.lastSeenIp, last_seen: d.lastSeenTs, user_agent: d.lastSeenUserAgent, session_id: null as unknown as string, presence: 'offline' });
      devices[d.deviceId] = { sessions: [{ connections: conns }] };
    }
    return { user_id: userId, devices };
  }

  async joinedRooms(userId: string): Promise<JsonObject> {
    this.requireLocalUserId(userId);
    if (!(await this.accountStore.getUser(userId))) throw notFound('User not found');
    const rooms = (await this.rooms.getRoomsForUser(userId, ['join'])).map((m) => m.roomId);
    return { joined_rooms: rooms, total: rooms.length };
  }

  private async roomDetails(entry: Awaited<ReturnType<AdminStore['listRooms']>>[number]): Promise<JsonObject> {
    const room = await this.currentState.get(entry.roomId);
    const lookup = room ? lookupIn(room.state) : () => undefined;
    const str = (type: string, key: string): string | null => {
      const v = lookup(type, '')?.content[key];
      return typeof v === 'string' ? v : null;
    };
    const localJoined = room ? [...room.state.values()].filter((e) => e.type === 'm.room.member' && e.content.membership === 'join' && parseUserId(e.state_key!)?.domain === this.config.server_name).length : 0;
    const create = lookup('m.room.create', '')?.content;
    return {
      room_id: entry.roomId,
      name: str('m.room.name', 'name'),
      topic: str('m.room.topic', 'topic'),
      avatar: str('m.room.avatar', 'url'),
      canonical_alias: str('m.room.canonical_alias', 'alias'),
      joined_members: entry.joinedMembers,
      joined_local_members: localJoined,
      version: entry.roomVersion,
      creator: entry.creator,
      encryption: str('m.room.encryption', 'algorithm'),
      federatable: create?.['m.federate'] !== false,
      public: entry.visibility === 'public',
      join_rules: str('m.room.join_rules', 'join_rule'),
      guest_access: str('m.room.guest_access', 'guest_access'),
      history_visibility: str('m.room.history_visibility', 'history_visibility'),
      state_events: entry.stateEvents,
      room_type: typeof create?.type === 'string' ? create.type : null,
      blocked: entry.blocked,
    };
  }

  /** GET /_synapse/admin/v1/rooms (paged; order_by name / joined_members / ...; search_term). */
  async listRooms(q: { from: number; limit: number; orderBy: string; dir: 'f' | 'b'; searchTerm?: string }): Promise<JsonObject> {
    const all = await Promise.all((await this.store.listRooms()).map((e) => this.roomDetails(e)));
    const term = q.searchTerm?.toLowerCase();
    const matching = term ? all.filter((r) => [r.name, r.canonical_alias, r.room_id].some((v) => typeof v === 'string' && v.toLowerCase().includes(term))) : all;
    const key = q.orderBy;
    matching.sort((a, b) => {
      const av = a[key] ?? null;
      const bv = b[key] ?? null;
      let c: number;
      if (typeof av === 'number' && typeof bv === 'number') c = bv - av; // numbers: largest first
      else c = String(av ?? '').localeCompare(String(bv ?? ''));
      return c !== 0 ? c : String(a.room_id).localeCompare(String(b.room_id));
    });
    if (q.dir === 'b') matching.reverse();
    const page = matching.slice(q.from, q.from + q.limit);
    const out: JsonObject = { rooms: page, offset: q.from, total_rooms: matching.length };
    if (q.from + page.length < matching.length) out.next_batch = q.from + page.length;
    if (q.from > 0) out.prev_batch = Math.max(0, q.from - q.limit);
    return out;
  }

  async getRoom(roomId: string): Promise<JsonObject> {
    const entry = (await this.store.listRooms()).find((r) => r.roomId === roomId);
    if (!entry) throw notFound('Room not found');
    return this.roomDetails(entry);
  }

  async roomMembers(roomId: string): Promise<JsonObject> {
    if (!(await this.rooms.getRoom(roomId))) throw notFound('Room not found');
    const members = (await this.rooms.getRoomMembers(roomId, ['join'])).map((m) => m.userId);
    return { members, total: members.length };
  }

  /**
   * DELETE /_synapse/admin/v2/rooms/{roomId}: shuts the room down: a server-generated explanation in
   * its timeline, every local member made to leave with that message as reason, its aliases
   * and directory entry removed, and new joins blocked. Events are kept (no purge).
   */
  async shutdownRoom(roomId: string, message: string | undefined): Promise<string> {
    if (!(await this.rooms.getRoom(roomId))) throw notFound('Room not found');
    const text = message ?? 'This room has been shut down by the server administrators.';
    await this.store.setRoomBlocked(roomId, true, null, this.clock.now());
    // For the local members who are made to leave: the room goes on on other servers.
    await this.notices.roomEvent(roomId, 'm.room.message', { msgtype: 'm.notice', body: text }, { federate: false });
    const result: ShutdownResult = { kicked_users: [], failed_to_kick_users: [], local_aliases: [], new_room_id: null };
    for (const m of await this.rooms.getRoomMembers(roomId, ['join', 'invite', 'knock'])) {
      if (parseUserId(m.userId)?.domain !== this.config.server_name) continue;
      try {
        // Each local member leaves (their own leave event, with the message as reason): events in a
        // room's graph are sent by users, never by the server name (design-notes.md).
        await this.writer.send(roomId, { type: 'm.room.member', state_key: m.userId, sender: m.userId, content: { membership: 'leave', reason: text } });
        result.kicked_users.push(m.userId);
      } catch {
        result.failed_to_kick_users.push(m.userId);
      }
    }
    for (const alias of await this.rooms.getAliasesForRoom(roomId)) {
      await this.rooms.deleteAlias(alias);
      result.local_aliases.push(alias);
    }
    await this.rooms.setRoomVisibility(roomId, 'private');
    const deleteId = randomToken(12);
    this.shutdowns.set(deleteId, { roomId, result });
    return deleteId;
  }

  shutdownStatus(deleteId: string): JsonObject {
    const s = this.shutdowns.get(deleteId);
    if (!s) throw notFound('No such delete task');
    return { status: 'complete', delete_id: deleteId, room_id: s.roomId, shutdown_room: s.result as unknown as JsonObject };
  }

  shutdownStatusForRoom(roomId: string): JsonObject {
    const results = [...this.shutdowns.entries()].filter(([, v]) => v.roomId === roomId)
      .map(([id, v]) => ({ status: 'complete', delete_id: id, shutdown_room: v.result as unknown as JsonObject }));
    if (results.length === 0) throw notFound('No delete task for this room');
    return { results };
  }

  // ---- users: password, logging in as them, devices, shadow bans ----------------------------------

  /**
   * POST /_synapse/admin/v1/reset_password/{userId}: the password policy applies; with
   * `logout_devices` (default true) every device and token goes and its sessions end. The user is
   * told like after any password change (server notice).
   */
  async resetPassword(userId: string, newPassword: string, logoutDevices: boolean): Promise<void> {
    const u = await this.requireUser(userId);
    await this.accounts.setPassword(userId, newPassword, logoutDevices);
    if (!u.deactivated && this.config.server_notices.on_password_change) this.notices.notifyQuietly(userId, PASSWORD_CHANGED_NOTICE);
  }

  /**
   * POST /_synapse/admin/v1/users/{userId}/login: an access token for the user on a new device
   * (named after the admin, so the user can see and delete it), optionally expiring at
   * `validUntilMs`. An admin cannot log in as themselves (Synapse's rule); deactivated users cannot.
   */
  async loginAs(admin: AuthContext, userId: string, validUntilMs: number | null): Promise<{ access_token: string; device_id: string }> {
    const u = await this.requireUser(userId);
    if (userId === admin.userId) throw new MatrixError(400, 'M_UNKNOWN', 'Cannot use the admin API to log in as yourself');
    if (u.deactivated) throw new MatrixError(400, 'M_UNKNOWN', 'The user is deactivated');
    if (validUntilMs !== null && validUntilMs <= this.clock.now()) throw invalidParam('valid_until_ms must be in the future');
    const r = await this.tokens.issueLogin(userId, undefined, `Admin login (${admin.userId})`, 'admin', validUntilMs);
    return { access_token: r.access_token, device_id: r.device_id };
  }

  /** A device in the admin API's shape (every key present, null when unknown). */
  private deviceJson(d: DeviceRecord): JsonObject {
    return {
      device_id: d.deviceId, display_name: d.displayName, last_seen_ip: d.lastSeenIp, last_seen_user_agent: d.lastSeenUserAgent,
      last_seen_ts: d.lastSeenTs, user_id: d.userId, dehydrated: false,
    };
  }

  /** GET /_synapse/admin/v2/users/{userId}/devices */
  async listDevices(userId: string): Promise<JsonObject> {
    await this.requireUser(userId);
    const list = (await this.devices.list(userId)).map((d) => this.deviceJson(d));
    return { devices: list, total: list.length };
  }

  /** GET /_synapse/admin/v2/users/{userId}/devices/{deviceId} */
  async getDevice(userId: string, deviceId: string): Promise<JsonObject> {
    await this.requireUser(userId);
    return this.deviceJson(await this.devices.get(userId, deviceId));
  }

  /** PUT /_synapse/admin/v2/users/{userId}/devices/{deviceId}: `display_name` when given. */
  async renameDevice(userId: string, deviceId: string, displayName: string | null | undefined): Promise<void> {
    await this.requireUser(userId);
    if (displayName === undefined) await this.devices.get(userId, deviceId);
    else await this.devices.rename(userId, deviceId, displayName);
  }

  /**
   * DELETE /_synapse/admin/v2/users/{userId}/devices/{deviceId} and POST .../delete_devices: like the
   * user's own deletion (DeviceService.remove): tokens revoked, sessions ended. Unknown devices are
   * no error (Synapse answers 200 too).
   */
  async deleteDevices(userId: string, deviceIds: string[]): Promise<void> {
    await this.requireUser(userId);
    await this.devices.remove(userId, deviceIds);
  }

  /**
   * POST / DELETE /_synapse/admin/v1/users/{userId}/shadow_ban: the user's sends are answered as
   * usual but reach nobody (RoomService). Takes effect at once (cached tokens are refreshed).
   */
  async setShadowBanned(userId: string, banned: boolean): Promise<void> {
    await this.requireUser(userId);
    await this.accountStore.setShadowBanned(userId, banned);
    this.tokens.forgetUser(userId);
  }

  // ---- rooms: state, blocking ------------------------------------------------------------------

  /** GET /_synapse/admin/v1/rooms/{roomId}/state: the current state as client events (`type` filters). */
  async roomState(roomId: string, type: string | undefined): Promise<JsonObject> {
    const room = await this.currentState.get(roomId);
    if (!room) throw notFound('Room not found');
    const ids = [...room.state.values()].filter((e) => type === undefined || e.type === type).map((e) => e.event_id);
    const now = this.clock.now();
    const records = (await this.rooms.getEvents(ids)).sort((a, b) => a.streamOrdering - b.streamOrdering);
    return { state: records.map((r) => toClientEvent(r, now) as unknown as JsonObject) };
  }

  /** GET /_synapse/admin/v1/rooms/{roomId}/block: `{block, user_id?}` (who blocked it). */
  async roomBlock(roomId: string): Promise<JsonObject> {
    const b = await this.store.getRoomBlock(roomId);
    if (!b) return { block: false };
    return b.blockedBy !== null ? { block: true, user_id: b.blockedBy } : { block: true };
  }

  /**
   * PUT /_synapse/admin/v1/rooms/{roomId}/block: blocks (new joins and invites refused) or unblocks a
   * room; a room this server does not know can be blocked ahead of time. Members stay.
   */
  async setRoomBlock(admin: AuthContext, roomId: string, block: boolean): Promise<JsonObject> {
    if (!/^![^:]+:.+$/.test(roomId)) throw invalidParam(`Invalid room ID: ${roomId}`);
    await this.store.setRoomBlocked(roomId, block, admin.userId, this.clock.now());
    return { block };
  }

  /** GET /_hearth/admin/v1/sessions: every live session (GTChat's table of active users), paged. */
  listSessions(from: number, limit: number): JsonObject {
    const all = [...this.sessions.store.all()].sort(byStart);
    const page = all.slice(from, from + limit).map((s) => ({
      session_id: s.id, user_id: s.userId, device_id: s.deviceId, presence: s.presence,
      created_ts: s.createdTs, last_seen_ts: s.lastSeenTs, ip: s.ip, user_agent: s.userAgent,
    }));
    const out: JsonObject = { sessions: page, total: all.length };
    if (from + page.length < all.length) out.next_token = String(from + page.length);
    return out;
  }
}
