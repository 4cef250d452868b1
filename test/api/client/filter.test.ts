// Filters (matrix-spec: filter.yaml#defineFilter, #getFilter; client-server-api "Filtering").
import { bearer, makeTestServer, type TestUser, expectError } from '../../helpers/server.js';

const s = makeTestServer();
afterAll(() => s.close());

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;

const create = (u: TestUser, body: unknown, owner = u.userId) => s.http.post(`${C}/user/${enc(owner)}/filter`).set(bearer(u)).send(body as object);
const fetch = (u: TestUser, id: string, owner = u.userId) => s.http.get(`${C}/user/${enc(owner)}/filter/${enc(id)}`).set(bearer(u));

let alice: TestUser;
let bob: TestUser;
beforeAll(async () => {
  alice = await s.register('alice');
  bob = await s.register('bob');
});

const FULL = {
  event_fields: ['type', 'content', 'sender'],
  event_format: 'client',
  presence: { not_types: ['*'] },
  account_data: { types: ['m.push_rules'], limit: 5 },
  room: {
    rooms: ['!a:test.local'],
    not_rooms: ['!b:test.local'],
    include_leave: true,
    state: { types: ['m.room.*'], lazy_load_members: true, include_redundant_members: false },
    timeline: { limit: 10, not_senders: ['@spam:test.local'], contains_url: false, unread_thread_notifications: true },
    ephemeral: { types: ['m.receipt', 'm.typing'] },
    account_data: { not_types: ['org.example.*'] },
  },
};

describe('POST /user/:userId/filter', () => {
  it('stores a filter and returns its ID as a string', async () => {
    const res = await create(alice, FULL);
    expect(res.status).toBe(200);
    expect(typeof res.body.filter_id).toBe('string');
    expect(res.body.filter_id).not.toMatch(/^\{/); // must not be mistaken for inline JSON in /sync
    const got = await fetch(alice, res.body.filter_id);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(FULL);
  });

  it('gives every new filter a new ID', async () => {
    const a = await create(alice, { room: { timeline: { limit: 1 } } });
    const b = await create(alice, { room: { timeline: { limit: 2 } } });
    expect(a.body.filter_id).not.toBe(b.body.filter_id);
    expect((await fetch(alice, a.body.filter_id)).body).toEqual({ room: { timeline: { limit: 1 } } });
    expect((await fetch(alice, b.body.filter_id)).body).toEqual({ room: { timeline: { limit: 2 } } });
  });

  it('accepts an empty filter', async () => {
    const res = await create(alice, {});
    expect(res.status).toBe(200);
    expect((await fetch(alice, res.body.filter_id)).body).toEqual({});
  });

  it('ignores unknown keys', async () => {
    const res = await create(alice, { room: { timeline: { limit: 3 }, 'org.example.future': true }, 'org.example.x': 1 });
    expect(res.status).toBe(200);
    expect((await fetch(alice, res.body.filter_id)).body).toEqual({ room: { timeline: { limit: 3 } } });
  });

  it('refuses to create a filter for another user with 403 M_FORBIDDEN', async () => {
    expectError(await create(alice, {}, bob.userId), 403, 'M_FORBIDDEN');
  });

  it.each([
    ['a limit that is not a number', { room: { timeline: { limit: 'ten' } } }],
    ['a limit of 0', { room: { timeline: { limit: 0 } } }],
    ['a negative limit', { presence: { limit: -1 } }],
    ['a fractional limit', { room: { state: { limit: 1.5 } } }],
    ['types that is not an array', { room: { timeline: { types: 'm.room.message' } } }],
    ['a non-string in not_senders', { account_data: { not_senders: [1] } }],
    ['room that is not an object', { room: [] }],
    ['timeline that is not an object', { room: { timeline: 'all' } }],
    ['include_leave that is not a boolean', { room: { include_leave: 'yes' } }],
    ['lazy_load_members that is not a boolean', { room: { state: { lazy_load_members: 1 } } }],
    ['an unknown event_format', { event_format: 'raw' }],
    ['event_fields that is not a list of strings', { event_fields: [1, 2] }],
    ['rooms that is not an array', { room: { rooms: '!a:test.local' } }],
    ['null in place of a value', { room: { timeline: null } }],
  ])('refuses %s with 400 M_BAD_JSON', async (_what, body) => {
    expectError(await create(alice, body), 400, 'M_BAD_JSON');
  });

  it('refuses a body that is not a JSON object with 400', async () => {
    const arr = await create(alice, [1, 2]);
    expectError(arr, 400, 'M_BAD_JSON');
    const text = await s.http.post(`${C}/user/${enc(alice.userId)}/filter`).set(bearer(alice)).set('Content-Type', 'application/json').send('{nope');
    expectError(text, 400, 'M_NOT_JSON');
  });

  it('requires an access token', async () => {
    expectError(await s.http.post(`${C}/user/${enc(alice.userId)}/filter`).send({}), 401, 'M_MISSING_TOKEN');
  });
});

describe('GET /user/:userId/filter/:filterId', () => {
  it('refuses to read another user\'s filter with 403 M_FORBIDDEN', async () => {
    const id = (await create(alice, { room: { timeline: { limit: 4 } } })).body.filter_id as string;
    expectError(await fetch(bob, id, alice.userId), 403, 'M_FORBIDDEN');
  });

  it('answers 404 M_NOT_FOUND for an unknown filter ID', async () => {
    expectError(await fetch(alice, '987654'), 404, 'M_NOT_FOUND');
    expectError(await fetch(alice, 'not-a-filter'), 404, 'M_NOT_FOUND');
  });

  it('keeps filter IDs per user: another user\'s ID is unknown in your own namespace', async () => {
    const carol = await s.register('carol');
    const id = (await create(alice, { room: { timeline: { limit: 7 } } })).body.filter_id as string;
    expectError(await fetch(carol, id), 404, 'M_NOT_FOUND');
    const mine = (await create(carol, { room: { timeline: { limit: 8 } } })).body.filter_id as string;
    expect((await fetch(carol, mine)).body).toEqual({ room: { timeline: { limit: 8 } } });
  });

  it('a stored filter takes effect in /sync', async () => {
    const dave = await s.register('dave');
    const room = await s.http.post(`${C}/createRoom`).set(bearer(dave)).send({});
    const roomId = room.body.room_id as string;
    const id = (await create(dave, { room: { timeline: { limit: 1 } } })).body.filter_id as string;
    const synced = await s.http.get(`${C}/sync`).query({ filter: id }).set(bearer(dave));
    expect(synced.status).toBe(200);
    expect(synced.body.rooms.join[roomId].timeline.events).toHaveLength(1);
    expect(synced.body.rooms.join[roomId].timeline.limited).toBe(true);
  });
});
