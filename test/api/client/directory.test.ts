// Room aliases and the published room directory over HTTP (matrix-spec: directory.yaml#setRoomAlias,
// getRoomIdByAlias, deleteRoomAlias, getLocalAliases; list_public_rooms.yaml#getRoomVisibilityOnDirectory,
// setRoomVisibilityOnDirectory, getPublicRooms, queryPublicRooms).
import { bearer, makeTestServer, type TestUser, expectError } from '../../helpers/server.js';

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;

interface Chunk {
  room_id: string;
  name?: string;
  topic?: string;
  canonical_alias?: string;
  num_joined_members: number;
  world_readable: boolean;
  guest_can_join: boolean;
  join_rule?: string;
  room_type?: string;
}

describe('room aliases', () => {
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

  // Power-level rules with the creator listed at 100 (room version 11; 12 has no such entry).
  async function createRoom(u: TestUser, body: object = {}): Promise<string> {
    const res = await s.http.post(`${C}/createRoom`).set(bearer(u)).send({ room_version: '11', ...body });
    expect(res.status).toBe(200);
    return res.body.room_id as string;
  }
  const putAlias = (u: TestUser, alias: string, roomId: unknown) =>
    s.http.put(`${C}/directory/room/${enc(alias)}`).set(bearer(u)).send(roomId === undefined ? {} : { room_id: roomId });
  const getAlias = (alias: string) => s.http.get(`${C}/directory/room/${enc(alias)}`);
  const delAlias = (u: TestUser, alias: string) => s.http.delete(`${C}/directory/room/${enc(alias)}`).set(bearer(u));
  const join = (u: TestUser, roomId: string) => s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(u)).send({});

  describe('PUT/GET/DELETE /directory/room/:roomAlias', () => {
    it('creates, resolves and deletes an alias', async () => {
      const roomId = await createRoom(alice);
      const put = await putAlias(alice, '#lifecycle:test.local', roomId);
      expect(put.status).toBe(200);
      expect(put.body).toEqual({});
      const get = await getAlias('#lifecycle:test.local');
      expect(get.status).toBe(200);
      expect(get.body).toEqual({ room_id: roomId, servers: ['test.local'] });
      const del = await delAlias(alice, '#lifecycle:test.local');
      expect(del.status).toBe(200);
      expect(del.body).toEqual({});
      expectError(await getAlias('#lifecycle:test.local'), 404, 'M_NOT_FOUND');
    });

    it('resolving needs no access token', async () => {
      const roomId = await createRoom(alice, { room_alias_name: 'noauth' });
      const res = await s.http.get(`${C}/directory/room/${enc('#noauth:test.local')}`);
      expect(res.status).toBe(200);
      expect(res.body.room_id).toBe(roomId);
    });

    it('several aliases may point to one room', async () => {
      const roomId = await createRoom(alice);
      expect((await putAlias(alice, '#one:test.local', roomId)).status).toBe(200);
      expect((await putAlias(alice, '#two:test.local', roomId)).status).toBe(200);
      expect((await getAlias('#one:test.local')).body.room_id).toBe(roomId);
      expect((await getAlias('#two:test.local')).body.room_id).toBe(roomId);
    });

    it('an existing alias is 409 M_UNKNOWN (directory.yaml) and keeps pointing to its room', async () => {
      const first = await createRoom(alice);
      const second = await createRoom(alice);
      expect((await putAlias(alice, '#dup:test.local', first)).status).toBe(200);
      expectError(await putAlias(alice, '#dup:test.local', second), 409, 'M_UNKNOWN');
      expectError(await putAlias(alice, '#dup:test.local', first), 409, 'M_UNKNOWN');
      expect((await getAlias('#dup:test.local')).body.room_id).toBe(first);
    });

    it('an alias taken by room creation is 409 M_UNKNOWN here too', async () => {
      await createRoom(alice, { room_alias_name: 'fromcreate' });
      const other = await createRoom(alice);
      expectError(await putAlias(alice, '#fromcreate:test.local', other), 409, 'M_UNKNOWN');
    });

    it('an unknown alias is 404 M_NOT_FOUND', async () => {
      expectError(await getAlias('#missing:test.local'), 404, 'M_NOT_FOUND');
      expectError(await delAlias(alice, '#missing:test.local'), 404, 'M_NOT_FOUND');
    });

    it.each([
      ['no sigil', 'nosigil:test.local'],
      ['no server', '#nodomain'],
      ['an empty localpart', '#:test.local'],
      ['whitespace in the localpart', '#has space:test.local'],
      ['an invalid server name', '#a:bad_server!'],
      ['over 255 bytes', `#${'a'.repeat(250)}:test.local`],
    ])('an alias with %s is 400 M_INVALID_PARAM (PUT and GET)', async (_what, alias) => {
      const roomId = await createRoom(alice);
      expectError(await putAlias(alice, alias, roomId), 400, 'M_INVALID_PARAM');
      expectError(await getAlias(alias), 400, 'M_INVALID_PARAM');
    });

    it('an alias on another server cannot be created here: 400 M_INVALID_PARAM', async () => {
      const roomId = await createRoom(alice);
      expectError(await putAlias(alice, '#elsewhere:other.example', roomId), 400, 'M_INVALID_PARAM');
    });

    it('an alias on another server does not resolve with federation disabled: 404 M_NOT_FOUND', async () => {
      expectError(await getAlias('#elsewhere:other.example'), 404, 'M_NOT_FOUND');
    });

    it('creating an alias needs membership of the room: 403 M_FORBIDDEN', async () => {
      const roomId = await createRoom(alice, { preset: 'public_chat' });
      expectError(await putAlias(bob, '#notmine:test.local', roomId), 403, 'M_FORBIDDEN');
      expectError(await getAlias('#notmine:test.local'), 404, 'M_NOT_FOUND');
    });

    it('an alias for an unknown room is 404 M_NOT_FOUND', async () => {
      expectError(await putAlias(alice, '#ghostroom:test.local', '!unknown:test.local'), 404, 'M_NOT_FOUND');
    });

    it('a missing room_id is 400 M_MISSING_PARAM; a non-string one 400 M_BAD_JSON', async () => {
      expectError(await putAlias(alice, '#noroom:test.local', undefined), 400, 'M_MISSING_PARAM');
      expectError(await putAlias(alice, '#noroom:test.local', 42), 400, 'M_BAD_JSON');
    });

    it('creating and deleting need an access token: 401 M_MISSING_TOKEN', async () => {
      const roomId = await createRoom(alice);
      expectError(await s.http.put(`${C}/directory/room/${enc('#anon:test.local')}`).send({ room_id: roomId }), 401, 'M_MISSING_TOKEN');
      expectError(await s.http.delete(`${C}/directory/room/${enc('#anon:test.local')}`), 401, 'M_MISSING_TOKEN');
    });

    describe('deleting', () => {
      let roomId: string;
      beforeEach(async () => {
        // alice 100, carol 50 (may set m.room.canonical_alias), bob 0.
        roomId = await createRoom(alice, { preset: 'public_chat', power_level_content_override: { users: { [alice.userId]: 100, [carol.userId]: 50 } } });
        expect((await join(bob, roomId)).status).toBe(200);
        expect((await join(carol, roomId)).status).toBe(200);
      });

      it('the alias\'s creator may delete it, even without power in the room', async () => {
        expect((await putAlias(bob, '#bobs:test.local', roomId)).status).toBe(200);
        expect((await delAlias(bob, '#bobs:test.local')).status).toBe(200);
        expectError(await getAlias('#bobs:test.local'), 404, 'M_NOT_FOUND');
      });

      it('another member without power to set m.room.canonical_alias may not: 403 M_FORBIDDEN', async () => {
        expect((await putAlias(alice, '#alices:test.local', roomId)).status).toBe(200);
        expectError(await delAlias(bob, '#alices:test.local'), 403, 'M_FORBIDDEN');
        expect((await getAlias('#alices:test.local')).body.room_id).toBe(roomId);
      });

      it('a non-member may not: 403 M_FORBIDDEN', async () => {
        const dave = await s.register();
        expect((await putAlias(alice, '#alices2:test.local', roomId)).status).toBe(200);
        expectError(await delAlias(dave, '#alices2:test.local'), 403, 'M_FORBIDDEN');
        expect((await getAlias('#alices2:test.local')).status).toBe(200);
      });

      it('a member with power to set m.room.canonical_alias may delete another\'s alias', async () => {
        expect((await putAlias(bob, '#bobs2:test.local', roomId)).status).toBe(200);
        expect((await delAlias(carol, '#bobs2:test.local')).status).toBe(200);
        expectError(await getAlias('#bobs2:test.local'), 404, 'M_NOT_FOUND');
      });

      it('a deleted alias can be created again, for another room', async () => {
        expect((await putAlias(alice, '#reuse:test.local', roomId)).status).toBe(200);
        expect((await delAlias(alice, '#reuse:test.local')).status).toBe(200);
        const other = await createRoom(alice);
        expect((await putAlias(alice, '#reuse:test.local', other)).status).toBe(200);
        expect((await getAlias('#reuse:test.local')).body.room_id).toBe(other);
      });
    });
  });

  describe('GET /rooms/:roomId/aliases', () => {
    it('lists the local aliases to members', async () => {
      const roomId = await createRoom(alice, { room_alias_name: 'listed-a' });
      expect((await putAlias(alice, '#listed-b:test.local', roomId)).status).toBe(200);
      const res = await s.http.get(`${C}/rooms/${enc(roomId)}/aliases`).set(bearer(alice));
      expect(res.status).toBe(200);
      expect([...res.body.aliases].sort()).toEqual(['#listed-a:test.local', '#listed-b:test.local']);
    });

    it('an empty list for a room without aliases', async () => {
      const roomId = await createRoom(alice);
      const res = await s.http.get(`${C}/rooms/${enc(roomId)}/aliases`).set(bearer(alice));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ aliases: [] });
    });

    it('refuses non-members: 403 M_FORBIDDEN', async () => {
      const roomId = await createRoom(alice, { preset: 'public_chat', room_alias_name: 'hidden-list' });
      expectError(await s.http.get(`${C}/rooms/${enc(roomId)}/aliases`).set(bearer(bob)), 403, 'M_FORBIDDEN');
    });

    it('refuses former members: 403 M_FORBIDDEN', async () => {
      const roomId = await createRoom(alice, { preset: 'public_chat', room_alias_name: 'former-list' });
      expect((await join(bob, roomId)).status).toBe(200);
      expect((await s.http.get(`${C}/rooms/${enc(roomId)}/aliases`).set(bearer(bob))).status).toBe(200);
      expect((await s.http.post(`${C}/rooms/${enc(roomId)}/leave`).set(bearer(bob)).send({})).status).toBe(200);
      expectError(await s.http.get(`${C}/rooms/${enc(roomId)}/aliases`).set(bearer(bob)), 403, 'M_FORBIDDEN');
    });

    it('lists to anyone when history is world_readable', async () => {
      const roomId = await createRoom(alice, {
        room_alias_name: 'world-list',
        initial_state: [{ type: 'm.room.history_visibility', content: { history_visibility: 'world_readable' } }],
      });
      const res = await s.http.get(`${C}/rooms/${enc(roomId)}/aliases`).set(bearer(bob));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ aliases: ['#world-list:test.local'] });
    });

    it('an unknown room is 404 M_NOT_FOUND', async () => {
      expectError(await s.http.get(`${C}/rooms/${enc('!unknown:test.local')}/aliases`).set(bearer(alice)), 404, 'M_NOT_FOUND');
    });

    it('needs an access token: 401 M_MISSING_TOKEN', async () => {
      const roomId = await createRoom(alice);
      expectError(await s.http.get(`${C}/rooms/${enc(roomId)}/aliases`), 401, 'M_MISSING_TOKEN');
    });
  });

  describe('GET/PUT /directory/list/room/:roomId', () => {
    const getVis = (roomId: string) => s.http.get(`${C}/directory/list/room/${enc(roomId)}`);
    const putVis = (u: TestUser, roomId: string, body: object) => s.http.put(`${C}/directory/list/room/${enc(roomId)}`).set(bearer(u)).send(body);

    it('is private by default; the creator publishes and unpublishes it', async () => {
      const roomId = await createRoom(alice, { preset: 'public_chat' });
      expect((await getVis(roomId)).body).toEqual({ visibility: 'private' });
      const pub = await putVis(alice, roomId, { visibility: 'public' });
      expect(pub.status).toBe(200);
      expect(pub.body).toEqual({});
      expect((await getVis(roomId)).body).toEqual({ visibility: 'public' });
      const list = await s.http.get(`${C}/publicRooms`);
      expect((list.body.chunk as Chunk[]).map((c) => c.room_id)).toContain(roomId);
      expect((await putVis(alice, roomId, { visibility: 'private' })).status).toBe(200);
      expect((await getVis(roomId)).body).toEqual({ visibility: 'private' });
      const after = await s.http.get(`${C}/publicRooms`);
      expect((after.body.chunk as Chunk[]).map((c) => c.room_id)).not.toContain(roomId);
    });

    it('visibility defaults to public when the body omits it', async () => {
      const roomId = await createRoom(alice);
      expect((await putVis(alice, roomId, {})).status).toBe(200);
      expect((await getVis(roomId)).body).toEqual({ visibility: 'public' });
    });

    it('refuses members without power: 403 M_FORBIDDEN', async () => {
      const roomId = await createRoom(alice, { preset: 'public_chat' });
      expect((await join(bob, roomId)).status).toBe(200);
      expectError(await putVis(bob, roomId, { visibility: 'public' }), 403, 'M_FORBIDDEN');
      expect((await getVis(roomId)).body).toEqual({ visibility: 'private' });
    });

    it('refuses non-members: 403 M_FORBIDDEN', async () => {
      const roomId = await createRoom(alice, { preset: 'public_chat' });
      expectError(await putVis(bob, roomId, { visibility: 'public' }), 403, 'M_FORBIDDEN');
    });

    it('an invalid visibility is 400 M_BAD_JSON', async () => {
      const roomId = await createRoom(alice);
      expectError(await putVis(alice, roomId, { visibility: 'everyone' }), 400, 'M_BAD_JSON');
      expectError(await putVis(alice, roomId, { visibility: 1 }), 400, 'M_BAD_JSON');
    });

    it('an unknown room is 404 M_NOT_FOUND (GET and PUT)', async () => {
      expectError(await getVis('!unknown:test.local'), 404, 'M_NOT_FOUND');
      expectError(await putVis(alice, '!unknown:test.local', { visibility: 'public' }), 404, 'M_NOT_FOUND');
    });

    it('PUT needs an access token: 401 M_MISSING_TOKEN', async () => {
      const roomId = await createRoom(alice);
      expectError(await s.http.put(`${C}/directory/list/room/${enc(roomId)}`).send({ visibility: 'public' }), 401, 'M_MISSING_TOKEN');
    });
  });
});

