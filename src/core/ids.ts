// Identifier grammar (matrix-spec: content/appendices.md "User Identifiers", "Room IDs", "Room Aliases").
import { randomBytes, randomInt } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { invalidUsername } from '../errors.js';

/** Characters allowed in localparts of new user IDs: a-z 0-9 . _ = - / + (appendices "User Identifiers"). */
const NEW_LOCALPART_RE = /^[a-z0-9._=\-/+]+$/;
/** Historical user IDs may contain any printable ASCII except ':' (appendices "Historical User IDs"). */
const HISTORICAL_LOCALPART_RE = /^[\x21-\x39\x3b-\x7e]+$/;
/** Longest user ID, room ID, alias, event type, state key or transaction ID, in bytes. */
export const MAX_ID_BYTES = 255;

export interface ParsedUserId {
  localpart: string;
  domain: string;
}

/** Splits `@localpart:domain`; undefined if it is not a user ID at all. */
export function parseUserId(userId: string): ParsedUserId | undefined {
  if (typeof userId !== 'string' || !userId.startsWith('@')) return undefined;
  const colon = userId.indexOf(':');
  if (colon < 2 || colon === userId.length - 1) return undefined;
  const localpart = userId.slice(1, colon);
  const domain = userId.slice(colon + 1);
  if (!HISTORICAL_LOCALPART_RE.test(localpart)) return undefined;
  if (Buffer.byteLength(userId, 'utf8') > MAX_ID_BYTES) return undefined;
  return { localpart, domain };
}

export const isValidUserId = (userId: string): boolean => parseUserId(userId) !== undefined;

export function userIdFor(localpart: string, serverName: string): string {
  return `@${localpart}:${serverName}`;
}

/**
 * Normalises and checks a username for registration: lower-cased, only the new-ID characters,
 * not purely numeric (reserved for guests), not starting with '_' (reserved), and the full ID
 * at most 255 bytes. Throws 400 M_INVALID_USERNAME.
 */
export function normaliseNewLocalpart(username: string, serverName: string): string {
  const localpart = username.toLowerCase();
  if (localpart.length === 0) throw invalidUsername('Username must not be empty');
  if (!NEW_LOCALPART_RE.test(localpart)) throw invalidUsername('Username may only contain a-z, 0-9, and the characters . _ = - / +');
  if (/^\d+$/.test(localpart)) throw invalidUsername('Purely numeric usernames are reserved for guest accounts');
  if (localpart.startsWith('_')) throw invalidUsername("Usernames may not begin with '_'");
  if (Buffer.byteLength(userIdFor(localpart, serverName), 'utf8') > MAX_ID_BYTES) throw invalidUsername('User ID would be longer than 255 bytes');
  return localpart;
}

const DEVICE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** A new device ID: 10 random capital letters, like other homeservers hand out. */
export function generateDeviceId(): string {
  let id = '';
  for (let i = 0; i < 10; i++) id += DEVICE_ALPHABET[randomInt(DEVICE_ALPHABET.length)];
  return id;
}

/** An opaque random string of `bytes` random bytes, URL-safe base64. */
export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * A generator of time-ordered UUIDs (version 7, RFC 9562) from an injected clock: the first 48 bits
 * are the millisecond, the rest random (74 bits) with a counter that keeps IDs made in the same
 * millisecond in order. For identifiers that are UUIDs by nature (sessions, federation transactions,
 * media); never for secrets.
 */
export function uuidV7Generator(now: () => number): () => string {
  let lastMs = -Infinity;
  let seq = 0;
  return () => {
    const ms = now();
    if (ms > lastMs) {
      lastMs = ms;
      // A random start with headroom below 2^31, so the counter can step without wrapping.
      seq = randomInt(0, 2 ** 30);
    } else {
      seq += 1;
      if (seq >= 2 ** 31) {
        lastMs += 1;
        seq = randomInt(0, 2 ** 30);
      }
    }
    return uuidv7({ msecs: lastMs, seq });
  };
}
