// Real ed25519 keys for end-to-end encryption API tests: device keys signed by the device, one-time
// keys, and cross-signing keys signed by the master key, as a client would upload them.
import { randomBytes } from 'node:crypto';
import { SigningKey, signJson } from '../../src/core/crypto/signing.js';
import type { JsonObject } from '../../src/wire.js';

/** A fresh ed25519 key whose key ID is `ed25519:<name>`; `name` undefined: the public key itself. */
export function ed25519(name?: string): SigningKey {
  const seed = randomBytes(32);
  const probe = SigningKey.fromSeed('ed25519:probe', seed);
  return SigningKey.fromSeed(`ed25519:${name ?? probe.publicKeyBase64}`, seed);
}

export interface TestDevice {
  userId: string;
  deviceId: string;
  key: SigningKey;
  /** The signed device_keys object of /keys/upload. */
  deviceKeys: JsonObject;
}

export function testDevice(userId: string, deviceId: string): TestDevice {
  const key = ed25519(deviceId);
  const deviceKeys = signJson({
    user_id: userId,
    device_id: deviceId,
    algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
    keys: { [`curve25519:${deviceId}`]: randomBytes(32).toString('base64').replace(/=+$/, ''), [`ed25519:${deviceId}`]: key.publicKeyBase64 },
  }, userId, key) as unknown as JsonObject;
  return { userId, deviceId, key, deviceKeys };
}

/** `count` signed_curve25519 one-time keys signed by the device, IDs `<prefix>1`, `<prefix>2`, ... */
export function oneTimeKeys(d: TestDevice, count: number, prefix = 'AAAA', extra: JsonObject = {}): JsonObject {
  const out: JsonObject = {};
  for (let i = 1; i <= count; i++) {
    out[`signed_curve25519:${prefix}${i}`] = signJson({ key: randomBytes(32).toString('base64').replace(/=+$/, ''), ...extra }, d.userId, d.key) as unknown as JsonObject;
  }
  return out;
}

export interface CrossSigning {
  master: SigningKey;
  selfSigning: SigningKey;
  userSigning: SigningKey;
  /** The body of /keys/device_signing/upload (without auth). */
  body: { master_key: JsonObject; self_signing_key: JsonObject; user_signing_key: JsonObject };
}

export function crossSigningKey(userId: string, usage: string, key: SigningKey, signer?: SigningKey): JsonObject {
  const obj = { user_id: userId, usage: [usage], keys: { [key.keyId]: key.publicKeyBase64 } };
  return (signer ? signJson(obj, userId, signer) : obj) as unknown as JsonObject;
}

export function testCrossSigning(userId: string): CrossSigning {
  const master = ed25519();
  const selfSigning = ed25519();
  const userSigning = ed25519();
  return {
    master, selfSigning, userSigning,
    body: {
      master_key: crossSigningKey(userId, 'master', master),
      self_signing_key: crossSigningKey(userId, 'self_signing', selfSigning, master),
      user_signing_key: crossSigningKey(userId, 'user_signing', userSigning, master),
    },
  };
}

/** `obj` with one more signature, by `key` in the name of `userId`. */
export const signedBy = (obj: JsonObject, userId: string, key: SigningKey): JsonObject => signJson(obj, userId, key) as unknown as JsonObject;
