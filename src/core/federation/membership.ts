// Our users' membership in rooms this server is not in, through another server (matrix-spec:
// server-server-api "Joining Rooms", "Leaving Rooms (Rejecting Invites)", "Inviting to a room";
// joins-v1.yaml#makeJoin, joins-v2.yaml#sendJoinV2, leaving-v1.yaml#makeLeave,
// leaving-v2.yaml#sendLeaveV2, invites-v2.yaml#sendInviteV2):
// - a join asks a resident server for a template (make_join), signs the event and sends it
//   (send_join); the answer's state and auth chain are checked and stored, then the join is placed on
//   that state: the room is now held here;
// - rejecting an invite to a room we are not in goes through make_leave / send_leave on the inviting
//   server (or, if no server can be reached, is recorded here only, as Synapse does);
// - an invite of another server's user is countersigned by that server before it is sent.
import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import { forbidden, MatrixError, notFound } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { RoomStore } from '../../storage/types.js';
import { pduOf, type JsonObject, type StoredEvent } from '../../wire.js';
import { computeEventId, hashSignAndIdentify } from '../crypto/event-hashing.js';
import type { SigningKey } from '../crypto/signing.js';
import { parseUserId } from '../ids.js';
import { knownRoomVersion, roomVersion, SUPPORTED_ROOM_VERSIONS, type RoomVersion } from '../room-versions.js';
import { lookupIn, type RoomState } from '../rooms/room-state.js';
import { FederationError, type FederationClient } from './client.js';
import type { OutOfBandMemberships } from './out-of-band.js';
import { identify, type RemoteEvents } from './remote-events.js';

const enc = encodeURIComponent;
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks that `event` carries a valid signature of `server` (the key ring). */
export type SignedByCheck = (event: StoredEvent, version: RoomVersion, server: string) => Promise<void>;

/**
 * A failed request to another server as the client should see it: the remote's own Matrix error
 * (403, 404, 400 with its errcode) passed through; anything else (unreachable, timeout, garbage) a
 * 502 M_UNKNOWN naming the server.
 */
export function remoteFailure(e: unknown, what: string): MatrixError {
  if (e instanceof MatrixError) return e;
  if (e instanceof FederationError) {
    if (e.kind === 'http' && e.status !== undefined && e.status >= 400 && e.status < 500 && typeof e.errcode === 'string') {
      const body = isObject(e.body) ? e.body : {};
      const message = typeof body.error === 'string' ? body.error : `${what} refused by ${e.destination}`;
      const extra = e.errcode === 'M_INCOMPATIBLE_ROOM_VERSION' && typeof body.room_version === 'string' ? { room_version: body.room_version } : undefined;
      return new MatrixError(e.status === 401 ? 403 : e.status, e.errcode, `${e.destination}: ${message}`, extra);
    }
    if (e.kind === 'disabled') return forbidden('Federation is disabled on this server');
    if (e.kind === 'forbidden') return forbidden(`This server does not federate with ${e.destination}`);
    if (e.kind === 'timeout') return new MatrixError(504, 'M_UNKNOWN', `${what}: ${e.destination} did not answer in time`);
    return new MatrixError(502, 'M_UNKNOWN', `${what}: ${e.destination} could not be reached (${e.kind})`);
  }
  return new MatrixError(502, 'M_UNKNOWN', `${what} failed: ${e instanceof Error ? e.message : String(e)}`);
}

/** The servers to try for a room: those given, then the room ID's own (room versions before 12 name one), without this one. */
export function candidateServers(roomId: string, given: string[], serverName: string): string[] {
  const out: string[] = [];
  const colon = roomId.indexOf(':');
  for (const s of [...given, ...(colon > 0 ? [roomId.slice(colon + 1)] : [])]) {
    if (s && s !== serverName && !out.includes(s)) out.push(s);
  }
  return out;
}

