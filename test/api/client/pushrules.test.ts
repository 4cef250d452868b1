// Push rules (matrix-spec: pushrules.yaml#getPushRules, #getPushRulesGlobal, #getPushRule,
// #setPushRule, #deletePushRule, #isPushRuleEnabled, #setPushRuleEnabled, #getPushRuleActions,
// #setPushRuleActions; client-server-api "Push Notifications", modules/push.md "Predefined Rules").
import { bearer, makeTestServer, type TestUser, expectError } from '../../helpers/server.js';

const s = makeTestServer({ presence: { enabled: false } });
afterAll(() => s.close());

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
let txn = 0;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const rulePath = (kind: string, ruleId: string, attr = '') => `${C}/pushrules/global/${kind}/${enc(ruleId)}${attr ? `/${attr}` : ''}`;
const getRule = (u: TestUser, kind: string, ruleId: string, attr = '') => s.http.get(rulePath(kind, ruleId, attr)).set(bearer(u));
const putRule = (u: TestUser, kind: string, ruleId: string, body: unknown, query: Record<string, string> = {}) =>
  s.http.put(rulePath(kind, ruleId)).query(query).set(bearer(u)).send(body as object);
const putAttr = (u: TestUser, kind: string, ruleId: string, attr: 'enabled' | 'actions', body: unknown) =>
  s.http.put(rulePath(kind, ruleId, attr)).set(bearer(u)).send(body as object);
const deleteRule = (u: TestUser, kind: string, ruleId: string) => s.http.delete(rulePath(kind, ruleId)).set(bearer(u));
async function allRules(u: TestUser): Promise<Json> {
  const r = await s.http.get(`${C}/pushrules/`).set(bearer(u));
  expect(r.status).toBe(200);
  return r.body as Json;
}
const ruleIds = (rules: Json, kind: string) => (rules.global[kind] as Json[]).map((r) => r.rule_id as string);

