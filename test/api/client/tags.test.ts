import { makeTestServer, bearer, type TestUser } from '../../helpers/server.js';

describe('room tags (matrix-spec: tags.yaml)', () => {
  const s = makeTestServer({ presence: { enabled: false } });
  afterAll(() => s.close());
  let alice: TestUser;
  let bob: TestUser;
  let roomId: string;
  const tagsPath = (u: TestUser, room = roomId) => `/_matrix/client/v3/user/${encodeURIComponent(u.userId)}/rooms/${encodeURIComponent(room)}/tags`;

  beforeAll(async () => {
    alice = await s.register('tagalice');
    bob = await s.register('tagbob');
    roomId = (await s.http.post('/_matrix/client/v3/createRoom').set(bearer(alice)).send({})).body.room_id;
  });

  it('starts empty, then PUT adds a tag with its order and GET lists it', async () => {
    expect((await s.http.get(tagsPath(alice)).set(bearer(alice))).body).toEqual({ tags: {} });
    const put = await s.http.put(`${tagsPath(alice)}/m.favourite`).set(bearer(alice)).send({ order: 0.25 });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({});
    await s.http.put(`${tagsPath(alice)}/u.work`).set(bearer(alice)).send({});
    const got = await s.http.get(tagsPath(alice)).set(bearer(alice));
    expect(got.body).toEqual({ tags: { 'm.favourite': { order: 0.25 }, 'u.work': {} } });
  });

  it('tags reach /sync as the room\'s m.tag account data', async () => {
    const sync = await s.http.get('/_matrix/client/v3/sync').set(bearer(alice));
    const events = sync.body.rooms.join[roomId].account_data.events as { type: string; content: unknown }[];
    expect(events.find((e) => e.type === 'm.tag')!.content).toEqual({ tags: { 'm.favourite': { order: 0.25 }, 'u.work': {} } });
  });

  it('DELETE removes one tag and answers 200 for a tag that is not there', async () => {
    expect((await s.http.delete(`${tagsPath(alice)}/u.work`).set(bearer(alice))).status).toBe(200);
    expect((await s.http.delete(`${tagsPath(alice)}/u.none`).set(bearer(alice))).status).toBe(200);
    expect((await s.http.get(tagsPath(alice)).set(bearer(alice))).body).toEqual({ tags: { 'm.favourite': { order: 0.25 } } });
  });

  it('refuses another user\'s tags: 403 M_FORBIDDEN', async () => {
    for (const res of [
      await s.http.get(tagsPath(alice)).set(bearer(bob)),
      await s.http.put(`${tagsPath(alice)}/u.x`).set(bearer(bob)).send({}),
      await s.http.delete(`${tagsPath(alice)}/m.favourite`).set(bearer(bob)),
    ]) {
      expect(res.status).toBe(403);
      expect(res.body.errcode).toBe('M_FORBIDDEN');
    }
    expect((await s.http.get(tagsPath(alice)).set(bearer(alice))).body.tags).toHaveProperty(['m.favourite']);
  });

  it('refuses an order that is not a number: 400 M_BAD_JSON', async () => {
    const res = await s.http.put(`${tagsPath(alice)}/u.bad`).set(bearer(alice)).send({ order: 'first' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
  });
});
