// Push rule evaluation (matrix-spec: modules/push.md "Push Rules", "Conditions", "Predefined Rules";
// appendices "Glob-style matching", "Dot-separated property paths").
import { defaultPushRules } from '../../../src/core/push/defaults.js';
import {
  evaluatePushRules,
  globMatches,
  lookupPath,
  memberCountMatches,
  parseDottedKey,
  type PushContext,
} from '../../../src/core/push/evaluate.js';
import type { PushEvent, PushRule, PushRuleset } from '../../../src/core/push/types.js';
import type { JsonObject } from '../../../src/core/events/types.js';

const ALICE = '@alice:hs.test';
const BOB = '@bob:hs.test';
const ROOM = '!room:hs.test';

function ctx(over: Partial<PushContext> = {}): PushContext {
  return {
    userId: ALICE,
    displayName: 'Alice Liddell',
    roomMemberCount: 5,
    senderPowerLevel: 0,
    notificationPowerLevels: {},
    ...over,
  };
}

function ev(type: string, content: JsonObject, over: Partial<PushEvent> = {}): PushEvent {
  return { type, sender: BOB, room_id: ROOM, content, ...over };
}

const text = (body: string, extra: JsonObject = {}) => ev('m.room.message', { msgtype: 'm.text', body, ...extra });

function withRule(ruleset: PushRuleset, kind: keyof PushRuleset['global'], rule: PushRule, atStart = true): PushRuleset {
  const rules = ruleset.global[kind];
  return { global: { ...ruleset.global, [kind]: atStart ? [rule, ...rules] : [...rules, rule] } };
}

