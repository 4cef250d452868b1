// Real responses of the main client-server endpoints, checked against the official OpenAPI schemas
// (MATRIX_SPEC_DIR/bundled/client-server.json, JSON Schema 2020-12, with ajv): required keys,
// nullability, types, enums and the spec's identifier formats. One scenario drives a real server
// through registration, login, devices, profiles, rooms, messages, state, receipts, presence, sync,
// filters, account data, tags, push rules, the directory and error answers; every response is
// recorded and validated.
import { SpecSchemas, type Recorded } from '../helpers/spec-schemas.js';
import { makeTestServer, type TestServer, type TestUser } from '../helpers/server.js';
import { oneTimeKeys, signedBy, testCrossSigning, testDevice } from '../helpers/e2ee.js';

/**
 * Where Hearth knowingly differs from the official schema, with the reason. Each entry is matched
 * against the problem text; anything else fails the test.
 */
const KNOWN_DEVIATIONS: { match: RegExp; why: string }[] = [
  {
    // device_management.yaml types these as plain strings ("absent if unknown"); Synapse sends the
    // keys with null, and matrix-nio's Devices schema requires the keys (string or null).
    match: /^GET \/_matrix\/client\/v3\/devices -> 200 \(getDevices\): \/devices\/\d+\/(display_name|last_seen_ip|last_seen_ts) must be (string|integer)$/,
    why: 'device keys present with null when unknown (Synapse, matrix-nio)',
  },
  {
    match: /^GET \/_matrix\/client\/v3\/devices\/[A-Z]+ -> 200 \(getDevice\): \/(display_name|last_seen_ip|last_seen_ts) must be (string|integer)$/,
    why: 'device keys present with null when unknown (Synapse, matrix-nio)',
  },
  {
    // cross_signing.yaml documents no 401 for uploadCrossSigningKeys, though the endpoint uses
    // user-interactive auth, whose first 401 is {flows, params, session} without errcode
    // (client-server-api "User-interactive authentication API").
    match: /^POST \/_matrix\/client\/v3\/keys\/device_signing\/upload -> 401 \(uploadCrossSigningKeys\): \(body\) must have required property 'errcode'$/,
    why: 'the UIA challenge of a spec operation that lists no 401',
  },
];

/** Records every response of the scenario. */
function recorder(s: TestServer) {
  const recorded: Recorded[] = [];
  const call = async (method: 'get' | 'put' | 'post' | 'delete', path: string, opts: { user?: TestUser; body?: unknown; query?: Record<string, string> } = {}) => {
    let req = s.http[method](path);
    if (opts.user) req = req.set('Authorization', `Bearer ${opts.user.accessToken}`);
    if (opts.query) req = req.query(opts.query);
    const res = await (method === 'get' ? req : req.send((opts.body ?? {}) as object));
    recorded.push({ method, path, status: res.status, body: res.body });
    return res;
  };
  return { recorded, call };
}

const enc = encodeURIComponent;

