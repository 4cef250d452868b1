// Receipts and read markers (matrix-spec: receipts.yaml#postReceipt, read_markers.yaml#setReadMarker;
// client-server-api "Receipts", "Fully read markers").
import { bearer, makeTestServer, type TestUser, expectError } from '../../helpers/server.js';

const s = makeTestServer({ presence: { enabled: false } });
afterAll(() => s.close());

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
let txn = 0;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const postReceipt = (u: TestUser, roomId: string, type: string, eventId: string, body: unknown = {}) =>
  s.http.post(`${C}/rooms/${enc(roomId)}/receipt/${enc(type)}/${enc(eventId)}`).set(bearer(u)).send(body as object);
const readMarkers = (u: TestUser, roomId: string, body: Json) => s.http.post(`${C}/rooms/${enc(roomId)}/read_markers`).set(bearer(u)).send(body);
async function send(u: TestUser, roomId: string, body: string): Promise<string> {
  const r = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/r${++txn}`).set(bearer(u)).send({ msgtype: 'm.text', body });
  expect(r.status).toBe(200);
  return r.body.event_id as string;
}
async function sync(u: TestUser, since?: string): Promise<Json> {
  const r = await s.http.get(`${C}/sync`).query(since ? { since } : {}).set(bearer(u));
  expect(r.status).toBe(200);
  return r.body as Json;
}
/** The m.receipt content of a room in a sync response (merged), or undefined. */
function receipts(body: Json, roomId: string): Json | undefined {
  const evs = (body.rooms.join[roomId]?.ephemeral.events ?? []) as Json[];
  const r = evs.filter((e) => e.type === 'm.receipt');
  if (r.length === 0) return undefined;
  expect(r).toHaveLength(1);
  return r[0]!.content as Json;
}

let alice: TestUser;
let bob: TestUser;
let eve: TestUser;
let roomId: string;
beforeAll(async () => {
  alice = await s.register('alice');
  bob = await s.register('bob');
  eve = await s.register('eve');
  const r = await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'public_chat' });
  roomId = r.body.room_id as string;
  expect((await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(bob)).send({})).status).toBe(200);
});

describe('POST /rooms/:roomId/receipt/:receiptType/:eventId', () => {
  it('m.read is stored with the server\'s timestamp and shown to the room as m.receipt', async () => {
    const eventId = await send(alice, roomId, 'hello');
    const since = (await sync(alice)).next_batch as string;
    const res = await postReceipt(bob, roomId, 'm.read', eventId);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    const inc = await sync(alice, since);
    expect(receipts(inc, roomId)).toEqual({ [eventId]: { 'm.read': { [bob.userId]: { ts: s.clock.now() } } } });
  });

  it('moving a receipt forward replaces it; an older event does not move it back', async () => {
    const first = await send(alice, roomId, 'first');
    const second = await send(alice, roomId, 'second');
    expect((await postReceipt(bob, roomId, 'm.read', second)).status).toBe(200);
    expect((await postReceipt(bob, roomId, 'm.read', first)).status).toBe(200);
    const all = receipts(await sync(alice), roomId)!;
    const bobsEvents = Object.entries(all).filter(([, byType]) => (byType as Json)['m.read']?.[bob.userId]).map(([id]) => id);
    expect(bobsEvents).toEqual([second]);
  });

  it('m.read.private is accepted and only its owner sees it', async () => {
    const eventId = await send(alice, roomId, 'private');
    const aliceSince = (await sync(alice)).next_batch as string;
    const bobSince = (await sync(bob)).next_batch as string;
    expect((await postReceipt(bob, roomId, 'm.read.private', eventId)).status).toBe(200);
    expect(receipts(await sync(alice, aliceSince), roomId)).toBeUndefined();
    const own = receipts(await sync(bob, bobSince), roomId);
    expect(own).toEqual({ [eventId]: { 'm.read.private': { [bob.userId]: { ts: expect.any(Number) } } } });
  });

  it('keeps thread_id with the receipt, apart from the unthreaded one', async () => {
    const eventId = await send(alice, roomId, 'threaded');
    const since = (await sync(alice)).next_batch as string;
    expect((await postReceipt(bob, roomId, 'm.read', eventId, { thread_id: 'main' })).status).toBe(200);
    const inc = receipts(await sync(alice, since), roomId);
    expect(inc).toEqual({ [eventId]: { 'm.read': { [bob.userId]: { ts: expect.any(Number), thread_id: 'main' } } } });
    // The thread receipt does not replace the unthreaded one.
    const all = receipts(await sync(alice), roomId)!;
    const unthreaded = Object.values(all).filter((byType) => {
      const r = (byType as Json)['m.read']?.[bob.userId];
      return r && r.thread_id === undefined;
    });
    expect(unthreaded).toHaveLength(1);
  });

  it('m.fully_read sets the m.fully_read room account data and is not a receipt', async () => {
    const eventId = await send(alice, roomId, 'fully');
    const aliceSince = (await sync(alice)).next_batch as string;
    const bobSince = (await sync(bob)).next_batch as string;
    expect((await postReceipt(bob, roomId, 'm.fully_read', eventId)).status).toBe(200);
    const got = await s.http.get(`${C}/user/${enc(bob.userId)}/rooms/${enc(roomId)}/account_data/m.fully_read`).set(bearer(bob));
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ event_id: eventId });
    const inc = await sync(bob, bobSince);
    expect(inc.rooms.join[roomId].account_data.events).toEqual([{ type: 'm.fully_read', content: { event_id: eventId } }]);
    expect(receipts(inc, roomId)).toBeUndefined();
    expect((await sync(alice, aliceSince)).rooms.join).toEqual({});
  });

  it('refuses an unknown receipt type with 400 M_INVALID_PARAM', async () => {
    const eventId = await send(alice, roomId, 'x');
    expectError(await postReceipt(bob, roomId, 'm.seen', eventId), 400, 'M_INVALID_PARAM');
  });

  it('refuses a bad thread_id with 400 M_INVALID_PARAM', async () => {
    const eventId = await send(alice, roomId, 'x');
    expectError(await postReceipt(bob, roomId, 'm.read', eventId, { thread_id: '' }), 400, 'M_INVALID_PARAM');
    expectError(await postReceipt(bob, roomId, 'm.read', eventId, { thread_id: 42 }), 400, 'M_INVALID_PARAM');
    expectError(await postReceipt(bob, roomId, 'm.fully_read', eventId, { thread_id: 'main' }), 400, 'M_INVALID_PARAM');
  });

  it('refuses a user who is not in the room with 403 M_FORBIDDEN', async () => {
    const eventId = await send(alice, roomId, 'x');
    expectError(await postReceipt(eve, roomId, 'm.read', eventId), 403, 'M_FORBIDDEN');
    expectError(await postReceipt(eve, roomId, 'm.read.private', eventId), 403, 'M_FORBIDDEN');
  });

  it('refuses an unknown event, or an event of another room, with 404 M_NOT_FOUND', async () => {
    expectError(await postReceipt(bob, roomId, 'm.read', '$unknown:test.local'), 404, 'M_NOT_FOUND');
    const other = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({})).body.room_id as string;
    const elsewhere = await send(alice, other, 'elsewhere');
    expectError(await postReceipt(alice, roomId, 'm.read', elsewhere), 404, 'M_NOT_FOUND');
  });

  it('requires an access token', async () => {
    const res = await s.http.post(`${C}/rooms/${enc(roomId)}/receipt/m.read/$x`).send({});
    expectError(res, 401, 'M_MISSING_TOKEN');
  });
});

describe('POST /rooms/:roomId/read_markers', () => {
  it('sets m.fully_read account data and the m.read receipt together', async () => {
    const a = await send(alice, roomId, 'a');
    const b = await send(alice, roomId, 'b');
    const since = (await sync(alice)).next_batch as string;
    const res = await readMarkers(bob, roomId, { 'm.fully_read': a, 'm.read': b });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    const got = await s.http.get(`${C}/user/${enc(bob.userId)}/rooms/${enc(roomId)}/account_data/m.fully_read`).set(bearer(bob));
    expect(got.body).toEqual({ event_id: a });
    expect(receipts(await sync(alice, since), roomId)).toEqual({ [b]: { 'm.read': { [bob.userId]: { ts: expect.any(Number) } } } });
  });

  it('sets m.read.private for its owner only', async () => {
    const c = await send(alice, roomId, 'c');
    const since = (await sync(alice)).next_batch as string;
    const bobSince = (await sync(bob)).next_batch as string;
    expect((await readMarkers(bob, roomId, { 'm.read.private': c })).status).toBe(200);
    expect(receipts(await sync(alice, since), roomId)).toBeUndefined();
    expect(receipts(await sync(bob, bobSince), roomId)).toEqual({ [c]: { 'm.read.private': { [bob.userId]: { ts: expect.any(Number) } } } });
  });

  it('refuses a user who is not in the room with 403 M_FORBIDDEN', async () => {
    const d = await send(alice, roomId, 'd');
    expectError(await readMarkers(eve, roomId, { 'm.fully_read': d }), 403, 'M_FORBIDDEN');
  });

  it('refuses an unknown event with 404 M_NOT_FOUND', async () => {
    expectError(await readMarkers(bob, roomId, { 'm.fully_read': '$nope:test.local' }), 404, 'M_NOT_FOUND');
  });

  it('refuses a marker that is not a string with 400 M_BAD_JSON', async () => {
    expectError(await readMarkers(bob, roomId, { 'm.fully_read': 5 }), 400, 'M_BAD_JSON');
  });
});
