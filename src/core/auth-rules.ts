// Room authorisation rules for room versions 10, 11 and 12.
//
// Source: matrix-spec content/rooms/v10.md, content/rooms/v11.md and content/rooms/v12.md,
// "Authorisation rules".
//
// RULE NUMBERS DEPEND ON THE ROOM VERSION. v10 and v11 share one numbering; v11 only changes rule 1 (no
// `creator` in the create event) and rule 4.3.1 (the creator is the create event's `sender`). v12
// inserts a new rule 2 (the room ID names the create event), so v11's rules 2..10 are v12's 3..11; it
// also replaces 1.2, adds 1.4 and 10.4, and drops v11's 2.4. So '3' is the m.federate rule in v10/v11
// but "considering the event's auth_events" in v12, and "the sender must match state_key" is '4.3.2'
// in v10/v11 but '5.3.2' in v12 (where '4.3.2' does not exist). `AuthError.rule` is always the number
// in the numbering of the event's room version (`RoomVersion.authRuleNumbering`, repeated as
// `AuthError.numbering`), and each comment below gives the v10/v11 number first and the v12 number in
// parentheses, e.g. "4.4.3 (v12: 5.4.3)" = rule m.room.member, sub-rule invite, sub-rule "target joined
// or banned". Mapping, v10/v11 -> v12:
//   1.1 -> 1.1; 1.2 "room_id domain = sender domain" -> 1.2 "no room_id" (replaced); 1.3 -> 1.3;
//   1.4 "has creator" (v10 only) / v12 1.4 "additional_creators are user IDs" (new); -> v12 2 (new);
//   2.1 -> 3.1; 2.2 -> 3.2; 2.3 -> 3.3; 2.4 "create among auth_events" -> (gone); 2.5 -> 3.4 (the
//   markdown source writes it as item 5, keeping v11's sub-number, but the list renders as 3.4);
//   3 -> 4; 4.x.y -> 5.x.y; 5 -> 6; 6.1 -> 7.1; 7 -> 8; 8 -> 9; 9.1-9.3 -> 10.1-10.3; v12 10.4 (new);
//   9.4 -> 10.5; 9.5.x -> 10.6.x; 9.6.1 -> 10.7.1; 9.7.1 -> 10.8.1; 9.8.1 -> 10.9.1; 9.9.1 -> 10.10.1;
//   9.10 -> 10.11; 10 -> 11.
//
// v12 in short (see RoomVersion's flags): the room ID is the create event's ID ('!' for '$'), so the
// create event is never among `auth_events`; callers pass it as `AuthCheckOptions.createEvent` (or
// their StateLookup answers ('m.room.create', '') with it, as the current room state does). The room
// creators (create `sender` + `content.additional_creators`) have an infinite power level (`Infinity`
// from `userPowerLevel`), so nobody outranks, kicks or bans them, and power_levels may not list them.
//
// This module is pure and synchronous: it never touches storage or the network. The caller supplies
// the room state *before* the event as a `StateLookup` (built from the event's `auth_events`, or from
// the current room state when checking against it).
//
// Parts of the rules that need information this module does not have are left to the caller:
// - "Events must be signed by the server denoted by the `sender` property": signature verification is
//   done by the PDU receipt checks (server-server-api "Checks performed on receipt of a PDU").
// - Rule 2.3 (v12: 3.3) (auth events that were themselves rejected) needs the rejection status from
//   storage. Rules 2.1, 2.2, 2.4 and 2.5 (v12: 3.1, 3.2, 3.4) are available through
//   `checkAuthEventsList`; 2.4 and 2.5 (v12: 3.4) (for the events actually consulted) are also enforced
//   by `checkEventAuth`.
// - v12 rule 2 wants an *accepted* (not rejected) create event: `checkEventAuth` checks that the room
//   ID names the create event it is given; that this event was not rejected is the caller's to know.
// - Rule 4.2.1 (v12: 5.2.1) needs a cryptographic check; by default only the presence of a signature
//   from the authorising server is checked (see `AuthCheckOptions.isSignedBy`).
// - Rule 4.4.1.7 (v12: 5.4.1.7) (third-party invite signature) needs ed25519 verification; without
//   `AuthCheckOptions.verifyThirdPartyInviteSignature`, third-party invites are refused as unsupported.

import type { JsonObject, JsonValue, Pdu, StoredEvent } from './events/types.js';
import { knownRoomVersion, type RoomVersion } from './room-versions.js';
import { isValidUserId } from './ids.js';

/** The room state before the event: returns the state event for `(type, stateKey)`, if any. */
export type StateLookup = (type: string, stateKey: string) => StoredEvent | undefined;

/**
 * Which spec list an auth rule number refers to: 'v10' = the numbering rooms/v10 and rooms/v11 share,
 * 'v12' = rooms/v12's (see the file header for the mapping).
 */
export type AuthRuleNumbering = RoomVersion['authRuleNumbering'];

/**
 * Thrown when the authorisation rules reject an event. `rule` is the spec rule number in the
 * numbering of the event's room version (`numbering`), e.g. '4.4.3' (v10/v11) = '5.4.3' (v12).
 */
export class AuthError extends Error {
  readonly rule: string;
  readonly numbering: AuthRuleNumbering;

  constructor(rule: string, message: string, numbering: AuthRuleNumbering = 'v10') {
    super(`${message} (${numbering === 'v12' ? 'rooms/v12 ' : ''}auth rule ${rule})`);
    this.name = 'AuthError';
    this.rule = rule;
    this.numbering = numbering;
  }
}

