// Rooms as event graphs, tested without any network (spec/event-graph.md; server-server-api "Checks
// performed on receipt of a PDU", "Soft failure", "Rejection"): events of a remote server, signed with
// its own key, go through EventReceiver; local events through the writer. Forks, resolution, rejected
// and soft-failed events, gaps and backfilled history.
import { hashSignAndIdentify } from '../../../src/core/crypto/event-hashing.js';
import { MissingEventsError } from '../../../src/core/events/receive.js';
import type { StoredEvent } from '../../../src/core/events/types.js';
import { MAX_PREV_EVENTS } from '../../../src/core/events/writer.js';
import { ROOM_VERSIONS, type RoomVersion } from '../../../src/core/room-versions.js';
import type { RoomState } from '../../../src/core/rooms/room-state.js';
import { receiverFor, remoteServer, wire } from '../../helpers/graph.js';
import { bearer, makeTestServer, type TestServer, type TestUser } from '../../helpers/server.js';

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
const V11 = ROOM_VERSIONS['11'];
const BOB = '@bob:remote.test';
const CAROL = '@carol:remote.test';

interface World {
  s: TestServer;
  alice: TestUser;
  roomId: string;
  remote: ReturnType<typeof remoteServer>;
  receiver: ReturnType<typeof receiverFor>;
  ts: number;
}

async function world(): Promise<World> {
  const s = makeTestServer();
  const alice = await s.register('alice');
  const created = await s.http.post(`${C}/createRoom`).set(bearer(alice)).send({ preset: 'public_chat', room_version: '11' });
  expect(created.status).toBe(200);
  const remote = remoteServer('remote.test');
  return { s, alice, roomId: created.body.room_id, remote, receiver: receiverFor(s, [remote]), ts: 1_700_000_000_000 };
}

const room = async (w: World): Promise<RoomState> => (await w.s.services.roomState.get(w.roomId))!;
const extremityEvents = async (w: World): Promise<StoredEvent[]> =>
  (await w.s.services.storage.rooms.getEvents((await room(w)).extremities.map((x) => x.eventId))).map((r) => r.event);
const stored = async (w: World, id: string) => (await w.s.services.storage.rooms.getEvent(id))!;

/** A remote event built on the room's current extremities and state (what a server in sync would send). */
async function remoteEvent(w: World, draft: { sender: string; type: string; state_key?: string; content: Record<string, unknown> }, opts: { prev?: StoredEvent[]; state?: Map<string, StoredEvent>; ts?: number } = {}): Promise<StoredEvent> {
  const r = await room(w);
  w.ts += 1000;
  return w.remote.event(V11, { room_id: w.roomId, ...draft, content: draft.content as never }, opts.prev ?? (await extremityEvents(w)), opts.state ?? r.state, opts.ts ?? w.ts);
}

async function bobJoins(w: World): Promise<StoredEvent> {
  const join = await remoteEvent(w, { sender: BOB, type: 'm.room.member', state_key: BOB, content: { membership: 'join' } });
  expect(await w.receiver.receive(wire(join), V11)).toEqual({ eventId: join.event_id, status: 'accepted' });
  return join;
}

async function localSend(w: World, body: string): Promise<string> {
  const r = await w.s.http.put(`${C}/rooms/${enc(w.roomId)}/send/m.room.message/${Math.random().toString(36).slice(2)}`).set(bearer(w.alice)).send({ msgtype: 'm.text', body });
  expect(r.status).toBe(200);
  return r.body.event_id as string;
}

async function localState(w: World, type: string, content: Record<string, unknown>, key = ''): Promise<string> {
  const r = await w.s.http.put(`${C}/rooms/${enc(w.roomId)}/state/${type}/${enc(key)}`).set(bearer(w.alice)).send(content);
  expect(r.status).toBe(200);
  return r.body.event_id as string;
}

