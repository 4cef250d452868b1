// Queries from other servers (matrix-spec: server-server/query.yaml#queryProfile,
// #queryRoomDirectory, #queryInfo), signed as a remote server signs them: local profiles and
// aliases only, unknown query types 404 M_UNRECOGNIZED, nothing answered without a valid signature.
import { fakeDns, knownRemote, signedGet, type RemoteServer } from '../../helpers/federation.js';
import { bearer, expectError, makeTestServer, type TestUser } from '../../helpers/server.js';
import { SpecSchemas } from '../../helpers/spec-schemas.js';

const F = '/_matrix/federation/v1';
const C = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('GET /_matrix/federation/v1/query/*', () => {
  const s = makeTestServer({ federation: { enabled: true } }, { federation: { dns: fakeDns() } });
  let remote: RemoteServer;
  let alice: TestUser;
  let bob: TestUser;
  beforeAll(async () => {
    remote = await knownRemote(s, 'remote.test');
    alice = await s.register('alice');
    bob = await s.register('bob');
    expect((await s.http.put(`${C}/profile/${enc(alice.userId)}/displayname`).set(bearer(alice)).send({ displayname: 'Alice A.' })).status).toBe(200);
    expect((await s.http.put(`${C}/profile/${enc(alice.userId)}/avatar_url`).set(bearer(alice)).send({ avatar_url: 'mxc://test.local/alice' })).status).toBe(200);
    expect((await s.http.put(`${C}/profile/${enc(alice.userId)}/m.tz`).set(bearer(alice)).send({ 'm.tz': 'Europe/Paris' })).status).toBe(200);
  });
  afterAll(() => s.close());

  const get = (uri: string) => signedGet(s, remote, uri);

  describe('query/profile', () => {
    it('answers a local user\'s whole profile', async () => {
      const res = await get(`${F}/query/profile?user_id=${enc(alice.userId)}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ displayname: 'Alice A.', avatar_url: 'mxc://test.local/alice', 'm.tz': 'Europe/Paris' });
    });

    it('answers only the field asked for', async () => {
      const res = await get(`${F}/query/profile?user_id=${enc(alice.userId)}&field=displayname`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ displayname: 'Alice A.' });
      const avatar = await get(`${F}/query/profile?user_id=${enc(alice.userId)}&field=avatar_url`);
      expect(avatar.body).toEqual({ avatar_url: 'mxc://test.local/alice' });
    });

    it('answers a field the user has not set with 404 M_NOT_FOUND', async () => {
      expectError(await get(`${F}/query/profile?user_id=${enc(bob.userId)}&field=avatar_url`), 404, 'M_NOT_FOUND');
    });

    it('answers an unknown local user with 404 M_NOT_FOUND', async () => {
      expectError(await get(`${F}/query/profile?user_id=${enc('@nobody:test.local')}`), 404, 'M_NOT_FOUND');
    });

    it('refuses a user of another server with 400 M_INVALID_PARAM', async () => {
      expectError(await get(`${F}/query/profile?user_id=${enc('@someone:remote.test')}`), 400, 'M_INVALID_PARAM');
    });

    it('refuses a missing or malformed user_id with 400', async () => {
      expectError(await get(`${F}/query/profile`), 400, 'M_MISSING_PARAM');
      expectError(await get(`${F}/query/profile?user_id=alice`), 400, 'M_INVALID_PARAM');
    });

    it('refuses an unsigned request and one signed for another destination with 401 M_UNAUTHORIZED', async () => {
      const uri = `${F}/query/profile?user_id=${enc(alice.userId)}`;
      expectError(await s.http.get(uri), 401, 'M_UNAUTHORIZED');
      expectError(await signedGet(s, remote, uri, 'elsewhere.test'), 401, 'M_UNAUTHORIZED');
      // The signature covers the query string.
      const signedForBob = remote.authorization('GET', `${F}/query/profile?user_id=${enc(bob.userId)}`, 'test.local');
      expectError(await s.http.get(uri).set('Authorization', signedForBob), 401, 'M_UNAUTHORIZED');
    });
  });

  describe('query/directory', () => {
    let roomId = '';
    beforeAll(async () => {
      const res = await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ room_alias_name: 'lobby' });
      expect(res.status).toBe(200);
      roomId = res.body.room_id;
    });

    it('resolves a local alias to the room and the servers in it, this one first', async () => {
      const res = await get(`${F}/query/directory?room_alias=${enc('#lobby:test.local')}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ room_id: roomId, servers: ['test.local'] });
    });

    it('answers an unknown alias with 404 M_NOT_FOUND', async () => {
      expectError(await get(`${F}/query/directory?room_alias=${enc('#nowhere:test.local')}`), 404, 'M_NOT_FOUND');
    });

    it('refuses another server\'s alias, a malformed one and a missing one with 400', async () => {
      expectError(await get(`${F}/query/directory?room_alias=${enc('#lobby:remote.test')}`), 400, 'M_INVALID_PARAM');
      expectError(await get(`${F}/query/directory?room_alias=lobby`), 400, 'M_INVALID_PARAM');
      expectError(await get(`${F}/query/directory`), 400, 'M_MISSING_PARAM');
    });

    it('refuses an unsigned request with 401 M_UNAUTHORIZED', async () => {
      expectError(await s.http.get(`${F}/query/directory?room_alias=${enc('#lobby:test.local')}`), 401, 'M_UNAUTHORIZED');
    });
  });

  it('answers match the official schemas (query.yaml), errors included', async () => {
    const schemas = new SpecSchemas(undefined, 'server-server.json');
    const uris = [
      `${F}/query/profile?user_id=${enc(alice.userId)}`,
      `${F}/query/profile?user_id=${enc(alice.userId)}&field=avatar_url`,
      `${F}/query/profile?user_id=${enc('@nobody:test.local')}`,
      `${F}/query/directory?room_alias=${enc('#lobby:test.local')}`,
      `${F}/query/directory?room_alias=${enc('#nowhere:test.local')}`,
      `${F}/query/directory?room_alias=${enc('#lobby:remote.test')}`,
    ];
    const problems: string[] = [];
    for (const uri of uris) {
      const res = await get(uri);
      problems.push(...schemas.check({ method: 'get', path: uri, status: res.status, body: res.body }));
    }
    expect(problems).toEqual([]);
  });

  describe('query/{queryType}', () => {
    it('answers an unknown query type with 404 M_UNRECOGNIZED', async () => {
      expectError(await get(`${F}/query/client_keys?user_id=${enc(alice.userId)}`), 404, 'M_UNRECOGNIZED');
    });

    it('asks for a signature first: 401 M_UNAUTHORIZED unsigned', async () => {
      expectError(await s.http.get(`${F}/query/client_keys`), 401, 'M_UNAUTHORIZED');
    });
  });
});

describe('queries with federation disabled', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('refuses signed queries with 403 M_FORBIDDEN', async () => {
    const remote = await knownRemote(s, 'remote.test');
    const u = await s.register('carol');
    expectError(await signedGet(s, remote, `${F}/query/profile?user_id=${enc(u.userId)}`), 403, 'M_FORBIDDEN');
  });
});
