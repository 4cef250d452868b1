// Pushers (matrix-spec: pusher.yaml#getPushers, #postPusher) and notifications sent to a push gateway
// (Push Gateway API POST /_matrix/push/v1/notify; modules/push.md). The gateway is a fake one on
// 127.0.0.1, reachable only because the test server whitelists loopback (ip_range_whitelist); another
// server without the whitelist must refuse to connect to it (SSRF defence).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bearer, expectError, makeTestServer, type TestServer, type TestUser } from '../../helpers/server.js';

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

/** A push gateway on loopback that records what it receives and answers from a script (default 200 {}). */
class FakeGateway {
  readonly received: { path: string; body: Json }[] = [];
  readonly answers: { status: number; body: Json }[] = [];
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.received.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json });
        const a = this.answers.shift() ?? { status: 200, body: {} };
        res.writeHead(a.status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(a.body));
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/_matrix/push/v1/notify`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const pusherBody = (url: string, extra: Json = {}) => ({
  kind: 'http', app_id: 'org.example.app', pushkey: 'key-1', app_display_name: 'Example', device_display_name: 'Phone', lang: 'en',
  data: { url, format: undefined, custom: 'kept' }, ...extra,
});
const setPusher = (s: TestServer, u: TestUser, body: Json) => s.http.post(`${C}/pushers/set`).set(bearer(u)).send(body);

describe('GET /pushers and POST /pushers/set', () => {
  const s = makeTestServer();
  afterAll(() => s.close());
  let alice: TestUser;
  let bob: TestUser;
  const url = 'https://push.example.org/_matrix/push/v1/notify';
  beforeAll(async () => {
    alice = await s.register('alice');
    bob = await s.register('bob');
  });

  it('creates, lists, replaces and deletes a pusher', async () => {
    expect((await s.http.get(`${C}/pushers`).set(bearer(alice))).body).toEqual({ pushers: [] });
    const r = await setPusher(s, alice, { ...pusherBody(url), profile_tag: 'tag' });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({});
    expect((await s.http.get(`${C}/pushers`).set(bearer(alice))).body).toEqual({ pushers: [{
      kind: 'http', app_id: 'org.example.app', pushkey: 'key-1', app_display_name: 'Example', device_display_name: 'Phone', lang: 'en',
      profile_tag: 'tag', data: { url, custom: 'kept' },
    }] });
    expect((await setPusher(s, alice, pusherBody(url, { lang: 'fr' }))).status).toBe(200);
    const listed = (await s.http.get(`${C}/pushers`).set(bearer(alice))).body.pushers as Json[];
    expect(listed.map((p) => p.lang)).toEqual(['fr']);
    expect((await setPusher(s, alice, { kind: null, app_id: 'org.example.app', pushkey: 'key-1' })).status).toBe(200);
    expect((await s.http.get(`${C}/pushers`).set(bearer(alice))).body).toEqual({ pushers: [] });
    // Deleting one that does not exist is fine too.
    expect((await setPusher(s, alice, { kind: null, app_id: 'org.example.app', pushkey: 'key-1' })).status).toBe(200);
  });

  it('without append, takes the app_id and pushkey from other users; with append, shares them', async () => {
    expect((await setPusher(s, alice, pusherBody(url, { pushkey: 'shared' }))).status).toBe(200);
    expect((await setPusher(s, bob, pusherBody(url, { pushkey: 'shared', append: true }))).status).toBe(200);
    expect((await s.http.get(`${C}/pushers`).set(bearer(alice))).body.pushers).toHaveLength(1);
    expect((await setPusher(s, bob, pusherBody(url, { pushkey: 'shared' }))).status).toBe(200);
    expect((await s.http.get(`${C}/pushers`).set(bearer(alice))).body.pushers).toEqual([]);
    expect((await s.http.get(`${C}/pushers`).set(bearer(bob))).body.pushers).toHaveLength(1);
  });

  it('deletes a device\'s pushers with the device (logout)', async () => {
    const phone = await s.http.post(`${C}/login`).send({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: alice.password });
    const onPhone: TestUser = { ...alice, accessToken: phone.body.access_token, deviceId: phone.body.device_id };
    expect((await setPusher(s, onPhone, pusherBody(url, { pushkey: 'phone' }))).status).toBe(200);
    expect((await s.http.get(`${C}/pushers`).set(bearer(alice))).body.pushers.map((p: Json) => p.pushkey)).toContain('phone');
    expect((await s.http.post(`${C}/logout`).set(bearer(onPhone)).send({})).status).toBe(200);
    expect((await s.http.get(`${C}/pushers`).set(bearer(alice))).body.pushers.map((p: Json) => p.pushkey)).not.toContain('phone');
  });

  it('refuses bad pushers with a clear error and stores nothing', async () => {
    const before = (await s.http.get(`${C}/pushers`).set(bearer(bob))).body.pushers.length;
    const { kind: _k, ...noKind } = pusherBody(url);
    expectError(await setPusher(s, bob, noKind), 400, 'M_MISSING_PARAM');
    expectError(await setPusher(s, bob, pusherBody(url, { app_id: undefined })), 400, 'M_MISSING_PARAM');
    expectError(await setPusher(s, bob, pusherBody(url, { lang: undefined })), 400, 'M_MISSING_PARAM');
    expectError(await setPusher(s, bob, pusherBody(url, { data: undefined })), 400, 'M_MISSING_PARAM');
    expectError(await setPusher(s, bob, pusherBody(url, { data: { format: 'event_id_only' } })), 400, 'M_MISSING_PARAM');
    expectError(await setPusher(s, bob, pusherBody('https://push.example.org/notify')), 400, 'M_INVALID_PARAM');
    expectError(await setPusher(s, bob, pusherBody('ftp://push.example.org/_matrix/push/v1/notify')), 400, 'M_INVALID_PARAM');
    expectError(await setPusher(s, bob, pusherBody('not a url')), 400, 'M_INVALID_PARAM');
    expectError(await setPusher(s, bob, pusherBody(url, { data: { url, format: 'full' } })), 400, 'M_INVALID_PARAM');
    expectError(await setPusher(s, bob, pusherBody(url, { kind: 'email' })), 400, 'M_INVALID_PARAM');
    expectError(await setPusher(s, bob, pusherBody(url, { kind: 'sms' })), 400, 'M_INVALID_PARAM');
    expectError(await setPusher(s, bob, pusherBody(url, { kind: 5 })), 400, 'M_BAD_JSON');
    expectError(await setPusher(s, bob, pusherBody(url, { app_id: 'x'.repeat(65) })), 400, 'M_INVALID_PARAM');
    expectError(await setPusher(s, bob, pusherBody(url, { pushkey: 'x'.repeat(513) })), 400, 'M_INVALID_PARAM');
    expectError(await setPusher(s, bob, pusherBody(url, { append: 'yes' })), 400, 'M_BAD_JSON');
    expect((await s.http.get(`${C}/pushers`).set(bearer(bob))).body.pushers.length).toBe(before);
  });
});

describe('notifications to a push gateway on loopback (ip_range_whitelist: 127.0.0.1, ::1)', () => {
  const s = makeTestServer({ ip_range_whitelist: ['127.0.0.1', '::1'], presence: { enabled: false } });
  const gateway = new FakeGateway();
  let alice: TestUser;
  let bob: TestUser;
  let roomId: string;
  let n = 0;
  const send = async (u: TestUser, body: string, type = 'm.room.message', content: Json = { msgtype: 'm.text', body }) => {
    const r = await s.http.put(`${C}/rooms/${enc(roomId)}/send/${type}/p${++n}`).set(bearer(u)).send(content);
    expect(r.status).toBe(200);
    return r.body.event_id as string;
  };
  beforeAll(async () => {
    await gateway.start();
    alice = await s.register('alice');
    bob = await s.register('bob');
    roomId = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'private_chat', name: 'Pushed', invite: [bob.userId] })).body.room_id;
    expect((await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(bob)).send({})).status).toBe(200);
    expect((await setPusher(s, alice, pusherBody(gateway.url))).status).toBe(200);
    await s.services.pushers.settled();
  });
  afterAll(async () => {
    await s.close();
    await gateway.stop();
  });

  it('pushes to a pusher set after earlier events found the user without one (the no-pusher cache)', async () => {
    const carol = await s.register('carol');
    expect((await s.http.post(`${C}/rooms/${enc(roomId)}/invite`).set(bearer(alice)).send({ user_id: carol.userId })).status).toBe(200);
    expect((await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(carol)).send({})).status).toBe(200);
    gateway.received.length = 0;
    await send(bob, 'carol has no pusher yet');
    await s.services.pushers.settled();
    // Only alice's pusher was told (carol has none); carol's "none" is now remembered.
    expect(gateway.received.map((r) => r.body.notification.devices[0].pushkey)).toEqual(['key-1']);
    expect((await setPusher(s, carol, pusherBody(gateway.url, { pushkey: 'carol-key' }))).status).toBe(200);
    gateway.received.length = 0;
    await send(bob, 'now carol has one');
    await s.services.pushers.settled();
    expect(gateway.received.map((r) => r.body.notification.devices[0].pushkey).sort()).toEqual(['carol-key', 'key-1']);
    expect((await setPusher(s, carol, { kind: null, app_id: 'org.example.app', pushkey: 'carol-key' })).status).toBe(200);
    expect((await s.http.post(`${C}/rooms/${enc(roomId)}/leave`).set(bearer(carol)).send({})).status).toBe(200);
  });

  it('posts a notification for an event that notifies, with the event, counts, device, tweaks and priority', async () => {
    gateway.received.length = 0;
    const eventId = await send(bob, 'hello alice');
    await s.services.pushers.settled();
    expect(gateway.received).toHaveLength(1);
    const { path, body } = gateway.received[0]!;
    expect(path).toBe('/_matrix/push/v1/notify');
    expect(body).toEqual({ notification: {
      event_id: eventId, room_id: roomId, type: 'm.room.message', sender: bob.userId, sender_display_name: 'bob', room_name: 'Pushed',
      content: { msgtype: 'm.text', body: 'hello alice' }, counts: { unread: 1 }, prio: 'high',
      devices: [{ app_id: 'org.example.app', pushkey: 'key-1', pushkey_ts: expect.any(Number), data: { custom: 'kept' }, tweaks: { sound: 'default' } }],
    } });
  });

  it('sends nothing for the user\'s own events or events their rules do not notify about', async () => {
    gateway.received.length = 0;
    await send(alice, 'my own message');
    await send(bob, 'x', 'm.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: '$whatever', key: 'x' } });
    await s.services.pushers.settled();
    expect(gateway.received).toEqual([]);
  });

  it('format event_id_only: only the IDs, counts, devices and priority', async () => {
    expect((await setPusher(s, alice, pusherBody(gateway.url, { data: { url: gateway.url, format: 'event_id_only' } }))).status).toBe(200);
    gateway.received.length = 0;
    const eventId = await send(bob, 'secret content');
    await s.services.pushers.settled();
    expect(gateway.received.map((r) => r.body)).toEqual([{ notification: {
      event_id: eventId, room_id: roomId, counts: { unread: 1 }, prio: 'high',
      devices: [{ app_id: 'org.example.app', pushkey: 'key-1', pushkey_ts: expect.any(Number), data: { format: 'event_id_only' }, tweaks: { sound: 'default' } }],
    } }]);
  });

  it('retries with backoff when the gateway fails, keeping the order', async () => {
    gateway.received.length = 0;
    gateway.answers.push({ status: 500, body: {} }, { status: 503, body: {} });
    const first = await send(bob, 'first');
    const second = await send(bob, 'second');
    // Two failed attempts of the first notification, each followed by a wait on the clock.
    await waitUntil(() => gateway.received.length === 1);
    expect(gateway.received.map((r) => r.body.notification.event_id)).toEqual([first]);
    s.clock.advance(999);
    await new Promise((r) => setTimeout(r, 50));
    expect(gateway.received).toHaveLength(1); // not before its backoff
    s.clock.advance(1);
    await waitUntil(() => gateway.received.length === 2);
    s.clock.advance(2000);
    await s.services.pushers.settled();
    expect(gateway.received.map((r) => r.body.notification.event_id)).toEqual([first, first, first, second]);
  });

  it('deletes the pusher when the gateway rejects its pushkey', async () => {
    gateway.received.length = 0;
    gateway.answers.push({ status: 200, body: { rejected: ['key-1'] } });
    await send(bob, 'to a dead device');
    await s.services.pushers.settled();
    expect(gateway.received).toHaveLength(1);
    expect((await s.http.get(`${C}/pushers`).set(bearer(alice))).body).toEqual({ pushers: [] });
    await send(bob, 'nobody is listening');
    await s.services.pushers.settled();
    expect(gateway.received).toHaveLength(1);
  });
});

describe('a push gateway on loopback without the whitelist', () => {
  const s = makeTestServer({ presence: { enabled: false } });
  const gateway = new FakeGateway();
  afterAll(async () => {
    await s.close();
    await gateway.stop();
  });

  it('is never connected to (ip_range_blacklist covers 127.0.0.0/8): the notification is dropped, the pusher kept', async () => {
    await gateway.start();
    const alice = await s.register('alice');
    const bob = await s.register('bob');
    const roomId = (await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'private_chat', invite: [bob.userId] })).body.room_id as string;
    expect((await s.http.post(`${C}/rooms/${enc(roomId)}/join`).set(bearer(bob)).send({})).status).toBe(200);
    expect((await setPusher(s, alice, pusherBody(gateway.url))).status).toBe(200);
    const r = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/b1`).set(bearer(bob)).send({ msgtype: 'm.text', body: 'hi' });
    expect(r.status).toBe(200);
    await s.services.pushers.settled();
    expect(gateway.received).toEqual([]);
    expect((await s.http.get(`${C}/pushers`).set(bearer(alice))).body.pushers).toHaveLength(1);
  });
});

/** Waits (real time, briefly) for something the gateway sees over the network. */
async function waitUntil(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