describe('receiving remote events (checks on receipt)', () => {
  let w: World;
  beforeEach(async () => { w = await world(); });
  afterEach(() => w.s.close());

  it('accepts a remote join: it becomes state, the only forward extremity, a member, and reaches /sync', async () => {
    const since = (await w.s.http.get(`${C}/sync`).set(bearer(w.alice))).body.next_batch;
    const join = await bobJoins(w);
    const r = await room(w);
    expect(r.extremities.map((x) => x.eventId)).toEqual([join.event_id]);
    expect(r.state.get(`m.room.member\u0000${BOB}`)?.event_id).toBe(join.event_id);
    expect((await w.s.services.storage.rooms.getMembership(w.roomId, BOB))?.membership).toBe('join');
    const rec = await stored(w, join.event_id);
    expect(rec.streamOrdering).toBeGreaterThan(0);
    expect(rec.graph).toMatchObject({ outlier: false, rejected: null, softFailed: false });
    // The state after it is its state group: the state before plus itself (one lookup each).
    const after = await w.s.services.stateGroups.load(rec.graph!.stateAfter);
    const before = await w.s.services.stateGroups.load(rec.graph!.stateBefore);
    expect(after.get(`m.room.member\u0000${BOB}`)).toBe(join.event_id);
    expect(before.has(`m.room.member\u0000${BOB}`)).toBe(false);
    expect(after.size).toBe(before.size + 1);
    const sync = await w.s.http.get(`${C}/sync`).query({ since }).set(bearer(w.alice));
    expect(sync.body.rooms.join[w.roomId].timeline.events.map((e: StoredEvent) => e.event_id)).toContain(join.event_id);
  });

  it('a fork: a local and a remote event on the same parent leave two extremities; the next local event names both, depth = max + 1', async () => {
    await bobJoins(w);
    const parent = (await extremityEvents(w))[0]!;
    const local = await localSend(w, 'from alice');
    // bob's server had not seen alice's message: its event names the same parent.
    const fromBob = await remoteEvent(w, { sender: BOB, type: 'm.room.message', content: { msgtype: 'm.text', body: 'from bob' } }, { prev: [parent] });
    expect((await w.receiver.receive(wire(fromBob), V11)).status).toBe('accepted');
    expect(new Set((await room(w)).extremities.map((x) => x.eventId))).toEqual(new Set([local, fromBob.event_id]));
    const merge = await localSend(w, 'merging');
    const ev = (await stored(w, merge)).event;
    expect(new Set(ev.prev_events)).toEqual(new Set([local, fromBob.event_id]));
    expect(ev.depth).toBe(Math.max((await stored(w, local)).event.depth, fromBob.depth) + 1);
    expect((await room(w)).extremities.map((x) => x.eventId)).toEqual([merge]);
    // auth_events of the new event: selected from the state before it (create, power levels, sender's membership).
    const authTypes = (await w.s.services.storage.rooms.getEvents(ev.auth_events)).map((r) => r.event.type).sort();
    expect(authTypes).toEqual(['m.room.create', 'm.room.member', 'm.room.power_levels']);
  });

  it('state resolution on a fork: two topic changes on two branches; the current state is the resolved one, seen in /state and /sync', async () => {
    await bobJoins(w);
    // bob may set the topic.
    const pl = (await room(w)).state.get('m.room.power_levels\u0000')!;
    await localState(w, 'm.room.power_levels', { ...pl.content, users: { ...(pl.content.users as object), [BOB]: 50 } });
    const since = (await w.s.http.get(`${C}/sync`).set(bearer(w.alice))).body.next_batch;
    const parent = (await extremityEvents(w))[0]!;
    const stateAtParent = new Map((await room(w)).state);
    // Alice's topic first (an earlier origin_server_ts), bob's on a branch from the same parent, later:
    // both pass the auth rules; the mainline ordering puts the later one last, and it wins (rooms/v2).
    const aliceTopic = await localState(w, 'm.room.topic', { topic: 'from alice' });
    const bobTopic = await remoteEvent(w, { sender: BOB, type: 'm.room.topic', state_key: '', content: { topic: 'from bob' } }, { prev: [parent], state: stateAtParent, ts: Date.now() + 3_600_000 });
    expect((await w.receiver.receive(wire(bobTopic), V11)).status).toBe('accepted');
    expect((await room(w)).state.get('m.room.topic\u0000')?.event_id).toBe(bobTopic.event_id);
    const topic = await w.s.http.get(`${C}/rooms/${enc(w.roomId)}/state/m.room.topic/`).set(bearer(w.alice));
    expect(topic.body).toEqual({ topic: 'from bob' });
    // The client that synced before both sees both in its timeline and ends with the resolved topic.
    const sync = await w.s.http.get(`${C}/sync`).query({ since }).set(bearer(w.alice));
    const joined = sync.body.rooms.join[w.roomId];
    const topics = [...joined.state.events, ...joined.timeline.events].filter((e: StoredEvent) => e.type === 'm.room.topic').map((e: StoredEvent) => e.event_id);
    expect(topics).toEqual([aliceTopic, bobTopic.event_id]);
    // Each event keeps the state at its own place in the graph.
    const bobRec = await stored(w, bobTopic.event_id);
    expect((await w.s.services.stateGroups.load(bobRec.graph!.stateBefore)).get('m.room.topic\u0000')).toBeUndefined();
  });

  it('rejected: an event the auth rules refuse against its own auth events is stored as rejected, never state, never shown', async () => {
    await bobJoins(w);
    const pl = (await room(w)).state.get('m.room.power_levels\u0000')!;
    // bob (level 0) makes himself 100: rule 10 refuses raising a level above one's own.
    const grab = await remoteEvent(w, { sender: BOB, type: 'm.room.power_levels', state_key: '', content: { ...pl.content, users: { ...(pl.content.users as object), [BOB]: 100 } } });
    const result = await w.receiver.receive(wire(grab), V11);
    expect(result.status).toBe('rejected');
    expect(result.reason).toMatch(/auth rule/);
    const rec = await stored(w, grab.event_id);
    expect(rec.graph?.rejected).toMatch(/auth rule/);
    expect(rec.streamOrdering).toBeLessThan(0);
    expect((await room(w)).state.get('m.room.power_levels\u0000')?.event_id).toBe(pl.event_id);
    expect((await room(w)).extremities.map((x) => x.eventId)).not.toContain(grab.event_id);
    const ev = await w.s.http.get(`${C}/rooms/${enc(w.roomId)}/event/${enc(grab.event_id)}`).set(bearer(w.alice));
    expect({ status: ev.status, errcode: ev.body.errcode }).toEqual({ status: 404, errcode: 'M_NOT_FOUND' });
    // An event citing the rejected one among its auth events is rejected too (rule 2.3).
    const stateWithGrab = new Map((await room(w)).state);
    stateWithGrab.set('m.room.power_levels\u0000', grab);
    const next = await remoteEvent(w, { sender: BOB, type: 'm.room.topic', state_key: '', content: { topic: 'x' } }, { state: stateWithGrab });
    expect((await w.receiver.receive(wire(next), V11)).status).toBe('rejected');
  });

  it('soft-failed: allowed at its place in the graph but not by the current state; stored, never shown, never an extremity', async () => {
    await bobJoins(w);
    const beforeBan = await extremityEvents(w);
    const stateBeforeBan = new Map((await room(w)).state);
    const ban = await w.s.http.post(`${C}/rooms/${enc(w.roomId)}/ban`).set(bearer(w.alice)).send({ user_id: BOB, reason: 'spam' });
    expect(ban.status).toBe(200);
    const since = (await w.s.http.get(`${C}/sync`).set(bearer(w.alice))).body.next_batch;
    const extremitiesAfterBan = (await room(w)).extremities;
    // bob's server sends a message built before it learnt of the ban.
    const late = await remoteEvent(w, { sender: BOB, type: 'm.room.message', content: { msgtype: 'm.text', body: 'spam' } }, { prev: beforeBan, state: stateBeforeBan });
    const result = await w.receiver.receive(wire(late), V11);
    expect(result.status).toBe('soft_failed');
    const rec = await stored(w, late.event_id);
    expect(rec.graph?.softFailed).toBe(true);
    expect((await room(w)).extremities).toEqual(extremitiesAfterBan);
    const sync = await w.s.http.get(`${C}/sync`).query({ since, timeout: 0 }).set(bearer(w.alice));
    expect(JSON.stringify(sync.body)).not.toContain(late.event_id);
    const messages = await w.s.http.get(`${C}/rooms/${enc(w.roomId)}/messages`).query({ dir: 'b', limit: 50 }).set(bearer(w.alice));
    expect(JSON.stringify(messages.body)).not.toContain(late.event_id);
  });

  it('a gap: without its prev events an event needs them fetched; with the state before it given, it is stored and its prevs become backward extremities', async () => {
    await bobJoins(w);
    const r = await room(w);
    const ghost = remoteServer('remote.test');
    // An event naming a prev event this server never saw.
    const fakePrev = { ...(await extremityEvents(w))[0]!, event_id: '$missing-prev-event-id-000000000000000000000' };
    const after = await remoteEvent(w, { sender: BOB, type: 'm.room.message', content: { msgtype: 'm.text', body: 'after a gap' } }, { prev: [fakePrev] });
    void ghost;
    await expect(w.receiver.receive(wire(after), V11)).rejects.toBeInstanceOf(MissingEventsError);
    expect(await w.s.services.storage.rooms.getEvent(after.event_id)).toBeUndefined();
    const stateMap = new Map([...r.state].map(([k, e]) => [k, e.event_id]));
    expect((await w.receiver.receive(wire(after), V11, { stateBefore: stateMap })).status).toBe('accepted');
    expect(await w.s.services.storage.rooms.getBackwardExtremities(w.roomId)).toEqual([fakePrev.event_id]);
  });

  it('drops an event with a bad signature (nothing stored) and stores one with a bad content hash in its redacted form', async () => {
    await bobJoins(w);
    const msg = await remoteEvent(w, { sender: BOB, type: 'm.room.message', content: { msgtype: 'm.text', body: 'original' } });
    const forged = { ...wire(msg), origin_server_ts: (msg.origin_server_ts as number) + 1 };
    await expect(w.receiver.receive(forged, V11)).rejects.toMatchObject({ errcode: 'M_UNAUTHORIZED' });
    // Changed content keeps the (redacted) signature valid but not the content hash.
    const tampered = { ...wire(msg), content: { msgtype: 'm.text', body: 'tampered' } };
    expect((await w.receiver.receive(tampered, V11)).status).toBe('accepted');
    expect((await stored(w, msg.event_id)).event.content).toEqual({});
  });

  it(`names at most ${MAX_PREV_EVENTS} prev events, the deepest extremities`, async () => {
    await bobJoins(w);
    const parent = (await extremityEvents(w))[0]!;
    const state = new Map((await room(w)).state);
    for (let i = 0; i < 12; i++) {
      const e = await remoteEvent(w, { sender: BOB, type: 'm.room.message', content: { msgtype: 'm.text', body: `fork ${i}` } }, { prev: [parent], state });
      expect((await w.receiver.receive(wire(e), V11)).status).toBe('accepted');
    }
    expect((await room(w)).extremities).toHaveLength(12);
    const id = await localSend(w, 'after many forks');
    expect((await stored(w, id)).event.prev_events).toHaveLength(MAX_PREV_EVENTS);
    // The two extremities it did not name remain.
    expect((await room(w)).extremities).toHaveLength(12 - MAX_PREV_EVENTS + 1);
  });
});

