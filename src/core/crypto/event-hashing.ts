// Redaction, content hashes, reference hashes / event IDs and event signatures for room versions 10,
// 11 and 12 (matrix-spec: content/server-server-api.md "Signing Events"; rooms/v10 "Redactions" =
// rooms/fragments/v9-redactions.md; rooms/v11 and rooms/v12 "Redactions" =
// rooms/fragments/v11-redactions.md; rooms v4+ "Event IDs" = rooms/fragments/v4-event-ids.md).
//
// Only keys an event has are hashed: a v12 m.room.create event has no `room_id` (rooms/v12 auth rule
// 1.2), and its reference hash, which becomes the room ID, covers exactly the keys it carries.
import { createHash } from 'node:crypto';
import type { JsonObject, Pdu } from '../../wire.js';
import { encodeBase64, encodeBase64Url } from './base64.js';
import { canonicalJsonBytes } from './canonical-json.js';
import { signJson, verifyJsonSignature, type SigningKey } from './signing.js';

/** A PDU before hashing and signing; any `hashes` it carries are replaced, `signatures` are kept. */
export type UnsignedPdu = Omit<Pdu, 'hashes' | 'signatures'> & { hashes?: unknown; signatures?: Pdu['signatures'] };

/** The redaction algorithm of a room version (rooms/v10, rooms/v11 "Redactions"). */
type Redaction = 'v10' | 'v11';
/** What hashing and redaction need to know of a room version (core's RoomVersion has it). */
export interface RedactionRules {
  redaction: Redaction;
}

// Top-level keys that survive redaction.
const KEPT_KEYS_V11 = [
  'event_id', 'type', 'room_id', 'sender', 'state_key', 'content', 'hashes', 'signatures', 'depth',
  'prev_events', 'auth_events', 'origin_server_ts',
];
const KEPT_KEYS: Record<Redaction, readonly string[]> = {
  // v10 (unchanged from v9) also keeps `prev_state`, `origin` and `membership`.
  v10: [...KEPT_KEYS_V11, 'prev_state', 'origin', 'membership'],
  v11: KEPT_KEYS_V11,
};

const POWER_LEVELS_V10 = ['ban', 'events', 'events_default', 'kick', 'redact', 'state_default', 'users', 'users_default'];

