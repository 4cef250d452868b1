// Push rule evaluation (matrix-spec: modules/push.md "Push Rules", "Conditions", "Actions";
// appendices "Glob-style matching", "Dot-separated property paths").

import type { JsonValue } from '../events/types.js';
import { RULE_KINDS, type PushAction, type PushEvent, type PushRule, type PushRuleset, type RuleKind } from './types.js';

/** What the evaluator needs to know about the room and the user whose rules these are. */
export interface PushContext {
  /** The user whose ruleset is evaluated. */
  userId: string;
  /** The user's display name in the room (for the deprecated `contains_display_name` condition). */
  displayName?: string;
  /** Current number of joined members of the room (`room_member_count`). */
  roomMemberCount: number;
  /** The sender's power level in the room (`sender_notification_permission`). */
  senderPowerLevel: number;
  /**
   * `content.notifications` of the room's m.room.power_levels event. A key that is absent requires 50
   * (matrix-spec: m.room.power_levels "notifications.room": "Defaults to 50 if unspecified").
   */
  notificationPowerLevels: Record<string, number>;
}

export interface PushOutcome {
  /** The rule's actions contain `notify` (matrix-spec: modules/push.md "Actions"). */
  notify: boolean;
  /**
   * The value of the `highlight` tweak: `true` when given without a value, `false` when absent
   * (matrix-spec: modules/push.md "Actions", tweak `highlight`). Reported as the rule sets it, even when
   * `notify` is false; callers counting highlighted notifications should require both.
   */
  highlight: boolean;
  /** The matching rule's actions with the historical `dont_notify`/`coalesce` stripped. */
  actions: PushAction[];
  /** Tweaks set by the actions (`highlight` with no value is `true`), for the push gateway. */
  tweaks: Record<string, JsonValue>;
  /** The rule that matched and its kind. */
  ruleId: string;
  kind: RuleKind;
}

/** Power level a `sender_notification_permission` key requires when power_levels does not say. */
const DEFAULT_NOTIFICATION_LEVEL = 50;

/**
 * Evaluates `ruleset` for `event` on behalf of `ctx.userId` and returns the outcome of the first
 * matching enabled rule, or `null` when no rule matches (matrix-spec: modules/push.md "Push Rules": "If
 * no rules match an event, the homeserver MUST NOT notify").
 *
 * Returns `null` as well for an event the user sent themselves: "Homeservers MUST NOT notify the Push
 * Gateway for events that the user has sent themselves" (modules/push.md "Push Rules"; "Server
 * behaviour": rules are processed for each local user "excluding the sender").
 *
 * Order: kinds override, content, room, sender, underride; within a kind `.m.rule.master` first, then
 * user-defined rules, then the other server-default rules (modules/push.md "Predefined Rules":
 * server-default rules "operate at a lower priority than user-defined rules, except for the
 * `.m.rule.master` rule"), each group in array order. Disabled rules never match.
 */
export function evaluatePushRules(ruleset: PushRuleset, event: PushEvent, ctx: PushContext): PushOutcome | null {
  if (event.sender === ctx.userId) return null;
  for (const kind of RULE_KINDS) {
    for (const rule of prioritised(ruleset.global[kind] ?? [], kind)) {
      if (rule.enabled !== true) continue; // (modules/push.md "Push Rules": "Disabled rules never match")
      if (ruleMatches(kind, rule, event, ctx)) return outcome(kind, rule);
    }
  }
  return null;
}

// Evaluation runs once per joined member for every event, so what does not depend on the member is
// computed once: the priority order of a rules array (rulesets are cached and replaced, never
// changed in place), parsed dotted keys, and the case-folded string values of the event.
const orderCache = new WeakMap<readonly PushRule[], PushRule[]>();
const foldedValues = new WeakMap<object, Map<string, string>>();
const DOTTED_KEY_CACHE_LIMIT = 1000;
const dottedKeys = new Map<string, string[]>();

function prioritised(rules: readonly PushRule[], kind: RuleKind): PushRule[] {
  let ordered = orderCache.get(rules);
  if (!ordered) {
    ordered = prioritise(rules, kind);
    orderCache.set(rules, ordered);
  }
  return ordered;
}

function parsedKey(key: string): string[] {
  let path = dottedKeys.get(key);
  if (!path) {
    path = parseDottedKey(key);
    if (dottedKeys.size >= DOTTED_KEY_CACHE_LIMIT) dottedKeys.clear();
    dottedKeys.set(key, path);
  }
  return path;
}

/** `foldCase(value)` of a string found in `event` under `key`, folded once per event. */
function foldedOf(event: object, key: string, value: string): string {
  let values = foldedValues.get(event);
  if (!values) {
    values = new Map();
    foldedValues.set(event, values);
  }
  let folded = values.get(key);
  if (folded === undefined) {
    folded = foldCase(value);
    values.set(key, folded);
  }
  return folded;
}

