// Questions this server asks other servers for its clients (matrix-spec: server-server/query.yaml,
// public_rooms.yaml): a remote user's profile (GET /_matrix/federation/v1/query/profile), a remote
// alias (query/directory), a remote server's public room directory (publicRooms). Core services
// (ProfileService, DirectoryService) get a RemoteQueries through their constructor; the answers are
// checked before use and every failure becomes a Matrix error a client can act on: never a 500.
import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import { forbidden, MatrixError, notFound } from '../../errors.js';
import type { JsonObject } from '../../wire.js';
import { isValidServerName, parseUserId } from '../ids.js';
import type { PublicRoomChunk, PublicRoomsPage } from '../rooms/directory.js';
import { FederationError, type FederationClient } from './client.js';

/** What a client may ask of another server's public room directory (list_public_rooms.yaml). */
export interface PublicRoomsQuery {
  limit?: number;
  since?: string;
  /** filter.generic_search_term */
  term?: string;
  /** filter.room_types (`null`: rooms without a type) */
  roomTypes?: (string | null)[];
  includeAllNetworks?: boolean;
  thirdPartyInstanceId?: string;
}

/** The room an alias maps to, and servers that can be asked to join it. */
export interface AliasAnswer {
  room_id: string;
  servers: string[];
}

/** Other servers, asked on behalf of this server's clients. */
export interface RemoteQueries {
  /** The public profile of a user of another server (cached briefly). */
  profile(userId: string): Promise<Record<string, unknown>>;
  /** The room an alias of another server maps to, and servers in it. */
  roomAlias(alias: string): Promise<AliasAnswer>;
  /** A page of another server's public room directory. */
  publicRooms(server: string, query: PublicRoomsQuery): Promise<PublicRoomsPage>;
}

/** For servers built without federation (and the services' defaults): every remote lookup fails, no network. */
export const NO_REMOTE_QUERIES: RemoteQueries = {
  profile: async () => { throw notFound('Profiles of users of other servers are not available: federation is disabled'); },
  roomAlias: async () => { throw notFound('Room aliases of other servers are not available: federation is disabled'); },
  publicRooms: async () => { throw forbidden('Room directories of other servers are not available: federation is disabled'); },
};

export interface FederationQueryOptions {
  /** How long a fetched profile is reused (ms; default one minute). */
  profileCacheMs?: number;
  /** Most profiles kept (default 10,000; the oldest go first). */
  profileCacheSize?: number;
  /** Timeout of one query (ms; default 30 s: a client waits for the answer). */
  timeoutMs?: number;
}

type What = 'profile' | 'alias' | 'publicRooms';

const NOUN: Record<What, string> = { profile: 'the profile', alias: 'the room alias', publicRooms: 'the public room list' };

/**
 * A failed federation query as the client sees it (the same mapping as Synapse's): federation off or
 * the server not allowed: 404 M_NOT_FOUND for profiles and aliases, 403 M_FORBIDDEN for room lists;
 * the remote's 404 → 404 M_NOT_FOUND (its M_UNRECOGNIZED, an endpoint it lacks, → 502); its 403 →
 * 403 M_FORBIDDEN; a timeout → 504; anything else (unreachable, 5xx, 401, a bad answer) → 502
 * M_UNKNOWN. The remote's other errcodes never reach the client (a remote 401 is about this
 * server's signature, not the client's token).
 */
export function queryError(e: unknown, what: What, destination: string): MatrixError {
  if (e instanceof MatrixError) return e;
  if (!(e instanceof FederationError)) return new MatrixError(502, 'M_UNKNOWN', `Could not get ${NOUN[what]} from ${destination}: ${(e as Error).message}`);
  const remoteMessage = (e.body as { error?: unknown } | undefined)?.error;
  const said = typeof remoteMessage === 'string' ? `: ${remoteMessage.slice(0, 200)}` : '';
  switch (e.kind) {
    case 'disabled':
    case 'forbidden':
      return what === 'publicRooms' ? forbidden(`Cannot ask ${destination}: ${e.message}`) : notFound(`Cannot ask ${destination} for ${NOUN[what]}: ${e.message}`);
    case 'timeout':
      return new MatrixError(504, 'M_UNKNOWN', `${destination} did not answer in time`);
    case 'http':
      if (e.status === 404 && e.errcode !== 'M_UNRECOGNIZED') return notFound(`${destination} answered not found${said}`);
      if (e.status === 403) return forbidden(`${destination} refused${said}`);
      return new MatrixError(502, 'M_UNKNOWN', `${destination} could not answer for ${NOUN[what]} (${e.status ?? '?'}${e.errcode ? ` ${e.errcode}` : ''})`);
    default:
      return new MatrixError(502, 'M_UNKNOWN', `Could not reach ${destination} for ${NOUN[what]}: ${e.message}`);
  }
}

const badAnswer = (destination: string, what: What, why: string) => new MatrixError(502, 'M_UNKNOWN', `${destination} sent an invalid answer for ${NOUN[what]}: ${why}`);

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The entries of a remote directory page that have the required fields (others are dropped). */
function publicRoomChunks(chunk: unknown[]): PublicRoomChunk[] {
  return chunk.filter((c): c is PublicRoomChunk => isObject(c) && typeof c.room_id === 'string' && typeof c.num_joined_members === 'number'
    && typeof c.world_readable === 'boolean' && typeof c.guest_can_join === 'boolean');
}

