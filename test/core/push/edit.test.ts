// Push rule endpoint helpers (matrix-spec: pushrules.yaml#setPushRule, #deletePushRule, #getPushRule,
// #setPushRuleEnabled, #setPushRuleActions).
import { defaultPushRules } from '../../../src/core/push/defaults.js';
import {
  deleteRule,
  findRule,
  PushRuleError,
  setActions,
  setEnabled,
  upsertRule,
  validateActions,
  validateConditions,
  validateRuleBody,
} from '../../../src/core/push/edit.js';
import { MatrixError } from '../../../src/errors.js';
import type { PushRuleset, RuleKind } from '../../../src/core/push/types.js';

const ALICE = '@alice:hs.test';

function expectError(fn: () => unknown, code: string, status: number): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(PushRuleError);
  expect(caught).toBeInstanceOf(MatrixError);
  expect((caught as PushRuleError).code).toBe(code);
  expect((caught as PushRuleError).errcode).toBe(code);
  expect((caught as PushRuleError).status).toBe(status);
}

const ids = (set: PushRuleset, kind: RuleKind) => set.global[kind].map((r) => r.rule_id);

function put(set: PushRuleset, kind: RuleKind, ruleId: string, body: unknown, pos: { before?: string; after?: string } = {}) {
  return upsertRule(set, kind, ruleId, validateRuleBody(kind, ruleId, body), pos);
}