describe('evaluatePushRules with the default rules', () => {
  const rules = defaultPushRules(ALICE);

  it('notifies with the default sound for a plain message in a two-member room (.m.rule.room_one_to_one)', () => {
    expect(evaluatePushRules(rules, text('hi'), ctx({ roomMemberCount: 2 }))).toEqual({
      notify: true,
      highlight: false,
      actions: ['notify', { set_tweak: 'sound', value: 'default' }],
      tweaks: { sound: 'default' },
      ruleId: '.m.rule.room_one_to_one',
      kind: 'underride',
    });
  });

  it('notifies without sound for a message in a bigger room (.m.rule.message)', () => {
    expect(evaluatePushRules(rules, text('hi'), ctx({ roomMemberCount: 3 }))).toEqual({
      notify: true,
      highlight: false,
      actions: ['notify'],
      tweaks: {},
      ruleId: '.m.rule.message',
      kind: 'underride',
    });
  });

  it('encrypted events: one-to-one with sound, group without', () => {
    const e = ev('m.room.encrypted', { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'x' });
    expect(evaluatePushRules(rules, e, ctx({ roomMemberCount: 2 }))?.ruleId).toBe('.m.rule.encrypted_room_one_to_one');
    expect(evaluatePushRules(rules, e, ctx({ roomMemberCount: 2 }))?.tweaks).toEqual({ sound: 'default' });
    expect(evaluatePushRules(rules, e, ctx({ roomMemberCount: 7 }))?.ruleId).toBe('.m.rule.encrypted');
  });

  it('rings for call invites (.m.rule.call)', () => {
    const out = evaluatePushRules(rules, ev('m.call.invite', { call_id: 'c', version: '1' }), ctx());
    expect(out?.ruleId).toBe('.m.rule.call');
    expect(out?.notify).toBe(true);
    expect(out?.tweaks).toEqual({ sound: 'ring' });
  });

  it('never notifies the user for their own events (returns null)', () => {
    expect(evaluatePushRules(rules, text('hi', { 'm.mentions': { user_ids: [ALICE] } }, ), ctx())).not.toBeNull();
    expect(evaluatePushRules(rules, { ...text('hi'), sender: ALICE }, ctx({ roomMemberCount: 2 }))).toBeNull();
    expect(evaluatePushRules(rules, { ...text('hi', { 'm.mentions': { user_ids: [ALICE] } }), sender: ALICE }, ctx())).toBeNull();
  });

  it('returns null when no rule matches (e.g. a custom event type)', () => {
    expect(evaluatePushRules(rules, ev('org.example.custom', { body: 'hi' }), ctx())).toBeNull();
  });

  it('highlights a message mentioning the user in m.mentions.user_ids (.m.rule.is_user_mention)', () => {
    const out = evaluatePushRules(rules, text('hey', { 'm.mentions': { user_ids: ['@carol:hs.test', ALICE] } }), ctx());
    expect(out).toEqual({
      notify: true,
      highlight: true,
      actions: ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }],
      tweaks: { sound: 'default', highlight: true },
      ruleId: '.m.rule.is_user_mention',
      kind: 'override',
    });
  });

  it('does not highlight a mention of someone else, nor the user ID only in the body (legacy rules removed)', () => {
    const other = evaluatePushRules(rules, text(`hey ${ALICE}`, { 'm.mentions': { user_ids: ['@carol:hs.test'] } }), ctx());
    expect(other?.ruleId).toBe('.m.rule.message');
    expect(other?.highlight).toBe(false);
  });

  it('does not treat a top-level "m.mentions.user_ids" dotted property name as m.mentions', () => {
    const out = evaluatePushRules(rules, text('hey', { 'm.mentions.user_ids': [ALICE] }), ctx());
    expect(out?.ruleId).toBe('.m.rule.message');
  });

  it('highlights @room from a sender with enough power and not from one without (.m.rule.is_room_mention)', () => {
    const e = text('everyone!', { 'm.mentions': { room: true } });
    const powerful = evaluatePushRules(rules, e, ctx({ senderPowerLevel: 50 }));
    expect(powerful?.ruleId).toBe('.m.rule.is_room_mention');
    expect(powerful?.notify).toBe(true);
    expect(powerful?.highlight).toBe(true);
    const weak = evaluatePushRules(rules, e, ctx({ senderPowerLevel: 49 }));
    expect(weak?.ruleId).toBe('.m.rule.message');
    expect(weak?.highlight).toBe(false);
  });

  it('uses power_levels.notifications.room when set', () => {
    const e = text('everyone!', { 'm.mentions': { room: true } });
    expect(evaluatePushRules(rules, e, ctx({ senderPowerLevel: 10, notificationPowerLevels: { room: 10 } }))?.highlight).toBe(true);
    expect(evaluatePushRules(rules, e, ctx({ senderPowerLevel: 99, notificationPowerLevels: { room: 100 } }))?.highlight).toBe(false);
  });

  it('requires m.mentions.room to be exactly true (no casting)', () => {
    const e = text('everyone!', { 'm.mentions': { room: 'true' } });
    expect(evaluatePushRules(rules, e, ctx({ senderPowerLevel: 100 }))?.ruleId).toBe('.m.rule.message');
  });

  it('suppresses m.notice messages (.m.rule.suppress_notices)', () => {
    const out = evaluatePushRules(rules, ev('m.room.message', { msgtype: 'm.notice', body: 'bot says' }), ctx({ roomMemberCount: 2 }));
    expect(out).toEqual({ notify: false, highlight: false, actions: [], tweaks: {}, ruleId: '.m.rule.suppress_notices', kind: 'override' });
  });

  it('notifies for an invite of the user (.m.rule.invite_for_me) and not for other membership events', () => {
    const invite = ev('m.room.member', { membership: 'invite' }, { state_key: ALICE });
    const out = evaluatePushRules(rules, invite, ctx());
    expect(out?.ruleId).toBe('.m.rule.invite_for_me');
    expect(out?.notify).toBe(true);
    expect(out?.tweaks).toEqual({ sound: 'default' });

    const otherInvite = ev('m.room.member', { membership: 'invite' }, { state_key: '@carol:hs.test' });
    expect(evaluatePushRules(rules, otherInvite, ctx())).toMatchObject({ notify: false, ruleId: '.m.rule.member_event' });
    const join = ev('m.room.member', { membership: 'join' }, { state_key: BOB });
    expect(evaluatePushRules(rules, join, ctx({ roomMemberCount: 2 }))).toMatchObject({ notify: false, ruleId: '.m.rule.member_event' });
  });

  it('silences reactions (.m.rule.reaction) and server ACL changes (.m.rule.room.server_acl)', () => {
    const reaction = ev('m.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: '$x', key: '👍' } });
    expect(evaluatePushRules(rules, reaction, ctx({ roomMemberCount: 2 }))).toMatchObject({ notify: false, ruleId: '.m.rule.reaction' });
    const acl = ev('m.room.server_acl', { allow: ['*'] }, { state_key: '' });
    expect(evaluatePushRules(rules, acl, ctx())).toMatchObject({ notify: false, ruleId: '.m.rule.room.server_acl' });
  });

  it('silences edits (.m.rule.suppress_edits), even ones that mention the user again', () => {
    const edit = text('* fixed', {
      'm.new_content': { msgtype: 'm.text', body: 'fixed' },
      'm.relates_to': { rel_type: 'm.replace', event_id: '$orig' },
    });
    expect(evaluatePushRules(rules, edit, ctx({ roomMemberCount: 2 }))).toMatchObject({ notify: false, ruleId: '.m.rule.suppress_edits' });
    const thread = text('reply', { 'm.relates_to': { rel_type: 'm.thread', event_id: '$root' } });
    expect(evaluatePushRules(rules, thread, ctx())?.ruleId).toBe('.m.rule.message');
  });

  it('highlights a room upgrade only for the state event (.m.rule.tombstone)', () => {
    const tomb = ev('m.room.tombstone', { body: 'moved', replacement_room: '!new:hs.test' }, { state_key: '' });
    expect(evaluatePushRules(rules, tomb, ctx())).toMatchObject({ notify: true, highlight: true, ruleId: '.m.rule.tombstone' });
    const notState = ev('m.room.tombstone', { body: 'moved', replacement_room: '!new:hs.test' });
    expect(evaluatePushRules(rules, notState, ctx())).toBeNull();
  });

  it('stops everything when the master rule is enabled, and is skipped while disabled', () => {
    const muted: PushRuleset = {
      global: {
        ...rules.global,
        override: rules.global.override.map((r) => (r.rule_id === '.m.rule.master' ? { ...r, enabled: true } : r)),
      },
    };
    const mention = text('hey', { 'm.mentions': { user_ids: [ALICE] } });
    expect(evaluatePushRules(muted, mention, ctx())).toEqual({
      notify: false, highlight: false, actions: [], tweaks: {}, ruleId: '.m.rule.master', kind: 'override',
    });
    expect(evaluatePushRules(rules, mention, ctx())?.ruleId).toBe('.m.rule.is_user_mention');
  });

  it('keeps the master rule above user-defined overrides wherever it sits in the array', () => {
    const master = { ...rules.global.override[0]!, enabled: true };
    const loud: PushRule = { rule_id: 'loud', default: false, enabled: true, conditions: [], actions: ['notify'] };
    const set: PushRuleset = { global: { ...rules.global, override: [loud, ...rules.global.override.slice(1), master] } };
    expect(evaluatePushRules(set, text('hi'), ctx())?.ruleId).toBe('.m.rule.master');
  });
});

