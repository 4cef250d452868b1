// Event filters (matrix-spec: client-server-api "Filtering"; filter.yaml#defineFilter / #getFilter;
// definitions/sync_filter.yaml (Filter, RoomFilter), room_event_filter.yaml (RoomEventFilter),
// event_filter.yaml (EventFilter)). Pure functions: parse and validate a filter, match events against
// it, trim events to `event_fields`. Storage of filters and their use in /sync and /messages live
// elsewhere.
import { badJson, notJson } from '../errors.js';
import { DOMAIN_SENDERS_FILTER_KEY } from './events/server-senders.js';
import type { JsonObject } from './events/types.js';

// ---------------------------------------------------------------------------------------------
// Wire types (field names as in the spec)
// ---------------------------------------------------------------------------------------------

/** event_filter.yaml (EventFilter). Every field is optional; absent means "no restriction". */
export interface EventFilter {
  /** "The maximum number of events to return, must be an integer greater than 0." */
  limit?: number;
  not_senders?: string[];
  not_types?: string[];
  senders?: string[];
  types?: string[];
}

/** room_event_filter.yaml (RoomEventFilter): EventFilter plus room-level fields. */
export interface RoomEventFilter extends EventFilter {
  unread_thread_notifications?: boolean;
  lazy_load_members?: boolean;
  include_redundant_members?: boolean;
  not_rooms?: string[];
  rooms?: string[];
  contains_url?: boolean;
  /** Hearth: the client understands server-name senders (spec/server-events.md), for /messages and /context. */
  'hearth.domain_senders'?: boolean;
}

/** sync_filter.yaml: `room.state` is a RoomEventFilter (called StateFilter in the rendered spec). */
export type StateFilter = RoomEventFilter;

/** sync_filter.yaml `room` (RoomFilter). */
export interface RoomFilter {
  not_rooms?: string[];
  rooms?: string[];
  ephemeral?: RoomEventFilter;
  include_leave?: boolean;
  state?: StateFilter;
  timeline?: RoomEventFilter;
  account_data?: RoomEventFilter;
}

