// Admin API for rooms, as synadm's room commands use it (spec/admin.md; Synapse admin API: rooms
// "Room State API", "Block Room API"): GET /_synapse/admin/v1/rooms/{roomId}/state,
// GET/PUT /_synapse/admin/v1/rooms/{roomId}/block.
import { makeTestServer, bearer, expectError, type TestServer, type TestUser } from '../../helpers/server.js';

const enc = encodeURIComponent;
const C = '/_matrix/client/v3';

async function makeAdmin(s: TestServer, localpart: string): Promise<TestUser> {
  const u = await s.register(localpart);
  await s.services.accounts.setAdmin(u.userId, true);
  return u;
}

describe('GET /_synapse/admin/v1/rooms/{roomId}/state', () => {
  const s = makeTestServer();
  let root: TestUser;
  let alice: TestUser;
  let roomId: string;
  afterAll(() => s.close());
  beforeAll(async () => {
    root = await makeAdmin(s, 'root');
    alice = await s.register('alice');
    roomId = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ name: 'Stateful', topic: 't' })).body.room_id;
  });

  it('answers {"state": [...]} with the current state events in client format, to an admin who is not a member', async () => {
    const res = await s.http.get(`/_synapse/admin/v1/rooms/${enc(roomId)}/state`).set(bearer(root));
    expect(res.status).toBe(200);
    const types = (res.body.state as { type: string }[]).map((e) => e.type).sort();
    expect(types).toEqual(['m.room.create', 'm.room.guest_access', 'm.room.history_visibility', 'm.room.join_rules', 'm.room.member', 'm.room.name', 'm.room.power_levels', 'm.room.topic']);
    expect(res.body.state.find((e: { type: string }) => e.type === 'm.room.name')).toMatchObject({
      room_id: roomId, sender: alice.userId, state_key: '', content: { name: 'Stateful' }, event_id: expect.stringMatching(/^\$/), origin_server_ts: expect.any(Number),
    });
  });

  it('filters by type', async () => {
    const res = await s.http.get(`/_synapse/admin/v1/rooms/${enc(roomId)}/state`).query({ type: 'm.room.member' }).set(bearer(root));
    expect(res.body.state.map((e: { state_key: string }) => e.state_key)).toEqual([alice.userId]);
  });

  it('404 M_NOT_FOUND for an unknown room; 403 M_FORBIDDEN for a non-admin', async () => {
    expectError(await s.http.get(`/_synapse/admin/v1/rooms/${enc('!nope:test.local')}/state`).set(bearer(root)), 404, 'M_NOT_FOUND');
    expectError(await s.http.get(`/_synapse/admin/v1/rooms/${enc(roomId)}/state`).set(bearer(alice)), 403, 'M_FORBIDDEN');
  });
});

describe('GET/PUT /_synapse/admin/v1/rooms/{roomId}/block', () => {
  const s = makeTestServer();
  let root: TestUser;
  let alice: TestUser;
  let bob: TestUser;
  let roomId: string;
  afterAll(() => s.close());
  beforeAll(async () => {
    root = await makeAdmin(s, 'root');
    alice = await s.register('alice');
    bob = await s.register('bob');
    roomId = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'public_chat' })).body.room_id;
  });
  const block = (id: string) => `/_synapse/admin/v1/rooms/${enc(id)}/block`;

  it('is {"block": false} for a room that is not blocked', async () => {
    expect((await s.http.get(block(roomId)).set(bearer(root))).body).toEqual({ block: false });
  });

  it('blocks: answers {"block": true}, shows who blocked it, and new joins and invites are refused (403 M_FORBIDDEN); members stay', async () => {
    const res = await s.http.put(block(roomId)).set(bearer(root)).send({ block: true });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ block: true });
    expect((await s.http.get(block(roomId)).set(bearer(root))).body).toEqual({ block: true, user_id: root.userId });
    expectError(await s.http.post(`${C}/join/${enc(roomId)}`).set(bearer(bob)).send({}), 403, 'M_FORBIDDEN');
    expectError(await s.http.post(`${C}/rooms/${enc(roomId)}/invite`).set(bearer(alice)).send({ user_id: bob.userId }), 403, 'M_FORBIDDEN');
    expect((await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/t1`).set(bearer(alice)).send({ msgtype: 'm.text', body: 'still here' })).status).toBe(200);
    expect((await s.http.get(`/_synapse/admin/v1/rooms/${enc(roomId)}`).set(bearer(root))).body.blocked).toBe(true);
  });

  it('unblocks: joins work again', async () => {
    expect((await s.http.put(block(roomId)).set(bearer(root)).send({ block: false })).body).toEqual({ block: false });
    expect((await s.http.get(block(roomId)).set(bearer(root))).body).toEqual({ block: false });
    expect((await s.http.post(`${C}/join/${enc(roomId)}`).set(bearer(bob)).send({})).status).toBe(200);
  });

  it('blocks a room this server does not know yet', async () => {
    const unknown = '!notyet:test.local';
    expect((await s.http.put(block(unknown)).set(bearer(root)).send({ block: true })).body).toEqual({ block: true });
    expect((await s.http.get(block(unknown)).set(bearer(root))).body).toEqual({ block: true, user_id: root.userId });
  });

  it('a room shut down by an admin shows as blocked (by the server)', async () => {
    const other = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({})).body.room_id;
    await s.http.delete(`/_synapse/admin/v2/rooms/${enc(other)}`).set(bearer(root)).send({}).expect(200);
    expect((await s.http.get(block(other)).set(bearer(root))).body).toEqual({ block: true });
  });

  it('refuses a missing or non-boolean block (400 M_BAD_JSON), a bad room ID (400 M_INVALID_PARAM) and non-admins (403 M_FORBIDDEN)', async () => {
    expectError(await s.http.put(block(roomId)).set(bearer(root)).send({}), 400, 'M_BAD_JSON');
    expectError(await s.http.put(block(roomId)).set(bearer(root)).send({ block: 'yes' }), 400, 'M_BAD_JSON');
    expectError(await s.http.put(block('not-a-room')).set(bearer(root)).send({ block: true }), 400, 'M_INVALID_PARAM');
    expectError(await s.http.put(block(roomId)).set(bearer(alice)).send({ block: true }), 403, 'M_FORBIDDEN');
    expectError(await s.http.get(block(roomId)).set(bearer(alice)), 403, 'M_FORBIDDEN');
    expect((await s.http.get(block(roomId)).set(bearer(root))).body).toEqual({ block: false });
  });
});
