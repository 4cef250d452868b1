// Room aliases and the public room directory (matrix-spec: directory.yaml, list_public_rooms.yaml).
import type { Config } from '../../config.js';
import { forbidden, invalidParam, MatrixError, notFound } from '../../errors.js';
import type { RoomStore } from '../../storage/types.js';
import type { AuthContext } from '../accounts/events.js';
import { membershipOf, requiredPowerLevel, userPowerLevel } from '../auth-rules.js';
import type { JsonObject } from '../events/types.js';
import { NO_REMOTE_QUERIES, type AliasAnswer, type PublicRoomsQuery, type RemoteQueries } from '../federation/queries.js';
import { isValidServerName, parseUserId } from '../ids.js';
import { joinedMembers, lookupIn, type RoomState, type RoomStateService } from './room-state.js';

export interface PublicRoomChunk {
  room_id: string;
  num_joined_members: number;
  world_readable: boolean;
  guest_can_join: boolean;
  join_rule?: string;
  name?: string;
  topic?: string;
  canonical_alias?: string;
  avatar_url?: string;
  room_type?: string;
}

export interface PublicRoomsPage {
  chunk: PublicRoomChunk[];
  total_room_count_estimate: number;
  next_batch?: string;
  prev_batch?: string;
}

/**
 * A room as the directory and the space hierarchy describe it (list_public_rooms.yaml
 * PublishedRoomsChunk): counts and flags always, name, topic, alias, avatar and type when set.
 */
export function publishedRoomChunk(room: RoomState): PublicRoomChunk {
  const lookup = lookupIn(room.state);
  const str = (type: string, key: string): string | undefined => {
    const v = lookup(type, '')?.content[key];
    return typeof v === 'string' ? v : undefined;
  };
  const chunk: PublicRoomChunk = {
    room_id: room.roomId,
    num_joined_members: joinedMembers(room).length,
    world_readable: str('m.room.history_visibility', 'history_visibility') === 'world_readable',
    guest_can_join: str('m.room.guest_access', 'guest_access') === 'can_join',
    join_rule: str('m.room.join_rules', 'join_rule') ?? 'invite',
  };
  const name = str('m.room.name', 'name');
  if (name) chunk.name = name;
  const topic = str('m.room.topic', 'topic');
  if (topic) chunk.topic = topic;
  const alias = str('m.room.canonical_alias', 'alias');
  if (alias) chunk.canonical_alias = alias;
  const avatar = str('m.room.avatar', 'url');
  if (avatar) chunk.avatar_url = avatar;
  const createType = (lookup('m.room.create', '')?.content as JsonObject | undefined)?.type;
  if (typeof createType === 'string') chunk.room_type = createType;
  return chunk;
}

// appendices "Server Name": hostname [ ":" port ], hostname = IPv4 / "[" IPv6 "]" / dns-name.
const SERVER_NAME_RE = /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.-]{1,255})(?::\d{1,5})?$/;

/**
 * `#localpart:server` with a valid grammar (appendices "Room Aliases"), at most 255 bytes. The
 * localpart may hold any code point but ':' and NUL; like Synapse, whitespace is refused as well.
 */
export function parseAlias(alias: string): { localpart: string; server: string } {
  const m = /^#([^:]+):(.+)$/.exec(alias);
  if (!m || Buffer.byteLength(alias, 'utf8') > 255 || /[\s\u0000]/.test(m[1]!) || !SERVER_NAME_RE.test(m[2]!)) {
    throw invalidParam(`Invalid room alias: ${alias}`);
  }
  return { localpart: m[1]!, server: m[2]! };
}

/** `third_party_instance_id` "can only be used if include_all_networks is false" (list_public_rooms.yaml). */
function checkNetworks(q: PublicRoomsQuery): void {
  if (q.includeAllNetworks && q.thirdPartyInstanceId !== undefined) throw invalidParam('include_all_networks and third_party_instance_id cannot be used together');
}

export class DirectoryService {
  constructor(
    private readonly config: Config,
    private readonly store: RoomStore,
    private readonly roomState: RoomStateService,
    /** Other servers' aliases and public room lists (over federation). */
    private readonly remote: Pick<RemoteQueries, 'roomAlias' | 'publicRooms'> = NO_REMOTE_QUERIES,
  ) {}

  /** Aliases held for rooms being created (reserve .. commit/release), so no one else takes them meanwhile. */
  private readonly reserved = new Set<string>();

  private requireLocal(alias: string): void {
    if (parseAlias(alias).server !== this.config.server_name) throw invalidParam('Room alias must be on this server');
  }