describe('responses against the official OpenAPI schemas', () => {
  const schemas = new SpecSchemas();
  // Server-generated events carry a server name as sender, which the spec's mx-user-id format refuses;
  // with the compat sender (spec/server-events.md) they validate like any event, so the new-login
  // notice below is checked too.
  const s = makeTestServer({ server_events: { compat_sender_localpart: 'notices' } });
  afterAll(() => s.close());

  it('finds operations by method and concrete path', () => {
    expect(schemas.find('get', '/_matrix/client/v3/pushrules/global/')?.op.operationId).toBe('getPushRulesGlobal');
    expect(schemas.find('get', '/_matrix/client/v3/pushrules/global/override/.m.rule.master')?.op.operationId).toBe('getPushRule');
    expect(schemas.find('get', '/_matrix/client/v3/rooms/!r:hs/state/m.room.name')?.op.operationId).toBe('getRoomStateWithKey');
    expect(schemas.find('get', '/_matrix/client/v3/nothing')).toBeUndefined();
  });

  it('reports missing keys, wrong types, nulls the schema does not allow and bad identifiers', () => {
    const problems = (body: unknown, path = '/_matrix/client/v3/presence/@a:hs/status') => schemas.check({ method: 'get', path, status: 200, body });
    expect(problems({ presence: 'online', status_msg: null })).toEqual([]);
    expect(problems({ status_msg: 'x' })).toEqual([expect.stringContaining("must have required property 'presence'")]);
    expect(problems({ presence: 'away' })).toEqual([expect.stringContaining('must be equal to one of the allowed values')]);
    expect(problems({ devices: [{ device_id: 'A', display_name: null }] }, '/_matrix/client/v3/devices')).toEqual([expect.stringContaining('/devices/0/display_name must be string')]);
    expect(problems({ user_id: 'example.org' }, '/_matrix/client/v3/account/whoami')).toEqual(expect.arrayContaining([expect.stringContaining('must match format "mx-user-id"')]));
  });

  it('match for the main endpoints (with the deviations listed in this file)', async () => {
    const { recorded, call } = recorder(s);
    const C = '/_matrix/client';
    await call('get', `${C}/versions`);
    await call('get', '/.well-known/matrix/client');
    await call('get', `${C}/v3/login`);
    await call('get', `${C}/v3/register/available`, { query: { username: 'schemaalice' } });
    const reg = await call('post', `${C}/v3/register`, { body: { username: 'schemaalice', password: 'correct horse battery', auth: { type: 'm.login.dummy' } } });
    const alice: TestUser = { userId: reg.body.user_id, accessToken: reg.body.access_token, deviceId: reg.body.device_id, password: 'correct horse battery' };
    await call('post', `${C}/v3/register`, { body: { username: 'schemabob', password: 'correct horse battery' } }); // UIA 401
    const bob = await s.register('schemabob');
    const login = await call('post', `${C}/v3/login`, { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'schemaalice' }, password: 'correct horse battery', initial_device_display_name: 'laptop' } });
    const alice2: TestUser = { ...alice, accessToken: login.body.access_token, deviceId: login.body.device_id };
    await call('get', `${C}/v3/capabilities`, { user: alice });
    await call('get', `${C}/v3/account/whoami`, { user: alice });

    // Devices: one with a name and last-seen data, one without.
    await call('get', `${C}/v3/devices`, { user: alice });
    await call('get', `${C}/v3/devices/${alice2.deviceId}`, { user: alice });
    await call('put', `${C}/v3/devices/${alice.deviceId}`, { user: alice, body: { display_name: 'phone' } });
    await call('get', `${C}/v3/devices/NOSUCHDEVICE`, { user: alice });

    // Profiles.
    await call('put', `${C}/v3/profile/${enc(alice.userId)}/displayname`, { user: alice, body: { displayname: 'Alice' } });
    await call('put', `${C}/v3/profile/${enc(alice.userId)}/avatar_url`, { user: alice, body: { avatar_url: 'mxc://test.local/abc' } });
    await call('get', `${C}/v3/profile/${enc(alice.userId)}`);
    await call('get', `${C}/v3/profile/${enc(alice.userId)}/displayname`);
    await call('get', `${C}/v3/profile/${enc('@nobody:test.local')}`);

    // Rooms and membership.
    const created = await call('post', `${C}/v3/createRoom`, { user: alice, body: { name: 'Schemas', topic: 'checked', preset: 'public_chat', room_alias_name: 'schemas', visibility: 'public' } });
    const roomId = created.body.room_id as string;
    const room = enc(roomId);
    await call('post', `${C}/v3/rooms/${room}/invite`, { user: alice, body: { user_id: bob.userId, reason: 'welcome' } });
    await call('post', `${C}/v3/join/${enc('#schemas:test.local')}`, { user: bob });
    await call('post', `${C}/v3/createRoom`, { user: alice, body: { room_version: '1' } }); // 400

    // Messages and state.
    const sent = await call('put', `${C}/v3/rooms/${room}/send/m.room.message/t1`, { user: alice, body: { msgtype: 'm.text', body: 'hello' } });
    const eventId = sent.body.event_id as string;
    await call('put', `${C}/v3/rooms/${room}/send/m.room.message/t2`, { user: bob, body: { msgtype: 'm.text', body: 'hi' } });
    await call('put', `${C}/v3/rooms/${room}/state/m.room.topic/`, { user: alice, body: { topic: 'new topic' } });
    await call('put', `${C}/v3/rooms/${room}/state/m.room.power_levels/`, { user: bob, body: { users: {} } }); // 403
    await call('get', `${C}/v3/rooms/${room}/state`, { user: alice });
    await call('get', `${C}/v3/rooms/${room}/state/m.room.name/`, { user: alice });
    await call('get', `${C}/v3/rooms/${room}/state/m.room.member/${enc(bob.userId)}`, { user: alice });
    await call('get', `${C}/v3/rooms/${room}/state/m.room.avatar/`, { user: alice }); // 404
    await call('get', `${C}/v3/rooms/${room}/event/${enc(eventId)}`, { user: bob });
    await call('get', `${C}/v3/rooms/${room}/context/${enc(eventId)}`, { user: bob, query: { limit: '4' } });
    await call('get', `${C}/v3/rooms/${room}/messages`, { user: bob, query: { dir: 'b', limit: '5' } });
    await call('get', `${C}/v3/rooms/${room}/messages`, { user: bob, query: { dir: 'b', limit: '2', filter: JSON.stringify({ lazy_load_members: true }) } });
    await call('get', `${C}/v3/rooms/${room}/members`, { user: bob });
    await call('get', `${C}/v3/rooms/${room}/joined_members`, { user: bob });
    await call('get', `${C}/v3/joined_rooms`, { user: bob });
    await call('put', `${C}/v3/rooms/${room}/redact/${enc(eventId)}/r1`, { user: alice, body: { reason: 'oops' } });

    // Receipts, typing, presence.
    await call('post', `${C}/v3/rooms/${room}/receipt/m.read/${enc(eventId)}`, { user: bob, body: {} });
    await call('post', `${C}/v3/rooms/${room}/read_markers`, { user: bob, body: { 'm.fully_read': eventId } });
    await call('put', `${C}/v3/rooms/${room}/typing/${enc(bob.userId)}`, { user: bob, body: { typing: true, timeout: 10000 } });
    await call('get', `${C}/v3/presence/${enc(alice.userId)}/status`, { user: bob });
    await call('put', `${C}/v3/presence/${enc(alice.userId)}/status`, { user: alice, body: { presence: 'online', status_msg: 'here' } });
    await call('get', `${C}/v3/presence/${enc(alice.userId)}/status`, { user: bob });

    // Filters, account data, tags, push rules.
    const filter = await call('post', `${C}/v3/user/${enc(bob.userId)}/filter`, { user: bob, body: { room: { timeline: { limit: 5 } } } });
    await call('get', `${C}/v3/user/${enc(bob.userId)}/filter/${filter.body.filter_id}`, { user: bob });
    await call('put', `${C}/v3/user/${enc(bob.userId)}/account_data/org.example.x`, { user: bob, body: { a: 1 } });
    await call('get', `${C}/v3/user/${enc(bob.userId)}/account_data/org.example.x`, { user: bob });
    await call('get', `${C}/v3/user/${enc(bob.userId)}/account_data/org.example.none`, { user: bob });
    await call('put', `${C}/v3/user/${enc(bob.userId)}/rooms/${room}/account_data/org.example.y`, { user: bob, body: { b: 2 } });
    await call('get', `${C}/v3/user/${enc(bob.userId)}/rooms/${room}/account_data/org.example.y`, { user: bob });
    await call('put', `${C}/v3/user/${enc(bob.userId)}/rooms/${room}/tags/u.work`, { user: bob, body: { order: 0.5 } });
    await call('get', `${C}/v3/user/${enc(bob.userId)}/rooms/${room}/tags`, { user: bob });
    await call('get', `${C}/v3/pushrules/`, { user: bob });
    await call('get', `${C}/v3/pushrules/global/`, { user: bob });
    await call('get', `${C}/v3/pushrules/global/override/.m.rule.master`, { user: bob });
    await call('get', `${C}/v3/pushrules/global/override/.m.rule.master/enabled`, { user: bob });
    await call('get', `${C}/v3/pushrules/global/override/.m.rule.master/actions`, { user: bob });
    await call('put', `${C}/v3/sendToDevice/m.test/td1`, { user: alice, body: { messages: { [bob.userId]: { '*': { x: 1 } } } } });

    // Sync: initial (with the room, state, ephemeral, presence, account data, to-device), then incremental.
    const first = await call('get', `${C}/v3/sync`, { user: bob });
    await call('get', `${C}/v3/sync`, { user: bob, query: { filter: String(filter.body.filter_id), full_state: 'true' } });
    await call('put', `${C}/v3/rooms/${room}/send/m.room.message/t3`, { user: alice, body: { msgtype: 'm.text', body: 'more' } });
    await call('get', `${C}/v3/sync`, { user: bob, query: { since: first.body.next_batch, timeout: '0' } });
    const invited = await s.register('schemacarol');
    await call('post', `${C}/v3/createRoom`, { user: alice, body: { invite: [invited.userId], is_direct: true } });
    await call('get', `${C}/v3/sync`, { user: invited });
    // The new-login notice sent to alice (invite_state, then the notices room once joined).
    await s.services.notices.settled();
    const noticeSync = await call('get', `${C}/v3/sync`, { user: alice2 });
    const noticeRoom = Object.keys(noticeSync.body.rooms.invite)[0]!;
    expect(noticeRoom).toBeDefined();
    await call('post', `${C}/v3/join/${enc(noticeRoom)}`, { user: alice2 });
    await call('get', `${C}/v3/sync`, { user: alice2 });
    await call('get', `${C}/v3/rooms/${enc(noticeRoom)}/messages`, { user: alice2, query: { dir: 'b' } });

    // Spaces, knocking, OpenID, registration token validity.
    await call('get', `${C}/v1/rooms/${room}/hierarchy`, { user: bob });
    const knockable = await call('post', `${C}/v3/createRoom`, { user: alice, body: { initial_state: [{ type: 'm.room.join_rules', content: { join_rule: 'knock' } }] } });
    await call('post', `${C}/v3/knock/${enc(knockable.body.room_id)}`, { user: invited, body: { reason: 'hello' } });
    await call('get', `${C}/v3/sync`, { user: invited });
    await call('post', `${C}/v3/user/${enc(bob.userId)}/openid/request_token`, { user: bob, body: {} });
    await call('get', `${C}/v1/register/m.login.registration_token/validity`, { query: { token: 'none' } });

    // Relations, threads, edits (issue 18): aggregations in /event, /messages, /sync; /relations, /threads.
    const threadRoot = (await call('put', `${C}/v3/rooms/${room}/send/m.room.message/th1`, { user: alice, body: { msgtype: 'm.text', body: 'thread root' } })).body.event_id as string;
    const threadReply = (await call('put', `${C}/v3/rooms/${room}/send/m.room.message/th2`, { user: bob, body: { msgtype: 'm.text', body: 'in thread', 'm.relates_to': { rel_type: 'm.thread', event_id: threadRoot } } })).body.event_id as string;
    await call('put', `${C}/v3/rooms/${room}/send/m.room.message/th3`, { user: alice, body: { msgtype: 'm.text', body: '* edited', 'm.new_content': { msgtype: 'm.text', body: 'edited' }, 'm.relates_to': { rel_type: 'm.replace', event_id: threadRoot } } });
    await call('put', `${C}/v3/rooms/${room}/send/m.reaction/th4`, { user: bob, body: { 'm.relates_to': { rel_type: 'm.annotation', event_id: threadRoot, key: '👍' } } });
    await call('put', `${C}/v3/rooms/${room}/send/m.reaction/th5`, { user: bob, body: { 'm.relates_to': { rel_type: 'm.annotation', event_id: threadRoot, key: '👍' } } }); // 400 M_DUPLICATE_ANNOTATION
    await call('get', `${C}/v3/rooms/${room}/event/${enc(threadRoot)}`, { user: bob });
    await call('get', `${C}/v3/rooms/${room}/messages`, { user: bob, query: { dir: 'b', limit: '5' } });
    await call('get', `${C}/v1/rooms/${room}/relations/${enc(threadRoot)}`, { user: bob, query: { limit: '1' } });
    await call('get', `${C}/v1/rooms/${room}/relations/${enc(threadRoot)}/m.thread`, { user: bob, query: { recurse: 'true' } });
    await call('get', `${C}/v1/rooms/${room}/relations/${enc(threadRoot)}/m.annotation/m.reaction`, { user: bob, query: { dir: 'f' } });
    await call('get', `${C}/v1/rooms/${room}/relations/${enc('$nope')}`, { user: bob }); // 404
    await call('get', `${C}/v1/rooms/${room}/threads`, { user: bob, query: { include: 'participated' } });
    await call('get', `${C}/v1/rooms/${room}/threads`, { user: bob, query: { include: 'everything' } }); // 400
    await call('post', `${C}/v3/rooms/${room}/receipt/m.read/${enc(threadReply)}`, { user: alice, body: { thread_id: threadRoot } });
    await call('get', `${C}/v3/sync`, { user: alice, query: { filter: JSON.stringify({ room: { timeline: { limit: 5, unread_thread_notifications: true } } }) } });
    await call('get', `${C}/v1/rooms/${room}/timestamp_to_event`, { user: bob, query: { ts: String(s.clock.now()), dir: 'b' } });
    await call('get', `${C}/v1/rooms/${room}/timestamp_to_event`, { user: bob, query: { ts: '0', dir: 'b' } }); // 404

    // Search, reports, third-party identifiers, room upgrade.
    await call('post', `${C}/v3/search`, { user: bob, body: { search_categories: { room_events: {
      search_term: 'thread', order_by: 'recent', filter: { limit: 1 }, event_context: { before_limit: 1, after_limit: 1, include_profile: true },
      include_state: true, groupings: { group_by: [{ key: 'room_id' }, { key: 'sender' }] },
    } } } });
    await call('post', `${C}/v3/search`, { user: bob, body: { search_categories: { room_events: { search_term: 'schemas' } } } });
    await call('post', `${C}/v3/search`, { user: bob, body: {} }); // 400
    await call('post', `${C}/v3/rooms/${room}/report/${enc(threadRoot)}`, { user: bob, body: { reason: 'test' } });
    await call('post', `${C}/v3/rooms/${room}/report/${enc('$nope')}`, { user: bob, body: { reason: 'test' } }); // 404
    await call('post', `${C}/v3/rooms/${room}/report`, { user: invited, body: { reason: '' } });
    await call('post', `${C}/v3/users/${enc(alice.userId)}/report`, { user: bob, body: { reason: 'test' } });
    await call('get', `${C}/v3/account/3pid`, { user: bob });
    await call('post', `${C}/v3/account/3pid/add`, { user: bob, body: { client_secret: 'x', sid: 'y' } }); // 403
    await call('post', `${C}/v3/account/3pid/delete`, { user: bob, body: { medium: 'email', address: 'a@b.c' } }); // 400
    await call('post', `${C}/v3/account/3pid/email/requestToken`, { body: { client_secret: 'x', email: 'a@b.c', send_attempt: 1 } }); // 400
    await call('post', `${C}/v3/pushers/set`, { user: bob, body: {
      kind: 'http', app_id: 'org.example.app', pushkey: 'k', app_display_name: 'App', device_display_name: 'Phone', lang: 'en', profile_tag: 't',
      data: { url: 'https://push.example.org/_matrix/push/v1/notify', format: 'event_id_only' },
    } });
    await call('post', `${C}/v3/pushers/set`, { user: bob, body: { kind: 'http', app_id: 'x', pushkey: 'y' } }); // 400
    await call('get', `${C}/v3/pushers`, { user: bob });
    const upgradable = await call('post', `${C}/v3/createRoom`, { user: alice, body: { name: 'Upgrade me' } });
    await call('post', `${C}/v3/rooms/${enc(upgradable.body.room_id)}/upgrade`, { user: alice, body: { new_version: '12' } });
    await call('post', `${C}/v3/rooms/${enc(upgradable.body.room_id)}/upgrade`, { user: alice, body: { new_version: '99' } }); // 400

    // The directory.
    await call('get', `${C}/v3/directory/room/${enc('#schemas:test.local')}`);
    await call('get', `${C}/v3/directory/room/${enc('#missing:test.local')}`);
    await call('put', `${C}/v3/directory/room/${enc('#schemas2:test.local')}`, { user: alice, body: { room_id: roomId } });
    await call('get', `${C}/v3/rooms/${room}/aliases`, { user: alice });
    await call('get', `${C}/v3/directory/list/room/${room}`);
    await call('put', `${C}/v3/directory/list/room/${room}`, { user: alice, body: { visibility: 'public' } });
    await call('get', `${C}/v3/publicRooms`);
    await call('post', `${C}/v3/publicRooms`, { user: bob, body: { limit: 1, filter: { generic_search_term: 'schem' } } });

    // Errors.
    await call('get', `${C}/v3/account/whoami`);
    await call('get', `${C}/v3/sync`, { user: { ...bob, accessToken: 'nope' } });
    await call('post', `${C}/v3/rooms/${room}/leave`, { user: bob, body: {} });
    await call('post', `${C}/v3/logout`, { user: alice2 });

    const problems = recorded.flatMap((r) => schemas.check(r)).filter((p) => !KNOWN_DEVIATIONS.some((d) => d.match.test(p)));
    expect(problems).toEqual([]);
    // The scenario did reach the endpoints it was written for.
    expect(recorded.filter((r) => r.status >= 500)).toEqual([]);
    expect(recorded.length).toBeGreaterThan(70);
  });
});