/** The AuthError for a rule numbered `v10` in rooms/v10 and v11 and `v12` in rooms/v12. */
function authError(version: RoomVersion, v10: string, v12: string, message: string): AuthError {
  return version.authRuleNumbering === 'v12' ? new AuthError(v12, message, 'v12') : new AuthError(v10, message);
}

export interface AuthCheckOptions {
  /**
   * Rule 4.2.1: "If the event is not validly signed by the homeserver of the user ID denoted by the
   * key [join_authorised_via_users_server], reject." The default only checks that `event.signatures`
   * holds at least one signature from that server; the cryptographic verification belongs to the PDU
   * signature checks (which must include the authorising server for such joins). Pass a function
   * returning true for locally built events that are not signed yet.
   */
  isSignedBy?: (event: Pdu, serverName: string) => boolean;
  /**
   * Rule 4.4.1.7: returns true if any signature in `signed` matches any of `publicKeys` (unpadded
   * base64 ed25519 keys). When absent, invites carrying `third_party_invite` are refused: this module
   * does not verify third-party invite signatures itself.
   */
  verifyThirdPartyInviteSignature?: (signed: JsonObject, publicKeys: string[]) => boolean;
  /**
   * v12 (`RoomVersion.roomIdFromCreateEvent`): the room's m.room.create event, which v12 never lists in
   * `auth_events`. Rule 2 checks that the event's `room_id` names it; the rules then read it wherever
   * they consult ('m.room.create', ''). When absent, `state('m.room.create', '')` is used (the current
   * room state has it; a lookup over `auth_events` alone does not). Ignored by v10/v11, whose create
   * event must be in the state / auth events like any other.
   */
  createEvent?: StoredEvent;
}

export type PowerAction = 'invite' | 'kick' | 'ban' | 'redact';

/** Minimal shape needed for auth events selection. */
export interface AuthSelectionInput {
  type: string;
  state_key?: string;
  sender: string;
  content: JsonObject;
}

// ---------------------------------------------------------------------------------------------------
// JSON helpers

