// Reporting content (matrix-spec: report_content.yaml#reportEvent, #reportRoom, #reportUser;
// client-server-api modules/report_content.md "Server behaviour"). What is stored is read back through
// the admin API (test/api/admin/reports.test.ts covers its listing).
import { bearer, expectError, makeTestServer, type TestUser } from '../../helpers/server.js';

const s = makeTestServer({ presence: { enabled: false } });
afterAll(() => s.close());

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;

let alice: TestUser;
let bob: TestUser;
let outsider: TestUser;
let roomId: string;
let eventId: string;
beforeAll(async () => {
  alice = await s.register('alice');
  bob = await s.register('bob');
  outsider = await s.register('outsider');
  roomId = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'public_chat', name: 'Reported' })).body.room_id;
  expect((await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(bob)).send({})).status).toBe(200);
  eventId = (await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/r1`).set(bearer(alice)).send({ msgtype: 'm.text', body: 'rude' })).body.event_id;
});

const reportEvent = (u: TestUser, room: string, ev: string, body: object = {}) => s.http.post(`${C}/rooms/${enc(room)}/report/${enc(ev)}`).set(bearer(u)).send(body);
const stored = async (kind: 'event' | 'room' | 'user') => (await s.services.storage.admin.listReports({ kind, from: 0, limit: 100, dir: 'f' })).reports;

describe('POST /rooms/:roomId/report/:eventId', () => {
  it('stores the report of a joined member, with the reason and who sent the event', async () => {
    const r = await reportEvent(bob, roomId, eventId, { reason: 'this makes me sad', score: -100 });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({});
    expect(await stored('event')).toEqual([expect.objectContaining({
      reporter: bob.userId, roomId, eventId, eventSender: alice.userId, reason: 'this makes me sad', score: -100, receivedTs: s.clock.now(),
    })]);
  });

  it('accepts a report without a reason (the spec makes it optional)', async () => {
    expect((await reportEvent(bob, roomId, eventId)).status).toBe(200);
  });

  it('answers 404 M_NOT_FOUND to a user not joined, for an unknown event and for an event of another room', async () => {
    const before = (await stored('event')).length;
    expectError(await reportEvent(outsider, roomId, eventId, { reason: 'x' }), 404, 'M_NOT_FOUND');
    expectError(await reportEvent(bob, roomId, '$unknown', { reason: 'x' }), 404, 'M_NOT_FOUND');
    const other = (await s.http.post(`${C}/createRoom`).set(bearer(bob)).send({})).body.room_id as string;
    expectError(await reportEvent(bob, other, eventId, { reason: 'x' }), 404, 'M_NOT_FOUND');
    expect((await stored('event')).length).toBe(before);
  });

  it('answers 404 for an event the reporter may not see under history visibility', async () => {
    const hidden = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({
      preset: 'public_chat', initial_state: [{ type: 'm.room.history_visibility', content: { history_visibility: 'joined' } }],
    })).body.room_id as string;
    const early = (await s.http.put(`${C}/rooms/${enc(hidden)}/send/m.room.message/h1`).set(bearer(alice)).send({ msgtype: 'm.text', body: 'before' })).body.event_id;
    expect((await s.http.post(`${C}/rooms/${enc(hidden)}/join`).set(bearer(bob)).send({})).status).toBe(200);
    expectError(await reportEvent(bob, hidden, early, { reason: 'x' }), 404, 'M_NOT_FOUND');
  });

  it('refuses a reason that is not a string or too long (400 M_BAD_JSON)', async () => {
    expectError(await reportEvent(bob, roomId, eventId, { reason: 42 }), 400, 'M_BAD_JSON');
    expectError(await reportEvent(bob, roomId, eventId, { reason: 'x'.repeat(2001) }), 400, 'M_BAD_JSON');
  });
});

describe('POST /rooms/:roomId/report', () => {
  it('stores a report of a room the reporter is not in', async () => {
    const r = await s.http.post(`${C}/rooms/${enc(roomId)}/report`).set(bearer(outsider)).send({ reason: '' });
    expect(r.status).toBe(200);
    expect(await stored('room')).toEqual([expect.objectContaining({ reporter: outsider.userId, roomId, reason: '', eventId: null })]);
  });

  it('answers 404 M_NOT_FOUND for an unknown room and 400 M_MISSING_PARAM without a reason', async () => {
    expectError(await s.http.post(`${C}/rooms/${enc('!nope:test.local')}/report`).set(bearer(bob)).send({ reason: 'x' }), 404, 'M_NOT_FOUND');
    expectError(await s.http.post(`${C}/rooms/${enc(roomId)}/report`).set(bearer(bob)).send({}), 400, 'M_MISSING_PARAM');
  });
});

describe('POST /users/:userId/report', () => {
  it('stores a report of a local or remote user', async () => {
    expect((await s.http.post(`${C}/users/${enc(alice.userId)}/report`).set(bearer(outsider)).send({ reason: 'spam' })).status).toBe(200);
    expect((await s.http.post(`${C}/users/${enc('@someone:elsewhere.example')}/report`).set(bearer(outsider)).send({ reason: 'spam' })).status).toBe(200);
    expect((await stored('user')).map((r) => r.targetUserId)).toEqual([alice.userId, '@someone:elsewhere.example']);
  });

  it('answers 404 M_NOT_FOUND for an unknown local user and 400 M_INVALID_PARAM for a bad user ID', async () => {
    expectError(await s.http.post(`${C}/users/${enc('@ghost:test.local')}/report`).set(bearer(bob)).send({ reason: 'x' }), 404, 'M_NOT_FOUND');
    expectError(await s.http.post(`${C}/users/notauser/report`).set(bearer(bob)).send({ reason: 'x' }), 400, 'M_INVALID_PARAM');
  });
});