describe('end-to-end keys, key backups and media against the official schemas', () => {
  const schemas = new SpecSchemas();
  const s = makeTestServer();
  afterAll(() => s.close());

  it('match', async () => {
    const { recorded, call } = recorder(s);
    const C = '/_matrix/client';
    const alice = await s.register('schemakeysalice');
    const bob = await s.register('schemakeysbob');
    await call('post', `${C}/v3/createRoom`, { user: alice, body: { invite: [bob.userId] } }).then((r) => call('post', `${C}/v3/join/${enc(r.body.room_id)}`, { user: bob }));
    const since = (await call('get', `${C}/v3/sync`, { user: bob })).body.next_batch as string;
    const d = testDevice(alice.userId, alice.deviceId);
    await call('post', `${C}/v3/keys/upload`, { user: alice, body: { device_keys: d.deviceKeys, one_time_keys: oneTimeKeys(d, 2), fallback_keys: oneTimeKeys(d, 1, 'FB', { fallback: true }) } });
    const cs = testCrossSigning(alice.userId);
    await call('post', `${C}/v3/keys/device_signing/upload`, { user: alice, body: cs.body });
    await call('post', `${C}/v3/keys/signatures/upload`, { user: alice, body: { [alice.userId]: { [alice.deviceId]: signedBy(d.deviceKeys, alice.userId, cs.selfSigning), NODEVICE: d.deviceKeys } } });
    await call('post', `${C}/v3/keys/device_signing/upload`, { user: alice, body: testCrossSigning(alice.userId).body }); // 401 UIA
    await call('post', `${C}/v3/keys/query`, { user: alice, body: { device_keys: { [alice.userId]: [] } } });
    await call('post', `${C}/v3/keys/query`, { user: bob, body: { device_keys: { [alice.userId]: [], '@x:elsewhere.example': [] } } });
    await call('post', `${C}/v3/keys/claim`, { user: bob, body: { one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } } } });
    await call('get', `${C}/v3/sync`, { user: bob, query: { since, timeout: '0' } });
    await call('get', `${C}/v3/sync`, { user: alice });
    await call('get', `${C}/v3/keys/changes`, { user: bob, query: { from: since, to: since } });

    await call('get', `${C}/v3/room_keys/version`, { user: alice }); // 404
    const v = (await call('post', `${C}/v3/room_keys/version`, { user: alice, body: { algorithm: 'm.megolm_backup.v1.curve25519-aes-sha2', auth_data: { public_key: 'abc', signatures: {} } } })).body.version as string;
    await call('get', `${C}/v3/room_keys/version`, { user: alice });
    await call('get', `${C}/v3/room_keys/version/${v}`, { user: alice });
    await call('put', `${C}/v3/room_keys/version/${v}`, { user: alice, body: { algorithm: 'm.megolm_backup.v1.curve25519-aes-sha2', auth_data: { public_key: 'abc' } } });
    const key = { first_message_index: 0, forwarded_count: 0, is_verified: true, session_data: { ephemeral: 'e', ciphertext: 'c', mac: 'm' } };
    await call('put', `${C}/v3/room_keys/keys`, { user: alice, query: { version: v }, body: { rooms: { '!r:test.local': { sessions: { S: key } } } } });
    await call('put', `${C}/v3/room_keys/keys/${enc('!r:test.local')}/T`, { user: alice, query: { version: '99' }, body: key }); // 403
    await call('get', `${C}/v3/room_keys/keys`, { user: alice, query: { version: v } });
    await call('get', `${C}/v3/room_keys/keys/${enc('!r:test.local')}`, { user: alice, query: { version: v } });
    await call('get', `${C}/v3/room_keys/keys/${enc('!r:test.local')}/S`, { user: alice, query: { version: v } });
    await call('delete', `${C}/v3/room_keys/keys/${enc('!r:test.local')}/S`, { user: alice, query: { version: v } });
    await call('delete', `${C}/v3/room_keys/version/${v}`, { user: alice });

    const up = await s.http.post('/_matrix/media/v3/upload').query({ filename: 'a.txt' }).set('Authorization', `Bearer ${alice.accessToken}`).set('Content-Type', 'text/plain').send('hello');
    recorded.push({ method: 'post', path: '/_matrix/media/v3/upload', status: up.status, body: up.body });
    await call('post', '/_matrix/media/v1/create', { user: alice });
    await call('get', `${C}/v1/media/config`, { user: alice });
    await call('get', '/_matrix/media/v3/config', { user: alice });
    await call('get', `${C}/v1/media/download/test.local/AAAAAAAAAAAA`, { user: alice }); // 404

    const problems = recorded.flatMap((r) => schemas.check(r)).filter((p) => !KNOWN_DEVIATIONS.some((d) => d.match.test(p)));
    expect(problems).toEqual([]);
    expect(recorded.filter((r) => r.status >= 500)).toEqual([]);
    expect(recorded.length).toBeGreaterThanOrEqual(30);
  });
});

