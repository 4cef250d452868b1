// EDUs across servers (spec/federation.md "EDUs"; matrix-spec: server-server-api "Typing Notifications",
// "Presence", "Receipts", "Send-to-device messaging", "Server Access Control Lists (ACLs)"; Hearth's
// hearth.server_event, spec/server-events.md "Across servers"). Fake remote servers send signed
// transactions to a server in memory: their users join its rooms with signed PDUs, then send EDUs,
// and what its clients see in /sync is checked, refusals included. What the server sends is caught
// by a recording transport in place of the network.
import type { TransactionTransport } from '../../../src/core/federation/sender.js';
import {
  PRESENCE_RENEW_INTERVAL_MS, REMOTE_PRESENCE_TIMEOUT_MS, REMOTE_TYPING_TIMEOUT_MS, SERVER_EVENT_EDU, TYPING_RENEW_INTERVAL_MS,
} from '../../../src/core/federation/edus.js';
import { ROOM_VERSIONS } from '../../../src/core/room-versions.js';
import type { JsonObject, StoredEvent } from '../../../src/wire.js';
import { fakeDns, knownRemote, signedPut, type RemoteServer as SigningRemote } from '../../helpers/federation.js';
import { remoteServer, wire, type RemoteServer } from '../../helpers/graph.js';
import { SESSIONS, as, enc, flush, listSessions } from '../../helpers/ephemeral.js';
import { bearer, expectError, makeTestServer, type TestServer, type TestUser } from '../../helpers/server.js';

const C = '/_matrix/client/v3';
const V11 = ROOM_VERSIONS['11'];
type Json = Record<string, any>;

/** Transactions the server sends, answered 200 at once. */
class Recorder {
  sent: { destination: string; body: JsonObject }[] = [];
  transport: TransactionTransport = async (txn, body) => {
    this.sent.push({ destination: txn.destination, body });
    return { pdus: {} };
  };

  edus(type: string, destination?: string): JsonObject[] {
    return this.sent.filter((t) => destination === undefined || t.destination === destination)
      .flatMap((t) => ((t.body.edus ?? []) as { edu_type: string; content: JsonObject }[]).filter((e) => e.edu_type === type).map((e) => e.content));
  }

  destinationsOf(type: string): string[] {
    return [...new Set(this.sent.filter((t) => ((t.body.edus ?? []) as { edu_type: string }[]).some((e) => e.edu_type === type)).map((t) => t.destination))].sort();
  }
}

/** A remote server: signs its PDUs (graph helper) and its requests (federation helper) with one key. */
interface Remote {
  graph: RemoteServer;
  signing: SigningRemote;
  name: string;
}

async function remoteOf(s: TestServer, name: string): Promise<Remote> {
  const graph = remoteServer(name);
  return { graph, signing: await knownRemote(s, name, graph.key), name };
}

let txnCounter = 0;
async function transaction(s: TestServer, from: Remote, pdus: JsonObject[], edus: { edu_type: string; content: JsonObject }[] = []): Promise<Json> {
  const res = await signedPut(s, from.signing, `/_matrix/federation/v1/send/t${++txnCounter}`, { origin: from.name, origin_server_ts: s.clock.now(), pdus, edus });
  expect(res.status).toBe(200);
  await flush();
  return res.body;
}

const edu = (s: TestServer, from: Remote, edu_type: string, content: JsonObject) => transaction(s, from, [], [{ edu_type, content }]);

/** A remote user's event on the room's current extremities and state, as their server would send it. */
async function remoteEvent(s: TestServer, from: Remote, roomId: string, draft: { sender: string; type: string; state_key?: string; content: JsonObject }): Promise<StoredEvent> {
  const room = (await s.services.roomState.get(roomId))!;
  const prev = (await s.services.storage.rooms.getEvents(room.extremities.map((x) => x.eventId))).map((r) => r.event);
  return from.graph.event(V11, { room_id: roomId, ...draft, content: draft.content as never }, prev, room.state, s.clock.now());
}

async function remoteJoin(s: TestServer, from: Remote, roomId: string, userId: string): Promise<void> {
  const join = await remoteEvent(s, from, roomId, { sender: userId, type: 'm.room.member', state_key: userId, content: { membership: 'join' } });
  const res = await transaction(s, from, [wire(join)]);
  expect(res.pdus[join.event_id]).toEqual({});
}