describe('validateRuleBody', () => {
  it('builds an enabled, non-default content rule (the spec\'s cake example)', () => {
    expect(
      validateRuleBody('content', 'SSByZWFsbHkgbGlrZSBjYWtl', {
        pattern: 'cake',
        actions: ['notify', { set_tweak: 'sound', value: 'cakealarm.wav' }],
      }),
    ).toEqual({
      rule_id: 'SSByZWFsbHkgbGlrZSBjYWtl',
      default: false,
      enabled: true,
      actions: ['notify', { set_tweak: 'sound', value: 'cakealarm.wav' }],
      pattern: 'cake',
    });
  });

  it('keeps conditions for override rules (the spec\'s beer example) and defaults them to []', () => {
    const body = {
      conditions: [
        { kind: 'event_match', key: 'content.body', pattern: 'beer' },
        { kind: 'room_member_count', is: '<=10' },
      ],
      actions: ['notify', { set_tweak: 'sound', value: 'beeroclock.wav' }],
    };
    expect(validateRuleBody('override', 'U2VlIHlvdSBpbiBUaGUgRHVrZQ', body)).toEqual({
      rule_id: 'U2VlIHlvdSBpbiBUaGUgRHVrZQ', default: false, enabled: true, ...body,
    });
    expect(validateRuleBody('underride', 'u', { actions: [] })).toEqual({
      rule_id: 'u', default: false, enabled: true, actions: [], conditions: [],
    });
  });

  it('ignores conditions/pattern on room and sender rules and strips historical actions', () => {
    expect(validateRuleBody('room', '!dj234r78wl45Gh4D:matrix.org', { actions: ['dont_notify'], pattern: 'x', conditions: [] })).toEqual({
      rule_id: '!dj234r78wl45Gh4D:matrix.org', default: false, enabled: true, actions: [],
    });
    expect(validateRuleBody('sender', '@spambot:matrix.org', { actions: ['coalesce', 'notify'] })).toEqual({
      rule_id: '@spambot:matrix.org', default: false, enabled: true, actions: ['notify'],
    });
  });

  it('rejects rule IDs reserved for server-default rules, with slashes or backslashes, or empty', () => {
    expectError(() => validateRuleBody('override', '.m.rule.master', { actions: [] }), 'M_INVALID_PARAM', 400);
    expectError(() => validateRuleBody('override', 'a/b', { actions: [] }), 'M_INVALID_PARAM', 400);
    expectError(() => validateRuleBody('override', 'a\\b', { actions: [] }), 'M_INVALID_PARAM', 400);
    expectError(() => validateRuleBody('override', '', { actions: [] }), 'M_INVALID_PARAM', 400);
  });

  it('requires room rule IDs to be room IDs and sender rule IDs to be user IDs', () => {
    expectError(() => validateRuleBody('room', '@bob:hs.test', { actions: [] }), 'M_INVALID_PARAM', 400);
    expectError(() => validateRuleBody('sender', '!room:hs.test', { actions: [] }), 'M_INVALID_PARAM', 400);
  });

  it('rejects malformed bodies with M_BAD_JSON', () => {
    expectError(() => validateRuleBody('override', 'r', null), 'M_BAD_JSON', 400);
    expectError(() => validateRuleBody('override', 'r', []), 'M_BAD_JSON', 400);
    expectError(() => validateRuleBody('override', 'r', {}), 'M_BAD_JSON', 400);
    expectError(() => validateRuleBody('override', 'r', { actions: 'notify' }), 'M_BAD_JSON', 400);
    expectError(() => validateRuleBody('override', 'r', { actions: [], conditions: {} }), 'M_BAD_JSON', 400);
    expectError(() => validateRuleBody('override', 'r', { actions: [], conditions: ['x'] }), 'M_BAD_JSON', 400);
    expectError(() => validateRuleBody('override', 'r', { actions: [], conditions: [{ key: 'type' }] }), 'M_BAD_JSON', 400);
    expectError(() => validateRuleBody('content', 'r', { actions: [] }), 'M_BAD_JSON', 400);
    expectError(() => validateRuleBody('content', 'r', { actions: [], pattern: 5 }), 'M_BAD_JSON', 400);
  });

  it('rejects unknown actions and malformed known conditions with M_INVALID_PARAM', () => {
    expectError(() => validateRuleBody('override', 'r', { actions: ['shout'] }), 'M_INVALID_PARAM', 400);
    expectError(() => validateRuleBody('override', 'r', { actions: [{ value: 'x' }] }), 'M_INVALID_PARAM', 400);
    expectError(() => validateRuleBody('override', 'r', { actions: [{ set_tweak: 3 }] }), 'M_INVALID_PARAM', 400);
    expectError(() => validateRuleBody('override', 'r', { actions: [5] }), 'M_INVALID_PARAM', 400);
    const cond = (c: unknown) => () => validateRuleBody('override', 'r', { actions: [], conditions: [c] });
    expectError(cond({ kind: 'event_match', key: 'type' }), 'M_INVALID_PARAM', 400);
    expectError(cond({ kind: 'event_match', pattern: 'x' }), 'M_INVALID_PARAM', 400);
    expectError(cond({ kind: 'event_property_is', key: 'content.x', value: { a: 1 } }), 'M_INVALID_PARAM', 400);
    expectError(cond({ kind: 'event_property_is', key: 'content.x', value: 1.5 }), 'M_INVALID_PARAM', 400);
    expectError(cond({ kind: 'event_property_contains', key: 'content.x' }), 'M_INVALID_PARAM', 400);
    expectError(cond({ kind: 'room_member_count', is: '~3' }), 'M_INVALID_PARAM', 400);
    expectError(cond({ kind: 'room_member_count', is: 3 }), 'M_INVALID_PARAM', 400);
    expectError(cond({ kind: 'sender_notification_permission' }), 'M_INVALID_PARAM', 400);
  });

  it('accepts unknown condition kinds (they never match) and parameterless contains_display_name', () => {
    expect(validateConditions([{ kind: 'org.example.new', foo: [1] }, { kind: 'contains_display_name' }])).toEqual([
      { kind: 'org.example.new', foo: [1] },
      { kind: 'contains_display_name' },
    ]);
  });

  it('keeps extra keys of set_tweak actions and any JSON value', () => {
    expect(validateActions([{ set_tweak: 'org.example.led', value: { colour: 'red' } }, 'notify'])).toEqual([
      { set_tweak: 'org.example.led', value: { colour: 'red' } },
      'notify',
    ]);
  });
});

