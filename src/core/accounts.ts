// Accounts, login, access tokens, devices and profiles: the domain rules behind the account endpoints.
// (matrix-spec: registration.yaml, login.yaml, logout.yaml, whoami.yaml, password_management.yaml,
//  device_management.yaml, profile.yaml; content/client-server-api "Relationship between access tokens and devices")
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import * as jose from 'jose';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import {
  badJson, forbidden, guestAccessForbidden, invalidParam, invalidUsername, MatrixError, notFound, unknownToken, userDeactivated, userInUse, weakPassword,
} from '../errors.js';
import type { AccountStore, DeviceRecord, TokenOwner } from '../storage/types.js';
import { generateDeviceId, normaliseNewLocalpart, parseUserId, randomToken, userIdFor } from './ids.js';
import { DEFAULT_SCRYPT, hashPassword, verifyPassword, type ScryptParams } from './passwords.js';
import type { RateLimiter } from './ratelimit.js';
import type { UiaFlow, UiaService } from './uia.js';

/** Who is making an authenticated request; the only source of identity for handlers. */
export interface AuthContext {
  userId: string;
  deviceId: string;
  isGuest: boolean;
  isAdmin: boolean;
  tokenHash: string;
}

export interface LoginResult {
  user_id: string;
  access_token: string;
  device_id: string;
  home_server: string;
}

/** Things other parts of the server react to (sessions end with their tokens; notices on new logins). */
export interface AccountListener {
  tokensRevoked?(userId: string, deviceIds: string[] | 'all-but', keepDeviceId?: string): void;
  /** `via` tells a login from the first device of a new account. */
  deviceLoggedIn?(userId: string, deviceId: string, isNewDevice: boolean, via: 'login' | 'register'): void;
  passwordChanged?(userId: string): void;
  userDeactivated?(userId: string): void;
}

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

const PASSWORD_FLOWS: UiaFlow[] = [{ stages: ['m.login.password'] }];
const MAX_DEVICE_ID_BYTES = 255;
const MAX_DISPLAY_NAME_CHARS = 256;
const MAX_PROFILE_BYTES = 64 * 1024;
/** Shared-secret registration nonces live this long (Synapse uses 60 s). */
const NONCE_LIFETIME_MS = 60_000;

export interface RegisterRequest {
  username?: string;
  password?: string;
  deviceId?: string;
  initialDeviceDisplayName?: string;
  inhibitLogin: boolean;
  guest: boolean;
  auth?: unknown;
}

export class AccountService {
  /** token hash -> owner; entries leave when their tokens are revoked. */
  private tokenCache = new Map<string, TokenOwner | null>();
  private lastSeenWritten = new Map<string, number>();
  private nonces = new Map<string, number>();
  private listeners: AccountListener[] = [];

  constructor(
    private readonly config: Config,
    private readonly store: AccountStore,
    private readonly clock: Clock,
    private readonly uia: UiaService,
    private readonly rateLimiter: RateLimiter,
    private readonly scrypt: ScryptParams = DEFAULT_SCRYPT,
  ) {}

  private dummy: Promise<string> | undefined;
  private dummyHash(): Promise<string> {
    this.dummy ??= hashPassword(randomToken(16), this.scrypt);
    return this.dummy;
  }

  addListener(l: AccountListener): void {
    this.listeners.push(l);
  }

  private emit<K extends keyof AccountListener>(name: K, ...args: Parameters<NonNullable<AccountListener[K]>>): void {
    for (const l of this.listeners) (l[name] as ((...a: unknown[]) => void) | undefined)?.apply(l, args);
  }

  // ---- access tokens -------------------------------------------------------------------------

  /** Resolves an access token to its owner or throws 401 M_UNKNOWN_TOKEN. */
  async authenticate(token: string): Promise<AuthContext> {
    const tokenHash = hashToken(token);
    let owner = this.tokenCache.get(tokenHash);
    if (owner === undefined) {
      owner = (await this.store.findTokenOwner(tokenHash)) ?? null;
      if (this.tokenCache.size > 100_000) this.tokenCache.clear();
      if (owner) this.tokenCache.set(tokenHash, owner);
    }
    if (!owner || owner.deactivated) throw unknownToken();
    return { userId: owner.userId, deviceId: owner.deviceId, isGuest: owner.isGuest, isAdmin: owner.isAdmin, tokenHash };
  }

  private forgetTokens(hashes: string[]): void {
    for (const h of hashes) this.tokenCache.delete(h);
  }

