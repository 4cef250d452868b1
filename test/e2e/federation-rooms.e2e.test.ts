// Rooms shared by two Hearths over TLS on loopback (issue 16): joins through the resident server
// (make_join / send_join), messages both ways, invites with a reason across servers (countersigned by
// the invitee's server, stripped state for the invitee), rejecting a remote invite (make_leave /
// send_leave), kicks and bans of remote users, leaving.
import { startHearths, syncUntil, until, type FedHearth, type FedUser, type HearthCluster } from '../helpers/hearths.js';

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
type SyncUser = FedUser & { since?: string };

const timelineOf = (body: Record<string, any>, roomId: string): Record<string, any>[] => body.rooms?.join?.[roomId]?.timeline?.events ?? [];

async function send(u: FedUser, roomId: string, body: string): Promise<string> {
  const r = await u.call('PUT', `${C}/rooms/${enc(roomId)}/send/m.room.message/${Math.random().toString(36).slice(2)}`, { msgtype: 'm.text', body });
  expect(r.status).toBe(200);
  return r.body.event_id as string;
}

describe('rooms across two Hearths', () => {
  let cluster: HearthCluster;
  let hs1: FedHearth;
  let hs2: FedHearth;
  let alice: SyncUser;
  let bob: SyncUser;
  let carol: SyncUser;
  let roomId: string;

  beforeAll(async () => {
    cluster = await startHearths(2);
    [hs1, hs2] = cluster.servers as [FedHearth, FedHearth];
    alice = await hs1.register('alice');
    bob = await hs2.register('bob');
    carol = await hs2.register('carol');
    for (const u of [alice, bob, carol]) await syncUntil(u, 'the first sync', () => true);
  }, 60_000);
  afterAll(async () => cluster?.close());

  it('bob on hs2 joins alice\'s public room on hs1 by its ID with a via server; both see the join', async () => {
    const created = await alice.call('POST', `${C}/createRoom`, { preset: 'public_chat', name: 'Across', room_version: '11' });
    expect(created.status).toBe(200);
    roomId = created.body.room_id;
    const joined = await bob.call('POST', `${C}/join/${enc(roomId)}?via=${enc(hs1.name)}`, {});
    expect(joined.status).toBe(200);
    expect(joined.body.room_id).toBe(roomId);
    // bob's server now holds the room: its state came with send_join.
    const name = await bob.call('GET', `${C}/rooms/${enc(roomId)}/state/m.room.name/`);
    expect(name).toEqual({ status: 200, body: { name: 'Across' } });
    const members = await bob.call('GET', `${C}/rooms/${enc(roomId)}/joined_members`);
    expect(Object.keys(members.body.joined).sort()).toEqual([alice.userId, bob.userId].sort());
    // alice sees bob's join arrive over federation.
    await syncUntil(alice, 'bob\'s join', (b) => timelineOf(b, roomId).some((e) => e.type === 'm.room.member' && e.state_key === bob.userId && e.content.membership === 'join'));
    await syncUntil(bob, 'the room in bob\'s sync', (b) => b.rooms?.join?.[roomId]);
  });

  it('messages go both ways and arrive once', async () => {
    const fromAlice = await send(alice, roomId, 'hello from hs1');
    const seenByBob = await syncUntil(bob, 'alice\'s message', (b) => timelineOf(b, roomId).find((e) => e.event_id === fromAlice));
    expect(seenByBob).toMatchObject({ sender: alice.userId, content: { body: 'hello from hs1' } });
    const fromBob = await send(bob, roomId, 'hello from hs2');
    const seenByAlice = await syncUntil(alice, 'bob\'s message', (b) => timelineOf(b, roomId).find((e) => e.event_id === fromBob));
    expect(seenByAlice).toMatchObject({ sender: bob.userId, content: { body: 'hello from hs2' } });
    // Each event is stored once on each side.
    const history = await alice.call('GET', `${C}/rooms/${enc(roomId)}/messages?dir=b&limit=50`);
    const ids = (history.body.chunk as { event_id: string }[]).map((e) => e.event_id);
    expect(ids.filter((id) => id === fromBob)).toHaveLength(1);
    expect(ids.filter((id) => id === fromAlice)).toHaveLength(1);
  });

  it('alice invites carol on hs2 with a reason: carol sees the invite, its reason and the room\'s name, and joins', async () => {
    const invited = await alice.call('POST', `${C}/rooms/${enc(roomId)}/invite`, { user_id: carol.userId, reason: 'Come and see' });
    expect(invited.status).toBe(200);
    const invite = await syncUntil(carol, 'the invite', (b) => b.rooms?.invite?.[roomId]);
    const events = invite.invite_state.events as Record<string, any>[];
    const own = events.find((e) => e.type === 'm.room.member' && e.state_key === carol.userId);
    expect(own).toMatchObject({ sender: alice.userId, content: { membership: 'invite', reason: 'Come and see' } });
    expect(events.find((e) => e.type === 'm.room.name')?.content).toEqual({ name: 'Across' });
    // The invite is countersigned by hs2 in hs1's copy.
    const stored = await hs1.running.services.storage.rooms.getEvent(own!.event_id);
    expect(Object.keys(stored!.event.signatures).sort()).toEqual([hs1.name, hs2.name].sort());
    expect((await carol.call('POST', `${C}/join/${enc(roomId)}`, {})).status).toBe(200);
    await syncUntil(alice, 'carol\'s join', (b) => timelineOf(b, roomId).some((e) => e.type === 'm.room.member' && e.state_key === carol.userId && e.content.membership === 'join'));
  });

  it('a remote invite rejected: dave on hs2 leaves the invite, alice sees the rejection', async () => {
    const dave: SyncUser = await hs2.register('dave');
    await syncUntil(dave, 'the first sync', () => true);
    const priv = await alice.call('POST', `${C}/createRoom`, { preset: 'private_chat', name: 'Private', invite: [dave.userId] });
    expect(priv.status).toBe(200);
    const privId = priv.body.room_id as string;
    await syncUntil(dave, 'the invite', (b) => b.rooms?.invite?.[privId]);
    expect((await dave.call('POST', `${C}/rooms/${enc(privId)}/leave`, { reason: 'No thanks' })).status).toBe(200);
    await syncUntil(dave, 'the room under leave', (b) => b.rooms?.leave?.[privId]);
    await until('dave\'s leave at hs1', async () => (await hs1.running.services.storage.rooms.getMembership(privId, dave.userId))?.membership === 'leave');
  });

  it('kick and ban of a remote user reach their server; a banned user cannot join again', async () => {
    expect((await alice.call('POST', `${C}/rooms/${enc(roomId)}/kick`, { user_id: carol.userId, reason: 'out' })).status).toBe(200);
    await syncUntil(carol, 'the kick', (b) => b.rooms?.leave?.[roomId]);
    expect((await alice.call('POST', `${C}/rooms/${enc(roomId)}/ban`, { user_id: carol.userId, reason: 'and stay out' })).status).toBe(200);
    await until('the ban at hs2', async () => (await hs2.running.services.storage.rooms.getMembership(roomId, carol.userId))?.membership === 'ban');
    const again = await carol.call('POST', `${C}/join/${enc(roomId)}`, {});
    expect({ status: again.status, errcode: again.body.errcode }).toEqual({ status: 403, errcode: 'M_FORBIDDEN' });
  });

  it('room version 12 (room IDs without a server): bob joins through the server he is given, and only then', async () => {
    const created = await alice.call('POST', `${C}/createRoom`, { preset: 'public_chat', name: 'Twelve', room_version: '12' });
    expect(created.status).toBe(200);
    const v12 = created.body.room_id as string;
    expect(v12).not.toContain(':');
    const nowhere = await bob.call('POST', `${C}/join/${enc(v12)}`, {});
    expect({ status: nowhere.status, errcode: nowhere.body.errcode }).toEqual({ status: 404, errcode: 'M_NOT_FOUND' });
    expect((await bob.call('POST', `${C}/join/${enc(v12)}?via=${enc(hs1.name)}`, {})).status).toBe(200);
    const fromBob = await send(bob, v12, 'v12 from hs2');
    await syncUntil(alice, 'bob\'s message in the v12 room', (b) => timelineOf(b, v12).some((e) => e.event_id === fromBob));
    const create = await bob.call('GET', `${C}/rooms/${enc(v12)}/state/m.room.create/`);
    expect(create.body.room_version).toBe('12');
  });

  it('history from before the join is backfilled from hs1 as bob pages back, in order, to the room\'s creation', async () => {
    const created = await alice.call('POST', `${C}/createRoom`, { preset: 'public_chat', name: 'History' });
    const histId = created.body.room_id as string;
    const sent: string[] = [];
    for (let i = 0; i < 25; i++) sent.push(await send(alice, histId, `old ${i}`));
    expect((await bob.call('POST', `${C}/join/${enc(histId)}?via=${enc(hs1.name)}`, {})).status).toBe(200);
    const seen: Record<string, any>[] = [];
    let from: string | undefined;
    for (let page = 0; page < 10; page++) {
      const r = await bob.call('GET', `${C}/rooms/${enc(histId)}/messages?dir=b&limit=10${from ? `&from=${enc(from)}` : ''}`);
      expect(r.status).toBe(200);
      seen.push(...(r.body.chunk as Record<string, any>[]));
      if (!r.body.end) break;
      from = r.body.end;
    }
    const messages = seen.filter((e) => e.type === 'm.room.message').map((e) => e.event_id as string);
    expect(messages).toEqual([...sent].reverse());
    // Newest first down to the room's creation, each event once.
    expect(seen[0]).toMatchObject({ type: 'm.room.member', state_key: bob.userId });
    expect(seen[seen.length - 1]).toMatchObject({ type: 'm.room.create' });
    expect(new Set(seen.map((e) => e.event_id)).size).toBe(seen.length);
    // Backfilled history never shows up in /sync as new.
    const sync = await bob.call('GET', `${C}/sync?since=${enc(bob.since!)}&timeout=0`);
    expect(JSON.stringify(sync.body)).not.toContain(sent[0]!);
  });

  it('alice leaves her own room while bob stays; she rejoins through hs2, the only server left in it', async () => {
    const created = await alice.call('POST', `${C}/createRoom`, { preset: 'public_chat', name: 'Handed over' });
    const id = created.body.room_id as string;
    expect((await bob.call('POST', `${C}/join/${enc(id)}?via=${enc(hs1.name)}`, {})).status).toBe(200);
    await syncUntil(alice, 'bob\'s join', (b) => timelineOf(b, id).some((e) => e.state_key === bob.userId));
    expect((await alice.call('POST', `${C}/rooms/${enc(id)}/leave`, {})).status).toBe(200);
    await until('alice\'s leave at hs2', async () => (await hs2.running.services.storage.rooms.getMembership(id, alice.userId))?.membership === 'leave');
    const whileAway = await send(bob, id, 'while alice was away');
    expect((await alice.call('POST', `${C}/join/${enc(id)}`, {})).status).toBe(200);
    // hs1's copy of the room caught up through the join: bob's message is in alice's history.
    const page = await alice.call('GET', `${C}/rooms/${enc(id)}/messages?dir=b&limit=10`);
    expect((page.body.chunk as { event_id: string }[]).map((e) => e.event_id)).toContain(whileAway);
  });

  it('bob leaves; alice sees it, and hs2 no longer gets the room\'s events', async () => {
    expect((await bob.call('POST', `${C}/rooms/${enc(roomId)}/leave`, {})).status).toBe(200);
    await syncUntil(alice, 'bob\'s leave', (b) => timelineOf(b, roomId).some((e) => e.type === 'm.room.member' && e.state_key === bob.userId && e.content.membership === 'leave'));
    const after = await send(alice, roomId, 'nobody from hs2 here');
    await new Promise((r) => setTimeout(r, 500));
    expect(await hs2.running.services.storage.rooms.getEvent(after)).toBeUndefined();
  });
});
