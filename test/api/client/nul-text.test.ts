// A NUL character (U+0000) in text a client chooses (a state key, a transaction ID, an event type):
// SQLite stores it; PostgreSQL's text type cannot, so there the request is refused with 400
// M_INVALID_PARAM before anything is written (src/storage/errors.ts UnstorableTextError). Never a 500,
// and the room keeps working. Inside event content it is JSON-escaped and fine on both engines, except
// where the stores index content as text of its own (a relation's parent and annotation key).
import { bearer, makeTestServer, type TestUser } from '../../helpers/server.js';
import { testEngine } from '../../helpers/storage.js';

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('a NUL character in client-chosen text', () => {
  const s = makeTestServer();
  afterAll(() => s.close());
  let alice: TestUser;
  let roomId: string;
  beforeAll(async () => {
    alice = await s.register('nul');
    roomId = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({})).body.room_id;
  });
  const postgres = testEngine() === 'postgres';

  it('in a state key: stored on SQLite, 400 M_INVALID_PARAM on PostgreSQL; the room keeps working', async () => {
    const path = `${C}/rooms/${enc(roomId)}/state/org.example.nul/${enc('a\u0000b')}`;
    const put = await s.http.put(path).set(bearer(alice)).send({ v: 1 });
    const get = await s.http.get(path).set(bearer(alice));
    if (postgres) {
      expect({ status: put.status, errcode: put.body.errcode }).toEqual({ status: 400, errcode: 'M_INVALID_PARAM' });
      expect({ status: get.status, errcode: get.body.errcode }).toEqual({ status: 404, errcode: 'M_NOT_FOUND' }); // nothing was stored
    } else {
      expect(put.status).toBe(200);
      expect(get.status).toBe(200);
      expect(get.body).toEqual({ v: 1 });
    }
    const after = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/after1`).set(bearer(alice)).send({ msgtype: 'm.text', body: 'still here' });
    expect(after.status).toBe(200);
  });

  it('in a transaction ID: the same; a retry without it is a new send', async () => {
    const res = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/${enc('t\u0000x')}`).set(bearer(alice)).send({ msgtype: 'm.text', body: 'x' });
    if (postgres) expect({ status: res.status, errcode: res.body.errcode }).toEqual({ status: 400, errcode: 'M_INVALID_PARAM' });
    else expect(res.status).toBe(200);
    const ok = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/tx`).set(bearer(alice)).send({ msgtype: 'm.text', body: 'x' });
    expect(ok.status).toBe(200);
  });

  it('inside event content it is stored and read back on both engines', async () => {
    const sent = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/c1`).set(bearer(alice)).send({ msgtype: 'm.text', body: 'a\u0000b' });
    expect(sent.status).toBe(200);
    const ev = await s.http.get(`${C}/rooms/${enc(roomId)}/event/${enc(sent.body.event_id)}`).set(bearer(alice));
    expect(ev.status).toBe(200);
    expect(ev.body.content.body).toBe('a\u0000b');
    // The searchable text is split at it on both engines.
    const found = await s.http.post(`${C}/search`).set(bearer(alice)).send({ search_categories: { room_events: { search_term: 'b', order_by: 'recent' } } });
    expect(found.status).toBe(200);
    expect(found.body.search_categories.room_events.results.map((r: { result: { event_id: string } }) => r.result.event_id)).toContain(sent.body.event_id);
  });

  it('in an annotation\'s key (indexed as text of its own): stored on SQLite, 400 M_INVALID_PARAM on PostgreSQL', async () => {
    const target = (await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/r1`).set(bearer(alice)).send({ msgtype: 'm.text', body: 'react here' })).body.event_id as string;
    const res = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.reaction/r2`).set(bearer(alice))
      .send({ 'm.relates_to': { rel_type: 'm.annotation', event_id: target, key: 'a\u0000b' } });
    if (postgres) expect({ status: res.status, errcode: res.body.errcode }).toEqual({ status: 400, errcode: 'M_INVALID_PARAM' });
    else expect(res.status).toBe(200);
    const after = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/r3`).set(bearer(alice)).send({ msgtype: 'm.text', body: 'still here' });
    expect(after.status).toBe(200);
  });
});
