// GET /rooms/{roomId}/timestamp_to_event (matrix-spec: room_event_by_timestamp.yaml#getEventByTimestamp).
import { bearer, expectError, makeTestServer, type TestUser } from '../../helpers/server.js';

const s = makeTestServer({ presence: { enabled: false } });
afterAll(() => s.close());

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
let txn = 0;

const t2e = (u: TestUser, roomId: string, query: Record<string, string>) =>
  s.http.get(`/_matrix/client/v1/rooms/${enc(roomId)}/timestamp_to_event`).query(query).set(bearer(u));
async function sendAt(u: TestUser, roomId: string, ts: number, body: string): Promise<string> {
  s.clock.advance(ts - s.clock.now());
  const r = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/t${++txn}`).set(bearer(u)).send({ msgtype: 'm.text', body });
  expect(r.status).toBe(200);
  return r.body.event_id as string;
}

let alice: TestUser;
let bob: TestUser;
let roomId: string;
const t0 = 1_800_000_000_000;
let e1: string;
let e2: string;
let e3: string;
beforeAll(async () => {
  alice = await s.register('alice');
  bob = await s.register('bob');
  s.clock.advance(t0 - s.clock.now());
  roomId = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({
    preset: 'public_chat', initial_state: [{ type: 'm.room.history_visibility', content: { history_visibility: 'joined' } }],
  })).body.room_id;
  e1 = await sendAt(alice, roomId, t0 + 10_000, 'one');
  e2 = await sendAt(alice, roomId, t0 + 20_000, 'two');
  s.clock.advance(t0 + 30_000 - s.clock.now());
  expect((await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(bob)).send({})).status).toBe(200);
  e3 = await sendAt(alice, roomId, t0 + 40_000, 'three');
});

describe('GET /v1/rooms/:roomId/timestamp_to_event', () => {
  it('finds the event at or after the time (dir=f) and at or before it (dir=b)', async () => {
    const f = await t2e(alice, roomId, { ts: String(t0 + 15_000), dir: 'f' });
    expect(f.status).toBe(200);
    expect(f.body).toEqual({ event_id: e2, origin_server_ts: t0 + 20_000 });
    expect((await t2e(alice, roomId, { ts: String(t0 + 15_000), dir: 'b' })).body.event_id).toBe(e1);
    expect((await t2e(alice, roomId, { ts: String(t0 + 20_000), dir: 'b' })).body.event_id).toBe(e2);
    expect((await t2e(alice, roomId, { ts: String(t0 + 20_000), dir: 'f' })).body.event_id).toBe(e2);
  });

  it('skips events the user may not see', async () => {
    // Bob joined at t0 + 30s with history visibility `joined`: forwards from e1's time, his own join is
    // the first event he sees; backwards from before it, the room's first events (set up before
    // `joined` applied, under the default `shared`).
    const join = await t2e(bob, roomId, { ts: String(t0 + 5_000), dir: 'f' });
    expect(join.body.origin_server_ts).toBe(t0 + 30_000);
    expect(join.body.event_id).not.toBe(e3);
    expect((await t2e(bob, roomId, { ts: String(t0 + 31_000), dir: 'f' })).body.event_id).toBe(e3);
    const back = await t2e(bob, roomId, { ts: String(t0 + 25_000), dir: 'b' });
    expect(back.body.origin_server_ts).toBe(t0);
    expect((await t2e(alice, roomId, { ts: String(t0 + 25_000), dir: 'b' })).body.event_id).toBe(e2);
  });

  it('answers 404 M_NOT_FOUND when nothing is in that direction', async () => {
    expectError(await t2e(alice, roomId, { ts: String(t0 + 50_000), dir: 'f' }), 404, 'M_NOT_FOUND');
    expectError(await t2e(alice, roomId, { ts: '0', dir: 'b' }), 404, 'M_NOT_FOUND');
  });

  it('refuses missing or bad parameters (400) and users who cannot read the room (403 M_FORBIDDEN)', async () => {
    expectError(await t2e(alice, roomId, { dir: 'f' }), 400, 'M_MISSING_PARAM');
    expectError(await t2e(alice, roomId, { ts: '1' }), 400, 'M_MISSING_PARAM');
    expectError(await t2e(alice, roomId, { ts: 'soon', dir: 'f' }), 400, 'M_INVALID_PARAM');
    expectError(await t2e(alice, roomId, { ts: '1', dir: 'x' }), 400, 'M_INVALID_PARAM');
    const carol = await s.register('carol');
    const priv = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'private_chat' })).body.room_id as string;
    expectError(await t2e(carol, priv, { ts: '1', dir: 'f' }), 403, 'M_FORBIDDEN');
  });
});