describe('evaluatePushRules with user-defined rules', () => {
  const base = defaultPushRules(ALICE);

  it('a user override with ["dont_notify"] is a silent match that beats the mention rules', () => {
    const rule: PushRule = {
      rule_id: 'quiet-bots',
      default: false,
      enabled: true,
      conditions: [{ kind: 'event_match', key: 'sender', pattern: '@*bot:hs.test' }],
      actions: ['dont_notify'],
    };
    const set = withRule(base, 'override', rule, false); // appended after the defaults: still above them
    const e = { ...text('ping', { 'm.mentions': { user_ids: [ALICE] } }), sender: '@newsbot:hs.test' };
    expect(evaluatePushRules(set, e, ctx())).toEqual({
      notify: false, highlight: false, actions: [], tweaks: {}, ruleId: 'quiet-bots', kind: 'override',
    });
    expect(evaluatePushRules(set, text('ping', { 'm.mentions': { user_ids: [ALICE] } }), ctx())?.ruleId).toBe('.m.rule.is_user_mention');
  });

  it('a disabled user rule never matches', () => {
    const rule: PushRule = { rule_id: 'off', default: false, enabled: false, conditions: [], actions: ['notify', { set_tweak: 'highlight' }] };
    expect(evaluatePushRules(withRule(base, 'override', rule), text('hi'), ctx())?.ruleId).toBe('.m.rule.message');
  });

  it('ignores coalesce and keeps other tweaks, highlight false by value', () => {
    const rule: PushRule = {
      rule_id: 'custom', default: false, enabled: true, conditions: [],
      actions: ['coalesce', 'notify', { set_tweak: 'sound', value: 'bing' }, { set_tweak: 'highlight', value: false }],
    };
    expect(evaluatePushRules(withRule(base, 'override', rule), text('hi'), ctx())).toEqual({
      notify: true,
      highlight: false,
      actions: ['notify', { set_tweak: 'sound', value: 'bing' }, { set_tweak: 'highlight', value: false }],
      tweaks: { sound: 'bing', highlight: false },
      ruleId: 'custom',
      kind: 'override',
    });
  });

  it('content rules match words of the body, case-insensitively, before room/sender/underride rules', () => {
    const cake: PushRule = { rule_id: 'cake', default: false, enabled: true, pattern: 'cake*lie', actions: ['notify', { set_tweak: 'highlight' }] };
    const set = withRule(base, 'content', cake);
    expect(evaluatePushRules(set, text('The CAKE is a lie!'), ctx())).toMatchObject({ ruleId: 'cake', kind: 'content', highlight: true });
    expect(evaluatePushRules(set, text('cupcake is a lie'), ctx())?.ruleId).toBe('.m.rule.message');
    expect(evaluatePushRules(set, text('the cake is a lier'), ctx())?.ruleId).toBe('.m.rule.message');
    expect(evaluatePushRules(set, ev('m.room.message', { msgtype: 'm.text' }), ctx())?.ruleId).toBe('.m.rule.message');
  });

  it('room rules match by room ID and sender rules by user ID, room before sender', () => {
    const mutedRoom: PushRule = { rule_id: ROOM, default: false, enabled: true, actions: [] };
    const loudBob: PushRule = { rule_id: BOB, default: false, enabled: true, actions: ['notify', { set_tweak: 'sound', value: 'bob' }] };
    const roomOnly = withRule(base, 'room', mutedRoom);
    expect(evaluatePushRules(roomOnly, text('hi'), ctx())).toMatchObject({ notify: false, ruleId: ROOM, kind: 'room' });
    expect(evaluatePushRules(roomOnly, { ...text('hi'), room_id: '!other:hs.test' }, ctx())?.ruleId).toBe('.m.rule.message');

    const both = withRule(roomOnly, 'sender', loudBob);
    expect(evaluatePushRules(both, text('hi'), ctx())?.ruleId).toBe(ROOM);
    expect(evaluatePushRules(both, { ...text('hi'), room_id: '!other:hs.test' }, ctx())).toMatchObject({
      notify: true, ruleId: BOB, kind: 'sender', tweaks: { sound: 'bob' },
    });
    expect(evaluatePushRules(both, { ...text('hi'), room_id: '!other:hs.test', sender: '@carol:hs.test' }, ctx())?.ruleId).toBe('.m.rule.message');
  });

  it('contains_display_name matches the display name as whole words, literally and case-insensitively', () => {
    const rule: PushRule = {
      rule_id: 'my-name', default: false, enabled: true,
      conditions: [{ kind: 'contains_display_name' }],
      actions: ['notify', { set_tweak: 'highlight' }],
    };
    const set = withRule(base, 'override', rule);
    expect(evaluatePushRules(set, text('hello alice liddell, how are you?'), ctx())).toMatchObject({ ruleId: 'my-name', highlight: true });
    expect(evaluatePushRules(set, text('Alice Liddell'), ctx())?.ruleId).toBe('my-name');
    expect(evaluatePushRules(set, text('alice liddells'), ctx())?.ruleId).toBe('.m.rule.message');
    expect(evaluatePushRules(set, text('alice'), ctx())?.ruleId).toBe('.m.rule.message');
    expect(evaluatePushRules(set, text('hi'), ctx({ displayName: undefined }))?.ruleId).toBe('.m.rule.message');
    // The name is not a glob: "A*" only matches a literal "a*".
    expect(evaluatePushRules(set, text('hello Anna'), ctx({ displayName: 'A*' }))?.ruleId).toBe('.m.rule.message');
    expect(evaluatePushRules(set, text('hello a* !'), ctx({ displayName: 'A*' }))?.ruleId).toBe('my-name');
  });

  it('event_match globs on other keys match the whole value', () => {
    const rule: PushRule = {
      rule_id: 'topic', default: false, enabled: true,
      conditions: [{ kind: 'event_match', key: 'content.topic', pattern: 'lunc?*' }],
      actions: ['notify'],
    };
    const set = withRule(base, 'override', rule);
    const topic = (t: JsonObject[string]) => ev('m.room.topic', { topic: t }, { state_key: '' });
    // The spec's example (modules/push.md "event_match").
    expect(evaluatePushRules(set, topic('Lunch plans'), ctx())?.ruleId).toBe('topic');
    expect(evaluatePushRules(set, topic('LUNCH'), ctx())?.ruleId).toBe('topic');
    expect(evaluatePushRules(set, topic(' lunch'), ctx())).toBeNull();
    expect(evaluatePushRules(set, topic('lunc'), ctx())).toBeNull();
    expect(evaluatePushRules(set, topic(null), ctx())).toBeNull();
  });

  it('event_match with "*" does not match an absent or non-string property', () => {
    const rule: PushRule = {
      rule_id: 'any-foo', default: false, enabled: true,
      conditions: [{ kind: 'event_match', key: 'content.foo', pattern: '*' }],
      actions: ['notify'],
    };
    const set = withRule(base, 'override', rule);
    expect(evaluatePushRules(set, ev('x.custom', { foo: '' }), ctx())?.ruleId).toBe('any-foo');
    expect(evaluatePushRules(set, ev('x.custom', {}), ctx())).toBeNull();
    expect(evaluatePushRules(set, ev('x.custom', { foo: 1 }), ctx())).toBeNull();
    expect(evaluatePushRules(set, ev('x.custom', { foo: ['a'] }), ctx())).toBeNull();
  });

  it('escaped dotted keys reach properties whose names contain dots and backslashes', () => {
    const rule: PushRule = {
      rule_id: 'escaped', default: false, enabled: true,
      conditions: [
        { kind: 'event_match', key: 'content.org\\.example\\.flag.m\\\\x', pattern: 'on' },
        { kind: 'event_property_is', key: 'content.m\\.federate', value: false },
      ],
      actions: ['notify'],
    };
    const set = withRule(base, 'override', rule);
    const good = ev('x.custom', { 'org.example.flag': { 'm\\x': 'ON' }, 'm.federate': false });
    expect(evaluatePushRules(set, good, ctx())?.ruleId).toBe('escaped');
    const nested = ev('x.custom', { org: { example: { flag: { 'm\\x': 'on' } } }, 'm.federate': false });
    expect(evaluatePushRules(set, nested, ctx())).toBeNull();
    const cast = ev('x.custom', { 'org.example.flag': { 'm\\x': 'on' }, 'm.federate': 'false' });
    expect(evaluatePushRules(set, cast, ctx())).toBeNull();
  });

  it('event_property_contains matches whole array values only, and only arrays', () => {
    const rule: PushRule = {
      rule_id: 'alias', default: false, enabled: true,
      conditions: [{ kind: 'event_property_contains', key: 'content.alt_aliases', value: '#myroom:example.com' }],
      actions: ['notify'],
    };
    const set = withRule(base, 'override', rule);
    const alias = (alt: JsonObject[string]) => ev('m.room.canonical_alias', { alias: '#somewhere:localhost', alt_aliases: alt }, { state_key: '' });
    expect(evaluatePushRules(set, alias(['#somewhere:example.org', '#myroom:example.com']), ctx())?.ruleId).toBe('alias');
    expect(evaluatePushRules(set, alias([':example.com']), ctx())).toBeNull();
    expect(evaluatePushRules(set, alias('#myroom:example.com'), ctx())).toBeNull();
  });

  it('room_member_count comparisons', () => {
    const rule = (is: string): PushRule => ({
      rule_id: 'count', default: false, enabled: true,
      conditions: [{ kind: 'room_member_count', is }, { kind: 'event_match', key: 'type', pattern: 'x.custom' }],
      actions: ['notify'],
    });
    const run = (is: string, n: number) => evaluatePushRules(withRule(base, 'override', rule(is)), ev('x.custom', {}), ctx({ roomMemberCount: n }))?.ruleId ?? null;
    expect(run('<=10', 10)).toBe('count');
    expect(run('<=10', 11)).toBeNull();
    expect(run('<10', 10)).toBeNull();
    expect(run('>2', 3)).toBe('count');
    expect(run('>=3', 3)).toBe('count');
    expect(run('==4', 4)).toBe('count');
    expect(run('4', 5)).toBeNull();
  });

  it('an unrecognised condition kind makes the rule never match', () => {
    const rule: PushRule = {
      rule_id: 'future', default: false, enabled: true,
      conditions: [{ kind: 'org.example.future_condition', key: 'type' }],
      actions: ['notify', { set_tweak: 'highlight' }],
    };
    expect(evaluatePushRules(withRule(base, 'override', rule), text('hi'), ctx())?.ruleId).toBe('.m.rule.message');
  });
});

