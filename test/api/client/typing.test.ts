// Typing scoped to sessions (spec/sessions.md "Typing"; matrix-spec: typing.yaml#setTyping): only for
// yourself in joined rooms, timeouts and their cap, every end (timeout, typing:false, sending, the
// session ending) pushed to the room's waiting syncs as m.typing {user_ids}, never to non-members.
import { makeTestServer, bearer, type TestServer, type TestUser } from '../../helpers/server.js';
import {
  SESSIONS, as, createRoom, enc, flush, initialSync, join, login, longPoll, sendText, startSession, typingIn,
} from '../../helpers/ephemeral.js';

const typingPath = (roomId: string, userId: string) => `/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(userId)}`;
const WHOAMI = '/_matrix/client/v3/account/whoami';
const typingEvent = (...userIds: string[]) => ({ type: 'm.typing', content: { user_ids: userIds } });

async function setTyping(s: TestServer, user: TestUser, roomId: string, body: Record<string, unknown>, session?: string): Promise<void> {
  const res = await s.http.put(typingPath(roomId, user.userId)).set(as(user, session)).send(body);
  if (res.status !== 200) throw new Error(`typing failed: ${res.status} ${JSON.stringify(res.body)}`);
  expect(res.body).toEqual({});
}

/** alice and bob in a room; carol in a room of her own. */
async function setup(s: TestServer, prefix: string) {
  const alice = await s.register(`${prefix}alice`);
  const bob = await s.register(`${prefix}bob`);
  const carol = await s.register(`${prefix}carol`);
  const room = await createRoom(s, bob);
  await join(s, alice, room);
  const carolsRoom = await createRoom(s, carol);
  return { alice, bob, carol, room, carolsRoom };
}

describe('PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId}: who may', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('refuses to set another user\'s typing state with 403 M_FORBIDDEN', async () => {
    const { alice, bob, room } = await setup(s, 'w');
    const res = await s.http.put(typingPath(room, bob.userId)).set(bearer(alice)).send({ typing: true, timeout: 10_000 });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    await flush();
    expect(s.services.typing.typingUsers(room)).toEqual([]);
  });

  it('refuses rooms the user is not joined to with 403 M_FORBIDDEN: another\'s room, a left room, an unknown room', async () => {
    const { alice, carolsRoom, room } = await setup(s, 'x');
    const notMine = await s.http.put(typingPath(carolsRoom, alice.userId)).set(bearer(alice)).send({ typing: true });
    expect(notMine.status).toBe(403);
    expect(notMine.body.errcode).toBe('M_FORBIDDEN');
    const unknown = await s.http.put(typingPath('!unknown:test.local', alice.userId)).set(bearer(alice)).send({ typing: true });
    expect(unknown.status).toBe(403);
    expect(unknown.body.errcode).toBe('M_FORBIDDEN');
    await s.http.post(`/_matrix/client/v3/rooms/${enc(room)}/leave`).set(bearer(alice)).send({}).expect(200);
    const left = await s.http.put(typingPath(room, alice.userId)).set(bearer(alice)).send({ typing: true });
    expect(left.status).toBe(403);
    expect(left.body.errcode).toBe('M_FORBIDDEN');
    await flush();
    expect(s.services.typing.typingUsers(carolsRoom)).toEqual([]);
    expect(s.services.typing.typingUsers(room)).toEqual([]);
  });

  it('refuses a body without a boolean typing with 400 M_BAD_JSON', async () => {
    const { alice, room } = await setup(s, 'y');
    const res = await s.http.put(typingPath(room, alice.userId)).set(bearer(alice)).send({ timeout: 1000 });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
  });

  it('a request naming a bad session sets no typing and wakes nobody', async () => {
    const { alice, bob, room } = await setup(s, 'z');
    const since = await initialSync(s, bob);
    const poll = await longPoll(s, bob, since, { timeout: 5000 });
    const res = await s.http.put(typingPath(room, alice.userId)).set(as(alice, 'not-a-session')).send({ typing: true });
    expect(res.status).toBe(410);
    expect(res.body.errcode).toBe('HEARTH_SESSION_EXPIRED');
    await flush();
    expect(s.services.typing.typingUsers(room)).toEqual([]);
    expect(s.services.notifier.waiting).toBe(1);
    s.clock.advance(5000);
    expect(typingIn((await poll.result).body, room)).toEqual([]);
  });
});

