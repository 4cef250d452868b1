// Client config / account data (matrix-spec: account-data.yaml#setAccountData, #getAccountData,
// #setAccountDataPerRoom, #getAccountDataPerRoom; client-server-api "Client Config").
import { bearer, makeTestServer, type TestUser, expectError } from '../../helpers/server.js';

const s = makeTestServer({ presence: { enabled: false } });
afterAll(() => s.close());

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;

const globalPath = (owner: string, type: string) => `${C}/user/${enc(owner)}/account_data/${enc(type)}`;
const roomPath = (owner: string, roomId: string, type: string) => `${C}/user/${enc(owner)}/rooms/${enc(roomId)}/account_data/${enc(type)}`;
const put = (u: TestUser, path: string, body: unknown) => s.http.put(path).set(bearer(u)).send(body as object);
const get = (u: TestUser, path: string) => s.http.get(path).set(bearer(u));

let alice: TestUser;
let bob: TestUser;
let roomId: string;
beforeAll(async () => {
  alice = await s.register('alice');
  bob = await s.register('bob');
  const r = await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({});
  roomId = r.body.room_id as string;
});

describe('PUT/GET /user/:userId/account_data/:type', () => {
  it('stores global account data and returns it', async () => {
    const res = await put(alice, globalPath(alice.userId, 'org.example.prefs'), { theme: 'dark', size: 3 });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    const got = await get(alice, globalPath(alice.userId, 'org.example.prefs'));
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ theme: 'dark', size: 3 });
  });

  it('replaces the content on a second PUT', async () => {
    await put(alice, globalPath(alice.userId, 'org.example.replace'), { a: 1, b: 2 });
    await put(alice, globalPath(alice.userId, 'org.example.replace'), { c: 3 });
    expect((await get(alice, globalPath(alice.userId, 'org.example.replace'))).body).toEqual({ c: 3 });
  });

  it('keeps each user\'s account data apart', async () => {
    await put(alice, globalPath(alice.userId, 'org.example.mine'), { owner: 'alice' });
    await put(bob, globalPath(bob.userId, 'org.example.mine'), { owner: 'bob' });
    expect((await get(alice, globalPath(alice.userId, 'org.example.mine'))).body).toEqual({ owner: 'alice' });
    expect((await get(bob, globalPath(bob.userId, 'org.example.mine'))).body).toEqual({ owner: 'bob' });
  });

  it('answers 404 M_NOT_FOUND for a type never set', async () => {
    expectError(await get(alice, globalPath(alice.userId, 'org.example.never')), 404, 'M_NOT_FOUND');
  });

  it('lets only the owner read or write with 403 M_FORBIDDEN', async () => {
    await put(alice, globalPath(alice.userId, 'org.example.private'), { secret: true });
    expectError(await get(bob, globalPath(alice.userId, 'org.example.private')), 403, 'M_FORBIDDEN');
    expectError(await put(bob, globalPath(alice.userId, 'org.example.private'), { secret: false }), 403, 'M_FORBIDDEN');
    expect((await get(alice, globalPath(alice.userId, 'org.example.private'))).body).toEqual({ secret: true });
  });

  it.each(['m.fully_read', 'm.push_rules'])('refuses to set %s this way with 405 M_BAD_JSON', async (type) => {
    expectError(await put(alice, globalPath(alice.userId, type), { event_id: '$x' }), 405, 'M_BAD_JSON');
  });

  it('refuses a body that is not a JSON object', async () => {
    expectError(await put(alice, globalPath(alice.userId, 'org.example.bad'), [1, 2]), 400, 'M_BAD_JSON');
    const text = await s.http.put(globalPath(alice.userId, 'org.example.bad')).set(bearer(alice)).set('Content-Type', 'application/json').send('{oops');
    expectError(text, 400, 'M_NOT_JSON');
    expectError(await get(alice, globalPath(alice.userId, 'org.example.bad')), 404, 'M_NOT_FOUND');
  });

  it('requires m.ignored_user_list to carry an ignored_users object', async () => {
    expectError(await put(alice, globalPath(alice.userId, 'm.ignored_user_list'), { ignored_users: ['@x:test.local'] }), 400, 'M_BAD_JSON');
    const ok = await put(alice, globalPath(alice.userId, 'm.ignored_user_list'), { ignored_users: { '@x:test.local': {} } });
    expect(ok.status).toBe(200);
  });

  it('requires an access token', async () => {
    expectError(await s.http.get(globalPath(alice.userId, 'org.example.prefs')), 401, 'M_MISSING_TOKEN');
  });

  it('the change appears once in /sync account_data', async () => {
    const first = await s.http.get(`${C}/sync`).set(bearer(bob));
    await put(bob, globalPath(bob.userId, 'org.example.synced'), { n: 1 });
    const inc = await s.http.get(`${C}/sync`).query({ since: first.body.next_batch }).set(bearer(bob));
    expect(inc.body.account_data.events).toEqual([{ type: 'org.example.synced', content: { n: 1 } }]);
    const again = await s.http.get(`${C}/sync`).query({ since: inc.body.next_batch }).set(bearer(bob));
    expect(again.body.account_data.events).toEqual([]);
  });
});

