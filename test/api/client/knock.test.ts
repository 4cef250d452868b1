// Knocking (matrix-spec: knocking.yaml#knockRoom; client-server-api "Knocking on rooms"; rooms/v11
// auth rules 4.7): POST /_matrix/client/v3/knock/{roomIdOrAlias} with a reason, in rooms whose join
// rule is knock or knock_restricted. The room's members see an m.room.member event with membership
// knock; the knocker sees the room under /sync rooms.knock with stripped state; a member who may
// invite accepts the knock (invite), one who may kick denies it (kick); the knocker can retract it.
import { SpecSchemas } from '../../helpers/spec-schemas.js';
import { bearer, expectError, makeTestServer, type TestServer, type TestUser } from '../../helpers/server.js';

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;

interface Ev { type: string; sender: string; state_key?: string; content: Record<string, unknown>; event_id?: string }

async function knockRoom(s: TestServer, owner: TestUser, extra: object = {}): Promise<string> {
  const res = await s.http.post(`${C}/createRoom`).set(bearer(owner)).send({
    name: 'Knock knock', topic: 'who is there', room_alias_name: `knock${Math.random().toString(36).slice(2, 8)}`,
    initial_state: [{ type: 'm.room.join_rules', content: { join_rule: 'knock' } }], ...extra,
  });
  if (res.status !== 200) throw new Error(`createRoom: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.room_id as string;
}

const knock = (s: TestServer, u: TestUser, roomIdOrAlias: string, body: object = {}) => s.http.post(`${C}/knock/${enc(roomIdOrAlias)}`).set(bearer(u)).send(body);
const sync = async (s: TestServer, u: TestUser, since?: string) => (await s.http.get(`${C}/sync`).query(since ? { since, timeout: '0' } : {}).set(bearer(u))).body;

describe('POST /_matrix/client/v3/knock/{roomIdOrAlias}', () => {
  const s = makeTestServer();
  const schemas = new SpecSchemas();
  let alice: TestUser;
  let bob: TestUser;
  afterAll(() => s.close());
  beforeAll(async () => {
    alice = await s.register('alice');
    bob = await s.register('bob');
  });

  it('knocks with a reason: answers the room ID; the members see a knock member event with the knocker\'s profile', async () => {
    const roomId = await knockRoom(s, alice);
    const before = await sync(s, alice);
    const res = await knock(s, bob, roomId, { reason: 'let me in' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ room_id: roomId });
    expect(schemas.check({ method: 'post', path: `${C}/knock/${enc(roomId)}`, status: 200, body: res.body })).toEqual([]);
    const after = await sync(s, alice, before.next_batch);
    const events = after.rooms.join[roomId].timeline.events as Ev[];
    expect(events).toEqual([expect.objectContaining({ type: 'm.room.member', sender: bob.userId, state_key: bob.userId, content: { membership: 'knock', reason: 'let me in', displayname: 'bob' } })]);
  });

  it('shows the knocker the room under rooms.knock with its stripped state and the knock event', async () => {
    const roomId = await knockRoom(s, alice);
    const carol = await s.register('carol');
    const before = await sync(s, carol);
    await knock(s, carol, roomId).expect(200);
    const body = await sync(s, carol, before.next_batch);
    expect(Object.keys(body.rooms.knock)).toEqual([roomId]);
    const state = body.rooms.knock[roomId].knock_state.events as Ev[];
    expect(state.map((e) => e.type).sort()).toEqual(['m.room.canonical_alias', 'm.room.create', 'm.room.join_rules', 'm.room.member', 'm.room.name', 'm.room.topic']);
    expect(state.find((e) => e.type === 'm.room.member')).toMatchObject({ state_key: carol.userId, sender: carol.userId, content: { membership: 'knock' }, event_id: expect.any(String) });
    expect(state.find((e) => e.type === 'm.room.join_rules')?.content).toEqual({ join_rule: 'knock' });
    expect(body.rooms.join[roomId]).toBeUndefined();
    expect(schemas.check({ method: 'get', path: `${C}/sync`, status: 200, body })).toEqual([]);
    // An initial sync shows it too; a later incremental sync does not repeat it.
    expect(Object.keys((await sync(s, carol)).rooms.knock)).toEqual([roomId]);
    expect((await sync(s, carol, body.next_batch)).rooms?.knock?.[roomId]).toBeUndefined();
  });

  it('knocks by alias', async () => {
    const roomId = await knockRoom(s, alice, { room_alias_name: 'knockalias' });
    const dave = await s.register('dave');
    expect((await knock(s, dave, '#knockalias:test.local')).body).toEqual({ room_id: roomId });
  });

  it('accepting (invite) moves the room to rooms.invite; the knocker then joins', async () => {
    const roomId = await knockRoom(s, alice);
    const erin = await s.register('erin');
    await knock(s, erin, roomId).expect(200);
    const before = await sync(s, erin);
    await s.http.post(`${C}/rooms/${enc(roomId)}/invite`).set(bearer(alice)).send({ user_id: erin.userId }).expect(200);
    const body = await sync(s, erin, before.next_batch);
    expect(Object.keys(body.rooms.invite)).toEqual([roomId]);
    expect(body.rooms.knock[roomId]).toBeUndefined();
    expect((await s.http.post(`${C}/join/${enc(roomId)}`).set(bearer(erin)).send({})).status).toBe(200);
  });

  it('denying (kick) moves the room to rooms.leave with the leave event; the knocker may knock again', async () => {
    const roomId = await knockRoom(s, alice);
    const frank = await s.register('frank');
    await knock(s, frank, roomId).expect(200);
    const before = await sync(s, frank);
    await s.http.post(`${C}/rooms/${enc(roomId)}/kick`).set(bearer(alice)).send({ user_id: frank.userId, reason: 'not now' }).expect(200);
    const body = await sync(s, frank, before.next_batch);
    expect(body.rooms.leave[roomId].timeline.events).toEqual([expect.objectContaining({ type: 'm.room.member', sender: alice.userId, content: expect.objectContaining({ membership: 'leave', reason: 'not now' }) })]);
    expect((await knock(s, frank, roomId)).status).toBe(200);
  });

  it('the knocker can retract with /leave', async () => {
    const roomId = await knockRoom(s, alice);
    const gina = await s.register('gina');
    await knock(s, gina, roomId).expect(200);
    await s.http.post(`${C}/rooms/${enc(roomId)}/leave`).set(bearer(gina)).send({}).expect(200);
    expect((await s.services.storage.rooms.getMembership(roomId, gina.userId))?.membership).toBe('leave');
  });

  it('only members who may invite accept and who may kick deny (403 M_FORBIDDEN otherwise)', async () => {
    const roomId = await knockRoom(s, alice, { power_level_content_override: { invite: 50, kick: 50 } });
    const helper = await s.register('helper');
    await s.http.post(`${C}/rooms/${enc(roomId)}/invite`).set(bearer(alice)).send({ user_id: helper.userId }).expect(200);
    await s.http.post(`${C}/join/${enc(roomId)}`).set(bearer(helper)).send({}).expect(200);
    const hank = await s.register('hank');
    await knock(s, hank, roomId).expect(200);
    expectError(await s.http.post(`${C}/rooms/${enc(roomId)}/invite`).set(bearer(helper)).send({ user_id: hank.userId }), 403, 'M_FORBIDDEN');
    expectError(await s.http.post(`${C}/rooms/${enc(roomId)}/kick`).set(bearer(helper)).send({ user_id: hank.userId }), 403, 'M_FORBIDDEN');
    expect((await s.services.storage.rooms.getMembership(roomId, hank.userId))?.membership).toBe('knock');
  });

  it('refuses knocks where the join rule does not allow them, and by members, invitees and banned users (403 M_FORBIDDEN)', async () => {
    const ivan = await s.register('ivan');
    const invite = await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'private_chat' });
    expectError(await knock(s, ivan, invite.body.room_id), 403, 'M_FORBIDDEN');
    const pub = await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'public_chat' });
    expectError(await knock(s, ivan, pub.body.room_id), 403, 'M_FORBIDDEN');
    const roomId = await knockRoom(s, alice);
    expectError(await knock(s, alice, roomId), 403, 'M_FORBIDDEN');
    await s.http.post(`${C}/rooms/${enc(roomId)}/invite`).set(bearer(alice)).send({ user_id: ivan.userId }).expect(200);
    expectError(await knock(s, ivan, roomId), 403, 'M_FORBIDDEN');
    const judy = await s.register('judy');
    await s.http.post(`${C}/rooms/${enc(roomId)}/ban`).set(bearer(alice)).send({ user_id: judy.userId }).expect(200);
    expectError(await knock(s, judy, roomId), 403, 'M_FORBIDDEN');
  });

  it('works with knock_restricted; refuses unknown rooms (404 M_NOT_FOUND), long reasons (400 M_BAD_JSON), guests and no token', async () => {
    const restricted = await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ initial_state: [{ type: 'm.room.join_rules', content: { join_rule: 'knock_restricted', allow: [] } }] });
    const kate = await s.register('kate');
    expect((await knock(s, kate, restricted.body.room_id)).status).toBe(200);
    expectError(await knock(s, kate, '!nowhere:test.local'), 404, 'M_NOT_FOUND');
    expectError(await knock(s, kate, '#nowhere:test.local'), 404, 'M_NOT_FOUND');
    const roomId = await knockRoom(s, alice);
    expectError(await knock(s, kate, roomId, { reason: 'x'.repeat(513) }), 400, 'M_BAD_JSON');
    const g = await s.http.post(`${C}/register`).query({ kind: 'guest' }).send({});
    expectError(await knock(s, { accessToken: g.body.access_token } as TestUser, roomId), 403, 'M_GUEST_ACCESS_FORBIDDEN');
    expectError(await s.http.post(`${C}/knock/${enc(roomId)}`).send({}), 401, 'M_MISSING_TOKEN');
  });
});
