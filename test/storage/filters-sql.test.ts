// The SQL side of event filters (storage getRoomEvents, i.e. /messages with a filter) must agree with
// the in-memory eventMatches on the shared table of cases (test/helpers/filter-cases.ts): `*` is the
// only wildcard and only in types; GLOB's `?` and `[`, and LIKE's `%` and `_`, are literal.
import { FILTER_CASES, SAMPLE_EVENTS, type SampleKey } from '../helpers/filter-cases.js';
import { bearer, makeTestServer, type TestUser } from '../helpers/server.js';

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('filters in SQL (storage getRoomEvents and /messages)', () => {
  const s = makeTestServer();
  afterAll(() => s.close());
  let roomId = '';
  const idToKey = new Map<string, SampleKey>();

  beforeAll(async () => {
    const alice = await s.register('alice');
    const bob = await s.register('bob');
    const created = await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'public_chat' });
    roomId = created.body.room_id;
    expect((await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(bob)).send({})).status).toBe(200);
    const users: Record<string, TestUser> = { [alice.userId]: alice, [bob.userId]: bob };
    let n = 0;
    for (const e of SAMPLE_EVENTS) {
      const res = await s.http.put(`${C}/rooms/${enc(roomId)}/send/${enc(e.type)}/f${++n}`).set(bearer(users[e.sender]!)).send({ body: e.key });
      expect(res.status).toBe(200);
      idToKey.set(res.body.event_id, e.key);
    }
  });

  for (const c of FILTER_CASES) {
    it(`storage: ${c.name}`, async () => {
      const q = {
        roomId, from: Number.MAX_SAFE_INTEGER, dir: 'b' as const, limit: 100,
        ...(c.filter.types ? { types: c.filter.types } : {}), ...(c.filter.not_types ? { notTypes: c.filter.not_types } : {}),
        ...(c.filter.senders ? { senders: c.filter.senders } : {}), ...(c.filter.not_senders ? { notSenders: c.filter.not_senders } : {}),
      };
      const recs = await s.services.storage.rooms.getRoomEvents(q);
      const keys = recs.map((r) => idToKey.get(r.event.event_id)).filter((k): k is SampleKey => k !== undefined).reverse();
      expect(keys).toEqual(c.passes);
    });

    it(`/messages: ${c.name}`, async () => {
      const alice = { accessToken: (await s.services.registration.createUser({ localpart: `reader${Math.random().toString(36).slice(2, 8)}`, password: null, admin: false, login: true })).access_token! };
      expect((await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(alice)).send({})).status).toBe(200);
      const res = await s.http.get(`${C}/rooms/${enc(roomId)}/messages`).query({ dir: 'f', limit: 100, filter: JSON.stringify(c.filter) }).set(bearer(alice));
      expect(res.status).toBe(200);
      const keys = (res.body.chunk as { event_id: string }[]).map((e) => idToKey.get(e.event_id)).filter((k): k is SampleKey => k !== undefined);
      expect(keys).toEqual(c.passes);
    });
  }
});
