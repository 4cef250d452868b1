// Presence scoped to sessions (spec/sessions.md "Presence"; matrix-spec: presence.yaml#setPresence,
// presence.yaml#getPresence): derived from the user's live sessions, status_msg per user, idle,
// pushed to room-mates' waiting /sync, switchable off, and gone after a restart.
import request from 'supertest';
import { createApp } from '../../../src/http/app.js';
import { createLogger } from '../../../src/logger.js';
import { createServices } from '../../../src/services.js';
import { makeTestServer, bearer, type TestServer, type TestUser } from '../../helpers/server.js';
import {
  HEADER, SESSIONS, as, createRoom, enc, flush, initialSync, join, listSessions, login, longPoll, presenceOf, sendText, startSession, typingIn,
} from '../../helpers/ephemeral.js';

const statusPath = (userId: string) => `/_matrix/client/v3/presence/${enc(userId)}/status`;

async function presenceSeenBy(s: TestServer, viewer: TestUser, userId: string): Promise<Record<string, unknown>> {
  await flush();
  const res = await s.http.get(statusPath(userId)).set(bearer(viewer));
  expect(res.status).toBe(200);
  return res.body;
}

/** alice and bob share a room; carol shares none with them. alice ends every session she has. */
async function setup(s: TestServer, prefix: string) {
  const alice = await s.register(`${prefix}alice`);
  const bob = await s.register(`${prefix}bob`);
  const carol = await s.register(`${prefix}carol`);
  const room = await createRoom(s, bob);
  await join(s, alice, room);
  await createRoom(s, carol);
  for (const x of await listSessions(s, alice)) await s.http.delete(`${SESSIONS}/${enc(x.session_id)}`).set(as(alice, x.session_id));
  await flush();
  expect(s.services.sessions.list(alice.userId)).toEqual([]);
  return { alice, bob, carol, room };
}

describe('presence derived from sessions', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('is offline with no live session and online while one is live', async () => {
    const { alice, bob } = await setup(s, 'a');
    const offline = await presenceSeenBy(s, bob, alice.userId);
    expect(offline).toMatchObject({ presence: 'offline', currently_active: false });
    expect('status_msg' in offline).toBe(false); // left out when none is set (matrix-nio types it as a string)
    await startSession(s, alice);
    const seen = await presenceSeenBy(s, bob, alice.userId);
    expect(seen).toEqual({ presence: 'online', last_active_ago: 0, currently_active: true });
  });

  it('settles on the newest state when a session starts and ends at once', async () => {
    const { alice, bob } = await setup(s, 'r');
    const auth = { userId: alice.userId, deviceId: alice.deviceId, isGuest: false, isAdmin: false, tokenHash: 'x' };
    const quick = s.services.sessions.start(auth);
    s.services.sessions.end(quick, 'ended');
    await flush();
    expect(await presenceSeenBy(s, bob, alice.userId)).toMatchObject({ presence: 'offline', currently_active: false });
    const a = await startSession(s, alice);
    const b = s.services.sessions.start(auth, 'unavailable');
    s.services.sessions.end(s.services.sessions.store.get(a)!, 'ended');
    s.services.sessions.end(b, 'ended');
    await flush();
    expect((await presenceSeenBy(s, bob, alice.userId)).presence).toBe('offline');
  });

  it('is the most present of the live sessions: online > unavailable > offline', async () => {
    const { alice, bob } = await setup(s, 'b');
    const on = await startSession(s, alice, { presence: 'online' });
    const away = await startSession(s, alice, { presence: 'unavailable' });
    const hidden = await startSession(s, alice, { presence: 'offline' });
    expect((await presenceSeenBy(s, bob, alice.userId)).presence).toBe('online');
    await s.http.delete(`${SESSIONS}/${enc(on)}`).set(as(alice, hidden)).expect(200);
    expect(await presenceSeenBy(s, bob, alice.userId)).toMatchObject({ presence: 'unavailable', currently_active: false });
    await s.http.delete(`${SESSIONS}/${enc(away)}`).set(as(alice, hidden)).expect(200);
    expect(await presenceSeenBy(s, bob, alice.userId)).toMatchObject({ presence: 'offline', currently_active: false });
    // The appear-offline session is still live.
    expect((await listSessions(s, alice, hidden)).map((x) => x.session_id)).toEqual([hidden]);
  });

  it('an appear-offline session keeps the user offline to others, even while sending; a normal session shows online', async () => {
    const { alice, bob, carol, room } = await setup(s, 'c');
    await join(s, carol, room);
    const hidden = await startSession(s, alice, { presence: 'offline' });
    const since = await initialSync(s, bob);
    const poll = await longPoll(s, bob, since);
    const sent = await sendText(s, alice, room, 'psst', hidden);
    expect(sent.status).toBe(200);
    expect(sent.headers[HEADER]).toBe(hidden);
    const res = await poll.result;
    expect(res.body.rooms.join[room].timeline.events.map((e: { event_id: string }) => e.event_id)).toContain(sent.body.event_id);
    expect(presenceOf(res.body, alice.userId).filter((e) => e.content.presence !== 'offline')).toEqual([]);
    expect(await presenceSeenBy(s, bob, alice.userId)).toMatchObject({ presence: 'offline', currently_active: false });
    // Unnamed requests of the device go to its active session, the hidden one: still offline.
    expect((await sendText(s, alice, room, 'again')).headers[HEADER]).toBe(hidden);
    expect((await presenceSeenBy(s, bob, alice.userId)).presence).toBe('offline');
    // carol, with a normal (implicit) session, is online to bob.
    expect(await presenceSeenBy(s, bob, carol.userId)).toMatchObject({ presence: 'online', currently_active: true });
  });
});

