// Registration tokens (matrix-spec: client-server-api "Token-authenticated registration",
// registration_tokens.yaml; Synapse's registration token admin API, whose shapes the admin endpoints
// keep). A token allows `uses_allowed` registrations (null: unlimited) until `expiry_time` (null:
// never). A use is `pending` from the moment a user-interactive auth session passes the
// m.login.registration_token stage until that registration completes (then `completed` counts it) or
// its session is dropped; pending uses count against `uses_allowed`, so a token is never used more
// often than allowed. Pending uses live with the (in-memory) UIA sessions, so a restart frees them.
import { randomInt } from 'node:crypto';
import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import { badJson, forbidden, invalidParam, MatrixError, notFound } from '../../errors.js';
import type { AdminStore, RegistrationTokenRecord } from '../../storage/types.js';

/** A token in the admin API's shape. */
export interface RegistrationTokenJson {
  token: string;
  uses_allowed: number | null;
  pending: number;
  completed: number;
  expiry_time: number | null;
}

/** registration_tokens.md: at most 64 characters of [A-Za-z0-9._~-] (the spec's opaque identifier grammar). */
const TOKEN_RE = /^[A-Za-z0-9._~-]{1,64}$/;
const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-';

export class RegistrationTokenService {
  /** token -> uses pending in live UIA sessions */
  private readonly pending = new Map<string, number>();

  constructor(
    private readonly config: Config,
    private readonly store: AdminStore,
    private readonly clock: Clock,
    /** Expired UIA sessions give their pending uses back when swept; reads sweep first. */
    private readonly uia: { expire(): void },
  ) {}

  private json(t: RegistrationTokenRecord): RegistrationTokenJson {
    return { token: t.token, uses_allowed: t.usesAllowed, pending: this.pending.get(t.token) ?? 0, completed: t.completed, expiry_time: t.expiryTime };
  }

  private valid(t: RegistrationTokenRecord): boolean {
    if (t.expiryTime !== null && t.expiryTime <= this.clock.now()) return false;
    return t.usesAllowed === null || (this.pending.get(t.token) ?? 0) + t.completed < t.usesAllowed;
  }

  // ---- registration --------------------------------------------------------------------------

  /**
   * GET /_matrix/client/v1/register/m.login.registration_token/validity
   * (matrix-spec: registration_tokens.yaml#registrationTokenValidity): 403 when registration is off.
   */
  async validity(token: string): Promise<boolean> {
    if (!this.config.enable_registration) throw forbidden('Registration is disabled');
    this.uia.expire();
    const t = TOKEN_RE.test(token) ? await this.store.getRegistrationToken(token) : undefined;
    return t !== undefined && this.valid(t);
  }

  /** The m.login.registration_token stage: a valid token gets a pending use; false otherwise. */
  async reserve(token: unknown): Promise<boolean> {
    if (typeof token !== 'string' || !TOKEN_RE.test(token)) return false;
    this.uia.expire();
    const t = await this.store.getRegistrationToken(token);
    if (!t || !this.valid(t)) return false;
    this.pending.set(token, (this.pending.get(token) ?? 0) + 1);
    return true;
  }

  /** A pending use ends without a registration (the UIA session was dropped, or registration failed). */
  release(token: string): void {
    const n = (this.pending.get(token) ?? 0) - 1;
    if (n > 0) this.pending.set(token, n);
    else this.pending.delete(token);
  }

  /** The registration with a pending use completed. */
  async complete(token: string): Promise<void> {
    this.release(token);
    await this.store.completeRegistrationToken(token);
  }

  // ---- admin API -----------------------------------------------------------------------------

  /** GET /_synapse/admin/v1/registration_tokens (`valid`: only valid, or only invalid, tokens). */
  async list(valid?: boolean): Promise<RegistrationTokenJson[]> {
    this.uia.expire();
    const all = await this.store.listRegistrationTokens();
    return all.filter((t) => valid === undefined || this.valid(t) === valid).map((t) => this.json(t));
  }

  async get(token: string): Promise<RegistrationTokenJson> {
    this.uia.expire();
    const t = await this.store.getRegistrationToken(token);
    if (!t) throw notFound(`No such registration token: ${token}`);
    return this.json(t);
  }

  /** POST /_synapse/admin/v1/registration_tokens/new */
  async create(req: { token?: string; usesAllowed?: number | null; expiryTime?: number | null; length?: number }): Promise<RegistrationTokenJson> {
    if (req.token !== undefined && !TOKEN_RE.test(req.token)) throw invalidParam('token must be 1 to 64 characters of A-Z, a-z, 0-9, . _ ~ -');
    if (req.length !== undefined && (!Number.isInteger(req.length) || req.length < 1 || req.length > 64)) throw invalidParam('length must be an integer from 1 to 64');
    this.checkLimits(req);
    const record = (token: string): RegistrationTokenRecord => ({ token, usesAllowed: req.usesAllowed ?? null, completed: 0, expiryTime: req.expiryTime ?? null });
    if (req.token !== undefined) {
      if (!(await this.store.createRegistrationToken(record(req.token), this.clock.now()))) throw new MatrixError(400, 'M_INVALID_PARAM', `Token already exists: ${req.token}`);
      return this.get(req.token);
    }
    for (let attempt = 0; attempt < 10; attempt++) {
      let token = '';
      for (let i = 0; i < (req.length ?? 16); i++) token += TOKEN_ALPHABET[randomInt(TOKEN_ALPHABET.length)];
      if (await this.store.createRegistrationToken(record(token), this.clock.now())) return this.get(token);
    }
    throw new MatrixError(500, 'M_UNKNOWN', 'Could not generate a unique token');
  }

  /** PUT /_synapse/admin/v1/registration_tokens/{token}: the fields given change. */
  async update(token: string, change: { usesAllowed?: number | null; expiryTime?: number | null }): Promise<RegistrationTokenJson> {
    this.checkLimits(change);
    const t = await this.store.updateRegistrationToken(token, change);
    if (!t) throw notFound(`No such registration token: ${token}`);
    return this.json(t);
  }

  async delete(token: string): Promise<void> {
    if (!(await this.store.deleteRegistrationToken(token))) throw notFound(`No such registration token: ${token}`);
  }

  private checkLimits(req: { usesAllowed?: number | null; expiryTime?: number | null }): void {
    if (req.usesAllowed !== undefined && req.usesAllowed !== null && (!Number.isInteger(req.usesAllowed) || req.usesAllowed < 0)) {
      throw invalidParam('uses_allowed must be a non-negative integer or null');
    }
    if (req.expiryTime !== undefined && req.expiryTime !== null) {
      if (!Number.isInteger(req.expiryTime)) throw badJson('expiry_time must be an integer or null');
      if (req.expiryTime < this.clock.now()) throw invalidParam('expiry_time must not be in the past');
    }
  }
}