function prioritise(rules: readonly PushRule[], kind: RuleKind): PushRule[] {
  const master: PushRule[] = [];
  const user: PushRule[] = [];
  const server: PushRule[] = [];
  for (const rule of rules) {
    if (kind === 'override' && rule.rule_id === '.m.rule.master') master.push(rule);
    else if (rule.rule_id.startsWith('.')) server.push(rule);
    else user.push(rule);
  }
  return [...master, ...user, ...server];
}

function ruleMatches(kind: RuleKind, rule: PushRule, event: PushEvent, ctx: PushContext): boolean {
  switch (kind) {
    case 'override':
    case 'underride': {
      // "A rule with no conditions always matches" (modules/push.md "Conditions").
      const conditions: unknown = rule.conditions ?? [];
      if (!Array.isArray(conditions)) return false;
      return conditions.every((c: unknown) => conditionMatches(c, event, ctx));
    }
    case 'content': {
      // Content rules match `pattern` against words of content.body (modules/push.md "Push Rules" 2.).
      const body = event.content['body'];
      return typeof rule.pattern === 'string' && typeof body === 'string' && compiledGlob(rule.pattern, 'words', false).test(foldedOf(event, 'content.body', body));
    }
    case 'room':
      // "The rule_id of a room rule is always the ID of the room that it affects."
      return event.room_id === rule.rule_id;
    case 'sender':
      // "The rule_id of Sender rules is always the Matrix user ID of the user whose messages they'd apply to."
      return event.sender === rule.rule_id;
  }
}

function outcome(kind: RuleKind, rule: PushRule): PushOutcome {
  const actions: PushAction[] = [];
  const tweaks: Record<string, JsonValue> = {};
  let notify = false;
  for (const action of Array.isArray(rule.actions) ? rule.actions : []) {
    // Historical actions are ignored (modules/push.md "Historical Actions").
    if (action === 'dont_notify' || action === 'coalesce') continue;
    if (action === 'notify') notify = true;
    else if (isObject(action) && typeof action['set_tweak'] === 'string') {
      const name = action['set_tweak'];
      const value = action['value'] as JsonValue | undefined;
      // "If a highlight tweak is given with no value, its value is defined to be true."
      if (value !== undefined) tweaks[name] = value;
      else if (name === 'highlight') tweaks[name] = true;
    }
    actions.push(action);
  }
  // "If no highlight tweak is given at all then the value of highlight is defined to be false."
  return { notify, highlight: tweaks['highlight'] === true, actions, tweaks, ruleId: rule.rule_id, kind };
}

// ---------------------------------------------------------------------------------------------------
// Conditions (matrix-spec: modules/push.md "Conditions")

function conditionMatches(condition: unknown, event: PushEvent, ctx: PushContext): boolean {
  if (!isObject(condition)) return false;
  const key = condition['key'];
  switch (condition['kind']) {
    case 'event_match': {
      // Glob on the whole string value; absent or non-string values never match, even for `*`.
      const pattern = condition['pattern'];
      if (typeof key !== 'string' || typeof pattern !== 'string') return false;
      const path = parsedKey(key);
      const value = lookupPath(event, path);
      if (typeof value !== 'string') return false;
      // Special case: `content.body` matches any substring between word boundaries.
      const words = path.length === 2 && path[0] === 'content' && path[1] === 'body';
      return compiledGlob(pattern, words ? 'words' : 'whole', false).test(foldedOf(event, key, value));
    }
    case 'event_property_is': {
      // Exact match of a non-compound canonical JSON value; no casting.
      if (typeof key !== 'string' || !('value' in condition)) return false;
      const expected = condition['value'];
      const value = lookupPath(event, parsedKey(key));
      return isCanonicalScalar(expected) && isCanonicalScalar(value) && value === expected;
    }
    case 'event_property_contains': {
      // The property must be an array; elements not of the scalar types are ignored.
      if (typeof key !== 'string' || !('value' in condition)) return false;
      const expected = condition['value'];
      const value = lookupPath(event, parsedKey(key));
      if (!Array.isArray(value) || !isCanonicalScalar(expected)) return false;
      return value.some((item) => isCanonicalScalar(item) && item === expected);
    }
    case 'contains_display_name': {
      // content.body contains the user's display name in the room, as a whole word sequence, literally
      // (deprecated since v1.17, still defined).
      const body = event.content['body'];
      const name = ctx.displayName;
      if (typeof body !== 'string' || typeof name !== 'string' || name.trim() === '') return false;
      return compiledGlob(name, 'words', true).test(foldedOf(event, 'content.body', body));
    }
    case 'room_member_count': {
      const is = condition['is'];
      return typeof is === 'string' && memberCountMatches(is, ctx.roomMemberCount);
    }
    case 'sender_notification_permission': {
      // The sender needs at least power_levels.notifications[key] (default 50).
      if (typeof key !== 'string') return false;
      const required = Object.hasOwn(ctx.notificationPowerLevels, key) ? ctx.notificationPowerLevels[key] : undefined;
      return ctx.senderPowerLevel >= (typeof required === 'number' ? required : DEFAULT_NOTIFICATION_LEVEL);
    }
    default:
      // "Unrecognised conditions MUST NOT match any events, effectively making the push rule disabled."
      return false;
  }
}