describe('upsertRule', () => {
  const base = defaultPushRules(ALICE);

  it('adds a new override as the most important user rule, below .m.rule.master', () => {
    const a = put(base, 'override', 'a', { actions: ['notify'] });
    expect(ids(a, 'override').slice(0, 3)).toEqual(['.m.rule.master', 'a', '.m.rule.suppress_notices']);
    const b = put(a, 'override', 'b', { actions: [] });
    expect(ids(b, 'override').slice(0, 4)).toEqual(['.m.rule.master', 'b', 'a', '.m.rule.suppress_notices']);
    expect(findRule(b, 'override', 'b')).toEqual({ rule_id: 'b', default: false, enabled: true, actions: [], conditions: [] });
  });

  it('adds new underride and content rules ahead of the server defaults', () => {
    const u = put(base, 'underride', 'u', { actions: ['notify'] });
    expect(ids(u, 'underride')).toEqual(['u', '.m.rule.call', '.m.rule.encrypted_room_one_to_one', '.m.rule.room_one_to_one', '.m.rule.message', '.m.rule.encrypted']);
    const c = put(put(base, 'content', 'one', { pattern: 'x', actions: [] }), 'content', 'two', { pattern: 'y', actions: [] });
    expect(ids(c, 'content')).toEqual(['two', 'one']);
  });

  it('places rules before/after a user rule; before wins when both are given (the spec\'s cake*lie example)', () => {
    let set = put(base, 'content', 'SSByZWFsbHkgbGlrZSBjYWtl', { pattern: 'cake', actions: ['notify'] });
    set = put(set, 'content', 'other', { pattern: 'pie', actions: [] });
    expect(ids(set, 'content')).toEqual(['other', 'SSByZWFsbHkgbGlrZSBjYWtl']);
    const before = put(set, 'content', 'U3BvbmdlIGNha2UgaXMgYmVzdA', { pattern: 'cake*lie', actions: ['notify'] }, { before: 'SSByZWFsbHkgbGlrZSBjYWtl' });
    expect(ids(before, 'content')).toEqual(['other', 'U3BvbmdlIGNha2UgaXMgYmVzdA', 'SSByZWFsbHkgbGlrZSBjYWtl']);
    const after = put(set, 'content', 'n', { pattern: 'n', actions: [] }, { after: 'other' });
    expect(ids(after, 'content')).toEqual(['other', 'n', 'SSByZWFsbHkgbGlrZSBjYWtl']);
    const both = put(set, 'content', 'n', { pattern: 'n', actions: [] }, { before: 'other', after: 'SSByZWFsbHkgbGlrZSBjYWtl' });
    expect(ids(both, 'content')).toEqual(['n', 'other', 'SSByZWFsbHkgbGlrZSBjYWtl']);
  });

  it('updates an existing rule in place, keeping its enabled state, or moves it with before/after', () => {
    let set = put(base, 'override', 'a', { actions: [] });
    set = put(set, 'override', 'b', { actions: [] });
    set = setEnabled(set, 'override', 'a', false);
    const updated = put(set, 'override', 'a', { actions: ['notify'], conditions: [{ kind: 'event_match', key: 'type', pattern: 'x' }] });
    expect(ids(updated, 'override').slice(0, 3)).toEqual(['.m.rule.master', 'b', 'a']);
    expect(findRule(updated, 'override', 'a')).toEqual({
      rule_id: 'a', default: false, enabled: false, actions: ['notify'],
      conditions: [{ kind: 'event_match', key: 'type', pattern: 'x' }],
    });
    const moved = put(set, 'override', 'a', { actions: [] }, { before: 'b' });
    expect(ids(moved, 'override').slice(0, 3)).toEqual(['.m.rule.master', 'a', 'b']);
  });

  it('refuses server-default rule IDs and positions relative to server-default rules', () => {
    const rule = validateRuleBody('override', 'a', { actions: [] });
    expectError(() => upsertRule(base, 'override', '.m.rule.master', rule), 'M_INVALID_PARAM', 400);
    expectError(() => upsertRule(base, 'override', 'a', rule, { before: '.m.rule.suppress_notices' }), 'M_INVALID_PARAM', 400);
    expectError(() => upsertRule(base, 'override', 'a', rule, { after: '.m.rule.master' }), 'M_INVALID_PARAM', 400);
  });

  it('answers M_UNKNOWN 400 when before/after names no rule of that kind', () => {
    const rule = validateRuleBody('override', 'a', { actions: [] });
    expectError(() => upsertRule(base, 'override', 'a', rule, { before: 'someRuleId' }), 'M_UNKNOWN', 400);
    const withContent = put(base, 'content', 'c', { pattern: 'c', actions: [] });
    expectError(() => upsertRule(withContent, 'override', 'a', rule, { after: 'c' }), 'M_UNKNOWN', 400);
  });

  it('does not mutate the input ruleset', () => {
    const snapshot = structuredClone(base);
    put(base, 'override', 'a', { actions: ['notify'] });
    put(base, 'room', '!r:hs.test', { actions: [] });
    expect(base).toEqual(snapshot);
  });
});