describe('PUT /_matrix/client/v3/presence/{userId}/status', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('refuses to set another user\'s presence with 403 M_FORBIDDEN and changes nothing', async () => {
    const { alice, bob } = await setup(s, 'p');
    await startSession(s, alice, { status_msg: 'hello' });
    const res = await s.http.put(statusPath(alice.userId)).set(bearer(bob)).send({ presence: 'offline', status_msg: 'hacked' });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect(await presenceSeenBy(s, bob, alice.userId)).toMatchObject({ presence: 'online', status_msg: 'hello' });
  });

  it('sets the presence of the calling session only; the user shows the most present', async () => {
    const { alice, bob } = await setup(s, 'q');
    const one = await startSession(s, alice);
    const two = await startSession(s, alice);
    const r1 = await s.http.put(statusPath(alice.userId)).set(as(alice, one)).send({ presence: 'unavailable' });
    expect(r1.status).toBe(200);
    expect(r1.body).toEqual({});
    const list = Object.fromEntries((await listSessions(s, alice, two)).map((x) => [x.session_id, x.presence]));
    expect(list).toEqual({ [one]: 'unavailable', [two]: 'online' });
    expect((await presenceSeenBy(s, bob, alice.userId)).presence).toBe('online');
    await s.http.put(statusPath(alice.userId)).set(as(alice, two)).send({ presence: 'offline' }).expect(200);
    expect((await presenceSeenBy(s, bob, alice.userId)).presence).toBe('unavailable');
    await s.http.put(statusPath(alice.userId)).set(as(alice, one)).send({ presence: 'offline' }).expect(200);
    expect((await presenceSeenBy(s, bob, alice.userId)).presence).toBe('offline');
    await s.http.put(statusPath(alice.userId)).set(as(alice, two)).send({ presence: 'online' }).expect(200);
    expect(await presenceSeenBy(s, bob, alice.userId)).toMatchObject({ presence: 'online', currently_active: true });
  });

  it('refuses a bad presence value or an over-long status_msg with 400', async () => {
    const { alice } = await setup(s, 'r');
    const bad = await s.http.put(statusPath(alice.userId)).set(bearer(alice)).send({ presence: 'busy' });
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_INVALID_PARAM');
    const missing = await s.http.put(statusPath(alice.userId)).set(bearer(alice)).send({});
    expect(missing.status).toBe(400);
    expect(missing.body.errcode).toBe('M_MISSING_PARAM');
    const long = await s.http.put(statusPath(alice.userId)).set(bearer(alice)).send({ presence: 'online', status_msg: 'x'.repeat(1025) });
    expect(long.status).toBe(400);
    expect(long.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('status_msg belongs to the user, not the session or device', async () => {
    const { alice, bob } = await setup(s, 's');
    const phone = await login(s, alice);
    const a = await startSession(s, alice);
    const p = await startSession(s, phone);
    await s.http.put(statusPath(alice.userId)).set(as(alice, a)).send({ presence: 'online', status_msg: 'at lunch' }).expect(200);
    expect((await presenceSeenBy(s, bob, alice.userId)).status_msg).toBe('at lunch');
    // Setting presence without status_msg elsewhere keeps it.
    await s.http.put(statusPath(alice.userId)).set(as(phone, p)).send({ presence: 'unavailable' }).expect(200);
    expect((await presenceSeenBy(s, bob, alice.userId)).status_msg).toBe('at lunch');
    // Another device replaces it for the user, and null clears it.
    await s.http.put(statusPath(alice.userId)).set(as(phone, p)).send({ presence: 'unavailable', status_msg: 'back soon' }).expect(200);
    expect((await presenceSeenBy(s, bob, alice.userId)).status_msg).toBe('back soon');
    const self = await s.http.get(statusPath(alice.userId)).set(as(alice, a));
    expect(self.body.status_msg).toBe('back soon');
    await s.http.put(statusPath(alice.userId)).set(as(alice, a)).send({ presence: 'online', status_msg: null }).expect(200);
    expect('status_msg' in (await presenceSeenBy(s, bob, alice.userId))).toBe(false);
  });
});

describe('GET /_matrix/client/v3/presence/{userId}/status', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('answers the user and room-mates with presence, last_active_ago, currently_active and status_msg', async () => {
    const { alice, bob } = await setup(s, 'g');
    const a = await startSession(s, alice, { status_msg: 'reading' });
    s.clock.advance(4000);
    for (const viewer of [alice, bob]) {
      const res = await s.http.get(statusPath(alice.userId)).set(viewer === alice ? as(alice, a) : bearer(bob));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ presence: 'online', last_active_ago: 4000, currently_active: true, status_msg: 'reading' });
    }
  });

  it('refuses users who share no room with 403 M_FORBIDDEN', async () => {
    const { alice, carol } = await setup(s, 'h');
    await startSession(s, alice, { status_msg: 'secret plans' });
    const res = await s.http.get(statusPath(alice.userId)).set(bearer(carol));
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect(JSON.stringify(res.body)).not.toContain('secret plans');
    const back = await s.http.get(statusPath(carol.userId)).set(bearer(alice));
    expect(back.status).toBe(403);
    expect(back.body.errcode).toBe('M_FORBIDDEN');
  });

  it('answers an unknown local user with 404 M_NOT_FOUND', async () => {
    const bob = await s.register('gunknown');
    const res = await s.http.get(statusPath('@nobody:test.local')).set(bearer(bob));
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });
});

