// The server's ed25519 signing key: generated on first start, persisted, reused afterwards
// (matrix-spec: server-server-api "Retrieving server keys").
import { SigningKey } from './crypto/signing.js';
import { decodeBase64 } from './crypto/base64.js';
import type { RoomStore } from '../storage/types.js';

export async function loadOrCreateSigningKey(store: RoomStore, now: number): Promise<SigningKey> {
  const stored = await store.getSigningKey();
  if (stored) return SigningKey.fromSeed(stored.keyId, decodeBase64(stored.seed));
  const key = SigningKey.generate();
  await store.storeSigningKey(key.keyId, key.seedBase64, now);
  return key;
}
