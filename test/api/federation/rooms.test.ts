// The room-level server-server API of a resident server, driven by a fake remote server that signs
// its requests and events with its own key (matrix-spec: server-server/joins-v1.yaml#makeJoin,
// joins-v2.yaml#sendJoinV2, leaving-v1.yaml#makeLeave, leaving-v2.yaml#sendLeaveV2,
// invites-v2.yaml#sendInviteV2, events.yaml, event_auth.yaml, backfill.yaml): what each answers, and
// the refusals (unknown rooms, users of another server, server ACLs, forged events, invite limits).
import { computeEventId, hashSignAndIdentify } from '../../../src/core/crypto/event-hashing.js';
import { SigningKey } from '../../../src/core/crypto/signing.js';
import { ROOM_VERSIONS } from '../../../src/core/room-versions.js';
import type { JsonObject } from '../../../src/wire.js';
import { fakeDns, knownRemote, type RemoteServer } from '../../helpers/federation.js';
import { bearer, expectError, makeTestServer, type TestServer, type TestUser } from '../../helpers/server.js';

const C = '/_matrix/client/v3';
const F = '/_matrix/federation';
const enc = encodeURIComponent;
const V11 = ROOM_VERSIONS['11'];
const BOB = '@bob:remote.test';

/** A request signed as `remote` (the X-Matrix header over method, URI and body). */
function signed(s: TestServer, remote: RemoteServer, method: 'GET' | 'PUT' | 'POST', uri: string, body?: unknown) {
  const auth = remote.authorization(method, uri, s.config.server_name, body);
  const r = method === 'GET' ? s.http.get(uri) : method === 'PUT' ? s.http.put(uri) : s.http.post(uri);
  return body === undefined ? r.set('Authorization', auth) : r.set('Authorization', auth).send(body as object);
}

