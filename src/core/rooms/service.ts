// Rooms: creation, membership (with reasons), sending messages and state, redaction.
// (matrix-spec: create_room.yaml, inviting.yaml, joining.yaml, leaving.yaml, kicking.yaml, banning.yaml,
//  room_send.yaml, room_state.yaml, redaction.yaml; rooms/v10, rooms/v11 for the event rules)
import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import { badJson, forbidden, guestAccessForbidden, invalidParam, MatrixError, notFound, unsupportedRoomVersion } from '../../errors.js';
import type { AccountStore, RoomStore } from '../../storage/types.js';
import type { AuthContext } from '../accounts/events.js';
import { membershipOf, powerLevelFor, userPowerLevel } from '../auth-rules.js';
import { canonicalJsonBytes } from '../crypto/canonical-json.js';
import type { JsonObject } from '../events/types.js';
import { lookupIn, type EventDraft, type EventWriter, type RoomState, type SendOptions } from '../events/writer.js';
import type { RoomStateService } from './room-state.js';
import { MAX_ID_BYTES, parseUserId, randomToken } from '../ids.js';
import type { RateLimiter } from '../ratelimit.js';
import { roomVersion } from '../room-versions.js';
import { parseAlias } from './directory.js';

/**
 * Membership through other servers, for rooms this server is not in and users of other servers
 * (federation/membership.ts implements it; absent when federation is off).
 */
export interface RemoteRoomPort {
  /** Joins a room none of our users is in, through one of `servers` (plus the inviter's and the room ID's). */
  join(userId: string, roomId: string, servers: string[], content: JsonObject): Promise<void>;
  /** Rejects an invite to (retracts a knock on) a room none of our users is in. */
  leave(userId: string, roomId: string, servers: string[], reason: string | undefined): Promise<void>;
  /** The hook that has an invite of another server's user countersigned by that server before it is stored. */
  countersignInvite(target: string): NonNullable<SendOptions['countersign']>;
}

/** Whether a user of this server is joined: only then can it build the room's events itself. */
function hasLocalMember(room: RoomState | undefined, serverName: string): boolean {
  if (!room) return false;
  for (const e of room.state.values()) {
    if (e.type === 'm.room.member' && e.content.membership === 'join' && e.state_key !== undefined && parseUserId(e.state_key)?.domain === serverName) return true;
  }
  return false;
}

/** The alias of a room being created is held while the room is built (DirectoryService implements it). */
export interface AliasReservations {
  /** 400 M_ROOM_IN_USE when taken; otherwise held until commit or release. */
  reserve(alias: string): Promise<void>;
  release(alias: string): void;
  commit(alias: string, roomId: string, creator: string, now: number): Promise<void>;
}

export type Preset = 'private_chat' | 'public_chat' | 'trusted_private_chat';

export interface CreateRoomRequest {
  visibility?: 'public' | 'private';
  room_alias_name?: string;
  name?: string;
  topic?: string;
  invite?: string[];
  room_version?: string;
  creation_content?: JsonObject;
  initial_state?: { type: string; state_key?: string; content: JsonObject }[];
  preset?: Preset;
  is_direct?: boolean;
  power_level_content_override?: JsonObject;
}

/** Default power levels of a new room (matrix-spec: m.room.power_levels; the creator gets 100). */
function defaultPowerLevels(creator: string, preset: Preset, invitees: string[], privilegedCreators: boolean): JsonObject {
  // Room creators of versions that give them infinite power may not be listed (rooms/v12 auth rule 10.4).
  const users: JsonObject = privilegedCreators ? {} : { [creator]: 100 };
  if (preset === 'trusted_private_chat') for (const u of invitees) users[u] = 100;
  return {
    users,
    users_default: 0,
    events: {
      'm.room.name': 50, 'm.room.power_levels': 100, 'm.room.history_visibility': 100, 'm.room.canonical_alias': 50,
      'm.room.avatar': 50, 'm.room.tombstone': 100, 'm.room.server_acl': 100, 'm.room.encryption': 100,
    },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: preset === 'public_chat' ? 50 : 0,
    historical: 100,
  };
}

/** Checks an event type or state key length (matrix-spec: room events "Size limits"). */
export function checkEventKey(name: string, value: string): void {
  if (Buffer.byteLength(value, 'utf8') > 255) throw badJson(`${name} must be at most 255 bytes`);
}