describe('presence idle', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('turns a session unavailable after presence.idle_timeout_ms (300 s) without an active action, and back online with one', async () => {
    const { alice, bob, room } = await setup(s, 'i');
    const a = await startSession(s, alice);
    // Non-active requests keep the session live but do not count as activity; bob keeps himself active.
    for (let i = 0; i < 5; i++) {
      s.clock.advance(50_000);
      await s.http.get('/_matrix/client/v3/account/whoami').set(as(alice, a)).expect(200);
      await s.http.put(statusPath(bob.userId)).set(bearer(bob)).send({ presence: 'online' }).expect(200);
    }
    expect(await presenceSeenBy(s, bob, alice.userId)).toMatchObject({ presence: 'online', currently_active: true });
    const since = await initialSync(s, bob);
    const poll = await longPoll(s, bob, since);
    s.clock.advance(49_999);
    await flush();
    expect(s.services.notifier.waiting).toBe(1);
    s.clock.advance(1);
    const res = await poll.result;
    expect(res.status).toBe(200);
    expect(presenceOf(res.body, alice.userId)).toEqual([
      { type: 'm.presence', sender: alice.userId, content: { presence: 'unavailable', last_active_ago: 300_000, currently_active: false } },
    ]);
    expect(await presenceSeenBy(s, bob, alice.userId)).toMatchObject({ presence: 'unavailable', currently_active: false, last_active_ago: 300_000 });
    // Sending is an active action: online again.
    expect((await sendText(s, alice, room, 'back', a)).status).toBe(200);
    await flush();
    const res2 = await s.http.get(`/_matrix/client/v3/sync?since=${enc(res.body.next_batch)}&timeout=0`).set(bearer(bob));
    expect(presenceOf(res2.body, alice.userId)).toEqual([
      { type: 'm.presence', sender: alice.userId, content: { presence: 'online', last_active_ago: 0, currently_active: true } },
    ]);
  });

  it('typing is an active action; setting presence online too', async () => {
    const { alice, bob, room } = await setup(s, 'j');
    const a = await startSession(s, alice);
    for (let i = 0; i < 6; i++) {
      s.clock.advance(50_000);
      await s.http.get('/_matrix/client/v3/account/whoami').set(as(alice, a)).expect(200);
      await s.http.put(statusPath(bob.userId)).set(bearer(bob)).send({ presence: 'online' }).expect(200);
    }
    expect((await presenceSeenBy(s, bob, alice.userId)).presence).toBe('unavailable');
    await s.http.put(`/_matrix/client/v3/rooms/${enc(room)}/typing/${enc(alice.userId)}`).set(as(alice, a)).send({ typing: true }).expect(200);
    expect(await presenceSeenBy(s, bob, alice.userId)).toMatchObject({ presence: 'online', currently_active: true });
    for (let i = 0; i < 6; i++) {
      s.clock.advance(50_000);
      await s.http.get('/_matrix/client/v3/account/whoami').set(as(alice, a)).expect(200);
      await s.http.put(statusPath(bob.userId)).set(bearer(bob)).send({ presence: 'online' }).expect(200);
    }
    expect((await presenceSeenBy(s, bob, alice.userId)).presence).toBe('unavailable');
    await s.http.put(statusPath(alice.userId)).set(as(alice, a)).send({ presence: 'online' }).expect(200);
    expect(await presenceSeenBy(s, bob, alice.userId)).toMatchObject({ presence: 'online', currently_active: true });
  });
});

