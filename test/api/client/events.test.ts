// Sending events over HTTP (matrix-spec: room_send.yaml#sendMessage, room_state.yaml#setRoomStateWithKey,
// redaction.yaml#redactEvent; rooms/v10 and v11 for the PDU format, auth rules and redaction algorithm;
// client-server-api "Transaction identifiers" and "Size limits").
import { computeContentHash, computeEventId, verifyEventSignature } from '../../../src/core/crypto/event-hashing.js';
import type { StoredEvent } from '../../../src/core/events/types.js';
import { ROOM_VERSIONS } from '../../../src/core/room-versions.js';
import { bearer, makeTestServer, type TestUser, expectError } from '../../helpers/server.js';

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
const EVENT_ID_RE = /^\$[A-Za-z0-9_-]{43}$/;

describe('sending events', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  beforeAll(async () => {
    alice = await s.register('alice');
    bob = await s.register('bob');
    carol = await s.register('carol');
  });

  let txnCounter = 0;
  const send = (u: { accessToken: string }, roomId: string, content: unknown, type = 'm.room.message', txnId = `t${++txnCounter}`) =>
    s.http.put(`${C}/rooms/${enc(roomId)}/send/${enc(type)}/${enc(txnId)}`).set(bearer(u)).send(content as object);
  const putState = (u: TestUser, roomId: string, type: string, stateKey: string | undefined, content: unknown) =>
    s.http.put(`${C}/rooms/${enc(roomId)}/state/${enc(type)}${stateKey === undefined ? '' : `/${enc(stateKey)}`}`).set(bearer(u)).send(content as object);
  const redact = (u: TestUser, roomId: string, eventId: string, body: object = {}, txnId = `r${++txnCounter}`) =>
    s.http.put(`${C}/rooms/${enc(roomId)}/redact/${enc(eventId)}/${enc(txnId)}`).set(bearer(u)).send(body);

  // Power-level rules with the creator listed at 100 (room version 11; 12 has no such entry).
  async function createRoom(u: TestUser, body: object = {}): Promise<string> {
    const res = await s.http.post(`${C}/createRoom`).set(bearer(u)).send({ room_version: '11', ...body });
    expect(res.status).toBe(200);
    return res.body.room_id as string;
  }
  /** A public room with alice (100) and bob (0) joined. */
  async function sharedRoom(body: object = {}): Promise<string> {
    const roomId = await createRoom(alice, { preset: 'public_chat', ...body });
    const j = await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(bob)).send({});
    expect(j.status).toBe(200);
    return roomId;
  }
  async function events(roomId: string): Promise<StoredEvent[]> {
    return (await s.services.storage.rooms.getRoomEvents({ roomId, from: 0, dir: 'f', limit: 10000 })).map((r) => r.event);
  }
  async function stored(eventId: string): Promise<StoredEvent> {
    const rec = await s.services.storage.rooms.getEvent(eventId);
    expect(rec).toBeDefined();
    return rec!.event;
  }
  async function stateOf(roomId: string, type: string, stateKey = ''): Promise<StoredEvent | undefined> {
    return (await s.services.storage.rooms.getCurrentState(roomId)).find((e) => e.type === type && e.state_key === stateKey);
  }
  async function login(u: TestUser, deviceId: string): Promise<{ accessToken: string; deviceId: string }> {
    const res = await s.http.post(`${C}/login`).send({ type: 'm.login.password', identifier: { type: 'm.id.user', user: u.userId }, password: u.password, device_id: deviceId });
    expect(res.status).toBe(200);
    return { accessToken: res.body.access_token, deviceId: res.body.device_id };
  }

  describe('PUT /rooms/:roomId/send/:eventType/:txnId', () => {
    it('answers an event ID of $ + 43 URL-safe base64 characters (rooms v4+ reference hash)', async () => {
      const roomId = await sharedRoom();
      const res = await send(alice, roomId, { msgtype: 'm.text', body: 'hello' });
      expect(res.status).toBe(200);
      expect(Object.keys(res.body)).toEqual(['event_id']);
      expect(res.body.event_id).toMatch(EVENT_ID_RE);
      const ev = await stored(res.body.event_id);
      expect(ev.event_id).toBe(res.body.event_id);
      expect(ev.content).toEqual({ msgtype: 'm.text', body: 'hello' });
    });

    it('stores a real PDU: fields, prev_events, auth_events, depth, hashes and a verifiable signature', async () => {
      const roomId = await sharedRoom();
      const before = await events(roomId);
      const last = before[before.length - 1]!;
      s.clock.advance(1234);
      const res = await send(alice, roomId, { msgtype: 'm.text', body: 'a real PDU' });
      expect(res.status).toBe(200);
      const ev = await stored(res.body.event_id);

      expect(Object.keys(ev).sort()).toEqual(
        ['auth_events', 'content', 'depth', 'event_id', 'hashes', 'origin_server_ts', 'prev_events', 'room_id', 'sender', 'signatures', 'type'].sort(),
      );
      expect(ev.room_id).toBe(roomId);
      expect(ev.sender).toBe(alice.userId);
      expect(ev.type).toBe('m.room.message');
      expect(ev).not.toHaveProperty('state_key');
      expect(ev.origin_server_ts).toBe(s.clock.now());
      expect(ev.prev_events).toEqual([last.event_id]);
      expect(ev.depth).toBe(last.depth + 1);

      // auth_events: the create event, the current power levels and the sender's membership.
      const create = await stateOf(roomId, 'm.room.create');
      const pl = await stateOf(roomId, 'm.room.power_levels');
      const member = await stateOf(roomId, 'm.room.member', alice.userId);
      expect([...ev.auth_events].sort()).toEqual([create!.event_id, pl!.event_id, member!.event_id].sort());

      // hashes.sha256 is the content hash of the PDU (which has no event_id in rooms v4+); the event
      // ID is the reference hash.
      const { event_id: _id, ...pdu } = ev;
      expect(ev.hashes.sha256).toMatch(/^[A-Za-z0-9+/]{43}$/);
      expect(ev.hashes.sha256).toBe(computeContentHash(pdu));
      expect(computeEventId(ev, ROOM_VERSIONS['11'])).toBe(ev.event_id);

      // Signed by test.local with its published ed25519 key.
      const sigs = ev.signatures['test.local']!;
      const keyIds = Object.keys(sigs);
      expect(keyIds).toHaveLength(1);
      expect(keyIds[0]).toMatch(/^ed25519:[A-Za-z0-9_]+$/);
      const keys = await s.http.get('/_matrix/key/v2/server');
      expect(keys.status).toBe(200);
      const publicKey = keys.body.verify_keys[keyIds[0]!].key as string;
      expect(verifyEventSignature(pdu, 'test.local', keyIds[0]!, publicKey, ROOM_VERSIONS['11'])).toBe(true);
      expect(verifyEventSignature({ ...pdu, sender: bob.userId }, 'test.local', keyIds[0]!, publicKey, ROOM_VERSIONS['11'])).toBe(false);
      expect(computeContentHash({ ...pdu, content: { body: 'changed' } })).not.toBe(ev.hashes.sha256);
    });

    it('depth increases by one per event and each event points at the previous one', async () => {
      const roomId = await sharedRoom();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await send(i % 2 ? bob : alice, roomId, { body: `m${i}` });
        expect(res.status).toBe(200);
        ids.push(res.body.event_id);
      }
      const evs = await Promise.all(ids.map(stored));
      for (let i = 1; i < evs.length; i++) {
        expect(evs[i]!.prev_events).toEqual([ids[i - 1]]);
        expect(evs[i]!.depth).toBe(evs[i - 1]!.depth + 1);
      }
      // bob's messages are authorised by bob's own membership.
      const bobMember = await stateOf(roomId, 'm.room.member', bob.userId);
      expect(evs[1]!.auth_events).toContain(bobMember!.event_id);
      expect(evs[1]!.auth_events).not.toContain((await stateOf(roomId, 'm.room.member', alice.userId))!.event_id);
    });

    it('a sender field in the body does not change the sender', async () => {
      const roomId = await sharedRoom();
      const res = await send(bob, roomId, { msgtype: 'm.text', body: 'hi', sender: alice.userId });
      expect(res.status).toBe(200);
      const ev = await stored(res.body.event_id);
      expect(ev.sender).toBe(bob.userId);
      expect((await stateOf(roomId, 'm.room.member', bob.userId))!.event_id).toBeDefined();
    });

    describe('transaction IDs', () => {
      it('the same txnId from the same device returns the same event ID and stores nothing new', async () => {
        const roomId = await sharedRoom();
        const first = await send(alice, roomId, { body: 'once' }, 'm.room.message', 'same-txn');
        expect(first.status).toBe(200);
        const n = (await events(roomId)).length;
        const retry = await send(alice, roomId, { body: 'once' }, 'm.room.message', 'same-txn');
        expect(retry.status).toBe(200);
        expect(retry.body.event_id).toBe(first.body.event_id);
        // Even with a different body, a retry is a retry.
        const retry2 = await send(alice, roomId, { body: 'changed' }, 'm.room.message', 'same-txn');
        expect(retry2.body.event_id).toBe(first.body.event_id);
        expect((await events(roomId)).length).toBe(n);
        expect((await stored(first.body.event_id)).content).toEqual({ body: 'once' });
      });

      it('concurrent retries of one txnId store one event', async () => {
        const roomId = await sharedRoom();
        const n = (await events(roomId)).length;
        const results = await Promise.all([0, 1, 2, 3, 4].map(() => send(alice, roomId, { body: 'x' }, 'm.room.message', 'racing-txn')));
        expect(results.every((r) => r.status === 200)).toBe(true);
        expect(new Set(results.map((r) => r.body.event_id)).size).toBe(1);
        expect((await events(roomId)).length).toBe(n + 1);
      });

      it('the same txnId from another device of the same user is a different event', async () => {
        const roomId = await sharedRoom();
        const other = await login(alice, 'SECONDDEVICE');
        expect(other.deviceId).not.toBe(alice.deviceId);
        const a = await send(alice, roomId, { body: 'from device 1' }, 'm.room.message', 'dev-txn');
        const b = await send(other, roomId, { body: 'from device 2' }, 'm.room.message', 'dev-txn');
        expect(a.status).toBe(200);
        expect(b.status).toBe(200);
        expect(b.body.event_id).not.toBe(a.body.event_id);
        expect((await stored(b.body.event_id)).content).toEqual({ body: 'from device 2' });
        expect((await stored(b.body.event_id)).sender).toBe(alice.userId);
      });

      it('the same txnId from another user is a different event', async () => {
        const roomId = await sharedRoom();
        const a = await send(alice, roomId, { body: 'a' }, 'm.room.message', 'user-txn');
        const b = await send(bob, roomId, { body: 'b' }, 'm.room.message', 'user-txn');
        expect(b.status).toBe(200);
        expect(b.body.event_id).not.toBe(a.body.event_id);
      });

      it('the same txnId on another path (another room or event type) is a different request', async () => {
        // client-server-api "Transaction identifiers": a transaction ID is scoped to the device and the path.
        const room1 = await sharedRoom();
        const room2 = await sharedRoom();
        const first = await send(alice, room1, { body: 'room 1' }, 'm.room.message', 'cross-room');
        expect(first.status).toBe(200);
        const n = (await events(room2)).length;
        const second = await send(alice, room2, { body: 'room 2' }, 'm.room.message', 'cross-room');
        expect(second.status).toBe(200);
        expect(second.body.event_id).not.toBe(first.body.event_id);
        expect((await events(room2)).length).toBe(n + 1);
        const third = await send(alice, room1, { body: 'other type' }, 'org.example.custom', 'cross-room');
        expect(third.status).toBe(200);
        expect(third.body.event_id).not.toBe(first.body.event_id);
        const retry = await send(alice, room2, { body: 'room 2' }, 'm.room.message', 'cross-room');
        expect(retry.body.event_id).toBe(second.body.event_id);
      });

      it('refuses a txnId over 255 bytes: 400 M_INVALID_PARAM', async () => {
        const roomId = await sharedRoom();
        expectError(await send(alice, roomId, { body: 'x' }, 'm.room.message', 't'.repeat(256)), 400, 'M_INVALID_PARAM');
      });
    });

    it('concurrent sends produce one linear chain: every prev_events is exactly the previous event', async () => {
      const roomId = await sharedRoom();
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => send(i % 3 === 0 ? bob : alice, roomId, { body: `c${i}` })));
      expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
      const all = await events(roomId);
      for (let i = 1; i < all.length; i++) {
        expect(all[i]!.prev_events).toEqual([all[i - 1]!.event_id]);
        expect(all[i]!.depth).toBe(all[i - 1]!.depth + 1);
      }
      const sent = new Set(results.map((r) => r.body.event_id as string));
      expect(sent.size).toBe(20);
      expect(all.filter((e) => sent.has(e.event_id))).toHaveLength(20);
      // No fork: a single forward extremity, the last event.
      expect(await s.services.storage.rooms.getExtremities(roomId)).toEqual([all[all.length - 1]!.event_id]);
    });

    it('concurrent sends straight into the service (no HTTP between them) also form one chain', async () => {
      const roomId = await sharedRoom();
      const auth = await s.services.tokens.authenticate(alice.accessToken);
      const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => s.services.rooms.sendMessage(auth, roomId, 'm.room.message', `svc-${i}`, { body: `s${i}` })));
      expect(new Set(ids).size).toBe(20);
      const all = await events(roomId);
      for (let i = 1; i < all.length; i++) {
        expect(all[i]!.prev_events).toEqual([all[i - 1]!.event_id]);
        expect(all[i]!.depth).toBe(all[i - 1]!.depth + 1);
      }
      expect(await s.services.storage.rooms.getExtremities(roomId)).toEqual([all[all.length - 1]!.event_id]);
      // Concurrent retries of one transaction store one event.
      const n = all.length;
      const retries = await Promise.all(Array.from({ length: 5 }, () => s.services.rooms.sendMessage(auth, roomId, 'm.room.message', 'svc-retry', { body: 'once' })));
      expect(new Set(retries).size).toBe(1);
      expect((await events(roomId)).length).toBe(n + 1);
    });

    it('concurrent sends and state changes together still form one chain', async () => {
      const roomId = await sharedRoom();
      await Promise.all([
        ...Array.from({ length: 10 }, (_, i) => send(alice, roomId, { body: `m${i}` })),
        ...Array.from({ length: 5 }, (_, i) => putState(alice, roomId, 'org.example.counter', `k${i}`, { i })),
      ]);
      const all = await events(roomId);
      for (let i = 1; i < all.length; i++) expect(all[i]!.prev_events).toEqual([all[i - 1]!.event_id]);
      expect(await s.services.storage.rooms.getExtremities(roomId)).toHaveLength(1);
    });

    it('refuses a non-member: 403 M_FORBIDDEN, nothing stored', async () => {
      const roomId = await createRoom(alice, { preset: 'public_chat' });
      const n = (await events(roomId)).length;
      expectError(await send(carol, roomId, { body: 'intruder' }), 403, 'M_FORBIDDEN');
      expect((await events(roomId)).length).toBe(n);
    });

    it('refuses an invited (not joined) user: 403 M_FORBIDDEN', async () => {
      const roomId = await createRoom(alice, { invite: [carol.userId] });
      expectError(await send(carol, roomId, { body: 'too early' }), 403, 'M_FORBIDDEN');
    });

    it('refuses an unknown room: 404 M_NOT_FOUND', async () => {
      expectError(await send(alice, '!nowhere:test.local', { body: 'x' }), 404, 'M_NOT_FOUND');
    });

    it('refuses a sender below the event type\'s level: 403 M_FORBIDDEN', async () => {
      const roomId = await sharedRoom({ power_level_content_override: { events_default: 10, events: { 'org.example.vip': 50 } } });
      expectError(await send(bob, roomId, { body: 'x' }), 403, 'M_FORBIDDEN');
      expectError(await send(bob, roomId, {}, 'org.example.vip'), 403, 'M_FORBIDDEN');
      expect((await send(alice, roomId, {}, 'org.example.vip')).status).toBe(200);
    });

    it('refuses an event over 65536 bytes: 413 M_TOO_LARGE, nothing stored', async () => {
      const roomId = await sharedRoom();
      const n = (await events(roomId)).length;
      expectError(await send(alice, roomId, { body: 'x'.repeat(65536) }), 413, 'M_TOO_LARGE');
      expect((await events(roomId)).length).toBe(n);
      // Just under the limit is fine.
      expect((await send(alice, roomId, { body: 'x'.repeat(60000) })).status).toBe(200);
    });

    it('refuses an event type over 255 bytes: 400 M_BAD_JSON; 255 bytes is fine', async () => {
      const roomId = await sharedRoom();
      expectError(await send(alice, roomId, {}, 'a'.repeat(256)), 400, 'M_BAD_JSON');
      expectError(await send(alice, roomId, {}, 'é'.repeat(128)), 400, 'M_BAD_JSON'); // 256 bytes in UTF-8
      expect((await send(alice, roomId, {}, 'a'.repeat(255))).status).toBe(200);
    });

    it('refuses content that is not canonical JSON (a float): 400 M_BAD_JSON', async () => {
      const roomId = await sharedRoom();
      expectError(await send(alice, roomId, { body: 'x', n: 1.5 }), 400, 'M_BAD_JSON');
    });

    it('refuses a body that is not a JSON object: 400 M_BAD_JSON / M_NOT_JSON', async () => {
      const roomId = await sharedRoom();
      expectError(await send(alice, roomId, [1, 2]), 400, 'M_BAD_JSON');
      const res = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/notjson`).set(bearer(alice)).set('Content-Type', 'application/json').send('{"body":');
      expectError(res, 400, 'M_NOT_JSON');
    });

    it('requires an access token: 401 M_MISSING_TOKEN', async () => {
      const roomId = await sharedRoom();
      const res = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/anon`).send({ body: 'x' });
      expectError(res, 401, 'M_MISSING_TOKEN');
    });
  });

  describe('PUT /rooms/:roomId/state/:eventType/:stateKey', () => {
    it('sets state with an empty state key (no key in the path, or a trailing slash)', async () => {
      const roomId = await sharedRoom();
      const a = await putState(alice, roomId, 'm.room.topic', undefined, { topic: 'first' });
      expect(a.status).toBe(200);
      expect(a.body.event_id).toMatch(EVENT_ID_RE);
      const ev = await stored(a.body.event_id);
      expect(ev.state_key).toBe('');
      expect(ev.type).toBe('m.room.topic');
      expect((await stateOf(roomId, 'm.room.topic'))!.event_id).toBe(a.body.event_id);
      const b = await s.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.topic/`).set(bearer(alice)).send({ topic: 'second' });
      expect(b.status).toBe(200);
      expect((await stored(b.body.event_id)).state_key).toBe('');
      expect((await stateOf(roomId, 'm.room.topic'))!.content).toEqual({ topic: 'second' });
    });

    it('sets state with a state key; the new event replaces the old one in the room state', async () => {
      const roomId = await sharedRoom();
      const a = await putState(alice, roomId, 'org.example.setting', 'colour', { value: 'red' });
      expect(a.status).toBe(200);
      expect((await stored(a.body.event_id)).state_key).toBe('colour');
      const b = await putState(alice, roomId, 'org.example.setting', 'colour', { value: 'blue' });
      expect(b.body.event_id).not.toBe(a.body.event_id);
      const cur = await stateOf(roomId, 'org.example.setting', 'colour');
      expect(cur!.event_id).toBe(b.body.event_id);
      expect(cur!.content).toEqual({ value: 'blue' });
      // The auth events of state carry the same three events as messages.
      expect((await stored(b.body.event_id)).prev_events).toEqual([a.body.event_id]);
    });

    it('setting identical state twice returns the same event ID and stores nothing new', async () => {
      const roomId = await sharedRoom();
      const a = await putState(alice, roomId, 'm.room.name', '', { name: 'Same', extra: { a: 1, b: 2 } });
      expect(a.status).toBe(200);
      const n = (await events(roomId)).length;
      const b = await putState(alice, roomId, 'm.room.name', '', { extra: { b: 2, a: 1 }, name: 'Same' });
      expect(b.status).toBe(200);
      expect(b.body.event_id).toBe(a.body.event_id);
      expect((await events(roomId)).length).toBe(n);
    });

    it('setting state identical to a redacted state event sends a new event', async () => {
      const roomId = await sharedRoom();
      const a = await putState(alice, roomId, 'm.room.topic', '', { topic: 'secret' });
      expect((await redact(alice, roomId, a.body.event_id)).status).toBe(200);
      const b = await putState(alice, roomId, 'm.room.topic', '', { topic: 'secret' });
      expect(b.status).toBe(200);
      expect(b.body.event_id).not.toBe(a.body.event_id);
      expect((await stateOf(roomId, 'm.room.topic'))!.event_id).toBe(b.body.event_id);
    });

    it('refuses a sender below state_default: 403 M_FORBIDDEN, nothing stored', async () => {
      const roomId = await sharedRoom();
      const n = (await events(roomId)).length;
      expectError(await putState(bob, roomId, 'org.example.custom', '', { x: 1 }), 403, 'M_FORBIDDEN');
      expectError(await putState(bob, roomId, 'm.room.name', '', { name: 'bob was here' }), 403, 'M_FORBIDDEN');
      expect((await events(roomId)).length).toBe(n);
      // Once state_default is lowered, bob may.
      const pl = (await stateOf(roomId, 'm.room.power_levels'))!.content;
      expect((await putState(alice, roomId, 'm.room.power_levels', '', { ...pl, state_default: 0 })).status).toBe(200);
      expect((await putState(bob, roomId, 'org.example.custom', '', { x: 1 })).status).toBe(200);
    });

    it('refuses a non-member: 403 M_FORBIDDEN', async () => {
      const roomId = await sharedRoom();
      expectError(await putState(carol, roomId, 'm.room.topic', '', { topic: 'x' }), 403, 'M_FORBIDDEN');
    });

    it('refuses an unknown room: 404 M_NOT_FOUND', async () => {
      expectError(await putState(alice, '!nowhere:test.local', 'm.room.topic', '', { topic: 'x' }), 404, 'M_NOT_FOUND');
    });

    it('refuses replacing m.room.create: 403 M_FORBIDDEN', async () => {
      const roomId = await sharedRoom();
      expectError(await putState(alice, roomId, 'm.room.create', '', { room_version: '11' }), 403, 'M_FORBIDDEN');
    });

    it('refuses a state_key starting with @ that is another user: 403 M_FORBIDDEN; one\'s own is fine', async () => {
      const roomId = await sharedRoom();
      expectError(await putState(alice, roomId, 'org.example.owned', bob.userId, { mine: true }), 403, 'M_FORBIDDEN');
      expect(await stateOf(roomId, 'org.example.owned', bob.userId)).toBeUndefined();
      expect((await putState(alice, roomId, 'org.example.owned', alice.userId, { mine: true })).status).toBe(200);
    });

    it('refuses a state_key or type over 255 bytes: 400 M_BAD_JSON', async () => {
      const roomId = await sharedRoom();
      expectError(await putState(alice, roomId, 'org.example', 'k'.repeat(256), {}), 400, 'M_BAD_JSON');
      expectError(await putState(alice, roomId, 'o'.repeat(256), '', {}), 400, 'M_BAD_JSON');
    });

    it('refuses a state event over 65536 bytes: 413 M_TOO_LARGE', async () => {
      const roomId = await sharedRoom();
      expectError(await putState(alice, roomId, 'm.room.topic', '', { topic: 't'.repeat(70000) }), 413, 'M_TOO_LARGE');
      expect(await stateOf(roomId, 'm.room.topic')).toBeUndefined();
    });

    describe('power levels', () => {
      let roomId: string;
      let pl: Record<string, unknown>;
      beforeEach(async () => {
        // bob is a moderator at 50 who may send m.room.power_levels (event level lowered to 50).
        roomId = await sharedRoom({
          power_level_content_override: {
            users: { [alice.userId]: 100, [bob.userId]: 50 },
            events: { 'm.room.power_levels': 50 },
          },
        });
        expect((await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(carol)).send({})).status).toBe(200);
        pl = (await stateOf(roomId, 'm.room.power_levels'))!.content;
      });
      const withUsers = (users: Record<string, number>) => ({ ...pl, users: { ...(pl.users as object), ...users } });

      it('a user may raise another up to their own level', async () => {
        const res = await putState(bob, roomId, 'm.room.power_levels', '', withUsers({ [carol.userId]: 50 }));
        expect(res.status).toBe(200);
        expect(((await stateOf(roomId, 'm.room.power_levels'))!.content.users as Record<string, number>)[carol.userId]).toBe(50);
      });

      it('refuses raising someone above yourself: 403 M_FORBIDDEN', async () => {
        expectError(await putState(bob, roomId, 'm.room.power_levels', '', withUsers({ [carol.userId]: 75 })), 403, 'M_FORBIDDEN');
        expect((await stateOf(roomId, 'm.room.power_levels'))!.content).toEqual(pl);
      });

      it('refuses raising yourself above your level: 403 M_FORBIDDEN', async () => {
        expectError(await putState(bob, roomId, 'm.room.power_levels', '', withUsers({ [bob.userId]: 100 })), 403, 'M_FORBIDDEN');
      });

      it('refuses lowering a user at or above your level: 403 M_FORBIDDEN', async () => {
        expectError(await putState(bob, roomId, 'm.room.power_levels', '', withUsers({ [alice.userId]: 0 })), 403, 'M_FORBIDDEN');
      });

      it('refuses setting a level (kick, events) above your own: 403 M_FORBIDDEN', async () => {
        expectError(await putState(bob, roomId, 'm.room.power_levels', '', { ...pl, kick: 75 }), 403, 'M_FORBIDDEN');
        expectError(await putState(bob, roomId, 'm.room.power_levels', '', { ...pl, events: { ...(pl.events as object), 'm.room.topic': 90 } }), 403, 'M_FORBIDDEN');
      });

      it('refuses changing power levels below the event\'s level: 403 M_FORBIDDEN', async () => {
        expectError(await putState(carol, roomId, 'm.room.power_levels', '', withUsers({ [carol.userId]: 0 })), 403, 'M_FORBIDDEN');
      });

      it('refuses malformed power levels (a string level): 403 M_FORBIDDEN', async () => {
        expectError(await putState(alice, roomId, 'm.room.power_levels', '', { ...pl, ban: '50' }), 403, 'M_FORBIDDEN');
      });
    });

    describe('m.room.canonical_alias', () => {
      it('accepts an alias of this room', async () => {
        const roomId = await sharedRoom();
        const put = await s.http.put(`${C}/directory/room/${enc('#canon-ok:test.local')}`).set(bearer(alice)).send({ room_id: roomId });
        expect(put.status).toBe(200);
        const res = await putState(alice, roomId, 'm.room.canonical_alias', '', { alias: '#canon-ok:test.local' });
        expect(res.status).toBe(200);
      });

      it('refuses an alias that points elsewhere: 400 M_BAD_ALIAS', async () => {
        const roomId = await sharedRoom();
        const other = await createRoom(alice, { room_alias_name: 'canon-other' });
        expect(other).toMatch(/^!/);
        expectError(await putState(alice, roomId, 'm.room.canonical_alias', '', { alias: '#canon-other:test.local' }), 400, 'M_BAD_ALIAS');
        expectError(await putState(alice, roomId, 'm.room.canonical_alias', '', { alt_aliases: ['#canon-missing:test.local'] }), 400, 'M_BAD_ALIAS');
      });

      it('refuses an alias with invalid syntax: 400 M_INVALID_PARAM', async () => {
        const roomId = await sharedRoom();
        expectError(await putState(alice, roomId, 'm.room.canonical_alias', '', { alias: 'no-sigil' }), 400, 'M_INVALID_PARAM');
      });

      it('does not re-validate aliases already in the event', async () => {
        const roomId = await createRoom(alice, { room_alias_name: 'canon-kept' });
        const del = await s.http.delete(`${C}/directory/room/${enc('#canon-kept:test.local')}`).set(bearer(alice));
        expect(del.status).toBe(200);
        const res = await putState(alice, roomId, 'm.room.canonical_alias', '', { alias: '#canon-kept:test.local', alt_aliases: [] });
        expect(res.status).toBe(200);
      });
    });
  });

  describe('PUT /rooms/:roomId/redact/:eventId/:txnId', () => {
    const ALLOWED_TOP_LEVEL_V11 = ['event_id', 'type', 'room_id', 'sender', 'state_key', 'content', 'hashes', 'signatures', 'depth', 'prev_events', 'auth_events', 'origin_server_ts'];

    it('the sender redacts their own message: content stripped per v11, only allowed keys kept', async () => {
      const roomId = await sharedRoom();
      const msg = await send(bob, roomId, { msgtype: 'm.text', body: 'oops', 'm.relates_to': { rel_type: 'm.thread', event_id: '$x' } });
      const original = await stored(msg.body.event_id);
      const res = await redact(bob, roomId, msg.body.event_id, { reason: 'typo' });
      expect(res.status).toBe(200);
      expect(res.body.event_id).toMatch(EVENT_ID_RE);

      const rec = await s.services.storage.rooms.getEvent(msg.body.event_id);
      expect(rec!.redactedBy).toBe(res.body.event_id);
      const redacted = rec!.event;
      expect(redacted.content).toEqual({});
      for (const key of Object.keys(redacted)) expect(ALLOWED_TOP_LEVEL_V11).toContain(key);
      // The integrity-critical parts survive unchanged, so the event ID and signature still hold.
      expect(redacted.hashes).toEqual(original.hashes);
      expect(redacted.signatures).toEqual(original.signatures);
      expect(redacted.prev_events).toEqual(original.prev_events);
      expect(computeEventId(redacted, ROOM_VERSIONS['11'])).toBe(msg.body.event_id);

      // The redaction event: v11 carries `redacts` in the content, with the reason.
      const redaction = await stored(res.body.event_id);
      expect(redaction.type).toBe('m.room.redaction');
      expect(redaction.sender).toBe(bob.userId);
      expect(redaction.content).toEqual({ redacts: msg.body.event_id, reason: 'typo' });
      expect(redaction).not.toHaveProperty('redacts');
    });

    it('redacting a replaced state event removes its content from later events: /event, /messages, /sync (issue 13.1)', async () => {
      const roomId = await createRoom(alice);
      const secret = await putState(alice, roomId, 'm.room.topic', '', { topic: 'SECRET' });
      expect(secret.status).toBe(200);
      const initial = await s.http.get(`${C}/sync`).set(bearer(alice));
      const pub = await putState(alice, roomId, 'm.room.topic', '', { topic: 'public' });
      expect(pub.status).toBe(200);
      // Before the redaction, the later event shows what it replaced.
      const before = await s.http.get(`${C}/rooms/${enc(roomId)}/event/${enc(pub.body.event_id)}`).set(bearer(alice));
      expect(before.body.unsigned.prev_content).toEqual({ topic: 'SECRET' });
      expect(before.body.unsigned.replaces_state).toBe(secret.body.event_id);
      expect((await redact(alice, roomId, secret.body.event_id)).status).toBe(200);

      const viaEvent = await s.http.get(`${C}/rooms/${enc(roomId)}/event/${enc(pub.body.event_id)}`).set(bearer(alice));
      expect(viaEvent.status).toBe(200);
      expect(viaEvent.body.unsigned.replaces_state).toBe(secret.body.event_id);
      expect(viaEvent.body.unsigned.prev_content).toEqual({});
      const messages = await s.http.get(`${C}/rooms/${enc(roomId)}/messages`).query({ dir: 'b', limit: 50 }).set(bearer(alice));
      const synced = await s.http.get(`${C}/sync`).query({ since: initial.body.next_batch }).set(bearer(alice));
      const fresh = await s.http.get(`${C}/sync`).set(bearer(alice));
      const context = await s.http.get(`${C}/rooms/${enc(roomId)}/context/${enc(pub.body.event_id)}`).set(bearer(alice));
      for (const body of [messages.body, synced.body, fresh.body, context.body]) expect(JSON.stringify(body)).not.toContain('SECRET');
      const inMessages = (messages.body.chunk as { event_id: string; unsigned: { prev_content?: unknown } }[]).find((e) => e.event_id === pub.body.event_id);
      expect(inMessages?.unsigned.prev_content).toEqual({});
      // Nothing stored carries the old content either.
      const raw = await s.services.storage.rooms.getEvent(pub.body.event_id);
      expect(JSON.stringify(raw)).not.toContain('SECRET');
    });

    it('redacting a member event keeps only membership (v11)', async () => {
      const roomId = await createRoom(alice, { preset: 'public_chat' });
      const join = await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(bob)).send({ reason: 'hello everyone' });
      expect(join.status).toBe(200);
      const member = await stateOf(roomId, 'm.room.member', bob.userId);
      expect(member!.content.reason).toBe('hello everyone');
      const res = await redact(alice, roomId, member!.event_id);
      expect(res.status).toBe(200);
      expect((await stored(member!.event_id)).content).toEqual({ membership: 'join' });
    });

    it('redacting power levels keeps the v11 power level keys only', async () => {
      const roomId = await createRoom(alice, { power_level_content_override: { 'org.example.extra': 1 } });
      const plEvent = await stateOf(roomId, 'm.room.power_levels');
      expect(plEvent!.content['org.example.extra']).toBe(1);
      expect((await redact(alice, roomId, plEvent!.event_id)).status).toBe(200);
      const content = (await stored(plEvent!.event_id)).content;
      expect(Object.keys(content).sort()).toEqual(['ban', 'events', 'events_default', 'invite', 'kick', 'redact', 'state_default', 'users', 'users_default']);
    });

    it('in a v10 room the redaction carries a top-level `redacts` and v10 rules apply', async () => {
      const roomId = await sharedRoom({ room_version: '10' });
      const msg = await send(bob, roomId, { body: 'v10 message' });
      const res = await redact(bob, roomId, msg.body.event_id, { reason: 'v10' });
      expect(res.status).toBe(200);
      const redaction = await stored(res.body.event_id);
      expect(redaction.redacts).toBe(msg.body.event_id);
      expect(redaction.content).toEqual({ reason: 'v10' });
      const redacted = await stored(msg.body.event_id);
      expect(redacted.content).toEqual({});
      expect(computeEventId(redacted, ROOM_VERSIONS['10'])).toBe(msg.body.event_id);
    });

    it('redacting someone else\'s event needs the redact level: 403 M_FORBIDDEN, nothing redacted', async () => {
      const roomId = await sharedRoom();
      const msg = await send(alice, roomId, { body: 'alice speaks' });
      const n = (await events(roomId)).length;
      expectError(await redact(bob, roomId, msg.body.event_id), 403, 'M_FORBIDDEN');
      expect((await events(roomId)).length).toBe(n);
      const rec = await s.services.storage.rooms.getEvent(msg.body.event_id);
      expect(rec!.redactedBy).toBeNull();
      expect(rec!.event.content).toEqual({ body: 'alice speaks' });
    });

    it('a user with the redact level redacts someone else\'s event', async () => {
      const roomId = await sharedRoom();
      const msg = await send(bob, roomId, { body: 'bob speaks' });
      const res = await redact(alice, roomId, msg.body.event_id, { reason: 'moderation' });
      expect(res.status).toBe(200);
      const rec = await s.services.storage.rooms.getEvent(msg.body.event_id);
      expect(rec!.redactedBy).toBe(res.body.event_id);
      expect(rec!.event.content).toEqual({});
    });

    it('an unknown event is 404 M_NOT_FOUND', async () => {
      const roomId = await sharedRoom();
      expectError(await redact(alice, roomId, '$unknownunknownunknownunknownunknownunknown00'), 404, 'M_NOT_FOUND');
    });

    it('an event of another room is 404 M_NOT_FOUND', async () => {
      const roomA = await sharedRoom();
      const roomB = await sharedRoom();
      const msg = await send(alice, roomA, { body: 'in A' });
      expectError(await redact(alice, roomB, msg.body.event_id), 404, 'M_NOT_FOUND');
      expect((await s.services.storage.rooms.getEvent(msg.body.event_id))!.redactedBy).toBeNull();
    });

    it('a non-member cannot redact: 403 M_FORBIDDEN', async () => {
      const roomId = await sharedRoom();
      const msg = await send(alice, roomId, { body: 'x' });
      expectError(await redact(carol, roomId, msg.body.event_id), 403, 'M_FORBIDDEN');
    });

    it('is idempotent per transaction ID', async () => {
      const roomId = await sharedRoom();
      const msg = await send(alice, roomId, { body: 'x' });
      const a = await redact(alice, roomId, msg.body.event_id, {}, 'redact-txn');
      const n = (await events(roomId)).length;
      const b = await redact(alice, roomId, msg.body.event_id, {}, 'redact-txn');
      expect(b.status).toBe(200);
      expect(b.body.event_id).toBe(a.body.event_id);
      expect((await events(roomId)).length).toBe(n);
    });

    it('m.room.redaction may also be sent through /send with `redacts` in the content (room_send.yaml v1.18)', async () => {
      const roomId = await sharedRoom();
      const msg = await send(bob, roomId, { body: 'via send' });
      const res = await send(bob, roomId, { redacts: msg.body.event_id, reason: 'via /send' }, 'm.room.redaction');
      expect(res.status).toBe(200);
      const redaction = await stored(res.body.event_id);
      expect(redaction.content).toEqual({ redacts: msg.body.event_id, reason: 'via /send' });
      expect((await s.services.storage.rooms.getEvent(msg.body.event_id))!.redactedBy).toBe(res.body.event_id);
      // ... in a v10 room, `redacts` moves to the top level.
      const v10 = await sharedRoom({ room_version: '10' });
      const m10 = await send(bob, v10, { body: 'v10 via send' });
      const r10 = await send(bob, v10, { redacts: m10.body.event_id }, 'm.room.redaction');
      expect(r10.status).toBe(200);
      const red10 = await stored(r10.body.event_id);
      expect(red10.redacts).toBe(m10.body.event_id);
      expect(red10.content).toEqual({});
      // ... with the same permission checks.
      const aliceMsg = await send(alice, roomId, { body: 'alice' });
      expectError(await send(bob, roomId, { redacts: aliceMsg.body.event_id }, 'm.room.redaction'), 403, 'M_FORBIDDEN');
    });

    it('m.room.redaction through /send without `redacts` is 400 M_BAD_JSON', async () => {
      const roomId = await sharedRoom();
      expectError(await send(alice, roomId, { reason: 'what?' }, 'm.room.redaction'), 400, 'M_BAD_JSON');
    });

    it('a redacted current state event is redacted in the cached room state too', async () => {
      // Setting the same topic again after it was redacted must be a new event: the current topic is
      // now empty. Identical-state detection and /publicRooms read the cached state.
      const roomId = await sharedRoom();
      const first = await putState(alice, roomId, 'm.room.topic', '', { topic: 'secret' });
      expect((await redact(alice, roomId, first.body.event_id)).status).toBe(200);
      const state = await s.services.roomState.get(roomId);
      expect(state!.state.get('m.room.topic\u0000')!.content).toEqual({});
    });
  });
});
