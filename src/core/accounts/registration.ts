// Registration (matrix-spec: registration.yaml#register, #checkUsernameAvailability), guests
// (temporary users, GTChat's "temporary" login), users created by the CLI and the admin API, and
// Synapse's shared-secret registration (/_synapse/admin/v1/register).
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import { forbidden, MatrixError, userInUse } from '../../errors.js';
import type { AccountStore } from '../../storage/types.js';
import { generateDeviceId, normaliseNewLocalpart, randomToken, userIdFor } from '../ids.js';
import { DEFAULT_SCRYPT, hashPassword, type ScryptParams } from '../passwords.js';
import type { ReplicaLink } from '../replica.js';
import type { UiaFlow, UiaService } from '../uia.js';
import type { RegistrationTokenService } from './registration-tokens.js';
import type { AccountEvents, LoginResult } from './events.js';
import { checkDeviceId, checkPasswordPolicy } from './policy.js';
import { hashToken, newAccessToken, type TokenService } from './tokens.js';

/**
 * The flows of /register: a dummy stage; with registration_requires_token the registration token
 * stage first (as Synapse), so a token's use is pending from that stage until the registration ends.
 */
const OPEN_FLOWS: UiaFlow[] = [{ stages: ['m.login.dummy'] }];
const TOKEN_FLOWS: UiaFlow[] = [{ stages: ['m.login.registration_token', 'm.login.dummy'] }];

/** A nonce handed out (with its expiry) or used (without), as the other processes of a cluster hear it. */
export interface NonceChange {
  nonce: string;
  expiresTs?: number;
}

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

export interface CreateUserRequest {
  localpart: string;
  password: string | null;
  admin: boolean;
  displayName?: string | null;
  login?: boolean;
}

export class RegistrationService {
  private readonly nonces = new Map<string, number>();

  constructor(
    private readonly config: Config,
    private readonly store: AccountStore,
    private readonly clock: Clock,
    private readonly uia: UiaService,
    private readonly tokens: TokenService,
    private readonly events: AccountEvents,
    private readonly registrationTokens: RegistrationTokenService,
    private readonly scrypt: ScryptParams = DEFAULT_SCRYPT,
  ) {}

  /**
   * Localparts the server keeps: the compat sender (spec/server-events.md: never an account) and the
   * system user that sends the server's own room-graph events (an account the server owns).
   */
  private isReserved(localpart: string): boolean {
    return localpart === this.config.server_events.compat_sender_localpart || localpart === this.config.server_notices.system_user_localpart;
  }

  private refuseReserved(localpart: string): void {
    if (this.isReserved(localpart)) throw userInUse('This user ID is reserved for the server');
  }

  /** GET /register/available: throws M_INVALID_USERNAME or M_USER_IN_USE, else resolves. */
  async checkAvailable(username: string): Promise<void> {
    const localpart = normaliseNewLocalpart(username, this.config.server_name);
    this.refuseReserved(localpart);
    if (await this.store.getUser(userIdFor(localpart, this.config.server_name))) throw userInUse();
  }

  /** POST /register (matrix-spec: registration.yaml#register). */
  async register(req: RegisterRequest): Promise<Partial<LoginResult> & { user_id: string; home_server: string }> {
    if (req.guest) {
      if (!this.config.allow_guest_access) throw forbidden('Guest access is disabled');
    } else if (!this.config.enable_registration) {
      throw forbidden('Registration is disabled');
    }
    checkDeviceId(req.deviceId);
    let localpart: string | undefined;
    if (!req.guest) {
      if (req.username !== undefined) {
        localpart = normaliseNewLocalpart(req.username, this.config.server_name);
        this.refuseReserved(localpart);
        if (await this.store.getUser(userIdFor(localpart, this.config.server_name))) throw userInUse();
      }
      if (req.password === undefined) {
        // The password may come with a later UIA step; without one a full account is never created.
        if (req.auth !== undefined) throw new MatrixError(400, 'M_MISSING_PARAM', 'password is required');
      } else {
        checkPasswordPolicy(this.config, req.password);
      }
      const flows = this.config.registration_requires_token ? TOKEN_FLOWS : OPEN_FLOWS;
      const done = await this.uia.authenticate('register', req.auth, flows, { userId: null, registrationTokens: this.registrationTokens });
      // The flow is complete: a token's pending use is completed with the account, or given back.
      const token = done.registrationToken;
      try {
        if (req.password === undefined) throw new MatrixError(400, 'M_MISSING_PARAM', 'password is required');
        const result = await this.createRegistered(req, localpart);
        if (token !== undefined) await this.registrationTokens.complete(token);
        return result;
      } catch (e) {
        if (token !== undefined) this.registrationTokens.release(token);
        throw e;
      }
    }
    return this.createRegistered(req, localpart);
  }