describe('glob matching and dotted keys', () => {
  it('parses dotted keys with the appendix escapes', () => {
    expect(parseDottedKey('content.body')).toEqual(['content', 'body']);
    expect(parseDottedKey('content.m\\.relates_to.rel_type')).toEqual(['content', 'm.relates_to', 'rel_type']);
    expect(parseDottedKey('content.m\\\\foo')).toEqual(['content', 'm\\foo']);
    expect(parseDottedKey('content.m\\x')).toEqual(['content', 'm\\x']);
    expect(parseDottedKey('a\\')).toEqual(['a\\']);
    expect(parseDottedKey('a..b')).toEqual(['a', '', 'b']);
  });

  it('looks up own properties only', () => {
    const e = ev('t', { a: { b: 1 } });
    expect(lookupPath(e, ['content', 'a', 'b'])).toBe(1);
    expect(lookupPath(e, ['content', 'a', 'toString'])).toBeUndefined();
    expect(lookupPath(e, ['content', 'a', 'b', 'c'])).toBeUndefined();
    expect(lookupPath(e, ['sender'])).toBe(BOB);
  });

  it('matches whole values with * and ?', () => {
    expect(globMatches('m.room.*', 'm.room.message', 'whole')).toBe(true);
    expect(globMatches('m.room.*', 'xm.room.message', 'whole')).toBe(false);
    expect(globMatches('m.room.?', 'm.room.ab', 'whole')).toBe(false);
    expect(globMatches('m?room', 'mXroom', 'whole')).toBe(true);
    expect(globMatches('m.room', 'mxroom', 'whole')).toBe(false); // "." is literal
    expect(globMatches('a(b)[c]+{d}|^$', 'A(B)[C]+{D}|^$', 'whole')).toBe(true);
    expect(globMatches('?', '😀', 'whole')).toBe(true); // one character = one code point
    expect(globMatches('line*end', 'line\nend', 'whole')).toBe(true);
    expect(globMatches('**a**', 'xxaxx', 'whole')).toBe(true);
  });

  it('is case-insensitive beyond ASCII', () => {
    expect(globMatches('ÉCOLE', 'école', 'whole')).toBe(true);
    expect(globMatches('σοφία', 'ΣΟΦΊΑ', 'whole')).toBe(true);
  });

  it('word mode needs word boundaries at both ends (the spec\'s content.body examples)', () => {
    expect(globMatches('ex*ple', 'An example event.', 'words')).toBe(true);
    expect(globMatches('ex*ple', 'exple', 'words')).toBe(true);
    expect(globMatches('ex*ple', 'An exciting triple-whammy', 'words')).toBe(true);
    expect(globMatches('ex*ple', 'An examples event', 'words')).toBe(false);
    expect(globMatches('cake', 'cupcake', 'words')).toBe(false);
    expect(globMatches('cake', 'my_cake', 'words')).toBe(false); // "_" is a word character
    expect(globMatches('cake', 'café cake!', 'words')).toBe(true);
    expect(globMatches('cake', 'écake', 'words')).toBe(true); // "é" is outside [A-Za-z0-9_]: a boundary
  });

  it('room_member_count "is" parsing', () => {
    expect(memberCountMatches('2', 2)).toBe(true);
    expect(memberCountMatches('=2', 2)).toBe(false);
    expect(memberCountMatches('< 2', 1)).toBe(false);
    expect(memberCountMatches('-1', 1)).toBe(false);
    expect(memberCountMatches('', 0)).toBe(false);
  });
});
