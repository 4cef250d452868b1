// The predefined rules (matrix-spec: modules/push.md "Predefined Rules", v1.17 text).
import { defaultPushRules } from '../../../src/core/push/defaults.js';

const ALICE = '@alice:example.com';

describe('defaultPushRules', () => {
  it('lists exactly the spec\'s override rules in the spec\'s order', () => {
    expect(defaultPushRules(ALICE).global.override.map((r) => r.rule_id)).toEqual([
      '.m.rule.master',
      '.m.rule.suppress_notices',
      '.m.rule.invite_for_me',
      '.m.rule.member_event',
      '.m.rule.is_user_mention',
      '.m.rule.is_room_mention',
      '.m.rule.tombstone',
      '.m.rule.reaction',
      '.m.rule.room.server_acl',
      '.m.rule.suppress_edits',
    ]);
  });

  it('lists exactly the spec\'s underride rules in the spec\'s order', () => {
    expect(defaultPushRules(ALICE).global.underride.map((r) => r.rule_id)).toEqual([
      '.m.rule.call',
      '.m.rule.encrypted_room_one_to_one',
      '.m.rule.room_one_to_one',
      '.m.rule.message',
      '.m.rule.encrypted',
    ]);
  });

  it('has no content, room or sender rules (the legacy body-mention rules were removed in v1.17)', () => {
    const { global } = defaultPushRules(ALICE);
    expect(global.content).toEqual([]);
    expect(global.room).toEqual([]);
    expect(global.sender).toEqual([]);
    expect(Object.keys(global).sort()).toEqual(['content', 'override', 'room', 'sender', 'underride']);
  });

  it('marks every rule default and enabled except .m.rule.master, which is disabled', () => {
    const { global } = defaultPushRules(ALICE);
    const all = [...global.override, ...global.underride];
    expect(all.every((r) => r.default === true)).toBe(true);
    expect(all.filter((r) => !r.enabled).map((r) => r.rule_id)).toEqual(['.m.rule.master']);
    expect(all.every((r) => r.rule_id.startsWith('.'))).toBe(true);
  });

  it('matches the definitions in the spec, with the user ID filled in', () => {
    const { global } = defaultPushRules(ALICE);
    // Transcribed from modules/push.md "Default Override Rules" / "Default Underride Rules".
    expect(global.override).toEqual([
      { rule_id: '.m.rule.master', default: true, enabled: false, conditions: [], actions: [] },
      {
        rule_id: '.m.rule.suppress_notices', default: true, enabled: true,
        conditions: [{ kind: 'event_match', key: 'content.msgtype', pattern: 'm.notice' }],
        actions: [],
      },
      {
        rule_id: '.m.rule.invite_for_me', default: true, enabled: true,
        conditions: [
          { key: 'type', kind: 'event_match', pattern: 'm.room.member' },
          { key: 'content.membership', kind: 'event_match', pattern: 'invite' },
          { key: 'state_key', kind: 'event_match', pattern: ALICE },
        ],
        actions: ['notify', { set_tweak: 'sound', value: 'default' }],
      },
      {
        rule_id: '.m.rule.member_event', default: true, enabled: true,
        conditions: [{ key: 'type', kind: 'event_match', pattern: 'm.room.member' }],
        actions: [],
      },
      {
        rule_id: '.m.rule.is_user_mention', default: true, enabled: true,
        conditions: [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: ALICE }],
        actions: ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }],
      },
      {
        rule_id: '.m.rule.is_room_mention', default: true, enabled: true,
        conditions: [
          { kind: 'event_property_is', key: 'content.m\\.mentions.room', value: true },
          { kind: 'sender_notification_permission', key: 'room' },
        ],
        actions: ['notify', { set_tweak: 'highlight' }],
      },
      {
        rule_id: '.m.rule.tombstone', default: true, enabled: true,
        conditions: [
          { kind: 'event_match', key: 'type', pattern: 'm.room.tombstone' },
          { kind: 'event_match', key: 'state_key', pattern: '' },
        ],
        actions: ['notify', { set_tweak: 'highlight' }],
      },
      {
        rule_id: '.m.rule.reaction', default: true, enabled: true,
        conditions: [{ kind: 'event_match', key: 'type', pattern: 'm.reaction' }],
        actions: [],
      },
      {
        rule_id: '.m.rule.room.server_acl', default: true, enabled: true,
        conditions: [
          { kind: 'event_match', key: 'type', pattern: 'm.room.server_acl' },
          { kind: 'event_match', key: 'state_key', pattern: '' },
        ],
        actions: [],
      },
      {
        rule_id: '.m.rule.suppress_edits', default: true, enabled: true,
        conditions: [{ kind: 'event_property_is', key: 'content.m\\.relates_to.rel_type', value: 'm.replace' }],
        actions: [],
      },
    ]);
    expect(global.underride).toEqual([
      {
        rule_id: '.m.rule.call', default: true, enabled: true,
        conditions: [{ key: 'type', kind: 'event_match', pattern: 'm.call.invite' }],
        actions: ['notify', { set_tweak: 'sound', value: 'ring' }],
      },
      {
        rule_id: '.m.rule.encrypted_room_one_to_one', default: true, enabled: true,
        conditions: [
          { kind: 'room_member_count', is: '2' },
          { kind: 'event_match', key: 'type', pattern: 'm.room.encrypted' },
        ],
        actions: ['notify', { set_tweak: 'sound', value: 'default' }],
      },
      {
        rule_id: '.m.rule.room_one_to_one', default: true, enabled: true,
        conditions: [
          { kind: 'room_member_count', is: '2' },
          { kind: 'event_match', key: 'type', pattern: 'm.room.message' },
        ],
        actions: ['notify', { set_tweak: 'sound', value: 'default' }],
      },
      {
        rule_id: '.m.rule.message', default: true, enabled: true,
        conditions: [{ kind: 'event_match', key: 'type', pattern: 'm.room.message' }],
        actions: ['notify'],
      },
      {
        rule_id: '.m.rule.encrypted', default: true, enabled: true,
        conditions: [{ kind: 'event_match', key: 'type', pattern: 'm.room.encrypted' }],
        actions: ['notify'],
      },
    ]);
  });

  it('starts its override rules like the push_ruleset.yaml / m.push_rules example', () => {
    // (matrix-spec: definitions/push_ruleset.yaml example, override list)
    const example = [
      { actions: [], conditions: [], default: true, enabled: false, rule_id: '.m.rule.master' },
      {
        actions: [],
        conditions: [{ key: 'content.msgtype', kind: 'event_match', pattern: 'm.notice' }],
        default: true,
        enabled: true,
        rule_id: '.m.rule.suppress_notices',
      },
    ];
    expect(defaultPushRules(ALICE).global.override.slice(0, 2)).toEqual(example);
  });

  it('fills in the given user ID and returns fresh objects on each call', () => {
    const bob = defaultPushRules('@bob:hs.test');
    const invite = bob.global.override.find((r) => r.rule_id === '.m.rule.invite_for_me');
    expect(invite?.conditions?.[2]).toEqual({ key: 'state_key', kind: 'event_match', pattern: '@bob:hs.test' });
    const mention = bob.global.override.find((r) => r.rule_id === '.m.rule.is_user_mention');
    expect(mention?.conditions).toEqual([
      { kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: '@bob:hs.test' },
    ]);
    const again = defaultPushRules('@bob:hs.test');
    expect(again).toEqual(bob);
    expect(again.global.override).not.toBe(bob.global.override);
    expect(again.global.override[0]).not.toBe(bob.global.override[0]);
  });
});
