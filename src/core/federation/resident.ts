// This server as the resident server of a room, answering other servers' membership requests
// (matrix-spec: server-server/joins-v1.yaml#makeJoin, joins-v2.yaml#sendJoinV2,
// leaving-v1.yaml#makeLeave, leaving-v2.yaml#sendLeaveV2; server-server-api "Joining Rooms",
// "Leaving Rooms (Rejecting Invites)"), and as the invitee's server of invites from other servers
// (invites-v2.yaml#sendInviteV2; "Inviting to a room"), which pass the same defences as local invites
// (reason cap, per-inviter and per-invitee limits; ignore lists apply when /sync shows them) plus a
// limit per origin server.
import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import { badJson, forbidden, invalidParam, MatrixError, notFound } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { AccountStore, EventRecord, RoomStore } from '../../storage/types.js';
import { pduOf, type JsonObject, type StoredEvent } from '../../wire.js';
import { AuthError, checkEventAuth, joinRuleOf, membershipOf, powerLevelFor, selectAuthEvents, userPowerLevel } from '../auth-rules.js';
import { computeEventId, hashAndSignEvent } from '../crypto/event-hashing.js';
import type { SigningKey } from '../crypto/signing.js';
import type { EventReceiver, EventSignatureVerifier } from '../events/receive.js';
import { MissingEventsError } from '../events/receive.js';
import { MAX_PREV_EVENTS } from '../events/writer.js';
import { parseUserId } from '../ids.js';
import type { RateLimiter } from '../ratelimit.js';
import { knownRoomVersion, SUPPORTED_ROOM_VERSIONS, type RoomVersion } from '../room-versions.js';
import { lookupIn, type RoomState, type RoomStateService } from '../rooms/room-state.js';
import type { PduFanout } from './fanout.js';
import { incompatibleRoomVersion, type FederationHistory } from './history.js';
import type { OutOfBandMemberships } from './out-of-band.js';
import { isResident, roomAllowsServer } from './room-servers.js';

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** At most this many stripped state events are kept with an invite from another server. */
const MAX_INVITE_ROOM_STATE = 50;