async function createRoom(s: TestServer, u: TestUser): Promise<string> {
  const r = await s.http.post(`${C}/createRoom`).set(bearer(u)).send({ preset: 'public_chat', room_version: '11' });
  expect(r.status).toBe(200);
  return r.body.room_id as string;
}

/** The ACL denies these servers (everyone else allowed). */
async function denyServers(s: TestServer, u: TestUser, roomId: string, deny: string[]): Promise<void> {
  expect((await s.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.server_acl/`).set(bearer(u)).send({ allow: ['*'], deny, allow_ip_literals: true })).status).toBe(200);
}

async function sync(s: TestServer, u: TestUser, since?: string): Promise<Json> {
  await flush();
  const r = await s.http.get(`${C}/sync?timeout=0${since ? `&since=${enc(since)}` : ''}`).set(bearer(u));
  expect(r.status).toBe(200);
  return r.body;
}

const ephemeralOf = (body: Json, roomId: string): Json[] => body.rooms?.join?.[roomId]?.ephemeral?.events ?? [];
const typingOf = (body: Json, roomId: string): string[] | undefined => ephemeralOf(body, roomId).find((e) => e.type === 'm.typing')?.content.user_ids;
const receiptOf = (body: Json, roomId: string): Json | undefined => ephemeralOf(body, roomId).find((e) => e.type === 'm.receipt')?.content;
const presenceOf = (body: Json, userId: string): Json | undefined => (body.presence?.events as Json[] | undefined)?.filter((e) => e.sender === userId).at(-1)?.content;
const timelineOf = (body: Json, roomId: string): Json[] => body.rooms?.join?.[roomId]?.timeline?.events ?? [];

/**
 * Lets the outbound queue's loops run (they start at once; the transport answers at once) until every
 * EDU handed over is queued and every destination's loop is idle: each pass reads and writes the
 * store, which on PostgreSQL takes real round trips, not a fixed number of ticks.
 */
async function drained(s: TestServer): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await s.services.federationEdus.settled();
    await s.services.federation.sender.idle();
    await flush();
  }
}

const RITA = '@rita:remote.test';
const OSCAR = '@oscar:other.test';

describe('EDUs from other servers', () => {
  const recorder = new Recorder();
  const s = makeTestServer({ federation: { enabled: true } }, { federation: { dns: fakeDns(), transactionTransport: recorder.transport } });
  let remote: Remote;
  let other: Remote;
  let alice: TestUser;
  let room: string;
  /** A room rita joined, then whose ACL came to deny remote.test. */
  let aclRoom: string;
  /** A room with no remote member. */
  let localRoom: string;
  let since: string;

  beforeAll(async () => {
    remote = await remoteOf(s, 'remote.test');
    other = await remoteOf(s, 'other.test');
    alice = await s.register('alice');
    room = await createRoom(s, alice);
    await remoteJoin(s, remote, room, RITA);
    await remoteJoin(s, other, room, OSCAR);
    aclRoom = await createRoom(s, alice);
    await remoteJoin(s, remote, aclRoom, RITA);
    await denyServers(s, alice, aclRoom, ['remote.test']);
    localRoom = await createRoom(s, alice);
    since = (await sync(s, alice)).next_batch;
  });
  afterAll(() => s.close());

  /** alice's sync since the last call. */
  async function next(): Promise<Json> {
    const body = await sync(s, alice, since);
    since = body.next_batch;
    return body;
  }

  describe('m.typing', () => {
    it('shows a remote user\'s typing in local members\' /sync, and its end', async () => {
      await edu(s, remote, 'm.typing', { room_id: room, user_id: RITA, typing: true });
      expect(typingOf(await next(), room)).toEqual([RITA]);
      await edu(s, remote, 'm.typing', { room_id: room, user_id: RITA, typing: false });
      expect(typingOf(await next(), room)).toEqual([]);
    });

    it(`expires ${REMOTE_TYPING_TIMEOUT_MS / 1000} s after the last notification unless renewed`, async () => {
      await edu(s, remote, 'm.typing', { room_id: room, user_id: RITA, typing: true });
      expect(typingOf(await next(), room)).toEqual([RITA]);
      s.clock.advance(REMOTE_TYPING_TIMEOUT_MS - 1000);
      await edu(s, remote, 'm.typing', { room_id: room, user_id: RITA, typing: true }); // renewed
      s.clock.advance(REMOTE_TYPING_TIMEOUT_MS - 1000);
      expect(typingOf(await next(), room)).toBeUndefined(); // still typing: no change
      s.clock.advance(1000);
      expect(typingOf(await next(), room)).toEqual([]);
    });

    it('ends when the user\'s event arrives', async () => {
      await edu(s, remote, 'm.typing', { room_id: room, user_id: RITA, typing: true });
      expect(typingOf(await next(), room)).toEqual([RITA]);
      const msg = await remoteEvent(s, remote, room, { sender: RITA, type: 'm.room.message', content: { msgtype: 'm.text', body: 'done' } });
      await transaction(s, remote, [wire(msg)]);
      const body = await next();
      expect(timelineOf(body, room).map((e) => e.event_id)).toContain(msg.event_id);
      expect(typingOf(body, room)).toEqual([]);
    });

    it('ignores a user of another server than the origin, a user not joined, a room we are not in, and an origin the ACL denies', async () => {
      await edu(s, other, 'm.typing', { room_id: room, user_id: RITA, typing: true });
      await edu(s, remote, 'm.typing', { room_id: localRoom, user_id: RITA, typing: true });
      await edu(s, remote, 'm.typing', { room_id: room, user_id: '@nobody:remote.test', typing: true });
      await edu(s, remote, 'm.typing', { room_id: '!unknown:remote.test', user_id: RITA, typing: true });
      await edu(s, remote, 'm.typing', { room_id: aclRoom, user_id: RITA, typing: true });
      await edu(s, remote, 'm.typing', { room_id: room, user_id: RITA, typing: 'yes' });
      const body = await next();
      expect([typingOf(body, room), typingOf(body, localRoom), typingOf(body, aclRoom)]).toEqual([undefined, undefined, undefined]);
      expect(s.services.typing.typingUsers(room)).toEqual([]);
      // The same EDU from the right server is shown (the refusals above were not for want of a working path).
      await edu(s, other, 'm.typing', { room_id: room, user_id: OSCAR, typing: true });
      expect(typingOf(await next(), room)).toEqual([OSCAR]);
      await edu(s, other, 'm.typing', { room_id: room, user_id: OSCAR, typing: false });
      await next();
    });
  });

  describe('m.presence', () => {
    it('shows a remote user\'s presence to local users sharing a room, in /sync and GET /presence', async () => {
      await edu(s, remote, 'm.presence', { push: [{ user_id: RITA, presence: 'online', last_active_ago: 5000, currently_active: true, status_msg: 'Making cupcakes' }] });
      expect(presenceOf(await next(), RITA)).toEqual({ presence: 'online', last_active_ago: 5000, currently_active: true, status_msg: 'Making cupcakes' });
      const got = await s.http.get(`${C}/presence/${enc(RITA)}/status`).set(bearer(alice));
      expect(got.status).toBe(200);
      expect(got.body).toEqual({ presence: 'online', last_active_ago: 5000, currently_active: true, status_msg: 'Making cupcakes' });
      // A stranger (no shared room) is refused, as for local users.
      const stranger = await s.register('stranger');
      expectError(await s.http.get(`${C}/presence/${enc(RITA)}/status`).set(bearer(stranger)), 403, 'M_FORBIDDEN');
    });

    it(`turns offline ${REMOTE_PRESENCE_TIMEOUT_MS / 60_000} min after the last update`, async () => {
      await edu(s, remote, 'm.presence', { push: [{ user_id: RITA, presence: 'unavailable', last_active_ago: 0 }] });
      expect(presenceOf(await next(), RITA)).toMatchObject({ presence: 'unavailable', currently_active: false });
      s.clock.advance(REMOTE_PRESENCE_TIMEOUT_MS - 1);
      expect(presenceOf(await next(), RITA)).toBeUndefined();
      s.clock.advance(1);
      expect(presenceOf(await next(), RITA)).toMatchObject({ presence: 'offline' });
    });

    it('ignores users of another server than the origin, users sharing no room with us, and rooms whose ACL denies the origin', async () => {
      await edu(s, other, 'm.presence', { push: [{ user_id: RITA, presence: 'online', last_active_ago: 0 }] });
      await edu(s, remote, 'm.presence', { push: [{ user_id: '@stranger:remote.test', presence: 'online', last_active_ago: 0 }] });
      // zed of remote.test is joined only to the ACL room (joined before the ACL denied remote.test).
      const zedRoom = await createRoom(s, alice);
      await remoteJoin(s, remote, zedRoom, '@zed:remote.test');
      await denyServers(s, alice, zedRoom, ['remote.test']);
      await edu(s, remote, 'm.presence', { push: [{ user_id: '@zed:remote.test', presence: 'online', last_active_ago: 0 }] });
      await edu(s, remote, 'm.presence', { push: [{ user_id: RITA, presence: 'dancing', last_active_ago: 0 }] });
      const body = await next();
      expect([presenceOf(body, RITA), presenceOf(body, '@stranger:remote.test'), presenceOf(body, '@zed:remote.test')]).toEqual([undefined, undefined, undefined]);
      expect(s.services.presence.current('@zed:remote.test')).toBeUndefined();
      // The same update from the right server is shown.
      await edu(s, other, 'm.presence', { push: [{ user_id: OSCAR, presence: 'online', last_active_ago: 0 }] });
      expect(presenceOf(await next(), OSCAR)).toMatchObject({ presence: 'online' });
    });
  });

  describe('m.receipt', () => {
    it('stores a remote user\'s read receipt and shows it in /sync like a local one', async () => {
      const msg = await s.http.put(`${C}/rooms/${enc(room)}/send/m.room.message/r1`).set(bearer(alice)).send({ msgtype: 'm.text', body: 'read me' });
      const eventId = msg.body.event_id as string;
      await next();
      await edu(s, remote, 'm.receipt', { [room]: { 'm.read': { [RITA]: { event_ids: [eventId], data: { ts: 1_533_358_089_009, thread_id: 'main' } } } } });
      expect(receiptOf(await next(), room)).toEqual({ [eventId]: { 'm.read': { [RITA]: { ts: 1_533_358_089_009, thread_id: 'main' } } } });
    });

    it('ignores a user of another server, a user not joined, an event not of the room or of the thread named, private receipts and a room whose ACL denies the origin', async () => {
      const inRoom = (await s.http.put(`${C}/rooms/${enc(room)}/send/m.room.message/r2`).set(bearer(alice)).send({ msgtype: 'm.text', body: 'x' })).body.event_id as string;
      const inOther = (await s.http.put(`${C}/rooms/${enc(localRoom)}/send/m.room.message/r3`).set(bearer(alice)).send({ msgtype: 'm.text', body: 'y' })).body.event_id as string;
      const inAcl = (await s.http.put(`${C}/rooms/${enc(aclRoom)}/send/m.room.message/r4`).set(bearer(alice)).send({ msgtype: 'm.text', body: 'z' })).body.event_id as string;
      await next();
      const read = (userId: string, eventId: string) => ({ [userId]: { event_ids: [eventId], data: { ts: 1 } } });
      await edu(s, other, 'm.receipt', { [room]: { 'm.read': read(RITA, inRoom) } });
      await edu(s, remote, 'm.receipt', { [room]: { 'm.read': read('@nobody:remote.test', inRoom) } });
      await edu(s, remote, 'm.receipt', { [room]: { 'm.read': read(RITA, inOther) } });
      await edu(s, remote, 'm.receipt', { [room]: { 'm.read': read(RITA, '$unknown') } });
      await edu(s, remote, 'm.receipt', { [room]: { 'm.read.private': read(RITA, inRoom) } });
      await edu(s, remote, 'm.receipt', { [room]: { 'm.read': { [RITA]: { event_ids: [inRoom], data: { ts: 1, thread_id: '$not-its-thread' } } } } });
      await edu(s, remote, 'm.receipt', { [aclRoom]: { 'm.read': read(RITA, inAcl) } });
      const body = await next();
      expect([receiptOf(body, room), receiptOf(body, aclRoom)]).toEqual([undefined, undefined]);
      expect(await s.services.storage.sync.getReceipt(room, 'm.read.private', RITA, '')).toBeUndefined();
      // The right one is stored.
      await edu(s, other, 'm.receipt', { [room]: { 'm.read': read(OSCAR, inRoom) } });
      expect(receiptOf(await next(), room)).toEqual({ [inRoom]: { 'm.read': { [OSCAR]: { ts: 1 } } } });
    });
  });

  describe('m.direct_to_device', () => {
    it('delivers to one device and to all of them, once per message_id and origin', async () => {
      const bob = await s.register('bob');
      const bob2 = (await s.http.post(`${C}/login`).send({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'bob' }, password: bob.password })).body as { access_token: string; device_id: string };
      const bob2User: TestUser = { userId: bob.userId, accessToken: bob2.access_token, deviceId: bob2.device_id, password: bob.password };
      const s1 = (await sync(s, bob)).next_batch as string;
      const s2 = (await sync(s, bob2User)).next_batch as string;
      const msg = (id: string, messages: JsonObject, sender = RITA) => ({ sender, type: 'org.example.whisper', message_id: id, messages });
      await edu(s, remote, 'm.direct_to_device', msg('m1', { [bob.userId]: { [bob.deviceId]: { text: 'one device' } } }));
      await edu(s, remote, 'm.direct_to_device', msg('m1', { [bob.userId]: { [bob.deviceId]: { text: 'one device' } } })); // a repeat
      await edu(s, remote, 'm.direct_to_device', msg('m2', { [bob.userId]: { '*': { text: 'all devices' } } }));
      // The same message_id from another origin is another message.
      await edu(s, other, 'm.direct_to_device', msg('m1', { [bob.userId]: { [bob.deviceId]: { text: 'from oscar' } } }, OSCAR));
      const got1 = await sync(s, bob, s1);
      expect(got1.to_device.events).toEqual([
        { sender: RITA, type: 'org.example.whisper', content: { text: 'one device' } },
        { sender: RITA, type: 'org.example.whisper', content: { text: 'all devices' } },
        { sender: OSCAR, type: 'org.example.whisper', content: { text: 'from oscar' } },
      ]);
      expect((await sync(s, bob2User, s2)).to_device.events).toEqual([{ sender: RITA, type: 'org.example.whisper', content: { text: 'all devices' } }]);
    });

    it('refuses a sender of another server than the origin', async () => {
      const carol = await s.register('carol');
      const s1 = (await sync(s, carol)).next_batch as string;
      await edu(s, other, 'm.direct_to_device', { sender: RITA, type: 'org.example.whisper', message_id: 'forged', messages: { [carol.userId]: { '*': { text: 'forged' } } } });
      await edu(s, remote, 'm.direct_to_device', { sender: RITA, type: 'org.example.whisper', message_id: 'real', messages: { [carol.userId]: { '*': { text: 'real' } } } });
      expect((await sync(s, carol, s1)).to_device.events.map((e: Json) => e.content.text)).toEqual(['real']);
    });
  });

  describe(SERVER_EVENT_EDU, () => {
    const serverEvent = (roomId: string, id: string, body: string) => ({
      event_id: id, room_id: roomId, type: 'm.room.message', content: { msgtype: 'm.notice', body }, origin_server_ts: s.clock.now() - 5000,
    });

    it('stores it outside the graph with the origin\'s name as sender and its timestamp, shown to local members once', async () => {
      const extremities = (await s.services.roomState.get(room))!.extremities;
      await edu(s, remote, SERVER_EVENT_EDU, serverEvent(room, '$se1', 'Maintenance at noon'));
      await edu(s, remote, SERVER_EVENT_EDU, serverEvent(room, '$se1', 'Maintenance at noon')); // a repeat
      const events = timelineOf(await next(), room).filter((e) => e.content.body === 'Maintenance at noon');
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ sender: 'remote.test', type: 'm.room.message', origin_server_ts: s.clock.now() - 5000, content: { msgtype: 'm.notice' } });
      const stored = await s.services.storage.rooms.getEvent(events[0]!.event_id as string);
      expect(stored?.serverLocal).toBe(true);
      expect((await s.services.roomState.get(room))!.extremities).toEqual(extremities);
    });

    it('ignores one from a server with no member in the room, for a room we are not in, and from an origin the ACL denies', async () => {
      await edu(s, remote, SERVER_EVENT_EDU, serverEvent(localRoom, '$se2', 'not your room'));
      await edu(s, remote, SERVER_EVENT_EDU, serverEvent('!unknown:remote.test', '$se3', 'unknown room'));
      await edu(s, remote, SERVER_EVENT_EDU, serverEvent(aclRoom, '$se4', 'denied'));
      await edu(s, remote, SERVER_EVENT_EDU, { ...serverEvent(room, '$se5', 'malformed'), content: 'text' });
      const body = await next();
      expect([localRoom, aclRoom, room].flatMap((r) => timelineOf(body, r))).toEqual([]);
    });
  });
});

describe('EDUs to other servers', () => {
  const recorder = new Recorder();
  const s = makeTestServer({ federation: { enabled: true } }, { federation: { dns: fakeDns(), transactionTransport: recorder.transport } });
  let remote: Remote;
  let other: Remote;
  let alice: TestUser;
  let room: string;
  let session: string;

  beforeAll(async () => {
    remote = await remoteOf(s, 'remote.test');
    other = await remoteOf(s, 'other.test');
    alice = await s.register('alice');
    room = await createRoom(s, alice);
    await remoteJoin(s, remote, room, RITA);
    await remoteJoin(s, other, room, OSCAR);
    session = (await listSessions(s, alice))[0]!.session_id;
    await drained(s);
  });
  afterAll(() => s.close());
  beforeEach(() => { recorder.sent = []; });

  const typing = (u: TestUser, roomId: string, body: JsonObject) =>
    s.http.put(`${C}/rooms/${enc(roomId)}/typing/${enc(u.userId)}`).set(as(u, session)).send(body);

  it('a local user\'s typing goes to the servers in the room at once, is renewed while it lasts, and its end too', async () => {
    expect((await typing(alice, room, { typing: true, timeout: 120_000 })).status).toBe(200);
    await drained(s);
    expect(recorder.destinationsOf('m.typing')).toEqual(['other.test', 'remote.test']);
    expect(recorder.edus('m.typing', 'remote.test')).toEqual([{ room_id: room, user_id: alice.userId, typing: true }]);
    // A renewal by the client within the interval sends nothing; the interval sends it again.
    expect((await typing(alice, room, { typing: true, timeout: 120_000 })).status).toBe(200);
    await drained(s);
    expect(recorder.edus('m.typing', 'remote.test')).toHaveLength(1);
    s.clock.advance(TYPING_RENEW_INTERVAL_MS);
    await drained(s);
    expect(recorder.edus('m.typing', 'remote.test')).toEqual([{ room_id: room, user_id: alice.userId, typing: true }, { room_id: room, user_id: alice.userId, typing: true }]);
    expect((await typing(alice, room, { typing: false })).status).toBe(200);
    await drained(s);
    expect(recorder.edus('m.typing', 'remote.test').at(-1)).toEqual({ room_id: room, user_id: alice.userId, typing: false });
  });

  it('a session that ends stops its typing and turns its presence offline on the other servers at once', async () => {
    const bob = await s.register('bob');
    const bobSession = (await listSessions(s, bob))[0]!.session_id;
    expect((await s.http.post(`${C}/join/${enc(room)}`).set(as(bob, bobSession)).send({})).status).toBe(200);
    expect((await s.http.put(`${C}/rooms/${enc(room)}/typing/${enc(bob.userId)}`).set(as(bob, bobSession)).send({ typing: true, timeout: 120_000 })).status).toBe(200);
    await drained(s);
    expect(recorder.edus('m.typing', 'remote.test').at(-1)).toEqual({ room_id: room, user_id: bob.userId, typing: true });
    recorder.sent = [];
    expect((await s.http.delete(`${SESSIONS}/${enc(bobSession)}`).set(as(bob, bobSession))).status).toBe(200);
    await drained(s); // no time passes
    expect(recorder.edus('m.typing', 'remote.test')).toEqual([{ room_id: room, user_id: bob.userId, typing: false }]);
    expect(recorder.edus('m.presence', 'remote.test').map((c) => (c.push as JsonObject[])[0])).toEqual([
      expect.objectContaining({ user_id: bob.userId, presence: 'offline', currently_active: false }),
    ]);
  });

  it('a local user\'s presence change goes to the servers sharing a room, and is renewed while not offline', async () => {
    expect((await s.http.put(`${C}/presence/${enc(alice.userId)}/status`).set(as(alice, session)).send({ presence: 'unavailable', status_msg: 'Away' })).status).toBe(200);
    await drained(s);
    expect(recorder.destinationsOf('m.presence')).toEqual(['other.test', 'remote.test']);
    expect(recorder.edus('m.presence', 'remote.test')).toEqual([{ push: [{ user_id: alice.userId, presence: 'unavailable', last_active_ago: 0, currently_active: false, status_msg: 'Away' }] }]);
    recorder.sent = [];
    // Keep the session alive (its idle timeout is shorter than the renewal interval).
    for (let t = 0; t < PRESENCE_RENEW_INTERVAL_MS; t += 50_000) {
      s.clock.advance(50_000);
      expect((await s.http.get(`${C}/account/whoami`).set(as(alice, session))).status).toBe(200);
    }
    await drained(s);
    expect(recorder.edus('m.presence', 'remote.test').map((c) => (c.push as JsonObject[])[0]!.presence)).toContain('unavailable');
    expect((await s.http.put(`${C}/presence/${enc(alice.userId)}/status`).set(as(alice, session)).send({ presence: 'online' })).status).toBe(200);
  });

  it('a remote server whose user joins gets our members\' current presence', async () => {
    const third = await remoteOf(s, 'third.test');
    const elsewhere = await createRoom(s, alice);
    await drained(s);
    expect(recorder.edus('m.presence', 'third.test')).toEqual([]);
    await remoteJoin(s, third, elsewhere, '@tess:third.test');
    await drained(s);
    expect(recorder.edus('m.presence', 'third.test').map((c) => (c.push as JsonObject[])[0])).toEqual([
      expect.objectContaining({ user_id: alice.userId, presence: 'online' }),
    ]);
  });

  it('a local m.read receipt goes to the servers in the room; m.read.private does not', async () => {
    const ev = await remoteEvent(s, remote, room, { sender: RITA, type: 'm.room.message', content: { msgtype: 'm.text', body: 'hi' } });
    await transaction(s, remote, [wire(ev)]);
    recorder.sent = [];
    expect((await s.http.post(`${C}/rooms/${enc(room)}/receipt/m.read.private/${enc(ev.event_id)}`).set(as(alice, session)).send({})).status).toBe(200);
    await drained(s);
    expect(recorder.edus('m.receipt')).toEqual([]);
    expect((await s.http.post(`${C}/rooms/${enc(room)}/receipt/m.read/${enc(ev.event_id)}`).set(as(alice, session)).send({ thread_id: 'main' })).status).toBe(200);
    await drained(s);
    expect(recorder.destinationsOf('m.receipt')).toEqual(['other.test', 'remote.test']);
    expect(recorder.edus('m.receipt', 'remote.test')).toEqual([
      { [room]: { 'm.read': { [alice.userId]: { event_ids: [ev.event_id], data: { ts: s.clock.now(), thread_id: 'main' } } } } },
    ]);
  });

  it('to-device messages to other servers\' users go to each server once, with a message_id', async () => {
    const res = await s.http.put(`${C}/sendToDevice/org.example.whisper/w1`).set(as(alice, session)).send({ messages: {
      [RITA]: { RDEV: { text: 'rita' } }, '@ruth:remote.test': { '*': { text: 'ruth' } }, [OSCAR]: { ODEV: { text: 'oscar' } },
    } });
    expect(res.status).toBe(200);
    await drained(s);
    const toRemote = recorder.edus('m.direct_to_device', 'remote.test');
    expect(toRemote).toEqual([{
      sender: alice.userId, type: 'org.example.whisper', message_id: expect.any(String),
      messages: { [RITA]: { RDEV: { text: 'rita' } }, '@ruth:remote.test': { '*': { text: 'ruth' } } },
    }]);
    expect([...String(toRemote[0]!.message_id)].length).toBeLessThanOrEqual(32);
    expect(recorder.edus('m.direct_to_device', 'other.test')).toEqual([{ sender: alice.userId, type: 'org.example.whisper', message_id: expect.any(String), messages: { [OSCAR]: { ODEV: { text: 'oscar' } } } }]);
    // A retry of the request sends nothing again.
    await s.http.put(`${C}/sendToDevice/org.example.whisper/w1`).set(as(alice, session)).send({ messages: { [RITA]: { RDEV: { text: 'rita' } } } }).expect(200);
    await drained(s);
    expect(recorder.edus('m.direct_to_device', 'remote.test')).toHaveLength(1);
  });

  it('a room-scoped server event goes to the servers in the room as hearth.server_event; a shutdown\'s explanation does not', async () => {
    const root = await s.register('root');
    await s.services.accounts.setAdmin(root.userId, true);
    const sent = await s.http.post(`/_hearth/admin/v1/rooms/${enc(room)}/server_events`).set(bearer(root)).send({ type: 'm.room.message', content: { msgtype: 'm.notice', body: 'Restart at 5' } });
    expect(sent.status).toBe(200);
    await drained(s);
    expect(recorder.destinationsOf(SERVER_EVENT_EDU)).toEqual(['other.test', 'remote.test']);
    expect(recorder.edus(SERVER_EVENT_EDU, 'remote.test')).toEqual([{
      event_id: sent.body.event_id, room_id: room, type: 'm.room.message', content: { msgtype: 'm.notice', body: 'Restart at 5' }, origin_server_ts: s.clock.now(),
    }]);
    // A server notice to a user never leaves the server (its room has no other server anyway).
    await s.http.post('/_synapse/admin/v1/send_server_notice').set(bearer(root)).send({ user_id: alice.userId, content: { msgtype: 'm.text', body: 'private' } }).expect(200);
    // A shutdown's explanation is for the local members it removes: the room goes on elsewhere.
    const doomed = await createRoom(s, alice);
    await remoteJoin(s, remote, doomed, RITA);
    await s.http.delete(`/_synapse/admin/v2/rooms/${enc(doomed)}`).set(bearer(root)).send({ message: 'Closed here' }).expect(200);
    await drained(s);
    expect(recorder.edus(SERVER_EVENT_EDU).map((c) => c.event_id)).toEqual([sent.body.event_id, sent.body.event_id]); // to remote.test and other.test
    // alice's leave from the shut-down room did go (the path to remote.test works).
    const leaves = recorder.sent.filter((t) => t.destination === 'remote.test').flatMap((t) => t.body.pdus as JsonObject[])
      .filter((p) => p.room_id === doomed && p.type === 'm.room.member' && (p.content as JsonObject).membership === 'leave');
    expect(leaves).toHaveLength(1);
  });

  it('nothing of a room goes to a server its ACL denies', async () => {
    const aclRoom = await createRoom(s, alice);
    await remoteJoin(s, remote, aclRoom, RITA);
    await remoteJoin(s, other, aclRoom, OSCAR);
    await denyServers(s, alice, aclRoom, ['other.test']);
    await drained(s);
    recorder.sent = [];
    expect((await typing(alice, aclRoom, { typing: true })).status).toBe(200);
    const ev = await remoteEvent(s, remote, aclRoom, { sender: RITA, type: 'm.room.message', content: { msgtype: 'm.text', body: 'hi' } });
    await transaction(s, remote, [wire(ev)]);
    expect((await s.http.post(`${C}/rooms/${enc(aclRoom)}/receipt/m.read/${enc(ev.event_id)}`).set(as(alice, session)).send({})).status).toBe(200);
    await drained(s);
    expect(recorder.destinationsOf('m.typing')).toEqual(['remote.test']);
    expect(recorder.destinationsOf('m.receipt')).toEqual(['remote.test']);
    expect(recorder.sent.filter((t) => t.destination === 'other.test')).toEqual([]);
  });
});
