// Server-generated events (spec/server-events.md; the Matrix draft's "Server-generated events"): their
// sender is exactly the server name, with no '@'. Room-scoped ones (POST/PUT
// /_hearth/admin/v1/rooms/{roomId}/server_events) reach members through /sync, /messages, /event and
// /context, follow history visibility, stay outside the room's event graph, and are signed by the
// server's key. No client can produce one: a `sender` in a body changes nothing, and every admin path
// that creates server events refuses non-admins and stores nothing.
import { computeEventId, verifyContentHash, verifyEventSignature } from '../../../src/core/crypto/event-hashing.js';
import { roomVersion } from '../../../src/core/room-versions.js';
import type { StoredEvent } from '../../../src/core/events/types.js';
import { pduOf } from '../../../src/wire.js';
import { makeTestServer, bearer, type TestServer, type TestUser } from '../../helpers/server.js';

const enc = encodeURIComponent;
const C = '/_matrix/client/v3';
const SERVER = 'test.local';

interface Ev { type: string; sender: string; state_key?: string; content: Record<string, unknown>; event_id: string; room_id?: string; origin_server_ts?: number; unsigned?: Record<string, unknown> }

async function makeAdmin(s: TestServer, localpart: string): Promise<TestUser> {
  const u = await s.register(localpart);
  await s.services.accounts.setAdmin(u.userId, true);
  return u;
}

const serverEventsPath = (roomId: string, txnId?: string) => `/_hearth/admin/v1/rooms/${enc(roomId)}/server_events${txnId !== undefined ? `/${enc(txnId)}` : ''}`;