export class ResidentRooms {
  constructor(
    private readonly config: Config,
    private readonly store: RoomStore,
    private readonly accounts: AccountStore,
    private readonly roomState: RoomStateService,
    private readonly receiver: EventReceiver,
    private readonly verifier: EventSignatureVerifier,
    private readonly history: FederationHistory,
    private readonly fanout: PduFanout,
    private readonly outOfBand: OutOfBandMemberships,
    private readonly signingKey: () => Promise<SigningKey>,
    private readonly rateLimiter: RateLimiter,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  private get serverName(): string {
    return this.config.server_name;
  }

  /** The room, when this server is in it and its ACL lets `origin` take part (404 / 403 otherwise). */
  private async residentRoom(origin: string, roomId: string): Promise<RoomState> {
    const room = await this.roomState.get(roomId);
    if (!room || !isResident(room, this.serverName)) throw notFound('This server is not in that room');
    if (!roomAllowsServer(room, origin)) throw forbidden('The room\'s server ACL does not allow your server');
    return room;
  }

  private requireUserOf(origin: string, userId: string): void {
    const parsed = parseUserId(userId);
    if (!parsed) throw invalidParam(`Invalid user ID: ${userId}`);
    if (parsed.domain !== origin) throw forbidden('The user does not belong to your server');
  }

  /** A membership event template on the room's newest events, authorised against its current state. */
  private template(room: RoomState, userId: string, content: JsonObject): JsonObject {
    const lookup = lookupIn(room.state);
    const prevs = [...room.extremities].sort((a, b) => b.depth - a.depth || (a.eventId < b.eventId ? -1 : 1)).slice(0, MAX_PREV_EVENTS);
    const draft = { type: 'm.room.member', state_key: userId, sender: userId, content };
    const event: JsonObject = {
      room_id: room.roomId, sender: userId, type: 'm.room.member', state_key: userId, content,
      origin_server_ts: this.clock.now(),
      prev_events: prevs.map((p) => p.eventId),
      auth_events: selectAuthEvents(draft, lookup, room.version),
      depth: Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, ...prevs.map((p) => p.depth)) + 1),
      origin: parseUserId(userId)!.domain,
    };
    try {
      checkEventAuth({ ...(event as unknown as StoredEvent), hashes: { sha256: '' }, signatures: {} } as never, lookup, room.version, { isSignedBy: () => true });
    } catch (e) {
      if (e instanceof AuthError) throw forbidden(e.message, { 'org.hearth.auth_rule': e.rule });
      throw e;
    }
    return event;
  }

  // ---- joins --------------------------------------------------------------------------------

  /** GET /make_join/{roomId}/{userId}?ver= (joins-v1.yaml#makeJoin). */
  async makeJoin(origin: string, roomId: string, userId: string, versions: string[]): Promise<JsonObject> {
    this.requireUserOf(origin, userId);
    const room = await this.residentRoom(origin, roomId);
    // No `ver` means room version 1 only (joins-v1.yaml): which this server does not host.
    if (!versions.includes(room.version.id)) throw incompatibleRoomVersion(room.version.id);
    const content: JsonObject = { membership: 'join' };
    const via = await this.restrictedJoinAuthoriser(room, userId);
    if (via) content.join_authorised_via_users_server = via;
    return { event: this.template(room, userId, content), room_version: room.version.id };
  }

  /**
   * A restricted room (join rule restricted or knock_restricted) admits a user who is not invited when
   * they are joined to one of the rooms its `allow` list names; the join must then name a user of the
   * resident server who may invite (client-server-api "Restricted rooms"). Undefined when no
   * authoriser is needed.
   */
  private async restrictedJoinAuthoriser(room: RoomState, userId: string): Promise<string | undefined> {
    const lookup = lookupIn(room.state);
    const rule = joinRuleOf(lookup);
    if (rule !== 'restricted' && rule !== 'knock_restricted') return undefined;
    const current = membershipOf(userId, lookup);
    if (current === 'join' || current === 'invite') return undefined;
    const allow = lookup('m.room.join_rules', '')?.content.allow;
    let satisfied = false;
    for (const cond of Array.isArray(allow) ? allow : []) {
      if (!isObject(cond) || cond.type !== 'm.room_membership' || typeof cond.room_id !== 'string') continue;
      const other = await this.roomState.get(cond.room_id);
      if (other && membershipOf(userId, lookupIn(other.state)) === 'join') satisfied = true;
    }
    if (!satisfied) throw new MatrixError(400, 'M_UNABLE_TO_AUTHORISE_JOIN', 'You are not in any of the rooms this room admits members of');
    const needed = powerLevelFor('invite', lookup);
    for (const e of room.state.values()) {
      if (e.type !== 'm.room.member' || e.content.membership !== 'join' || e.state_key === undefined) continue;
      if (parseUserId(e.state_key)?.domain !== this.serverName) continue;
      if (userPowerLevel(e.state_key, lookup, room.version) >= needed) return e.state_key;
    }
    throw new MatrixError(400, 'M_UNABLE_TO_GRANT_JOIN', 'No user of this server may admit you; try another server');
  }

  /** Checks a membership PDU another server sends for its own user (send_join, send_leave). */
  private checkMembershipPdu(origin: string, room: RoomState, eventId: string, body: unknown, membership: string): JsonObject {
    if (!isObject(body)) throw badJson('The body must be the event');
    let computed: string;
    try {
      computed = computeEventId(body, room.version);
    } catch {
      throw invalidParam('The event is not valid canonical JSON');
    }
    if (computed !== eventId) throw invalidParam('The event ID in the path is not the event\'s ID');
    if (body.room_id !== room.roomId) throw invalidParam('The event is of another room');
    if (body.type !== 'm.room.member') throw invalidParam('The event is not an m.room.member event');
    if (!isObject(body.content) || body.content.membership !== membership) throw invalidParam(`The event's membership is not ${membership}`);
    if (typeof body.sender !== 'string' || body.state_key !== body.sender) throw invalidParam('The state_key must be the sender');
    if (parseUserId(body.sender)?.domain !== origin) throw invalidParam('The sender is not a user of your server');
    return body;
  }

  /** Receives a membership event into the room's graph; refused (403) unless accepted. */
  private async accept(room: RoomState, pdu: JsonObject, eventId: string): Promise<EventRecord> {
    let result;
    try {
      result = await this.receiver.receive(pdu, room.version);
    } catch (e) {
      if (e instanceof MissingEventsError) throw invalidParam(`The event builds on events this server does not have: ${e.missing.join(', ')}`);
      if (e instanceof MatrixError && (e.status === 401 || e.errcode === 'M_UNAUTHORIZED')) throw invalidParam(`The event's signature does not verify: ${e.message}`);
      throw e;
    }
    if (result.status === 'rejected' || result.status === 'soft_failed' || result.status === 'outlier') {
      throw forbidden(`The room does not allow this event: ${result.reason ?? result.status}`);
    }
    const record = await this.store.getEvent(eventId);
    if (!record || record.graph?.rejected || record.graph?.softFailed) throw forbidden('The room does not allow this event');
    return record;
  }

  /** PUT /send_join/{roomId}/{eventId} (joins-v2.yaml#sendJoinV2): the full state is always answered (`members_omitted: false`). */
  async sendJoin(origin: string, roomId: string, eventId: string, body: unknown): Promise<JsonObject> {
    const room = await this.residentRoom(origin, roomId);
    let pdu = this.checkMembershipPdu(origin, room, eventId, body, 'join');
    // A restricted join names one of our users: the event carries our signature before anyone sees it.
    const via = (pdu.content as JsonObject).join_authorised_via_users_server;
    let countersigned = false;
    if (typeof via === 'string' && parseUserId(via)?.domain === this.serverName) {
      pdu = hashAndSignEvent(pdu as never, this.serverName, await this.signingKey(), room.version) as unknown as JsonObject;
      countersigned = true;
    }
    const record = await this.accept(room, pdu, eventId);
    const after = (await this.roomState.get(roomId))!;
    this.fanout.send(record, after, [origin]);
    const stateIds = [...(await this.history.stateIdsAt(record, 'before')).values()];
    const state = (await this.store.getEvents(stateIds)).filter((r) => !r.graph?.rejected);
    const chain = await this.history.authChain([...state.map((r) => r.event.event_id), eventId]);
    const joinedBefore = new Set<string>();
    for (const r of state) {
      if (r.event.type !== 'm.room.member' || r.event.content.membership !== 'join' || r.event.state_key === undefined) continue;
      const server = parseUserId(r.event.state_key)?.domain;
      if (server) joinedBefore.add(server);
    }
    return {
      origin: this.serverName,
      state: state.map((r) => pduOf(r.event) as unknown as JsonObject),
      auth_chain: chain.filter((r) => r.event.event_id !== eventId).map((r) => pduOf(r.event) as unknown as JsonObject),
      members_omitted: false,
      servers_in_room: [...joinedBefore],
      ...(countersigned ? { event: pduOf(record.event) as unknown as JsonObject } : {}),
    };
  }

  // ---- leaves ------------------------------------------------------------------------------

  /** GET /make_leave/{roomId}/{userId} (leaving-v1.yaml#makeLeave). */
  async makeLeave(origin: string, roomId: string, userId: string): Promise<JsonObject> {
    this.requireUserOf(origin, userId);
    const room = await this.residentRoom(origin, roomId);
    return { event: this.template(room, userId, { membership: 'leave' }), room_version: room.version.id };
  }

  /** PUT /send_leave/{roomId}/{eventId} (leaving-v2.yaml#sendLeaveV2). */
  async sendLeave(origin: string, roomId: string, eventId: string, body: unknown): Promise<JsonObject> {
    const room = await this.residentRoom(origin, roomId);
    const pdu = this.checkMembershipPdu(origin, room, eventId, body, 'leave');
    const record = await this.accept(room, pdu, eventId);
    this.fanout.send(record, (await this.roomState.get(roomId))!, [origin]);
    return {};
  }

  // ---- invites from other servers -------------------------------------------------------------

  /**
   * PUT /invite/{roomId}/{eventId} (invites-v2.yaml#sendInviteV2): an invite of one of our users,
   * signed by us and returned. In a room this server is in, the invite joins the room's graph; else
   * it is kept out of band with the stripped state the inviting server sent.
   */
  async invite(origin: string, roomId: string, eventId: string, body: unknown): Promise<JsonObject> {
    if (!isObject(body) || !isObject(body.event)) throw badJson('The body needs the invite `event`');
    if (typeof body.room_version !== 'string') throw badJson('The body needs `room_version`');
    const version = knownRoomVersion(body.room_version);
    if (!version || !SUPPORTED_ROOM_VERSIONS.includes(version.id)) throw incompatibleRoomVersion(body.room_version);
    const pdu = body.event;
    let computed: string;
    try {
      computed = computeEventId(pdu, version);
    } catch {
      throw invalidParam('The event is not valid canonical JSON');
    }
    if (computed !== eventId) throw invalidParam('The event ID in the path is not the event\'s ID');
    if (pdu.room_id !== roomId) throw invalidParam('The event is of another room');
    if (pdu.type !== 'm.room.member' || !isObject(pdu.content) || pdu.content.membership !== 'invite') throw invalidParam('The event is not an invite');
    if (typeof pdu.sender !== 'string' || parseUserId(pdu.sender)?.domain !== origin) throw forbidden('The inviter is not a user of your server');
    if (typeof pdu.state_key !== 'string') throw invalidParam('The invite has no state_key');
    const target = parseUserId(pdu.state_key);
    if (!target) throw invalidParam(`Invalid user ID: ${pdu.state_key}`);
    if (target.domain !== this.serverName) throw forbidden('The invitee is not a user of this server');
    const user = await this.accounts.getUser(pdu.state_key);
    if (!user || user.deactivated) throw notFound(`Unknown user ${pdu.state_key}`);
    const reason = pdu.content.reason;
    if (typeof reason === 'string' && [...reason].length > this.config.invite_reason_max_length) {
      throw badJson(`reason must be at most ${this.config.invite_reason_max_length} characters`);
    }
    const room = await this.roomState.get(roomId);
    if (room && room.state.size > 0 && !roomAllowsServer(room, origin)) throw forbidden('The room\'s server ACL does not allow your server');
    const stored: StoredEvent = { ...(pdu as unknown as StoredEvent), event_id: eventId };
    try {
      await this.verifier.verifyEvent(stored, version);
    } catch (e) {
      if (e instanceof MatrixError) throw forbidden(`The invite's signature does not verify: ${e.message}`);
      throw e;
    }
    // Invites carry free text to someone who did not ask for it: per origin server, per inviter, per invitee.
    await this.rateLimiter.check('federation_invite', origin);
    await this.rateLimiter.check('invite', pdu.sender);
    await this.rateLimiter.check('invite_per_invitee', pdu.state_key);

    const signed = hashAndSignEvent(pduOf(stored), this.serverName, await this.signingKey(), version) as unknown as JsonObject;
    const signedEvent: StoredEvent = { ...(signed as unknown as StoredEvent), event_id: eventId };
    if (room && isResident(room, this.serverName)) {
      // A room this server is in: the invite is an event of its graph like any other.
      try {
        const r = await this.receiver.receive(signed, version);
        if (r.status === 'rejected') throw forbidden(`The room does not allow this invite: ${r.reason ?? ''}`);
        return { event: signed };
      } catch (e) {
        if (!(e instanceof MissingEventsError)) throw e;
        this.logger.info({ roomId, eventId }, 'federation: an invite to a room we are in builds on events we lack; kept out of band');
      }
    }
    const state = Array.isArray(body.invite_room_state) ? body.invite_room_state.filter(isObject).slice(0, MAX_INVITE_ROOM_STATE) : [];
    await this.outOfBand.record(signedEvent, version, { invite_room_state: state });
    return { event: signed };
  }
}
