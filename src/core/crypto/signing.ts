// ed25519 signing keys and signed JSON (matrix-spec: content/appendices.md "Signing JSON",
// "Signing Details", "Checking for a Signature").
import { createPrivateKey, createPublicKey, randomBytes, randomInt, sign, verify, type KeyObject } from 'node:crypto';
import { decodeBase64, encodeBase64 } from './base64.js';
import { canonicalJsonBytes } from './canonical-json.js';

export type Signatures = Record<string, Record<string, string>>;

// DER framing of a raw 32-byte ed25519 seed as PKCS#8, and of a raw public key as SPKI (RFC 8410).
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const KEY_VERSION_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export class SigningKey {
  private constructor(
    /** Signing key identifier: algorithm and version, e.g. `ed25519:a_bcDE` ("Signing Details"). */
    readonly keyId: string,
    private readonly seed: Buffer,
    private readonly privateKey: KeyObject,
    /** Unpadded base64 of the raw 32-byte public key, as published in `verify_keys`. */
    readonly publicKeyBase64: string,
  ) {}

  static fromSeed(keyId: string, seed: Uint8Array): SigningKey {
    if (!keyId.startsWith('ed25519:')) throw new Error(`Unsupported signing key algorithm: ${keyId}`);
    if (seed.length !== 32) throw new Error('An ed25519 seed is 32 bytes');
    const seedCopy = Buffer.from(seed);
    const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seedCopy]), format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    return new SigningKey(keyId, seedCopy, privateKey, encodeBase64(spki.subarray(SPKI_ED25519_PREFIX.length)));
  }

  /** A fresh key with id `ed25519:` + 6 random alphanumeric characters. */
  static generate(): SigningKey {
    let version = '';
    for (let i = 0; i < 6; i++) version += KEY_VERSION_CHARS[randomInt(KEY_VERSION_CHARS.length)];
    return SigningKey.fromSeed(`ed25519:${version}`, randomBytes(32));
  }

  /** Unpadded base64 of the 32-byte seed (what gets stored in the key file). */
  get seedBase64(): string {
    return encodeBase64(this.seed);
  }

  /** Unpadded base64 of the 64-byte ed25519 signature over `bytes`. */
  sign(bytes: Uint8Array): string {
    return encodeBase64(sign(null, bytes, this.privateKey));
  }

  /** `sign` on libuv's thread pool (node:crypto's callback form): the same signature, off the event loop. */
  signAsync(bytes: Uint8Array): Promise<string> {
    return new Promise((resolve, reject) => {
      sign(null, bytes, this.privateKey, (err, signature) => {
        if (err) reject(err);
        else resolve(encodeBase64(signature));
      });
    });
  }
}

/** Checks an ed25519 signature; false (never a throw) for malformed keys or signatures. */
export function verifySignatureBytes(publicKeyBase64: string, bytes: Uint8Array, sigBase64: string): boolean {
  try {
    const raw = decodeBase64(publicKeyBase64);
    const signature = decodeBase64(sigBase64);
    if (raw.length !== 32 || signature.length !== 64) return false;
    const publicKey = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
    return verify(null, bytes, publicKey, signature);
  } catch {
    return false;
  }
}

/** The object without `signatures` and `unsigned`: what a signature covers ("Signing Details"). */
function signedPart(obj: object): Record<string, unknown> {
  const { signatures: _signatures, unsigned: _unsigned, ...rest } = obj as Record<string, unknown>;
  return rest;
}

/**
 * Signs `obj` as `signingName` (appendices "Signing Details"): the canonical JSON of the object without
 * `signatures` and `unsigned` is signed and the signature is merged into a copy of the existing
 * `signatures`; `unsigned` is kept. The input is not modified.
 */
export function signJson<T extends object>(obj: T, signingName: string, key: SigningKey): T & { signatures: Signatures } {
  const existing = ((obj as { signatures?: Signatures }).signatures ?? {}) as Signatures;
  const signature = key.sign(canonicalJsonBytes(signedPart(obj)));
  const signatures: Signatures = { ...existing, [signingName]: { ...existing[signingName], [key.keyId]: signature } };
  return { ...obj, signatures };
}

/**
 * Whether `obj` carries a valid signature from `signingName` with `keyId`, checked against the given
 * public key (appendices "Checking for a Signature", steps 1 and 4-7; looking the key up is the caller's).
 */
export function verifyJsonSignature(obj: object, signingName: string, keyId: string, publicKeyBase64: string): boolean {
  const signature = (obj as { signatures?: Record<string, Record<string, unknown> | undefined> }).signatures?.[signingName]?.[keyId];
  if (typeof signature !== 'string' || !keyId.startsWith('ed25519:')) return false;
  let bytes: Buffer;
  try {
    bytes = canonicalJsonBytes(signedPart(obj));
  } catch {
    return false;
  }
  return verifySignatureBytes(publicKeyBase64, bytes, signature);
}