/** RemoteQueries over the signed federation client. */
export class FederationRemoteQueries implements RemoteQueries {
  private readonly profiles = new Map<string, { at: number; profile: Record<string, unknown> }>();
  private readonly inFlight = new Map<string, Promise<Record<string, unknown>>>();
  private readonly profileCacheMs: number;
  private readonly profileCacheSize: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly config: Pick<Config, 'server_name' | 'federation'>,
    private readonly client: FederationClient,
    private readonly clock: Clock,
    opts: FederationQueryOptions = {},
  ) {
    this.profileCacheMs = opts.profileCacheMs ?? 60_000;
    this.profileCacheSize = opts.profileCacheSize ?? 10_000;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** One signed GET or POST; failures as Matrix errors. */
  private async ask(what: What, destination: string, req: { method: 'GET' | 'POST'; path: string; query?: Record<string, string | number | boolean | undefined>; body?: unknown }): Promise<unknown> {
    // Without federation nothing goes out (the client refuses too; this says it plainly).
    if (!this.config.federation.enabled) throw queryError(new FederationError(destination, 'disabled', 'federation is disabled on this server'), what, destination);
    try {
      return await this.client.request({
        destination, method: req.method, path: req.path, timeoutMs: this.timeoutMs, maxResponseBytes: 8 * 1024 * 1024,
        ...(req.query ? { query: req.query } : {}), ...(req.body !== undefined ? { body: req.body } : {}),
      });
    } catch (e) {
      throw queryError(e, what, destination);
    }
  }

  async profile(userId: string): Promise<Record<string, unknown>> {
    const user = parseUserId(userId);
    if (!user) throw new MatrixError(400, 'M_INVALID_PARAM', 'Invalid user ID');
    const now = this.clock.now();
    const cached = this.profiles.get(userId);
    if (cached && now - cached.at < this.profileCacheMs) return cached.profile;
    let pending = this.inFlight.get(userId);
    if (!pending) {
      // GET /_matrix/federation/v1/query/profile (matrix-spec: server-server/query.yaml#queryProfile), the whole profile.
      pending = this.ask('profile', user.domain, { method: 'GET', path: '/_matrix/federation/v1/query/profile', query: { user_id: userId } }).then((answer) => {
        if (!isObject(answer)) throw badAnswer(user.domain, 'profile', 'not an object');
        this.remember(userId, answer);
        return answer;
      }).finally(() => this.inFlight.delete(userId));
      this.inFlight.set(userId, pending);
    }
    return pending;
  }

  private remember(userId: string, profile: Record<string, unknown>): void {
    this.profiles.delete(userId);
    this.profiles.set(userId, { at: this.clock.now(), profile });
    while (this.profiles.size > this.profileCacheSize) this.profiles.delete(this.profiles.keys().next().value!);
  }

  async roomAlias(alias: string): Promise<AliasAnswer> {
    const server = alias.slice(alias.indexOf(':') + 1);
    // GET /_matrix/federation/v1/query/directory (matrix-spec: server-server/query.yaml#queryRoomDirectory)
    const answer = await this.ask('alias', server, { method: 'GET', path: '/_matrix/federation/v1/query/directory', query: { room_alias: alias } });
    if (!isObject(answer) || typeof answer.room_id !== 'string' || !answer.room_id.startsWith('!') || !Array.isArray(answer.servers)) {
      throw badAnswer(server, 'alias', 'room_id and servers are required');
    }
    const servers = [...new Set(answer.servers.filter((s): s is string => typeof s === 'string' && isValidServerName(s)))];
    // A server that knows the alias but lists no one: it is the one to ask.
    return { room_id: answer.room_id, servers: servers.length > 0 ? servers : [server] };
  }

  async publicRooms(server: string, q: PublicRoomsQuery): Promise<PublicRoomsPage> {
    // A search needs the POST form (matrix-spec: server-server/public_rooms.yaml#queryPublicRooms);
    // otherwise the GET form (#getPublicRooms), as Synapse does.
    const search = q.term !== undefined || q.roomTypes !== undefined;
    const answer = search
      ? await this.ask('publicRooms', server, {
        method: 'POST', path: '/_matrix/federation/v1/publicRooms',
        body: {
          ...(q.limit !== undefined ? { limit: q.limit } : {}), ...(q.since !== undefined ? { since: q.since } : {}),
          filter: { ...(q.term !== undefined ? { generic_search_term: q.term } : {}), ...(q.roomTypes !== undefined ? { room_types: q.roomTypes } : {}) },
          ...(q.includeAllNetworks !== undefined ? { include_all_networks: q.includeAllNetworks } : {}),
          ...(q.thirdPartyInstanceId !== undefined ? { third_party_instance_id: q.thirdPartyInstanceId } : {}),
        },
      })
      : await this.ask('publicRooms', server, {
        method: 'GET', path: '/_matrix/federation/v1/publicRooms',
        query: { limit: q.limit, since: q.since, include_all_networks: q.includeAllNetworks, third_party_instance_id: q.thirdPartyInstanceId },
      });
    if (!isObject(answer) || !Array.isArray(answer.chunk)) throw badAnswer(server, 'publicRooms', 'no chunk');
    const chunk = publicRoomChunks(answer.chunk);
    const page: PublicRoomsPage = {
      chunk,
      total_room_count_estimate: typeof answer.total_room_count_estimate === 'number' ? answer.total_room_count_estimate : chunk.length,
    };
    if (typeof answer.next_batch === 'string') page.next_batch = answer.next_batch;
    if (typeof answer.prev_batch === 'string') page.prev_batch = answer.prev_batch;
    return page;
  }
}
