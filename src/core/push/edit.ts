// Pure helpers behind the push rule endpoints (matrix-spec: pushrules.yaml#getPushRule, #setPushRule,
// #deletePushRule, #isPushRuleEnabled, #setPushRuleEnabled, #getPushRuleActions, #setPushRuleActions).
// Every helper returns a new ruleset and never mutates its input (unchanged rules are shared).

import { MatrixError } from '../../errors.js';
import type { JsonValue } from '../events/types.js';
import { RULE_KINDS, type PushAction, type PushCondition, type PushRule, type PushRuleset, type RuleKind } from './types.js';

export type PushRuleErrorCode = 'M_INVALID_PARAM' | 'M_BAD_JSON' | 'M_NOT_FOUND' | 'M_UNKNOWN';

/** A push rule request the spec refuses; a `MatrixError`, so the error middleware answers it as is. */
export class PushRuleError extends MatrixError {
  constructor(
    readonly code: PushRuleErrorCode,
    message: string,
  ) {
    super(code === 'M_NOT_FOUND' ? 404 : 400, code, message);
    this.name = 'PushRuleError';
  }
}

const notFound = () => new PushRuleError('M_NOT_FOUND', 'The push rule was not found.');

/** Is `ruleId` a server-default rule ID (matrix-spec: modules/push.md "Predefined Rules": they start with "."). */
export function isServerDefaultRuleId(ruleId: string): boolean {
  return ruleId.startsWith('.');
}

/**
 * Checks the body of PUT /pushrules/global/{kind}/{ruleId} and returns the rule it describes, enabled and
 * not default (matrix-spec: pushrules.yaml#setPushRule: "When creating push rules, they MUST be enabled
 * by default").
 *
 * - `ruleId` starting with "." → M_INVALID_PARAM ("the request MUST be rejected as this is reserved for
 *   server-default rules"); containing "/" or "\" → M_INVALID_PARAM ("Slashes and backslashes are also
 *   not allowed"); empty → M_INVALID_PARAM.
 * - room rules need a room ID (`!…`) and sender rules a user ID (`@…`) as `ruleId` (modules/push.md
 *   "Push Rules") → M_INVALID_PARAM otherwise.
 * - body not an object, `actions` missing or not an array, `conditions` not an array of objects with a
 *   string `kind`, `pattern` not a string → M_BAD_JSON.
 * - content rules without `pattern` → M_BAD_JSON ("Content rules take one parameter: pattern").
 * - an action that is not `notify`, a historical action or a `{set_tweak: string, value?}` object →
 *   M_INVALID_PARAM; historical `dont_notify`/`coalesce` are stripped ("Historical Actions").
 * - a known condition kind with missing or mistyped parameters (see `validateConditions`) → M_INVALID_PARAM.
 *   Unknown condition kinds are kept: they are legal and simply never match (modules/push.md "Conditions").
 *
 * `conditions` is kept only for override/underride rules (default `[]`) and `pattern` only for content
 * rules; other kinds ignore them (definitions/push_rule.yaml).
 */
export function validateRuleBody(kind: RuleKind, ruleId: string, body: unknown): PushRule {
  checkUserRuleId(kind, ruleId);
  if (!isObject(body)) throw new PushRuleError('M_BAD_JSON', 'Request body must be a JSON object');
  if (!('actions' in body)) throw new PushRuleError('M_BAD_JSON', 'Missing "actions"');
  const actions = validateActions(body['actions']);
  const rule: PushRule = { rule_id: ruleId, default: false, enabled: true, actions };
  if (kind === 'override' || kind === 'underride') {
    rule.conditions = body['conditions'] === undefined ? [] : validateConditions(body['conditions']);
  } else if (kind === 'content') {
    const pattern = body['pattern'];
    if (pattern === undefined) throw new PushRuleError('M_BAD_JSON', 'Content rules need a "pattern"');
    if (typeof pattern !== 'string') throw new PushRuleError('M_BAD_JSON', '"pattern" must be a string');
    rule.pattern = pattern;
  }
  return rule;
}

function checkUserRuleId(kind: RuleKind, ruleId: string): void {
  if (ruleId === '') throw new PushRuleError('M_INVALID_PARAM', 'Empty rule_id');
  if (isServerDefaultRuleId(ruleId)) {
    throw new PushRuleError('M_INVALID_PARAM', 'rule_ids starting with "." are reserved for server-default rules');
  }
  if (ruleId.includes('/') || ruleId.includes('\\')) {
    throw new PushRuleError('M_INVALID_PARAM', 'rule_id must not contain "/" or "\\"');
  }
  if (kind === 'room' && !ruleId.startsWith('!')) throw new PushRuleError('M_INVALID_PARAM', 'The rule_id of a room rule is a room ID');
  if (kind === 'sender' && !ruleId.startsWith('@')) throw new PushRuleError('M_INVALID_PARAM', 'The rule_id of a sender rule is a user ID');
}