describe('redactions from other servers', () => {
  it('a remote redaction of its own server\'s event applies; one of our event by a user without power does not', async () => {
    const w = await world();
    try {
      await bobJoins(w);
      const msg = await remoteEvent(w, { sender: BOB, type: 'm.room.message', content: { msgtype: 'm.text', body: 'oops' } });
      expect((await w.receiver.receive(wire(msg), V11)).status).toBe('accepted');
      const redaction = await remoteEvent(w, { sender: BOB, type: 'm.room.redaction', content: { redacts: msg.event_id } });
      expect((await w.receiver.receive(wire(redaction), V11)).status).toBe('accepted');
      const gone = await stored(w, msg.event_id);
      expect(gone.redactedBy).toBe(redaction.event_id);
      expect(gone.event.content).toEqual({});
      // alice's message, redacted by bob (another server, power 0): the redaction is an event, the message stays.
      const mine = await localSend(w, 'keep me');
      const attempt = await remoteEvent(w, { sender: BOB, type: 'm.room.redaction', content: { redacts: mine } });
      expect((await w.receiver.receive(wire(attempt), V11)).status).toBe('accepted');
      const kept = await stored(w, mine);
      expect(kept.redactedBy).toBeNull();
      expect(kept.event.content.body).toBe('keep me');
      // A client sees the first one redacted.
      const res = await w.s.http.get(`${C}/rooms/${enc(w.roomId)}/event/${enc(msg.event_id)}`).set(bearer(w.alice));
      expect(res.body.content).toEqual({});
      expect(res.body.unsigned.redacted_because.event_id).toBe(redaction.event_id);
    } finally {
      await w.s.close();
    }
  });
});

