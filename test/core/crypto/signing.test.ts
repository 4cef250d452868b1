import { decodeBase64 } from '../../../src/core/crypto/base64.js';
import { canonicalJsonBytes } from '../../../src/core/crypto/canonical-json.js';
import { SigningKey, signJson, verifyJsonSignature, verifySignatureBytes } from '../../../src/core/crypto/signing.js';

// Test vectors of matrix-spec content/appendices.md "Cryptographic Test Vectors" > "Signing Key".
const SEED = 'YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1';
const SERVER_NAME = 'domain';
const KEY_ID = 'ed25519:1';
const key = SigningKey.fromSeed(KEY_ID, decodeBase64(SEED));

describe('SigningKey', () => {
  it('derives the key from a seed and exposes its id, seed and public key', () => {
    expect(key.keyId).toBe('ed25519:1');
    // The vector's last character carries 2 non-zero unused bits; re-encoding yields the canonical form.
    expect(key.seedBase64).toBe('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0');
    // Public key of this seed (not in the spec; same value in ruma-signatures' tests of these vectors).
    expect(key.publicKeyBase64).toBe('XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI');
    // Same seed, same public key.
    expect(SigningKey.fromSeed('ed25519:other', decodeBase64(SEED)).publicKeyBase64).toBe(key.publicKeyBase64);
  });

  it('generates random keys with a 6-character alphanumeric version', () => {
    const a = SigningKey.generate();
    const b = SigningKey.generate();
    expect(a.keyId).toMatch(/^ed25519:[A-Za-z0-9]{6}$/);
    expect(a.publicKeyBase64).not.toBe(b.publicKeyBase64);
    expect(SigningKey.fromSeed(a.keyId, decodeBase64(a.seedBase64)).publicKeyBase64).toBe(a.publicKeyBase64);
  });

  it('rejects bad seeds and algorithms', () => {
    expect(() => SigningKey.fromSeed('ed25519:1', new Uint8Array(31))).toThrow();
    expect(() => SigningKey.fromSeed('curve25519:1', new Uint8Array(32))).toThrow();
  });

  it('produces signatures that verifySignatureBytes accepts only for the signed bytes and key', () => {
    const bytes = Buffer.from('hello');
    const sig = key.sign(bytes);
    expect(sig).toMatch(/^[A-Za-z0-9+/]{86}$/);
    expect(verifySignatureBytes(key.publicKeyBase64, bytes, sig)).toBe(true);
    expect(verifySignatureBytes(key.publicKeyBase64, Buffer.from('hellO'), sig)).toBe(false);
    expect(verifySignatureBytes(SigningKey.generate().publicKeyBase64, bytes, sig)).toBe(false);
    expect(verifySignatureBytes(key.publicKeyBase64, bytes, 'not base64!')).toBe(false);
    expect(verifySignatureBytes('AAAA', bytes, sig)).toBe(false);
  });
});

describe('signJson (appendices "JSON Signing" vectors)', () => {
  it('signs the empty object', () => {
    expect(signJson({}, SERVER_NAME, key)).toEqual({
      signatures: {
        domain: {
          'ed25519:1': 'K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ',
        },
      },
    });
  });

  it('signs an object with data values', () => {
    expect(signJson({ one: 1, two: 'Two' }, SERVER_NAME, key)).toEqual({
      one: 1,
      signatures: {
        domain: {
          'ed25519:1': 'KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw',
        },
      },
      two: 'Two',
    });
  });

  it('ignores and keeps unsigned, merges into existing signatures, leaves the input alone', () => {
    const input = {
      one: 1,
      two: 'Two',
      unsigned: { age_ts: 922834800000 },
      signatures: { domain: { 'ed25519:0': 'old' }, 'other.example': { 'ed25519:x': 'theirs' } },
    };
    const signed = signJson(input, SERVER_NAME, key);
    expect(signed).toEqual({
      one: 1,
      two: 'Two',
      unsigned: { age_ts: 922834800000 },
      signatures: {
        domain: {
          'ed25519:0': 'old',
          'ed25519:1': 'KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw',
        },
        'other.example': { 'ed25519:x': 'theirs' },
      },
    });
    expect(input.signatures).toEqual({ domain: { 'ed25519:0': 'old' }, 'other.example': { 'ed25519:x': 'theirs' } });
  });
});

describe('verifyJsonSignature', () => {
  const signed = signJson({ one: 1, two: 'Two', unsigned: { age: 1 } }, SERVER_NAME, key);

  it('accepts a good signature, whatever unsigned and other signatures say', () => {
    expect(verifyJsonSignature(signed, SERVER_NAME, KEY_ID, key.publicKeyBase64)).toBe(true);
    const changed = { ...signed, unsigned: { age: 99 }, signatures: { ...signed.signatures, x: { 'ed25519:1': 'y' } } };
    expect(verifyJsonSignature(changed, SERVER_NAME, KEY_ID, key.publicKeyBase64)).toBe(true);
  });

  it('rejects tampered content, a wrong key, missing or corrupted signatures', () => {
    expect(verifyJsonSignature({ ...signed, two: 'Three' }, SERVER_NAME, KEY_ID, key.publicKeyBase64)).toBe(false);
    expect(verifyJsonSignature({ ...signed, three: 3 }, SERVER_NAME, KEY_ID, key.publicKeyBase64)).toBe(false);
    expect(verifyJsonSignature(signed, SERVER_NAME, KEY_ID, SigningKey.generate().publicKeyBase64)).toBe(false);
    expect(verifyJsonSignature(signed, 'other', KEY_ID, key.publicKeyBase64)).toBe(false);
    expect(verifyJsonSignature(signed, SERVER_NAME, 'ed25519:2', key.publicKeyBase64)).toBe(false);
    const sig = signed.signatures.domain!['ed25519:1']!;
    const flipped = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
    expect(verifyJsonSignature({ ...signed, signatures: { domain: { 'ed25519:1': flipped } } }, SERVER_NAME, KEY_ID, key.publicKeyBase64)).toBe(false);
    expect(verifyJsonSignature({ one: 1, two: 'Two' }, SERVER_NAME, KEY_ID, key.publicKeyBase64)).toBe(false);
  });

  it('rejects objects that are not canonical JSON instead of throwing', () => {
    expect(verifyJsonSignature({ ...signed, one: 1.5 }, SERVER_NAME, KEY_ID, key.publicKeyBase64)).toBe(false);
  });

  it('verifies the appendices "JSON Signing" vector signature over the canonical bytes', () => {
    expect(
      verifySignatureBytes(
        key.publicKeyBase64,
        canonicalJsonBytes({}),
        'K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ',
      ),
    ).toBe(true);
  });
});
