// Admin API, reports (spec/admin.md "Reports"; Synapse admin API event_reports): listing, one report,
// deleting; room and user reports under /_hearth/admin/v1/reports.
import { bearer, expectError, makeTestServer, type TestUser } from '../../helpers/server.js';

const s = makeTestServer({ presence: { enabled: false } });
afterAll(() => s.close());

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;

let admin: TestUser;
let alice: TestUser;
let bob: TestUser;
let roomA: string;
let roomB: string;
const events: string[] = [];
beforeAll(async () => {
  admin = await s.register('root');
  await s.services.accounts.setAdmin(admin.userId, true);
  alice = await s.register('alice');
  bob = await s.register('bob');
  roomA = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'public_chat', name: 'Room A', room_alias_name: 'rooma' })).body.room_id;
  roomB = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'public_chat' })).body.room_id;
  for (const r of [roomA, roomB]) expect((await s.http.post(`${C}/rooms/${enc(r)}/join`).set(bearer(bob)).send({})).status).toBe(200);
  for (const [i, r] of [roomA, roomA, roomB].entries()) {
    events.push((await s.http.put(`${C}/rooms/${enc(r)}/send/m.room.message/e${i}`).set(bearer(alice)).send({ msgtype: 'm.text', body: `bad ${i}` })).body.event_id);
  }
  for (const [i, ev] of events.entries()) {
    s.clock.advance(1000);
    const room = i < 2 ? roomA : roomB;
    expect((await s.http.post(`${C}/rooms/${enc(room)}/report/${enc(ev)}`).set(bearer(i === 1 ? alice : bob)).send({ reason: `reason ${i}` })).status).toBe(200);
  }
  expect((await s.http.post(`${C}/rooms/${enc(roomB)}/report`).set(bearer(bob)).send({ reason: 'whole room' })).status).toBe(200);
  expect((await s.http.post(`${C}/users/${enc(alice.userId)}/report`).set(bearer(bob)).send({ reason: 'this user' })).status).toBe(200);
});

describe('GET /_synapse/admin/v1/event_reports', () => {
  it('lists event reports newest first with Synapse\'s fields, total and no next_token at the end', async () => {
    const r = await s.http.get('/_synapse/admin/v1/event_reports').set(bearer(admin));
    expect(r.status).toBe(200);
    expect(r.body.total).toBe(3);
    expect(r.body.next_token).toBeUndefined();
    expect(r.body.event_reports.map((e: { event_id: string }) => e.event_id)).toEqual([...events].reverse());
    expect(r.body.event_reports[2]).toEqual({
      id: expect.any(Number), received_ts: expect.any(Number), room_id: roomA, name: 'Room A', canonical_alias: '#rooma:test.local',
      event_id: events[0], user_id: bob.userId, reason: 'reason 0', score: null, sender: alice.userId,
    });
  });

  it('pages with from/limit/next_token, oldest first with dir=f, and filters by reporter, room and sender', async () => {
    const first = await s.http.get('/_synapse/admin/v1/event_reports').query({ limit: '2', dir: 'f' }).set(bearer(admin));
    expect(first.body.event_reports.map((e: { event_id: string }) => e.event_id)).toEqual(events.slice(0, 2));
    expect(first.body.next_token).toBe(2);
    const second = await s.http.get('/_synapse/admin/v1/event_reports').query({ limit: '2', dir: 'f', from: '2' }).set(bearer(admin));
    expect(second.body.event_reports.map((e: { event_id: string }) => e.event_id)).toEqual([events[2]]);
    const byReporter = await s.http.get('/_synapse/admin/v1/event_reports').query({ user_id: alice.userId }).set(bearer(admin));
    expect(byReporter.body.event_reports.map((e: { event_id: string }) => e.event_id)).toEqual([events[1]]);
    expect(byReporter.body.total).toBe(1);
    const byRoom = await s.http.get('/_synapse/admin/v1/event_reports').query({ room_id: roomB }).set(bearer(admin));
    expect(byRoom.body.total).toBe(1);
    const bySender = await s.http.get('/_synapse/admin/v1/event_reports').query({ event_sender_user_id: bob.userId }).set(bearer(admin));
    expect(bySender.body.total).toBe(0);
  });

  it('shows one report with the event, and deletes it', async () => {
    const list = await s.http.get('/_synapse/admin/v1/event_reports').query({ dir: 'f' }).set(bearer(admin));
    const id = list.body.event_reports[0].id as number;
    const one = await s.http.get(`/_synapse/admin/v1/event_reports/${id}`).set(bearer(admin));
    expect(one.status).toBe(200);
    expect(one.body.event_json).toEqual(expect.objectContaining({ event_id: events[0], type: 'm.room.message', content: { msgtype: 'm.text', body: 'bad 0' } }));
    const del = await s.http.delete(`/_synapse/admin/v1/event_reports/${id}`).set(bearer(admin));
    expect(del.status).toBe(200);
    expect(del.body).toEqual({});
    expectError(await s.http.get(`/_synapse/admin/v1/event_reports/${id}`).set(bearer(admin)), 404, 'M_NOT_FOUND');
    expectError(await s.http.delete(`/_synapse/admin/v1/event_reports/${id}`).set(bearer(admin)), 404, 'M_NOT_FOUND');
  });

  it('refuses non-admins (403 M_FORBIDDEN), no token (401 M_MISSING_TOKEN) and bad parameters (400 M_INVALID_PARAM)', async () => {
    expectError(await s.http.get('/_synapse/admin/v1/event_reports').set(bearer(bob)), 403, 'M_FORBIDDEN');
    expectError(await s.http.get('/_synapse/admin/v1/event_reports'), 401, 'M_MISSING_TOKEN');
    expectError(await s.http.get('/_synapse/admin/v1/event_reports').query({ dir: 'x' }).set(bearer(admin)), 400, 'M_INVALID_PARAM');
    expectError(await s.http.get('/_synapse/admin/v1/event_reports/abc').set(bearer(admin)), 400, 'M_INVALID_PARAM');
  });
});