  /**
   * Before a room is created with `room_alias_name`: the alias must be local and free (400
   * M_ROOM_IN_USE), and stays held until `commit` or `release`, so that two concurrent createRoom
   * calls for one alias cannot both create a room (the loser would leave a room behind).
   */
  async reserve(alias: string): Promise<void> {
    this.requireLocal(alias);
    if (this.reserved.has(alias)) throw new MatrixError(400, 'M_ROOM_IN_USE', 'Room alias already taken');
    this.reserved.add(alias);
    try {
      if (await this.store.getAlias(alias)) throw new MatrixError(400, 'M_ROOM_IN_USE', 'Room alias already taken');
    } catch (e) {
      this.reserved.delete(alias);
      throw e;
    }
  }

  /** Gives up a reservation (the room was not created). */
  release(alias: string): void {
    this.reserved.delete(alias);
  }

  /** Stores the alias of a newly created room and ends its reservation. */
  async commit(alias: string, roomId: string, creator: string, now: number): Promise<void> {
    try {
      if (!(await this.store.createAlias({ alias, roomId, creator }, now))) throw new MatrixError(400, 'M_ROOM_IN_USE', 'Room alias already taken');
    } finally {
      this.reserved.delete(alias);
    }
  }

  /** PUT /directory/room/{roomAlias} (matrix-spec: directory.yaml#setRoomAlias). */
  async createAlias(auth: AuthContext, alias: string, roomId: string, now: number): Promise<void> {
    this.requireLocal(alias);
    const room = await this.roomState.get(roomId);
    if (!room) throw notFound('Unknown room');
    if (membershipOf(auth.userId, lookupIn(room.state)) !== 'join' && !auth.isAdmin) throw forbidden('You are not in this room');
    if (this.reserved.has(alias)) throw new MatrixError(409, 'M_UNKNOWN', 'Room alias already exists');
    if (!(await this.store.createAlias({ alias, roomId, creator: auth.userId }, now))) throw new MatrixError(409, 'M_UNKNOWN', 'Room alias already exists');
  }

  /**
   * GET /directory/room/{roomAlias} (matrix-spec: directory.yaml#getRoomIdByAlias): a local alias
   * from storage, another server's from that server (query/directory).
   */
  async resolveAlias(alias: string): Promise<AliasAnswer> {
    if (parseAlias(alias).server !== this.config.server_name) return this.remote.roomAlias(alias);
    return this.resolveLocalAlias(alias);
  }

  /**
   * A local alias (also GET /_matrix/federation/v1/query/directory, matrix-spec:
   * server-server/query.yaml#queryRoomDirectory): the room, and the servers with members joined to
   * it; 404 M_NOT_FOUND for an unknown alias, 400 M_INVALID_PARAM for another server's.
   */
  async resolveLocalAlias(alias: string): Promise<AliasAnswer> {
    this.requireLocal(alias);
    const a = await this.store.getAlias(alias);
    if (!a) throw notFound('Room alias not found');
    return { room_id: a.roomId, servers: await this.residentServers(a.roomId) };
  }

