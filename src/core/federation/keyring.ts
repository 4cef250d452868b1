// Other servers' signing keys (matrix-spec: server-server-api "Retrieving server keys";
// server-server/keys_server.yaml, keys_query.yaml; rooms/v5 "Signing key validity period"), and the
// one place a signature of another server is checked: request authentication, event signatures and
// notary answers all go through KeyRing.verifyJsonSignedBy.
//
// Keys come from the server itself (`GET /_matrix/key/v2/server`, its self-signature checked, its
// `server_name` matching), are kept in storage and in memory, and are fetched again when a signature
// names a key that is not known or not valid until the time asked for (at most once a minute per
// server). A current key is valid until the lesser of its `valid_until_ts` and 7 days after it was
// fetched; a key from `old_verify_keys` until its `expired_ts`, and only for events.
import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import { MatrixError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { FederationStore, StoredKeyResponse, StoredServerKey } from '../../storage/federation-types.js';
import { decodeBase64 } from '../crypto/base64.js';
import { canonicalJson } from '../crypto/canonical-json.js';
import { signJson, verifyJsonSignature, type SigningKey } from '../crypto/signing.js';

/** How long this server's own key answer says its keys are valid (others cache it for that long). */
export const KEY_VALIDITY_MS = 24 * 60 * 60 * 1000;
/** The longest a key is trusted past its fetch, whatever valid_until_ts says (rooms/v5). */
export const MAX_KEY_VALIDITY_MS = 7 * 24 * 60 * 60 * 1000;

const KEY_ID_RE = /^ed25519:[A-Za-z0-9_]+$/;

/** This server's `/_matrix/key/v2/server` answer, self-signed (server-server/keys_server.yaml#getServerKey). */
export function ownKeyResponse(serverName: string, key: SigningKey, now: number): Record<string, unknown> {
  return signJson({
    server_name: serverName,
    verify_keys: { [key.keyId]: { key: key.publicKeyBase64 } },
    old_verify_keys: {},
    valid_until_ts: now + KEY_VALIDITY_MS,
  }, serverName, key);
}

/** A signature that does not verify, or that no known key can check: 401 M_UNAUTHORIZED. */
export class SignatureError extends MatrixError {
  constructor(message: string) {
    super(401, 'M_UNAUTHORIZED', message);
    this.name = 'SignatureError';
  }
}

/** Why a key answer was refused. */
export class KeyResponseError extends Error {
  constructor(readonly serverName: string, message: string) {
    super(`Key answer of ${serverName}: ${message}`);
    this.name = 'KeyResponseError';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks a `/_matrix/key/v2/server` answer claimed to be `serverName`'s and returns the keys it
 * lists: `server_name` must be that name, `valid_until_ts` an integer, the ed25519 keys 32 bytes of
 * base64, and every signature of `serverName` made with one of its `verify_keys` must verify (at
 * least one). Keys of other algorithms are skipped.
 */
export function checkKeyResponse(json: unknown, serverName: string, now: number): StoredServerKey[] {
  const fail = (m: string): never => {
    throw new KeyResponseError(serverName, m);
  };
  if (!isObject(json)) fail('not a JSON object');
  const r = json as Record<string, unknown>;
  if (r.server_name !== serverName) fail(`server_name is ${JSON.stringify(r.server_name)}`);
  const validUntil = r.valid_until_ts;
  if (typeof validUntil !== 'number' || !Number.isSafeInteger(validUntil)) fail('valid_until_ts is not an integer');
  if (!isObject(r.verify_keys)) fail('verify_keys is not an object');
  const publicKey = (id: string, v: unknown): string | undefined => {
    if (!KEY_ID_RE.test(id)) return undefined;
    if (!isObject(v) || typeof v.key !== 'string') return fail(`${id} has no key`);
    let raw: Buffer;
    try {
      raw = decodeBase64(v.key as string);
    } catch {
      return fail(`${id} is not base64`);
    }
    if (raw.length !== 32) fail(`${id} is not a 32-byte ed25519 key`);
    return v.key as string;
  };
  const keys: StoredServerKey[] = [];
  const current = new Map<string, string>();
  for (const [id, v] of Object.entries(r.verify_keys as Record<string, unknown>)) {
    const key = publicKey(id, v);
    if (key === undefined) continue;
    current.set(id, key);
    keys.push({ serverName, keyId: id, publicKey: key, validUntilTs: Math.min(validUntil as number, now + MAX_KEY_VALIDITY_MS), expiredTs: null, fetchedTs: now });
  }
  if (current.size === 0) fail('no ed25519 key in verify_keys');
  if (r.old_verify_keys !== undefined) {
    if (!isObject(r.old_verify_keys)) fail('old_verify_keys is not an object');
    for (const [id, v] of Object.entries(r.old_verify_keys as Record<string, unknown>)) {
      if (current.has(id)) continue;
      const key = publicKey(id, v);
      if (key === undefined) continue;
      const expired = (v as Record<string, unknown>).expired_ts;
      if (typeof expired !== 'number' || !Number.isSafeInteger(expired)) fail(`${id} has no expired_ts`);
      keys.push({ serverName, keyId: id, publicKey: key, validUntilTs: expired as number, expiredTs: expired as number, fetchedTs: now });
    }
  }
  const signatures = isObject(r.signatures) ? r.signatures[serverName] : undefined;
  if (!isObject(signatures)) fail('not signed by the server');
  let verified = 0;
  for (const id of Object.keys(signatures as Record<string, unknown>)) {
    const key = current.get(id);
    if (key === undefined) continue; // a key it does not list (a notary's own, say) proves nothing here
    if (!verifyJsonSignature(r, serverName, id, key)) fail(`the signature with ${id} does not verify`);
    verified++;
  }
  if (verified === 0) fail('not signed with any of its verify_keys');
  return keys;
}

/** Fetches a server's own key answer (`GET /_matrix/key/v2/server` on that server). */
export type ServerKeyFetcher = (serverName: string) => Promise<unknown>;

export interface KeyRingOptions {
  /** A server's keys are fetched at most once per this interval (ms), whatever asks for them. */
  refetchIntervalMs?: number;
}

export interface VerifyOptions {
  /** Only keys from `verify_keys` (request authentication); `old_verify_keys` verify events only. */
  currentKeysOnly?: boolean;
}

export class KeyRing {
  private readonly memory = new Map<string, Map<string, StoredServerKey>>();
  private readonly lastFetch = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly refetchIntervalMs: number;

  constructor(
    private readonly config: Pick<Config, 'server_name'>,
    private readonly store: FederationStore,
    private readonly clock: Clock,
    private readonly ownKey: () => Promise<SigningKey>,
    private readonly fetcher: ServerKeyFetcher,
    private readonly logger: Logger,
    opts: KeyRingOptions = {},
  ) {
    this.refetchIntervalMs = opts.refetchIntervalMs ?? 60_000;
  }

  /**
   * Checks that `obj` carries a valid signature of `serverName` (appendices "Checking for a
   * Signature") made with a key valid until at least `minimumValidUntilTs`: every signature made
   * with such a key must verify, and there must be at least one. Signatures with unknown keys, or
   * keys known to have expired before that time, are ignored (server-server-api "Validating hashes
   * and signatures on received events"). Throws SignatureError.
   */
  async verifyJsonSignedBy(obj: object, serverName: string, minimumValidUntilTs: number, opts: VerifyOptions = {}): Promise<void> {
    const signatures = (obj as { signatures?: unknown }).signatures;
    const mine = isObject(signatures) ? signatures[serverName] : undefined;
    const keyIds = isObject(mine) ? Object.keys(mine).filter((id) => id.startsWith('ed25519:')) : [];
    if (keyIds.length === 0) throw new SignatureError(`Not signed by ${serverName}`);
    const keys = await this.keysFor(serverName, keyIds, minimumValidUntilTs);
    let verified = 0;
    for (const id of keyIds) {
      const key = keys.get(id);
      if (!key || key.validUntilTs < minimumValidUntilTs || (opts.currentKeysOnly && key.expiredTs !== null)) continue;
      if (!verifyJsonSignature(obj, serverName, id, key.publicKey)) throw new SignatureError(`The signature of ${serverName} with ${id} does not verify`);
      verified++;
    }
    if (verified === 0) throw new SignatureError(`No key of ${serverName} valid at ${minimumValidUntilTs} to check its signature with (${keyIds.join(', ')})`);
  }

  /**
   * The keys of `serverName` with these IDs that are known (from memory or storage), after fetching
   * the server's keys again when one is missing or not valid until `minimumValidUntilTs` (at most
   * once per refetch interval; a failed fetch is logged and what is known is returned).
   */
  async keysFor(serverName: string, keyIds: string[], minimumValidUntilTs: number): Promise<Map<string, StoredServerKey>> {
    if (serverName === this.config.server_name) {
      const own = await this.ownKey();
      const key: StoredServerKey = { serverName, keyId: own.keyId, publicKey: own.publicKeyBase64, validUntilTs: Number.MAX_SAFE_INTEGER, expiredTs: null, fetchedTs: 0 };
      return new Map([[own.keyId, key]]);
    }
    let known = await this.known(serverName);
    const stale = keyIds.some((id) => (known.get(id)?.validUntilTs ?? -Infinity) < minimumValidUntilTs);
    if (stale && this.mayFetch(serverName)) {
      try {
        await this.refresh(serverName);
      } catch (e) {
        this.logger.warn({ server: serverName, err: (e as Error).message }, 'could not fetch the server keys');
      }
      known = await this.known(serverName);
    }
    return new Map(keyIds.flatMap((id) => (known.has(id) ? [[id, known.get(id)!] as const] : [])));
  }

  /**
   * Fetches `serverName`'s keys now (one fetch at a time per server), checks and stores them.
   * Throws when the server cannot be reached or its answer is refused.
   */
  refresh(serverName: string): Promise<void> {
    const running = this.inFlight.get(serverName);
    if (running) return running;
    this.lastFetch.set(serverName, this.clock.now());
    const p = (async () => {
      const json = await this.fetcher(serverName);
      const now = this.clock.now();
      const keys = checkKeyResponse(json, serverName, now);
      const response: StoredKeyResponse = { json: canonicalJson(json), validUntilTs: (json as { valid_until_ts: number }).valid_until_ts, fetchedTs: now };
      await this.store.storeServerKeys(serverName, response, keys);
      const map = await this.known(serverName);
      for (const k of keys) map.set(k.keyId, k);
      this.logger.debug({ server: serverName, keys: keys.map((k) => k.keyId) }, 'fetched server keys');
    })().finally(() => this.inFlight.delete(serverName));
    this.inFlight.set(serverName, p);
    return p;
  }

  /**
   * A key answer for the notary endpoints (server-server/keys_query.yaml): this server's own, or
   * the last answer received from `serverName`, fetched again first when it is not valid until
   * `minimumValidUntilTs` or is past half its lifetime (when `mayFetch` allows), and served even if
   * stale when the server cannot be reached; each signed by this server. `keyIds` asked for and not
   * in the cached answer also make it fetch again. Undefined when nothing is known.
   */
  async notaryResponse(serverName: string, minimumValidUntilTs: number, mayFetch: boolean, keyIds: string[] = []): Promise<Record<string, unknown> | undefined> {
    const key = await this.ownKey();
    const now = this.clock.now();
    if (serverName === this.config.server_name) return ownKeyResponse(serverName, key, now);
    let stored = await this.store.getServerKeyResponse(serverName);
    const halfLife = stored ? stored.fetchedTs + (stored.validUntilTs - stored.fetchedTs) / 2 : 0;
    const missing = stored !== undefined && keyIds.length > 0 && !keyIds.every((id) => {
      const r = JSON.parse(stored!.json) as { verify_keys?: Record<string, unknown>; old_verify_keys?: Record<string, unknown> };
      return (r.verify_keys && id in r.verify_keys) || (r.old_verify_keys && id in r.old_verify_keys);
    });
    if (mayFetch && (!stored || missing || stored.validUntilTs < minimumValidUntilTs || now > halfLife) && this.mayFetch(serverName)) {
      try {
        await this.refresh(serverName);
        stored = await this.store.getServerKeyResponse(serverName);
      } catch (e) {
        this.logger.info({ server: serverName, err: (e as Error).message }, 'notary: could not fetch the server keys, serving what is cached');
      }
    }
    if (!stored) return undefined;
    return signJson(JSON.parse(stored.json) as Record<string, unknown>, this.config.server_name, key);
  }

  private mayFetch(serverName: string): boolean {
    if (this.inFlight.has(serverName)) return true;
    const last = this.lastFetch.get(serverName);
    return last === undefined || this.clock.now() - last >= this.refetchIntervalMs;
  }

  private async known(serverName: string): Promise<Map<string, StoredServerKey>> {
    let map = this.memory.get(serverName);
    if (!map) {
      const stored = await this.store.getServerKeys(serverName);
      map = this.memory.get(serverName) ?? new Map(stored.map((k) => [k.keyId, k]));
      if (this.memory.size >= 10_000) this.memory.clear();
      this.memory.set(serverName, map);
    }
    return map;
  }
}