describe('presence changes reach room-mates\' waiting /sync', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('going online, going offline when the last session ends, and when it expires; never to strangers', async () => {
    const { alice, bob, carol } = await setup(s, 'n');
    // Online: a new session.
    let since = await initialSync(s, bob);
    let poll = await longPoll(s, bob, since);
    const a = await startSession(s, alice, { status_msg: 'hi all' });
    let res = await poll.result;
    expect(presenceOf(res.body, alice.userId)).toEqual([
      { type: 'm.presence', sender: alice.userId, content: { presence: 'online', last_active_ago: 0, currently_active: true, status_msg: 'hi all' } },
    ]);
    // Offline: the last session ends explicitly.
    poll = await longPoll(s, bob, res.body.next_batch);
    s.clock.advance(1000);
    await s.http.delete(`${SESSIONS}/${enc(a)}`).set(as(alice, a)).expect(200);
    res = await poll.result;
    expect(presenceOf(res.body, alice.userId)).toEqual([
      { type: 'm.presence', sender: alice.userId, content: { presence: 'offline', last_active_ago: 1000, currently_active: false, status_msg: 'hi all' } },
    ]);
    // Offline: the last session expires, pushed to bob without a new request; carol (no shared room) sees nothing.
    const b = await startSession(s, alice);
    since = await initialSync(s, bob);
    poll = await longPoll(s, bob, since, { timeout: 200_000 });
    const carolSince = await initialSync(s, carol);
    expect(presenceOf({ presence: (await s.http.get('/_matrix/client/v3/sync?timeout=0').set(bearer(carol))).body.presence }, alice.userId)).toEqual([]);
    const carolPoll = await longPoll(s, carol, carolSince, { timeout: 100_000 });
    s.clock.advance(59_999);
    await flush();
    expect(s.services.sessions.store.get(b)).toBeDefined();
    expect(s.services.notifier.waiting).toBe(2);
    s.clock.advance(1);
    res = await poll.result;
    expect(presenceOf(res.body, alice.userId)).toEqual([
      { type: 'm.presence', sender: alice.userId, content: { presence: 'offline', last_active_ago: 60_000, currently_active: false, status_msg: 'hi all' } },
    ]);
    await flush();
    expect(s.services.notifier.waiting).toBe(1); // carol's sync was not woken
    s.clock.advance(40_000);
    const carolRes = await carolPoll.result;
    expect(carolRes.status).toBe(200);
    expect(presenceOf(carolRes.body, alice.userId)).toEqual([]);
  });

  it('another live session keeps the user online when one ends', async () => {
    const { alice, bob } = await setup(s, 'o');
    const one = await startSession(s, alice);
    const two = await startSession(s, alice);
    const since = await initialSync(s, bob);
    const poll = await longPoll(s, bob, since, { timeout: 5000 });
    await s.http.delete(`${SESSIONS}/${enc(one)}`).set(as(alice, two)).expect(200);
    await flush();
    expect(s.services.notifier.waiting).toBe(1);
    s.clock.advance(5000);
    const res = await poll.result;
    expect(presenceOf(res.body, alice.userId)).toEqual([]);
    expect((await presenceSeenBy(s, bob, alice.userId)).presence).toBe('online');
  });
});