describe('findRule, deleteRule, setEnabled, setActions', () => {
  const base = defaultPushRules(ALICE);

  it('finds default and user rules, M_NOT_FOUND otherwise (also for the wrong kind)', () => {
    expect(findRule(base, 'underride', '.m.rule.message').actions).toEqual(['notify']);
    expectError(() => findRule(base, 'override', '.m.rule.message'), 'M_NOT_FOUND', 404);
    expectError(() => findRule(base, 'content', 'nocake'), 'M_NOT_FOUND', 404);
  });

  it('deletes user rules only', () => {
    const set = put(base, 'sender', '@spambot:matrix.org', { actions: [] });
    expect(ids(set, 'sender')).toEqual(['@spambot:matrix.org']);
    const gone = deleteRule(set, 'sender', '@spambot:matrix.org');
    expect(ids(gone, 'sender')).toEqual([]);
    expect(ids(set, 'sender')).toEqual(['@spambot:matrix.org']); // input untouched
    expectError(() => deleteRule(gone, 'sender', '@spambot:matrix.org'), 'M_NOT_FOUND', 404);
    expectError(() => deleteRule(base, 'override', '.m.rule.master'), 'M_INVALID_PARAM', 400);
    expectError(() => deleteRule(base, 'override', '.m.rule.nonexistent'), 'M_NOT_FOUND', 404);
  });

  it('enables and disables any rule, including .m.rule.master', () => {
    const on = setEnabled(base, 'override', '.m.rule.master', true);
    expect(findRule(on, 'override', '.m.rule.master').enabled).toBe(true);
    expect(findRule(base, 'override', '.m.rule.master').enabled).toBe(false);
    expect(ids(on, 'override')).toEqual(ids(base, 'override'));
    const off = setEnabled(base, 'underride', '.m.rule.message', false);
    expect(findRule(off, 'underride', '.m.rule.message')).toEqual({ ...findRule(base, 'underride', '.m.rule.message'), enabled: false });
    expectError(() => setEnabled(base, 'override', 'nope', true), 'M_NOT_FOUND', 404);
    expectError(() => setEnabled(base, 'override', '.m.rule.master', 'yes'), 'M_BAD_JSON', 400);
  });

  it('changes the actions of builtin and user rules', () => {
    const loud = setActions(base, 'override', '.m.rule.suppress_notices', ['notify', { set_tweak: 'highlight' }, 'dont_notify']);
    expect(findRule(loud, 'override', '.m.rule.suppress_notices')).toEqual({
      ...findRule(base, 'override', '.m.rule.suppress_notices'),
      actions: ['notify', { set_tweak: 'highlight' }],
    });
    expect(findRule(loud, 'override', '.m.rule.suppress_notices').default).toBe(true);
    expect(findRule(base, 'override', '.m.rule.suppress_notices').actions).toEqual([]);
    expectError(() => setActions(base, 'room', '!r:hs.test', []), 'M_NOT_FOUND', 404);
    expectError(() => setActions(base, 'underride', '.m.rule.call', 'notify'), 'M_BAD_JSON', 400);
    expectError(() => setActions(base, 'underride', '.m.rule.call', ['bogus']), 'M_INVALID_PARAM', 400);
  });
});
