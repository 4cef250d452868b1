// A request/response bot built on matrix-js-sdk, against a Hearth on port 0: the bot runs the SDK's own
// sync loop (startClient), accepts invites, and answers every live "ping ..." message in a room with
// "pong: <body>" through sendTextMessage. A second client, also syncing, sends "ping 42" and waits for
// the reply to arrive in its own timeline.
//
// Every HTTP request the SDK makes is recorded (method, path, status); a wait that times out names the
// requests that answered an error. E2E_HTTP_LOG=1 prints the whole request log at the end.
import * as sdk from 'matrix-js-sdk';
import { startE2eServer, type E2eServer } from './helpers.js';
import { createHarness, muteKnownSdkNoise } from './sdk-harness.js';

const PASSWORD = 'correct horse battery staple';
const PREPARED_TIMEOUT_MS = 15_000;
const DELIVERY_TIMEOUT_MS = 8_000;

interface Bot {
  client: sdk.MatrixClient;
  userId: string;
  /** Replies sent so far: the ping's event ID and the reply's event ID. */
  replies: { to: string; id: string }[];
  errors: string[];
}

/**
 * The bot: joins rooms it is invited to and answers "ping ..." with "pong: <body>". Only live events
 * count (not history from the initial sync or back-pagination) and never its own messages.
 */
function runPingBot(client: sdk.MatrixClient): Bot {
  const bot: Bot = { client, userId: client.getUserId()!, replies: [], errors: [] };
  client.on(sdk.RoomEvent.MyMembership, (room, membership) => {
    if (membership === sdk.KnownMembership.Invite) {
      client.joinRoom(room.roomId).catch((e: Error) => bot.errors.push(`join ${room.roomId}: ${e.message}`));
    }
  });
  client.on(sdk.RoomEvent.Timeline, (ev, room, toStartOfTimeline, _removed, data) => {
    if (toStartOfTimeline || !data.liveEvent || !room) return;
    if (ev.getType() !== sdk.EventType.RoomMessage || ev.getSender() === bot.userId) return;
    const body: unknown = ev.getContent().body;
    if (typeof body !== 'string' || !/^ping(\s|$)/.test(body)) return;
    client.sendTextMessage(room.roomId, `pong: ${body}`).then(
      (res) => bot.replies.push({ to: ev.getId()!, id: res.event_id }),
      (e: Error) => bot.errors.push(`reply to ${ev.getId()}: ${e.message}`),
    );
  });
  return bot;
}