describe('joining a remote room and backfilled history', () => {
  it('stores the room from a join with its state, places backfilled history in topological order in /messages, never in /sync', async () => {
    const s = makeTestServer();
    try {
      const alice = await s.register('alice');
      const remote = remoteServer('remote.test');
      const receiver = receiverFor(s, [remote]);
      const v: RoomVersion = V11;
      // The remote room: create, bob's join, power levels, public join rules, then history.
      let ts = 1_700_000_000_000;
      const state = new Map<string, StoredEvent>();
      const key = (e: StoredEvent) => `${e.type}\u0000${e.state_key}`;
      const roomId = '!remoteroom:remote.test';
      const make = (draft: { sender: string; type: string; state_key?: string; content: Record<string, unknown> }, prev: StoredEvent[]) => {
        ts += 1000;
        const e = remote.event(v, { room_id: roomId, ...draft, content: draft.content as never }, prev, state, ts);
        if (e.state_key !== undefined) state.set(key(e), e);
        return e;
      };
      const create = make({ sender: BOB, type: 'm.room.create', state_key: '', content: { room_version: '11' } }, []);
      const bobJoin = make({ sender: BOB, type: 'm.room.member', state_key: BOB, content: { membership: 'join' } }, [create]);
      const pl = make({ sender: BOB, type: 'm.room.power_levels', state_key: '', content: { users: { [BOB]: 100 } } }, [bobJoin]);
      const rules = make({ sender: BOB, type: 'm.room.join_rules', state_key: '', content: { join_rule: 'public' } }, [pl]);
      const history: StoredEvent[] = [];
      let last = rules;
      for (let i = 0; i < 3; i++) history.push((last = make({ sender: BOB, type: 'm.room.message', content: { msgtype: 'm.text', body: `old ${i}` } }, [last])));
      // Alice's join, as a send_join would make it: built on the remote's newest event, signed by us.
      const local = await s.services.signingKey();
      const joinPdu = { room_id: roomId, sender: alice.userId, type: 'm.room.member', state_key: alice.userId, content: { membership: 'join' },
        origin_server_ts: ts + 1000, prev_events: [last.event_id], auth_events: [create.event_id, rules.event_id, pl.event_id], depth: last.depth + 1 };
      const built = hashSignAndIdentify(joinPdu, s.config.server_name, local, v);
      // The state and auth chain arrive first, as outliers; then the join with the room's state.
      for (const e of [create, bobJoin, pl, rules]) expect((await receiver.receive(wire(e), v, { outlier: true })).status).toMatch(/outlier|duplicate/);
      const stateMap = new Map([...state].map(([k, e]) => [k, e.event_id]));
      expect((await receiver.receive(built.pdu as never, v, { stateBefore: stateMap })).status).toBe('accepted');
      expect((await s.services.storage.rooms.getMembership(roomId, alice.userId))?.membership).toBe('join');
      const sync = await s.http.get(`${C}/sync`).set(bearer(alice));
      const joined = sync.body.rooms.join[roomId];
      expect(joined).toBeDefined();
      // Backfill: the history before the join. /backfill answers newest first; they are placed oldest
      // first, the oldest with the state before it (a /state_ids answer: here the room's state then).
      for (const [i, e] of history.entries()) {
        const opts = i === 0 ? { backfilled: true, stateBefore: stateMap } : { backfilled: true };
        expect((await receiver.receive(wire(e), v, opts)).status).toBe('accepted');
      }
      for (const e of history) expect((await s.services.storage.rooms.getEvent(e.event_id))!.streamOrdering).toBeLessThan(0);
      const messages = await s.http.get(`${C}/rooms/${enc(roomId)}/messages`).query({ dir: 'b', limit: 10 }).set(bearer(alice));
      const bodies = (messages.body.chunk as StoredEvent[]).map((e) => (e.type === 'm.room.message' ? e.content.body : e.type));
      expect(bodies.slice(0, 4)).toEqual(['m.room.member', 'old 2', 'old 1', 'old 0']);
      const again = await s.http.get(`${C}/sync`).query({ since: sync.body.next_batch, timeout: 0 }).set(bearer(alice));
      expect(JSON.stringify(again.body)).not.toContain(history[0]!.event_id);
    } finally {
      await s.close();
    }
  });
});