describe('/_hearth/admin/v1/reports', () => {
  it('lists room reports (the default) and user reports, shows and deletes one', async () => {
    const rooms = await s.http.get('/_hearth/admin/v1/reports').set(bearer(admin));
    expect(rooms.status).toBe(200);
    expect(rooms.body).toEqual({ total: 1, reports: [expect.objectContaining({ kind: 'room', room_id: roomB, user_id: bob.userId, reason: 'whole room', name: null })] });
    const users = await s.http.get('/_hearth/admin/v1/reports').query({ kind: 'user' }).set(bearer(admin));
    expect(users.body.reports).toEqual([expect.objectContaining({ kind: 'user', target_user_id: alice.userId, reason: 'this user' })]);
    const id = users.body.reports[0].id as number;
    expect((await s.http.get(`/_hearth/admin/v1/reports/${id}`).set(bearer(admin))).body.target_user_id).toBe(alice.userId);
    expect((await s.http.delete(`/_hearth/admin/v1/reports/${id}`).set(bearer(admin))).status).toBe(200);
    expect((await s.http.get('/_hearth/admin/v1/reports').query({ kind: 'user' }).set(bearer(admin))).body.total).toBe(0);
    // Event reports are listed here too (with their kind).
    const ev = await s.http.get('/_hearth/admin/v1/reports').query({ kind: 'event' }).set(bearer(admin));
    expect(ev.body.reports.map((r: { kind: string }) => r.kind)).toEqual(['event', 'event']);
  });

  it('refuses an unknown kind (400 M_INVALID_PARAM) and non-admins (403 M_FORBIDDEN)', async () => {
    expectError(await s.http.get('/_hearth/admin/v1/reports').query({ kind: 'media' }).set(bearer(admin)), 400, 'M_INVALID_PARAM');
    expectError(await s.http.get('/_hearth/admin/v1/reports').set(bearer(bob)), 403, 'M_FORBIDDEN');
    expectError(await s.http.get('/_hearth/admin/v1/reports/999').set(bearer(admin)), 404, 'M_NOT_FOUND');
  });
});
