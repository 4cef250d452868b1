// Server-side search (matrix-spec: search.yaml#search; client-server-api modules/search.md).
import { bearer, expectError, makeTestServer, type TestUser } from '../../helpers/server.js';

const s = makeTestServer({ presence: { enabled: false } });
afterAll(() => s.close());

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
let txn = 0;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

async function send(u: TestUser, roomId: string, body: string, extra: Json = {}): Promise<string> {
  s.clock.advance(1000);
  const r = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/s${++txn}`).set(bearer(u)).send({ msgtype: 'm.text', body, ...extra });
  expect(r.status).toBe(200);
  return r.body.event_id as string;
}
const search = (u: TestUser, roomEvents: Json, nextBatch?: string) =>
  s.http.post(`${C}/search`).query(nextBatch ? { next_batch: nextBatch } : {}).set(bearer(u)).send({ search_categories: { room_events: roomEvents } });
const resultIds = (r: { body: Json }) => (r.body.search_categories.room_events.results as Json[]).map((x) => x.result.event_id as string);

let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let roomA: string;
let roomB: string;
let aCake: string;
let bCake: string;
let aPie: string;
beforeAll(async () => {
  alice = await s.register('alice');
  bob = await s.register('bob');
  carol = await s.register('carol');
  roomA = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'public_chat', name: 'Bakery talk', topic: 'All about baking' })).body.room_id;
  roomB = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'public_chat', name: 'Garden' })).body.room_id;
  for (const r of [roomA, roomB]) expect((await s.http.post(`${C}/rooms/${enc(r)}/join`).set(bearer(bob)).send({})).status).toBe(200);
  aCake = await send(alice, roomA, 'I baked a chocolate cake today');
  aPie = await send(bob, roomA, 'Apple pie is better than cake, cake, cake');
  bCake = await send(bob, roomB, 'The cake in the garden got wet');
  await send(alice, roomB, 'Tomatoes are growing');
});

describe('POST /search', () => {
  it('finds message bodies in the user\'s rooms, with count and highlights', async () => {
    const r = await search(bob, { search_term: 'cake' });
    expect(r.status).toBe(200);
    const re = r.body.search_categories.room_events;
    expect(new Set(resultIds(r))).toEqual(new Set([aCake, aPie, bCake]));
    expect(re.count).toBe(3);
    expect(re.highlights).toEqual(['cake']);
    expect(re.next_batch).toBeUndefined();
    for (const x of re.results as Json[]) expect(typeof x.rank).toBe('number');
  });

  it('orders by rank (more matches first) or by recent (newest first)', async () => {
    const rank = await search(bob, { search_term: 'cake', order_by: 'rank' });
    expect(resultIds(rank)[0]).toBe(aPie);
    const ranks = (rank.body.search_categories.room_events.results as Json[]).map((x) => x.rank as number);
    expect([...ranks].sort((a, b) => b - a)).toEqual(ranks);
    const recent = await search(bob, { search_term: 'cake', order_by: 'recent' });
    expect(resultIds(recent)).toEqual([bCake, aPie, aCake]);
  });

  it('matches word prefixes, phrases, OR and negations', async () => {
    expect(resultIds(await search(bob, { search_term: 'choc', order_by: 'recent' }))).toEqual([aCake]);
    expect(resultIds(await search(bob, { search_term: '"chocolate cake"', order_by: 'recent' }))).toEqual([aCake]);
    expect(resultIds(await search(bob, { search_term: '"cake chocolate"', order_by: 'recent' }))).toEqual([]);
    expect(resultIds(await search(bob, { search_term: 'tomatoes OR apple', order_by: 'recent' })).length).toBe(2);
    expect(resultIds(await search(bob, { search_term: 'cake -garden', order_by: 'recent' }))).toEqual([aPie, aCake]);
  });

  it('finds room names and topics, and `keys` restricts where it looks', async () => {
    const names = await search(bob, { search_term: 'bakery' });
    expect((names.body.search_categories.room_events.results as Json[]).map((x) => x.result.type)).toEqual(['m.room.name']);
    const topics = await search(bob, { search_term: 'baking', keys: ['content.topic'] });
    expect((topics.body.search_categories.room_events.results as Json[]).map((x) => x.result.type)).toEqual(['m.room.topic']);
    expect(resultIds(await search(bob, { search_term: 'baking', keys: ['content.body'] }))).toEqual([]);
  });

  it('applies the filter: rooms, senders, types, limit, with next_batch to page on', async () => {
    expect(new Set(resultIds(await search(bob, { search_term: 'cake', filter: { rooms: [roomB] } })))).toEqual(new Set([bCake]));
    expect(new Set(resultIds(await search(bob, { search_term: 'cake', filter: { not_rooms: [roomB] } })))).toEqual(new Set([aCake, aPie]));
    expect(new Set(resultIds(await search(bob, { search_term: 'cake', filter: { senders: [alice.userId] } })))).toEqual(new Set([aCake]));
    expect(resultIds(await search(bob, { search_term: 'cake', filter: { not_types: ['m.room.*'] } }))).toEqual([]);
    const page1 = await search(bob, { search_term: 'cake', order_by: 'recent', filter: { limit: 2 } });
    expect(resultIds(page1)).toEqual([bCake, aPie]);
    const token = page1.body.search_categories.room_events.next_batch as string;
    expect(token).toEqual(expect.any(String));
    const page2 = await search(bob, { search_term: 'cake', order_by: 'recent', filter: { limit: 2 } }, token);
    expect(resultIds(page2)).toEqual([aCake]);
    expect(page2.body.search_categories.room_events.next_batch).toBeUndefined();
    const rank1 = await search(bob, { search_term: 'cake', filter: { limit: 1 } });
    const rank2 = await search(bob, { search_term: 'cake', filter: { limit: 5 } }, rank1.body.search_categories.room_events.next_batch);
    expect(new Set([...resultIds(rank1), ...resultIds(rank2)])).toEqual(new Set([aCake, aPie, bCake]));
  });

  it('searches only rooms the user is or was in, and only history they may see', async () => {
    expect(resultIds(await search(carol, { search_term: 'cake' }))).toEqual([]);
    const hidden = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({
      preset: 'public_chat', initial_state: [{ type: 'm.room.history_visibility', content: { history_visibility: 'joined' } }],
    })).body.room_id as string;
    await send(alice, hidden, 'secret strawberry before carol');
    expect((await s.http.post(`${C}/rooms/${enc(hidden)}/join`).set(bearer(carol)).send({})).status).toBe(200);
    const seen = await send(alice, hidden, 'public strawberry after carol joined');
    expect(resultIds(await search(carol, { search_term: 'strawberry' }))).toEqual([seen]);
    // After leaving: what came before the departure, nothing after.
    expect((await s.http.post(`${C}/rooms/${enc(hidden)}/leave`).set(bearer(carol)).send({})).status).toBe(200);
    await send(alice, hidden, 'strawberry after carol left');
    expect(resultIds(await search(carol, { search_term: 'strawberry' }))).toEqual([seen]);
    // A forgotten room is not searched.
    expect((await s.http.post(`${C}/rooms/${enc(hidden)}/forget`).set(bearer(carol)).send({})).status).toBe(200);
    expect(resultIds(await search(carol, { search_term: 'strawberry' }))).toEqual([]);
  });

  it('no longer finds a redacted event', async () => {
    const id = await send(bob, roomB, 'rhubarb crumble');
    expect(resultIds(await search(alice, { search_term: 'rhubarb' }))).toEqual([id]);
    expect((await s.http.put(`${C}/rooms/${enc(roomB)}/redact/${enc(id)}/red1`).set(bearer(bob)).send({})).status).toBe(200);
    const r = await search(alice, { search_term: 'rhubarb' });
    expect(resultIds(r)).toEqual([]);
    expect(r.body.search_categories.room_events.count).toBe(0);
  });

  it('gives context with profiles, the rooms\' state and groups when asked', async () => {
    expect((await s.http.put(`${C}/profile/${enc(alice.userId)}/displayname`).set(bearer(alice)).send({ displayname: 'Alice A.' })).status).toBe(200);
    const r = await search(bob, {
      search_term: 'chocolate',
      event_context: { before_limit: 1, after_limit: 1, include_profile: true },
      include_state: true,
      groupings: { group_by: [{ key: 'room_id' }, { key: 'sender' }] },
    });
    expect(r.status).toBe(200);
    const re = r.body.search_categories.room_events;
    const ctx = re.results[0].context;
    expect(ctx.events_after.map((e: Json) => e.event_id)).toEqual([aPie]);
    expect(ctx.events_before).toHaveLength(1);
    expect(ctx.start).toEqual(expect.any(String));
    expect(ctx.end).toEqual(expect.any(String));
    // The profile as it was at the result (before the display name changed).
    expect(ctx.profile_info[alice.userId]).toEqual({ displayname: 'alice' });
    expect(ctx.profile_info[bob.userId]).toEqual({ displayname: 'bob' });
    expect((re.state[roomA] as Json[]).some((e) => e.type === 'm.room.name' && e.content.name === 'Bakery talk')).toBe(true);
    expect(re.groups.room_id[roomA]).toEqual({ results: [aCake], order: 1 });
    expect(re.groups.sender[alice.userId].results).toEqual([aCake]);
  });

  it('bundles aggregations with the results', async () => {
    const root = await send(alice, roomA, 'blueberry muffins');
    await send(bob, roomA, 'yes please', { 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
    const r = await search(bob, { search_term: 'blueberry' });
    expect(r.body.search_categories.room_events.results[0].result.unsigned['m.relations']['m.thread'].count).toBe(1);
  });

  it('answers an empty search_categories when room_events is not asked, and no result for a term of no words', async () => {
    const r = await s.http.post(`${C}/search`).set(bearer(bob)).send({ search_categories: {} });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ search_categories: {} });
    const odd = await search(bob, { search_term: 'NEAR( * ^ AND OR "' });
    expect(odd.status).toBe(200);
    expect(resultIds(odd)).toEqual([]);
  });

  it('refuses malformed requests (400 M_BAD_JSON) and bad tokens (400 M_INVALID_PARAM)', async () => {
    expectError(await s.http.post(`${C}/search`).set(bearer(bob)).send({}), 400, 'M_BAD_JSON');
    expectError(await search(bob, {}), 400, 'M_BAD_JSON');
    expectError(await search(bob, { search_term: 'x', order_by: 'best' }), 400, 'M_BAD_JSON');
    expectError(await search(bob, { search_term: 'x', keys: ['content.url'] }), 400, 'M_BAD_JSON');
    expectError(await search(bob, { search_term: 'x', filter: { limit: 0 } }), 400, 'M_BAD_JSON');
    expectError(await search(bob, { search_term: 'x', event_context: { before_limit: -1 } }), 400, 'M_BAD_JSON');
    expectError(await search(bob, { search_term: 'x', groupings: { group_by: [{ key: 'type' }] } }), 400, 'M_BAD_JSON');
    expectError(await search(bob, { search_term: 'x' }, 'garbage'), 400, 'M_INVALID_PARAM');
    // A token of the other ordering.
    expectError(await search(bob, { search_term: 'x', order_by: 'recent' }, 'k5'), 400, 'M_INVALID_PARAM');
  });
});
