// /sync for a newly joined room whose timeline hides state events (history visibility, filters): the
// state section carries those events as of the timeline's end, so the client still learns the room's
// name, topic and so on (matrix-spec: sync.yaml `state`: "Updates to the state, between the time
// indicated by the since parameter, and the start of the timeline"; a joined room's full state must
// reach the client). Found with matrix-nio: the server-notices room came out as "Empty Room".
import { bearer, makeTestServer } from '../../helpers/server.js';

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;

interface Ev { type: string; state_key?: string; content: Record<string, unknown>; event_id: string }

describe('GET /sync: state hidden from the timeline', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('gives a room joined after an invite the name and topic set before the invite (history_visibility invited)', async () => {
    const alice = await s.register('alice');
    const bob = await s.register('bob');
    const roomId = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({
      initial_state: [{ type: 'm.room.history_visibility', content: { history_visibility: 'invited' } }],
    })).body.room_id as string;
    await s.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.name/`).set(bearer(alice)).send({ name: 'Named later' }).expect(200);
    await s.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.topic/`).set(bearer(alice)).send({ topic: 'hidden from bob' }).expect(200);
    await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/t1`).set(bearer(alice)).send({ msgtype: 'm.text', body: 'before bob' }).expect(200);
    await s.http.post(`${C}/rooms/${enc(roomId)}/invite`).set(bearer(alice)).send({ user_id: bob.userId }).expect(200);
    await s.http.post(`${C}/join/${enc(roomId)}`).set(bearer(bob)).send({}).expect(200);

    const body = (await s.http.get(`${C}/sync`).set(bearer(bob))).body;
    const room = body.rooms.join[roomId];
    const timeline = room.timeline.events as Ev[];
    const state = room.state.events as Ev[];
    expect(timeline.some((e) => e.type === 'm.room.name')).toBe(false); // hidden by history visibility
    expect(timeline.some((e) => e.type === 'm.room.message')).toBe(false);
    expect(state.find((e) => e.type === 'm.room.name')?.content).toEqual({ name: 'Named later' });
    expect(state.find((e) => e.type === 'm.room.topic')?.content).toMatchObject({ topic: 'hidden from bob' });
    // Nothing appears twice: a key the timeline shows is not also in the state at its end.
    const keys = [...state, ...timeline.filter((e) => e.state_key !== undefined && e.type !== 'm.room.member')].map((e) => `${e.type}|${e.state_key}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('gives the state a timeline filter left out as of the timeline\'s end', async () => {
    const alice = await s.register('carol');
    const roomId = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ name: 'First name' })).body.room_id as string;
    await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/m1`).set(bearer(alice)).send({ msgtype: 'm.text', body: 'one' }).expect(200);
    await s.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.name/`).set(bearer(alice)).send({ name: 'Second name' }).expect(200);
    await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/m2`).set(bearer(alice)).send({ msgtype: 'm.text', body: 'two' }).expect(200);
    const filter = JSON.stringify({ room: { timeline: { types: ['m.room.message'] } } });
    const body = (await s.http.get(`${C}/sync`).query({ filter }).set(bearer(alice))).body;
    expect((body.rooms.join[roomId].timeline.events as Ev[]).map((e) => e.content.body)).toEqual(['one', 'two']);
    const state = body.rooms.join[roomId].state.events as Ev[];
    expect(state.filter((e) => e.type === 'm.room.name').map((e) => e.content)).toEqual([{ name: 'Second name' }]);
  });
});
