// Shapes of the end-to-end encryption key objects (matrix-spec: definitions/device_keys.yaml,
// cross_signing_key.yaml, one_time_keys.yaml) and the comparisons and signature checks on them
// (appendices "Signing JSON"). Parsing throws 400 M_BAD_JSON / M_INVALID_PARAM naming the field.
import { badJson, invalidParam } from '../../errors.js';
import type { JsonObject, JsonValue } from '../../wire.js';
import { decodeBase64 } from '../crypto/base64.js';
import { canonicalJson } from '../crypto/canonical-json.js';
import { verifyJsonSignature } from '../crypto/signing.js';
import type { CrossSigningUsage, OneTimeKeyRecord } from '../../storage/e2ee-types.js';

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

export function requireObject(v: unknown, what: string): JsonObject {
  if (!isObject(v)) throw badJson(`${what} must be an object`);
  return v;
}

/** Canonical JSON of a key object without `signatures` and `unsigned` (what its signatures cover). */
export function signedContent(obj: JsonObject): string {
  const { signatures: _s, unsigned: _u, ...rest } = obj;
  try {
    return canonicalJson(rest);
  } catch (e) {
    throw badJson(`Key object is not canonical JSON: ${(e as Error).message}`);
  }
}

/** The same object apart from its signatures (and unsigned data). */
export const sameSignedContent = (a: JsonObject, b: JsonObject): boolean => signedContent(a) === signedContent(b);

export function canonical(obj: JsonObject): string {
  try {
    return canonicalJson(obj);
  } catch (e) {
    throw badJson(`Key object is not canonical JSON: ${(e as Error).message}`);
  }
}

/** The signatures an object carries, as a map user -> key ID -> signature (malformed entries dropped). */
export function signaturesOf(obj: JsonObject): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  const sigs = obj.signatures;
  if (!isObject(sigs)) return out;
  for (const [user, byKey] of Object.entries(sigs)) {
    if (!isObject(byKey)) continue;
    for (const [keyId, sig] of Object.entries(byKey)) if (typeof sig === 'string') (out[user] ??= {})[keyId] = sig;
  }
  return out;
}

/** Whether `obj` carries a valid signature by `userId`'s ed25519 key `publicKey` under key ID `keyId`. */
export const hasValidSignature = (obj: JsonObject, userId: string, keyId: string, publicKey: string): boolean =>
  verifyJsonSignature(obj, userId, keyId, publicKey);

/** An unpadded base64 ed25519 public key (32 bytes). */
export function isEd25519PublicKey(s: string): boolean {
  try {
    return decodeBase64(s).length === 32;
  } catch {
    return false;
  }
}

/**
 * Device keys from /keys/upload (definitions/device_keys.yaml): for the token's user and device,
 * with the device's ed25519 key, signed by it. Returns the object without `unsigned`.
 */
export function parseDeviceKeys(v: unknown, userId: string, deviceId: string): { keys: JsonObject; ed25519: string } {
  const o = requireObject(v, 'device_keys');
  if (o.user_id !== userId) throw invalidParam('device_keys.user_id must be your user ID');
  if (o.device_id !== deviceId) throw invalidParam('device_keys.device_id must be the device of your access token');
  if (!Array.isArray(o.algorithms) || !o.algorithms.every((a) => typeof a === 'string')) throw badJson('device_keys.algorithms must be a list of strings');
  const keys = o.keys;
  if (!isObject(keys) || !Object.values(keys).every((k) => typeof k === 'string')) throw badJson('device_keys.keys must map key IDs to strings');
  if (!isObject(o.signatures)) throw badJson('device_keys.signatures must be an object');
  const ed25519 = keys[`ed25519:${deviceId}`];
  if (typeof ed25519 !== 'string' || !isEd25519PublicKey(ed25519)) throw badJson(`device_keys.keys must hold the device's key ed25519:${deviceId}`);
  const { unsigned: _unsigned, ...stored } = o;
  return { keys: stored, ed25519 };
}

/** `<algorithm>:<key_id>` -> key maps of one_time_keys and fallback_keys. */
export function parseOneTimeKeys(v: unknown, field: string): OneTimeKeyRecord[] {
  if (v === undefined || v === null) return [];
  const o = requireObject(v, field);
  const out: OneTimeKeyRecord[] = [];
  for (const [id, key] of Object.entries(o)) {
    const colon = id.indexOf(':');
    if (colon <= 0 || colon === id.length - 1) throw badJson(`${field}: key IDs are <algorithm>:<key_id> (got ${JSON.stringify(id)})`);
    if (typeof key !== 'string' && !(isObject(key) && typeof key.key === 'string')) throw badJson(`${field}.${id} must be a string or an object with a key`);
    out.push({ algorithm: id.slice(0, colon), keyId: id.slice(colon + 1), key: key as JsonValue });
  }
  return out;
}

export const CROSS_SIGNING_FIELDS: Record<CrossSigningUsage, string> = {
  master: 'master_key', self_signing: 'self_signing_key', user_signing: 'user_signing_key',
};

/**
 * A cross-signing key (definitions/cross_signing_key.yaml) of `userId` with usage `usage`: exactly one
 * ed25519 key whose ID names the public key. Returns the public key.
 */
export function parseCrossSigningKey(v: unknown, userId: string, usage: CrossSigningUsage): { key: JsonObject; publicKey: string } {
  const field = CROSS_SIGNING_FIELDS[usage];
  const o = requireObject(v, field);
  if (o.user_id !== userId) throw invalidParam(`${field}.user_id must be your user ID`);
  if (!Array.isArray(o.usage) || !o.usage.includes(usage)) throw badJson(`${field}.usage must include ${usage}`);
  const keys = o.keys;
  if (!isObject(keys) || Object.keys(keys).length !== 1) throw badJson(`${field}.keys must hold exactly one key`);
  const [keyId, publicKey] = Object.entries(keys)[0]!;
  if (typeof publicKey !== 'string' || keyId !== `ed25519:${publicKey}` || !isEd25519PublicKey(publicKey)) {
    throw badJson(`${field}.keys must be {"ed25519:<public key>": "<public key>"}`);
  }
  if (o.signatures !== undefined && !isObject(o.signatures)) throw badJson(`${field}.signatures must be an object`);
  const { unsigned: _unsigned, ...stored } = o;
  return { key: stored, publicKey };
}

/** Adds signatures to a key object (a copy). */
export function withSignatures(obj: JsonObject, extra: { userId: string; keyId: string; signature: string }[]): JsonObject {
  if (extra.length === 0) return obj;
  const sigs: Record<string, Record<string, string>> = signaturesOf(obj);
  for (const e of extra) (sigs[e.userId] ??= {})[e.keyId] = e.signature;
  return { ...obj, signatures: sigs };
}