async function createRoom(s: TestServer, u: TestUser, body: object = {}): Promise<string> {
  const r = await s.http.post(`${C}/createRoom`).set(bearer(u)).send(body);
  if (r.status !== 200) throw new Error(`createRoom: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.room_id as string;
}

async function send(s: TestServer, u: TestUser, roomId: string, body: object, txn = `t${Math.random()}`): Promise<string> {
  const r = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/${enc(txn)}`).set(bearer(u)).send(body);
  if (r.status !== 200) throw new Error(`send: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.event_id as string;
}

describe('room-scoped server events: delivery and visibility', () => {
  const s = makeTestServer();
  let root: TestUser;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let dave: TestUser;
  let roomId: string;
  let before: string;
  let serverEventId: string;
  let bobSince: string;
  afterAll(() => s.close());

  beforeAll(async () => {
    root = await makeAdmin(s, 'root');
    alice = await s.register('alice');
    bob = await s.register('bob');
    carol = await s.register('carol');
    dave = await s.register('dave');
    roomId = await createRoom(s, alice, { preset: 'private_chat', name: 'Ops', invite: [bob.userId, dave.userId] });
    for (const u of [bob, dave]) expect((await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(u)).send({})).status).toBe(200);
    // dave leaves before the server event: he may read what came before, not it.
    expect((await s.http.post(`${C}/rooms/${enc(roomId)}/leave`).set(bearer(dave)).send({})).status).toBe(200);
    before = await send(s, alice, roomId, { msgtype: 'm.text', body: 'before the warning' });
    bobSince = (await s.http.get(`${C}/sync`).set(bearer(bob))).body.next_batch;
  });

  it('an admin puts one into the room: 200 {"event_id"}', async () => {
    const res = await s.http.post(serverEventsPath(roomId)).set(bearer(root)).send({ type: 'm.room.message', content: { msgtype: 'm.notice', body: 'Maintenance in 10 minutes' } });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['event_id']);
    expect(res.body.event_id).toMatch(/^\$/);
    serverEventId = res.body.event_id;
  });

  it('members get it through /sync, in the timeline after the earlier message, with the server name as sender', async () => {
    const res = await s.http.get(`${C}/sync`).query({ since: bobSince }).set(bearer(bob));
    expect(res.status).toBe(200);
    const tl = res.body.rooms.join[roomId].timeline.events as Ev[];
    expect(tl.map((e) => e.event_id)).toEqual([serverEventId]);
    const ev = tl[0]!;
    expect(ev.sender).toBe(SERVER);
    expect(ev.sender.startsWith('@')).toBe(false);
    expect(ev).toMatchObject({ type: 'm.room.message', content: { msgtype: 'm.notice', body: 'Maintenance in 10 minutes' } });
    expect(typeof ev.origin_server_ts).toBe('number');
    expect(ev.state_key).toBeUndefined();
    // The creator's initial sync shows it last, after her own message.
    const init = await s.http.get(`${C}/sync`).set(bearer(alice));
    const atl = init.body.rooms.join[roomId].timeline.events as Ev[];
    expect(atl.map((e) => e.event_id).slice(-2)).toEqual([before, serverEventId]);
    expect(atl.at(-1)!.sender).toBe(SERVER);
  });

  it('members get it through /messages, in order, with the server name as sender', async () => {
    for (const u of [alice, bob]) {
      const res = await s.http.get(`${C}/rooms/${enc(roomId)}/messages`).query({ dir: 'b', limit: 2 }).set(bearer(u));
      expect(res.status).toBe(200);
      const chunk = res.body.chunk as Ev[];
      expect(chunk.map((e) => [e.event_id, e.sender])).toEqual([[serverEventId, SERVER], [before, alice.userId]]);
    }
  });

  it('members get it through /event with event_id, room_id, type, content, origin_server_ts and sender', async () => {
    const res = await s.http.get(`${C}/rooms/${enc(roomId)}/event/${enc(serverEventId)}`).set(bearer(bob));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ event_id: serverEventId, room_id: roomId, type: 'm.room.message', sender: SERVER, content: { msgtype: 'm.notice', body: 'Maintenance in 10 minutes' } });
    expect(typeof res.body.origin_server_ts).toBe('number');
    // Client format: no PDU fields.
    for (const k of ['prev_events', 'auth_events', 'depth', 'hashes', 'signatures']) expect(res.body).not.toHaveProperty(k);
  });

  it('members get it through /context, with its neighbours', async () => {
    const res = await s.http.get(`${C}/rooms/${enc(roomId)}/context/${enc(serverEventId)}`).query({ limit: 4 }).set(bearer(alice));
    expect(res.status).toBe(200);
    expect(res.body.event).toMatchObject({ event_id: serverEventId, sender: SERVER });
    expect((res.body.events_before as Ev[])[0]!.event_id).toBe(before);
    expect(res.body.events_after).toEqual([]);
    // Context around an earlier event shows it after.
    const around = await s.http.get(`${C}/rooms/${enc(roomId)}/context/${enc(before)}`).query({ limit: 4 }).set(bearer(bob));
    expect(around.status).toBe(200);
    expect((around.body.events_after as Ev[]).map((e) => [e.event_id, e.sender])).toEqual([[serverEventId, SERVER]]);
  });

  it('a user who was never a member sees it nowhere: /event 404, /messages and /context 403, not in /sync', async () => {
    const ev = await s.http.get(`${C}/rooms/${enc(roomId)}/event/${enc(serverEventId)}`).set(bearer(carol));
    expect(ev.status).toBe(404);
    expect(ev.body.errcode).toBe('M_NOT_FOUND');
    const msgs = await s.http.get(`${C}/rooms/${enc(roomId)}/messages`).query({ dir: 'b' }).set(bearer(carol));
    expect(msgs.status).toBe(403);
    expect(msgs.body.errcode).toBe('M_FORBIDDEN');
    const ctx = await s.http.get(`${C}/rooms/${enc(roomId)}/context/${enc(serverEventId)}`).set(bearer(carol));
    expect(ctx.status).toBe(403);
    expect(ctx.body.errcode).toBe('M_FORBIDDEN');
    const sync = await s.http.get(`${C}/sync`).set(bearer(carol));
    expect(sync.status).toBe(200);
    expect(JSON.stringify(sync.body)).not.toContain(serverEventId);
    expect(sync.body.rooms.join[roomId]).toBeUndefined();
  });

  it('a user who left before it does not see it (/event and /context 404, absent from /messages and /sync)', async () => {
    const ev = await s.http.get(`${C}/rooms/${enc(roomId)}/event/${enc(serverEventId)}`).set(bearer(dave));
    expect(ev.status).toBe(404);
    expect(ev.body.errcode).toBe('M_NOT_FOUND');
    const ctx = await s.http.get(`${C}/rooms/${enc(roomId)}/context/${enc(serverEventId)}`).set(bearer(dave));
    expect(ctx.status).toBe(404);
    expect(ctx.body.errcode).toBe('M_NOT_FOUND');
    const msgs = await s.http.get(`${C}/rooms/${enc(roomId)}/messages`).query({ dir: 'b', limit: 100 }).set(bearer(dave));
    expect(msgs.status).toBe(200);
    expect((msgs.body.chunk as Ev[]).map((e) => e.event_id)).not.toContain(serverEventId);
    const sync = await s.http.get(`${C}/sync`).set(bearer(dave));
    expect(JSON.stringify(sync.body)).not.toContain(serverEventId);
  });

  it('history visibility applies as for any event: "joined" hides it from later joiners, "shared" shows it', async () => {
    const erin = await s.register('erin');
    const frank = await s.register('frank');
    const hidden = await createRoom(s, alice, { preset: 'public_chat', initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }] });
    const shown = await createRoom(s, alice, { preset: 'public_chat' });
    const ids: Record<string, string> = {};
    for (const r of [hidden, shown]) {
      const res = await s.http.post(serverEventsPath(r)).set(bearer(root)).send({ type: 'm.room.message', content: { msgtype: 'm.notice', body: 'early' } });
      expect(res.status).toBe(200);
      ids[r] = res.body.event_id;
    }
    for (const [u, r] of [[erin, hidden], [frank, shown]] as const) expect((await s.http.post(`${C}/rooms/${enc(r)}/join`).set(bearer(u)).send({})).status).toBe(200);
    const h = await s.http.get(`${C}/rooms/${enc(hidden)}/event/${enc(ids[hidden]!)}`).set(bearer(erin));
    expect(h.status).toBe(404);
    expect(h.body.errcode).toBe('M_NOT_FOUND');
    const hm = await s.http.get(`${C}/rooms/${enc(hidden)}/messages`).query({ dir: 'b', limit: 100 }).set(bearer(erin));
    expect((hm.body.chunk as Ev[]).map((e) => e.event_id)).not.toContain(ids[hidden]);
    const sh = await s.http.get(`${C}/rooms/${enc(shown)}/event/${enc(ids[shown]!)}`).set(bearer(frank));
    expect(sh.status).toBe(200);
    expect(sh.body.sender).toBe(SERVER);
    // The creator, a member throughout, sees both.
    for (const r of [hidden, shown]) expect((await s.http.get(`${C}/rooms/${enc(r)}/event/${enc(ids[r]!)}`).set(bearer(alice))).status).toBe(200);
  });
});

describe('room-scoped server events: outside the graph, signed by the server', () => {
  const s = makeTestServer();
  let root: TestUser;
  let alice: TestUser;
  afterAll(() => s.close());
  beforeAll(async () => {
    root = await makeAdmin(s, 'root');
    alice = await s.register('alice');
  });

  it.each(['10', '11'])('room version %s: no later event names it in prev_events or auth_events; it is never state nor an extremity', async (version) => {
    const roomId = await createRoom(s, alice, { room_version: version, name: 'Graph', topic: 'original topic' });
    const prior = await send(s, alice, roomId, { msgtype: 'm.text', body: 'one' });
    const priorPdu = (await s.services.storage.rooms.getEvent(prior))!.event;
    const extremitiesBefore = await s.services.storage.rooms.getExtremities(roomId);

    // A state-like type without a state key: still not state.
    const res = await s.http.post(serverEventsPath(roomId)).set(bearer(root)).send({ type: 'm.room.topic', state_key: '', content: { topic: 'server topic' } });
    expect(res.status).toBe(200);
    const id = res.body.event_id as string;
    const rec = (await s.services.storage.rooms.getEvent(id))!;
    expect(rec.serverLocal).toBe(true);
    expect(rec.event.sender).toBe(SERVER);
    expect(rec.event.state_key).toBeUndefined();
    expect(rec.event.prev_events).toEqual([]);
    expect(rec.event.auth_events).toEqual([]);
    expect(rec.event.depth).toBe(priorPdu.depth);
    expect(await s.services.storage.rooms.getExtremities(roomId)).toEqual(extremitiesBefore);
    expect((await s.services.storage.rooms.getCurrentState(roomId)).map((e) => e.event_id)).not.toContain(id);
    const topic = await s.http.get(`${C}/rooms/${enc(roomId)}/state/m.room.topic/`).set(bearer(alice));
    expect(topic.body.topic).toBe('original topic');
    const state = await s.http.get(`${C}/rooms/${enc(roomId)}/state`).set(bearer(alice));
    expect((state.body as Ev[]).map((e) => e.event_id)).not.toContain(id);

    // Later events, messages and state, build on the graph as if it were not there.
    const after = await send(s, alice, roomId, { msgtype: 'm.text', body: 'two' });
    const st = await s.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.topic/`).set(bearer(alice)).send({ topic: 'new topic' });
    expect(st.status).toBe(200);
    const second = await s.http.post(serverEventsPath(roomId)).set(bearer(root)).send({ type: 'm.room.message', content: { body: 'again' } });
    const last = await send(s, alice, roomId, { msgtype: 'm.text', body: 'three' });
    const afterPdu = (await s.services.storage.rooms.getEvent(after))!.event;
    expect(afterPdu.prev_events).toEqual([prior]);
    expect(afterPdu.depth).toBe(priorPdu.depth + 1);
    for (const e of [after, st.body.event_id as string, last]) {
      const pdu = (await s.services.storage.rooms.getEvent(e))!.event;
      expect(pdu.prev_events).not.toContain(id);
      expect(pdu.auth_events).not.toContain(id);
      expect(pdu.prev_events).not.toContain(second.body.event_id);
      expect(pdu.auth_events).not.toContain(second.body.event_id);
    }
    expect(await s.services.storage.rooms.getExtremities(roomId)).toEqual([last]);
    // The room's state as of the server event is the state before it.
    const ctx = await s.http.get(`${C}/rooms/${enc(roomId)}/context/${enc(id)}`).query({ limit: 0 }).set(bearer(alice));
    expect(ctx.status).toBe(200);
    expect((ctx.body.state as Ev[]).find((e) => e.type === 'm.room.topic')?.content.topic).toBe('original topic');
  });

  it('carries hashes and the server\'s signature, which verifies with the key from GET /_matrix/key/v2/server', async () => {
    const roomId = await createRoom(s, alice, {});
    const res = await s.http.post(serverEventsPath(roomId)).set(bearer(root)).send({ type: 'm.room.message', content: { msgtype: 'm.notice', body: 'signed' } });
    expect(res.status).toBe(200);
    const rec = (await s.services.storage.rooms.getEvent(res.body.event_id))!;
    const { event_id: eventId, ...pdu } = rec.event;
    expect(eventId).toBe(res.body.event_id);
    expect(Object.keys(pdu.signatures)).toEqual([SERVER]);
    const sigs = pdu.signatures[SERVER]!;
    const keyIds = Object.keys(sigs);
    expect(keyIds).toHaveLength(1);
    expect(keyIds[0]).toMatch(/^ed25519:/);

    const keys = await s.http.get('/_matrix/key/v2/server');
    expect(keys.status).toBe(200);
    expect(keys.body.server_name).toBe(SERVER);
    const keyId = keyIds[0]!;
    const publicKey = keys.body.verify_keys[keyId]?.key as string;
    expect(typeof publicKey).toBe('string');

    const room = (await s.services.storage.rooms.getRoom(roomId))!;
    const version = roomVersion(room.roomVersion)!;
    expect(verifyContentHash(pdu)).toBe(true);
    expect(computeEventId(pdu, version)).toBe(eventId);
    expect(verifyEventSignature(pdu, SERVER, keyId, publicKey, version)).toBe(true);
    // The check can fail: a forged copy (other sender) does not verify.
    expect(verifyEventSignature({ ...pdu, sender: '@alice:test.local' }, SERVER, keyId, publicKey, version)).toBe(false);
    expect(verifyEventSignature(pdu, 'other.example', keyId, publicKey, version)).toBe(false);
  });

  it('the notices room is the system user\'s (its graph events), the notice the server name\'s; all signed by the server', async () => {
    const u = await s.register('nora');
    const r = await s.http.post('/_synapse/admin/v1/send_server_notice').set(bearer(root)).send({ user_id: u.userId, content: { msgtype: 'm.text', body: 'hi' } });
    expect(r.status).toBe(200);
    const keys = await s.http.get('/_matrix/key/v2/server');
    const [keyId, { key }] = Object.entries(keys.body.verify_keys as Record<string, { key: string }>)[0]!;
    const noticeRoom = (await s.services.storage.admin.getNoticeRoom(u.userId))!;
    const version = roomVersion((await s.services.storage.rooms.getRoom(noticeRoom))!.roomVersion)!;
    const state = await s.services.storage.rooms.getCurrentState(noticeRoom);
    for (const ev of [...state, (await s.services.storage.rooms.getEvent(r.body.event_id))!.event]) {
      const sender = ev.event_id === r.body.event_id ? SERVER : `@system:${SERVER}`;
      // pduOf: the event as signed (a version-12 create event has no room_id on the wire).
      expect([ev.type, ev.sender, verifyEventSignature(pduOf(ev), SERVER, keyId, key, version)]).toEqual([ev.type, sender, true]);
    }
  });

  it('PUT with a txnId is idempotent: the same event_id and no second event; scoped to the room', async () => {
    const roomId = await createRoom(s, alice, {});
    const other = await createRoom(s, alice, {});
    const body = { type: 'm.room.message', content: { msgtype: 'm.notice', body: 'only once' } };
    const first = await s.http.put(serverEventsPath(roomId, 'w1')).set(bearer(root)).send(body);
    expect(first.status).toBe(200);
    const max = await s.services.storage.rooms.maxStreamOrdering();
    const retry = await s.http.put(serverEventsPath(roomId, 'w1')).set(bearer(root)).send(body);
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual({ event_id: first.body.event_id });
    expect(await s.services.storage.rooms.maxStreamOrdering()).toBe(max);
    const msgs = await s.http.get(`${C}/rooms/${enc(roomId)}/messages`).query({ dir: 'b', limit: 100 }).set(bearer(alice));
    expect((msgs.body.chunk as Ev[]).filter((e) => e.content.body === 'only once')).toHaveLength(1);
    const elsewhere = await s.http.put(serverEventsPath(other, 'w1')).set(bearer(root)).send(body);
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.body.event_id).not.toBe(first.body.event_id);
    const rec = (await s.services.storage.rooms.getEvent(elsewhere.body.event_id))!;
    expect(rec.event.room_id).toBe(other);
  });

  it('refuses bad requests: unknown room 404, missing type 400 M_MISSING_PARAM, missing content or bad type 400 M_BAD_JSON', async () => {
    const roomId = await createRoom(s, alice, {});
    const max = await s.services.storage.rooms.maxStreamOrdering();
    const cases: [string, object, number, string][] = [
      ['!unknown:test.local', { type: 'm.room.message', content: { body: 'x' } }, 404, 'M_NOT_FOUND'],
      [roomId, { content: { body: 'x' } }, 400, 'M_MISSING_PARAM'],
      [roomId, { type: 'm.room.message' }, 400, 'M_BAD_JSON'],
      [roomId, { type: 'm.room.message', content: [1, 2] }, 400, 'M_BAD_JSON'],
      [roomId, { type: '', content: { body: 'x' } }, 400, 'M_BAD_JSON'],
      [roomId, { type: 'x'.repeat(256), content: { body: 'x' } }, 400, 'M_BAD_JSON'],
      [roomId, { type: 42, content: { body: 'x' } }, 400, 'M_BAD_JSON'],
    ];
    for (const [r, body, status, errcode] of cases) {
      const res = await s.http.post(serverEventsPath(r)).set(bearer(root)).send(body);
      expect([body, res.status, res.body.errcode]).toEqual([body, status, errcode]);
    }
    expect(await s.services.storage.rooms.maxStreamOrdering()).toBe(max);
  });
});

