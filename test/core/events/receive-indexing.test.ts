// Events received from another server are indexed like local ones (spec/relations.md "What is indexed,
// and where"): their relations, threads, search text and the thread of the notifications they cause;
// a rejected event indexes nothing.
import type { StoredEvent } from '../../../src/core/events/types.js';
import { ROOM_VERSIONS } from '../../../src/core/room-versions.js';
import { receiverFor, remoteServer, wire } from '../../helpers/graph.js';
import { bearer, makeTestServer } from '../../helpers/server.js';

const C = '/_matrix/client/v3';
const V1 = '/_matrix/client/v1';
const enc = encodeURIComponent;
const V11 = ROOM_VERSIONS['11'];
const BOB = '@bob:remote.test';

describe('received events and the relation, thread and search indexes', () => {
  const s = makeTestServer({ presence: { enabled: false } });
  afterAll(() => s.close());

  it('indexes a remote thread reply, edit and reaction; a rejected one indexes nothing', async () => {
    const alice = await s.register('alice');
    const roomId = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'public_chat', room_version: '11' })).body.room_id as string;
    const remote = remoteServer('remote.test');
    const receiver = receiverFor(s, [remote]);
    let ts = 1_700_000_000_000;
    const next = async (draft: { sender: string; type: string; state_key?: string; content: Record<string, unknown> }): Promise<StoredEvent> => {
      const room = (await s.services.roomState.get(roomId))!;
      const prev = (await s.services.storage.rooms.getEvents(room.extremities.map((x) => x.eventId))).map((r) => r.event);
      ts += 1000;
      return remote.event(V11, { room_id: roomId, ...draft, content: draft.content as never }, prev, room.state, ts);
    };
    const receive = async (e: StoredEvent) => (await receiver.receive(wire(e), V11)).status;

    expect(await receive(await next({ sender: BOB, type: 'm.room.member', state_key: BOB, content: { membership: 'join' } }))).toBe('accepted');
    const root = (await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/r1`).set(bearer(alice)).send({ msgtype: 'm.text', body: 'local root' })).body.event_id as string;
    const reply = await next({ sender: BOB, type: 'm.room.message', content: { msgtype: 'm.text', body: 'remote strawberry reply', 'm.relates_to': { rel_type: 'm.thread', event_id: root } } });
    expect(await receive(reply)).toBe('accepted');
    const fix = await next({ sender: BOB, type: 'm.room.message', content: { msgtype: 'm.text', body: '* fixed', 'm.new_content': { msgtype: 'm.text', body: 'fixed' }, 'm.relates_to': { rel_type: 'm.replace', event_id: reply.event_id } } });
    expect(await receive(fix)).toBe('accepted');
    const reaction = await next({ sender: BOB, type: 'm.reaction', content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: root, key: '👍' } } });
    expect(await receive(reaction)).toBe('accepted');
    // A state event bob may not send (power levels): rejected, and its relation is not indexed.
    const refused = await next({ sender: BOB, type: 'm.room.power_levels', state_key: '', content: { users: { [BOB]: 100 }, 'm.relates_to': { rel_type: 'm.reference', event_id: root } } });
    expect(await receive(refused)).not.toBe('accepted');

    const rel = await s.http.get(`${V1}/rooms/${enc(roomId)}/relations/${enc(root)}`).set(bearer(alice));
    expect(rel.body.chunk.map((e: { event_id: string }) => e.event_id)).toEqual([reaction.event_id, reply.event_id]);
    const threads = await s.http.get(`${V1}/rooms/${enc(roomId)}/threads`).set(bearer(alice));
    expect(threads.body.chunk.map((e: { event_id: string }) => e.event_id)).toEqual([root]);
    const summary = threads.body.chunk[0].unsigned['m.relations']['m.thread'];
    expect(summary.count).toBe(1);
    expect(summary.latest_event.event_id).toBe(reply.event_id);
    expect(summary.latest_event.unsigned['m.relations']['m.replace'].event_id).toBe(fix.event_id);
    const search = await s.http.post(`${C}/search`).set(bearer(alice)).send({ search_categories: { room_events: { search_term: 'strawberry' } } });
    expect(search.body.search_categories.room_events.results.map((r: { result: { event_id: string } }) => r.result.event_id)).toEqual([reply.event_id]);
    // Bob's reply notifies alice in the thread, not in the main timeline.
    const sync = await s.http.get(`${C}/sync`).query({ filter: JSON.stringify({ room: { timeline: { unread_thread_notifications: true } } }) }).set(bearer(alice));
    expect(sync.body.rooms.join[roomId].unread_thread_notifications).toEqual({ [root]: { notification_count: 1, highlight_count: 0 } });
    expect(sync.body.rooms.join[roomId].unread_notifications.notification_count).toBe(0);
    expect(await s.services.storage.rooms.getRelation(refused.event_id)).toBeUndefined();
  });
});
