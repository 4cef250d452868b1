// This server's public room directory for other servers (matrix-spec:
// server-server/public_rooms.yaml#getPublicRooms, #queryPublicRooms), signed as a remote server
// signs them: the rooms the client API lists, with its paging and filters.
import { fakeDns, knownRemote, signedGet, signedPost, type RemoteServer } from '../../helpers/federation.js';
import { bearer, expectError, makeTestServer, type TestUser } from '../../helpers/server.js';
import { SpecSchemas } from '../../helpers/spec-schemas.js';

const F = '/_matrix/federation/v1';
const C = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('GET/POST /_matrix/federation/v1/publicRooms', () => {
  const s = makeTestServer({ federation: { enabled: true } }, { federation: { dns: fakeDns() } });
  let remote: RemoteServer;
  let alice: TestUser;
  const rooms: Record<string, string> = {};
  beforeAll(async () => {
    remote = await knownRemote(s, 'remote.test');
    alice = await s.register('alice');
    const members = [await s.register('m1'), await s.register('m2')];
    const create = async (key: string, body: object, joiners: number) => {
      const res = await s.http.post(`${C}/createRoom`).set(bearer(alice)).send(body);
      expect(res.status).toBe(200);
      rooms[key] = res.body.room_id;
      for (const u of members.slice(0, joiners)) expect((await s.http.post(`${C}/rooms/${enc(res.body.room_id)}/join`).set(bearer(u)).send({})).status).toBe(200);
    };
    await create('cats', { visibility: 'public', name: 'Cats', topic: 'Purring', room_alias_name: 'cats' }, 2);
    await create('dogs', { visibility: 'public', name: 'Dogs' }, 1);
    await create('space', { visibility: 'public', name: 'A space', creation_content: { type: 'm.space' } }, 0);
    await create('hidden', { preset: 'public_chat', name: 'Hidden cats' }, 0);
  });
  afterAll(() => s.close());

  const ids = (body: { chunk: { room_id: string }[] }) => body.chunk.map((c) => c.room_id);

  it('GET lists the published rooms, largest first, described as for clients', async () => {
    const res = await signedGet(s, remote, `${F}/publicRooms`);
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual([rooms.cats, rooms.dogs, rooms.space]);
    expect(res.body.total_room_count_estimate).toBe(3);
    expect(res.body.chunk[0]).toEqual({
      room_id: rooms.cats, name: 'Cats', topic: 'Purring', canonical_alias: '#cats:test.local', num_joined_members: 3,
      world_readable: false, guest_can_join: false, join_rule: 'public',
    });
    const client = await s.http.get(`${C}/publicRooms`);
    expect(res.body).toEqual(client.body);
  });

  it('GET pages with limit and since', async () => {
    const first = await signedGet(s, remote, `${F}/publicRooms?limit=2`);
    expect(ids(first.body)).toEqual([rooms.cats, rooms.dogs]);
    expect(first.body.next_batch).toEqual(expect.any(String));
    const second = await signedGet(s, remote, `${F}/publicRooms?limit=2&since=${enc(first.body.next_batch)}`);
    expect(ids(second.body)).toEqual([rooms.space]);
    expect(second.body).not.toHaveProperty('next_batch');
    expect(second.body.prev_batch).toEqual(expect.any(String));
  });

  it('GET with include_all_networks lists the same rooms; a third_party_instance_id lists none (no networks here)', async () => {
    const all = await signedGet(s, remote, `${F}/publicRooms?include_all_networks=true`);
    expect(ids(all.body)).toEqual([rooms.cats, rooms.dogs, rooms.space]);
    const irc = await signedGet(s, remote, `${F}/publicRooms?third_party_instance_id=irc`);
    expect(irc.status).toBe(200);
    expect(irc.body).toEqual({ chunk: [], total_room_count_estimate: 0 });
  });

  it('GET refuses bad parameters with 400 M_INVALID_PARAM', async () => {
    expectError(await signedGet(s, remote, `${F}/publicRooms?limit=ten`), 400, 'M_INVALID_PARAM');
    expectError(await signedGet(s, remote, `${F}/publicRooms?since=nonsense`), 400, 'M_INVALID_PARAM');
    expectError(await signedGet(s, remote, `${F}/publicRooms?include_all_networks=true&third_party_instance_id=irc`), 400, 'M_INVALID_PARAM');
  });

  it('POST filters by generic_search_term and room_types, and pages', async () => {
    const cats = await signedPost(s, remote, `${F}/publicRooms`, { filter: { generic_search_term: 'purr' } });
    expect(cats.status).toBe(200);
    expect(ids(cats.body)).toEqual([rooms.cats]);
    const spaces = await signedPost(s, remote, `${F}/publicRooms`, { filter: { room_types: ['m.space'] } });
    expect(ids(spaces.body)).toEqual([rooms.space]);
    const untyped = await signedPost(s, remote, `${F}/publicRooms`, { limit: 1, filter: { room_types: [null] } });
    expect(ids(untyped.body)).toEqual([rooms.cats]);
    expect(untyped.body.next_batch).toEqual(expect.any(String));
    const all = await signedPost(s, remote, `${F}/publicRooms`, {});
    expect(ids(all.body)).toEqual([rooms.cats, rooms.dogs, rooms.space]);
  });

  it('POST refuses a malformed filter with 400 M_BAD_JSON', async () => {
    expectError(await signedPost(s, remote, `${F}/publicRooms`, { filter: { room_types: 'm.space' } }), 400, 'M_BAD_JSON');
    expectError(await signedPost(s, remote, `${F}/publicRooms`, { limit: 'many' }), 400, 'M_BAD_JSON');
  });

  it('answers match the official schema (public_rooms_response.yaml)', async () => {
    const schemas = new SpecSchemas(undefined, 'server-server.json');
    const get = await signedGet(s, remote, `${F}/publicRooms?limit=1`);
    const post = await signedPost(s, remote, `${F}/publicRooms`, { filter: { room_types: ['m.space'] } });
    expect([
      ...schemas.check({ method: 'get', path: `${F}/publicRooms`, status: get.status, body: get.body }),
      ...schemas.check({ method: 'post', path: `${F}/publicRooms`, status: post.status, body: post.body }),
    ]).toEqual([]);
    expect(post.body.chunk[0].room_type).toBe('m.space');
  });

  it('refuses unsigned requests with 401 M_UNAUTHORIZED', async () => {
    expectError(await s.http.get(`${F}/publicRooms`), 401, 'M_UNAUTHORIZED');
    expectError(await s.http.post(`${F}/publicRooms`).send({}), 401, 'M_UNAUTHORIZED');
  });
});
