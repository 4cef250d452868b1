// Access tokens (matrix-spec: client-server-api "Using access tokens", "Relationship between access
// tokens and devices"): 256 random bits handed out once, stored only as SHA-256 hashes, resolved to
// their owner through a cache that forgets revoked tokens. A login creates or reuses a device and
// always hands out a fresh token; the device's earlier tokens are revoked.
import { createHash } from 'node:crypto';
import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import { unknownToken } from '../../errors.js';
import type { AccountStore, TokenOwner } from '../../storage/types.js';
import { generateDeviceId, randomToken } from '../ids.js';
import type { ReplicaLink } from '../replica.js';
import type { AccountEvents, AuthContext, LoginResult } from './events.js';

/** Cached token owners another process found stale (revoked tokens, a user's changed flags). */
export interface TokenCacheChange {
  hashes?: string[];
  user?: string;
}

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

/** A new access token: 256 random bits with a recognisable prefix. */
export const newAccessToken = (): string => `hth_${randomToken(32)}`;

export class TokenService {
  /** token hash -> owner; entries leave when their tokens are revoked. */
  private readonly cache = new Map<string, TokenOwner | null>();
  private readonly lastSeenWritten = new Map<string, number>();
  private link: ReplicaLink<TokenCacheChange> | undefined;

  constructor(
    private readonly config: Config,
    private readonly store: AccountStore,
    private readonly clock: Clock,
    private readonly events: AccountEvents,
  ) {}

  /** Resolves an access token to its owner or throws 401 M_UNKNOWN_TOKEN. */
  async authenticate(token: string): Promise<AuthContext> {
    const tokenHash = hashToken(token);
    let owner = this.cache.get(tokenHash);
    if (owner === undefined) {
      owner = (await this.store.findTokenOwner(tokenHash)) ?? null;
      if (this.cache.size > 100_000) this.cache.clear();
      if (owner) this.cache.set(tokenHash, owner);
    }
    if (!owner || owner.deactivated) throw unknownToken();
    // A token with an expiry (admin login as a user) stops working then; the client gets a plain 401.
    if (owner.validUntilMs !== null && this.clock.now() >= owner.validUntilMs) throw unknownToken('The access token has expired');
    return { userId: owner.userId, deviceId: owner.deviceId, isGuest: owner.isGuest, isAdmin: owner.isAdmin, tokenHash, isShadowBanned: owner.shadowBanned };
  }

  /** Revoked tokens leave the cache (every process's, in a cluster). */
  forget(hashes: string[]): void {
    for (const h of hashes) this.cache.delete(h);
    if (hashes.length > 0) this.link?.send({ hashes });
  }

  /** Admin flag or deactivation changed: cached owners of this user are stale (in every process). */
  forgetUser(userId: string): void {
    this.forgetUserHere(userId);
    this.link?.send({ user: userId });
  }

  private forgetUserHere(userId: string): void {
    for (const [h, o] of this.cache) if (o?.userId === userId) this.cache.delete(h);
  }

  /** Shares cache invalidations with the other processes of a cluster. */
  share(link: ReplicaLink<TokenCacheChange>): void {
    this.link = link;
    link.onReceive((c) => {
      for (const h of c.hashes ?? []) this.cache.delete(h);
      if (c.user !== undefined) this.forgetUserHere(c.user);
    });
  }

  /** Records when and from where a device was last used, at most once a minute per device. */
  async touchDevice(auth: AuthContext, ip: string | null, userAgent: string | null): Promise<void> {
    const key = `${auth.userId}|${auth.deviceId}`;
    const now = this.clock.now();
    const last = this.lastSeenWritten.get(key);
    if (last !== undefined && now - last < 60_000) return;
    this.lastSeenWritten.set(key, now);
    await this.store.updateDeviceLastSeen(auth.userId, auth.deviceId, now, ip, userAgent);
  }

  /**
   * Creates (or reuses) a device and hands out a fresh token; earlier tokens of that device are
   * revoked. `validUntilMs`: the token stops working then (admin login as a user).
   */
  async issueLogin(userId: string, deviceId: string | undefined, displayName: string | undefined, via: 'login' | 'register' | 'admin' = 'login', validUntilMs: number | null = null): Promise<LoginResult> {
    const id = deviceId ?? generateDeviceId();
    const token = newAccessToken();
    const result = await this.store.loginDevice({ userId, deviceId: id, displayName: displayName ?? null, tokenHash: hashToken(token), ts: this.clock.now(), validUntilMs });
    this.forget(result.revokedTokenHashes);
    if (result.revokedTokenHashes.length > 0) this.events.emit('tokensRevoked', userId, [id]);
    this.events.emit('deviceLoggedIn', userId, id, result.createdDevice, via);
    return { user_id: userId, access_token: token, device_id: id, home_server: this.config.server_name };
  }
}
