// POST /_matrix/client/v3/createRoom (matrix-spec: create_room.yaml#createRoom): presets, visibility,
// name/topic, invites, initial_state, power_level_content_override, creation_content, room_alias_name,
// is_direct, room versions, the order of the created events, and malformed requests.
import type { StoredEvent } from '../../../src/core/events/types.js';
import { computeEventId } from '../../../src/core/crypto/event-hashing.js';
import { ROOM_VERSIONS } from '../../../src/core/room-versions.js';
import { pduOf } from '../../../src/wire.js';
import { bearer, makeTestServer, type TestUser } from '../../helpers/server.js';

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('POST /createRoom', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  beforeAll(async () => {
    alice = await s.register('alice');
    bob = await s.register('bob');
    carol = await s.register('carol');
  });

  const create = (u: TestUser, body: unknown) => s.http.post(`${C}/createRoom`).set(bearer(u)).send(body as object);
  async function createOk(u: TestUser, body: object = {}): Promise<string> {
    const res = await create(u, body);
    expect(res.status).toBe(200);
    expect(res.body.room_id).toMatch(/^!(?:[A-Za-z0-9]+:test\.local|[A-Za-z0-9_-]{43})$/); // v12: the create event's hash
    return res.body.room_id as string;
  }
  /** Every event of the room in stream order, as stored (federation format). */
  async function events(roomId: string): Promise<StoredEvent[]> {
    const recs = await s.services.storage.rooms.getRoomEvents({ roomId, from: 0, dir: 'f', limit: 1000 });
    return recs.map((r) => r.event);
  }
  async function stateOf(roomId: string, type: string, stateKey = ''): Promise<StoredEvent | undefined> {
    return (await s.services.storage.rooms.getCurrentState(roomId)).find((e) => e.type === type && e.state_key === stateKey);
  }
  async function contentOf(roomId: string, type: string, stateKey = ''): Promise<Record<string, unknown>> {
    const e = await stateOf(roomId, type, stateKey);
    expect(e).toBeDefined();
    return e!.content;
  }
  /** How many rooms `u` is joined to: a createRoom that fails must not change it. */
  const joinedCount = async (u: TestUser) => (await s.services.storage.rooms.getRoomsForUser(u.userId, ['join'])).length;
  /** Room IDs stored as (public) rooms plus the user's rooms, to see that a refused request created nothing. */
  const roomsOf = async (u: TestUser) => (await s.services.storage.rooms.getRoomsForUser(u.userId, ['join', 'invite', 'leave', 'ban'])).map((m) => m.roomId).sort();

  describe('presets', () => {
    it('without preset or visibility uses private_chat: invite-only, shared history, guests can join', async () => {
      const roomId = await createOk(alice);
      expect(await contentOf(roomId, 'm.room.join_rules')).toEqual({ join_rule: 'invite' });
      expect(await contentOf(roomId, 'm.room.history_visibility')).toEqual({ history_visibility: 'shared' });
      expect(await contentOf(roomId, 'm.room.guest_access')).toEqual({ guest_access: 'can_join' });
      const pl = await contentOf(roomId, 'm.room.power_levels');
      expect(pl).toEqual({
        users: {}, // room version 12: the creator is above every level, unlisted
        users_default: 0,
        events: {
          'm.room.name': 50, 'm.room.power_levels': 100, 'm.room.history_visibility': 100, 'm.room.canonical_alias': 50,
          'm.room.avatar': 50, 'm.room.tombstone': 100, 'm.room.server_acl': 100, 'm.room.encryption': 100,
        },
        events_default: 0,
        state_default: 50,
        ban: 50,
        kick: 50,
        redact: 50,
        invite: 0,
        historical: 100,
      });
      const dir = await s.http.get(`${C}/directory/list/room/${enc(roomId)}`);
      expect(dir.status).toBe(200);
      expect(dir.body).toEqual({ visibility: 'private' });
    });

    // Room version 12 (the default): the creator has unlimited power and is not listed in power levels
    // (rooms/v12); invitees of trusted_private_chat are listed at 100.
    it('private_chat: join_rule invite, history shared, guest_access can_join, creator unlisted (above every level)', async () => {
      const roomId = await createOk(alice, { preset: 'private_chat', invite: [bob.userId] });
      expect(await contentOf(roomId, 'm.room.join_rules')).toEqual({ join_rule: 'invite' });
      expect(await contentOf(roomId, 'm.room.history_visibility')).toEqual({ history_visibility: 'shared' });
      expect(await contentOf(roomId, 'm.room.guest_access')).toEqual({ guest_access: 'can_join' });
      const pl = await contentOf(roomId, 'm.room.power_levels');
      expect(pl.users).toEqual({});
      expect(pl.invite).toBe(0);
    });

    it('public_chat: join_rule public, history shared, guest_access forbidden, invite level 50', async () => {
      const roomId = await createOk(alice, { preset: 'public_chat' });
      expect(await contentOf(roomId, 'm.room.join_rules')).toEqual({ join_rule: 'public' });
      expect(await contentOf(roomId, 'm.room.history_visibility')).toEqual({ history_visibility: 'shared' });
      expect(await contentOf(roomId, 'm.room.guest_access')).toEqual({ guest_access: 'forbidden' });
      const pl = await contentOf(roomId, 'm.room.power_levels');
      expect(pl.users).toEqual({});
      expect(pl.invite).toBe(50);
      // A preset alone does not publish the room.
      const dir = await s.http.get(`${C}/directory/list/room/${enc(roomId)}`);
      expect(dir.body).toEqual({ visibility: 'private' });
    });

    it('trusted_private_chat: invite-only, guests can join, every invitee gets the creator\'s power level', async () => {
      const roomId = await createOk(alice, { preset: 'trusted_private_chat', invite: [bob.userId, carol.userId] });
      expect(await contentOf(roomId, 'm.room.join_rules')).toEqual({ join_rule: 'invite' });
      expect(await contentOf(roomId, 'm.room.history_visibility')).toEqual({ history_visibility: 'shared' });
      expect(await contentOf(roomId, 'm.room.guest_access')).toEqual({ guest_access: 'can_join' });
      const pl = await contentOf(roomId, 'm.room.power_levels');
      expect(pl.users).toEqual({ [bob.userId]: 100, [carol.userId]: 100 });
      expect(pl.invite).toBe(0);
    });
  });

  describe('visibility', () => {
    it('public: uses public_chat and lists the room in the published directory', async () => {
      const roomId = await createOk(alice, { visibility: 'public', name: 'Listed room' });
      expect(await contentOf(roomId, 'm.room.join_rules')).toEqual({ join_rule: 'public' });
      expect(await contentOf(roomId, 'm.room.guest_access')).toEqual({ guest_access: 'forbidden' });
      const dir = await s.http.get(`${C}/directory/list/room/${enc(roomId)}`);
      expect(dir.status).toBe(200);
      expect(dir.body).toEqual({ visibility: 'public' });
      const list = await s.http.get(`${C}/publicRooms`);
      expect(list.status).toBe(200);
      const chunk = (list.body.chunk as { room_id: string; name?: string; num_joined_members: number; join_rule?: string }[])
        .find((c) => c.room_id === roomId);
      expect(chunk).toEqual(expect.objectContaining({ room_id: roomId, name: 'Listed room', num_joined_members: 1, join_rule: 'public' }));
    });

    it('public with an explicit private_chat preset is listed but stays invite-only', async () => {
      const roomId = await createOk(alice, { visibility: 'public', preset: 'private_chat' });
      expect(await contentOf(roomId, 'm.room.join_rules')).toEqual({ join_rule: 'invite' });
      const list = await s.http.get(`${C}/publicRooms`);
      expect((list.body.chunk as { room_id: string }[]).map((c) => c.room_id)).toContain(roomId);
    });

    it('private is not listed', async () => {
      const roomId = await createOk(alice, { visibility: 'private', preset: 'public_chat' });
      const list = await s.http.get(`${C}/publicRooms`);
      expect((list.body.chunk as { room_id: string }[]).map((c) => c.room_id)).not.toContain(roomId);
    });
  });

  describe('name, topic, invite, is_direct', () => {
    it('name and topic become m.room.name and m.room.topic (with a text/plain m.topic block)', async () => {
      const roomId = await createOk(alice, { name: 'The Grand Duke Pub', topic: 'All about happy hour' });
      expect(await contentOf(roomId, 'm.room.name')).toEqual({ name: 'The Grand Duke Pub' });
      expect(await contentOf(roomId, 'm.room.topic')).toEqual({
        topic: 'All about happy hour',
        'm.topic': { 'm.text': [{ mimetype: 'text/plain', body: 'All about happy hour' }] },
      });
    });

    it('invites every user in `invite`, sent by the creator, without is_direct unless asked', async () => {
      const roomId = await createOk(alice, { invite: [bob.userId, carol.userId] });
      for (const u of [bob, carol]) {
        const m = await s.services.storage.rooms.getMembership(roomId, u.userId);
        expect(m?.membership).toBe('invite');
        const ev = await stateOf(roomId, 'm.room.member', u.userId);
        expect(ev!.sender).toBe(alice.userId);
        expect(ev!.content.membership).toBe('invite');
        expect(ev!.content).not.toHaveProperty('is_direct');
      }
      // The invitee can then join the invite-only room.
      const j = await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(bob)).send({});
      expect(j.status).toBe(200);
    });

    it('is_direct sets is_direct: true on the invite events', async () => {
      const roomId = await createOk(alice, { invite: [bob.userId], is_direct: true, preset: 'trusted_private_chat' });
      const ev = await stateOf(roomId, 'm.room.member', bob.userId);
      expect(ev!.content).toEqual(expect.objectContaining({ membership: 'invite', is_direct: true }));
      // The creator's own join is not marked direct.
      expect((await stateOf(roomId, 'm.room.member', alice.userId))!.content).not.toHaveProperty('is_direct');
    });

    it('duplicate invitees are invited once', async () => {
      const roomId = await createOk(alice, { invite: [bob.userId, bob.userId] });
      const invites = (await events(roomId)).filter((e) => e.type === 'm.room.member' && e.state_key === bob.userId);
      expect(invites).toHaveLength(1);
    });

    it('refuses an unknown local invitee with 404 M_NOT_FOUND and creates no room', async () => {
      const before = await roomsOf(alice);
      const res = await create(alice, { invite: ['@nobody:test.local'] });
      expect(res.status).toBe(404);
      expect(res.body.errcode).toBe('M_NOT_FOUND');
      expect(await roomsOf(alice)).toEqual(before);
    });

    it('refuses a malformed invitee with 400 M_INVALID_PARAM', async () => {
      const res = await create(alice, { invite: ['bob'] });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
    });

    it('refuses inviting yourself with 400 M_BAD_JSON', async () => {
      const before = await joinedCount(alice);
      const res = await create(alice, { invite: [alice.userId] });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_BAD_JSON');
      expect(await joinedCount(alice)).toBe(before);
    });
  });

  describe('initial_state, power_level_content_override, creation_content', () => {
    it('initial_state overrides the preset\'s events (no second event of that type is sent)', async () => {
      const roomId = await createOk(alice, {
        preset: 'private_chat',
        initial_state: [
          { type: 'm.room.join_rules', state_key: '', content: { join_rule: 'public' } },
          { type: 'm.room.history_visibility', content: { history_visibility: 'joined' } },
        ],
      });
      expect(await contentOf(roomId, 'm.room.join_rules')).toEqual({ join_rule: 'public' });
      expect(await contentOf(roomId, 'm.room.history_visibility')).toEqual({ history_visibility: 'joined' });
      expect(await contentOf(roomId, 'm.room.guest_access')).toEqual({ guest_access: 'can_join' });
      const all = await events(roomId);
      expect(all.filter((e) => e.type === 'm.room.join_rules')).toHaveLength(1);
      expect(all.filter((e) => e.type === 'm.room.history_visibility')).toHaveLength(1);
      // The room really is public now: bob joins without an invite.
      const j = await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(bob)).send({});
      expect(j.status).toBe(200);
    });

    it('initial_state may set any state, with a state_key, in the order given', async () => {
      const roomId = await createOk(alice, {
        initial_state: [
          { type: 'org.example.b', state_key: 'k1', content: { n: 1 } },
          { type: 'org.example.a', state_key: '', content: { n: 2 } },
          { type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } },
        ],
      });
      expect(await contentOf(roomId, 'org.example.b', 'k1')).toEqual({ n: 1 });
      expect(await contentOf(roomId, 'org.example.a')).toEqual({ n: 2 });
      expect(await contentOf(roomId, 'm.room.encryption')).toEqual({ algorithm: 'm.megolm.v1.aes-sha2' });
      const types = (await events(roomId)).map((e) => e.type);
      expect(types.indexOf('org.example.b')).toBeLessThan(types.indexOf('org.example.a'));
      expect(types.indexOf('org.example.a')).toBeLessThan(types.indexOf('m.room.encryption'));
    });

    it('name and topic overwrite an m.room.name / m.room.topic in initial_state', async () => {
      const roomId = await createOk(alice, {
        name: 'from name',
        topic: 'from topic',
        initial_state: [
          { type: 'm.room.name', content: { name: 'from initial_state' } },
          { type: 'm.room.topic', content: { topic: 'initial topic' } },
        ],
      });
      expect(await contentOf(roomId, 'm.room.name')).toEqual({ name: 'from name' });
      expect((await contentOf(roomId, 'm.room.topic')).topic).toBe('from topic');
      const names = (await events(roomId)).filter((e) => e.type === 'm.room.name');
      expect(names.map((e) => e.content.name)).toEqual(['from name']);
    });

    it('initial_state may not carry m.room.member or m.room.create: 400 M_BAD_JSON, no room', async () => {
      const before = await joinedCount(alice);
      for (const type of ['m.room.member', 'm.room.create']) {
        const res = await create(alice, { initial_state: [{ type, state_key: type === 'm.room.member' ? bob.userId : '', content: { membership: 'join' } }] });
        expect(res.status).toBe(400);
        expect(res.body.errcode).toBe('M_BAD_JSON');
      }
      expect(await joinedCount(alice)).toBe(before);
    });

    it('initial_state the auth rules refuse (state_key of another user) is 400 M_INVALID_ROOM_STATE, no room', async () => {
      const before = await roomsOf(alice);
      const res = await create(alice, { initial_state: [{ type: 'org.example.owned', state_key: bob.userId, content: {} }] });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_ROOM_STATE');
      expect(await roomsOf(alice)).toEqual(before);
    });

    it('power_level_content_override is applied on top of the defaults', async () => {
      // Room version 11: the override lists the creator (version 12 refuses that: creators are not listed).
      const roomId = await createOk(alice, {
        invite: [bob.userId], room_version: '11',
        power_level_content_override: { users: { [alice.userId]: 100, [bob.userId]: 50 }, events_default: 10, kick: 75, events: { 'org.example.x': 20 } },
      });
      const pl = await contentOf(roomId, 'm.room.power_levels');
      expect(pl.users).toEqual({ [alice.userId]: 100, [bob.userId]: 50 });
      expect(pl.events_default).toBe(10);
      expect(pl.kick).toBe(75);
      expect(pl.events).toEqual({ 'org.example.x': 20 });
      // Untouched keys keep their defaults.
      expect(pl.state_default).toBe(50);
      expect(pl.ban).toBe(50);
      expect(pl.users_default).toBe(0);
    });

    it('an override that leaves the creator unable to send the initial state is 400 M_INVALID_ROOM_STATE, no room', async () => {
      const before = await roomsOf(alice);
      // Room version 11 (in 12 the creator keeps unlimited power whatever power_levels say).
      const res = await create(alice, { name: 'x', room_version: '11', power_level_content_override: { users: {} } });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_ROOM_STATE');
      expect(await roomsOf(alice)).toEqual(before);
    });

    it('creation_content keys go into m.room.create; creator and room_version are the server\'s', async () => {
      const roomId = await createOk(alice, {
        room_version: '10',
        creation_content: { 'm.federate': false, type: 'm.space', creator: bob.userId, room_version: '1', 'org.example.k': 'v' },
      });
      expect(await contentOf(roomId, 'm.room.create')).toEqual({
        'm.federate': false, type: 'm.space', creator: alice.userId, room_version: '10', 'org.example.k': 'v',
      });
    });
  });

  describe('room_alias_name', () => {
    it('creates the alias, sends m.room.canonical_alias, and the alias resolves to the room', async () => {
      const roomId = await createOk(alice, { room_alias_name: 'thepub' });
      expect(await contentOf(roomId, 'm.room.canonical_alias')).toEqual({ alias: '#thepub:test.local' });
      const res = await s.http.get(`${C}/directory/room/${enc('#thepub:test.local')}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ room_id: roomId, servers: ['test.local'] });
    });

    it('a taken alias is 400 M_ROOM_IN_USE and no room is created', async () => {
      const first = await createOk(alice, { room_alias_name: 'taken' });
      const before = await roomsOf(bob);
      const res = await create(bob, { room_alias_name: 'taken', name: 'second' });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_ROOM_IN_USE');
      expect(await roomsOf(bob)).toEqual(before);
      // The alias still points to the first room.
      const r = await s.http.get(`${C}/directory/room/${enc('#taken:test.local')}`);
      expect(r.body.room_id).toBe(first);
    });

    it('two concurrent creations with one alias: one room, the other 400 M_ROOM_IN_USE', async () => {
      const before = await roomsOf(carol);
      const results = await Promise.all([0, 1, 2].map(() => create(carol, { room_alias_name: 'race' })));
      const ok = results.filter((r) => r.status === 200);
      const refused = results.filter((r) => r.status !== 200);
      expect(ok).toHaveLength(1);
      expect(refused.map((r) => [r.status, r.body.errcode])).toEqual([[400, 'M_ROOM_IN_USE'], [400, 'M_ROOM_IN_USE']]);
      const after = await roomsOf(carol);
      expect(after).toEqual([...before, ok[0]!.body.room_id].sort());
      const r = await s.http.get(`${C}/directory/room/${enc('#race:test.local')}`);
      expect(r.body.room_id).toBe(ok[0]!.body.room_id);
    });

    it('concurrent createRoom calls racing for one alias (service level, no HTTP in between) create one room', async () => {
      // The HTTP requests above rarely interleave; calling the service directly makes both calls pass
      // the "alias free?" check before either room is stored.
      const auth = await s.services.tokens.authenticate(carol.accessToken);
      const before = await roomsOf(carol);
      const results = await Promise.allSettled([0, 1, 2].map(() => s.services.rooms.createRoom(auth, { room_alias_name: 'race2' }, s.services.directory)));
      const ok = results.filter((r): r is PromiseFulfilledResult<string> => r.status === 'fulfilled');
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(ok).toHaveLength(1);
      expect(refused.map((r) => [r.reason.status, r.reason.errcode])).toEqual([[400, 'M_ROOM_IN_USE'], [400, 'M_ROOM_IN_USE']]);
      expect(await roomsOf(carol)).toEqual([...before, ok[0]!.value].sort());
    });

    it('a refused creation releases the alias it asked for', async () => {
      const res = await create(alice, { room_alias_name: 'released', room_version: '99' });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_UNSUPPORTED_ROOM_VERSION');
      const bad = await create(alice, { room_alias_name: 'released', room_version: '11', power_level_content_override: { users: {} } });
      expect(bad.status).toBe(400);
      expect(bad.body.errcode).toBe('M_INVALID_ROOM_STATE');
      const missing = await s.http.get(`${C}/directory/room/${enc('#released:test.local')}`);
      expect(missing.status).toBe(404);
      expect(missing.body.errcode).toBe('M_NOT_FOUND');
      await createOk(alice, { room_alias_name: 'released' });
    });

    it.each([['with:colon'], ['with space'], ['']])('refuses room_alias_name %j with 400 M_INVALID_PARAM', async (name) => {
      const before = await joinedCount(alice);
      const res = await create(alice, { room_alias_name: name });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
      expect(await joinedCount(alice)).toBe(before);
    });

    it('refuses an alias longer than 255 bytes with 400 M_INVALID_PARAM', async () => {
      const res = await create(alice, { room_alias_name: 'a'.repeat(250) });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
    });
  });

  describe('room versions', () => {
    it('defaults to the configured version (12)', async () => {
      const roomId = await createOk(alice);
      const c = await contentOf(roomId, 'm.room.create');
      expect(c.room_version).toBe('12');
      expect(c).not.toHaveProperty('creator');
      expect((await s.services.storage.rooms.getRoom(roomId))!.roomVersion).toBe('12');
    });

    it('room_version 10: the create event has content.creator', async () => {
      const roomId = await createOk(alice, { room_version: '10' });
      const create10 = await stateOf(roomId, 'm.room.create');
      expect(create10!.content).toEqual({ room_version: '10', creator: alice.userId });
      expect(create10!.sender).toBe(alice.userId);
      expect((await s.services.storage.rooms.getRoom(roomId))!.roomVersion).toBe('10');
    });

    it('room_version 11: the create event has no creator, even when creation_content names one', async () => {
      const roomId = await createOk(alice, { room_version: '11', creation_content: { creator: bob.userId } });
      const create11 = await stateOf(roomId, 'm.room.create');
      expect(create11!.content).toEqual({ room_version: '11' });
      expect(create11!.sender).toBe(alice.userId);
    });

    it('room_version 12: the room ID is the create event\'s ID with !, the create event has no room_id, the creator is not in power_levels.users', async () => {
      const roomId = await createOk(alice, { room_version: '12', preset: 'public_chat', name: 'twelve' });
      expect(roomId).toMatch(/^![A-Za-z0-9_-]{43}$/);
      const create12 = await stateOf(roomId, 'm.room.create');
      expect(create12!.event_id).toBe(`$${roomId.slice(1)}`);
      expect(create12!.content).toEqual({ room_version: '12' });
      const stored = await s.services.storage.rooms.getEvent(create12!.event_id);
      // The event ID is the reference hash of the PDU without room_id (rooms/v12), and stays so when re-read.
      expect(computeEventId(pduOf(stored!.event), ROOM_VERSIONS['12'])).toBe(create12!.event_id);
      expect(pduOf(stored!.event)).not.toHaveProperty('room_id');
      const pl = await stateOf(roomId, 'm.room.power_levels');
      expect(pl!.content.users).toEqual({});
      // The room works: others join and post; auth events never name the create event (v12 rule 3.2).
      expect((await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(bob)).send({})).status).toBe(200);
      const sent = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/v12a`).set(bearer(bob)).send({ body: 'hello v12' });
      expect(sent.status).toBe(200);
      const msg = await s.services.storage.rooms.getEvent(sent.body.event_id);
      expect(msg!.event.auth_events).not.toContain(create12!.event_id);
      expect(msg!.event.room_id).toBe(roomId);
    });

    it.each([['9'], ['13'], ['banana']])('unknown room_version %j is 400 M_UNSUPPORTED_ROOM_VERSION, no room', async (v) => {
      const before = await joinedCount(alice);
      const res = await create(alice, { room_version: v });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_UNSUPPORTED_ROOM_VERSION');
      expect(await joinedCount(alice)).toBe(before);
    });
  });

  describe('order of the created events', () => {
    it('follows create_room.yaml: create, join, power levels, alias, preset, initial_state, name, topic, invites', async () => {
      const roomId = await createOk(alice, {
        preset: 'public_chat',
        room_alias_name: 'ordered',
        name: 'Ordered',
        topic: 'In order',
        invite: [bob.userId, carol.userId],
        initial_state: [
          { type: 'org.example.first', content: {} },
          { type: 'org.example.second', state_key: 'x', content: {} },
        ],
      });
      const all = await events(roomId);
      expect(all.map((e) => [e.type, e.state_key])).toEqual([
        ['m.room.create', ''],
        ['m.room.member', alice.userId],
        ['m.room.power_levels', ''],
        ['m.room.canonical_alias', ''],
        ['m.room.join_rules', ''],
        ['m.room.history_visibility', ''],
        ['m.room.guest_access', ''],
        ['org.example.first', ''],
        ['org.example.second', 'x'],
        ['m.room.name', ''],
        ['m.room.topic', ''],
        ['m.room.member', bob.userId],
        ['m.room.member', carol.userId],
      ]);
      expect(all.every((e) => e.sender === alice.userId)).toBe(true);
      expect((await stateOf(roomId, 'm.room.member', alice.userId))!.content.membership).toBe('join');
      // One linear chain: each event follows the one before it, depth counts up from 1.
      expect(all[0]!.prev_events).toEqual([]);
      expect(all[0]!.auth_events).toEqual([]);
      for (let i = 1; i < all.length; i++) {
        expect(all[i]!.prev_events).toEqual([all[i - 1]!.event_id]);
        expect(all[i]!.depth).toBe(i + 1);
      }
      expect(await s.services.storage.rooms.getExtremities(roomId)).toEqual([all[all.length - 1]!.event_id]);
    });

    it('without optional fields: create, join, power levels, join_rules, history_visibility, guest_access', async () => {
      const roomId = await createOk(alice, {});
      expect((await events(roomId)).map((e) => e.type)).toEqual([
        'm.room.create', 'm.room.member', 'm.room.power_levels', 'm.room.join_rules', 'm.room.history_visibility', 'm.room.guest_access',
      ]);
    });
  });

  describe('malformed requests', () => {
    it.each<[string, unknown]>([
      ['a list body', []],
      ['visibility not public/private', { visibility: 'secret' }],
      ['visibility not a string', { visibility: 1 }],
      ['unknown preset', { preset: 'party' }],
      ['name not a string', { name: 5 }],
      ['topic not a string', { topic: { t: 1 } }],
      ['invite not a list', { invite: '@bob:test.local' }],
      ['invite with a non-string', { invite: [1] }],
      ['room_version not a string', { room_version: 11 }],
      ['room_alias_name not a string', { room_alias_name: ['a'] }],
      ['creation_content not an object', { creation_content: [] }],
      ['initial_state not a list', { initial_state: {} }],
      ['initial_state entry not an object', { initial_state: ['m.room.name'] }],
      ['initial_state entry without type', { initial_state: [{ content: {} }] }],
      ['initial_state entry without content', { initial_state: [{ type: 'm.room.name' }] }],
      ['initial_state content not an object', { initial_state: [{ type: 'm.room.name', content: 'x' }] }],
      ['initial_state type over 255 bytes', { initial_state: [{ type: 'x'.repeat(256), content: {} }] }],
      ['initial_state state_key over 255 bytes', { initial_state: [{ type: 'org.example', state_key: 'k'.repeat(256), content: {} }] }],
      ['is_direct not a boolean', { is_direct: 'yes' }],
      ['power_level_content_override not an object', { power_level_content_override: 'all' }],
      ['a float in initial_state content', { initial_state: [{ type: 'org.example', content: { f: 1.5 } }] }],
    ])('refuses %s with 400 M_BAD_JSON and creates nothing', async (_name, body) => {
      const before = await roomsOf(alice);
      const res = await create(alice, body);
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_BAD_JSON');
      expect(await roomsOf(alice)).toEqual(before);
    });

    it('refuses a body that is not JSON with 400 M_NOT_JSON', async () => {
      const res = await s.http.post(`${C}/createRoom`).set(bearer(alice)).set('Content-Type', 'application/json').send('{"name":');
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_NOT_JSON');
    });

    it('requires an access token: 401 M_MISSING_TOKEN', async () => {
      const res = await s.http.post(`${C}/createRoom`).send({});
      expect(res.status).toBe(401);
      expect(res.body.errcode).toBe('M_MISSING_TOKEN');
    });

    it('refuses guests with 403 M_GUEST_ACCESS_FORBIDDEN', async () => {
      const g = await s.http.post(`${C}/register?kind=guest`).send({});
      expect(g.status).toBe(200);
      const res = await s.http.post(`${C}/createRoom`).set(bearer({ accessToken: g.body.access_token })).send({});
      expect(res.status).toBe(403);
      expect(res.body.errcode).toBe('M_GUEST_ACCESS_FORBIDDEN');
    });
  });
});