// Content keys that survive redaction, per event type; `'all'` keeps the whole content.
const KEPT_CONTENT: Record<Redaction, Record<string, readonly string[] | 'all'>> = {
  v10: {
    'm.room.member': ['membership', 'join_authorised_via_users_server'],
    'm.room.create': ['creator'],
    'm.room.join_rules': ['join_rule', 'allow'],
    'm.room.power_levels': POWER_LEVELS_V10,
    'm.room.history_visibility': ['history_visibility'],
  },
  v11: {
    // Plus `third_party_invite.signed`, see below.
    'm.room.member': ['membership', 'join_authorised_via_users_server'],
    'm.room.create': 'all',
    'm.room.join_rules': ['join_rule', 'allow'],
    'm.room.power_levels': [...POWER_LEVELS_V10, 'invite'],
    'm.room.history_visibility': ['history_visibility'],
    'm.room.redaction': ['redacts'],
  },
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function has(obj: Record<string, unknown>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

function redactContent(type: unknown, content: Record<string, unknown>, redaction: Redaction): Record<string, unknown> {
  const kept = typeof type === 'string' && has(KEPT_CONTENT[redaction], type) ? KEPT_CONTENT[redaction][type] : [];
  if (kept === 'all') return { ...content };
  const out: Record<string, unknown> = {};
  for (const key of kept ?? []) if (has(content, key)) out[key] = content[key];
  // v11: "m.room.member ... additionally, it allows the `signed` key of the `third_party_invite` key".
  // Like Synapse, an object-valued `third_party_invite` stays (possibly empty) with only `signed`.
  if (redaction === 'v11' && type === 'm.room.member' && isObject(content.third_party_invite)) {
    const invite = content.third_party_invite;
    out.third_party_invite = has(invite, 'signed') ? { signed: invite.signed } : {};
  }
  return out;
}

/**
 * The redacted form of `event` under the room version's redaction algorithm: only the essential
 * top-level keys and, per event type, the essential content keys remain. `content` is always present
 * (empty if the event had none). Returns a deep copy; the input is not modified.
 */
export function redactEvent(event: Pdu | object, version: RedactionRules): JsonObject {
  return structuredClone(redactShallow(event, version)) as JsonObject;
}

/**
 * `redactEvent` without the deep copy, for redacted forms that are only serialised (hashed or
 * signed) and then dropped: the result is a new top-level object (and a new `content`) but shares
 * every other nested object and array with `event`, so the result must not be modified (that could
 * reach into `event`). `event` itself is never modified.
 */
function redactShallow(event: Pdu | object, version: RedactionRules): Record<string, unknown> {
  const source = event as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of KEPT_KEYS[version.redaction]) {
    if (key !== 'content' && has(source, key) && source[key] !== undefined) out[key] = source[key];
  }
  out.content = redactContent(source.type, isObject(source.content) ? source.content : {}, version.redaction);
  return out;
}

/**
 * Content hash (server-server-api "Calculating the content hash for an event"): SHA-256 of the
 * canonical JSON of the event without `unsigned`, `signatures` and `hashes`, as unpadded base64.
 */
export function computeContentHash(event: Pdu | object): string {
  const { unsigned: _u, signatures: _s, hashes: _h, ...rest } = event as Record<string, unknown>;
  return encodeBase64(createHash('sha256').update(canonicalJsonBytes(rest)).digest());
}

/** Whether `hashes.sha256` matches the event's content hash ("Validating hashes and signatures"). */
export function verifyContentHash(event: Pdu | object): boolean {
  const hashes = (event as { hashes?: unknown }).hashes;
  const claimed = isObject(hashes) ? hashes.sha256 : undefined;
  if (typeof claimed !== 'string') return false;
  try {
    return claimed.replace(/=+$/, '') === computeContentHash(event);
  } catch {
    return false; // not canonical JSON
  }
}

/**
 * Reference hash (server-server-api "Calculating the reference hash for an event"): redact, drop
 * `signatures` and `unsigned`, SHA-256 of the canonical JSON.
 *
 * An `event_id` key is dropped as well: in rooms v4+ the event ID *is* this hash and is not part of
 * the PDU, so one carried beside it (a StoredEvent) must not feed into its own computation.
 */
export function computeReferenceHash(event: Pdu | object, version: RedactionRules): Buffer {
  const { signatures: _s, unsigned: _u, event_id: _id, ...rest } = redactShallow(event, version);
  return createHash('sha256').update(canonicalJsonBytes(rest)).digest();
}

/** Event ID of rooms v4+: `$` + URL-safe unpadded base64 of the reference hash (rooms/fragments/v4-event-ids.md). */
export function computeEventId(event: Pdu | object, version: RedactionRules): string {
  return `$${encodeBase64Url(computeReferenceHash(event, version))}`;
}

/**
 * Hashes and signs an outgoing event (server-server-api "Adding hashes and signatures to outgoing
 * events"; appendices "Signing events" vectors): sets `hashes.sha256` to the content hash, signs the
 * redacted event as `serverName` and copies the signatures back onto the full event. Existing
 * signatures are kept; `unsigned` is kept and covered by neither hash nor signature.
 */
export function hashAndSignEvent(event: UnsignedPdu, serverName: string, key: SigningKey, version: RedactionRules): Pdu {
  const { hashes: _h, ...rest } = event;
  const hashed = { ...rest, hashes: { sha256: computeContentHash(rest) }, signatures: event.signatures ?? {} };
  const signed = signJson(redactEvent(hashed, version), serverName, key);
  return { ...hashed, signatures: signed.signatures as Pdu['signatures'] };
}

/**
 * `hashAndSignEvent` and `computeEventId` in one pass for events this server creates: the bytes the
 * signature covers (the redacted event without `signatures` and `unsigned`) are exactly the bytes of
 * the reference hash, so they are redacted and serialised once.
 */
export function hashSignAndIdentify(event: UnsignedPdu, serverName: string, key: SigningKey, version: RedactionRules): { pdu: Pdu; eventId: string } {
  const p = prepareSigning(event, version);
  return finishSigning(p, serverName, key.keyId, key.sign(p.bytes));
}

/**
 * `hashSignAndIdentify` with the ed25519 signature computed on libuv's thread pool, so the event loop
 * serves other requests meanwhile (signing is the largest single cost of a send). Same output.
 */
export async function hashSignAndIdentifyAsync(event: UnsignedPdu, serverName: string, key: SigningKey, version: RedactionRules): Promise<{ pdu: Pdu; eventId: string }> {
  const p = prepareSigning(event, version);
  return finishSigning(p, serverName, key.keyId, await key.signAsync(p.bytes));
}

interface PreparedSigning {
  hashed: Omit<UnsignedPdu, 'hashes' | 'signatures'> & { hashes: { sha256: string } };
  existing: Pdu['signatures'] | undefined;
  /** Canonical JSON of the redacted event: what the signature and the reference hash cover. */
  bytes: Buffer;
}

function prepareSigning(event: UnsignedPdu, version: RedactionRules): PreparedSigning {
  const { hashes: _h, signatures: existing, ...rest } = event;
  const hashed = { ...rest, hashes: { sha256: computeContentHash(rest) } };
  const { signatures: _s, unsigned: _u, ...redacted } = redactShallow(hashed, version);
  return { hashed, existing, bytes: canonicalJsonBytes(redacted) };
}

function finishSigning(p: PreparedSigning, serverName: string, keyId: string, signature: string): { pdu: Pdu; eventId: string } {
  const signatures = { ...(p.existing ?? {}), [serverName]: { ...(p.existing?.[serverName] ?? {}), [keyId]: signature } };
  const eventId = `$${encodeBase64Url(createHash('sha256').update(p.bytes).digest())}`;
  return { pdu: { ...p.hashed, signatures } as Pdu, eventId };
}

/**
 * Whether the redacted event carries a valid signature of `serverName` with `keyId` (server-server-api
 * "Validating hashes and signatures on received events"; holds for the full and the redacted copy).
 */
export function verifyEventSignature(
  event: Pdu | object,
  serverName: string,
  keyId: string,
  publicKeyBase64: string,
  version: RedactionRules,
): boolean {
  let redacted: JsonObject;
  try {
    redacted = redactEvent(event, version);
  } catch {
    return false;
  }
  return verifyJsonSignature(redacted, serverName, keyId, publicKeyBase64);
}