export class RemoteMembership {
  constructor(
    private readonly config: Config,
    private readonly client: FederationClient,
    private readonly store: RoomStore,
    private readonly remote: RemoteEvents,
    private readonly outOfBand: OutOfBandMemberships,
    private readonly signingKey: () => Promise<SigningKey>,
    private readonly signedBy: SignedByCheck,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  private get serverName(): string {
    return this.config.server_name;
  }

  /** Tries each server in turn; the first success wins, else the most telling failure is thrown. */
  private async viaServers<T>(servers: string[], what: string, fn: (server: string) => Promise<T>): Promise<T> {
    if (servers.length === 0) throw notFound(`${what}: no server to ask (give server names with \`via\` / \`server_name\`)`);
    let best: MatrixError | undefined;
    for (const server of servers) {
      try {
        return await fn(server);
      } catch (e) {
        const failure = remoteFailure(e, what);
        this.logger.info({ server, err: e }, `federation: ${what} through ${server} failed`);
        // A server's own refusal says more than another's silence.
        if (!best || (best.status >= 500 && failure.status < 500)) best = failure;
      }
    }
    throw best!;
  }

  // ---- joins --------------------------------------------------------------------------------

  /** Joins `userId` to a room this server is not in, through one of `servers`. */
  async join(userId: string, roomId: string, servers: string[], content: JsonObject): Promise<void> {
    // An invite (kept out of band) names a server that is in the room: the inviter's.
    const membership = await this.store.getMembership(roomId, userId);
    const pending = membership?.membership === 'invite' ? await this.store.getEvent(membership.eventId) : undefined;
    const inviter = pending ? parseUserId(pending.event.sender)?.domain : undefined;
    const candidates = candidateServers(roomId, [...servers, ...(inviter ? [inviter] : [])], this.serverName);
    await this.viaServers(candidates, 'Joining the room', (server) => this.joinVia(server, userId, roomId, content));
  }

  private async joinVia(server: string, userId: string, roomId: string, extra: JsonObject): Promise<void> {
    const made = await this.client.request<JsonObject>({
      destination: server, method: 'GET', path: `/_matrix/federation/v1/make_join/${enc(roomId)}/${enc(userId)}`,
      query: { ver: [...SUPPORTED_ROOM_VERSIONS] },
    });
    const versionId = typeof made.room_version === 'string' ? made.room_version : '1';
    const version = knownRoomVersion(versionId);
    if (!version || !SUPPORTED_ROOM_VERSIONS.includes(version.id)) throw new MatrixError(400, 'M_UNSUPPORTED_ROOM_VERSION', `The room's version ${versionId} is not supported by this server`);
    const template = made.event;
    if (!isObject(template) || template.type !== 'm.room.member' || template.state_key !== userId || template.sender !== userId || template.room_id !== roomId
      || !Array.isArray(template.prev_events) || !Array.isArray(template.auth_events) || typeof template.depth !== 'number') {
      throw new MatrixError(502, 'M_UNKNOWN', `${server} answered make_join with an unusable template`);
    }
    const templateContent = isObject(template.content) ? template.content : {};
    const content: JsonObject = { ...extra, membership: 'join' };
    if (typeof templateContent.join_authorised_via_users_server === 'string') content.join_authorised_via_users_server = templateContent.join_authorised_via_users_server;
    const pdu = {
      room_id: roomId, sender: userId, type: 'm.room.member', state_key: userId, content,
      origin_server_ts: this.clock.now(),
      prev_events: template.prev_events as string[], auth_events: template.auth_events as string[], depth: template.depth,
      ...(typeof template.origin === 'string' ? { origin: this.serverName } : {}),
    };
    const built = hashSignAndIdentify(pdu, this.serverName, await this.signingKey(), version);
    const answer = await this.client.request<JsonObject>({
      destination: server, method: 'PUT', path: `/_matrix/federation/v2/send_join/${enc(roomId)}/${enc(built.eventId)}`,
      query: { omit_members: false }, body: built.pdu, timeoutMs: 120_000, maxResponseBytes: 256 * 1024 * 1024,
    });
    // A restricted join comes back countersigned by the resident server: that copy is the event.
    let join: JsonObject = built.pdu as unknown as JsonObject;
    if (isObject(answer.event)) {
      try {
        if (computeEventId(answer.event, version) === built.eventId) join = answer.event;
      } catch { /* not the event: keep ours */ }
    }
    const state = identify(answer.state, version);
    const chain = identify(answer.auth_chain, version);
    const createId = version.roomIdFromCreateEvent ? `$${roomId.slice(1)}` : undefined;
    if (!state.some((s) => s.pdu.type === 'm.room.create' && (createId === undefined || s.eventId === createId))) {
      throw new MatrixError(502, 'M_UNKNOWN', `${server} answered send_join without the room's create event`);
    }
    await this.remote.storeOutliers(server, roomId, [...chain, ...state], version);
    const usable = new Set((await this.store.getEvents(state.map((s) => s.eventId))).filter((r) => !r.graph?.rejected && r.event.room_id === roomId).map((r) => r.event.event_id));
    const stateBefore = new Map<string, string>();
    for (const s of state) {
      if (!usable.has(s.eventId) || typeof s.pdu.type !== 'string' || typeof s.pdu.state_key !== 'string') continue;
      stateBefore.set(`${s.pdu.type}\u0000${s.pdu.state_key}`, s.eventId);
    }
    const r = await this.remote.receiveFetchingAuth(server, roomId, { eventId: built.eventId, pdu: join }, version, { stateBefore });
    if (!r || (r.status !== 'accepted' && r.status !== 'duplicate')) {
      throw forbidden(`The join could not be placed in the room: ${r?.reason ?? r?.status ?? 'not checked'}`);
    }
  }

  // ---- leaving a room we are not in (rejecting an invite, retracting a knock) ----------------------

  /** Leaves (rejects the invite to / retracts the knock on) a room this server is not in. */
  async leave(userId: string, roomId: string, servers: string[], reason: string | undefined): Promise<void> {
    const membership = await this.store.getMembership(roomId, userId);
    const pending = membership ? await this.store.getEvent(membership.eventId) : undefined;
    const inviter = pending ? parseUserId(pending.event.sender)?.domain : undefined;
    const room = await this.store.getRoom(roomId);
    const version = room ? roomVersion(room.roomVersion) : undefined;
    const candidates = candidateServers(roomId, [...(inviter ? [inviter] : []), ...servers], this.serverName);
    try {
      await this.viaServers(candidates, 'Leaving the room', (server) => this.leaveVia(server, userId, roomId, reason));
    } catch (e) {
      // Nobody reachable (or willing): the invite is rejected here only, so the user is rid of it.
      if (!pending || !version) throw e;
      this.logger.info({ roomId, userId, err: e }, 'federation: rejecting an invite locally, no server accepted the leave');
      const pdu = {
        room_id: roomId, sender: userId, type: 'm.room.member', state_key: userId,
        content: { membership: 'leave', ...(reason !== undefined ? { reason } : {}) },
        origin_server_ts: this.clock.now(), prev_events: [pending.event.event_id], auth_events: [pending.event.event_id], depth: pending.event.depth + 1,
      };
      const built = hashSignAndIdentify(pdu, this.serverName, await this.signingKey(), version);
      await this.outOfBand.record({ ...(built.pdu as StoredEvent), event_id: built.eventId }, version, null);
    }
  }

  private async leaveVia(server: string, userId: string, roomId: string, reason: string | undefined): Promise<void> {
    const made = await this.client.request<JsonObject>({ destination: server, method: 'GET', path: `/_matrix/federation/v1/make_leave/${enc(roomId)}/${enc(userId)}` });
    const version = typeof made.room_version === 'string' ? knownRoomVersion(made.room_version) : undefined;
    if (!version) throw new MatrixError(400, 'M_UNSUPPORTED_ROOM_VERSION', 'The room\'s version is not supported by this server');
    const t = made.event;
    if (!isObject(t) || t.type !== 'm.room.member' || t.state_key !== userId || t.sender !== userId || t.room_id !== roomId
      || !Array.isArray(t.prev_events) || !Array.isArray(t.auth_events) || typeof t.depth !== 'number') {
      throw new MatrixError(502, 'M_UNKNOWN', `${server} answered make_leave with an unusable template`);
    }
    const pdu = {
      room_id: roomId, sender: userId, type: 'm.room.member', state_key: userId,
      content: { membership: 'leave', ...(reason !== undefined ? { reason } : {}) },
      origin_server_ts: this.clock.now(), prev_events: t.prev_events as string[], auth_events: t.auth_events as string[], depth: t.depth,
      ...(typeof t.origin === 'string' ? { origin: this.serverName } : {}),
    };
    const built = hashSignAndIdentify(pdu, this.serverName, await this.signingKey(), version);
    await this.client.request({ destination: server, method: 'PUT', path: `/_matrix/federation/v2/send_leave/${enc(roomId)}/${enc(built.eventId)}`, body: built.pdu });
    await this.outOfBand.record({ ...(built.pdu as StoredEvent), event_id: built.eventId }, version, null);
  }

  // ---- invites of other servers' users ------------------------------------------------------

  /**
   * The countersignature hook for an invite of `target` (a user of another server) in a room of this
   * server: PUT /invite on the target's server with the room's stripped state (full PDUs, the create
   * event first); the answer must be the same event with a valid signature of that server.
   */
  countersignInvite(target: string): (event: StoredEvent, room: RoomState) => Promise<StoredEvent> {
    return async (event, room) => {
      const server = parseUserId(target)?.domain;
      if (!server) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid user ID: ${target}`);
      const answer = await this.client.request<JsonObject>({
        destination: server, method: 'PUT', path: `/_matrix/federation/v2/invite/${enc(room.roomId)}/${enc(event.event_id)}`,
        body: { event: pduOf(event), room_version: room.version.id, invite_room_state: this.inviteRoomState(room, event.sender) },
      }).catch((e: unknown) => { throw remoteFailure(e, 'Inviting the user'); });
      const returned = answer.event;
      if (!isObject(returned)) throw new MatrixError(502, 'M_UNKNOWN', `${server} answered the invite without the event`);
      let id: string;
      try {
        id = computeEventId(returned, room.version);
      } catch {
        throw new MatrixError(502, 'M_UNKNOWN', `${server} answered the invite with an invalid event`);
      }
      if (id !== event.event_id) throw new MatrixError(502, 'M_UNKNOWN', `${server} answered the invite with another event`);
      const signed: StoredEvent = { ...event, signatures: { ...event.signatures, ...((returned.signatures as StoredEvent['signatures'] | undefined) ?? {}) } };
      signed.signatures[this.serverName] = event.signatures[this.serverName]!;
      await this.signedBy(signed, room.version, server).catch((e: unknown) => {
        throw new MatrixError(502, 'M_UNKNOWN', `${server} did not sign the invite validly: ${e instanceof Error ? e.message : String(e)}`);
      });
      return signed;
    };
  }

  /** invite_room_state: the create event, the configured state types and the inviter's member event, as full PDUs. */
  private inviteRoomState(room: RoomState, inviter: string): JsonObject[] {
    const lookup = lookupIn(room.state);
    const out: JsonObject[] = [];
    const seen = new Set<string>();
    const add = (e: StoredEvent | undefined) => {
      if (!e || seen.has(e.event_id)) return;
      seen.add(e.event_id);
      out.push(pduOf(e) as unknown as JsonObject);
    };
    add(lookup('m.room.create', ''));
    for (const type of this.config.invite_room_state) if (type !== 'm.room.create') add(lookup(type, ''));
    add(lookup('m.room.member', inviter));
    return out;
  }
}