describe('GET/POST /publicRooms', () => {
  // A server of its own, so that the directory holds exactly the rooms made here.
  const s = makeTestServer();
  afterAll(() => s.close());

  let alice: TestUser;
  let users: TestUser[];
  const rooms: Record<string, string> = {};
  beforeAll(async () => {
    alice = await s.register('alice');
    users = [];
    for (let i = 0; i < 4; i++) users.push(await s.register(`member${i}`));
    const create = async (key: string, body: object, joiners: number) => {
      const res = await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ visibility: 'public', ...body });
      expect(res.status).toBe(200);
      rooms[key] = res.body.room_id;
      for (const u of users.slice(0, joiners)) {
        expect((await s.http.post(`${C}/rooms/${enc(res.body.room_id)}/join`).set(bearer(u)).send({})).status).toBe(200);
      }
    };
    // Distinct member counts give a stable order: largest first.
    await create('cats', { name: 'Cats of Matrix', topic: 'Purring', room_alias_name: 'cats' }, 4);
    await create('dogs', { name: 'Dogs', topic: 'Woof and CATS too' }, 3);
    await create('birds', { name: 'Birds', room_alias_name: 'tweet' }, 2);
    await create('space', { name: 'A space', creation_content: { type: 'm.space' } }, 1);
    await create('fish', { name: 'Fish', initial_state: [{ type: 'm.room.history_visibility', content: { history_visibility: 'world_readable' } }, { type: 'm.room.guest_access', content: { guest_access: 'can_join' } }] }, 0);
    // Not listed: private visibility.
    const hidden = await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'public_chat', name: 'Hidden cats' });
    expect(hidden.status).toBe(200);
    rooms.hidden = hidden.body.room_id;
  });

  const ids = (body: { chunk: Chunk[] }) => body.chunk.map((c) => c.room_id);

  it('GET lists every published room (and only those), largest first, without a token', async () => {
    const res = await s.http.get(`${C}/publicRooms`);
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual([rooms.cats, rooms.dogs, rooms.birds, rooms.space, rooms.fish]);
    expect(res.body.total_room_count_estimate).toBe(5);
    expect(res.body).not.toHaveProperty('next_batch');
    expect(res.body).not.toHaveProperty('prev_batch');
  });

  it('each entry describes the room', async () => {
    const res = await s.http.get(`${C}/publicRooms`);
    const byId = new Map((res.body.chunk as Chunk[]).map((c) => [c.room_id, c]));
    expect(byId.get(rooms.cats!)).toEqual({
      room_id: rooms.cats, name: 'Cats of Matrix', topic: 'Purring', canonical_alias: '#cats:test.local',
      num_joined_members: 5, world_readable: false, guest_can_join: false, join_rule: 'public',
    });
    expect(byId.get(rooms.fish!)).toEqual(expect.objectContaining({ num_joined_members: 1, world_readable: true, guest_can_join: true }));
    expect(byId.get(rooms.space!)).toEqual(expect.objectContaining({ room_type: 'm.space' }));
    expect(byId.get(rooms.dogs!)).not.toHaveProperty('room_type');
  });

  it('GET pages with limit and since: next_batch forward, prev_batch back, nothing missed or repeated', async () => {
    const p1 = await s.http.get(`${C}/publicRooms?limit=2`);
    expect(p1.status).toBe(200);
    expect(ids(p1.body)).toEqual([rooms.cats, rooms.dogs]);
    expect(p1.body).not.toHaveProperty('prev_batch');
    expect(typeof p1.body.next_batch).toBe('string');
    const p2 = await s.http.get(`${C}/publicRooms?limit=2&since=${enc(p1.body.next_batch)}`);
    expect(ids(p2.body)).toEqual([rooms.birds, rooms.space]);
    expect(typeof p2.body.prev_batch).toBe('string');
    const p3 = await s.http.get(`${C}/publicRooms?limit=2&since=${enc(p2.body.next_batch)}`);
    expect(ids(p3.body)).toEqual([rooms.fish]);
    expect(p3.body).not.toHaveProperty('next_batch');
    // Back from page 2 is page 1.
    const back = await s.http.get(`${C}/publicRooms?limit=2&since=${enc(p2.body.prev_batch)}`);
    expect(ids(back.body)).toEqual([rooms.cats, rooms.dogs]);
    expect(p1.body.total_room_count_estimate).toBe(5);
  });

  it('POST filters by generic_search_term over name, topic and alias, case-insensitively', async () => {
    const res = await s.http.post(`${C}/publicRooms`).set(bearer(alice)).send({ filter: { generic_search_term: 'cAtS' } });
    expect(res.status).toBe(200);
    // "Cats of Matrix" by name, "Dogs" by topic; "Hidden cats" is not published.
    expect(ids(res.body)).toEqual([rooms.cats, rooms.dogs]);
    expect(res.body.total_room_count_estimate).toBe(2);
    const byAlias = await s.http.post(`${C}/publicRooms`).set(bearer(alice)).send({ filter: { generic_search_term: 'tweet' } });
    expect(ids(byAlias.body)).toEqual([rooms.birds]);
    const none = await s.http.post(`${C}/publicRooms`).set(bearer(alice)).send({ filter: { generic_search_term: 'zebra' } });
    expect(none.body.chunk).toEqual([]);
  });

  it('POST pages with limit and since', async () => {
    const p1 = await s.http.post(`${C}/publicRooms`).set(bearer(alice)).send({ limit: 3 });
    expect(ids(p1.body)).toEqual([rooms.cats, rooms.dogs, rooms.birds]);
    const p2 = await s.http.post(`${C}/publicRooms`).set(bearer(alice)).send({ limit: 3, since: p1.body.next_batch });
    expect(ids(p2.body)).toEqual([rooms.space, rooms.fish]);
    expect(p2.body).not.toHaveProperty('next_batch');
    const filtered = await s.http.post(`${C}/publicRooms`).set(bearer(alice)).send({ limit: 1, filter: { generic_search_term: 'cats' } });
    expect(ids(filtered.body)).toEqual([rooms.cats]);
    const next = await s.http.post(`${C}/publicRooms`).set(bearer(alice)).send({ limit: 1, since: filtered.body.next_batch, filter: { generic_search_term: 'cats' } });
    expect(ids(next.body)).toEqual([rooms.dogs]);
  });

  it('POST filters by room_types (null for rooms without a type)', async () => {
    const spaces = await s.http.post(`${C}/publicRooms`).set(bearer(alice)).send({ filter: { room_types: ['m.space'] } });
    expect(spaces.status).toBe(200);
    expect(ids(spaces.body)).toEqual([rooms.space]);
    const plain = await s.http.post(`${C}/publicRooms`).set(bearer(alice)).send({ filter: { room_types: [null] } });
    expect(ids(plain.body)).toEqual([rooms.cats, rooms.dogs, rooms.birds, rooms.fish]);
    expectError(await s.http.post(`${C}/publicRooms`).set(bearer(alice)).send({ filter: { room_types: 'm.space' } }), 400, 'M_BAD_JSON');
  });

  it('POST needs an access token: 401 M_MISSING_TOKEN', async () => {
    expectError(await s.http.post(`${C}/publicRooms`).send({}), 401, 'M_MISSING_TOKEN');
  });

  it('an invalid since token is 400 M_INVALID_PARAM', async () => {
    expectError(await s.http.get(`${C}/publicRooms?since=garbage`), 400, 'M_INVALID_PARAM');
    expectError(await s.http.post(`${C}/publicRooms`).set(bearer(alice)).send({ since: 'garbage' }), 400, 'M_INVALID_PARAM');
  });

  it('a malformed limit is 400 (M_INVALID_PARAM in the query, M_BAD_JSON in the body)', async () => {
    expectError(await s.http.get(`${C}/publicRooms?limit=abc`), 400, 'M_INVALID_PARAM');
    expectError(await s.http.get(`${C}/publicRooms?limit=-1`), 400, 'M_INVALID_PARAM');
    expectError(await s.http.post(`${C}/publicRooms`).set(bearer(alice)).send({ limit: 'ten' }), 400, 'M_BAD_JSON');
  });

  it('server= this server\'s name lists this server\'s rooms', async () => {
    const res = await s.http.get(`${C}/publicRooms?server=test.local`);
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual([rooms.cats, rooms.dogs, rooms.birds, rooms.space, rooms.fish]);
  });

  it('server= another server needs an access token (401 M_MISSING_TOKEN), and with federation disabled is 403 M_FORBIDDEN', async () => {
    expectError(await s.http.get(`${C}/publicRooms?server=other.example`), 401, 'M_MISSING_TOKEN');
    expectError(await s.http.get(`${C}/publicRooms?server=other.example`).set(bearer(alice)), 403, 'M_FORBIDDEN');
    expectError(await s.http.post(`${C}/publicRooms?server=other.example`).set(bearer(alice)).send({ filter: { generic_search_term: 'x' } }), 403, 'M_FORBIDDEN');
  });

  it('server= an invalid server name is 400 M_INVALID_PARAM', async () => {
    expectError(await s.http.get(`${C}/publicRooms?server=${enc('bad server!')}`).set(bearer(alice)), 400, 'M_INVALID_PARAM');
  });

  it('third_party_instance_id lists nothing (no third-party networks here); with include_all_networks it is 400 M_INVALID_PARAM', async () => {
    const res = await s.http.post(`${C}/publicRooms`).set(bearer(alice)).send({ third_party_instance_id: 'irc' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ chunk: [], total_room_count_estimate: 0 });
    const all = await s.http.post(`${C}/publicRooms`).set(bearer(alice)).send({ include_all_networks: true });
    expect(ids(all.body)).toEqual([rooms.cats, rooms.dogs, rooms.birds, rooms.space, rooms.fish]);
    expectError(await s.http.post(`${C}/publicRooms`).set(bearer(alice)).send({ include_all_networks: true, third_party_instance_id: 'irc' }), 400, 'M_INVALID_PARAM');
  });

  it('a name change shows in the listing', async () => {
    const res = await s.http.put(`${C}/rooms/${enc(rooms.birds!)}/state/m.room.name`).set(bearer(alice)).send({ name: 'Parrots' });
    expect(res.status).toBe(200);
    const list = await s.http.get(`${C}/publicRooms`);
    expect((list.body.chunk as Chunk[]).find((c) => c.room_id === rooms.birds)!.name).toBe('Parrots');
  });
});