describe('typing notifications and their end', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('reaches a waiting member as m.typing {user_ids} (no room_id) and ends at the default 30 s timeout, pushed', async () => {
    const { alice, bob, room } = await setup(s, 'a');
    const since = await initialSync(s, bob);
    const poll = await longPoll(s, bob, since);
    await setTyping(s, alice, room, { typing: true });
    const res = await poll.result;
    expect(res.status).toBe(200);
    expect(typingIn(res.body, room)).toEqual([typingEvent(alice.userId)]);
    expect(res.body.rooms.join[room].ephemeral.events.find((e: { type: string }) => e.type === 'm.typing')).not.toHaveProperty('room_id');
    // The expiry comes from the server's deadline, into the sync that is already waiting.
    const poll2 = await longPoll(s, bob, res.body.next_batch);
    s.clock.advance(29_999);
    await flush();
    expect(s.services.typing.typingUsers(room)).toEqual([alice.userId]);
    expect(s.services.notifier.waiting).toBe(1);
    s.clock.advance(1);
    const res2 = await poll2.result;
    expect(res2.status).toBe(200);
    expect(typingIn(res2.body, room)).toEqual([typingEvent()]);
  });

  it('lasts for the timeout asked for, renewed by a new PUT', async () => {
    const { alice, room } = await setup(s, 'b');
    await setTyping(s, alice, room, { typing: true, timeout: 10_000 });
    s.clock.advance(8000);
    await setTyping(s, alice, room, { typing: true, timeout: 10_000 });
    s.clock.advance(9999);
    await flush();
    expect(s.services.typing.typingUsers(room)).toEqual([alice.userId]);
    s.clock.advance(1);
    await flush();
    expect(s.services.typing.typingUsers(room)).toEqual([]);
  });

  it('caps the timeout at typing.max_timeout_ms (120 s)', async () => {
    const { alice, room } = await setup(s, 'c');
    const a = await startSession(s, alice);
    await setTyping(s, alice, room, { typing: true, timeout: 10_000_000 }, a);
    // Keep the session alive meanwhile (its own idle timeout is 60 s).
    s.clock.advance(50_000);
    await s.http.get(WHOAMI).set(as(alice, a)).expect(200);
    s.clock.advance(50_000);
    await s.http.get(WHOAMI).set(as(alice, a)).expect(200);
    s.clock.advance(19_999);
    await flush();
    expect(s.services.typing.typingUsers(room)).toEqual([alice.userId]);
    s.clock.advance(1);
    await flush();
    expect(s.services.typing.typingUsers(room)).toEqual([]);
    expect(s.services.sessions.store.get(a)).toBeDefined();
  });

  it('ends on typing: false, pushed to the waiting member', async () => {
    const { alice, bob, room } = await setup(s, 'd');
    await setTyping(s, alice, room, { typing: true, timeout: 100_000 });
    const since = await initialSync(s, bob);
    const poll = await longPoll(s, bob, since);
    await setTyping(s, alice, room, { typing: false });
    const res = await poll.result;
    expect(typingIn(res.body, room)).toEqual([typingEvent()]);
  });

  it('ends when the user sends a message in that room, not in another', async () => {
    const { alice, bob, room } = await setup(s, 'e');
    const other = await createRoom(s, alice);
    await setTyping(s, alice, room, { typing: true, timeout: 100_000 });
    const since = await initialSync(s, bob);
    expect((await sendText(s, alice, other, 'elsewhere')).status).toBe(200);
    await flush();
    expect(s.services.typing.typingUsers(room)).toEqual([alice.userId]);
    const sent = await sendText(s, alice, room, 'done typing');
    expect(sent.status).toBe(200);
    await flush();
    expect(s.services.typing.typingUsers(room)).toEqual([]);
    const res = await s.http.get(`/_matrix/client/v3/sync?since=${enc(since)}&timeout=0`).set(bearer(bob));
    expect(res.body.rooms.join[room].timeline.events.map((e: { event_id: string }) => e.event_id)).toContain(sent.body.event_id);
    expect(typingIn(res.body, room)).toEqual([typingEvent()]);
  });

  it('ends when the user leaves the room', async () => {
    const { alice, bob, room } = await setup(s, 'f');
    await setTyping(s, alice, room, { typing: true, timeout: 100_000 });
    const since = await initialSync(s, bob);
    await s.http.post(`/_matrix/client/v3/rooms/${enc(room)}/leave`).set(bearer(alice)).send({}).expect(200);
    await flush();
    expect(s.services.typing.typingUsers(room)).toEqual([]);
    const res = await s.http.get(`/_matrix/client/v3/sync?since=${enc(since)}&timeout=0`).set(bearer(bob));
    expect(typingIn(res.body, room)).toEqual([typingEvent()]);
  });

  it('lists every typing member and drops only the one who stopped', async () => {
    const { alice, bob, room } = await setup(s, 'g');
    await setTyping(s, alice, room, { typing: true, timeout: 100_000 });
    await setTyping(s, bob, room, { typing: true, timeout: 100_000 });
    const full = await s.http.get('/_matrix/client/v3/sync?timeout=0').set(bearer(bob));
    const [ev] = typingIn(full.body, room) as { content: { user_ids: string[] } }[];
    expect(ev!.content.user_ids.sort()).toEqual([alice.userId, bob.userId].sort());
    await setTyping(s, bob, room, { typing: false });
    const res = await s.http.get(`/_matrix/client/v3/sync?since=${enc(full.body.next_batch)}&timeout=0`).set(bearer(alice));
    expect(typingIn(res.body, room)).toEqual([typingEvent(alice.userId)]);
  });
});