export class RoomService {
  constructor(
    private readonly config: Config,
    private readonly store: RoomStore,
    private readonly accounts: AccountStore,
    private readonly writer: EventWriter,
    private readonly roomState: RoomStateService,
    private readonly clock: Clock,
    private readonly rateLimiter: RateLimiter,
    /** Rooms shut down by an admin refuse new joins and invites. */
    private readonly isBlocked: (roomId: string) => Promise<boolean> = async () => false,
    /** Checks of an event with a relation (RelationsService.checkOutgoing), run under the room's lock. */
    private readonly checkRelated: (roomId: string, sender: string, type: string, content: JsonObject) => Promise<void> = async () => undefined,
    /** Membership through other servers (federation); without it only local rooms and users exist. */
    private readonly remote?: RemoteRoomPort,
    /** An invite of another server's user made with a new room failed (the room is kept): for the log. */
    private readonly onRemoteInviteFailure?: (roomId: string, userId: string, error: unknown) => void,
  ) {}

  // ---- shadow bans (admin API): sends are answered as usual but reach nobody ---------------------

  /** Event IDs handed to shadow-banned senders, per transaction, so a retry gets the same one. */
  private readonly shadowTxns = new Map<string, string>();

  /**
   * An event ID for a send of a shadow-banned user that is stored nowhere: the same shape as a real
   * one (a reference hash), the same for a retry of the same transaction.
   */
  private shadowEventId(auth: AuthContext, scope: string, txnId?: string): string {
    const key = txnId === undefined ? undefined : `${auth.userId}\u0000${auth.deviceId}\u0000${scope}\u0000${txnId}`;
    const earlier = key === undefined ? undefined : this.shadowTxns.get(key);
    if (earlier !== undefined) return earlier;
    const id = `$${randomToken(32)}`;
    if (key !== undefined) {
      if (this.shadowTxns.size >= 10_000) this.shadowTxns.clear();
      this.shadowTxns.set(key, id);
    }
    return id;
  }

  private async refuseIfBlocked(roomId: string): Promise<void> {
    if (await this.isBlocked(roomId)) throw forbidden('This room has been shut down by the server administrators');
  }

  private newRoomId(): string {
    return `!${randomToken(18).replace(/[-_]/g, 'x')}:${this.config.server_name}`;
  }

  /** The room's current state or 404 M_NOT_FOUND. */
  async requireRoom(roomId: string): Promise<RoomState> {
    const room = await this.roomState.get(roomId);
    if (!room) throw notFound('Unknown room');
    return room;
  }

  /** `reason` on membership changes: at most invite_reason_max_length characters (code points). */
  private checkReason(reason: unknown): void {
    if (typeof reason === 'string' && [...reason].length > this.config.invite_reason_max_length) {
      throw badJson(`reason must be at most ${this.config.invite_reason_max_length} characters`);
    }
  }

  /**
   * An invitee: a local user that exists and is not deactivated (else 404), or a user of another server
   * when federation is on (that server answers for them). Returns whether the user is remote.
   */
  private async requireInvitee(userId: string): Promise<boolean> {
    const parsed = parseUserId(userId);
    if (!parsed || Buffer.byteLength(userId, 'utf8') > MAX_ID_BYTES) throw invalidParam(`Invalid user ID: ${userId}`);
    if (parsed.domain !== this.config.server_name) {
      if (!this.remote) throw forbidden('Federation is disabled on this server: only local users can be invited');
      return true;
    }
    const user = await this.accounts.getUser(userId);
    if (!user || user.deactivated) throw notFound(`Unknown user ${userId}`);
    return false;
  }

  /**
   * Whether a membership change of a local user in this room must go through another server: federation
   * is on, none of our users is joined (so our copy of the room may be stale or absent), and there is
   * another server to ask (given, the room's, or one with members in our copy).
   */
  private goesRemote(room: RoomState | undefined, roomId: string, servers: string[]): boolean {
    if (!this.remote || hasLocalMember(room, this.config.server_name)) return false;
    if (!room || room.state.size === 0 || servers.length > 0) return true;
    const colon = roomId.indexOf(':');
    if (colon > 0 && roomId.slice(colon + 1) !== this.config.server_name) return true;
    for (const e of room.state.values()) {
      if (e.type === 'm.room.member' && e.state_key !== undefined && parseUserId(e.state_key)?.domain !== this.config.server_name) return true;
    }
    return false;
  }