  /** Creates the account of a registration that passed its checks (and, unless inhibited, logs it in). */
  private async createRegistered(req: RegisterRequest, localpart: string | undefined): Promise<Partial<LoginResult> & { user_id: string; home_server: string }> {
    const passwordHash = req.password !== undefined && !req.guest ? await hashPassword(req.password, this.scrypt) : null;

    for (let attempt = 0; ; attempt++) {
      // Guests get numeric localparts (reserved for them); others a random one when they name none.
      const lp = localpart ?? (req.guest ? String(await this.store.nextCounter('guest_localpart')) : `u${randomToken(6).toLowerCase().replace(/[^a-z0-9]/g, '')}`);
      if (this.isReserved(lp)) continue;
      const userId = userIdFor(lp, this.config.server_name);
      const deviceId = req.deviceId ?? generateDeviceId();
      const token = newAccessToken();
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
      this.events.emit('deviceLoggedIn', userId, deviceId, true, 'register');
      return { user_id: userId, access_token: token, device_id: deviceId, home_server: this.config.server_name };
    }
  }

  /** Creates a user directly (CLI, shared-secret registration, admin API, JWT login). Throws M_USER_IN_USE. */
  async createUser(opts: CreateUserRequest): Promise<Partial<LoginResult> & { user_id: string }> {
    const localpart = normaliseNewLocalpart(opts.localpart, this.config.server_name);
    this.refuseReserved(localpart);
    if (opts.password !== null) checkPasswordPolicy(this.config, opts.password);
    const userId = userIdFor(localpart, this.config.server_name);
    const hash = opts.password !== null ? await hashPassword(opts.password, this.scrypt) : null;
    const now = this.clock.now();
    const created = await this.store.createUser({ userId, localpart, passwordHash: hash, isAdmin: opts.admin, isGuest: false, createdTs: now, displayName: opts.displayName ?? localpart });
    if (!created) throw userInUse();
    if (!opts.login) return { user_id: userId };
    return this.tokens.issueLogin(userId, undefined, undefined, 'register');
  }

  private nonceLink: ReplicaLink<NonceChange> | undefined;

  /**
   * Several processes (spec/scaling.md): a nonce handed out by one process is known to all (synadm's
   * POST may reach another process than its GET), and a use anywhere ends it everywhere.
   */
  share(link: ReplicaLink<NonceChange>): void {
    this.nonceLink = link;
    link.onReceive((c) => {
      if (c.expiresTs === undefined) this.nonces.delete(c.nonce);
      else this.nonces.set(c.nonce, c.expiresTs);
    });
  }

  /** GET /_synapse/admin/v1/register: a single-use nonce. */
  newRegistrationNonce(): string {
    const now = this.clock.now();
    for (const [n, exp] of this.nonces) if (exp <= now) this.nonces.delete(n);
    const nonce = randomToken(24);
    this.nonces.set(nonce, now + NONCE_LIFETIME_MS);
    this.nonceLink?.send({ nonce, expiresTs: now + NONCE_LIFETIME_MS });
    return nonce;
  }

  /** POST /_synapse/admin/v1/register: HMAC-SHA1 over nonce\0username\0password\0admin|notadmin[\0user_type]. */
  async sharedSecretRegister(b: { nonce: string; username: string; password: string; admin: boolean; mac: string; displayname?: string; userType?: string }): Promise<LoginResult> {
    const secret = this.config.registration_shared_secret;
    if (!secret) throw new MatrixError(400, 'M_UNKNOWN', 'Shared secret registration is not enabled');
    const exp = this.nonces.get(b.nonce);
    if (exp === undefined || exp <= this.clock.now()) throw new MatrixError(400, 'M_UNKNOWN', 'unrecognised nonce');
    this.nonces.delete(b.nonce); // single use, whatever the outcome
    this.nonceLink?.send({ nonce: b.nonce });
    const hmac = createHmac('sha1', secret);
    hmac.update(b.nonce).update('\x00').update(b.username).update('\x00').update(b.password).update('\x00').update(b.admin ? 'admin' : 'notadmin');
    if (b.userType !== undefined) hmac.update('\x00').update(b.userType);
    const want = hmac.digest();
    const got = /^[0-9a-fA-F]+$/.test(b.mac) ? Buffer.from(b.mac, 'hex') : Buffer.alloc(0);
    if (got.length !== want.length || !timingSafeEqual(got, want)) throw forbidden('HMAC incorrect');
    const result = await this.createUser({ localpart: b.username, password: b.password, admin: b.admin, displayName: b.displayname ?? null, login: true });
    return result as LoginResult;
  }
}
