// /sync driven by matrix-js-sdk's own sync loop (startClient) against a Hearth on port 0: both clients
// reach PREPARED, an invite with its reason reaches bob through sync, a message sent by alice arrives in
// bob's live timeline, and read receipts (sendReceipt and setRoomReadMarkers) sent by bob reach alice.
//
// Every HTTP request the SDK makes is recorded (method, path, status). A wait that times out names the
// requests that answered an error, so a missing or broken endpoint is reported exactly; with
// E2E_HTTP_LOG=1 the whole request log is printed at the end.
import * as sdk from 'matrix-js-sdk';
import { startE2eServer, type E2eServer } from './helpers.js';
import { createHarness, muteKnownSdkNoise } from './sdk-harness.js';

const PASSWORD = 'correct horse battery staple';
const PREPARED_TIMEOUT_MS = 15_000;
const DELIVERY_TIMEOUT_MS = 8_000;

describe('sync through matrix-js-sdk startClient()', () => {
  let hs: E2eServer;
  let unmute: (() => void) | undefined;
  const { requests, clients, describeFailures, waitFor, makeClient } = createHarness(() => hs.url);

  interface User {
    client: sdk.MatrixClient;
    userId: string;
    syncStates: string[];
    syncErrors: string[];
  }

  async function register(localpart: string): Promise<User> {
    const res = await makeClient(`${localpart}(anon)`).registerRequest({ username: localpart, password: PASSWORD, auth: { type: 'm.login.dummy' } });
    const client = makeClient(localpart, { userId: res.user_id, accessToken: res.access_token!, deviceId: res.device_id! });
    const user: User = { client, userId: res.user_id, syncStates: [], syncErrors: [] };
    client.on(sdk.ClientEvent.Sync, (state, _prev, data) => {
      user.syncStates.push(state);
      if (data?.error) user.syncErrors.push(`${state}: ${data.error.message}`);
    });
    return user;
  }

  /** Starts the SDK's sync loop and waits for the 'sync' event with state PREPARED. */
  async function startAndWaitPrepared(u: User): Promise<void> {
    const prepared = waitFor(u.client, [sdk.ClientEvent.Sync], () => (u.syncStates.includes(sdk.SyncState.Prepared) ? true : undefined), PREPARED_TIMEOUT_MS, `${u.userId} to reach PREPARED`).catch((e: Error) => {
      throw new Error(`${e.message}\nsync states seen: ${JSON.stringify(u.syncStates)}; sync errors: ${JSON.stringify(u.syncErrors)}`);
    });
    await u.client.startClient({ initialSyncLimit: 10 });
    await prepared;
  }

  let alice: User;
  let bob: User;
  let prepared = false;
  let roomId: string | undefined;
  let messageId: string | undefined;
  const INVITE_REASON = 'we need you for the sync tests';

  beforeAll(async () => {
    unmute = muteKnownSdkNoise();
    hs = await startE2eServer();
    alice = await register('alice');
    bob = await register('bob');
  });
  afterAll(async () => {
    for (const c of clients) {
      c.stopClient();
      c.http.abort();
    }
    await hs?.stop();
    if (process.env.E2E_HTTP_LOG === '1') {
      console.info(`sync e2e HTTP log:\n${requests.map((r) => `  [${r.who}] ${r.method} ${r.path} -> ${r.status}`).join('\n')}`);
    }
    unmute?.();
  });

  const needPrepared = () => {
    if (!prepared) throw new Error('the clients never reached PREPARED (see the first test)');
  };
  const needRoom = (): string => {
    needPrepared();
    if (!roomId) throw new Error('no room: the invite test failed');
    return roomId;
  };

  it('startClient({initialSyncLimit: 10}) reaches PREPARED for alice and bob', async () => {
    await Promise.all([startAndWaitPrepared(alice), startAndWaitPrepared(bob)]);
    for (const u of [alice, bob]) {
      expect(u.syncStates[0]).toBe(sdk.SyncState.Prepared);
      expect(u.syncErrors).toEqual([]);
      expect(u.client.isInitialSyncComplete()).toBe(true);
      expect(u.client.getRooms()).toEqual([]);
    }
    prepared = true;
    // It keeps syncing afterwards: the next long-poll round moves the state to SYNCING.
    await waitFor(alice.client, [sdk.ClientEvent.Sync], () => (alice.syncStates.includes(sdk.SyncState.Syncing) ? true : undefined), DELIVERY_TIMEOUT_MS, 'alice to reach SYNCING');
  }, PREPARED_TIMEOUT_MS + DELIVERY_TIMEOUT_MS + 5_000);

  it("bob sees alice's invite with its reason through his own sync", async () => {
    needPrepared();
    const created = await alice.client.createRoom({ name: 'Sync room', preset: sdk.Preset.PrivateChat });
    roomId = created.room_id;
    await alice.client.invite(roomId, bob.userId, INVITE_REASON);

    const invite = await waitFor(
      bob.client,
      [sdk.ClientEvent.Room, sdk.RoomEvent.MyMembership, sdk.ClientEvent.Sync],
      () => {
        const room = bob.client.getRoom(roomId!);
        if (room?.getMyMembership() !== sdk.KnownMembership.Invite) return undefined;
        return room.currentState.getStateEvents(sdk.EventType.RoomMember, bob.userId) ?? undefined;
      },
      DELIVERY_TIMEOUT_MS,
      `bob's sync to show the invite to ${roomId}`,
    );
    expect(invite.getSender()).toBe(alice.userId);
    expect(invite.getStateKey()).toBe(bob.userId);
    expect(invite.getContent()).toMatchObject({ membership: 'invite', reason: INVITE_REASON });
    // The stripped state shown with the invite includes the room's name.
    const room = bob.client.getRoom(roomId)!;
    expect(room.currentState.getStateEvents(sdk.EventType.RoomName, '')?.getContent().name).toBe('Sync room');
    expect(room.getDMInviter() ?? alice.userId).toBe(alice.userId);
  });

  it("a message sent by alice arrives in bob's timeline through bob's sync loop", async () => {
    const rid = needRoom();
    await bob.client.joinRoom(rid);
    await waitFor(
      bob.client,
      [sdk.RoomEvent.MyMembership, sdk.ClientEvent.Sync, sdk.ClientEvent.Room],
      () => (bob.client.getRoom(rid)?.getMyMembership() === sdk.KnownMembership.Join ? true : undefined),
      DELIVERY_TIMEOUT_MS,
      "bob's sync to show him joined",
    );

    // Listen before sending: the event may come through sync before sendTextMessage resolves.
    const seen = new Map<string, sdk.MatrixEvent>();
    const onTimeline = (ev: sdk.MatrixEvent, room: sdk.Room | undefined, toStart: boolean | undefined) => {
      if (room?.roomId === rid && !toStart && ev.getId()) seen.set(ev.getId()!, ev);
    };
    bob.client.on(sdk.RoomEvent.Timeline, onTimeline);
    try {
      const text = `hello bob, it is ${Date.now()}`;
      const sent = await alice.client.sendTextMessage(rid, text);
      messageId = sent.event_id;
      const ev = await waitFor(bob.client, [sdk.RoomEvent.Timeline], () => seen.get(sent.event_id), DELIVERY_TIMEOUT_MS, `event ${sent.event_id} in bob's timeline`);
      expect(ev.getType()).toBe('m.room.message');
      expect(ev.getSender()).toBe(alice.userId);
      expect(ev.getRoomId()).toBe(rid);
      expect(ev.getContent()).toEqual({ msgtype: 'm.text', body: text });
      // It sits in bob's live timeline, last.
      const live = bob.client.getRoom(rid)!.getLiveTimeline().getEvents();
      expect(live[live.length - 1]!.getId()).toBe(sent.event_id);
      // Only alice's own device sees the transaction id.
      expect(ev.getUnsigned().transaction_id).toBeUndefined();
    } finally {
      bob.client.off(sdk.RoomEvent.Timeline, onTimeline);
    }

    // alice's own sync returns the remote echo of the same event.
    await waitFor(
      alice.client,
      [sdk.RoomEvent.Timeline, sdk.RoomEvent.LocalEchoUpdated],
      () => (alice.client.getRoom(rid)?.findEventById(messageId!)?.status === null ? true : undefined),
      DELIVERY_TIMEOUT_MS,
      `alice's remote echo of ${messageId}`,
    );
  });

  it('a read receipt sent by bob (sendReceipt) reaches alice through her sync', async () => {
    const rid = needRoom();
    if (!messageId) throw new Error('no message: the timeline test failed');
    const ev = bob.client.getRoom(rid)!.findEventById(messageId);
    expect(ev).toBeDefined();
    expect(await bob.client.sendReceipt(ev!, sdk.ReceiptType.Read)).toEqual({});

    const receipt = await waitFor(
      alice.client,
      [sdk.RoomEvent.Receipt],
      () => {
        const r = alice.client.getRoom(rid)?.getReadReceiptForUserId(bob.userId, true, sdk.ReceiptType.Read);
        return r && r.eventId === messageId ? r : undefined;
      },
      DELIVERY_TIMEOUT_MS,
      `bob's m.read receipt on ${messageId} at alice`,
    );
    expect(typeof receipt.data.ts).toBe('number');
    expect(receipt.data.ts).toBeGreaterThan(0);
    expect(alice.client.getRoom(rid)!.getEventReadUpTo(bob.userId, true)).toBe(messageId);
  });

  it('setRoomReadMarkers from bob moves his receipt at alice and his m.fully_read', async () => {
    const rid = needRoom();
    const sent = await alice.client.sendTextMessage(rid, 'one more to read');
    const ev = await waitFor(bob.client, [sdk.RoomEvent.Timeline], () => bob.client.getRoom(rid)?.findEventById(sent.event_id), DELIVERY_TIMEOUT_MS, `event ${sent.event_id} in bob's timeline`);
    expect(await bob.client.setRoomReadMarkers(rid, sent.event_id, ev)).toEqual({});

    await waitFor(
      alice.client,
      [sdk.RoomEvent.Receipt],
      () => (alice.client.getRoom(rid)?.getReadReceiptForUserId(bob.userId, true, sdk.ReceiptType.Read)?.eventId === sent.event_id ? true : undefined),
      DELIVERY_TIMEOUT_MS,
      `bob's read marker receipt on ${sent.event_id} at alice`,
    );
    // The fully-read marker is bob's own room account data, delivered to bob through his sync.
    const fullyRead = await waitFor(
      bob.client,
      [sdk.RoomEvent.AccountData],
      () => bob.client.getRoom(rid)?.getAccountData('m.fully_read'),
      DELIVERY_TIMEOUT_MS,
      "bob's m.fully_read account data",
    );
    expect(fullyRead.getContent()).toEqual({ event_id: sent.event_id });
    // alice never sees bob's private account data.
    expect(alice.client.getRoom(rid)!.getAccountData('m.fully_read')).toBeUndefined();
  });
});