function hasOwn(obj: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isInt(v: JsonValue | undefined): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/** `obj[key]` when it is an own property (never a prototype property such as `constructor`). */
function own(obj: JsonObject, key: string): JsonValue | undefined {
  return hasOwn(obj, key) ? obj[key] : undefined;
}

/** `obj[key]` when it is an own integer property. */
function ownInt(obj: JsonObject, key: string): number | undefined {
  const v = own(obj, key);
  return isInt(v) ? v : undefined;
}

function ownObject(obj: JsonObject, key: string): JsonObject {
  const v = own(obj, key);
  return isObject(v) ? v : {};
}

/**
 * The server name of a user or room ID: everything after the first ':' ('' when there is none, and for
 * a missing ID such as the `room_id` of a malformed create event).
 */
function domainOf(id: string | undefined): string {
  if (typeof id !== 'string') return '';
  const i = id.indexOf(':');
  return i < 0 ? '' : id.slice(i + 1);
}

// ---------------------------------------------------------------------------------------------------
// Helpers exported for the rest of the server

/**
 * The room creator according to the create event. v10: `content.creator` (rooms/v10 rule 1.4 makes it
 * mandatory; falls back to `sender`, which the spec says is always equivalent). v11, v12: the `sender`
 * (rooms/v11 "Remove the `creator` property of `m.room.create` events"). v12 has further creators, see
 * `isRoomCreator`.
 */
export function createEventCreator(createEvent: Pdu, version: RoomVersion): string {
  if (version.createHasCreator) {
    const creator = own(createEvent.content, 'creator');
    if (typeof creator === 'string') return creator;
  }
  return createEvent.sender;
}

/**
 * v12 "room creators": the create event's `sender` plus the user IDs in `content.additional_creators`
 * (rooms/v12 "Authorisation rules", note). Entries that are not strings are skipped (auth rule 1.4
 * refuses such a create event anyway). Before v12: only `createEventCreator`.
 */
export function roomCreators(createEvent: Pdu, version: RoomVersion): string[] {
  const creators = [createEventCreator(createEvent, version)];
  if (version.privilegedCreators) {
    const additional = own(createEvent.content, 'additional_creators');
    if (Array.isArray(additional)) {
      for (const id of additional) if (typeof id === 'string' && !creators.includes(id)) creators.push(id);
    }
  }
  return creators;
}

/** Whether `userId` is one of `roomCreators`. */
export function isRoomCreator(userId: string, createEvent: Pdu, version: RoomVersion): boolean {
  return roomCreators(createEvent, version).includes(userId);
}

/** The `membership` of `userId`'s current m.room.member event, if any. */
export function membershipOf(userId: string, state: StateLookup): string | undefined {
  const member = state('m.room.member', userId);
  if (!member) return undefined;
  const membership = own(member.content, 'membership');
  return typeof membership === 'string' ? membership : undefined;
}

/** The current `join_rule`. With no (usable) m.room.join_rules event, 'invite' (as Synapse and ruma do). */
export function joinRuleOf(state: StateLookup): string {
  const ev = state('m.room.join_rules', '');
  const rule = ev ? own(ev.content, 'join_rule') : undefined;
  return typeof rule === 'string' ? rule : 'invite';
}

/**
 * A user's power level (m.room.power_levels schema): `users[userId]`, else `users_default` (default 0).
 * With no m.room.power_levels event: the room creator has 100, everybody else 0.
 *
 * v12: the room creators (`roomCreators` of `state('m.room.create', '')`) have an infinitely high
 * power level, returned as `Infinity`, whatever power_levels says. `Infinity` compares as the spec
 * wants (above any integer, equal to another creator's), but it is not JSON: callers that serialise
 * a level must map it themselves.
 */
export function userPowerLevel(userId: string, state: StateLookup, version: RoomVersion): number {
  if (version.privilegedCreators) {
    const create = state('m.room.create', '');
    if (create && isRoomCreator(userId, create, version)) return Infinity;
  }
  const pl = state('m.room.power_levels', '');
  if (pl) {
    const explicit = ownInt(ownObject(pl.content, 'users'), userId);
    if (explicit !== undefined) return explicit;
    return ownInt(pl.content, 'users_default') ?? 0;
  }
  const create = state('m.room.create', '');
  if (create && createEventCreator(create, version) === userId) return 100;
  return 0;
}

/**
 * The *required power level* of an event type (m.room.power_levels schema): `events[type]`, else
 * `state_default` for state events and `events_default` for others. `state_default` is 50 and
 * `events_default` 0 when not given, whether or not a power_levels event exists (the schema: "If there
 * is no `state_default` in the `m.room.power_levels` event, or there is no `m.room.power_levels` event,
 * the `state_default` is 50").
 */
export function requiredPowerLevel(eventType: string, isState: boolean, state: StateLookup): number {
  const pl = state('m.room.power_levels', '');
  const content: JsonObject = pl ? pl.content : {};
  const specific = ownInt(ownObject(content, 'events'), eventType);
  if (specific !== undefined) return specific;
  return isState ? (ownInt(content, 'state_default') ?? 50) : (ownInt(content, 'events_default') ?? 0);
}

const ACTION_DEFAULTS: Readonly<Record<PowerAction, number>> = { invite: 0, kick: 50, ban: 50, redact: 50 };

/** The *invite/kick/ban/redact level*: defaults invite 0, kick/ban/redact 50 (m.room.power_levels schema). */
export function powerLevelFor(action: PowerAction, state: StateLookup): number {
  const pl = state('m.room.power_levels', '');
  return (pl ? ownInt(pl.content, action) : undefined) ?? ACTION_DEFAULTS[action];
}

/**
 * Handling redactions (rooms/v10 and v11, fragment v3-handling-redactions). Not an auth rule: the auth
 * rules only treat m.room.redaction like any other event (rule 7, `events` / `events_default`) and
 * do **not** consider the redact level. Whether the redaction is then *applied* is up to the server:
 * apply it if the redaction's sender has at least the *redact level*, or if the sender's domain
 * matches the original event's sender's domain. The server must also wait until it has both events.
 */
export function canApplyRedaction(
  redaction: { sender: string },
  original: { sender: string },
  state: StateLookup,
  version: RoomVersion,
): boolean {
  if (userPowerLevel(redaction.sender, state, version) >= powerLevelFor('redact', state)) return true;
  return domainOf(redaction.sender) === domainOf(original.sender);
}

// ---------------------------------------------------------------------------------------------------
// Auth events selection (server-server-api "Auth events selection")

/** The `(type, state_key)` pairs an event's auth_events may contain, in selection order. */
export function authEventKeys(event: AuthSelectionInput, version: RoomVersion): Array<[string, string]> {
  if (event.type === 'm.room.create') return []; // "The auth_events for the m.room.create event is empty"
  const keys: Array<[string, string]> = [];
  // "Depending on the room version, the m.room.create event": v10/v11 require it (rule 2.2 note, "This
  // room version requires an m.room.create event to be selected"); v12 forbids it (rule 3.2 note, "In
  // this room version, m.room.create MUST NOT be selected": the room_id names it).
  if (!version.roomIdFromCreateEvent) keys.push(['m.room.create', '']);
  keys.push(['m.room.power_levels', ''], ['m.room.member', event.sender]);
  if (event.type === 'm.room.member' && event.state_key !== undefined) {
    keys.push(['m.room.member', event.state_key]);
    const membership = own(event.content, 'membership');
    if (membership === 'join' || membership === 'invite' || membership === 'knock') {
      keys.push(['m.room.join_rules', '']);
    }
    if (membership === 'invite') {
      const tpi = own(event.content, 'third_party_invite');
      const token = isObject(tpi) ? own(ownObject(tpi, 'signed'), 'token') : undefined;
      if (typeof token === 'string') keys.push(['m.room.third_party_invite', token]);
    }
    // Room versions 8+ support restricted rooms (rooms feature matrix), so v10 and v11 both do.
    if (membership === 'join') {
      const authoriser = own(event.content, 'join_authorised_via_users_server');
      if (typeof authoriser === 'string') keys.push(['m.room.member', authoriser]);
    }
  }
  const seen = new Set<string>();
  return keys.filter(([t, k]) => {
    const id = `${t}\u0000${k}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** The event IDs to put into a new event's `auth_events`, taken from `state` (the current state). */
export function selectAuthEvents(event: AuthSelectionInput, state: StateLookup, version: RoomVersion): string[] {
  const ids: string[] = [];
  for (const [type, stateKey] of authEventKeys(event, version)) {
    const ev = state(type, stateKey);
    if (ev && !ids.includes(ev.event_id)) ids.push(ev.event_id);
  }
  return ids;
}

/**
 * Rules 2.1, 2.2, 2.4 and 2.5 (v12: 3.1, 3.2, 3.4) applied to the actual `auth_events` of an event
 * (rule 2.3 (v12: 3.3), "entries which were themselves rejected", needs storage and is the caller's).
 * Returns a StateLookup over them for `checkEventAuth`.
 *
 * v12: the create event is not among `auth_events` (an entry for it fails 3.2); pass it as
 * `options.createEvent` and the returned lookup answers ('m.room.create', '') with it, so the lookup
 * works for `checkEventAuth` and `userPowerLevel` as in v10/v11. Rule 2 (the room ID names that
 * create event) is `checkEventAuth`'s.
 */
export function checkAuthEventsList(
  event: Pdu,
  authEvents: readonly StoredEvent[],
  version: RoomVersion,
  options: { createEvent?: StoredEvent } = {},
): StateLookup {
  const byKey = new Map<string, StoredEvent>();
  const lookup: StateLookup = (t, k) => byKey.get(`${t}\u0000${k}`);
  // Rule 1: the create event is decided before rule 2 is considered.
  if (event.type === 'm.room.create') return lookup;
  const allowed = new Set(authEventKeys(event, version).map(([t, k]) => `${t}\u0000${k}`));
  for (const ae of authEvents) {
    const key = `${ae.type}\u0000${ae.state_key ?? ''}`;
    if (ae.state_key === undefined) {
      throw authError(version, '2.2', '3.2', `auth event ${ae.event_id} is not a state event`);
    }
    // 2.1 (v12: 3.1) "If there are duplicate entries for a given type and state_key pair, reject."
    if (byKey.has(key)) throw authError(version, '2.1', '3.1', `duplicate auth event for (${ae.type}, ${ae.state_key})`);
    // 2.2 (v12: 3.2) "If there are entries whose type and state_key don't match those specified by the
    // auth events selection algorithm ..., reject." (v12: "m.room.create MUST NOT be selected".)
    if (!allowed.has(key)) throw authError(version, '2.2', '3.2', `unexpected auth event (${ae.type}, ${ae.state_key})`);
    // 2.5 (v12: 3.4) "If any event in auth_events has a room_id which does not match that of the event
    // being authorised, reject."
    if (ae.room_id !== event.room_id) throw authError(version, '2.5', '3.4', `auth event ${ae.event_id} is from another room`);
    byKey.set(key, ae);
  }
  if (version.roomIdFromCreateEvent) {
    // v12 has no rule 2.4: the create event comes from the room ID (rule 2), not from auth_events.
    if (options.createEvent) byKey.set('m.room.create\u0000', options.createEvent);
    return lookup;
  }
  // 2.4 "If there is no m.room.create event among the entries, reject."
  if (!byKey.has('m.room.create\u0000')) throw new AuthError('2.4', 'no m.room.create event among auth_events');
  return lookup;
}

// ---------------------------------------------------------------------------------------------------
// The authorisation rules

function defaultIsSignedBy(event: Pdu, serverName: string): boolean {
  const sigs = event.signatures[serverName];
  return sigs !== undefined && Object.keys(sigs).length > 0;
}

/** Whether the create event `create` is the one v12's room ID `roomId` names ('!' + its ID without '$'). */
function roomIdNamesCreate(roomId: unknown, create: StoredEvent): boolean {
  return typeof roomId === 'string' && create.event_id.startsWith('$') && roomId === `!${create.event_id.slice(1)}`;
}

/**
 * Applies the authorisation rules of room versions 10, 11 and 12 to `event` against `state` (the room
 * state before the event). Returns normally when the event is allowed, throws `AuthError` when
 * rejected. v12 needs the room's create event: `options.createEvent`, else `state('m.room.create', '')`.
 */
export function checkEventAuth(
  event: Pdu,
  state: StateLookup,
  version: RoomVersion,
  options: AuthCheckOptions = {},
): void {
  // 1. If type is m.room.create:
  if (event.type === 'm.room.create') {
    checkCreate(event, version);
    return;
  }

  let create: StoredEvent | undefined;
  if (version.roomIdFromCreateEvent) {
    // v12 2. "If the event's room_id is not an event ID for an accepted (not rejected) m.room.create
    // event, with the sigil ! instead of $, reject." (Whether it was rejected is the caller's to know.)
    create = options.createEvent ?? state('m.room.create', '');
    if (!create || create.type !== 'm.room.create' || create.state_key !== '' || !roomIdNamesCreate(event.room_id, create)) {
      throw new AuthError('2', 'room_id does not name the m.room.create event of the room', 'v12');
    }
  }

  // 2.5 (v12: 3.4) (for the events consulted here) "If any event in auth_events has a room_id which does
  // not match that of the event being authorised, reject." (v12: the create event has no room_id; rule 2
  // tied it to the room above, and it is the one consulted as ('m.room.create', ''), whatever `state`
  // holds under that key.)
  const v12Create = create;
  const lookup: StateLookup = (type, stateKey) => {
    if (v12Create && type === 'm.room.create' && stateKey === '') return v12Create;
    const ev = state(type, stateKey);
    if (ev && ev.room_id !== event.room_id) {
      throw authError(version, '2.5', '3.4', `auth event ${ev.event_id} (${type}) belongs to another room`);
    }
    return ev;
  };

  if (!create) {
    // 2.4 (v10/v11 only) "If there is no m.room.create event among the entries, reject."
    create = lookup('m.room.create', '');
    if (!create) throw new AuthError('2.4', 'no m.room.create event in the room state');
  }

  // 3 (v12: 4). "If the content of the m.room.create event in the room state has the property m.federate
  // set to false, and the sender domain of the event does not match the sender domain of the create
  // event, reject."
  if (own(create.content, 'm.federate') === false && domainOf(event.sender) !== domainOf(create.sender)) {
    throw authError(version, '3', '4', 'room is not federated and the sender is from another server');
  }

  // 4 (v12: 5). If type is m.room.member:
  if (event.type === 'm.room.member') {
    checkMember(event, create, lookup, version, options);
    return;
  }

  // 5 (v12: 6). "If the sender's current membership state is not join, reject."
  if (membershipOf(event.sender, lookup) !== 'join') {
    throw authError(version, '5', '6', `${event.sender} is not joined to the room`);
  }

  const senderLevel = userPowerLevel(event.sender, lookup, version);

  // 6 (v12: 7). If type is m.room.third_party_invite: "Allow if and only if sender's current power level
  // is greater than or equal to the invite level."
  if (event.type === 'm.room.third_party_invite') {
    if (senderLevel >= powerLevelFor('invite', lookup)) return;
    throw authError(version, '6.1', '7.1', 'sender may not send third-party invites (below invite level)');
  }

  // 7 (v12: 8). "If the event type's required power level is greater than the sender's power level,
  // reject." (This is also the only rule applying to m.room.redaction: the redact level is not checked.)
  const required = requiredPowerLevel(event.type, event.state_key !== undefined, lookup);
  if (required > senderLevel) {
    throw authError(version, '7', '8', `sending ${event.type} requires power level ${required}, sender has ${senderLevel}`);
  }

  // 8 (v12: 9). "If the event has a state_key that starts with an @ and does not match the sender,
  // reject." (No exception exists in v10-v12; owned state keys with suffixes are not part of them.)
  if (event.state_key !== undefined && event.state_key.startsWith('@') && event.state_key !== event.sender) {
    throw authError(version, '8', '9', 'state_key starting with @ must be the sender');
  }

  // 9 (v12: 10). If type is m.room.power_levels:
  if (event.type === 'm.room.power_levels') {
    checkPowerLevels(event, senderLevel, create, lookup, version);
    return;
  }

  // 10 (v12: 11). Otherwise, allow.
}

/** Rule 1 (m.room.create). */
function checkCreate(event: Pdu, version: RoomVersion): void {
  // 1.1 "If it has any prev_events, reject."
  if (event.prev_events.length > 0) throw authError(version, '1.1', '1.1', 'm.room.create must not have prev_events');
  if (version.roomIdFromCreateEvent) {
    // v12 1.2 "If the event has a room_id, reject." (The room ID is the event ID with sigil ! for $.)
    if ((event as { room_id?: unknown }).room_id !== undefined) {
      throw new AuthError('1.2', 'm.room.create must not have a room_id', 'v12');
    }
  } else if (domainOf(event.room_id) !== domainOf(event.sender)) {
    // v10/v11 1.2 "If the domain of the room_id does not match the domain of the sender, reject."
    throw new AuthError('1.2', 'room_id domain does not match the sender domain');
  }
  // 1.3 "If content.room_version is present and is not a recognised version, reject."
  if (hasOwn(event.content, 'room_version')) {
    const rv = event.content['room_version'];
    if (typeof rv !== 'string' || knownRoomVersion(rv) === undefined) {
      throw authError(version, '1.3', '1.3', 'unrecognised room_version');
    }
  }
  // 1.4 (v10 only; removed in v11) "If content has no creator property, reject."
  if (version.createHasCreator && !hasOwn(event.content, 'creator')) {
    throw new AuthError('1.4', 'm.room.create has no creator property');
  }
  // v12 1.4 "If additional_creators is present in content and is not an array of strings where each
  // string passes the same user ID validation applied to sender, reject."
  if (version.privilegedCreators && hasOwn(event.content, 'additional_creators')) {
    const additional = event.content['additional_creators'];
    if (!Array.isArray(additional) || !additional.every((id) => typeof id === 'string' && isValidUserId(id))) {
      throw new AuthError('1.4', 'additional_creators must be an array of user IDs', 'v12');
    }
  }
  // 1.5 (v10, v12) / 1.4 (v11) Otherwise, allow.
}

/** Rule 4 (v12: 5) (m.room.member). */
function checkMember(
  event: Pdu,
  create: StoredEvent,
  state: StateLookup,
  version: RoomVersion,
  options: AuthCheckOptions,
): void {
  // 4.1 (v12: 5.1) "If there is no state_key property, or no membership property in content, reject."
  const target = event.state_key;
  if (target === undefined || !hasOwn(event.content, 'membership')) {
    throw authError(version, '4.1', '5.1', 'm.room.member needs a state_key and content.membership');
  }
  const membership = event.content['membership'];

  // 4.2 (v12: 5.2) If content has a join_authorised_via_users_server key:
  //   4.2.1 (v12: 5.2.1) "If the event is not validly signed by the homeserver of the user ID denoted by
  //   the key, reject." (A null value is treated as absent, as Synapse and ruma do.)
  const authoriserValue = own(event.content, 'join_authorised_via_users_server');
  if (authoriserValue !== undefined && authoriserValue !== null) {
    const isSignedBy = options.isSignedBy ?? defaultIsSignedBy;
    if (typeof authoriserValue !== 'string' || !isSignedBy(event, domainOf(authoriserValue))) {
      throw authError(version, '4.2.1', '5.2.1', 'event is not signed by the server of join_authorised_via_users_server');
    }
  }

  const sender = event.sender;
  const senderMembership = membershipOf(sender, state);
  const targetMembership = membershipOf(target, state);

  switch (membership) {
    case 'join': {
      // 4.3.1 (v12: 5.3.1) v10: "If the only previous event is an m.room.create and the state_key is the
      // creator, allow." v11, v12: "... and the state_key is the sender of the m.room.create, allow."
      if (
        event.prev_events.length === 1 &&
        event.prev_events[0] === create.event_id &&
        target === createEventCreator(create, version)
      ) {
        return;
      }
      // 4.3.2 (v12: 5.3.2) "If the sender does not match state_key, reject."
      if (sender !== target) throw authError(version, '4.3.2', '5.3.2', 'sender may only join on their own behalf');
      // 4.3.3 (v12: 5.3.3) "If the sender is banned, reject."
      if (senderMembership === 'ban') throw authError(version, '4.3.3', '5.3.3', 'sender is banned from the room');
      const joinRule = joinRuleOf(state);
      // 4.3.4 (v12: 5.3.4) "If the join_rule is invite or knock then allow if membership state is invite
      // or join."
      if ((joinRule === 'invite' || joinRule === 'knock') && (senderMembership === 'invite' || senderMembership === 'join')) {
        return;
      }
      // 4.3.5 (v12: 5.3.5) If the join_rule is restricted or knock_restricted:
      if (joinRule === 'restricted' || joinRule === 'knock_restricted') {
        // 4.3.5.1 (v12: 5.3.5.1) "If membership state is join or invite, allow."
        if (senderMembership === 'join' || senderMembership === 'invite') return;
        // 4.3.5.2 (v12: 5.3.5.2) "If the join_authorised_via_users_server key in content is not a user
        // with sufficient permission to invite other users or is not a joined member of the room, reject."
        if (
          typeof authoriserValue !== 'string' ||
          membershipOf(authoriserValue, state) !== 'join' ||
          userPowerLevel(authoriserValue, state, version) < powerLevelFor('invite', state)
        ) {
          throw authError(version, '4.3.5.2', '5.3.5.2', 'join_authorised_via_users_server is not a joined user able to invite');
        }
        // 4.3.5.3 (v12: 5.3.5.3) "Otherwise, allow."
        return;
      }
      // 4.3.6 (v12: 5.3.6) "If the join_rule is public, allow."
      if (joinRule === 'public') return;
      // 4.3.7 (v12: 5.3.7) "Otherwise, reject."
      throw authError(version, '4.3.7', '5.3.7', `join_rule ${joinRule} does not allow ${sender} to join`);
    }

    case 'invite': {
      // 4.4.1 (v12: 5.4.1) If content has a third_party_invite property:
      if (hasOwn(event.content, 'third_party_invite')) {
        checkThirdPartyInvite(event, target, targetMembership, state, version, options);
        return;
      }
      // 4.4.2 (v12: 5.4.2) "If the sender's current membership state is not join, reject."
      if (senderMembership !== 'join') throw authError(version, '4.4.2', '5.4.2', 'sender is not joined to the room');
      // 4.4.3 (v12: 5.4.3) "If target user's current membership state is join or ban, reject."
      if (targetMembership === 'join' || targetMembership === 'ban') {
        throw authError(version, '4.4.3', '5.4.3', `target is already ${targetMembership === 'join' ? 'joined' : 'banned'}`);
      }
      // 4.4.4 (v12: 5.4.4) "If the sender's power level is greater than or equal to the invite level,
      // allow."
      if (userPowerLevel(sender, state, version) >= powerLevelFor('invite', state)) return;
      // 4.4.5 (v12: 5.4.5) "Otherwise, reject."
      throw authError(version, '4.4.5', '5.4.5', 'sender is below the invite level');
    }

    case 'leave': {
      // 4.5.1 (v12: 5.5.1) "If the sender matches state_key, allow if and only if that user's current
      // membership state is invite, join, or knock."
      if (sender === target) {
        if (senderMembership === 'invite' || senderMembership === 'join' || senderMembership === 'knock') return;
        throw authError(version, '4.5.1', '5.5.1', `cannot leave with membership ${senderMembership ?? 'none'}`);
      }
      // 4.5.2 (v12: 5.5.2) "If the sender's current membership state is not join, reject."
      if (senderMembership !== 'join') throw authError(version, '4.5.2', '5.5.2', 'sender is not joined to the room');
      const senderLevel = userPowerLevel(sender, state, version);
      // 4.5.3 (v12: 5.5.3) "If the target user's current membership state is ban, and the sender's power
      // level is less than the ban level, reject."
      if (targetMembership === 'ban' && senderLevel < powerLevelFor('ban', state)) {
        throw authError(version, '4.5.3', '5.5.3', 'sender is below the ban level and cannot unban');
      }
      // 4.5.4 (v12: 5.5.4) "If the sender's power level is greater than or equal to the kick level, and
      // the target user's power level is less than the sender's power level, allow." (v12: a creator's
      // infinite level is never less than anybody's, so creators cannot be kicked, not even by another
      // creator.)
      if (senderLevel >= powerLevelFor('kick', state) && userPowerLevel(target, state, version) < senderLevel) return;
      // 4.5.5 (v12: 5.5.5) "Otherwise, reject."
      throw authError(version, '4.5.5', '5.5.5', 'sender is below the kick level or does not outrank the target');
    }

    case 'ban': {
      // 4.6.1 (v12: 5.6.1) "If the sender's current membership state is not join, reject."
      if (senderMembership !== 'join') throw authError(version, '4.6.1', '5.6.1', 'sender is not joined to the room');
      // 4.6.2 (v12: 5.6.2) "If the sender's power level is greater than or equal to the ban level, and the
      // target user's power level is less than the sender's power level, allow." (v12: creators cannot
      // be banned.)
      const senderLevel = userPowerLevel(sender, state, version);
      if (senderLevel >= powerLevelFor('ban', state) && userPowerLevel(target, state, version) < senderLevel) return;
      // 4.6.3 (v12: 5.6.3) "Otherwise, reject."
      throw authError(version, '4.6.3', '5.6.3', 'sender is below the ban level or does not outrank the target');
    }

    case 'knock': {
      // 4.7.1 (v12: 5.7.1) "If the join_rule is anything other than knock or knock_restricted, reject."
      const joinRule = joinRuleOf(state);
      if (joinRule !== 'knock' && joinRule !== 'knock_restricted') {
        throw authError(version, '4.7.1', '5.7.1', `join_rule ${joinRule} does not allow knocking`);
      }
      // 4.7.2 (v12: 5.7.2) "If sender does not match state_key, reject."
      if (sender !== target) throw authError(version, '4.7.2', '5.7.2', 'sender may only knock on their own behalf');
      // 4.7.3 (v12: 5.7.3) "If the sender's current membership is not ban, invite, or join, allow."
      if (senderMembership !== 'ban' && senderMembership !== 'invite' && senderMembership !== 'join') return;
      // 4.7.4 (v12: 5.7.4) "Otherwise, reject."
      throw authError(version, '4.7.4', '5.7.4', `cannot knock with membership ${senderMembership}`);
    }

    default:
      // 4.8 (v12: 5.8) "Otherwise, the membership is unknown. Reject."
      throw authError(version, '4.8', '5.8', `unknown membership ${JSON.stringify(membership)}`);
  }
}

/** Rule 4.4.1 (v12: 5.4.1) (invite with content.third_party_invite). */
function checkThirdPartyInvite(
  event: Pdu,
  target: string,
  targetMembership: string | undefined,
  state: StateLookup,
  version: RoomVersion,
  options: AuthCheckOptions,
): void {
  // 4.4.1.1 (v12: 5.4.1.1) "If target user is banned, reject."
  if (targetMembership === 'ban') throw authError(version, '4.4.1.1', '5.4.1.1', 'target is banned');
  // 4.4.1.2 (v12: 5.4.1.2) "If content.third_party_invite does not have a signed property, reject."
  const tpi = own(event.content, 'third_party_invite');
  const signed = isObject(tpi) ? own(tpi, 'signed') : undefined;
  if (!isObject(signed)) throw authError(version, '4.4.1.2', '5.4.1.2', 'third_party_invite has no signed property');
  // 4.4.1.3 (v12: 5.4.1.3) "If signed does not have mxid and token properties, reject."
  const mxid = own(signed, 'mxid');
  const token = own(signed, 'token');
  if (typeof mxid !== 'string' || typeof token !== 'string') {
    throw authError(version, '4.4.1.3', '5.4.1.3', 'third_party_invite.signed needs mxid and token');
  }
  // 4.4.1.4 (v12: 5.4.1.4) "If mxid does not match state_key, reject."
  if (mxid !== target) throw authError(version, '4.4.1.4', '5.4.1.4', 'third_party_invite.signed.mxid does not match state_key');
  // 4.4.1.5 (v12: 5.4.1.5) "If there is no m.room.third_party_invite event in the current room state
  // with state_key matching token, reject."
  const tpiEvent = state('m.room.third_party_invite', token);
  if (!tpiEvent) throw authError(version, '4.4.1.5', '5.4.1.5', 'no m.room.third_party_invite event for this token');
  // 4.4.1.6 (v12: 5.4.1.6) "If sender does not match sender of the m.room.third_party_invite, reject."
  if (event.sender !== tpiEvent.sender) {
    throw authError(version, '4.4.1.6', '5.4.1.6', 'sender does not match the sender of the m.room.third_party_invite');
  }
  // 4.4.1.7 (v12: 5.4.1.7) "If any signature in signed matches any public key in the
  // m.room.third_party_invite event, allow." Keys: content.public_key, and content.public_keys[].public_key.
  const publicKeys: string[] = [];
  const single = own(tpiEvent.content, 'public_key');
  if (typeof single === 'string') publicKeys.push(single);
  const list = own(tpiEvent.content, 'public_keys');
  if (Array.isArray(list)) {
    for (const entry of list) {
      const key = isObject(entry) ? own(entry, 'public_key') : undefined;
      if (typeof key === 'string') publicKeys.push(key);
    }
  }
  if (!options.verifyThirdPartyInviteSignature) {
    // Not supported: this module does not verify ed25519 signatures itself.
    throw authError(version, '4.4.1.7', '5.4.1.7', 'third-party invite signature verification is not supported');
  }
  if (options.verifyThirdPartyInviteSignature(signed, publicKeys)) return;
  // 4.4.1.8 (v12: 5.4.1.8) "Otherwise, reject."
  throw authError(version, '4.4.1.8', '5.4.1.8', 'no signature in third_party_invite.signed matches a public key');
}

const PL_LEVEL_KEYS = ['users_default', 'events_default', 'state_default', 'ban', 'redact', 'kick', 'invite'] as const;
const PL_MAP_KEYS = ['events', 'notifications'] as const;

/** Rule 9 (v12: 10) (m.room.power_levels), after rules 5, 7 and 8 (v12: 6, 8, 9) passed. */
function checkPowerLevels(event: Pdu, senderLevel: number, create: StoredEvent, state: StateLookup, version: RoomVersion): void {
  const content = event.content;
  // 9.1 (v12: 10.1) "If any of the properties users_default, events_default, state_default, ban, redact,
  // kick, or invite in content are present and not an integer, reject." (v10+: no string values.)
  for (const key of PL_LEVEL_KEYS) {
    if (hasOwn(content, key) && !isInt(content[key])) {
      throw authError(version, '9.1', '10.1', `power_levels.${key} must be an integer`);
    }
  }
  // 9.2 (v12: 10.2) "If either of the properties events or notifications in content are present and not
  // an object with values that are integers, reject."
  for (const key of PL_MAP_KEYS) {
    if (!hasOwn(content, key)) continue;
    const map = content[key];
    if (!isObject(map) || !Object.values(map).every((v) => isInt(v))) {
      throw authError(version, '9.2', '10.2', `power_levels.${key} must be an object of integers`);
    }
  }
  // 9.3 (v12: 10.3) "If the users property in content is not an object with keys that are valid user IDs
  // with values that are integers, reject." (An absent `users` is accepted, as Synapse and ruma do.)
  if (hasOwn(content, 'users')) {
    const users = content['users'];
    if (!isObject(users)) throw authError(version, '9.3', '10.3', 'power_levels.users must be an object');
    for (const [userId, level] of Object.entries(users)) {
      if (!isValidUserId(userId)) throw authError(version, '9.3', '10.3', `power_levels.users has invalid user ID ${userId}`);
      if (!isInt(level)) throw authError(version, '9.3', '10.3', `power_levels.users[${userId}] must be an integer`);
    }
  }
  // v12 10.4 "If the users property in content contains the sender of the m.room.create event or any of
  // the additional_creators array (if present) from the content of the m.room.create event, reject."
  if (version.privilegedCreators) {
    const users = ownObject(content, 'users');
    for (const creator of roomCreators(create, version)) {
      if (hasOwn(users, creator)) throw new AuthError('10.4', `power_levels.users may not list the room creator ${creator}`, 'v12');
    }
  }
  // 9.4 (v12: 10.5) "If there is no previous m.room.power_levels event in the room, allow."
  const previous = state('m.room.power_levels', '');
  if (!previous) return;
  const old = previous.content;

  // 9.5 (v12: 10.6) For users_default, events_default, state_default, ban, redact, kick, invite "check if
  // they were added, changed or removed. For each found alteration:"
  for (const key of PL_LEVEL_KEYS) {
    const before = ownInt(old, key);
    const after = ownInt(content, key);
    if (before === after) continue;
    // 9.5.1 (v12: 10.6.1) "If the current value is higher than the sender's current power level, reject."
    if (before !== undefined && before > senderLevel) {
      throw authError(version, '9.5.1', '10.6.1', `cannot change ${key} from ${before}, above own level ${senderLevel}`);
    }
    // 9.5.2 (v12: 10.6.2) "If the new value is higher than the sender's current power level, reject."
    if (after !== undefined && after > senderLevel) {
      throw authError(version, '9.5.2', '10.6.2', `cannot set ${key} to ${after}, above own level ${senderLevel}`);
    }
  }

  // 9.6 (v12: 10.7) "For each entry being changed in, or removed from, the events or notifications
  // properties: If the current value is greater than the sender's current power level, reject."
  for (const key of PL_MAP_KEYS) {
    const [before, after] = [ownObject(old, key), ownObject(content, key)];
    for (const name of Object.keys(before)) {
      const b = ownInt(before, name);
      const a = ownInt(after, name);
      if (b !== undefined && b !== a && b > senderLevel) {
        throw authError(version, '9.6.1', '10.7.1', `cannot change ${key}.${name} from ${b}, above own level ${senderLevel}`);
      }
    }
  }
  // 9.7 (v12: 10.8) "For each entry being added to, or changed in, the events or notifications
  // properties: If the new value is greater than the sender's current power level, reject."
  for (const key of PL_MAP_KEYS) {
    const [before, after] = [ownObject(old, key), ownObject(content, key)];
    for (const name of Object.keys(after)) {
      const b = ownInt(before, name);
      const a = ownInt(after, name);
      if (a !== undefined && a !== b && a > senderLevel) {
        throw authError(version, '9.7.1', '10.8.1', `cannot set ${key}.${name} to ${a}, above own level ${senderLevel}`);
      }
    }
  }

  const usersBefore = ownObject(old, 'users');
  const usersAfter = ownObject(content, 'users');
  // 9.8 (v12: 10.9) "For each entry being changed in, or removed from, the users property, other than the
  // sender's own entry: If the current value is greater than or equal to the sender's current power
  // level, reject."
  for (const userId of Object.keys(usersBefore)) {
    if (userId === event.sender) continue;
    const b = ownInt(usersBefore, userId);
    const a = ownInt(usersAfter, userId);
    if (b !== undefined && b !== a && b >= senderLevel) {
      throw authError(version, '9.8.1', '10.9.1', `cannot change the level of ${userId} (${b}), not below own level ${senderLevel}`);
    }
  }
  // 9.9 (v12: 10.10) "For each entry being added to, or changed in, the users property: If the new value
  // is greater than the sender's current power level, reject."
  for (const userId of Object.keys(usersAfter)) {
    const b = ownInt(usersBefore, userId);
    const a = ownInt(usersAfter, userId);
    if (a !== undefined && a !== b && a > senderLevel) {
      throw authError(version, '9.9.1', '10.10.1', `cannot set the level of ${userId} to ${a}, above own level ${senderLevel}`);
    }
  }
  // 9.10 (v12: 10.11) Otherwise, allow.
}