/**
 * `is` of room_member_count: a decimal integer optionally prefixed by `==`, `<`, `>`, `>=` or `<=`; no
 * prefix means `==` (modules/push.md "room_member_count"). Anything else never matches.
 */
export function memberCountMatches(is: string, count: number): boolean {
  const m = /^(==|<=|>=|<|>)?([0-9]+)$/.exec(is);
  if (!m) return false;
  const n = Number(m[2]);
  switch (m[1]) {
    case '<':
      return count < n;
    case '>':
      return count > n;
    case '<=':
      return count <= n;
    case '>=':
      return count >= n;
    default:
      return count === n;
  }
}

/** Strings, integers in [-(2**53)+1, (2**53)-1], booleans and null (modules/push.md "event_property_is"). */
function isCanonicalScalar(value: unknown): value is string | number | boolean | null {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isSafeInteger(value))
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------------
// Dot-separated property paths (matrix-spec: appendices "Dot-separated property paths")

/**
 * Splits a dotted key into property names. `\.` is a literal dot and `\\` a literal backslash; any other
 * backslash sequence is left as is (`\x` is a backslash followed by `x`), as is a trailing backslash.
 * E.g. `content.m\.relates_to.rel_type` → `['content', 'm.relates_to', 'rel_type']`.
 */
export function parseDottedKey(key: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < key.length; i++) {
    const ch = key[i];
    if (ch === '\\') {
      const next = key[i + 1];
      if (next === '.' || next === '\\') {
        current += next;
        i++;
      } else {
        current += '\\';
      }
    } else if (ch === '.') {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

/**
 * The value at `path` in the event (own properties of plain objects only), or `undefined` when any step
 * is absent or not an object.
 */
export function lookupPath(event: PushEvent | Record<string, unknown>, path: readonly string[]): unknown {
  let current: unknown = event;
  for (const name of path) {
    if (!isObject(current) || !Object.hasOwn(current, name)) return undefined;
    current = current[name];
  }
  return current;
}

// ---------------------------------------------------------------------------------------------------
// Glob matching (matrix-spec: appendices "Glob-style matching"; modules/push.md "event_match")

/**
 * Case-insensitive glob match: `*` matches zero or more characters, `?` exactly one (a Unicode code
 * point), everything else literally. `whole`: the pattern must match the entire value. `words`: it must
 * match a substring that starts and ends at a word boundary, i.e. the start/end of the value or next to
 * a character outside `[A-Za-z0-9_]` (modules/push.md "event_match", special case for `content.body`).
 * `literal` treats `*` and `?` as ordinary characters (display names).
 *
 * "Case insensitive" is implementation-defined by the spec. Here both sides are folded code point by
 * code point (upper- then lower-casing when that yields one code point), except that a fold never
 * turns a non-ASCII character into an ASCII one or back (so U+017F and U+212A stay themselves). That
 * keeps every character's word/non-word class, so boundaries are checked on the folded text exactly as
 * on the original.
 */
export function globMatches(pattern: string, value: string, mode: 'whole' | 'words', literal = false): boolean {
  return compiledGlob(pattern, mode, literal).test(foldCase(value));
}

const GLOB_CACHE_LIMIT = 1000;
const globCache = new Map<string, RegExp>();

function compiledGlob(pattern: string, mode: 'whole' | 'words', literal: boolean): RegExp {
  const cacheKey = `${mode}:${literal ? 'l' : 'g'}:${pattern}`;
  const cached = globCache.get(cacheKey);
  if (cached) return cached;
  let source = '';
  let previousStar = false;
  for (const ch of foldCase(pattern)) {
    if (!literal && ch === '*') {
      if (!previousStar) source += '.*'; // consecutive stars are one star (avoids needless backtracking)
      previousStar = true;
      continue;
    }
    previousStar = false;
    if (!literal && ch === '?') source += '.';
    else source += ch.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
  }
  const regex =
    mode === 'whole'
      ? new RegExp(`^(?:${source})$`, 'su')
      : new RegExp(`(?<![A-Za-z0-9_])(?:${source})(?![A-Za-z0-9_])`, 'su');
  if (globCache.size >= GLOB_CACHE_LIMIT) globCache.clear();
  globCache.set(cacheKey, regex);
  return regex;
}

const ASCII_UPPER = /[A-Z]/g;
const NON_ASCII = /[^\u0000-\u007f]/gu;

function foldCase(text: string): string {
  return text.replace(ASCII_UPPER, (c) => c.toLowerCase()).replace(NON_ASCII, foldNonAscii);
}

function foldNonAscii(ch: string): string {
  for (const candidate of [ch.toUpperCase().toLowerCase(), ch.toLowerCase()]) {
    const codePoint = candidate.codePointAt(0);
    if (codePoint !== undefined && codePoint > 0x7f && candidate.length === String.fromCodePoint(codePoint).length) {
      return candidate;
    }
  }
  return ch;
}
