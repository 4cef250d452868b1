// Server notices and server-generated events through matrix-js-sdk's own sync loop (startClient),
// against a real Hearth on port 0: the SDK gets an invite from the server name (no '@'), joins the
// notices room and gets the notice in its timeline; a room-scoped server event reaches the members'
// live timelines. The SDK must not choke on the domain sender: events come through RoomEvent.Timeline
// with getSender() === server name, and the clients keep syncing (no ERROR state).
import * as sdk from 'matrix-js-sdk';
import { startE2eServer, type E2eServer, type E2eUser } from './helpers.js';
import { createHarness, muteKnownSdkNoise } from './sdk-harness.js';

const PREPARED_TIMEOUT_MS = 15_000;
const DELIVERY_TIMEOUT_MS = 8_000;
const SERVER = 'localhost';

// The SDK reports the post into the notices room that this test expects the server to refuse.
const EXPECTED_NOISE = [/^Error sending event$/];

interface Synced extends E2eUser {
  syncStates: string[];
  syncErrors: string[];
  /** Every event the SDK added to a live timeline, by event ID. */
  timeline: Map<string, sdk.MatrixEvent>;
}

describe('server notices and server events through matrix-js-sdk startClient()', () => {
  let hs: E2eServer;
  let unmute: (() => void) | undefined;
  let root: E2eUser;
  let alice: Synced;
  let bob: Synced;
  let noticeRoomId: string | undefined;
  const { waitFor } = createHarness(() => hs.url);

  beforeAll(async () => {
    unmute = muteKnownSdkNoise(EXPECTED_NOISE);
    hs = await startE2eServer();
    root = await hs.registerClient('root');
    await hs.services.accounts.setAdmin(root.userId, true);
  });
  afterAll(async () => {
    await hs?.stop();
    unmute?.();
  });

  async function adminCall(method: string, path: string, body: object): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${hs.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${root.accessToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async function startSynced(localpart: string): Promise<Synced> {
    const u = await hs.registerClient(localpart);
    const synced: Synced = { ...u, syncStates: [], syncErrors: [], timeline: new Map() };
    u.client.on(sdk.ClientEvent.Sync, (state, _prev, data) => {
      synced.syncStates.push(state);
      if (data?.error) synced.syncErrors.push(`${state}: ${data.error.message}`);
    });
    u.client.on(sdk.RoomEvent.Timeline, (ev, _room, toStart) => {
      if (!toStart && ev.getId()) synced.timeline.set(ev.getId()!, ev);
    });
    const prepared = waitFor(u.client, [sdk.ClientEvent.Sync], () => (synced.syncStates.includes(sdk.SyncState.Prepared) ? true : undefined), PREPARED_TIMEOUT_MS, `${u.userId} to reach PREPARED`);
    await u.client.startClient({ initialSyncLimit: 10 });
    await prepared;
    return synced;
  }

  const expectHealthy = (u: Synced) => {
    expect(u.syncStates).not.toContain(sdk.SyncState.Error);
    expect(u.syncErrors).toEqual([]);
    expect([sdk.SyncState.Syncing, sdk.SyncState.Prepared]).toContain(u.client.getSyncState());
  };

  it('both clients reach PREPARED', async () => {
    [alice, bob] = await Promise.all([startSynced('alice'), startSynced('bob')]);
    expectHealthy(alice);
    expectHealthy(bob);
  }, PREPARED_TIMEOUT_MS + 5_000);

  it('alice is invited to her notices room by the system user and, after joining, gets the notice (server name as sender) in her timeline', async () => {
    if (!alice) throw new Error('clients never started');
    const sent = await adminCall('POST', '/_synapse/admin/v1/send_server_notice', { user_id: alice.userId, content: { msgtype: 'm.text', body: 'Welcome, from the server' } });
    expect(sent.status).toBe(200);
    const noticeId = sent.body.event_id as string;
    expect(noticeId).toMatch(/^\$/);

    const invite = await waitFor(
      alice.client,
      [sdk.ClientEvent.Room, sdk.RoomEvent.MyMembership, sdk.ClientEvent.Sync],
      () => {
        const room = alice.client.getRooms().find((r) => r.getMyMembership() === sdk.KnownMembership.Invite);
        return room?.currentState.getStateEvents(sdk.EventType.RoomMember, alice.userId) ?? undefined;
      },
      DELIVERY_TIMEOUT_MS,
      "alice's sync to show the notices room invite",
    );
    // The room is the server-owned system user's: it invites (events in a graph are sent by users).
    expect(invite.getSender()).toBe(`@system:${SERVER}`);
    expect(invite.getContent().membership).toBe('invite');
    noticeRoomId = invite.getRoomId()!;
    expect(alice.client.getRoom(noticeRoomId)!.name).toBe('Server Notices');

    await alice.client.joinRoom(noticeRoomId);
    await waitFor(alice.client, [sdk.RoomEvent.MyMembership, sdk.ClientEvent.Sync], () => (alice.client.getRoom(noticeRoomId!)?.getMyMembership() === sdk.KnownMembership.Join ? true : undefined), DELIVERY_TIMEOUT_MS, "alice's sync to show her joined");
    const notice = await waitFor(alice.client, [sdk.RoomEvent.Timeline, sdk.ClientEvent.Sync], () => alice.timeline.get(noticeId), DELIVERY_TIMEOUT_MS, `notice ${noticeId} in alice's timeline`);
    expect(notice.getSender()).toBe(SERVER);
    expect(notice.getType()).toBe('m.room.message');
    expect(notice.getContent()).toEqual({ msgtype: 'm.text', body: 'Welcome, from the server' });
    expect(notice.getRoomId()).toBe(noticeRoomId);
    const room = alice.client.getRoom(noticeRoomId)!;
    expect(room.getMyMembership()).toBe(sdk.KnownMembership.Join);
    expect(room.findEventById(noticeId)?.getSender()).toBe(SERVER);
    // The room carries the m.server_notice tag.
    await waitFor(alice.client, [sdk.RoomEvent.Tags, sdk.ClientEvent.Sync], () => (alice.client.getRoom(noticeRoomId!)?.tags['m.server_notice'] ? true : undefined), DELIVERY_TIMEOUT_MS, 'the m.server_notice tag');
    expectHealthy(alice);
  });

  it('a later notice arrives live in the same room; the client keeps syncing', async () => {
    if (!noticeRoomId) throw new Error('no notices room: the previous test failed');
    const sent = await adminCall('PUT', '/_synapse/admin/v1/send_server_notice/e2e-1', { user_id: alice.userId, content: { msgtype: 'm.text', body: 'Second notice' } });
    expect(sent.status).toBe(200);
    const id = sent.body.event_id as string;
    const ev = await waitFor(alice.client, [sdk.RoomEvent.Timeline], () => alice.timeline.get(id), DELIVERY_TIMEOUT_MS, `notice ${id} in alice's timeline`);
    expect(ev.getSender()).toBe(SERVER);
    expect(ev.getRoomId()).toBe(noticeRoomId);
    const live = alice.client.getRoom(noticeRoomId)!.getLiveTimeline().getEvents();
    expect(live[live.length - 1]!.getId()).toBe(id);
    // Posting there is refused by the server and reported to the SDK as an error.
    await expect(alice.client.sendTextMessage(noticeRoomId, 'may I reply?')).rejects.toMatchObject({ errcode: 'M_FORBIDDEN' });
    await waitFor(alice.client, [sdk.ClientEvent.Sync], () => (alice.syncStates.includes(sdk.SyncState.Syncing) ? true : undefined), DELIVERY_TIMEOUT_MS, 'alice to reach SYNCING');
    expectHealthy(alice);
  });

  it('a room-scoped server event reaches every member\'s live timeline with the server name as sender', async () => {
    if (!alice || !bob) throw new Error('clients never started');
    const created = await alice.client.createRoom({ name: 'Ops room', preset: sdk.Preset.PrivateChat, invite: [bob.userId] });
    const roomId = created.room_id;
    await waitFor(bob.client, [sdk.ClientEvent.Room, sdk.RoomEvent.MyMembership, sdk.ClientEvent.Sync], () => (bob.client.getRoom(roomId)?.getMyMembership() === sdk.KnownMembership.Invite ? true : undefined), DELIVERY_TIMEOUT_MS, "bob's invite");
    await bob.client.joinRoom(roomId);
    await waitFor(alice.client, [sdk.RoomEvent.Timeline, sdk.ClientEvent.Sync], () => (alice.client.getRoom(roomId)?.getMember(bob.userId)?.membership === sdk.KnownMembership.Join ? true : undefined), DELIVERY_TIMEOUT_MS, "bob's join at alice");

    const sent = await adminCall('POST', `/_hearth/admin/v1/rooms/${encodeURIComponent(roomId)}/server_events`, { type: 'm.room.message', content: { msgtype: 'm.notice', body: 'Restart in 5 minutes' } });
    expect(sent.status).toBe(200);
    const id = sent.body.event_id as string;
    for (const u of [alice, bob]) {
      const ev = await waitFor(u.client, [sdk.RoomEvent.Timeline], () => u.timeline.get(id), DELIVERY_TIMEOUT_MS, `server event ${id} in ${u.userId}'s timeline`);
      expect(ev.getSender()).toBe(SERVER);
      expect(ev.getType()).toBe('m.room.message');
      expect(ev.getContent()).toEqual({ msgtype: 'm.notice', body: 'Restart in 5 minutes' });
      expect(ev.getRoomId()).toBe(roomId);
      // No member of the room is the server: the SDK has no membership for this sender.
      expect(u.client.getRoom(roomId)!.getMember(SERVER)).toBeNull();
      const live = u.client.getRoom(roomId)!.getLiveTimeline().getEvents();
      expect(live[live.length - 1]!.getId()).toBe(id);
    }

    // The room goes on normally after it: a message from alice reaches bob.
    const msg = await alice.client.sendTextMessage(roomId, 'noted');
    const seen = await waitFor(bob.client, [sdk.RoomEvent.Timeline], () => bob.timeline.get(msg.event_id), DELIVERY_TIMEOUT_MS, "alice's message at bob");
    expect(seen.getSender()).toBe(alice.userId);
    for (const u of [alice, bob]) {
      await waitFor(u.client, [sdk.ClientEvent.Sync], () => (u.syncStates.includes(sdk.SyncState.Syncing) ? true : undefined), DELIVERY_TIMEOUT_MS, `${u.userId} to reach SYNCING`);
      expectHealthy(u);
    }
  });
});