describe('server-name senders against the official schemas', () => {
  const schemas = new SpecSchemas();
  const s = makeTestServer();
  afterAll(() => s.close());

  it('differ only in the sender (format mx-user-id, pattern ^@) without the compat sender: the one deliberate deviation', async () => {
    const u = await s.register('domainsender');
    await s.services.notices.send(u.userId, { msgtype: 'm.text', body: 'hello' });
    // The notices room is the system user's (a real user); the notice in it has the server name as sender.
    const invited = await s.http.get('/_matrix/client/v3/sync').set('Authorization', `Bearer ${u.accessToken}`);
    const roomId = Object.keys(invited.body.rooms.invite)[0]!;
    expect(schemas.check({ method: 'get', path: '/_matrix/client/v3/sync', status: 200, body: invited.body })).toEqual([]);
    const join = await s.http.post(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/join`).set('Authorization', `Bearer ${u.accessToken}`).send({});
    expect(join.status).toBe(200);
    const sync = await s.http.get('/_matrix/client/v3/sync').set('Authorization', `Bearer ${u.accessToken}`);
    const problems = schemas.check({ method: 'get', path: '/_matrix/client/v3/sync', status: 200, body: sync.body });
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.filter((p) => !/\/sender must match (format "mx-user-id"|pattern "\^@")$/.test(p))).toEqual([]);
  });
});