describe('presence on joining a room', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('a user who joins gets the members\' presence in the next /sync, and they get the joiner\'s', async () => {
    const alice = await s.register('jalice');
    const bob = await s.register('jbob');
    const room = await createRoom(s, bob);
    await s.http.put(statusPath(bob.userId)).set(bearer(bob)).send({ presence: 'online', status_msg: 'here before you' }).expect(200);
    await s.http.put(statusPath(alice.userId)).set(bearer(alice)).send({ presence: 'online', status_msg: 'just arrived' }).expect(200);
    const aliceSince = await initialSync(s, alice);
    const bobSince = await initialSync(s, bob);
    // Nothing shared yet: neither sees the other.
    await join(s, alice, room);
    await flush();
    const aliceRes = await s.http.get(`/_matrix/client/v3/sync?since=${enc(aliceSince)}&timeout=0`).set(bearer(alice));
    expect(presenceOf(aliceRes.body, bob.userId).map((e) => e.content)).toEqual([
      { presence: 'online', last_active_ago: 0, currently_active: true, status_msg: 'here before you' },
    ]);
    const bobRes = await s.http.get(`/_matrix/client/v3/sync?since=${enc(bobSince)}&timeout=0`).set(bearer(bob));
    expect(presenceOf(bobRes.body, alice.userId).map((e) => e.content)).toEqual([
      { presence: 'online', last_active_ago: 0, currently_active: true, status_msg: 'just arrived' },
    ]);
    // Only once: the next syncs carry neither again.
    const again = await s.http.get(`/_matrix/client/v3/sync?since=${enc(aliceRes.body.next_batch)}&timeout=0`).set(bearer(alice));
    expect(presenceOf(again.body, bob.userId)).toEqual([]);
  });
});