  /** Admin flag or deactivation changed: cached owners of this user are stale. */
  private forgetUser(userId: string): void {
    for (const [h, o] of this.tokenCache) if (o?.userId === userId) this.tokenCache.delete(h);
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

  /** Creates (or reuses) a device and hands out a fresh token; earlier tokens of that device are revoked. */
  private async issueLogin(userId: string, deviceId: string | undefined, displayName: string | undefined, via: 'login' | 'register' = 'login'): Promise<LoginResult> {
    const id = deviceId ?? generateDeviceId();
    const token = `hth_${randomToken(32)}`;
    const result = await this.store.loginDevice({ userId, deviceId: id, displayName: displayName ?? null, tokenHash: hashToken(token), ts: this.clock.now() });
    this.forgetTokens(result.revokedTokenHashes);
    if (result.revokedTokenHashes.length > 0) this.emit('tokensRevoked', userId, [id]);
    this.emit('deviceLoggedIn', userId, id, result.createdDevice, via);
    return { user_id: userId, access_token: token, device_id: id, home_server: this.config.server_name };
  }

  // ---- registration --------------------------------------------------------------------------

  private checkPasswordPolicy(password: string): void {
    if (password.length < this.config.password_min_length) {
      throw weakPassword(`Password must be at least ${this.config.password_min_length} characters long`);
    }
    if (Buffer.byteLength(password, 'utf8') > 512) throw weakPassword('Password is too long (at most 512 bytes)');
  }

  private checkDeviceId(deviceId: string | undefined): void {
    if (deviceId !== undefined && (deviceId.length === 0 || Buffer.byteLength(deviceId, 'utf8') > MAX_DEVICE_ID_BYTES)) {
      throw invalidParam('device_id must be 1 to 255 bytes');
    }
  }

  /** GET /register/available: throws M_INVALID_USERNAME or M_USER_IN_USE, else resolves. */
  async checkAvailable(username: string): Promise<void> {
    const localpart = normaliseNewLocalpart(username, this.config.server_name);
    if (await this.store.getUser(userIdFor(localpart, this.config.server_name))) throw userInUse();
  }

  /** POST /register (matrix-spec: registration.yaml#register). */
  async register(req: RegisterRequest): Promise<Partial<LoginResult> & { user_id: string; home_server: string }> {
    if (req.guest) {
      if (!this.config.allow_guest_access) throw forbidden('Guest access is disabled');
    } else if (!this.config.enable_registration) {
      throw forbidden('Registration is disabled');
    }
    this.checkDeviceId(req.deviceId);
    let localpart: string | undefined;
    if (!req.guest) {
      if (req.username !== undefined) {
        localpart = normaliseNewLocalpart(req.username, this.config.server_name);
        if (await this.store.getUser(userIdFor(localpart, this.config.server_name))) throw userInUse();
      }
      if (req.password === undefined) {
        // The password may come with a later UIA step; without one a full account is never created.
        if (req.auth !== undefined) throw new MatrixError(400, 'M_MISSING_PARAM', 'password is required');
      } else {
        this.checkPasswordPolicy(req.password);
      }
      await this.uia.authenticate('register', req.auth, [{ stages: ['m.login.dummy'] }], { userId: null });
      if (req.password === undefined) throw new MatrixError(400, 'M_MISSING_PARAM', 'password is required');
    }
    const passwordHash = req.password !== undefined && !req.guest ? await hashPassword(req.password, this.scrypt) : null;

    for (let attempt = 0; ; attempt++) {
      // Guests get numeric localparts (reserved for them); others a random one when they name none.
      const lp = localpart ?? (req.guest ? String(await this.store.nextCounter('guest_localpart')) : `u${randomToken(6).toLowerCase().replace(/[^a-z0-9]/g, '')}`);
      const userId = userIdFor(lp, this.config.server_name);
      const deviceId = req.deviceId ?? generateDeviceId();
      const token = `hth_${randomToken(32)}`;
      const now = this.clock.now();
      const created = await this.store.createUser(
        { userId, localpart: lp, passwordHash, isAdmin: false, isGuest: req.guest, createdTs: now, displayName: localpart ?? lp },
        req.inhibitLogin ? undefined : { userId, deviceId, displayName: req.initialDeviceDisplayName ?? null, tokenHash: hashToken(token), ts: now },
      );
      if (!created) {
        if (localpart !== undefined) throw userInUse(); // lost a race for the same name
        if (attempt < 5) continue;
        throw new MatrixError(500, 'M_UNKNOWN', 'Could not allocate a user ID');
      }
      if (req.inhibitLogin) return { user_id: userId, home_server: this.config.server_name };
      this.emit('deviceLoggedIn', userId, deviceId, true, 'register');
      return { user_id: userId, access_token: token, device_id: deviceId, home_server: this.config.server_name };
    }
  }

  /** Creates a user directly (CLI, shared-secret registration, admin API). Throws M_USER_IN_USE. */
  async createUser(opts: { localpart: string; password: string | null; admin: boolean; displayName?: string | null; login?: boolean }): Promise<Partial<LoginResult> & { user_id: string }> {
    const localpart = normaliseNewLocalpart(opts.localpart, this.config.server_name);
    if (opts.password !== null) this.checkPasswordPolicy(opts.password);
    const userId = userIdFor(localpart, this.config.server_name);
    const hash = opts.password !== null ? await hashPassword(opts.password, this.scrypt) : null;
    const now = this.clock.now();
    const created = await this.store.createUser({ userId, localpart, passwordHash: hash, isAdmin: opts.admin, isGuest: false, createdTs: now, displayName: opts.displayName ?? localpart });
    if (!created) throw userInUse();
    if (!opts.login) return { user_id: userId };
    return this.issueLogin(userId, undefined, undefined, 'register');
  }

  // ---- shared-secret registration (Synapse admin API) ----------------------------------------

  /** GET /_synapse/admin/v1/register: a single-use nonce. */
  newRegistrationNonce(): string {
    const now = this.clock.now();
    for (const [n, exp] of this.nonces) if (exp <= now) this.nonces.delete(n);
    const nonce = randomToken(24);
    this.nonces.set(nonce, now + NONCE_LIFETIME_MS);
    return nonce;
  }

  /** POST /_synapse/admin/v1/register: HMAC-SHA1 over nonce\0username\0password\0admin|notadmin[\0user_type]. */
  async sharedSecretRegister(b: { nonce: string; username: string; password: string; admin: boolean; mac: string; displayname?: string; userType?: string }): Promise<LoginResult> {
    const secret = this.config.registration_shared_secret;
    if (!secret) throw new MatrixError(400, 'M_UNKNOWN', 'Shared secret registration is not enabled');
    const exp = this.nonces.get(b.nonce);
    if (exp === undefined || exp <= this.clock.now()) throw new MatrixError(400, 'M_UNKNOWN', 'unrecognised nonce');
    this.nonces.delete(b.nonce); // single use, whatever the outcome
    const hmac = createHmac('sha1', secret);
    hmac.update(b.nonce).update('\x00').update(b.username).update('\x00').update(b.password).update('\x00').update(b.admin ? 'admin' : 'notadmin');
    if (b.userType !== undefined) hmac.update('\x00').update(b.userType);
    const want = hmac.digest();
    const got = /^[0-9a-fA-F]+$/.test(b.mac) ? Buffer.from(b.mac, 'hex') : Buffer.alloc(0);
    if (got.length !== want.length || !timingSafeEqual(got, want)) throw forbidden('HMAC incorrect');
    const result = await this.createUser({ localpart: b.username, password: b.password, admin: b.admin, displayName: b.displayname ?? null, login: true });
    return result as LoginResult;
  }

  // ---- login ---------------------------------------------------------------------------------

  /** Resolves the user named by an m.id.user identifier or the legacy `user` field to a local user ID. */
  private localUserId(user: string): string {
    if (user.startsWith('@')) {
      const parsed = parseUserId(user);
      if (!parsed) throw forbidden('Invalid username or password');
      if (parsed.domain !== this.config.server_name) throw forbidden('Invalid username or password');
      return userIdFor(parsed.localpart.toLowerCase(), this.config.server_name);
    }
    return userIdFor(user.toLowerCase(), this.config.server_name);
  }

  /**
   * m.login.password (matrix-spec: login.yaml#login). Failed attempts are limited per account
   * (`failed_login`), so guessing one account's password is slow from any number of addresses.
   */
  async loginWithPassword(user: string, password: string, deviceId: string | undefined, displayName: string | undefined): Promise<LoginResult> {
    this.checkDeviceId(deviceId);
    const userId = this.localUserId(user);
    this.rateLimiter.assertRoom('failed_login', userId);
    const record = await this.store.getUser(userId);
    // Unknown users cost a hash too, so timing does not tell which user IDs exist.
    const ok = await verifyPassword(password, record?.passwordHash ?? (await this.dummyHash()));
    if (!record || !record.passwordHash || !ok) {
      this.rateLimiter.record('failed_login', userId);
      throw forbidden('Invalid username or password');
    }
    if (record.deactivated) throw userDeactivated();
    if (record.isGuest) throw forbidden('Guest accounts cannot log in with a password');
    return this.issueLogin(userId, deviceId, displayName);
  }

  /** org.matrix.login.jwt: the token's `sub` names the user (localpart or full ID); unknown users are created. */
  async loginWithJwt(token: string, deviceId: string | undefined, displayName: string | undefined): Promise<LoginResult> {
    const cfg = this.config.jwt_login;
    if (!cfg.enabled || !cfg.secret) throw new MatrixError(400, 'M_UNKNOWN', 'JWT login is not enabled');
    this.checkDeviceId(deviceId);
    let key: Uint8Array | Awaited<ReturnType<typeof jose.importSPKI>>;
    try {
      key = cfg.algorithm.startsWith('HS') ? new TextEncoder().encode(cfg.secret) : await jose.importSPKI(cfg.secret, cfg.algorithm);
    } catch {
      throw new MatrixError(500, 'M_UNKNOWN', 'JWT login is misconfigured');
    }
    let sub: string;
    try {
      const { payload } = await jose.jwtVerify(token, key, {
        algorithms: [cfg.algorithm],
        ...(cfg.issuer ? { issuer: cfg.issuer } : {}),
        ...(cfg.audiences.length > 0 ? { audience: cfg.audiences } : {}),
        currentDate: new Date(this.clock.now()),
      });
      if (cfg.audiences.length === 0 && payload.aud !== undefined) throw new Error('unexpected aud claim');
      if (typeof payload.sub !== 'string' || payload.sub.length === 0) throw new Error('missing sub claim');
      sub = payload.sub;
    } catch (e) {
      throw forbidden(`JWT validation failed: ${(e as Error).message}`);
    }
    const userId = this.localUserId(sub);
    const parsed = parseUserId(userId);
    if (!parsed) throw invalidUsername('The JWT subject is not a valid user name');
    const record = await this.store.getUser(userId);
    if (record?.deactivated) throw userDeactivated();
    if (!record) await this.createUser({ localpart: parsed.localpart, password: null, admin: false });
    return this.issueLogin(userId, deviceId, displayName);
  }

  // ---- logout, password, deactivation ---------------------------------------------------------

  /** POST /logout: the device and its token go (matrix-spec: logout.yaml#logout). */
  async logout(auth: AuthContext): Promise<void> {
    const revoked = await this.store.deleteDevices(auth.userId, [auth.deviceId]);
    this.forgetTokens([auth.tokenHash, ...revoked]);
    this.emit('tokensRevoked', auth.userId, [auth.deviceId]);
  }

  /** POST /logout/all (matrix-spec: logout.yaml#logout_all). */
  async logoutAll(auth: AuthContext): Promise<void> {
    const revoked = await this.store.revokeOtherDevices(auth.userId, null, true);
    this.forgetTokens([auth.tokenHash, ...revoked]);
    this.emit('tokensRevoked', auth.userId, 'all-but');
  }

  private passwordCheck = async (a: Record<string, unknown>, userId: string): Promise<boolean> => {
    if (typeof a.password !== 'string') return false;
    // The identifier, if given, must name the authenticated user (identity only from the token).
    const ident = a.identifier as Record<string, unknown> | undefined;
    const named = ident && typeof ident === 'object' ? ident.user : a.user;
    if (named !== undefined) {
      if (typeof named !== 'string') return false;
      let namedId: string;
      try { namedId = this.localUserId(named); } catch { return false; }
      if (namedId !== userId) return false;
    }
    const record = await this.store.getUser(userId);
    return verifyPassword(a.password, record?.passwordHash ?? null);
  };

  /** POST /account/password (matrix-spec: password_management.yaml#changePassword). */
  async changePassword(auth: AuthContext, newPassword: string, logoutDevices: boolean, uiaAuth: unknown): Promise<void> {
    if (auth.isGuest) throw guestAccessForbidden();
    this.checkPasswordPolicy(newPassword);
    await this.uia.authenticate('change-password', uiaAuth, PASSWORD_FLOWS, { userId: auth.userId, checkPassword: this.passwordCheck });
    await this.store.setPasswordHash(auth.userId, await hashPassword(newPassword, this.scrypt));
    if (logoutDevices) {
      const revoked = await this.store.revokeOtherDevices(auth.userId, auth.deviceId, true);
      this.forgetTokens(revoked);
      this.emit('tokensRevoked', auth.userId, 'all-but', auth.deviceId);
    }
    this.emit('passwordChanged', auth.userId);
  }

  /** POST /account/deactivate (matrix-spec: password_management.yaml#deactivateAccount). */
  async deactivate(auth: AuthContext, uiaAuth: unknown): Promise<void> {
    if (auth.isGuest) throw guestAccessForbidden();
    await this.uia.authenticate('deactivate', uiaAuth, PASSWORD_FLOWS, { userId: auth.userId, checkPassword: this.passwordCheck });
    await this.deactivateUser(auth.userId);
  }

  async deactivateUser(userId: string): Promise<void> {
    const revoked = await this.store.deactivateUser(userId);
    this.forgetTokens(revoked);
    this.forgetUser(userId);
    this.emit('tokensRevoked', userId, 'all-but');
    this.emit('userDeactivated', userId);
  }

  /** Revokes every token and device of the user (admin password reset with logout_devices). */
  async revokeAllDevices(userId: string): Promise<void> {
    const revoked = await this.store.revokeOtherDevices(userId, null, true);
    this.forgetTokens(revoked);
    this.emit('tokensRevoked', userId, 'all-but');
  }

  /** Admin API: a deactivated account may log in again (with a password set by the admin). */
  async reactivateUser(userId: string): Promise<void> {
    await this.store.setDeactivated(userId, false);
    this.forgetUser(userId);
  }

  async setAdmin(userId: string, admin: boolean): Promise<void> {
    await this.store.setAdmin(userId, admin);
    this.forgetUser(userId);
  }

  // ---- devices --------------------------------------------------------------------------------

  async listDevices(userId: string): Promise<DeviceRecord[]> {
    return this.store.listDevices(userId);
  }

  async getDevice(userId: string, deviceId: string): Promise<DeviceRecord> {
    const d = await this.store.getDevice(userId, deviceId);
    if (!d) throw notFound('Unknown device');
    return d;
  }

  async renameDevice(userId: string, deviceId: string, displayName: string | null): Promise<void> {
    if (displayName !== null && displayName.length > MAX_DISPLAY_NAME_CHARS) throw invalidParam(`display_name may be at most ${MAX_DISPLAY_NAME_CHARS} characters`);
    if (!(await this.store.setDeviceDisplayName(userId, deviceId, displayName))) throw notFound('Unknown device');
  }

  /** DELETE /devices/{id} and POST /delete_devices: UIA with the password, then devices and tokens go. */
  async deleteDevices(auth: AuthContext, deviceIds: string[], uiaAuth: unknown): Promise<void> {
    if (auth.isGuest) throw guestAccessForbidden();
    await this.uia.authenticate('delete-devices', uiaAuth, PASSWORD_FLOWS, { userId: auth.userId, checkPassword: this.passwordCheck });
    const revoked = await this.store.deleteDevices(auth.userId, deviceIds);
    this.forgetTokens(revoked);
    this.emit('tokensRevoked', auth.userId, deviceIds);
  }

  // ---- profile --------------------------------------------------------------------------------

  async getProfile(userId: string): Promise<Record<string, unknown>> {
    const user = parseUserId(userId);
    if (!user) throw invalidParam('Invalid user ID');
    const record = user.domain === this.config.server_name ? await this.store.getUser(userId) : undefined;
    if (!record) throw notFound('Profile not found');
    return this.store.getProfile(userId);
  }

  async getProfileField(userId: string, field: string): Promise<unknown> {
    const profile = await this.getProfile(userId);
    if (!(field in profile)) throw notFound('Profile field not set');
    return profile[field];
  }

  /** PUT /profile/{userId}/{keyName} (matrix-spec: profile.yaml#setProfileField). */
  async setProfileField(auth: AuthContext, userId: string, field: string, value: unknown): Promise<void> {
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
  }

  async deleteProfileField(auth: AuthContext, userId: string, field: string): Promise<void> {
    if (userId !== auth.userId) throw forbidden('You can only change your own profile');
    if (auth.isGuest && field !== 'displayname') throw guestAccessForbidden('Guests may only change their display name');
    checkProfileKey(field);
    await this.store.deleteProfileField(userId, field);
  }
}

/** Profile keys: avatar_url, displayname, m.tz or a namespaced custom key, at most 255 bytes (profile.yaml#setProfileField). */
const PROFILE_KEY_RE = /^(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$/;
function checkProfileKey(field: string): void {
  if (Buffer.byteLength(field, 'utf8') > 255) throw new MatrixError(400, 'M_KEY_TOO_LARGE', 'Profile key too long');
  if (!PROFILE_KEY_RE.test(field)) throw invalidParam('Profile keys must be avatar_url, displayname, m.tz or namespaced (e.g. com.example.key)');
}