  private async memberContent(userId: string, membership: string, reason?: string, extra: JsonObject = {}): Promise<JsonObject> {
    const content: JsonObject = { membership, ...extra };
    if (membership === 'join' || membership === 'invite' || membership === 'knock') {
      const profile = await this.accounts.getProfile(userId);
      if (typeof profile.displayname === 'string') content.displayname = profile.displayname;
      if (typeof profile.avatar_url === 'string') content.avatar_url = profile.avatar_url;
    }
    if (reason !== undefined) content.reason = reason;
    return content;
  }

  // ---- creation -------------------------------------------------------------------------------

  /** POST /createRoom (matrix-spec: create_room.yaml#createRoom): events in the spec's order. */
  async createRoom(auth: AuthContext, req: CreateRoomRequest, aliases: AliasReservations): Promise<string> {
    if (auth.isGuest) throw guestAccessForbidden('Guests cannot create rooms');
    const versionId = req.room_version ?? this.config.default_room_version;
    const version = roomVersion(versionId);
    if (!version) throw unsupportedRoomVersion(`Room version ${versionId} is not supported`);
    const invitees = [...new Set(req.invite ?? [])];
    // Users of other servers are invited once the room exists (their server countersigns each invite).
    const remoteInvitees: string[] = [];
    for (const u of invitees) {
      if (u === auth.userId) throw badJson('You cannot invite yourself');
      if (await this.requireInvitee(u)) remoteInvitees.push(u);
    }
    const preset: Preset = req.preset ?? (req.visibility === 'public' ? 'public_chat' : 'private_chat');
    const me = auth.userId;
    // Versions whose room IDs derive from the create event (12) get theirs from the writer.
    let roomId = this.newRoomId();
    const alias = req.room_alias_name !== undefined ? `#${req.room_alias_name}:${this.config.server_name}` : undefined;
    if (alias !== undefined) {
      if (req.room_alias_name === '' || /[:\s#\u0000]/.test(req.room_alias_name!) || Buffer.byteLength(alias, 'utf8') > MAX_ID_BYTES) {
        throw invalidParam('Invalid room_alias_name');
      }
    }
    for (const e of req.initial_state ?? []) {
      if (e.type === 'm.room.create' || e.type === 'm.room.member') throw badJson(`initial_state may not contain ${e.type}`);
      checkEventKey('type', e.type);
      checkEventKey('state_key', e.state_key ?? '');
    }

    // 1. m.room.create ("The server will overwrite the following keys: creator, room_version"; v11 has no creator)
    const createContent: JsonObject = { ...(req.creation_content ?? {}), room_version: version.id };
    if (version.createHasCreator) createContent.creator = me;
    else delete createContent.creator;
    const drafts: EventDraft[] = [{ type: 'm.room.create', state_key: '', sender: me, content: createContent }];
    // 2. the creator's join
    drafts.push({ type: 'm.room.member', state_key: me, sender: me, content: await this.memberContent(me, 'join') });
    // 3. power levels, with the override applied on top
    const pl = defaultPowerLevels(me, preset, invitees, version.privilegedCreators);
    drafts.push({ type: 'm.room.power_levels', state_key: '', sender: me, content: { ...pl, ...(req.power_level_content_override ?? {}) } });
    // 4. canonical alias
    if (alias !== undefined) drafts.push({ type: 'm.room.canonical_alias', state_key: '', sender: me, content: { alias } });
    // 5. preset events (the table in create_room.yaml); initial_state takes precedence over them
    const initialKeys = new Set((req.initial_state ?? []).map((e) => `${e.type}\u0000${e.state_key ?? ''}`));
    const presetEvents: [string, JsonObject][] = [
      ['m.room.join_rules', { join_rule: preset === 'public_chat' ? 'public' : 'invite' }],
      ['m.room.history_visibility', { history_visibility: 'shared' }],
      ['m.room.guest_access', { guest_access: preset === 'public_chat' ? 'forbidden' : 'can_join' }],
    ];
    for (const [type, content] of presetEvents) {
      if (!initialKeys.has(`${type}\u0000`)) drafts.push({ type, state_key: '', sender: me, content });
    }
    // 6. initial_state, in order; `name` and `topic` overwrite an m.room.name / m.room.topic given here
    for (const e of req.initial_state ?? []) {
      const key = e.state_key ?? '';
      if (key === '' && ((e.type === 'm.room.name' && req.name !== undefined) || (e.type === 'm.room.topic' && req.topic !== undefined))) continue;
      drafts.push({ type: e.type, state_key: key, sender: me, content: e.content });
    }
    // 7. name and topic
    if (req.name !== undefined) drafts.push({ type: 'm.room.name', state_key: '', sender: me, content: { name: req.name } });
    if (req.topic !== undefined) {
      drafts.push({ type: 'm.room.topic', state_key: '', sender: me, content: { topic: req.topic, 'm.topic': { 'm.text': [{ mimetype: 'text/plain', body: req.topic }] } } });
    }
    // 8. invites (a shadow-banned creator's invites reach nobody: the room is made without them)
    for (const u of auth.isShadowBanned ? [] : invitees.filter((x) => !remoteInvitees.includes(x))) {
      drafts.push({ type: 'm.room.member', state_key: u, sender: me, content: await this.memberContent(u, 'invite', undefined, req.is_direct ? { is_direct: true } : {}) });
    }

    // Invites sent with the room count like any other invite (per inviter and per invitee).
    for (const u of invitees) {
      await this.rateLimiter.check('invite', me, auth.isAdmin);
      await this.rateLimiter.check('invite_per_invitee', u, auth.isAdmin);
    }
    if (alias !== undefined) await aliases.reserve(alias);
    try {
      roomId = (await this.writer.createRoom(roomId, version, drafts, me)).roomId;
    } catch (e) {
      if (alias !== undefined) aliases.release(alias);
      // "The initial state implied by the parameters to the request is invalid" (create_room.yaml, 400).
      if (e instanceof MatrixError && e.status === 403) throw new MatrixError(400, 'M_INVALID_ROOM_STATE', e.message, e.extra);
      throw e;
    }
    if (alias !== undefined) await aliases.commit(alias, roomId, me, this.clock.now());
    for (const u of auth.isShadowBanned ? [] : remoteInvitees) {
      // The room exists whatever another server answers; an invite it refuses is logged, not fatal.
      try {
        await this.writer.send(roomId, { type: 'm.room.member', state_key: u, sender: me, content: { membership: 'invite', ...(req.is_direct ? { is_direct: true } : {}) } },
          { countersign: this.remote!.countersignInvite(u) });
      } catch (e) {
        this.onRemoteInviteFailure?.(roomId, u, e);
      }
    }
    if (req.visibility === 'public') await this.store.setRoomVisibility(roomId, 'public');
    return roomId;
  }

  // ---- membership -----------------------------------------------------------------------------

  /** POST /rooms/{roomId}/join and /join/{roomIdOrAlias} (matrix-spec: joining.yaml). */
  async join(auth: AuthContext, roomId: string, reason?: string, servers: string[] = []): Promise<void> {
    this.checkReason(reason);
    const known = await this.roomState.get(roomId);
    if (this.goesRemote(known, roomId, servers)) {
      // A room held elsewhere: make_join / send_join through a server that is in it.
      if (auth.isGuest) throw guestAccessForbidden('Guests cannot join rooms on other servers');
      await this.refuseIfBlocked(roomId);
      const { membership: _m, ...content } = await this.memberContent(auth.userId, 'join', reason);
      // After the servers named, those with members in our (possibly stale) copy of the room.
      const known2 = new Set<string>();
      for (const e of known?.state.values() ?? []) {
        if (e.type !== 'm.room.member' || e.content.membership !== 'join' || e.state_key === undefined) continue;
        const d = parseUserId(e.state_key)?.domain;
        if (d && d !== this.config.server_name) known2.add(d);
      }
      await this.remote!.join(auth.userId, roomId, [...servers, ...known2], content);
      return;
    }
    const room = await this.requireRoom(roomId);
    await this.refuseIfBlocked(roomId);
    const lookup = lookupIn(room.state);
    if (auth.isGuest) {
      const ga = lookup('m.room.guest_access', '')?.content.guest_access;
      if (ga !== 'can_join') throw guestAccessForbidden('Guests may not join this room');
    }
    const current = membershipOf(auth.userId, lookup);
    if (current === 'join' && reason === undefined) return; // already joined: nothing to change
    await this.writer.send(roomId, { type: 'm.room.member', state_key: auth.userId, sender: auth.userId, content: await this.memberContent(auth.userId, 'join', reason) });
  }

  /** POST /rooms/{roomId}/invite (matrix-spec: inviting.yaml#inviteUser). */
  async invite(auth: AuthContext, roomId: string, target: string, reason?: string): Promise<void> {
    if (auth.isGuest) throw guestAccessForbidden('Guests cannot invite');
    this.checkReason(reason);
    if (target === auth.userId) throw forbidden('You cannot invite yourself');
    const remoteTarget = await this.requireInvitee(target);
    const room = await this.requireRoom(roomId);
    await this.refuseIfBlocked(roomId);
    const lookup = lookupIn(room.state);
    if (membershipOf(auth.userId, lookup) !== 'join') throw forbidden('You are not in this room');
    const theirs = membershipOf(target, lookup);
    if (theirs === 'join') throw forbidden(`${target} is already in the room`);
    if (theirs === 'ban') throw forbidden(`${target} is banned from the room`);
    // Invites carry free text to someone who did not ask for it: limited per inviter and per invitee.
    await this.rateLimiter.check('invite', auth.userId, auth.isAdmin);
    await this.rateLimiter.check('invite_per_invitee', target, auth.isAdmin);
    if (auth.isShadowBanned) return; // answered as sent, reaches nobody
    // A user of another server: their server countersigns the invite before it is stored and sent.
    const content = remoteTarget ? { membership: 'invite', ...(reason !== undefined ? { reason } : {}) } : await this.memberContent(target, 'invite', reason);
    await this.writer.send(roomId, { type: 'm.room.member', state_key: target, sender: auth.userId, content },
      remoteTarget ? { countersign: this.remote!.countersignInvite(target) } : {});
  }

  /**
   * POST /knock/{roomIdOrAlias} (matrix-spec: knocking.yaml#knockRoom; client-server-api "Knocking on
   * rooms"): a member event with membership knock, which the room's members see; the room's
   * join_rule must be knock or knock_restricted (auth rules 4.7, room versions 7+). Users who are in
   * the room, invited or banned cannot knock. A member who may invite accepts (invite), one who may
   * kick or ban denies (kick, ban); the knocker retracts with /leave.
   */
  async knock(auth: AuthContext, roomId: string, reason?: string): Promise<void> {
    this.checkReason(reason);
    const room = await this.requireRoom(roomId);
    await this.refuseIfBlocked(roomId);
    const current = membershipOf(auth.userId, lookupIn(room.state));
    if (current === 'join') throw forbidden('You are already in this room');
    if (current === 'invite') throw forbidden('You are already invited to this room: join it');
    if (current === 'ban') throw forbidden('You are banned from this room');
    // A knock reaches the room's moderators like an invite reaches its invitee: limited like messages.
    await this.rateLimiter.check('message', auth.userId, auth.isAdmin);
    await this.writer.send(roomId, { type: 'm.room.member', state_key: auth.userId, sender: auth.userId, content: await this.memberContent(auth.userId, 'knock', reason) });
  }

  /** POST /rooms/{roomId}/leave (matrix-spec: leaving.yaml#leaveRoom); also rejects an invite. */
  async leave(auth: AuthContext, roomId: string, reason?: string): Promise<void> {
    this.checkReason(reason);
    const known = await this.roomState.get(roomId);
    if (this.remote && !hasLocalMember(known, this.config.server_name)) {
      // Invited to (or knocking on) a room held elsewhere: the leave goes through the room's servers.
      const mine = await this.store.getMembership(roomId, auth.userId);
      if (mine && (mine.membership === 'invite' || mine.membership === 'knock') && (!known || membershipOf(auth.userId, lookupIn(known.state)) === undefined || this.goesRemote(known, roomId, []))) {
        await this.remote.leave(auth.userId, roomId, [], reason);
        return;
      }
    }
    const room = await this.requireRoom(roomId);
    const current = membershipOf(auth.userId, lookupIn(room.state));
    if (current === undefined) throw forbidden('You are not in this room');
    if (current === 'leave') return;
    await this.writer.send(roomId, { type: 'm.room.member', state_key: auth.userId, sender: auth.userId, content: await this.memberContent(auth.userId, 'leave', reason) });
  }

  /** kick, ban, unban (matrix-spec: kicking.yaml, banning.yaml): membership of another user. */
  async setOtherMembership(auth: AuthContext, roomId: string, target: string, action: 'kick' | 'ban' | 'unban', reason?: string): Promise<void> {
    this.checkReason(reason);
    const parsed = parseUserId(target);
    if (!parsed) throw invalidParam(`Invalid user ID: ${target}`);
    const room = await this.requireRoom(roomId);
    const lookup = lookupIn(room.state);
    const theirs = membershipOf(target, lookup);
    if (action === 'kick' && theirs !== 'join' && theirs !== 'invite' && theirs !== 'knock') throw forbidden(`${target} is not in the room`);
    if (action === 'unban' && theirs !== 'ban') throw forbidden(`${target} is not banned`);
    const membership = action === 'ban' ? 'ban' : 'leave';
    await this.writer.send(roomId, { type: 'm.room.member', state_key: target, sender: auth.userId, content: await this.memberContent(target, membership, reason) });
  }

  /**
   * A profile change reaches the user's rooms (client-server-api "Events on Change of Profile
   * Information"): in every room the user is joined to, a new m.room.member event (membership join)
   * with the profile's current `displayname` and `avatar_url`, through the normal writer and auth
   * rules. The rest of the member content is kept (as Synapse does), a `reason` is not repeated. A
   * room that refuses the event, or fails otherwise, is skipped: the profile itself is already
   * stored, and the other rooms still get the change. Returns the rooms updated and those that failed.
   */
  async propagateProfile(userId: string): Promise<{ updated: string[]; failed: { roomId: string; error: unknown }[] }> {
    const profile = await this.accounts.getProfile(userId);
    const updated: string[] = [];
    const failed: { roomId: string; error: unknown }[] = [];
    for (const m of await this.store.getRoomsForUser(userId, ['join'])) {
      try {
        const changed = await this.writer.withRoomLock(m.roomId, async () => {
          const room = await this.roomState.get(m.roomId);
          const current = room ? lookupIn(room.state)('m.room.member', userId) : undefined;
          if (!current || current.content.membership !== 'join') return false;
          const { reason: _reason, displayname: _d, avatar_url: _a, ...rest } = current.content;
          const content: JsonObject = { ...rest, membership: 'join' };
          if (typeof profile.displayname === 'string') content.displayname = profile.displayname;
          if (typeof profile.avatar_url === 'string') content.avatar_url = profile.avatar_url;
          if (sameJson(content, current.content)) return false;
          await this.writer.sendLocked(m.roomId, { type: 'm.room.member', state_key: userId, sender: userId, content });
          return true;
        });
        if (changed) updated.push(m.roomId);
      } catch (error) {
        failed.push({ roomId: m.roomId, error });
      }
    }
    return { updated, failed };
  }

  /** POST /rooms/{roomId}/forget (matrix-spec: leaving.yaml#forgetRoom). */
  async forget(auth: AuthContext, roomId: string): Promise<void> {
    const m = await this.store.getMembership(roomId, auth.userId);
    if (!m) throw notFound('You have never been in this room');
    if (m.membership !== 'leave' && m.membership !== 'ban') throw new MatrixError(400, 'M_UNKNOWN', 'You must leave the room before forgetting it');
    await this.store.forgetRoom(roomId, auth.userId);
  }

  // ---- messages and state ---------------------------------------------------------------------

  /**
   * A retry of an earlier request with the same transaction ID from this device on the same path
   * (client-server-api "Transaction identifiers"): the earlier event ID, checked before rate limits so
   * that a retry gets the original answer. The same ID on another path is another request.
   */
  private async earlierTxn(auth: AuthContext, scope: string, txnId: string): Promise<string | undefined> {
    if (Buffer.byteLength(txnId, 'utf8') > MAX_ID_BYTES) throw invalidParam('txnId must be at most 255 bytes');
    return this.store.findTxn(auth.userId, auth.deviceId, scope, txnId);
  }

  /** PUT /rooms/{roomId}/send/{eventType}/{txnId} (matrix-spec: room_send.yaml#sendMessage). */
  async sendMessage(auth: AuthContext, roomId: string, type: string, txnId: string, content: JsonObject): Promise<string> {
    checkEventKey('event type', type);
    // room_send.yaml (v1.18): m.room.redaction may be sent here too, with `redacts` in the content.
    if (type === 'm.room.redaction') {
      const redacts = content.redacts;
      if (typeof redacts !== 'string') throw badJson("m.room.redaction needs a string 'redacts' in its content");
      return this.redactWith(auth, roomId, redacts, `send ${roomId} ${type}`, txnId, content);
    }
    const scope = `send ${roomId} ${type}`;
    const earlier = await this.earlierTxn(auth, scope, txnId);
    if (earlier !== undefined) return earlier;
    await this.rateLimiter.check('message', auth.userId, auth.isAdmin);
    if (auth.isShadowBanned) return this.shadowEventId(auth, scope, txnId);
    const draft = { type, sender: auth.userId, content };
    const opts = { txn: { userId: auth.userId, deviceId: auth.deviceId, scope, txnId } };
    if (content['m.relates_to'] === undefined) return (await this.writer.send(roomId, draft, opts)).eventId;
    // A related event is checked against the room's other events under the lock (no duplicate annotation slips in).
    return this.writer.withRoomLock(roomId, async () => {
      if (await this.store.findTxn(auth.userId, auth.deviceId, scope, txnId) === undefined) await this.checkRelated(roomId, auth.userId, type, content);
      return (await this.writer.sendLocked(roomId, draft, opts)).eventId;
    });
  }

  /** PUT /rooms/{roomId}/state/{eventType}/{stateKey} (matrix-spec: room_state.yaml#setRoomStateWithKey). */
  async setState(auth: AuthContext, roomId: string, type: string, stateKey: string, content: JsonObject): Promise<string> {
    checkEventKey('event type', type);
    checkEventKey('state_key', stateKey);
    if (type === 'm.room.create') throw forbidden('The create event cannot be replaced');
    await this.rateLimiter.check('message', auth.userId, auth.isAdmin);
    // A shadow-banned user's own membership (joining, leaving) still works; other state reaches nobody.
    if (auth.isShadowBanned && !(type === 'm.room.member' && stateKey === auth.userId)) return this.shadowEventId(auth, `state ${roomId} ${type} ${stateKey}`);
    return this.writer.withRoomLock(roomId, async () => {
      const room = await this.requireRoom(roomId);
      const lookup = lookupIn(room.state);
      const current = lookup(type, stateKey);
      // Setting identical state again returns the existing event instead of a new one (not when that
      // event has been redacted meanwhile: its content is gone, so the state is not identical).
      if (current && current.sender === auth.userId && sameJson(current.content, content)
        && (await this.store.getEvent(current.event_id))?.redactedBy === null) return current.event_id;
      if (type === 'm.room.member') {
        if (content.membership === 'join' || content.membership === 'invite') await this.refuseIfBlocked(roomId);
        await this.checkMemberState(auth, stateKey, content, lookup);
      }
      if (type === 'm.room.canonical_alias') await this.checkCanonicalAlias(roomId, content, current?.content);
      const remoteInvite = type === 'm.room.member' && content.membership === 'invite' && parseUserId(stateKey)?.domain !== this.config.server_name;
      const r = await this.writer.sendLocked(roomId, { type, state_key: stateKey, sender: auth.userId, content },
        remoteInvite ? { countersign: this.remote!.countersignInvite(stateKey) } : {});
      return r.eventId;
    });
  }

  /**
   * m.room.member through the state endpoint gets the checks of the membership endpoints: reason
   * length, invites only to existing local users and rate-limited, guests join only where allowed.
   */
  private async checkMemberState(auth: AuthContext, target: string, content: JsonObject, lookup: ReturnType<typeof lookupIn>): Promise<void> {
    if (content.reason !== undefined && typeof content.reason !== 'string') throw badJson("'reason' must be a string");
    this.checkReason(content.reason);
    if (content.membership === 'invite') {
      if (auth.isGuest) throw guestAccessForbidden('Guests cannot invite');
      if (target === auth.userId) throw forbidden('You cannot invite yourself');
      await this.requireInvitee(target);
      if (membershipOf(auth.userId, lookup) === 'join') {
        await this.rateLimiter.check('invite', auth.userId, auth.isAdmin);
        await this.rateLimiter.check('invite_per_invitee', target, auth.isAdmin);
      }
    }
    if (content.membership === 'join' && auth.isGuest && lookup('m.room.guest_access', '')?.content.guest_access !== 'can_join') {
      throw guestAccessForbidden('Guests may not join this room');
    }
  }

  /**
   * room_state.yaml: new aliases in m.room.canonical_alias must be valid (400 M_INVALID_PARAM) and
   * point to this room (400 M_BAD_ALIAS); aliases already in the current event are not checked.
   */
  private async checkCanonicalAlias(roomId: string, content: JsonObject, previous: JsonObject | undefined): Promise<void> {
    const listed = (c: JsonObject | undefined): unknown[] => {
      if (!c) return [];
      const alt = Array.isArray(c.alt_aliases) ? c.alt_aliases : [];
      return c.alias === undefined || c.alias === null ? alt : [c.alias, ...alt];
    };
    if (content.alt_aliases !== undefined && !Array.isArray(content.alt_aliases)) throw badJson("'alt_aliases' must be a list");
    const before = new Set(listed(previous));
    for (const a of listed(content)) {
      if (before.has(a)) continue;
      if (typeof a !== 'string') throw invalidParam('Room aliases must be strings');
      const parsed = parseAlias(a);
      const mapped = parsed.server === this.config.server_name ? await this.store.getAlias(a) : undefined;
      if (mapped?.roomId !== roomId) throw new MatrixError(400, 'M_BAD_ALIAS', `The alias ${a} does not point to this room`);
    }
  }

  /** PUT /rooms/{roomId}/redact/{eventId}/{txnId} (matrix-spec: redaction.yaml#redactEvent). */
  async redact(auth: AuthContext, roomId: string, eventId: string, txnId: string, reason?: string): Promise<string> {
    return this.redactWith(auth, roomId, eventId, `redact ${roomId} ${eventId}`, txnId, reason !== undefined ? { reason } : {});
  }

  /** A redaction of `eventId` with `content` (for /redact and for m.room.redaction through /send). */
  private async redactWith(auth: AuthContext, roomId: string, eventId: string, scope: string, txnId: string, content: JsonObject): Promise<string> {
    const room = await this.requireRoom(roomId);
    const earlier = await this.earlierTxn(auth, scope, txnId);
    if (earlier !== undefined) return earlier;
    const target = await this.store.getEvent(eventId);
    if (!target || target.event.room_id !== roomId) throw notFound('Unknown event');
    // redaction.yaml: own events with the m.room.redaction level (the auth rules check that), other
    // users' events also need the redact level; server admins may redact events of their server's users.
    const lookup = lookupIn(room.state);
    if (target.event.sender !== auth.userId) {
      const isLocalAdminRedaction = auth.isAdmin && parseUserId(target.event.sender)?.domain === this.config.server_name;
      if (!isLocalAdminRedaction && userPowerLevel(auth.userId, lookup, room.version) < powerLevelFor('redact', lookup)) {
        throw forbidden('You may only redact your own events');
      }
    }
    await this.rateLimiter.check('message', auth.userId, auth.isAdmin);
    if (auth.isShadowBanned) return this.shadowEventId(auth, scope, txnId);
    // Room versions before 11 carry `redacts` at the top level, 11 in the content (the writer places it).
    const { redacts: _r, ...rest } = content;
    const r = await this.writer.send(roomId, { type: 'm.room.redaction', sender: auth.userId, content: rest, redacts: eventId }, { txn: { userId: auth.userId, deviceId: auth.deviceId, scope, txnId } });
    return r.eventId;
  }
}

/** Whether two contents are the same JSON value, whatever the key order. */
function sameJson(a: JsonObject, b: JsonObject): boolean {
  try {
    return canonicalJsonBytes(a).equals(canonicalJsonBytes(b));
  } catch {
    return false;
  }
}
