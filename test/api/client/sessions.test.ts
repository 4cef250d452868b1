// Hearth sessions over HTTP (spec/sessions.md, issue 5 "Contract"): naming a session, implicit
// sessions, POST/GET/DELETE /_matrix/client/unstable/hearth/sessions, 410 HEARTH_SESSION_EXPIRED,
// sessions ending with logout and revocation, and discovery.
import { randomBytes } from 'node:crypto';
import { makeTestServer, bearer, type TestServer, type TestUser } from '../../helpers/server.js';
import {
  HEADER, SESSIONS, as, createRoom, enc, flush, initialSync, join, listSessions, login, longPoll, startSession,
} from '../../helpers/ephemeral.js';

const WHOAMI = '/_matrix/client/v3/account/whoami';
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const messagesOf = async (s: TestServer, user: TestUser, roomId: string): Promise<{ type: string; event_id: string; content: { body?: string } }[]> => {
  const res = await s.http.get(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=100`).set(bearer(user));
  expect(res.status).toBe(200);
  return res.body.chunk;
};

const passwordAuth = (u: TestUser) => ({ type: 'm.login.password', identifier: { type: 'm.id.user', user: u.userId }, password: u.password });

describe('naming a session', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('answers the first request with a UUIDv7 session ID in Hearth-Session; IDs never repeat and sort by start', async () => {
    const alice = await s.register('idalice');
    const res = await s.http.get(WHOAMI).set(bearer(alice));
    expect(res.status).toBe(200);
    const id = res.headers[HEADER] as string;
    expect(id).toMatch(ID);
    const ids = new Set([id]);
    const inOrder = [id];
    for (let i = 0; i < 300; i++) {
      if (i % 100 === 0) s.clock.advance(5);
      const next = await startSession(s, alice);
      ids.add(next);
      inOrder.push(next);
    }
    expect(ids.size).toBe(301);
    expect([...inOrder].sort()).toEqual(inOrder);
    for (const x of ids) expect(x).toMatch(ID);
    // Nothing about the user or device is readable in them.
    for (const x of ids) {
      expect(x).not.toContain('idalice');
      expect(x).not.toContain(alice.deviceId);
    }
  });

  it('names a session by the Hearth-Session header, the session_id query parameter or the hearth_session cookie', async () => {
    const alice = await s.register('namer');
    const [a, b, c] = [await startSession(s, alice), await startSession(s, alice), await startSession(s, alice)];
    const byHeader = await s.http.get(WHOAMI).set(bearer(alice)).set('Hearth-Session', a);
    expect(byHeader.status).toBe(200);
    expect(byHeader.headers[HEADER]).toBe(a);
    const byQuery = await s.http.get(`${WHOAMI}?session_id=${enc(b)}`).set(bearer(alice));
    expect(byQuery.status).toBe(200);
    expect(byQuery.headers[HEADER]).toBe(b);
    const byCookie = await s.http.get(WHOAMI).set(bearer(alice)).set('Cookie', `theme=dark; hearth_session=${c}; other=1`);
    expect(byCookie.status).toBe(200);
    expect(byCookie.headers[HEADER]).toBe(c);
    // Each named request counted in its own session: last_seen_ts moves only for it.
    s.clock.advance(1000);
    await s.http.get(WHOAMI).set(bearer(alice)).set('Cookie', `hearth_session=${c}`);
    const list = await listSessions(s, alice, c);
    const seen = Object.fromEntries(list.map((x) => [x.session_id, x.last_seen_ts]));
    expect(seen[c]).toBe(s.clock.now());
    expect(seen[a]).toBe(s.clock.now() - 1000);
    expect(seen[b]).toBe(s.clock.now() - 1000);
  });

  it('the header wins over the query, the query over the cookie', async () => {
    const alice = await s.register('precedence');
    const [a, b, c] = [await startSession(s, alice), await startSession(s, alice), await startSession(s, alice)];
    const all = await s.http.get(`${WHOAMI}?session_id=${enc(b)}`).set(bearer(alice)).set('Hearth-Session', a).set('Cookie', `hearth_session=${c}`);
    expect(all.status).toBe(200);
    expect(all.headers[HEADER]).toBe(a);
    const queryAndCookie = await s.http.get(`${WHOAMI}?session_id=${enc(b)}`).set(bearer(alice)).set('Cookie', `hearth_session=${c}`);
    expect(queryAndCookie.status).toBe(200);
    expect(queryAndCookie.headers[HEADER]).toBe(b);
    // The winner is used even when it is bad: a bad header is not rescued by a good query or cookie.
    const badHeader = await s.http.get(`${WHOAMI}?session_id=${enc(b)}`).set(bearer(alice)).set('Hearth-Session', 'bogus').set('Cookie', `hearth_session=${c}`);
    expect(badHeader.status).toBe(410);
    expect(badHeader.body.errcode).toBe('HEARTH_SESSION_EXPIRED');
    const badQuery = await s.http.get(`${WHOAMI}?session_id=bogus`).set(bearer(alice)).set('Cookie', `hearth_session=${c}`);
    expect(badQuery.status).toBe(410);
    expect(badQuery.body.errcode).toBe('HEARTH_SESSION_EXPIRED');
    // ...and a bad loser does not spoil a good winner.
    const goodHeader = await s.http.get(`${WHOAMI}?session_id=bogus`).set(bearer(alice)).set('Hearth-Session', a).set('Cookie', 'hearth_session=bogus');
    expect(goodHeader.status).toBe(200);
    expect(goodHeader.headers[HEADER]).toBe(a);
  });

  it('every authenticated response carries the session it was counted in, errors included', async () => {
    const alice = await s.register('everyresp');
    const a = await startSession(s, alice);
    const ok = await s.http.get('/_matrix/client/v3/joined_rooms').set(as(alice, a));
    expect(ok.status).toBe(200);
    expect(ok.headers[HEADER]).toBe(a);
    const notFound = await s.http.delete(`${SESSIONS}/nope`).set(as(alice, a));
    expect(notFound.status).toBe(404);
    expect(notFound.body.errcode).toBe('M_NOT_FOUND');
    expect(notFound.headers[HEADER]).toBe(a);
    const forbidden = await s.http.put(`/_matrix/client/v3/rooms/${enc('!nowhere:test.local')}/typing/${enc(alice.userId)}`).set(as(alice, a)).send({ typing: true });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.errcode).toBe('M_FORBIDDEN');
    expect(forbidden.headers[HEADER]).toBe(a);
    const bad = await s.http.put(`/_matrix/client/v3/presence/${enc(alice.userId)}/status`).set(as(alice, a)).send({ presence: 'asleep' });
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_INVALID_PARAM');
    expect(bad.headers[HEADER]).toBe(a);
    // A request without a token has no session.
    const anon = await s.http.get('/_matrix/client/versions');
    expect(anon.status).toBe(200);
    expect(anon.headers[HEADER]).toBeUndefined();
  });

  it('CORS allows the Hearth-Session request header and exposes the response header', async () => {
    const pre = await s.http.options(WHOAMI).set('Origin', 'https://app.example').set('Access-Control-Request-Method', 'GET')
      .set('Access-Control-Request-Headers', 'authorization, hearth-session');
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    const allowed = (pre.headers['access-control-allow-headers'] as string).split(',').map((h) => h.trim().toLowerCase());
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'hearth-session']));
    const alice = await s.register('corsy');
    const res = await s.http.get(WHOAMI).set(bearer(alice)).set('Origin', 'https://app.example');
    expect(res.status).toBe(200);
    const exposed = (res.headers['access-control-expose-headers'] as string).split(',').map((h) => h.trim().toLowerCase());
    expect(exposed).toContain('hearth-session');
    const refused = await s.http.get(WHOAMI).set(bearer(alice)).set('Hearth-Session', 'gone').set('Origin', 'https://app.example');
    expect(refused.status).toBe(410);
    expect(refused.body.errcode).toBe('HEARTH_SESSION_EXPIRED');
    expect((refused.headers['access-control-expose-headers'] as string).toLowerCase()).toContain('hearth-session');
  });
});

describe('implicit sessions', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('a device that never names a session has exactly one, however many requests it makes', async () => {
    const alice = await s.register('implicit');
    const seen = new Set<string>();
    for (let i = 0; i < 15; i++) {
      const res = await s.http.get(WHOAMI).set(bearer(alice));
      expect(res.status).toBe(200);
      seen.add(res.headers[HEADER] as string);
      s.clock.advance(10_000);
    }
    expect(seen.size).toBe(1);
    const [only] = seen;
    const list = await listSessions(s, alice);
    expect(list.map((x) => x.session_id)).toEqual([only]);
    expect(list[0]!.device_id).toBe(alice.deviceId);
  });

  it('a second device gets a session of its own; each keeps its one session', async () => {
    const alice = await s.register('twodev');
    const phone = await login(s, alice);
    const a1 = (await s.http.get(WHOAMI).set(bearer(alice))).headers[HEADER];
    const p1 = (await s.http.get(WHOAMI).set(bearer(phone))).headers[HEADER];
    const a2 = (await s.http.get(WHOAMI).set(bearer(alice))).headers[HEADER];
    const p2 = (await s.http.get(WHOAMI).set(bearer(phone))).headers[HEADER];
    expect(a1).toBe(a2);
    expect(p1).toBe(p2);
    expect(p1).not.toBe(a1);
    const list = await listSessions(s, alice);
    expect(list).toHaveLength(2);
    expect(Object.fromEntries(list.map((x) => [x.device_id, x.session_id]))).toEqual({ [alice.deviceId]: a1, [phone.deviceId]: p1 });
  });

  it('after the implicit session expires, the next request quietly gets a new one (no 410: it named none)', async () => {
    const alice = await s.register('reimplicit');
    const first = (await s.http.get(WHOAMI).set(bearer(alice))).headers[HEADER];
    s.clock.advance(60_000);
    const res = await s.http.get(WHOAMI).set(bearer(alice));
    expect(res.status).toBe(200);
    expect(res.headers[HEADER]).toMatch(ID);
    expect(res.headers[HEADER]).not.toBe(first);
    expect((await listSessions(s, alice)).map((x) => x.session_id)).toEqual([res.headers[HEADER]]);
  });

  it('an unnamed request is counted in the device\'s most recently used live session', async () => {
    const alice = await s.register('recent');
    const x = await startSession(s, alice);
    const y = await startSession(s, alice);
    // y was started last: unnamed requests go to it.
    expect((await s.http.get(WHOAMI).set(bearer(alice))).headers[HEADER]).toBe(y);
    // Naming x makes it the most recently used one.
    await s.http.get(WHOAMI).set(as(alice, x));
    expect((await s.http.get(WHOAMI).set(bearer(alice))).headers[HEADER]).toBe(x);
    // When the active one ends, the device's other live session takes over; no third session is made.
    const ended = await s.http.delete(`${SESSIONS}/${enc(x)}`).set(as(alice, y));
    expect(ended.status).toBe(200);
    await s.http.get(WHOAMI).set(as(alice, x)).expect(410);
    const phone = await login(s, alice);
    // ...and the 410 made a fresh one, now the most recent: end it from another device.
    const fresh = (await listSessions(s, phone)).filter((l) => l.device_id === alice.deviceId && l.session_id !== y);
    expect(fresh).toHaveLength(1);
    expect((await s.http.delete(`${SESSIONS}/${enc(fresh[0]!.session_id)}`).set(bearer(phone))).status).toBe(200);
    const res = await s.http.get(WHOAMI).set(bearer(alice));
    expect(res.status).toBe(200);
    expect(res.headers[HEADER]).toBe(y);
    expect((await listSessions(s, phone)).filter((l) => l.device_id === alice.deviceId).map((l) => l.session_id)).toEqual([y]);
  });
});

describe('POST /_matrix/client/unstable/hearth/sessions', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('starts an online session by default: {session_id, presence, expires_in_ms} and the header', async () => {
    const alice = await s.register('starter');
    const res = await s.http.post(SESSIONS).set(bearer(alice)).send({});
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ session_id: expect.stringMatching(ID), presence: 'online', expires_in_ms: 60_000 });
    expect(res.headers[HEADER]).toBe(res.body.session_id);
    const list = await listSessions(s, alice, res.body.session_id);
    expect(list).toEqual([{
      session_id: res.body.session_id, device_id: alice.deviceId, presence: 'online',
      created_ts: s.clock.now(), last_seen_ts: s.clock.now(), expires_in_ms: 60_000,
    }]);
  });

  it('starts a session with each presence, and "offline" is a live session that appears offline', async () => {
    const alice = await s.register('threeways');
    for (const presence of ['online', 'unavailable', 'offline']) {
      const res = await s.http.post(SESSIONS).set(bearer(alice)).send({ presence });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ session_id: expect.stringMatching(ID), presence, expires_in_ms: 60_000 });
      const use = await s.http.get(WHOAMI).set(as(alice, res.body.session_id));
      expect(use.status).toBe(200);
    }
    const list = await listSessions(s, alice);
    expect(list.map((x) => x.presence).sort()).toEqual(['offline', 'online', 'unavailable']);
  });

  it('sets status_msg for the user', async () => {
    const alice = await s.register('statusstart');
    const id = await startSession(s, alice, { presence: 'unavailable', status_msg: 'in a meeting' });
    const res = await s.http.get(`/_matrix/client/v3/presence/${enc(alice.userId)}/status`).set(as(alice, id));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ presence: 'unavailable', status_msg: 'in a meeting', currently_active: false });
  });

  it('takes identity only from the token: a different user_id or device_id is 403 M_FORBIDDEN and starts nothing', async () => {
    const alice = await s.register('spoofer');
    const bob = await s.register('victim');
    const mine = await startSession(s, alice);
    for (const body of [{ user_id: bob.userId }, { device_id: bob.deviceId }, { user_id: alice.userId, device_id: 'OTHERDEV' }]) {
      const res = await s.http.post(SESSIONS).set(bearer(alice)).send(body);
      expect(res.status).toBe(403);
      expect(res.body.errcode).toBe('M_FORBIDDEN');
    }
    expect((await listSessions(s, alice, mine)).map((x) => x.session_id)).toEqual([mine]);
    expect(s.services.sessions.list(bob.userId)).toEqual([]);
    const same = await s.http.post(SESSIONS).set(bearer(alice)).send({ user_id: alice.userId, device_id: alice.deviceId });
    expect(same.status).toBe(200);
  });

  it('refuses a bad presence or status_msg with 400 and starts nothing', async () => {
    const alice = await s.register('badstart');
    const mine = await startSession(s, alice);
    const r1 = await s.http.post(SESSIONS).set(bearer(alice)).send({ presence: 'busy' });
    expect(r1.status).toBe(400);
    expect(r1.body.errcode).toBe('M_BAD_JSON');
    const r2 = await s.http.post(SESSIONS).set(bearer(alice)).send({ status_msg: 42 });
    expect(r2.status).toBe(400);
    expect(r2.body.errcode).toBe('M_BAD_JSON');
    const r3 = await s.http.post(SESSIONS).set(bearer(alice)).send({ status_msg: 'x'.repeat(5000) });
    expect(r3.status).toBe(400);
    expect(r3.body.errcode).toBe('M_INVALID_PARAM');
    expect((await listSessions(s, alice, mine)).map((x) => x.session_id)).toEqual([mine]);
  });

  it('requires an access token: 401 M_MISSING_TOKEN', async () => {
    const res = await s.http.post(SESSIONS).send({});
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });
});

describe('GET /_matrix/client/unstable/hearth/sessions', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('lists the caller\'s live sessions on all devices with the documented fields, and nobody else\'s', async () => {
    const alice = await s.register('lister');
    const phone = await login(s, alice);
    const bob = await s.register('otherlister');
    const t0 = s.clock.now();
    const a = await startSession(s, alice, { presence: 'unavailable' });
    s.clock.advance(5000);
    const p = await startSession(s, phone, { presence: 'offline' });
    await startSession(s, bob);
    s.clock.advance(2000);
    const res = await s.http.get(SESSIONS).set(as(alice, a));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      sessions: [
        { session_id: a, device_id: alice.deviceId, presence: 'unavailable', created_ts: t0, last_seen_ts: t0 + 7000, expires_in_ms: 60_000 },
        { session_id: p, device_id: phone.deviceId, presence: 'offline', created_ts: t0 + 5000, last_seen_ts: t0 + 5000, expires_in_ms: 58_000 },
      ],
    });
    expect(res.headers[HEADER]).toBe(a);
  });

  it('drops sessions once they expire', async () => {
    const alice = await s.register('listexp');
    const phone = await login(s, alice);
    const a = await startSession(s, alice);
    s.clock.advance(30_000);
    const p = await startSession(s, phone);
    s.clock.advance(30_000);
    expect((await listSessions(s, phone, p)).map((x) => x.session_id)).toEqual([p]);
    expect((await s.http.get(WHOAMI).set(as(alice, a))).status).toBe(410);
  });
});

describe('DELETE /_matrix/client/unstable/hearth/sessions/{sessionId}', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('ends one of the caller\'s sessions, on this or another device: 200 {}', async () => {
    const alice = await s.register('ender');
    const phone = await login(s, alice);
    const a = await startSession(s, alice);
    const b = await startSession(s, alice);
    const p = await startSession(s, phone);
    const r1 = await s.http.delete(`${SESSIONS}/${enc(b)}`).set(as(alice, a));
    expect(r1.status).toBe(200);
    expect(r1.body).toEqual({});
    const r2 = await s.http.delete(`${SESSIONS}/${enc(p)}`).set(as(alice, a));
    expect(r2.status).toBe(200);
    expect(r2.body).toEqual({});
    expect((await listSessions(s, alice, a)).map((x) => x.session_id)).toEqual([a]);
    // A session may end itself; the response still names it.
    const self = await s.http.delete(`${SESSIONS}/${enc(a)}`).set(as(alice, a));
    expect(self.status).toBe(200);
    expect(self.headers[HEADER]).toBe(a);
    const after = await s.http.get(WHOAMI).set(as(alice, a));
    expect(after.status).toBe(410);
    expect(after.body.errcode).toBe('HEARTH_SESSION_EXPIRED');
  });

  it('answers another user\'s session and an unknown one with the same 404 M_NOT_FOUND, and ends nothing', async () => {
    const alice = await s.register('prober');
    const bob = await s.register('probed');
    const bobs = await startSession(s, bob);
    const theirs = await s.http.delete(`${SESSIONS}/${enc(bobs)}`).set(bearer(alice));
    const unknown = await s.http.delete(`${SESSIONS}/${enc(randomBytes(16).toString('base64url'))}`).set(bearer(alice));
    expect(theirs.status).toBe(404);
    expect(theirs.body.errcode).toBe('M_NOT_FOUND');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual(theirs.body);
    const still = await s.http.get(WHOAMI).set(as(bob, bobs));
    expect(still.status).toBe(200);
    expect(still.headers[HEADER]).toBe(bobs);
  });
});

describe('410 HEARTH_SESSION_EXPIRED', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  function expect410(res: { status: number; body: Record<string, unknown>; headers: Record<string, unknown> }, old: string): string {
    expect(res.status).toBe(410);
    expect(res.body.errcode).toBe('HEARTH_SESSION_EXPIRED');
    expect(typeof res.body.error).toBe('string');
    const fresh = res.body.session_id as string;
    expect(fresh).toMatch(ID);
    expect(fresh).not.toBe(old);
    expect(res.headers[HEADER]).toBe(fresh);
    return fresh;
  }

  it('refuses an expired session and hands over a new session for the caller\'s device that works', async () => {
    const alice = await s.register('expiree');
    const a = await startSession(s, alice);
    s.clock.advance(59_999);
    expect((await s.http.get(WHOAMI).set(as(alice, a))).status).toBe(200);
    s.clock.advance(60_000);
    const fresh = expect410(await s.http.get(WHOAMI).set(as(alice, a)), a);
    const list = await listSessions(s, alice, fresh);
    expect(list.map((x) => [x.session_id, x.device_id])).toEqual([[fresh, alice.deviceId]]);
    // The old ID stays dead: refusing it did not revive it.
    expect410(await s.http.get(WHOAMI).set(as(alice, a)), a);
  });

  it('refuses an ended session', async () => {
    const alice = await s.register('endee');
    const a = await startSession(s, alice);
    expect((await s.http.delete(`${SESSIONS}/${enc(a)}`).set(as(alice, a))).status).toBe(200);
    expect410(await s.http.get(WHOAMI).set(as(alice, a)), a);
  });

  it('refuses a guessed session ID', async () => {
    const alice = await s.register('guesser');
    for (const guess of [randomBytes(16).toString('base64url'), 'AAAAAAAAAAAAAAAAAAAAAA', '1']) {
      const fresh = expect410(await s.http.get(WHOAMI).set(as(alice, guess)), guess);
      expect(s.services.sessions.store.get(fresh)?.userId).toBe(alice.userId);
      expect(s.services.sessions.store.get(guess)).toBeUndefined();
    }
  });

  it('refuses another user\'s session ID: nothing is attributed to the caller and the owner is unaffected', async () => {
    const alice = await s.register('owner');
    const mallory = await s.register('mallory');
    const room = await createRoom(s, alice);
    await join(s, mallory, room);
    const a = await startSession(s, alice, { status_msg: 'here' });
    s.clock.advance(10_000);
    const before = (await listSessions(s, alice, a)).find((x) => x.session_id === a)!;
    const presenceBefore = (await s.http.get(`/_matrix/client/v3/presence/${enc(alice.userId)}/status`).set(bearer(mallory))).body;
    s.clock.advance(10_000);
    const stolen = await s.http.get(WHOAMI).set(as(mallory, a));
    const fresh = expect410(stolen, a);
    // The answer is the same as for a made-up ID: probing reveals nothing about the owner.
    const madeUp = await s.http.get(WHOAMI).set(as(mallory, randomBytes(16).toString('base64url')));
    expect(Object.keys(stolen.body).sort()).toEqual(Object.keys(madeUp.body).sort());
    expect(stolen.body.error).toBe(madeUp.body.error);
    expect(JSON.stringify(stolen.body)).not.toContain(alice.userId);
    expect410(await s.http.get(`${WHOAMI}?session_id=${enc(a)}`).set(bearer(mallory)), a);
    expect410(await s.http.get(WHOAMI).set(bearer(mallory)).set('Cookie', `hearth_session=${a}`), a);
    // Typing and presence through the stolen ID have no effect on alice.
    expect410(await s.http.put(`/_matrix/client/v3/presence/${enc(alice.userId)}/status`).set(as(mallory, a)).send({ presence: 'offline', status_msg: 'pwned' }), a);
    expect410(await s.http.put(`/_matrix/client/v3/presence/${enc(mallory.userId)}/status`).set(as(mallory, a)).send({ presence: 'offline' }), a);
    // The new session is mallory's, on mallory's device; alice's list does not show it, mallory's not alice's.
    expect(s.services.sessions.store.get(fresh)).toMatchObject({ userId: mallory.userId, deviceId: mallory.deviceId });
    const mallorys = await listSessions(s, mallory, fresh);
    expect(mallorys.map((x) => x.session_id)).not.toContain(a);
    const after = await s.http.get(SESSIONS).set(bearer(mallory));
    expect(JSON.stringify(after.body)).not.toContain(a);
    // alice's session: still live, not touched (last_seen unchanged), presence and status unchanged.
    const owner = s.services.sessions.store.get(a)!;
    expect(owner.lastSeenTs).toBe(before.last_seen_ts);
    expect(owner.presence).toBe('online');
    await flush();
    const presenceAfter = (await s.http.get(`/_matrix/client/v3/presence/${enc(alice.userId)}/status`).set(bearer(mallory))).body;
    expect(presenceAfter.presence).toBe(presenceBefore.presence);
    expect(presenceAfter.status_msg).toBe('here');
    const ok = await s.http.get(WHOAMI).set(as(alice, a));
    expect(ok.status).toBe(200);
    expect(ok.headers[HEADER]).toBe(a);
    expect(ok.body.user_id).toBe(alice.userId);
  });

  it('refuses a session of another device of the same user', async () => {
    const alice = await s.register('twodevs');
    const phone = await login(s, alice);
    const p = await startSession(s, phone);
    const fresh = expect410(await s.http.get(WHOAMI).set(as(alice, p)), p);
    expect(s.services.sessions.store.get(fresh)?.deviceId).toBe(alice.deviceId);
    expect(s.services.sessions.store.get(p)?.lastSeenTs).toBe(s.clock.now());
    const ok = await s.http.get(WHOAMI).set(as(phone, p));
    expect(ok.status).toBe(200);
    expect(ok.headers[HEADER]).toBe(p);
  });

  it('a refused request has no effect: PUT /send naming a bad session stores no event', async () => {
    const alice = await s.register('nosend');
    const room = await createRoom(s, alice);
    const a = await startSession(s, alice);
    s.clock.advance(60_000);
    const path = `/_matrix/client/v3/rooms/${enc(room)}/send/m.room.message/txn-expired`;
    const refused = await s.http.put(path).set(as(alice, a)).send({ msgtype: 'm.text', body: 'never sent (expired)' });
    const fresh = expect410(refused, a);
    const guessed = await s.http.put(`/_matrix/client/v3/rooms/${enc(room)}/send/m.room.message/txn-guess`).set(as(alice, 'guessed')).send({ msgtype: 'm.text', body: 'never sent (guessed)' });
    expect410(guessed, 'guessed');
    const texts = (await messagesOf(s, alice, room)).filter((e) => e.type === 'm.room.message');
    expect(texts).toEqual([]);
    // The same transaction ID was not used up: retrying in the new session sends it once.
    const retry = await s.http.put(path).set(as(alice, fresh)).send({ msgtype: 'm.text', body: 'sent now' });
    expect(retry.status).toBe(200);
    expect(retry.headers[HEADER]).toBe(fresh);
    const after = (await messagesOf(s, alice, room)).filter((e) => e.type === 'm.room.message');
    expect(after.map((e) => [e.event_id, e.content.body])).toEqual([[retry.body.event_id, 'sent now']]);
  });

  it('a refused request has no effect: a typing PUT naming a bad session sets no typing', async () => {
    const alice = await s.register('notype');
    const room = await createRoom(s, alice);
    const res = await s.http.put(`/_matrix/client/v3/rooms/${enc(room)}/typing/${enc(alice.userId)}`).set(as(alice, 'stale')).send({ typing: true, timeout: 30_000 });
    expect410(res, 'stale');
    await flush();
    expect(s.services.typing.typingUsers(room)).toEqual([]);
  });
});

describe('a waiting /sync keeps its session alive', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('past the idle timeout until it returns; then the idle time counts from its return', async () => {
    const alice = await s.register('syncer');
    const laptop = await login(s, alice);
    const a = await startSession(s, alice);
    const since = await initialSync(s, alice, a);
    const waiting = await longPoll(s, alice, since, { session: a, timeout: 200_000 });
    s.clock.advance(150_000);
    const seen = await listSessions(s, laptop);
    const mine = seen.find((x) => x.session_id === a);
    expect(mine).toBeDefined();
    expect(mine!.expires_in_ms).toBe(60_000);
    s.clock.advance(50_000); // the sync times out and returns now
    const res = await waiting.result;
    expect(res.status).toBe(200);
    expect(res.headers[HEADER]).toBe(a);
    await flush();
    s.clock.advance(59_999);
    expect(s.services.sessions.store.get(a)).toBeDefined();
    s.clock.advance(1);
    expect(s.services.sessions.store.get(a)).toBeUndefined();
    const gone = await s.http.get(WHOAMI).set(as(alice, a));
    expect(gone.status).toBe(410);
    expect(gone.body.errcode).toBe('HEARTH_SESSION_EXPIRED');
  });
});

describe('sessions end with logout and revocation; login never hands one over', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  const liveOf = (userId: string) => s.services.sessions.list(userId).map((x) => x.id);

  it('POST /logout ends every session of that device, and only that device', async () => {
    const alice = await s.register('loggingout');
    const phone = await login(s, alice);
    const implicit = (await s.http.get(WHOAMI).set(bearer(alice))).headers[HEADER] as string;
    const explicit = await startSession(s, alice, { presence: 'offline' });
    const p = await startSession(s, phone);
    const res = await s.http.post('/_matrix/client/v3/logout').set(bearer(alice)).send({});
    expect(res.status).toBe(200);
    expect(liveOf(alice.userId)).toEqual([p]);
    expect(liveOf(alice.userId)).not.toContain(implicit);
    expect(liveOf(alice.userId)).not.toContain(explicit);
    const again = await s.http.get(WHOAMI).set(as(alice, implicit));
    expect(again.status).toBe(401);
    expect(again.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('POST /logout/all ends the sessions of every device', async () => {
    const alice = await s.register('logoutall');
    const phone = await login(s, alice);
    await startSession(s, alice);
    await startSession(s, phone);
    expect(liveOf(alice.userId)).toHaveLength(2);
    const res = await s.http.post('/_matrix/client/v3/logout/all').set(bearer(phone)).send({});
    expect(res.status).toBe(200);
    expect(liveOf(alice.userId)).toEqual([]);
  });

  it('a password change with logout_devices ends the other devices\' sessions and keeps this device\'s', async () => {
    const alice = await s.register('pwchange', 'the old password');
    const phone = await login(s, alice);
    const a = await startSession(s, alice);
    const p = await startSession(s, phone);
    const keep = await s.http.post('/_matrix/client/v3/account/password').set(as(alice, a))
      .send({ new_password: 'the new password', logout_devices: false, auth: passwordAuth(alice) });
    expect(keep.status).toBe(200);
    expect(liveOf(alice.userId).sort()).toEqual([a, p].sort());
    const res = await s.http.post('/_matrix/client/v3/account/password').set(as(alice, a))
      .send({ new_password: 'the newest password', logout_devices: true, auth: { ...passwordAuth(alice), password: 'the new password' } });
    expect(res.status).toBe(200);
    expect(liveOf(alice.userId)).toEqual([a]);
    expect((await s.http.get(WHOAMI).set(as(alice, a))).status).toBe(200);
  });

  it('deactivation ends every session of the user', async () => {
    const alice = await s.register('deactivating');
    const phone = await login(s, alice);
    const a = await startSession(s, alice);
    await startSession(s, phone);
    const res = await s.http.post('/_matrix/client/v3/account/deactivate').set(as(alice, a)).send({ auth: passwordAuth(alice) });
    expect(res.status).toBe(200);
    expect(liveOf(alice.userId)).toEqual([]);
  });

  it('deleting a device ends its sessions', async () => {
    const alice = await s.register('devdelete');
    const phone = await login(s, alice);
    const a = await startSession(s, alice);
    await startSession(s, phone);
    const res = await s.http.delete(`/_matrix/client/v3/devices/${enc(phone.deviceId)}`).set(as(alice, a)).send({ auth: passwordAuth(alice) });
    expect(res.status).toBe(200);
    expect(liveOf(alice.userId)).toEqual([a]);
  });

  it('login with an existing device_id ends that device\'s sessions and never hands one over', async () => {
    const alice = await s.register('relogin');
    const other = await login(s, alice);
    const old = (await s.http.get(WHOAMI).set(bearer(alice))).headers[HEADER] as string;
    const explicit = await startSession(s, alice);
    const o = await startSession(s, other);
    const again = await login(s, alice, alice.deviceId);
    expect(again.deviceId).toBe(alice.deviceId);
    expect(again.accessToken).not.toBe(alice.accessToken);
    expect(liveOf(alice.userId)).toEqual([o]);
    // The new token cannot take over an old session of that device...
    for (const id of [old, explicit]) {
      const res = await s.http.get(WHOAMI).set(as(again, id));
      expect(res.status).toBe(410);
      expect(res.body.errcode).toBe('HEARTH_SESSION_EXPIRED');
    }
    // ...and a request naming none gets a new one.
    const fresh = await s.http.get(WHOAMI).set(bearer(again));
    expect(fresh.status).toBe(200);
    expect([old, explicit, o]).not.toContain(fresh.headers[HEADER]);
  });

  it('a login as another device never reuses an existing session', async () => {
    const alice = await s.register('newdevice');
    const a = (await s.http.get(WHOAMI).set(bearer(alice))).headers[HEADER] as string;
    const second = await login(s, alice);
    const res = await s.http.get(WHOAMI).set(bearer(second));
    expect(res.headers[HEADER]).not.toBe(a);
    const named = await s.http.get(WHOAMI).set(as(second, a));
    expect(named.status).toBe(410);
    expect(named.body.errcode).toBe('HEARTH_SESSION_EXPIRED');
    expect(liveOf(alice.userId)).toContain(a);
  });
});

describe('discovery', () => {
  const s = makeTestServer();
  const short = makeTestServer({ sessions: { idle_timeout_ms: 5000 } });
  afterAll(async () => { await s.close(); await short.close(); });

  it('advertises hearth.sessions in /versions unstable_features', async () => {
    const res = await s.http.get('/_matrix/client/versions');
    expect(res.status).toBe(200);
    expect(res.body.unstable_features['hearth.sessions']).toBe(true);
  });

  it('advertises the idle timeout in /capabilities', async () => {
    const alice = await s.register('caps');
    const res = await s.http.get('/_matrix/client/v3/capabilities').set(bearer(alice));
    expect(res.status).toBe(200);
    expect(res.body.capabilities['hearth.sessions']).toEqual({ idle_timeout_ms: 60_000 });
    const bob = await short.register('caps');
    const r2 = await short.http.get('/_matrix/client/v3/capabilities').set(bearer(bob));
    expect(r2.body.capabilities['hearth.sessions']).toEqual({ idle_timeout_ms: 5000 });
  });

  it('sessions.idle_timeout_ms from config is the idle time', async () => {
    const alice = await short.register('shortidle');
    const a = await startSession(short, alice);
    const list = await listSessions(short, alice, a);
    expect(list[0]!.expires_in_ms).toBe(5000);
    short.clock.advance(5000);
    const res = await short.http.get(WHOAMI).set(as(alice, a));
    expect(res.status).toBe(410);
    expect(res.body.errcode).toBe('HEARTH_SESSION_EXPIRED');
  });
});