describe('a ping bot built on matrix-js-sdk', () => {
  let hs: E2eServer;
  let unmute: () => void;
  const { requests, clients, describeFailures, waitFor, makeClient } = createHarness(() => hs.url);

  async function registerAndStart(localpart: string): Promise<sdk.MatrixClient> {
    const res = await makeClient(`${localpart}(anon)`).registerRequest({ username: localpart, password: PASSWORD, auth: { type: 'm.login.dummy' } });
    const client = makeClient(localpart, { userId: res.user_id, accessToken: res.access_token!, deviceId: res.device_id! });
    const states: string[] = [];
    const errors: string[] = [];
    client.on(sdk.ClientEvent.Sync, (state, _prev, data) => {
      states.push(state);
      if (data?.error) errors.push(`${state}: ${data.error.message}`);
    });
    const prepared = waitFor(client, [sdk.ClientEvent.Sync], () => (states.includes(sdk.SyncState.Prepared) ? true : undefined), PREPARED_TIMEOUT_MS, `${res.user_id} to reach PREPARED`).catch((e: Error) => {
      throw new Error(`${e.message}\nsync states seen: ${JSON.stringify(states)}; sync errors: ${JSON.stringify(errors)}`);
    });
    await client.startClient({ initialSyncLimit: 10 });
    await prepared;
    return client;
  }

  beforeAll(async () => {
    unmute = muteKnownSdkNoise();
    hs = await startE2eServer();
  });
  afterAll(async () => {
    for (const c of clients) {
      c.stopClient();
      c.http.abort();
    }
    await hs?.stop();
    if (process.env.E2E_HTTP_LOG === '1') {
      console.info(`bot e2e HTTP log:\n${requests.map((r) => `  [${r.who}] ${r.method} ${r.path} -> ${r.status}`).join('\n')}`);
    }
    unmute?.();
  });

  it('answers "ping 42" with "pong: ping 42" from the bot user, seen in the sender\'s own timeline', async () => {
    const bot = runPingBot(await registerAndStart('pingbot'));
    const carol = await registerAndStart('carol');
    const carolId = carol.getUserId()!;

    // carol opens a room and invites the bot, which joins by itself.
    const { room_id: roomId } = await carol.createRoom({ name: 'bot room', preset: sdk.Preset.PrivateChat });
    await carol.invite(roomId, bot.userId, 'please answer my pings');
    await waitFor(
      carol,
      [sdk.RoomStateEvent.Members, sdk.RoomMemberEvent.Membership, sdk.ClientEvent.Sync],
      () => (carol.getRoom(roomId)?.getMember(bot.userId)?.membership === sdk.KnownMembership.Join ? true : undefined),
      DELIVERY_TIMEOUT_MS,
      `the bot to join ${roomId} (bot errors: ${JSON.stringify(bot.errors)})`,
    );

    // Collect carol's live timeline before sending, so a fast reply cannot be missed.
    const live: sdk.MatrixEvent[] = [];
    carol.on(sdk.RoomEvent.Timeline, (ev, room, toStart) => {
      if (room?.roomId === roomId && !toStart) live.push(ev);
    });
    const sentAt = Date.now();
    const ping = await carol.sendTextMessage(roomId, 'ping 42');

    const reply = await waitFor(
      carol,
      [sdk.RoomEvent.Timeline],
      () => live.find((ev) => ev.getType() === sdk.EventType.RoomMessage && ev.getSender() !== carolId),
      DELIVERY_TIMEOUT_MS,
      `the bot's reply in carol's timeline (bot errors: ${JSON.stringify(bot.errors)})`,
    );
    const roundTripMs = Date.now() - sentAt;

    expect(reply.getSender()).toBe(bot.userId);
    expect(reply.getSender()).toBe('@pingbot:localhost');
    expect(reply.getContent()).toEqual({ msgtype: 'm.text', body: 'pong: ping 42' });
    expect(reply.getRoomId()).toBe(roomId);
    expect(reply.getId()).toMatch(/^\$/);
    // It is the answer to this ping, and it comes after it in carol's timeline.
    expect(bot.errors).toEqual([]);
    expect(bot.replies).toEqual([{ to: ping.event_id, id: reply.getId() }]);
    const timeline = carol.getRoom(roomId)!.getLiveTimeline().getEvents().map((e) => e.getId());
    expect(timeline.indexOf(reply.getId()!)).toBeGreaterThan(timeline.indexOf(ping.event_id));
    expect(timeline.indexOf(ping.event_id)).toBeGreaterThanOrEqual(0);
    expect(roundTripMs).toBeLessThan(DELIVERY_TIMEOUT_MS);

    // Exactly one reply was stored: the bot does not answer itself or history.
    const page = await carol.createMessagesRequest(roomId, null, 10, sdk.Direction.Backward);
    const messages = page.chunk.filter((e) => e.type === 'm.room.message').map((e) => [e.sender, e.content.body]);
    expect(messages).toEqual([
      ['@pingbot:localhost', 'pong: ping 42'],
      [carolId, 'ping 42'],
    ]);
  }, 2 * PREPARED_TIMEOUT_MS + 2 * DELIVERY_TIMEOUT_MS + 5_000);

  it('answers several pings in order, each exactly once, and ignores other messages', async () => {
    const carol = clients.find((c) => c.getUserId() === '@carol:localhost');
    if (!carol) throw new Error('carol is missing: the first test failed');
    const roomId = carol.getRooms().find((r) => r.name === 'bot room')?.roomId;
    if (!roomId) throw new Error('the bot room is missing: the first test failed');

    const live: sdk.MatrixEvent[] = [];
    carol.on(sdk.RoomEvent.Timeline, (ev, room, toStart) => {
      if (room?.roomId === roomId && !toStart && ev.getType() === sdk.EventType.RoomMessage) live.push(ev);
    });
    await carol.sendTextMessage(roomId, 'not a ping');
    for (const n of [1, 2, 3]) await carol.sendTextMessage(roomId, `ping ${n}`);

    const pongs = await waitFor(
      carol,
      [sdk.RoomEvent.Timeline],
      () => {
        const p = live.filter((ev) => ev.getSender() === '@pingbot:localhost');
        return p.length >= 3 ? p : undefined;
      },
      DELIVERY_TIMEOUT_MS,
      'three pongs in carol\'s timeline',
    );
    expect(pongs.map((ev) => ev.getContent().body)).toEqual(['pong: ping 1', 'pong: ping 2', 'pong: ping 3']);

    // Nothing more arrives: the history holds exactly these replies since "not a ping".
    const page = await carol.createMessagesRequest(roomId, null, 20, sdk.Direction.Backward);
    const bodies = page.chunk.filter((e) => e.type === 'm.room.message').map((e) => e.content.body as string).reverse();
    const since = bodies.slice(bodies.indexOf('not a ping'));
    expect(since.filter((b) => b.startsWith('pong: '))).toEqual(['pong: ping 1', 'pong: ping 2', 'pong: ping 3']);
    expect(since.filter((b) => b.startsWith('ping '))).toEqual(['ping 1', 'ping 2', 'ping 3']);
  }, 20_000);
});