describe('typing ends with the session that set it', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('when that session is ended explicitly', async () => {
    const { alice, bob, room } = await setup(s, 'h');
    const a = await startSession(s, alice);
    const other = await startSession(s, alice);
    await setTyping(s, alice, room, { typing: true, timeout: 100_000 }, a);
    const since = await initialSync(s, bob);
    const poll = await longPoll(s, bob, since);
    // Ending an unrelated session of alice changes nothing...
    const third = await startSession(s, alice);
    await s.http.delete(`${SESSIONS}/${enc(third)}`).set(as(alice, other)).expect(200);
    await flush();
    expect(s.services.typing.typingUsers(room)).toEqual([alice.userId]);
    expect(s.services.notifier.waiting).toBe(1);
    // ...ending the one that set it ends the typing, pushed to bob.
    await s.http.delete(`${SESSIONS}/${enc(a)}`).set(as(alice, other)).expect(200);
    const res = await poll.result;
    expect(typingIn(res.body, room)).toEqual([typingEvent()]);
  });

  it('when that session expires, pushed to the waiting member', async () => {
    const { alice, bob, room } = await setup(s, 'i');
    const a = await startSession(s, alice);
    await setTyping(s, alice, room, { typing: true, timeout: 100_000 }, a);
    const since = await initialSync(s, bob);
    const poll = await longPoll(s, bob, since, { timeout: 200_000 });
    s.clock.advance(59_999);
    await flush();
    expect(s.services.typing.typingUsers(room)).toEqual([alice.userId]);
    s.clock.advance(1);
    const res = await poll.result;
    expect(typingIn(res.body, room)).toEqual([typingEvent()]);
    expect(s.services.sessions.store.get(a)).toBeUndefined();
  });

  it('when its device logs out', async () => {
    const { alice, bob, room } = await setup(s, 'j');
    const phone = await login(s, alice);
    const p = await startSession(s, phone);
    await setTyping(s, phone, room, { typing: true, timeout: 100_000 }, p);
    const since = await initialSync(s, bob);
    const poll = await longPoll(s, bob, since);
    await s.http.post('/_matrix/client/v3/logout').set(as(phone, p)).send({}).expect(200);
    const res = await poll.result;
    expect(typingIn(res.body, room)).toEqual([typingEvent()]);
  });
});

describe('non-members never see a room\'s typing', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('a stranger and a former member are neither woken nor shown m.typing', async () => {
    const { alice, bob, carol, room } = await setup(s, 'n');
    const dave = await s.register('ndave');
    await join(s, dave, room);
    await s.http.post(`/_matrix/client/v3/rooms/${enc(room)}/leave`).set(bearer(dave)).send({}).expect(200);
    const carolSince = await initialSync(s, carol);
    const daveSince = await initialSync(s, dave);
    const bobSince = await initialSync(s, bob);
    const carolPoll = await longPoll(s, carol, carolSince, { timeout: 10_000 });
    const davePoll = await longPoll(s, dave, daveSince, { timeout: 10_000 });
    const bobPoll = await longPoll(s, bob, bobSince, { timeout: 10_000 });
    await setTyping(s, alice, room, { typing: true, timeout: 100_000 });
    const bobRes = await bobPoll.result;
    expect(typingIn(bobRes.body, room)).toEqual([typingEvent(alice.userId)]);
    await flush();
    expect(s.services.notifier.waiting).toBe(2); // carol and dave still waiting
    s.clock.advance(10_000);
    for (const res of [await carolPoll.result, await davePoll.result]) {
      expect(res.status).toBe(200);
      expect(res.body.rooms.join[room]).toBeUndefined();
      expect(JSON.stringify(res.body)).not.toContain('m.typing');
    }
    for (const u of [carol, dave]) {
      const full = await s.http.get('/_matrix/client/v3/sync?timeout=0').set(bearer(u));
      expect(full.body.rooms.join[room]).toBeUndefined();
      expect(JSON.stringify(full.body)).not.toContain('m.typing');
    }
  });
});

describe('typing.max_timeout_ms from config', () => {
  const s = makeTestServer({ typing: { max_timeout_ms: 5000 } });
  afterAll(() => s.close());

  it('caps at the configured value', async () => {
    const { alice, room } = await setup(s, 'm');
    await setTyping(s, alice, room, { typing: true, timeout: 30_000 });
    s.clock.advance(4999);
    await flush();
    expect(s.services.typing.typingUsers(room)).toEqual([alice.userId]);
    s.clock.advance(1);
    await flush();
    expect(s.services.typing.typingUsers(room)).toEqual([]);
  });
});