/**
 * Checks an `actions` array (matrix-spec: modules/push.md "Actions") and returns it with the historical
 * `dont_notify` and `coalesce` stripped ("Historical Actions": "by stripping them from actions arrays
 * they encounter"). Not an array → M_BAD_JSON; an unknown action → M_INVALID_PARAM.
 */
export function validateActions(actions: unknown): PushAction[] {
  if (!Array.isArray(actions)) throw new PushRuleError('M_BAD_JSON', '"actions" must be an array');
  const out: PushAction[] = [];
  for (const action of actions as unknown[]) {
    if (action === 'dont_notify' || action === 'coalesce') continue;
    if (action === 'notify') {
      out.push('notify');
    } else if (isObject(action) && typeof action['set_tweak'] === 'string') {
      // Tweaks are passed through transparently; `value` may be any JSON ("Actions": set_tweak).
      const tweak: PushAction = { ...(action as Record<string, JsonValue>), set_tweak: action['set_tweak'] };
      out.push(tweak);
    } else {
      throw new PushRuleError('M_INVALID_PARAM', `Unrecognised action: ${JSON.stringify(action) ?? String(action)}`);
    }
  }
  return out;
}

const IS_PATTERN = /^(==|<=|>=|<|>)?[0-9]+$/;

/**
 * Checks a `conditions` array (matrix-spec: modules/push.md "Conditions", definitions/push_condition.yaml).
 * Not an array, or an element that is not an object with a string `kind` → M_BAD_JSON. For the defined
 * kinds: event_match needs string `key` and `pattern`; event_property_is/contains a string `key` and a
 * `value` that is a string, safe integer, boolean or null; room_member_count an `is` like `<=10`;
 * sender_notification_permission a string `key` → M_INVALID_PARAM otherwise.
 */
export function validateConditions(conditions: unknown): PushCondition[] {
  if (!Array.isArray(conditions)) throw new PushRuleError('M_BAD_JSON', '"conditions" must be an array');
  return (conditions as unknown[]).map((condition) => {
    if (!isObject(condition) || typeof condition['kind'] !== 'string') {
      throw new PushRuleError('M_BAD_JSON', 'Each condition must be an object with a string "kind"');
    }
    const bad = (what: string) => new PushRuleError('M_INVALID_PARAM', `${condition['kind']} condition: ${what}`);
    const key = condition['key'];
    switch (condition['kind']) {
      case 'event_match':
        if (typeof key !== 'string') throw bad('"key" must be a string');
        if (typeof condition['pattern'] !== 'string') throw bad('"pattern" must be a string');
        break;
      case 'event_property_is':
      case 'event_property_contains': {
        if (typeof key !== 'string') throw bad('"key" must be a string');
        const value = condition['value'];
        const ok =
          value === null ||
          typeof value === 'string' ||
          typeof value === 'boolean' ||
          (typeof value === 'number' && Number.isSafeInteger(value));
        if (!ok) throw bad('"value" must be a string, an integer in [-(2**53)+1, (2**53)-1], a boolean or null');
        break;
      }
      case 'room_member_count':
        if (typeof condition['is'] !== 'string' || !IS_PATTERN.test(condition['is'])) {
          throw bad('"is" must be a decimal integer optionally prefixed by ==, <, >, >= or <=');
        }
        break;
      case 'sender_notification_permission':
        if (typeof key !== 'string') throw bad('"key" must be a string');
        break;
      default:
        // contains_display_name has no parameters; unknown kinds are stored and never match.
        break;
    }
    return structuredClone(condition) as PushCondition;
  });
}

/** The rule `ruleId` of `kind`, or M_NOT_FOUND (matrix-spec: pushrules.yaml#getPushRule 404). */
export function findRule(ruleset: PushRuleset, kind: RuleKind, ruleId: string): PushRule {
  const rule = rulesOf(ruleset, kind).find((r) => r.rule_id === ruleId);
  if (!rule) throw notFound();
  return rule;
}

export interface RulePosition {
  before?: string;
  after?: string;
}

/**
 * Adds or replaces the user-defined rule `ruleId` of `kind` (matrix-spec: pushrules.yaml#setPushRule).
 *
 * - `ruleId` starting with "." → M_INVALID_PARAM (server-default rules cannot be added or replaced;
 *   their actions and enabled state change through `setActions`/`setEnabled`).
 * - `before`/`after` naming a server-default rule → M_INVALID_PARAM ("It is not possible to add a rule
 *   relative to a predefined server rule"); naming no rule of this kind → M_UNKNOWN (the spec's example
 *   error "before/after rule not found: someRuleId").
 * - With `before` the rule becomes the next-more important rule than `before` (and `before` wins when both
 *   are given); with `after`, the next-less important rule than `after`.
 * - Neither: a new rule becomes the most important user-defined rule of its kind (after
 *   `.m.rule.master`, which stays above everything); an existing rule keeps its place.
 * - An existing rule keeps its `enabled` state; a new one is enabled.
 */
