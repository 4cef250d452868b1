// Logging in (matrix-spec: login.yaml#login): m.login.password and org.matrix.login.jwt. Every
// login creates a new token (httpkom's "Proposal B": never hand over another client's login).
import * as jose from 'jose';
import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import { forbidden, invalidUsername, MatrixError, userDeactivated } from '../../errors.js';
import type { AccountStore } from '../../storage/types.js';
import { parseUserId, randomToken } from '../ids.js';
import { DEFAULT_SCRYPT, hashPassword, verifyPassword, type ScryptParams } from '../passwords.js';
import type { RateLimiter } from '../ratelimit.js';
import type { LoginResult } from './events.js';
import { checkDeviceId, localUserId } from './policy.js';
import type { RegistrationService } from './registration.js';
import type { TokenService } from './tokens.js';

export class LoginService {
  private dummy: Promise<string> | undefined;

  constructor(
    private readonly config: Config,
    private readonly store: AccountStore,
    private readonly clock: Clock,
    private readonly rateLimiter: RateLimiter,
    private readonly tokens: TokenService,
    private readonly registration: RegistrationService,
    private readonly scrypt: ScryptParams = DEFAULT_SCRYPT,
  ) {}

  private dummyHash(): Promise<string> {
    this.dummy ??= hashPassword(randomToken(16), this.scrypt);
    return this.dummy;
  }

  /**
   * m.login.password. Failed attempts are limited per account (`failed_login`), so guessing one
   * account's password is slow from any number of addresses.
   */
  async withPassword(user: string, password: string, deviceId: string | undefined, displayName: string | undefined): Promise<LoginResult> {
    checkDeviceId(deviceId);
    const userId = localUserId(this.config, user);
    await this.rateLimiter.assertRoom('failed_login', userId);
    const record = await this.store.getUser(userId);
    // Unknown users cost a hash too, so timing does not tell which user IDs exist.
    const ok = await verifyPassword(password, record?.passwordHash ?? (await this.dummyHash()));
    if (!record || !record.passwordHash || !ok) {
      await this.rateLimiter.record('failed_login', userId);
      throw forbidden('Invalid username or password');
    }
    if (record.deactivated) throw userDeactivated();
    if (record.isGuest) throw forbidden('Guest accounts cannot log in with a password');
    return this.tokens.issueLogin(userId, deviceId, displayName);
  }

  /** org.matrix.login.jwt: the token's `sub` names the user (localpart or full ID); unknown users are created. */
  async withJwt(token: string, deviceId: string | undefined, displayName: string | undefined): Promise<LoginResult> {
    const cfg = this.config.jwt_login;
    if (!cfg.enabled || !cfg.secret) throw new MatrixError(400, 'M_UNKNOWN', 'JWT login is not enabled');
    checkDeviceId(deviceId);
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
    const userId = localUserId(this.config, sub);
    const parsed = parseUserId(userId);
    if (!parsed) throw invalidUsername('The JWT subject is not a valid user name');
    const record = await this.store.getUser(userId);
    if (record?.deactivated) throw userDeactivated();
    if (!record) await this.registration.createUser({ localpart: parsed.localpart, password: null, admin: false });
    return this.tokens.issueLogin(userId, deviceId, displayName);
  }
}
