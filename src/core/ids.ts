// Identifier grammar (matrix-spec: content/appendices.md "User Identifiers", "Room IDs", "Room Aliases").
import { randomBytes, randomInt } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { invalidUsername } from '../errors.js';

/** Characters allowed in localparts of new user IDs: a-z 0-9 . _ = - / + (appendices "User Identifiers"). */
const NEW_LOCALPART_RE = /^[a-z0-9._=\-/+]+$/;
/** Longest user ID, room ID, alias, event type, state key or transaction ID, in bytes. */
export const MAX_ID_BYTES = 255;

// appendices "Server Name": server_name = hostname [ ":" port ];
// hostname = IPv4address / "[" IPv6address "]" / dns-name.
const SERVER_NAME_RE =
  /^(?:\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[[0-9A-Fa-f:.]{2,45}\]|[0-9A-Za-z.-]{1,255})(?::\d{1,5})?$/;

/** A server name by the appendix's grammar (hostname or IP literal, optional port). */
export function isValidServerName(name: string): boolean {
  return SERVER_NAME_RE.test(name);
}

export interface ParsedUserId {
  localpart: string;
  domain: string;
}

/**
 * Splits `@localpart:domain`, or undefined if it is not a user ID. The one user-ID check of the server
 * (client requests and the auth rules alike), lenient as the appendix asks of servers ("User
 * Identifiers", "Historical User IDs"): the localpart is everything before the first ':' and may hold
 * any code points but NUL; the domain must be a server name; the whole ID at most 255 bytes. New
 * accounts get the strict grammar (normaliseNewLocalpart).
 */
export function parseUserId(userId: string): ParsedUserId | undefined {
  if (typeof userId !== 'string' || !userId.startsWith('@')) return undefined;
  const colon = userId.indexOf(':');
  if (colon < 0) return undefined;
  const localpart = userId.slice(1, colon);
  const domain = userId.slice(colon + 1);
  if (localpart.includes('\u0000') || !isValidServerName(domain)) return undefined;
  if (Buffer.byteLength(userId, 'utf8') > MAX_ID_BYTES) return undefined;
  return { localpart, domain };
}

export const isValidUserId = (userId: string): boolean => parseUserId(userId) !== undefined;

/**
 * A room ID (appendices "Room IDs"): `!` and an opaque ID, with `:server` in room versions before 12
 * (12 derives the ID from the create event's hash and has no server part); at most 255 bytes.
 */
export function isValidRoomId(roomId: unknown): roomId is string {
  if (typeof roomId !== 'string' || !/^![^\s\u0000:]+(?::\S+)?$/.test(roomId)) return false;
  const colon = roomId.indexOf(':');
  if (colon > 0 && !isValidServerName(roomId.slice(colon + 1))) return false;
  return Buffer.byteLength(roomId, 'utf8') <= MAX_ID_BYTES;
}

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