describe('presence.enabled: false', () => {
  const s = makeTestServer({ presence: { enabled: false } });
  afterAll(() => s.close());

  it('turns presence off: everyone offline, no m.presence in /sync, PUT accepted and ignored', async () => {
    const alice = await s.register('offalice');
    const bob = await s.register('offbob');
    const room = await createRoom(s, bob);
    await join(s, alice, room);
    const since = await initialSync(s, bob);
    const first = await s.http.get('/_matrix/client/v3/sync?timeout=0').set(bearer(bob));
    expect(first.body.presence.events).toEqual([]);
    const poll = await longPoll(s, bob, since, { timeout: 10_000 });
    const a = await startSession(s, alice, { status_msg: 'ignored' });
    const put = await s.http.put(statusPath(alice.userId)).set(as(alice, a)).send({ presence: 'online', status_msg: 'also ignored' });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({});
    await flush();
    expect(s.services.notifier.waiting).toBe(1); // nothing woke bob
    s.clock.advance(10_000);
    const res = await poll.result;
    expect(res.body.presence.events).toEqual([]);
    const seen = await s.http.get(statusPath(alice.userId)).set(bearer(bob));
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ presence: 'offline', currently_active: false });
    expect(seen.body.status_msg ?? null).toBeNull();
    // Non-room-mates are still refused.
    const carol = await s.register('offcarol');
    const refused = await s.http.get(statusPath(alice.userId)).set(bearer(carol));
    expect(refused.status).toBe(403);
    expect(refused.body.errcode).toBe('M_FORBIDDEN');
  });
});

describe('after a restart', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('nobody is online or typing until they make a request; status_msg survives', async () => {
    const { alice, bob, room } = await setup(s, 'x');
    const a = await startSession(s, alice, { status_msg: 'gone fishing' });
    await s.http.put(`/_matrix/client/v3/rooms/${enc(room)}/typing/${enc(alice.userId)}`).set(as(alice, a)).send({ typing: true, timeout: 100_000 }).expect(200);
    expect((await presenceSeenBy(s, bob, alice.userId)).presence).toBe('online');
    s.clock.advance(5000);
    // A new server process over the same storage: new services, same database.
    const services = createServices(s.config, s.services.storage, s.clock, { logger: createLogger('silent'), scrypt: { N: 1 << 10, r: 8, p: 1 } });
    try {
      const http = request(createApp(services));
      expect(services.sessions.store.size).toBe(0);
      expect(services.typing.typingUsers(room)).toEqual([]);
      const seen = await http.get(statusPath(alice.userId)).set(bearer(bob));
      expect(seen.status).toBe(200);
      expect(seen.body).toEqual({ presence: 'offline', last_active_ago: 5000, currently_active: false, status_msg: 'gone fishing' });
      const bobSync = await http.get('/_matrix/client/v3/sync?timeout=0').set(bearer(bob));
      expect(bobSync.status).toBe(200);
      expect(typingIn(bobSync.body, room)).toEqual([]);
      expect(presenceOf(bobSync.body, alice.userId).filter((e) => e.content.presence !== 'offline')).toEqual([]);
      // bob made requests: he is online now. alice's old session is gone.
      await flush();
      expect((await http.get(statusPath(bob.userId)).set(bearer(bob))).body.presence).toBe('online');
      const old = await http.get('/_matrix/client/v3/account/whoami').set(as(alice, a));
      expect(old.status).toBe(410);
      expect(old.body.errcode).toBe('HEARTH_SESSION_EXPIRED');
      await flush();
      const back = await http.get(statusPath(alice.userId)).set(bearer(bob));
      expect(back.body).toMatchObject({ presence: 'online', currently_active: true, status_msg: 'gone fishing' });
    } finally {
      await services.stop();
    }
  });
});