export function upsertRule(
  ruleset: PushRuleset,
  kind: RuleKind,
  ruleId: string,
  rule: PushRule,
  position: RulePosition = {},
): PushRuleset {
  if (isServerDefaultRuleId(ruleId)) {
    throw new PushRuleError('M_INVALID_PARAM', 'rule_ids starting with "." are reserved for server-default rules');
  }
  const rules = rulesOf(ruleset, kind);
  const existingIndex = rules.findIndex((r) => r.rule_id === ruleId);
  const existing = existingIndex >= 0 ? rules[existingIndex] : undefined;
  const stored: PushRule = { ...rule, rule_id: ruleId, default: false, enabled: existing ? existing.enabled : true };
  const without = rules.filter((r) => r.rule_id !== ruleId);

  const anchor = position.before ?? position.after;
  let index: number;
  if (anchor !== undefined) {
    if (isServerDefaultRuleId(anchor)) {
      throw new PushRuleError('M_INVALID_PARAM', `Cannot add a rule relative to the server-default rule ${anchor}`);
    }
    const anchorIndex = without.findIndex((r) => r.rule_id === anchor);
    if (anchorIndex < 0) throw new PushRuleError('M_UNKNOWN', `before/after rule not found: ${anchor}`);
    index = position.before !== undefined ? anchorIndex : anchorIndex + 1;
  } else if (existing) {
    index = existingIndex;
  } else {
    index = firstUserPosition(without, kind);
  }
  const next = [...without.slice(0, index), stored, ...without.slice(index)];
  return withRules(ruleset, kind, next);
}

/** Where the most important user-defined rule goes: after a leading `.m.rule.master` (modules/push.md "Predefined Rules"). */
function firstUserPosition(rules: readonly PushRule[], kind: RuleKind): number {
  let index = 0;
  while (kind === 'override' && rules[index]?.rule_id === '.m.rule.master') index++;
  return index;
}

/**
 * Removes the user-defined rule `ruleId` (matrix-spec: pushrules.yaml#deletePushRule). Unknown →
 * M_NOT_FOUND; a server-default rule → M_INVALID_PARAM (they can only be disabled).
 */
export function deleteRule(ruleset: PushRuleset, kind: RuleKind, ruleId: string): PushRuleset {
  findRule(ruleset, kind, ruleId);
  if (isServerDefaultRuleId(ruleId)) {
    throw new PushRuleError('M_INVALID_PARAM', 'Server-default push rules cannot be deleted');
  }
  return withRules(ruleset, kind, rulesOf(ruleset, kind).filter((r) => r.rule_id !== ruleId));
}

/**
 * Enables or disables any rule, server-default ones included (matrix-spec:
 * pushrules.yaml#setPushRuleEnabled). Unknown → M_NOT_FOUND; `enabled` not a boolean → M_BAD_JSON.
 */
export function setEnabled(ruleset: PushRuleset, kind: RuleKind, ruleId: string, enabled: unknown): PushRuleset {
  findRule(ruleset, kind, ruleId);
  if (typeof enabled !== 'boolean') throw new PushRuleError('M_BAD_JSON', '"enabled" must be a boolean');
  return withRules(
    ruleset,
    kind,
    rulesOf(ruleset, kind).map((r) => (r.rule_id === ruleId ? { ...r, enabled } : r)),
  );
}

/**
 * Replaces the actions of any rule; "This can be used to change the actions of builtin rules"
 * (matrix-spec: pushrules.yaml#setPushRuleActions). Unknown → M_NOT_FOUND; actions checked as in
 * `validateActions`.
 */
export function setActions(ruleset: PushRuleset, kind: RuleKind, ruleId: string, actions: unknown): PushRuleset {
  findRule(ruleset, kind, ruleId);
  const checked = validateActions(actions);
  return withRules(
    ruleset,
    kind,
    rulesOf(ruleset, kind).map((r) => (r.rule_id === ruleId ? { ...r, actions: checked } : r)),
  );
}

function rulesOf(ruleset: PushRuleset, kind: RuleKind): readonly PushRule[] {
  return ruleset.global[kind] ?? [];
}

function withRules(ruleset: PushRuleset, kind: RuleKind, rules: PushRule[]): PushRuleset {
  const global = {} as Record<RuleKind, PushRule[]>;
  for (const k of RULE_KINDS) global[k] = k === kind ? rules : [...rulesOf(ruleset, k)];
  return { ...ruleset, global };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
