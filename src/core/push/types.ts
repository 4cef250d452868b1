// Push rule shapes (matrix-spec: modules/push.md "Push Rules"; definitions/push_rule.yaml,
// definitions/push_condition.yaml, definitions/push_ruleset.yaml).

import type { JsonObject, JsonValue } from '../events/types.js';

/**
 * The kinds of rule, in the order they are checked (matrix-spec: modules/push.md "Push Rules":
 * override, content, room, sender, underride).
 */
export type RuleKind = 'override' | 'content' | 'room' | 'sender' | 'underride';

/** Kinds in evaluation order (matrix-spec: modules/push.md "Push Rules"). */
export const RULE_KINDS: readonly RuleKind[] = ['override', 'content', 'room', 'sender', 'underride'];

export function isRuleKind(value: unknown): value is RuleKind {
  return typeof value === 'string' && (RULE_KINDS as readonly string[]).includes(value);
}

/**
 * A `set_tweak` action (matrix-spec: modules/push.md "Actions"): `{set_tweak: name, value?}`.
 * Tweaks other than `sound` and `highlight` are passed through untouched.
 */
export interface SetTweakAction {
  set_tweak: string;
  value?: JsonValue;
}

/**
 * An action (matrix-spec: modules/push.md "Actions"). `dont_notify` and `coalesce` are historical
 * actions ("Historical Actions") and are ignored: the edit helpers strip them and the evaluator skips them.
 */
export type PushAction = 'notify' | 'dont_notify' | 'coalesce' | SetTweakAction;

/** Values `event_property_is` / `event_property_contains` compare against (non-compound canonical JSON). */
export type ScalarJson = string | number | boolean | null;

/** A condition (matrix-spec: modules/push.md "Conditions"; definitions/push_condition.yaml). */
export type PushCondition =
  | { kind: 'event_match'; key: string; pattern: string }
  | { kind: 'event_property_is'; key: string; value: ScalarJson }
  | { kind: 'event_property_contains'; key: string; value: ScalarJson }
  /** Deprecated since v1.17 but still defined (matrix-spec: modules/push.md "contains_display_name"). */
  | { kind: 'contains_display_name' }
  | { kind: 'room_member_count'; is: string }
  | { kind: 'sender_notification_permission'; key: string }
  /** Any other kind: stored as given, never matches (matrix-spec: modules/push.md "Conditions"). */
  | UnknownCondition;

export interface UnknownCondition {
  kind: string;
  [param: string]: JsonValue | undefined;
}

/**
 * A push rule as it appears on the wire (matrix-spec: definitions/push_rule.yaml). `conditions` only on
 * override/underride rules, `pattern` only on content rules; room and sender rules carry neither
 * (their `rule_id` is the room / user ID).
 */
export interface PushRule {
  rule_id: string;
  default: boolean;
  enabled: boolean;
  actions: PushAction[];
  conditions?: PushCondition[];
  pattern?: string;
}

/** The `global` ruleset (matrix-spec: pushrules.yaml#getPushRules, definitions/push_ruleset.yaml). */
export interface PushRuleset {
  global: Record<RuleKind, PushRule[]>;
}

/** The event fields push rules look at. A `StoredEvent` satisfies it; other top-level fields are visible to dotted keys too. */
export interface PushEvent {
  type: string;
  sender: string;
  room_id: string;
  content: JsonObject;
  state_key?: string;
}