/** sync_filter.yaml (Filter), the body of `POST /user/{userId}/filter` and the inline /sync filter. */
export interface Filter {
  event_fields?: string[];
  /** "The default is `client`." */
  event_format?: 'client' | 'federation';
  presence?: EventFilter;
  account_data?: EventFilter;
  room?: RoomFilter;
  /** Hearth: the client understands server-name senders (spec/server-events.md), for /sync. */
  'hearth.domain_senders'?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Own property only: a JSON key such as `constructor` must not read Object.prototype. */
const own = (o: Obj, key: string): unknown => (Object.hasOwn(o, key) ? o[key] : undefined);

const fieldName = (prefix: string, key: string) => (prefix === '' ? key : `${prefix}.${key}`);

function invalid(path: string, what: string): never {
  throw badJson(`Invalid filter: '${path}' ${what}`);
}

function optStringArray(o: Obj, prefix: string, key: string): string[] | undefined {
  const v = own(o, key);
  if (v === undefined) return undefined;
  const path = fieldName(prefix, key);
  if (!Array.isArray(v)) invalid(path, 'must be an array of strings');
  v.forEach((item: unknown, i) => {
    if (typeof item !== 'string') invalid(`${path}[${i}]`, 'must be a string');
  });
  return [...(v as string[])];
}

function optBoolean(o: Obj, prefix: string, key: string): boolean | undefined {
  const v = own(o, key);
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') invalid(fieldName(prefix, key), 'must be a boolean');
  return v;
}

function objectAt(v: unknown, path: string): Obj {
  if (!isObject(v)) invalid(path === '' ? '(filter)' : path, 'must be a JSON object');
  return v;
}

/** Copies only defined values, so a parsed filter has no `key: undefined` entries. */
function assignDefined<T extends object>(target: T, values: Partial<T>): T {
  for (const [k, v] of Object.entries(values)) {
    if (v !== undefined) (target as Obj)[k] = v;
  }
  return target;
}

function parseEventFilterAt(v: unknown, prefix: string): EventFilter {
  const o = objectAt(v, prefix);
  let limit: number | undefined;
  const rawLimit = own(o, 'limit');
  if (rawLimit !== undefined) {
    // event_filter.yaml: "must be an integer greater than 0".
    if (typeof rawLimit !== 'number' || !Number.isInteger(rawLimit) || rawLimit <= 0) {
      invalid(fieldName(prefix, 'limit'), 'must be an integer greater than 0');
    }
    limit = rawLimit;
  }
  // senders/not_senders carry `pattern: "^@"` in the schema; only the type is enforced here, an ID
  // of another shape simply never matches a sender.
  return assignDefined<EventFilter>(
    {},
    {
      limit,
      not_senders: optStringArray(o, prefix, 'not_senders'),
      not_types: optStringArray(o, prefix, 'not_types'),
      senders: optStringArray(o, prefix, 'senders'),
      types: optStringArray(o, prefix, 'types'),
    },
  );
}

function parseRoomEventFilterAt(v: unknown, prefix: string): RoomEventFilter {
  const base = parseEventFilterAt(v, prefix);
  const o = v as Obj; // checked by parseEventFilterAt
  return assignDefined<RoomEventFilter>(base, {
    unread_thread_notifications: optBoolean(o, prefix, 'unread_thread_notifications'),
    lazy_load_members: optBoolean(o, prefix, 'lazy_load_members'),
    include_redundant_members: optBoolean(o, prefix, 'include_redundant_members'),
    not_rooms: optStringArray(o, prefix, 'not_rooms'),
    rooms: optStringArray(o, prefix, 'rooms'),
    contains_url: optBoolean(o, prefix, 'contains_url'),
    ...(prefix === '' ? { [DOMAIN_SENDERS_FILTER_KEY]: optBoolean(o, prefix, DOMAIN_SENDERS_FILTER_KEY) } : {}),
  });
}

function parseRoomFilterAt(v: unknown, prefix: string): RoomFilter {
  const o = objectAt(v, prefix);
  const sub = (key: string) => {
    const x = own(o, key);
    return x === undefined ? undefined : parseRoomEventFilterAt(x, fieldName(prefix, key));
  };
  return assignDefined<RoomFilter>(
    {},
    {
      not_rooms: optStringArray(o, prefix, 'not_rooms'),
      rooms: optStringArray(o, prefix, 'rooms'),
      ephemeral: sub('ephemeral'),
      include_leave: optBoolean(o, prefix, 'include_leave'),
      state: sub('state'),
      timeline: sub('timeline'),
      account_data: sub('account_data'),
    },
  );
}

/**
 * Validates a Filter (sync_filter.yaml) by type, field by field, and returns a copy holding only the
 * known fields. Unknown keys are ignored; a known key with the wrong type throws 400 M_BAD_JSON
 * naming the field (e.g. `room.timeline.limit`). `null` is not accepted in place of a value.
 * Used for the body of `POST /user/{userId}/filter` (filter.yaml#defineFilter) and for inline
 * filters in /sync.
 */
export function parseFilter(json: unknown): Filter {
  const o = objectAt(json, '');
  const evFilter = (key: string) => {
    const x = own(o, key);
    return x === undefined ? undefined : parseEventFilterAt(x, key);
  };
  let eventFormat: Filter['event_format'];
  const rawFormat = own(o, 'event_format');
  if (rawFormat !== undefined) {
    // sync_filter.yaml: `enum: [client, federation]`.
    if (rawFormat !== 'client' && rawFormat !== 'federation') invalid('event_format', "must be 'client' or 'federation'");
    eventFormat = rawFormat;
  }
  const rawRoom = own(o, 'room');
  return assignDefined<Filter>(
    {},
    {
      event_fields: optStringArray(o, '', 'event_fields'),
      event_format: eventFormat,
      presence: evFilter('presence'),
      account_data: evFilter('account_data'),
      room: rawRoom === undefined ? undefined : parseRoomFilterAt(rawRoom, 'room'),
      [DOMAIN_SENDERS_FILTER_KEY]: optBoolean(o, '', DOMAIN_SENDERS_FILTER_KEY),
    },
  );
}

/** Validates a bare RoomEventFilter, as `/rooms/{roomId}/messages?filter=` takes (message_pagination.yaml). */
export function parseRoomEventFilter(json: unknown): RoomEventFilter {
  return parseRoomEventFilterAt(json, '');
}

function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw notJson('filter is not valid JSON');
  }
}