describe('PUT/GET /user/:userId/rooms/:roomId/account_data/:type', () => {
  it('stores room account data apart from global account data of the same type', async () => {
    expect((await put(alice, roomPath(alice.userId, roomId, 'org.example.tag'), { where: 'room' })).status).toBe(200);
    await put(alice, globalPath(alice.userId, 'org.example.tag'), { where: 'global' });
    expect((await get(alice, roomPath(alice.userId, roomId, 'org.example.tag'))).body).toEqual({ where: 'room' });
    expect((await get(alice, globalPath(alice.userId, 'org.example.tag'))).body).toEqual({ where: 'global' });
  });

  it('keeps rooms apart', async () => {
    const other = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({})).body.room_id as string;
    await put(alice, roomPath(alice.userId, roomId, 'org.example.per'), { room: 1 });
    expectError(await get(alice, roomPath(alice.userId, other, 'org.example.per')), 404, 'M_NOT_FOUND');
  });

  it('answers 404 M_NOT_FOUND for a type never set in that room', async () => {
    expectError(await get(alice, roomPath(alice.userId, roomId, 'org.example.never')), 404, 'M_NOT_FOUND');
  });

  it('lets only the owner read or write with 403 M_FORBIDDEN', async () => {
    await put(alice, roomPath(alice.userId, roomId, 'org.example.own'), { x: 1 });
    expectError(await get(bob, roomPath(alice.userId, roomId, 'org.example.own')), 403, 'M_FORBIDDEN');
    expectError(await put(bob, roomPath(alice.userId, roomId, 'org.example.own'), { x: 2 }), 403, 'M_FORBIDDEN');
  });

  it.each(['m.fully_read', 'm.push_rules'])('refuses to set %s this way with 405 M_BAD_JSON', async (type) => {
    expectError(await put(alice, roomPath(alice.userId, roomId, type), { event_id: '$x' }), 405, 'M_BAD_JSON');
  });

  it('refuses an invalid room ID with 400 M_INVALID_PARAM', async () => {
    expectError(await put(alice, roomPath(alice.userId, 'not-a-room', 'org.example.x'), { a: 1 }), 400, 'M_INVALID_PARAM');
    expectError(await get(alice, roomPath(alice.userId, 'not-a-room', 'org.example.x')), 400, 'M_INVALID_PARAM');
    expectError(await get(alice, roomPath(alice.userId, '!bad:not a server', 'org.example.x')), 400, 'M_INVALID_PARAM');
  });

  it('the change appears once in the room\'s account_data in /sync', async () => {
    const first = await s.http.get(`${C}/sync`).set(bearer(alice));
    await put(alice, roomPath(alice.userId, roomId, 'org.example.synced'), { r: 1 });
    const inc = await s.http.get(`${C}/sync`).query({ since: first.body.next_batch }).set(bearer(alice));
    expect(inc.body.rooms.join[roomId].account_data.events).toEqual([{ type: 'org.example.synced', content: { r: 1 } }]);
    expect(inc.body.account_data.events).toEqual([]);
    const again = await s.http.get(`${C}/sync`).query({ since: inc.body.next_batch }).set(bearer(alice));
    expect(again.body.rooms.join).toEqual({});
  });
});
