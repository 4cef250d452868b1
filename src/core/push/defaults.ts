// Server-default push rules (matrix-spec: modules/push.md "Predefined Rules").
//
// Since v1.17 the legacy default rules that looked for mentions in the event `body`
// (`.m.rule.contains_display_name`, `.m.rule.contains_user_name`, `.m.rule.roomnotif`) are removed
// (matrix-spec: modules/push.md "Predefined Rules", changed-in v1.17), so there are no default content
// rules: mentions are found through `m.mentions` (`.m.rule.is_user_mention`, `.m.rule.is_room_mention`).

import type { PushRule, PushRuleset } from './types.js';

/**
 * The predefined ruleset for `userId`, fresh objects on every call. Rules appear in the order the spec
 * lists them; all are `default: true` and enabled except `.m.rule.master`, which the spec defines
 * disabled. Room and sender kinds have no predefined rules.
 */
export function defaultPushRules(userId: string): PushRuleset {
  return {
    global: {
      override: defaultOverrideRules(userId),
      content: [],
      room: [],
      sender: [],
      underride: defaultUnderrideRules(),
    },
  };
}

// (matrix-spec: modules/push.md "Default Override Rules")
function defaultOverrideRules(userId: string): PushRule[] {
  return [
    // `.m.rule.master`: matches all events; disabled by default; always the highest priority.
    { rule_id: '.m.rule.master', default: true, enabled: false, conditions: [], actions: [] },
    // `.m.rule.suppress_notices`: msgtype m.notice.
    {
      rule_id: '.m.rule.suppress_notices',
      default: true,
      enabled: true,
      conditions: [{ kind: 'event_match', key: 'content.msgtype', pattern: 'm.notice' }],
      actions: [],
    },
    // `.m.rule.invite_for_me`: invites of this user.
    {
      rule_id: '.m.rule.invite_for_me',
      default: true,
      enabled: true,
      conditions: [
        { key: 'type', kind: 'event_match', pattern: 'm.room.member' },
        { key: 'content.membership', kind: 'event_match', pattern: 'invite' },
        { key: 'state_key', kind: 'event_match', pattern: userId },
      ],
      actions: ['notify', { set_tweak: 'sound', value: 'default' }],
    },
    // `.m.rule.member_event`: any other membership event is silent.
    {
      rule_id: '.m.rule.member_event',
      default: true,
      enabled: true,
      conditions: [{ key: 'type', kind: 'event_match', pattern: 'm.room.member' }],
      actions: [],
    },
    // `.m.rule.is_user_mention` (added in v1.7): the user's ID in content["m.mentions"].user_ids.
    {
      rule_id: '.m.rule.is_user_mention',
      default: true,
      enabled: true,
      conditions: [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: userId }],
      actions: ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }],
    },
    // `.m.rule.is_room_mention` (added in v1.7): content["m.mentions"].room === true from a sender
    // allowed to notify the room.
    {
      rule_id: '.m.rule.is_room_mention',
      default: true,
      enabled: true,
      conditions: [
        { kind: 'event_property_is', key: 'content.m\\.mentions.room', value: true },
        { kind: 'sender_notification_permission', key: 'room' },
      ],
      actions: ['notify', { set_tweak: 'highlight' }],
    },
    // `.m.rule.tombstone`: the m.room.tombstone state event (explicit empty state_key condition).
    {
      rule_id: '.m.rule.tombstone',
      default: true,
      enabled: true,
      conditions: [
        { kind: 'event_match', key: 'type', pattern: 'm.room.tombstone' },
        { kind: 'event_match', key: 'state_key', pattern: '' },
      ],
      actions: ['notify', { set_tweak: 'highlight' }],
    },
    // `.m.rule.reaction` (added in v1.7): m.reaction events are silent.
    {
      rule_id: '.m.rule.reaction',
      default: true,
      enabled: true,
      conditions: [{ kind: 'event_match', key: 'type', pattern: 'm.reaction' }],
      actions: [],
    },
    // `.m.rule.room.server_acl` (added in v1.4): m.room.server_acl state events are silent.
    {
      rule_id: '.m.rule.room.server_acl',
      default: true,
      enabled: true,
      conditions: [
        { kind: 'event_match', key: 'type', pattern: 'm.room.server_acl' },
        { kind: 'event_match', key: 'state_key', pattern: '' },
      ],
      actions: [],
    },
    // `.m.rule.suppress_edits` (added in v1.9): event replacements are silent.
    {
      rule_id: '.m.rule.suppress_edits',
      default: true,
      enabled: true,
      conditions: [{ kind: 'event_property_is', key: 'content.m\\.relates_to.rel_type', value: 'm.replace' }],
      actions: [],
    },
  ];
}

// (matrix-spec: modules/push.md "Default Underride Rules")
function defaultUnderrideRules(): PushRule[] {
  return [
    // `.m.rule.call`: incoming VoIP calls ring.
    {
      rule_id: '.m.rule.call',
      default: true,
      enabled: true,
      conditions: [{ key: 'type', kind: 'event_match', pattern: 'm.call.invite' }],
      actions: ['notify', { set_tweak: 'sound', value: 'ring' }],
    },
    // `.m.rule.encrypted_room_one_to_one`: any encrypted event in a room of exactly two members.
    {
      rule_id: '.m.rule.encrypted_room_one_to_one',
      default: true,
      enabled: true,
      conditions: [
        { kind: 'room_member_count', is: '2' },
        { kind: 'event_match', key: 'type', pattern: 'm.room.encrypted' },
      ],
      actions: ['notify', { set_tweak: 'sound', value: 'default' }],
    },
    // `.m.rule.room_one_to_one`: any message in a room of exactly two members.
    {
      rule_id: '.m.rule.room_one_to_one',
      default: true,
      enabled: true,
      conditions: [
        { kind: 'room_member_count', is: '2' },
        { kind: 'event_match', key: 'type', pattern: 'm.room.message' },
      ],
      actions: ['notify', { set_tweak: 'sound', value: 'default' }],
    },
    // `.m.rule.message`: all chat messages.
    {
      rule_id: '.m.rule.message',
      default: true,
      enabled: true,
      conditions: [{ kind: 'event_match', key: 'type', pattern: 'm.room.message' }],
      actions: ['notify'],
    },
    // `.m.rule.encrypted`: all encrypted events (group rooms).
    {
      rule_id: '.m.rule.encrypted',
      default: true,
      enabled: true,
      conditions: [{ kind: 'event_match', key: 'type', pattern: 'm.room.encrypted' }],
      actions: ['notify'],
    },
  ];
}