/**
 * sync.yaml `filter` query parameter: "The server will detect whether it is an ID or a JSON object
 * by whether the first character is a `{` open brace."
 */
export const isInlineFilter = (param: string): boolean => param.startsWith('{');

/** Parses an inline /sync filter (JSON text). Invalid JSON: 400 M_NOT_JSON; bad shape: 400 M_BAD_JSON. */
export function parseInlineFilter(text: string): Filter {
  return parseFilter(parseJsonText(text));
}

/** Parses the `filter` query parameter of /messages (and /context): a RoomEventFilter as JSON text. */
export function parseInlineRoomEventFilter(text: string): RoomEventFilter {
  return parseRoomEventFilter(parseJsonText(text));
}

// ---------------------------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------------------------

/**
 * `types`/`not_types` matching (event_filter.yaml): "A `*` can be used as a wildcard to match any
 * sequence of characters." Only `*` is special here; every other character, `?` included, is literal.
 */
export function typeGlobMatches(pattern: string, value: string): boolean {
  // Greedy wildcard matching with a single backtrack point (linear-ish, no regex compilation).
  let p = 0;
  let v = 0;
  let starP = -1;
  let starV = 0;
  while (v < value.length) {
    if (p < pattern.length && pattern[p] === '*') {
      starP = p++;
      starV = v;
    } else if (p < pattern.length && pattern[p] === value[v]) {
      p++;
      v++;
    } else if (starP >= 0) {
      p = starP + 1;
      v = ++starV;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** The parts of an event a filter looks at. */
export interface FilterableEvent {
  type: string;
  /** Events without a sender (typing, receipts) pass `undefined`: they never match a `senders` list. */
  sender?: string | undefined;
  /** Only checked against `rooms`/`not_rooms` when given. */
  room_id?: string | undefined;
  content?: JsonObject | undefined;
}

/**
 * Applies `not_X` then `X` (event_filter.yaml, room_event_filter.yaml): "A matching X will be excluded
 * even if it is listed in the `X` filter"; an absent list means no restriction. An empty positive
 * list allows nothing.
 */
function listAllows(value: string | undefined, allow: string[] | undefined, deny: string[] | undefined, match: (p: string, v: string) => boolean): boolean {
  if (deny && value !== undefined && deny.some((d) => match(d, value))) return false;
  if (allow) return value !== undefined && allow.some((a) => match(a, value));
  return true;
}

const exact = (a: string, b: string) => a === b;

/**
 * Whether `ev` passes `filter` (undefined filter: everything passes).
 * - `types`/`not_types` with `*` wildcards, `senders`/`not_senders` by exact user ID; `not_*` wins.
 * - For a RoomEventFilter: `rooms`/`not_rooms` against `ev.room_id` (when given), and `contains_url`:
 *   "If `true`, includes only events with a `url` key in their content. If `false`, excludes those
 *   events." A `url` counts only when it is a string.
 * `limit` is not a per-event property: see {@link eventLimit}.
 */
export function eventMatches(filter: EventFilter | RoomEventFilter | undefined, ev: FilterableEvent): boolean {
  if (!filter) return true;
  if (!listAllows(ev.type, filter.types, filter.not_types, typeGlobMatches)) return false;
  if (!listAllows(ev.sender, filter.senders, filter.not_senders, exact)) return false;
  const rf = filter as RoomEventFilter;
  if (ev.room_id !== undefined && !listAllows(ev.room_id, rf.rooms, rf.not_rooms, exact)) return false;
  if (rf.contains_url !== undefined) {
    const hasUrl = typeof ev.content?.url === 'string';
    if (hasUrl !== rf.contains_url) return false;
  }
  return true;
}

/**
 * sync_filter.yaml `room.rooms` / `room.not_rooms`: "A matching room will be excluded even if it is
 * listed in the `rooms` filter. This filter is applied before the filters in `ephemeral`, `state`,
 * `timeline` or `account_data`."
 */
export function roomAllowed(filter: RoomFilter | undefined, roomId: string): boolean {
  if (!filter) return true;
  return listAllows(roomId, filter.rooms, filter.not_rooms, exact);
}

// ---------------------------------------------------------------------------------------------
// Limits and lazy loading
// ---------------------------------------------------------------------------------------------

/** Server-side default and cap for a timeline (event_filter.yaml `limit`: "Servers should apply a default value, and impose a maximum value"). */
export const DEFAULT_TIMELINE_LIMIT = 10;
export const MAX_TIMELINE_LIMIT = 100;

/** `filter.limit`, or `defaultLimit` when absent, capped at `max`. */
export function eventLimit(filter: EventFilter | undefined, defaultLimit: number, max: number): number {
  return Math.min(filter?.limit ?? defaultLimit, max);
}

/** Number of timeline events per room for /sync: `room.timeline.limit`, default 10, at most 100. */
export function timelineLimit(filter: Filter | undefined, defaultLimit = DEFAULT_TIMELINE_LIMIT, max = MAX_TIMELINE_LIMIT): number {
  return eventLimit(filter?.room?.timeline, defaultLimit, max);
}


// ---------------------------------------------------------------------------------------------
// event_fields
// ---------------------------------------------------------------------------------------------

/**
 * Splits a dot-separated property path (appendices "Dot-separated property paths"): `.` separates,
 * `\.` is a literal dot and `\\` a literal backslash; "Other escape sequences are left as-is, e.g. a
 * `\x` would be treated as a literal backslash followed by 'x'."
 */
export function splitFieldPath(path: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    if (c === '\\') {
      const next = path[i + 1];
      if (next === '.' || next === '\\') {
        cur += next;
        i++;
      } else {
        cur += '\\';
      }
    } else if (c === '.') {
      parts.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  parts.push(cur);
  return parts;
}

/** Sets an own, enumerable property even for keys like `__proto__`. */
function setOwn(o: Obj, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Keeps only the `fields` of `event` (sync_filter.yaml `event_fields`: "List of event fields to
 * include. If this list is absent then all fields are included. ... `['content.body']` will include
 * the `body` field of the `content` object."). Paths walk JSON objects only (not arrays); a path whose
 * value is missing is skipped. Returned values are deep copies, so the result can be changed freely.
 *
 * An absent or empty list returns the event unchanged (same object): "A server may include more
 * fields than were requested", and an event with no fields at all is of no use to a client.
 */
export function applyEventFields<T extends object>(event: T, fields: string[] | undefined): Partial<T> {
  if (!fields || fields.length === 0) return event;
  const out: Obj = {};
  for (const field of fields) {
    const path = splitFieldPath(field);
    // Find the value first, so that a missing path leaves no empty containers behind.
    let value: unknown = event;
    let found = true;
    for (const key of path) {
      if (!isObject(value) || !Object.hasOwn(value, key)) {
        found = false;
        break;
      }
      value = value[key];
    }
    if (!found) continue;
    let d = out;
    for (const key of path.slice(0, -1)) {
      // Reuse the container an earlier path built (or copied whole).
      const existing = Object.hasOwn(d, key) ? d[key] : undefined;
      if (isObject(existing)) {
        d = existing;
      } else {
        const next: Obj = {};
        setOwn(d, key, next);
        d = next;
      }
    }
    setOwn(d, path[path.length - 1] as string, structuredClone(value));
  }
  return out as Partial<T>;
}