describe('the server-server room API of a resident server', () => {
  let s: TestServer;
  let alice: TestUser;
  let remote: RemoteServer;
  let key: SigningKey;
  let roomId: string;

  const makeJoin = (room: string, user = BOB, from = remote) =>
    signed(s, from, 'GET', `${F}/v1/make_join/${enc(room)}/${enc(user)}?ver=10&ver=11&ver=12`);

  /** make_join, then the remote signs the template and sends it (send_join v2). */
  async function remoteJoin(room: string, user = BOB) {
    const made = await makeJoin(room, user);
    expect(made.status).toBe(200);
    const { hashes: _h, signatures: _s, ...template } = made.body.event as JsonObject;
    const built = hashSignAndIdentify({ ...(template as Record<string, unknown>), origin_server_ts: s.clock.now() } as never, 'remote.test', key, V11);
    const res = await signed(s, remote, 'PUT', `${F}/v2/send_join/${enc(room)}/${enc(built.eventId)}`, built.pdu);
    return { res, eventId: built.eventId, pdu: built.pdu as unknown as JsonObject };
  }

  beforeAll(async () => {
    s = makeTestServer({ federation: { enabled: true }, rate_limits: { enabled: true, federation_invite: { per_second: 0.001, burst: 3 }, invite: { per_second: 1000, burst: 1000 }, invite_per_invitee: { per_second: 1000, burst: 1000 }, message: { per_second: 1000, burst: 1000 } } },
      { federation: { dns: fakeDns(), sender: { initialBackoffMs: 3_600_000 } } });
    key = SigningKey.generate();
    remote = await knownRemote(s, 'remote.test', key);
    alice = await s.register('alice');
    const created = await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'public_chat', name: 'Resident', room_version: '11' });
    roomId = created.body.room_id;
  });
  afterAll(() => s.close());

  describe('make_join and send_join', () => {
    it('refuses an unknown room (404), a user of another server (403), and a server without the room\'s version (400)', async () => {
      expectError(await makeJoin('!nope:test.local'), 404, 'M_NOT_FOUND');
      expectError(await makeJoin(roomId, '@eve:elsewhere.test'), 403, 'M_FORBIDDEN');
      const noVer = await signed(s, remote, 'GET', `${F}/v1/make_join/${enc(roomId)}/${enc(BOB)}?ver=10`);
      expectError(noVer, 400, 'M_INCOMPATIBLE_ROOM_VERSION');
      expect(noVer.body.room_version).toBe('11');
    });

    it('refuses a join the room does not allow (invite-only, not invited): 403', async () => {
      const priv = await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'private_chat' });
      expectError(await makeJoin(priv.body.room_id), 403, 'M_FORBIDDEN');
    });

    it('answers a template on the room\'s newest event, then the full state and auth chain for the signed join', async () => {
      const made = await makeJoin(roomId);
      expect(made.status).toBe(200);
      expect(made.body.room_version).toBe('11');
      const t = made.body.event as JsonObject;
      expect(t).toMatchObject({ room_id: roomId, sender: BOB, state_key: BOB, type: 'm.room.member', content: { membership: 'join' } });
      const room = (await s.services.roomState.get(roomId))!;
      expect(t.prev_events).toEqual(room.extremities.map((x) => x.eventId));

      const { res, eventId } = await remoteJoin(roomId);
      expect(res.status).toBe(200);
      expect(res.body.members_omitted).toBe(false);
      expect(res.body.servers_in_room).toEqual(['test.local']);
      const stateTypes = (res.body.state as JsonObject[]).map((e) => `${String(e.type)}|${String(e.state_key)}`).sort();
      expect(stateTypes).toEqual(expect.arrayContaining(['m.room.create|', `m.room.member|${alice.userId}`, 'm.room.power_levels|', 'm.room.join_rules|', 'm.room.name|']));
      expect(stateTypes).not.toContain(`m.room.member|${BOB}`);
      // Every state event's auth events are in the state or the auth chain.
      const known = new Set([...(res.body.state as JsonObject[]), ...(res.body.auth_chain as JsonObject[])].map((e) => computeEventId(e, V11)));
      for (const e of res.body.state as JsonObject[]) for (const a of e.auth_events as string[]) expect(known.has(a)).toBe(true);
      // bob is a member now, and alice sees the join.
      expect((await s.services.storage.rooms.getMembership(roomId, BOB))?.membership).toBe('join');
      expect((await s.services.storage.rooms.getEvent(eventId))?.streamOrdering).toBeGreaterThan(0);
    });

    it('refuses a send_join whose event is not the one in the path, or not a join of the origin\'s own user: 400 M_INVALID_PARAM', async () => {
      const made = await makeJoin(roomId, '@carol:remote.test');
      const { hashes: _h, signatures: _s, ...template } = made.body.event as JsonObject;
      const built = hashSignAndIdentify({ ...(template as Record<string, unknown>) } as never, 'remote.test', key, V11);
      expectError(await signed(s, remote, 'PUT', `${F}/v2/send_join/${enc(roomId)}/${enc('$other')}`, built.pdu), 400, 'M_INVALID_PARAM');
      const leave = hashSignAndIdentify({ ...(template as Record<string, unknown>), content: { membership: 'leave' } } as never, 'remote.test', key, V11);
      expectError(await signed(s, remote, 'PUT', `${F}/v2/send_join/${enc(roomId)}/${enc(leave.eventId)}`, leave.pdu), 400, 'M_INVALID_PARAM');
    });

    it('refuses a join signed with another key than the origin\'s: 400, nothing stored', async () => {
      const made = await makeJoin(roomId, '@mallory:remote.test');
      const { hashes: _h, signatures: _s, ...template } = made.body.event as JsonObject;
      const forged = hashSignAndIdentify({ ...(template as Record<string, unknown>) } as never, 'remote.test', SigningKey.generate(), V11);
      expectError(await signed(s, remote, 'PUT', `${F}/v2/send_join/${enc(roomId)}/${enc(forged.eventId)}`, forged.pdu), 400, 'M_INVALID_PARAM');
      expect(await s.services.storage.rooms.getEvent(forged.eventId)).toBeUndefined();
    });
  });

  describe('a room\'s events and state for a server in it', () => {
    let joinId: string;
    beforeAll(async () => {
      joinId = (await s.services.storage.rooms.getMembership(roomId, BOB))!.eventId;
      for (let i = 0; i < 5; i++) await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/h${i}`).set(bearer(alice)).send({ msgtype: 'm.text', body: `m${i}` });
    });

    it('GET /event, /state, /state_ids and /event_auth', async () => {
      const ev = await signed(s, remote, 'GET', `${F}/v1/event/${enc(joinId)}`);
      expect(ev.status).toBe(200);
      expect(computeEventId(ev.body.pdus[0], V11)).toBe(joinId);
      const ids = await signed(s, remote, 'GET', `${F}/v1/state_ids/${enc(roomId)}?event_id=${enc(joinId)}`);
      expect(ids.status).toBe(200);
      // The state before bob's join: without bob.
      const before = (await s.services.storage.rooms.getEvents(ids.body.pdu_ids)).map((r) => r.event);
      expect(before.some((e) => e.state_key === BOB)).toBe(false);
      expect(before.some((e) => e.type === 'm.room.create')).toBe(true);
      const state = await signed(s, remote, 'GET', `${F}/v1/state/${enc(roomId)}?event_id=${enc(joinId)}`);
      expect((state.body.pdus as JsonObject[]).map((e) => computeEventId(e, V11)).sort()).toEqual([...ids.body.pdu_ids].sort());
      const auth = await signed(s, remote, 'GET', `${F}/v1/event_auth/${enc(roomId)}/${enc(joinId)}`);
      const chain = (auth.body.auth_chain as JsonObject[]).map((e) => computeEventId(e, V11));
      const join = (await s.services.storage.rooms.getEvent(joinId))!.event;
      for (const a of join.auth_events) expect(chain).toContain(a);
      expect(chain).not.toContain(joinId);
    });

    it('GET /backfill walks back from the given events, deepest first; POST /get_missing_events fills a gap oldest first', async () => {
      const latest = (await s.services.roomState.get(roomId))!.extremities[0]!.eventId;
      const back = await signed(s, remote, 'GET', `${F}/v1/backfill/${enc(roomId)}?v=${enc(latest)}&limit=4`);
      expect(back.status).toBe(200);
      const depths = (back.body.pdus as JsonObject[]).map((e) => e.depth as number);
      expect(depths).toHaveLength(4);
      expect([...depths].sort((a, b) => b - a)).toEqual(depths);
      expect(computeEventId(back.body.pdus[0], V11)).toBe(latest);
      const missing = await signed(s, remote, 'POST', `${F}/v1/get_missing_events/${enc(roomId)}`, { earliest_events: [joinId], latest_events: [latest], limit: 10, min_depth: 0 });
      expect(missing.status).toBe(200);
      const bodies = (missing.body.events as JsonObject[]).map((e) => (e.content as JsonObject).body);
      expect(bodies).toEqual(['m0', 'm1', 'm2', 'm3']);
    });

    it('refuses a missing parameter (400 M_MISSING_PARAM), an unknown event (404), a server with no member in the room (403)', async () => {
      expectError(await signed(s, remote, 'GET', `${F}/v1/state_ids/${enc(roomId)}`), 400, 'M_MISSING_PARAM');
      expectError(await signed(s, remote, 'GET', `${F}/v1/backfill/${enc(roomId)}?limit=3`), 400, 'M_MISSING_PARAM');
      expectError(await signed(s, remote, 'GET', `${F}/v1/event/${enc('$unknown')}`), 404, 'M_NOT_FOUND');
      const stranger = await knownRemote(s, 'stranger.test');
      expectError(await signed(s, stranger, 'GET', `${F}/v1/state_ids/${enc(roomId)}?event_id=${enc(joinId)}`), 403, 'M_FORBIDDEN');
      expectError(await signed(s, stranger, 'GET', `${F}/v1/event/${enc(joinId)}`), 403, 'M_FORBIDDEN');
    });
  });

  describe('server ACLs', () => {
    it('a server the room\'s ACL denies can neither join, read, nor send: 403 and its PDUs refused', async () => {
      const acl = await s.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.server_acl/`).set(bearer(alice)).send({ allow: ['*'], deny: ['remote.test'], allow_ip_literals: false });
      expect(acl.status).toBe(200);
      expectError(await makeJoin(roomId, '@dan:remote.test'), 403, 'M_FORBIDDEN');
      const joinId = (await s.services.storage.rooms.getMembership(roomId, BOB))!.eventId;
      expectError(await signed(s, remote, 'GET', `${F}/v1/state_ids/${enc(roomId)}?event_id=${enc(joinId)}`), 403, 'M_FORBIDDEN');
      // A message of bob's, built on the room's newest event: refused in the transaction's answer.
      const room = (await s.services.roomState.get(roomId))!;
      const lookup = (t: string, k: string) => [...room.state.values()].find((e) => e.type === t && e.state_key === k)?.event_id;
      const msg = hashSignAndIdentify({
        room_id: roomId, sender: BOB, type: 'm.room.message', content: { body: 'denied' }, origin_server_ts: s.clock.now(),
        prev_events: room.extremities.map((x) => x.eventId), auth_events: [lookup('m.room.create', ''), lookup('m.room.power_levels', ''), lookup('m.room.member', BOB)].filter((x): x is string => !!x),
        depth: room.depth + 1,
      }, 'remote.test', key, V11);
      const txn = await signed(s, remote, 'PUT', `${F}/v1/send/acl1`, { origin: 'remote.test', origin_server_ts: 1, pdus: [msg.pdu] });
      expect(txn.status).toBe(200);
      expect(txn.body.pdus[msg.eventId].error).toMatch(/ACL/);
      expect(await s.services.storage.rooms.getEvent(msg.eventId)).toBeUndefined();
      // Lift it again for the tests after this one.
      await s.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.server_acl/`).set(bearer(alice)).send({ allow: ['*'], deny: [] });
    });
  });

  describe('invites from another server', () => {
    let n = 0;
    async function invite(target: string, opts: { reason?: string; version?: string; signer?: SigningKey; pathId?: string; sender?: string } = {}) {
      const room = `!invite${++n}:remote.test`;
      const pdu = {
        room_id: room, sender: opts.sender ?? BOB, type: 'm.room.member', state_key: target,
        content: { membership: 'invite', ...(opts.reason !== undefined ? { reason: opts.reason } : {}) },
        origin_server_ts: s.clock.now(), prev_events: ['$p'], auth_events: ['$a'], depth: 5,
      };
      const built = hashSignAndIdentify(pdu, 'remote.test', opts.signer ?? key, V11);
      const createPdu = hashSignAndIdentify({ room_id: room, sender: BOB, type: 'm.room.create', state_key: '', content: { room_version: '11' }, origin_server_ts: 1, prev_events: [], auth_events: [], depth: 1 }, 'remote.test', key, V11);
      const namePdu = hashSignAndIdentify({ room_id: room, sender: BOB, type: 'm.room.name', state_key: '', content: { name: 'Remote room' }, origin_server_ts: 2, prev_events: [], auth_events: [], depth: 2 }, 'remote.test', key, V11);
      const res = await signed(s, remote, 'PUT', `${F}/v2/invite/${enc(room)}/${enc(opts.pathId ?? built.eventId)}`, {
        event: built.pdu, room_version: opts.version ?? '11', invite_room_state: [createPdu.pdu, namePdu.pdu],
      });
      return { res, room, eventId: built.eventId };
    }

    it('signs an invite of a local user and returns it; the invitee sees it with its reason and the room\'s name', async () => {
      const carol = await s.register('carol');
      const { res, room, eventId } = await invite(carol.userId, { reason: 'Join us' });
      expect(res.status).toBe(200);
      expect(Object.keys((res.body.event as JsonObject).signatures as object).sort()).toEqual(['remote.test', 'test.local']);
      expect(computeEventId(res.body.event, V11)).toBe(eventId);
      const sync = await s.http.get(`${C}/sync`).set(bearer(carol));
      const events = sync.body.rooms.invite[room].invite_state.events as JsonObject[];
      expect(events.find((e) => e.type === 'm.room.member')).toMatchObject({ sender: BOB, content: { membership: 'invite', reason: 'Join us' } });
      expect(events.find((e) => e.type === 'm.room.name')?.content).toEqual({ name: 'Remote room' });
    });

    it('refuses: an unsupported room version (400), a user of another server (403), an unknown user (404), a wrong event ID (400), a forged signature (403), an inviter of another server (403), a reason over the cap (400)', async () => {
      const dave = await s.register('dave');
      const v = (await invite(dave.userId, { version: '1' })).res;
      expectError(v, 400, 'M_INCOMPATIBLE_ROOM_VERSION');
      expectError((await invite('@x:elsewhere.test')).res, 403, 'M_FORBIDDEN');
      expectError((await invite('@nobody:test.local')).res, 404, 'M_NOT_FOUND');
      expectError((await invite(dave.userId, { pathId: '$wrong' })).res, 400, 'M_INVALID_PARAM');
      expectError((await invite(dave.userId, { signer: SigningKey.generate() })).res, 403, 'M_FORBIDDEN');
      expectError((await invite(dave.userId, { sender: '@eve:elsewhere.test' })).res, 403, 'M_FORBIDDEN');
      expectError((await invite(dave.userId, { reason: 'x'.repeat(s.config.invite_reason_max_length + 1) })).res, 400, 'M_BAD_JSON');
      // None of them reached dave.
      const sync = await s.http.get(`${C}/sync`).set(bearer(dave));
      expect(Object.keys(sync.body.rooms?.invite ?? {})).toEqual([]);
    });

    it('limits invites per origin server: past the burst, 429 M_LIMIT_EXCEEDED', async () => {
      const erin = await s.register('erin');
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await invite(erin.userId)).res.status);
      // The burst (3) was partly used by the invites above; the next one past it is refused.
      expect(statuses).toContain(429);
      const refused = await invite(erin.userId);
      expectError(refused.res, 429, 'M_LIMIT_EXCEEDED');
    });
  });
});