async function createRoom(u: TestUser): Promise<string> {
  const r = await s.http.post(`${C}/createRoom`).set(bearer(u)).send({ preset: 'public_chat' });
  expect(r.status).toBe(200);
  return r.body.room_id as string;
}
async function join(u: TestUser, roomId: string): Promise<void> {
  expect((await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(u)).send({})).status).toBe(200);
}
async function send(u: TestUser, roomId: string, content: Json): Promise<string> {
  const r = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/p${++txn}`).set(bearer(u)).send({ msgtype: 'm.text', ...content });
  expect(r.status).toBe(200);
  return r.body.event_id as string;
}
async function sync(u: TestUser, since?: string): Promise<Json> {
  const r = await s.http.get(`${C}/sync`).query(since ? { since } : {}).set(bearer(u));
  expect(r.status).toBe(200);
  return r.body as Json;
}

let n = 0;
const user = (name: string) => s.register(`${name}${++n}`);

const MENTION_RULE = {
  actions: ['notify', { set_tweak: 'sound', value: 'bing' }],
  conditions: [{ kind: 'event_match', key: 'content.body', pattern: 'cake' }],
};

describe('GET /pushrules/', () => {
  it('returns the default ruleset with every kind', async () => {
    const alice = await user('alice');
    const rules = await allRules(alice);
    expect(Object.keys(rules.global).sort()).toEqual(['content', 'override', 'room', 'sender', 'underride']);
    for (const kind of ['override', 'content', 'room', 'sender', 'underride']) expect(Array.isArray(rules.global[kind])).toBe(true);
    const master = rules.global.override[0];
    expect(master).toEqual({ rule_id: '.m.rule.master', default: true, enabled: false, conditions: [], actions: [] });
    expect(ruleIds(rules, 'override')).toEqual(expect.arrayContaining(['.m.rule.suppress_notices', '.m.rule.invite_for_me', '.m.rule.member_event', '.m.rule.is_user_mention', '.m.rule.is_room_mention', '.m.rule.tombstone', '.m.rule.reaction']));
    expect(ruleIds(rules, 'underride')).toEqual(expect.arrayContaining(['.m.rule.call', '.m.rule.room_one_to_one', '.m.rule.message', '.m.rule.encrypted']));
    for (const kind of ['override', 'underride']) {
      for (const r of rules.global[kind] as Json[]) {
        expect(r).toEqual(expect.objectContaining({ rule_id: expect.stringMatching(/^\./), default: true, enabled: expect.any(Boolean), actions: expect.any(Array) }));
      }
    }
    // Rules are per user: invite_for_me names the user.
    const invite = (rules.global.override as Json[]).find((r) => r.rule_id === '.m.rule.invite_for_me');
    expect(invite!.conditions).toEqual(expect.arrayContaining([expect.objectContaining({ key: 'state_key', pattern: alice.userId })]));
  });

  it('GET /pushrules/global/ returns the global ruleset', async () => {
    const alice = await user('alice');
    const res = await s.http.get(`${C}/pushrules/global/`).set(bearer(alice));
    expect(res.status).toBe(200);
    expect(res.body).toEqual((await allRules(alice)).global);
  });

  it('requires an access token', async () => {
    expectError(await s.http.get(`${C}/pushrules/`), 401, 'M_MISSING_TOKEN');
  });
});

describe('GET/PUT/DELETE /pushrules/global/:kind/:ruleId', () => {
  it('adds a user rule, enabled and not default, and returns it', async () => {
    const alice = await user('alice');
    const res = await putRule(alice, 'override', 'cake', MENTION_RULE);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    const got = await getRule(alice, 'override', 'cake');
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ rule_id: 'cake', default: false, enabled: true, ...MENTION_RULE });
    // The most important user rule: right after .m.rule.master, before the other server rules.
    expect(ruleIds(await allRules(alice), 'override').slice(0, 3)).toEqual(['.m.rule.master', 'cake', '.m.rule.suppress_notices']);
  });

  it('adds content, room and sender rules', async () => {
    const alice = await user('alice');
    const roomId = await createRoom(alice);
    expect((await putRule(alice, 'content', 'pie', { pattern: 'pie', actions: ['notify'] })).status).toBe(200);
    expect((await putRule(alice, 'room', roomId, { actions: [] })).status).toBe(200);
    expect((await putRule(alice, 'sender', '@noisy:test.local', { actions: [] })).status).toBe(200);
    expect((await getRule(alice, 'content', 'pie')).body).toEqual({ rule_id: 'pie', default: false, enabled: true, pattern: 'pie', actions: ['notify'] });
    expect((await getRule(alice, 'room', roomId)).body).toEqual(expect.objectContaining({ rule_id: roomId, actions: [] }));
    expect((await getRule(alice, 'sender', '@noisy:test.local')).body).toEqual(expect.objectContaining({ rule_id: '@noisy:test.local' }));
  });

  it('places rules with before and after', async () => {
    const alice = await user('alice');
    const rule = { actions: ['notify'], conditions: [] };
    await putRule(alice, 'underride', 'one', rule);
    await putRule(alice, 'underride', 'two', rule); // newest first: two, one
    expect(ruleIds(await allRules(alice), 'underride').slice(0, 2)).toEqual(['two', 'one']);
    expect((await putRule(alice, 'underride', 'three', rule, { after: 'one' })).status).toBe(200);
    expect((await putRule(alice, 'underride', 'zero', rule, { before: 'two' })).status).toBe(200);
    expect((await putRule(alice, 'underride', 'mid', rule, { before: 'one', after: 'two' })).status).toBe(200);
    const user_ = ruleIds(await allRules(alice), 'underride').filter((id) => !id.startsWith('.'));
    expect(user_).toEqual(['zero', 'two', 'mid', 'one', 'three']);
    // User rules come before the server-default underride rules.
    expect(ruleIds(await allRules(alice), 'underride').slice(0, 5)).toEqual(user_);
  });

  it('updating a rule keeps its place and its enabled state', async () => {
    const alice = await user('alice');
    await putRule(alice, 'override', 'a', { actions: ['notify'], conditions: [] });
    await putRule(alice, 'override', 'b', { actions: ['notify'], conditions: [] });
    expect((await putAttr(alice, 'override', 'a', 'enabled', { enabled: false })).status).toBe(200);
    await putRule(alice, 'override', 'a', { actions: [], conditions: [{ kind: 'event_match', key: 'type', pattern: 'x' }] });
    const got = (await getRule(alice, 'override', 'a')).body;
    expect(got).toEqual(expect.objectContaining({ enabled: false, actions: [], conditions: [{ kind: 'event_match', key: 'type', pattern: 'x' }] }));
    expect(ruleIds(await allRules(alice), 'override').filter((id) => !id.startsWith('.'))).toEqual(['b', 'a']);
  });

  it('deletes a user rule; then it is 404 M_NOT_FOUND', async () => {
    const alice = await user('alice');
    await putRule(alice, 'override', 'gone', MENTION_RULE);
    const del = await deleteRule(alice, 'override', 'gone');
    expect(del.status).toBe(200);
    expect(del.body).toEqual({});
    expectError(await getRule(alice, 'override', 'gone'), 404, 'M_NOT_FOUND');
    expectError(await deleteRule(alice, 'override', 'gone'), 404, 'M_NOT_FOUND');
  });

  it('answers 404 M_NOT_FOUND for an unknown rule', async () => {
    const alice = await user('alice');
    expectError(await getRule(alice, 'override', 'nope'), 404, 'M_NOT_FOUND');
    expectError(await getRule(alice, 'underride', '.m.rule.master'), 404, 'M_NOT_FOUND');
    expectError(await deleteRule(alice, 'content', 'nope'), 404, 'M_NOT_FOUND');
  });

  it('keeps each user\'s rules apart', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    await putRule(alice, 'override', 'alices', MENTION_RULE);
    expectError(await getRule(bob, 'override', 'alices'), 404, 'M_NOT_FOUND');
  });

  it('refuses rule IDs reserved for server-default rules with 400 M_INVALID_PARAM', async () => {
    const alice = await user('alice');
    expectError(await putRule(alice, 'override', '.m.rule.mine', MENTION_RULE), 400, 'M_INVALID_PARAM');
    expectError(await deleteRule(alice, 'override', '.m.rule.master'), 400, 'M_INVALID_PARAM');
  });

  it('refuses an unknown kind with 400 M_INVALID_PARAM; a scope other than global is no endpoint (404 M_UNRECOGNIZED)', async () => {
    const alice = await user('alice');
    expectError(await putRule(alice, 'sometimes', 'x', MENTION_RULE), 400, 'M_INVALID_PARAM');
    expectError(await getRule(alice, 'sometimes', 'x'), 400, 'M_INVALID_PARAM');
    const scope = await s.http.get(`${C}/pushrules/device/override/x`).set(bearer(alice));
    expectError(scope, 404, 'M_UNRECOGNIZED');
  });

  it('refuses a rule without actions, or a content rule without pattern, with 400 M_BAD_JSON', async () => {
    const alice = await user('alice');
    expectError(await putRule(alice, 'override', 'x', { conditions: [] }), 400, 'M_BAD_JSON');
    expectError(await putRule(alice, 'override', 'x', { actions: 'notify' }), 400, 'M_BAD_JSON');
    expectError(await putRule(alice, 'content', 'x', { actions: ['notify'] }), 400, 'M_BAD_JSON');
    expectError(await getRule(alice, 'override', 'x'), 404, 'M_NOT_FOUND');
  });

  it('concurrent changes are all kept (no lost update)', async () => {
    const alice = await user('alice');
    const names = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
    const results = await Promise.all([
      ...names.map((id) => putRule(alice, 'override', id, MENTION_RULE).then((r) => r)),
      putAttr(alice, 'underride', '.m.rule.message', 'enabled', { enabled: false }).then((r) => r),
      putAttr(alice, 'override', '.m.rule.master', 'actions', { actions: ['notify'] }).then((r) => r),
    ]);
    for (const r of results) expect(r.status).toBe(200);
    const rules = await allRules(alice);
    expect(ruleIds(rules, 'override').filter((id) => !id.startsWith('.')).sort()).toEqual(names);
    expect((rules.global.underride as Json[]).find((r) => r.rule_id === '.m.rule.message')!.enabled).toBe(false);
    expect((rules.global.override as Json[]).find((r) => r.rule_id === '.m.rule.master')!.actions).toEqual(['notify']);
  });

  it('refuses before/after naming an unknown rule with 400 M_UNKNOWN', async () => {
    const alice = await user('alice');
    expectError(await putRule(alice, 'override', 'x', MENTION_RULE, { before: 'nope' }), 400, 'M_UNKNOWN');
  });
});

describe('/pushrules/global/:kind/:ruleId/enabled and /actions', () => {
  it('reads and changes enabled, on server-default rules too', async () => {
    const alice = await user('alice');
    const before = await getRule(alice, 'override', '.m.rule.master', 'enabled');
    expect(before.status).toBe(200);
    expect(before.body).toEqual({ enabled: false });
    expect((await putAttr(alice, 'override', '.m.rule.master', 'enabled', { enabled: true })).status).toBe(200);
    expect((await getRule(alice, 'override', '.m.rule.master', 'enabled')).body).toEqual({ enabled: true });
    expect((await getRule(alice, 'override', '.m.rule.master')).body.enabled).toBe(true);
  });

  it('reads and changes actions, on server-default rules too', async () => {
    const alice = await user('alice');
    const got = await getRule(alice, 'underride', '.m.rule.message', 'actions');
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ actions: ['notify'] });
    expect((await putAttr(alice, 'underride', '.m.rule.message', 'actions', { actions: ['notify', { set_tweak: 'sound', value: 'ping' }] })).status).toBe(200);
    expect((await getRule(alice, 'underride', '.m.rule.message', 'actions')).body).toEqual({ actions: ['notify', { set_tweak: 'sound', value: 'ping' }] });
  });

  it('answers 404 M_NOT_FOUND for an unknown rule', async () => {
    const alice = await user('alice');
    expectError(await getRule(alice, 'override', 'nope', 'enabled'), 404, 'M_NOT_FOUND');
    expectError(await putAttr(alice, 'override', 'nope', 'enabled', { enabled: true }), 404, 'M_NOT_FOUND');
    expectError(await getRule(alice, 'override', 'nope', 'actions'), 404, 'M_NOT_FOUND');
    expectError(await putAttr(alice, 'override', 'nope', 'actions', { actions: [] }), 404, 'M_NOT_FOUND');
  });

  it('refuses a non-boolean enabled or non-array actions with 400 M_BAD_JSON', async () => {
    const alice = await user('alice');
    expectError(await putAttr(alice, 'override', '.m.rule.master', 'enabled', { enabled: 'yes' }), 400, 'M_BAD_JSON');
    expectError(await putAttr(alice, 'override', '.m.rule.master', 'actions', { actions: 'notify' }), 400, 'M_BAD_JSON');
  });
});

describe('push rules in /sync', () => {
  it('a change shows up in /sync account_data as m.push_rules, once', async () => {
    const alice = await user('alice');
    const initial = await sync(alice);
    const defaults = initial.account_data.events.find((e: Json) => e.type === 'm.push_rules');
    expect(defaults.content).toEqual(await allRules(alice));
    await putRule(alice, 'override', 'cake', MENTION_RULE);
    const inc = await sync(alice, initial.next_batch);
    const changed = inc.account_data.events.filter((e: Json) => e.type === 'm.push_rules');
    expect(changed).toHaveLength(1);
    expect(ruleIds(changed[0].content, 'override')).toContain('cake');
    expect(changed[0].content).toEqual(await allRules(alice));
    expect((await sync(alice, inc.next_batch)).account_data.events).toEqual([]);
    // Enabling a rule is a change too.
    await putAttr(alice, 'override', 'cake', 'enabled', { enabled: false });
    const again = await sync(alice, inc.next_batch);
    const rule = (again.account_data.events.find((e: Json) => e.type === 'm.push_rules').content.global.override as Json[]).find((r) => r.rule_id === 'cake');
    expect(rule!.enabled).toBe(false);
    // An initial sync carries the stored rules.
    const fresh = await sync(alice);
    expect(fresh.account_data.events.filter((e: Json) => e.type === 'm.push_rules')).toHaveLength(1);
  });

  it('a disabled .m.rule.message stops counting notifications for that user only', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    const roomId = await createRoom(alice);
    await join(bob, roomId);
    await join(carol, roomId); // three members: .m.rule.room_one_to_one does not apply
    expect((await putAttr(bob, 'underride', '.m.rule.message', 'enabled', { enabled: false })).status).toBe(200);
    await send(alice, roomId, { body: 'plain message' });
    expect((await sync(bob)).rooms.join[roomId].unread_notifications).toEqual({ notification_count: 0, highlight_count: 0 });
    expect((await sync(carol)).rooms.join[roomId].unread_notifications).toEqual({ notification_count: 1, highlight_count: 0 });
    // A mention still notifies and highlights (an override rule).
    await send(alice, roomId, { body: 'hey', 'm.mentions': { user_ids: [bob.userId] } });
    expect((await sync(bob)).rooms.join[roomId].unread_notifications).toEqual({ notification_count: 1, highlight_count: 1 });
    // Enabled again, messages count again.
    await putAttr(bob, 'underride', '.m.rule.message', 'enabled', { enabled: true });
    await send(alice, roomId, { body: 'counted' });
    expect((await sync(bob)).rooms.join[roomId].unread_notifications.notification_count).toBe(2);
  });

  it('a room rule with no actions silences that room for its user only', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    const roomId = await createRoom(alice);
    await join(bob, roomId);
    await join(carol, roomId);
    expect((await putRule(bob, 'room', roomId, { actions: [] })).status).toBe(200);
    await send(alice, roomId, { body: 'muted for bob' });
    expect((await sync(bob)).rooms.join[roomId].unread_notifications.notification_count).toBe(0);
    expect((await sync(carol)).rooms.join[roomId].unread_notifications.notification_count).toBe(1);
  });

  it('.m.rule.master enabled silences everything', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const roomId = await createRoom(alice);
    await join(bob, roomId);
    await putAttr(bob, 'override', '.m.rule.master', 'enabled', { enabled: true });
    await send(alice, roomId, { body: 'hey', 'm.mentions': { user_ids: [bob.userId] } });
    expect((await sync(bob)).rooms.join[roomId].unread_notifications).toEqual({ notification_count: 0, highlight_count: 0 });
  });
});
