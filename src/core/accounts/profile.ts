// Profiles (matrix-spec: profile.yaml): display name, avatar, m.tz and namespaced custom keys, at
// most 64 KiB in all. Only the user changes their own profile; guests only their display name.
import type { Config } from '../../config.js';
import { badJson, forbidden, guestAccessForbidden, invalidParam, MatrixError, notFound } from '../../errors.js';
import type { AccountStore } from '../../storage/types.js';
import { compatSenderId } from '../events/server-senders.js';
import { NO_REMOTE_QUERIES, type RemoteQueries } from '../federation/queries.js';
import { parseUserId } from '../ids.js';
import type { AuthContext } from './events.js';

const MAX_DISPLAY_NAME_CHARS = 256;
const MAX_PROFILE_BYTES = 64 * 1024;

/** Profile keys: avatar_url, displayname, m.tz or a namespaced custom key, at most 255 bytes (profile.yaml#setProfileField). */
const PROFILE_KEY_RE = /^(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$/;
function checkProfileKey(field: string): void {
  if (Buffer.byteLength(field, 'utf8') > 255) throw new MatrixError(400, 'M_KEY_TOO_LARGE', 'Profile key too long');
  if (!PROFILE_KEY_RE.test(field)) throw invalidParam('Profile keys must be avatar_url, displayname, m.tz or namespaced (e.g. com.example.key)');
}

/** Fields whose changes go into the user's m.room.member events (client-server-api "Events on Change of Profile Information"). */
const MEMBER_FIELDS = new Set(['displayname', 'avatar_url']);

/** Tells the rooms about a changed display name or avatar; must not throw for a room that refuses. */
export type ProfilePropagator = (userId: string) => Promise<void>;

export class ProfileService {
  constructor(
    private readonly config: Config,
    private readonly store: AccountStore,
    /** Who updates the user's member events when `displayname` or `avatar_url` changes (the rooms service). */
    private readonly propagate: ProfilePropagator = async () => {},
    /** Other servers' users' profiles (over federation, cached briefly). */
    private readonly remote: Pick<RemoteQueries, 'profile'> = NO_REMOTE_QUERIES,
  ) {}

  /** A user's profile: a local user's from storage, another server's user's from that server. */
  async get(userId: string): Promise<Record<string, unknown>> {
    const user = parseUserId(userId);
    if (!user) throw invalidParam('Invalid user ID');
    // The server-owned user that stands in for the server as a sender (spec/server-events.md).
    if (userId === compatSenderId(this.config)) return { displayname: this.config.server_name };
    if (user.domain !== this.config.server_name) return this.remote.profile(userId);
    if (!(await this.store.getUser(userId))) throw notFound('Profile not found');
    return this.store.getProfile(userId);
  }

  /**
   * GET /_matrix/federation/v1/query/profile (matrix-spec: server-server/query.yaml#queryProfile):
   * a local user's profile, or only `field` of it; 404 M_NOT_FOUND for an unknown user or a field not
   * set, 400 M_INVALID_PARAM for a user of another server (servers must only ask the user's own).
   */
  async queryFromFederation(userId: string, field?: string): Promise<Record<string, unknown>> {
    const user = parseUserId(userId);
    if (!user) throw invalidParam('Invalid user ID');
    if (user.domain !== this.config.server_name) throw invalidParam('The user is not a user of this server');
    const profile = await this.get(userId);
    if (field === undefined) return profile;
    if (profile[field] === undefined || profile[field] === null) throw notFound('Profile field not set');
    return { [field]: profile[field] };
  }

  async getField(userId: string, field: string): Promise<unknown> {
    const profile = await this.get(userId);
    const remote = parseUserId(userId)!.domain !== this.config.server_name;
    // Another server may answer an unset field with null (query.yaml#queryProfile): not set either.
    if (!(field in profile) || (remote && profile[field] === null)) throw notFound('Profile field not set');
    return profile[field];
  }

  /** PUT /profile/{userId}/{keyName} (matrix-spec: profile.yaml#setProfileField). */
  async setField(auth: AuthContext, userId: string, field: string, value: unknown): Promise<void> {
    if (userId !== auth.userId) throw forbidden('You can only change your own profile');
    if (auth.isGuest && field !== 'displayname') throw guestAccessForbidden('Guests may only change their display name');
    checkProfileKey(field);
    if ((field === 'displayname' || field === 'avatar_url' || field === 'm.tz') && value !== null && typeof value !== 'string') {
      throw badJson(`${field} must be a string`);
    }
    if (field === 'displayname' && typeof value === 'string' && value.length > MAX_DISPLAY_NAME_CHARS) throw invalidParam(`displayname may be at most ${MAX_DISPLAY_NAME_CHARS} characters`);
    if (field === 'avatar_url' && typeof value === 'string' && value !== '' && !value.startsWith('mxc://')) throw invalidParam('avatar_url must be an mxc:// URI');
    const profile = await this.store.getProfile(userId);
    profile[field] = value;
    if (Buffer.byteLength(JSON.stringify(profile), 'utf8') > MAX_PROFILE_BYTES) throw new MatrixError(400, 'M_PROFILE_TOO_LARGE', 'The profile would be larger than 64 KiB');
    await this.store.setProfileField(userId, field, value);
    if (MEMBER_FIELDS.has(field)) await this.propagate(userId);
  }

  async deleteField(auth: AuthContext, userId: string, field: string): Promise<void> {
    if (userId !== auth.userId) throw forbidden('You can only change your own profile');
    if (auth.isGuest && field !== 'displayname') throw guestAccessForbidden('Guests may only change their display name');
    checkProfileKey(field);
    await this.store.deleteProfileField(userId, field);
    if (MEMBER_FIELDS.has(field)) await this.propagate(userId);
  }

  /**
   * Admin API (PUT /_synapse/admin/v2/users/{userId}): sets or removes (null) the display name and
   * avatar without the user's own checks, and tells the rooms like a change by the user.
   */
  async setByAdmin(userId: string, change: { displayname?: string | null; avatarUrl?: string | null }): Promise<void> {
    if (change.displayname !== undefined) {
      if (change.displayname === null) await this.store.deleteProfileField(userId, 'displayname');
      else await this.store.setProfileField(userId, 'displayname', change.displayname);
    }
    if (change.avatarUrl !== undefined) {
      if (change.avatarUrl === null) await this.store.deleteProfileField(userId, 'avatar_url');
      else await this.store.setProfileField(userId, 'avatar_url', change.avatarUrl);
    }
    if (change.displayname !== undefined || change.avatarUrl !== undefined) await this.propagate(userId);
  }
}