describe('forged senders are refused', () => {
  const s = makeTestServer();
  let alice: TestUser;
  let bob: TestUser;
  let roomId: string;
  afterAll(() => s.close());
  beforeAll(async () => {
    await makeAdmin(s, 'root');
    alice = await s.register('alice');
    bob = await s.register('bob');
    roomId = await createRoom(s, alice, { preset: 'public_chat' });
    expect((await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(bob)).send({})).status).toBe(200);
  });

  it('a `sender` in a /send body is content: the event\'s sender is the token\'s user', async () => {
    for (const forged of [SERVER, bob.userId, '@root:test.local']) {
      const id = await send(s, alice, roomId, { msgtype: 'm.text', body: 'who am I', sender: forged });
      const stored = (await s.services.storage.rooms.getEvent(id))!.event;
      expect(stored.sender).toBe(alice.userId);
      const seen = await s.http.get(`${C}/rooms/${enc(roomId)}/event/${enc(id)}`).set(bearer(bob));
      expect(seen.body.sender).toBe(alice.userId);
      expect(seen.body.content.sender).toBe(forged);
    }
  });

  it('a `sender` in a /state body is content: the state event\'s sender is the token\'s user', async () => {
    const res = await s.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.topic/`).set(bearer(alice)).send({ topic: 'forged?', sender: SERVER });
    expect(res.status).toBe(200);
    const stored = (await s.services.storage.rooms.getEvent(res.body.event_id))!.event;
    expect(stored.sender).toBe(alice.userId);
    const custom = await s.http.put(`${C}/rooms/${enc(roomId)}/state/org.example.thing/k`).set(bearer(alice)).send({ sender: SERVER, x: 1 });
    expect(custom.status).toBe(200);
    expect((await s.services.storage.rooms.getEvent(custom.body.event_id))!.event.sender).toBe(alice.userId);
    // A member event about oneself with a forged sender is still one's own.
    const me = await s.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.member/${enc(bob.userId)}`).set(bearer(bob)).send({ membership: 'join', displayname: 'Bob', sender: SERVER });
    expect(me.status).toBe(200);
    expect((await s.services.storage.rooms.getEvent(me.body.event_id))!.event.sender).toBe(bob.userId);
    // No event in the room has the server as sender.
    const msgs = await s.http.get(`${C}/rooms/${enc(roomId)}/messages`).query({ dir: 'b', limit: 100 }).set(bearer(alice));
    expect((msgs.body.chunk as Ev[]).filter((e) => e.sender === SERVER)).toEqual([]);
  });

  it('a non-admin calling any admin path that creates server events gets 403 M_FORBIDDEN and nothing is stored', async () => {
    const calls: { method: 'post' | 'put' | 'delete'; path: string; body: object }[] = [
      { method: 'post', path: serverEventsPath(roomId), body: { type: 'm.room.message', content: { body: 'forged' } } },
      { method: 'put', path: serverEventsPath(roomId, 'f1'), body: { type: 'm.room.message', content: { body: 'forged' } } },
      { method: 'post', path: '/_synapse/admin/v1/send_server_notice', body: { user_id: bob.userId, content: { body: 'forged' } } },
      { method: 'put', path: '/_synapse/admin/v1/send_server_notice/f2', body: { user_id: bob.userId, content: { body: 'forged' } } },
      { method: 'post', path: '/_hearth/admin/v1/server_notices/broadcast', body: { content: { body: 'forged' } } },
      { method: 'put', path: '/_hearth/admin/v1/server_notices/broadcast/f3', body: { content: { body: 'forged' } } },
      { method: 'delete', path: `/_synapse/admin/v2/rooms/${enc(roomId)}`, body: { message: 'forged shutdown' } },
    ];
    const max = await s.services.storage.rooms.maxStreamOrdering();
    for (const u of [alice, bob]) {
      for (const c of calls) {
        const res = await s.http[c.method](c.path).set(bearer(u)).send(c.body);
        expect([c.method, c.path, res.status, res.body.errcode]).toEqual([c.method, c.path, 403, 'M_FORBIDDEN']);
        const anon = await s.http[c.method](c.path).send(c.body);
        expect([c.method, c.path, anon.status, anon.body.errcode]).toEqual([c.method, c.path, 401, 'M_MISSING_TOKEN']);
      }
    }
    expect(await s.services.storage.rooms.maxStreamOrdering()).toBe(max);
    for (const u of [alice, bob]) expect(await s.services.storage.admin.getNoticeRoom(u.userId)).toBeUndefined();
    expect(await s.services.storage.admin.isRoomBlocked(roomId)).toBe(false);
    const members = (await s.services.storage.rooms.getRoomMembers(roomId, ['join'])).map((m) => m.userId).sort();
    expect(members).toEqual([alice.userId, bob.userId].sort());
  });
});
