// Room upgrades (matrix-spec: room_upgrades.yaml#upgradeRoom; client-server-api modules/room_upgrades.md
// "Server behaviour").
import { bearer, expectError, makeTestServer, type TestUser } from '../../helpers/server.js';

const s = makeTestServer({ presence: { enabled: false } });
afterAll(() => s.close());

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
let txn = 0;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const upgrade = (u: TestUser, roomId: string, body: Json) => s.http.post(`${C}/rooms/${enc(roomId)}/upgrade`).set(bearer(u)).send(body);
const state = async (u: TestUser, roomId: string): Promise<Map<string, Json>> => {
  const r = await s.http.get(`${C}/rooms/${enc(roomId)}/state`).set(bearer(u));
  expect(r.status).toBe(200);
  return new Map((r.body as Json[]).map((e) => [`${e.type}|${e.state_key}`, e]));
};
const send = (u: TestUser, roomId: string, body = 'hi') => s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/u${++txn}`).set(bearer(u)).send({ msgtype: 'm.text', body });

let alice: TestUser;
let bob: TestUser;
let mallory: TestUser;
beforeAll(async () => {
  alice = await s.register('alice');
  bob = await s.register('bob');
  mallory = await s.register('mallory');
});

describe('POST /rooms/:roomId/upgrade', () => {
  it('creates the replacement room with the state copied, moves aliases, tombstones and restricts the old room', async () => {
    const created = await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({
      preset: 'public_chat', room_version: '10', name: 'Old room', topic: 'About things', room_alias_name: 'upgrademe', visibility: 'public',
      creation_content: { type: 'm.space' },
      initial_state: [
        { type: 'm.room.avatar', content: { url: 'mxc://test.local/avatar' } },
        { type: 'm.room.server_acl', content: { allow: ['*'], deny: ['evil.example'], allow_ip_literals: false } },
        { type: 'm.room.encryption', content: { algorithm: 'm.megolm.v1.aes-sha2' } },
        { type: 'm.space.child', state_key: '!child:test.local', content: { via: ['test.local'] } },
        { type: 'org.example.custom', content: { not: 'copied' } },
      ],
      power_level_content_override: { users: { [alice.userId]: 100, [bob.userId]: 42 } },
    });
    expect(created.status).toBe(200);
    const oldRoom = created.body.room_id as string;
    expect((await s.http.post(`${C}/rooms/${enc(oldRoom)}/join`).set(bearer(bob)).send({})).status).toBe(200);
    expect((await s.http.post(`${C}/rooms/${enc(oldRoom)}/join`).set(bearer(mallory)).send({})).status).toBe(200);
    expect((await s.http.post(`${C}/rooms/${enc(oldRoom)}/ban`).set(bearer(alice)).send({ user_id: mallory.userId, reason: 'spam' })).status).toBe(200);
    const lastBefore = (await send(alice, oldRoom, 'last words')).body.event_id as string;

    const r = await upgrade(alice, oldRoom, { new_version: '11' });
    expect(r.status).toBe(200);
    const newRoom = r.body.replacement_room as string;
    expect(newRoom).toMatch(/^!.+:test\.local$/);

    const ns = await state(alice, newRoom);
    const create = ns.get('m.room.create|')!;
    expect(create.content).toEqual({ room_version: '11', type: 'm.space', predecessor: { room_id: oldRoom, event_id: lastBefore } });
    const os = await state(alice, oldRoom);
    for (const key of ['m.room.name|', 'm.room.topic|', 'm.room.avatar|', 'm.room.server_acl|', 'm.room.encryption|', 'm.room.join_rules|',
      'm.room.history_visibility|', 'm.room.guest_access|', 'm.space.child|!child:test.local']) {
      expect({ key, content: ns.get(key)?.content }).toEqual({ key, content: os.get(key)!.content });
    }
    expect(ns.has('org.example.custom|')).toBe(false);
    expect(ns.get(`m.room.member|${alice.userId}`)!.content.membership).toBe('join');
    expect(ns.has(`m.room.member|${bob.userId}`)).toBe(false);
    expect(ns.get(`m.room.member|${mallory.userId}`)!.content).toEqual({ membership: 'ban', reason: 'spam' });
    expect(ns.get('m.room.power_levels|')!.content.users).toEqual({ [alice.userId]: 100, [bob.userId]: 42 });
    expect(ns.get('m.room.canonical_alias|')!.content.alias).toBe('#upgrademe:test.local');

    // The alias and the directory listing moved.
    expect((await s.http.get(`${C}/directory/room/${enc('#upgrademe:test.local')}`)).body.room_id).toBe(newRoom);
    expect((await s.http.get(`${C}/directory/list/room/${enc(newRoom)}`)).body.visibility).toBe('public');
    expect((await s.http.get(`${C}/directory/list/room/${enc(oldRoom)}`)).body.visibility).toBe('private');

    // The old room: tombstone, restricted power levels, no canonical alias.
    const after = await state(bob, oldRoom);
    expect(after.get('m.room.tombstone|')!.content).toEqual({ body: 'This room has been replaced', replacement_room: newRoom });
    const pl = after.get('m.room.power_levels|')!.content;
    expect([pl.events_default, pl.invite]).toEqual([50, 50]);
    expect(after.get('m.room.canonical_alias|')!.content).toEqual({});
    expectError(await send(bob, oldRoom), 403, 'M_FORBIDDEN');
    // Bob follows the tombstone and joins the new room.
    expect((await s.http.post(`${C}/rooms/${enc(newRoom)}/join`).set(bearer(bob)).send({})).status).toBe(200);
  });

  it('raises an upgrader with just the tombstone level while copying, and lowers them again', async () => {
    // Room version 11: the power levels list the creator (version 12 refuses that).
    const created = await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({
      preset: 'private_chat', name: 'Moderated', invite: [bob.userId], room_version: '11',
      power_level_content_override: { users: { [alice.userId]: 100, [bob.userId]: 50 }, events: { 'm.room.tombstone': 50, 'm.room.power_levels': 100, 'm.room.name': 100 } },
    });
    const oldRoom = created.body.room_id as string;
    expect((await s.http.post(`${C}/rooms/${enc(oldRoom)}/join`).set(bearer(bob)).send({})).status).toBe(200);
    const r = await upgrade(bob, oldRoom, { new_version: '11' });
    expect(r.status).toBe(200);
    const ns = await state(bob, r.body.replacement_room);
    expect(ns.get('m.room.name|')!.content.name).toBe('Moderated');
    expect(ns.get('m.room.power_levels|')!.content.users).toEqual({ [alice.userId]: 100, [bob.userId]: 50 });
    // Bob could not change the old room's power levels: they stay, the tombstone is there.
    const os = await state(bob, oldRoom);
    expect(os.get('m.room.tombstone|')).toBeDefined();
    expect(os.get('m.room.power_levels|')!.content.events_default).toBe(0);
  });

  it('upgrades to a version with privileged creators: creators are not listed, additional creators are set', async () => {
    const oldRoom = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'public_chat' })).body.room_id as string;
    const r = await upgrade(alice, oldRoom, { new_version: '12', additional_creators: [bob.userId] });
    expect(r.status).toBe(200);
    const ns = await state(alice, r.body.replacement_room);
    expect(ns.get('m.room.create|')!.content.additional_creators).toEqual([bob.userId]);
    expect(ns.get('m.room.power_levels|')!.content.users).toEqual({});
    // And back to 11: the creator, listed nowhere in 12, gets 100.
    const back = await upgrade(alice, r.body.replacement_room, { new_version: '11' });
    expect(back.status).toBe(200);
    expect((await state(alice, back.body.replacement_room)).get('m.room.power_levels|')!.content.users).toEqual({ [alice.userId]: 100 });
  });

  it('refuses an unsupported version (400 M_UNSUPPORTED_ROOM_VERSION) and a missing one (400 M_MISSING_PARAM), changing nothing', async () => {
    const oldRoom = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'public_chat' })).body.room_id as string;
    expectError(await upgrade(alice, oldRoom, { new_version: '1' }), 400, 'M_UNSUPPORTED_ROOM_VERSION');
    expectError(await upgrade(alice, oldRoom, {}), 400, 'M_MISSING_PARAM');
    expectError(await upgrade(alice, oldRoom, { new_version: '11', additional_creators: ['not-a-user'] }), 400, 'M_BAD_JSON');
    expect((await state(alice, oldRoom)).has('m.room.tombstone|')).toBe(false);
  });

  it('refuses a member without the tombstone level and a non-member (403 M_FORBIDDEN), and an unknown room (404)', async () => {
    const oldRoom = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'public_chat', room_alias_name: 'staying' })).body.room_id as string;
    expect((await s.http.post(`${C}/rooms/${enc(oldRoom)}/join`).set(bearer(bob)).send({})).status).toBe(200);
    expectError(await upgrade(bob, oldRoom, { new_version: '11' }), 403, 'M_FORBIDDEN');
    expectError(await upgrade(mallory, oldRoom, { new_version: '11' }), 403, 'M_FORBIDDEN');
    expectError(await upgrade(alice, '!nowhere:test.local', { new_version: '11' }), 404, 'M_NOT_FOUND');
    expect((await state(alice, oldRoom)).has('m.room.tombstone|')).toBe(false);
    expect((await s.http.get(`${C}/directory/room/${enc('#staying:test.local')}`)).body.room_id).toBe(oldRoom);
    const rooms = (await s.http.get(`${C}/joined_rooms`).set(bearer(bob))).body.joined_rooms as string[];
    expect(rooms).toContain(oldRoom);
  });
});