  /**
   * The servers with members joined to the room: this one first (it holds the alias and the room,
   * and is listed even when none of its users is joined any more), then the others, most members first.
   */
  private async residentServers(roomId: string): Promise<string[]> {
    const room = await this.roomState.get(roomId);
    const counts = new Map<string, number>();
    for (const userId of room ? joinedMembers(room) : []) {
      const server = parseUserId(userId)?.domain;
      if (server !== undefined && server !== this.config.server_name) counts.set(server, (counts.get(server) ?? 0) + 1);
    }
    const others = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([server]) => server);
    return [this.config.server_name, ...others];
  }

  /** DELETE /directory/room/{roomAlias}: the alias's creator, a room member with power to set
   * m.room.canonical_alias, or a server admin (matrix-spec: directory.yaml#deleteRoomAlias). */
  async deleteAlias(auth: AuthContext, alias: string): Promise<void> {
    this.requireLocal(alias);
    const a = await this.store.getAlias(alias);
    if (!a) throw notFound('Room alias not found');
    let allowed = auth.isAdmin || a.creator === auth.userId;
    if (!allowed) {
      const room = await this.roomState.get(a.roomId);
      if (room) {
        const lookup = lookupIn(room.state);
        allowed = membershipOf(auth.userId, lookup) === 'join'
          && userPowerLevel(auth.userId, lookup, room.version) >= requiredPowerLevel('m.room.canonical_alias', true, lookup);
      }
    }
    if (!allowed) throw forbidden('You may not remove this alias');
    await this.store.deleteAlias(alias);
  }

  /** GET /rooms/{roomId}/aliases: for members, or anyone if the room is world-readable. */
  async roomAliases(auth: AuthContext, roomId: string): Promise<string[]> {
    const room = await this.roomState.get(roomId);
    if (!room) throw notFound('Unknown room');
    const lookup = lookupIn(room.state);
    const visibility = lookup('m.room.history_visibility', '')?.content.history_visibility;
    if (membershipOf(auth.userId, lookup) !== 'join' && visibility !== 'world_readable' && !auth.isAdmin) throw forbidden('You are not in this room');
    return this.store.getAliasesForRoom(roomId);
  }

  /** Room ID from a room ID or alias (for /join/{roomIdOrAlias}). */
  async resolveRoomIdOrAlias(idOrAlias: string): Promise<string> {
    return (await this.resolveRoomIdOrAliasWithServers(idOrAlias)).roomId;
  }

  /**
   * Room ID from a room ID or alias, with the servers that can be asked to join it: for an alias,
   * those of its answer (a remote alias: the alias's server's answer); for a room ID none (the
   * client's `via` names them).
   */
  async resolveRoomIdOrAliasWithServers(idOrAlias: string): Promise<{ roomId: string; servers: string[] }> {
    if (idOrAlias.startsWith('!')) return { roomId: idOrAlias, servers: [] };
    if (idOrAlias.startsWith('#')) {
      const a = await this.resolveAlias(idOrAlias);
      return { roomId: a.room_id, servers: a.servers };
    }
    throw invalidParam(`Not a room ID or alias: ${idOrAlias}`);
  }

  /** GET /directory/list/room/{roomId} (matrix-spec: list_public_rooms.yaml#getRoomVisibilityOnDirectory). */
  async getVisibility(roomId: string): Promise<'public' | 'private'> {
    const room = await this.store.getRoom(roomId);
    if (!room) throw notFound('Unknown room');
    return room.visibility;
  }

  /** PUT /directory/list/room/{roomId}: room members with power to change state_default-level state, or admins. */
  async setVisibility(auth: AuthContext, roomId: string, visibility: 'public' | 'private'): Promise<void> {
    const room = await this.roomState.get(roomId);
    if (!room) throw notFound('Unknown room');
    const lookup = lookupIn(room.state);
    const canPublish = membershipOf(auth.userId, lookup) === 'join'
      && userPowerLevel(auth.userId, lookup, room.version) >= requiredPowerLevel('m.room.canonical_alias', true, lookup);
    if (!canPublish && !auth.isAdmin) throw forbidden('You may not change the directory visibility of this room');
    await this.store.setRoomVisibility(roomId, visibility);
  }

  /**
   * GET/POST /publicRooms?server= (matrix-spec: list_public_rooms.yaml#getPublicRooms,
   * queryPublicRooms): this server's list, or another server's, asked over federation.
   */
  async publicRoomsOf(server: string | undefined, query: PublicRoomsQuery): Promise<PublicRoomsPage> {
    checkNetworks(query);
    if (server === undefined || server === this.config.server_name) return this.publicRooms(query);
    if (!isValidServerName(server)) throw invalidParam(`Invalid server name: ${server}`);
    return this.remote.publicRooms(server, query);
  }

  /**
   * This server's public room list (the client API, and GET/POST /_matrix/federation/v1/publicRooms,
   * matrix-spec: server-server/public_rooms.yaml#getPublicRooms, queryPublicRooms). It has no
   * third-party networks: `include_all_networks` lists the same rooms, and a `third_party_instance_id`
   * lists none.
   */
  async publicRooms(opts: PublicRoomsQuery): Promise<PublicRoomsPage> {
    checkNetworks(opts);
    if (opts.thirdPartyInstanceId !== undefined) return { chunk: [], total_room_count_estimate: 0 };
    const rooms = await this.store.listPublicRooms();
    const all: PublicRoomChunk[] = [];
    for (const r of rooms) {
      const room = await this.roomState.get(r.roomId);
      if (!room) continue;
      const chunk = publishedRoomChunk(room);
      all.push(chunk);
    }
    const term = opts.term?.toLowerCase();
    // filter.room_types: `null` stands for rooms without a type; an empty list filters nothing (as Synapse).
    const types = opts.roomTypes !== undefined && opts.roomTypes.length > 0 ? opts.roomTypes : undefined;
    const matching = all.filter((c) =>
      (!term || [c.name, c.topic, c.canonical_alias, c.room_id].some((v) => v?.toLowerCase().includes(term)))
      && (!types || types.includes(c.room_type ?? null)));
    matching.sort((a, b) => b.num_joined_members - a.num_joined_members || a.room_id.localeCompare(b.room_id));
    let offset = 0;
    if (opts.since !== undefined) {
      const m = /^o(\d+)$/.exec(opts.since);
      if (!m) throw invalidParam('Invalid since token');
      offset = Number(m[1]);
    }
    const limit = opts.limit !== undefined && opts.limit > 0 ? opts.limit : matching.length;
    const page: PublicRoomsPage = { chunk: matching.slice(offset, offset + limit), total_room_count_estimate: matching.length };
    if (offset + limit < matching.length) page.next_batch = `o${offset + limit}`;
    if (offset > 0) page.prev_batch = `o${Math.max(0, offset - limit)}`;
    return page;
  }
}

