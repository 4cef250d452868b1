// Threads, edits and relations as matrix-js-sdk 37.5 sees them, against a Hearth on port 0: a thread
// made before bob syncs shows up in his room's threads with its replies counted and its latest reply
// known (from the bundled m.thread aggregation in /sync and from /threads); an edit shows as the
// original's replacing event (from the timeline, and from the bundled m.replace of /event); /relations
// pages through a thread's replies with next_batch until there are no more.
//
// Every HTTP request the SDK makes is recorded; a wait that times out names the requests that answered
// an error.
import * as sdk from 'matrix-js-sdk';
import { startE2eServer, type E2eServer } from './helpers.js';
import { createHarness, muteKnownSdkNoise } from './sdk-harness.js';

const PASSWORD = 'correct horse battery staple';
const TIMEOUT_MS = 15_000;

describe('threads and edits through matrix-js-sdk', () => {
  let hs: E2eServer;
  let unmute: (() => void) | undefined;
  const { requests, clients, waitFor, makeClient } = createHarness(() => hs.url);

  async function register(localpart: string): Promise<{ client: sdk.MatrixClient; userId: string }> {
    const res = await makeClient(`${localpart}(anon)`).registerRequest({ username: localpart, password: PASSWORD, auth: { type: 'm.login.dummy' } });
    const client = makeClient(localpart, { userId: res.user_id, accessToken: res.access_token!, deviceId: res.device_id! });
    return { client, userId: res.user_id };
  }

  let alice: { client: sdk.MatrixClient; userId: string };
  let bob: { client: sdk.MatrixClient; userId: string };
  let roomId: string;
  let root: string;
  const replies: string[] = [];
  let original: string;
  let edit: string;

  beforeAll(async () => {
    unmute = muteKnownSdkNoise();
    hs = await startE2eServer();
    alice = await register('alice');
    bob = await register('bob');
    roomId = (await alice.client.createRoom({ preset: sdk.Preset.PublicChat, name: 'Threads' })).room_id;
    await bob.client.joinRoom(roomId);
    root = (await alice.client.sendMessage(roomId, { msgtype: sdk.MsgType.Text, body: 'Shall we talk about threads?' })).event_id;
    for (let i = 0; i < 5; i++) {
      const sender = i % 2 === 0 ? bob : alice;
      const content = { msgtype: sdk.MsgType.Text, body: `reply ${i}`, 'm.relates_to': { rel_type: 'm.thread', event_id: root, is_falling_back: true, 'm.in_reply_to': { event_id: root } } };
      replies.push((await sender.client.sendEvent(roomId, root, sdk.EventType.RoomMessage, content as never)).event_id);
    }
    original = (await alice.client.sendMessage(roomId, { msgtype: sdk.MsgType.Text, body: 'I like cake' })).event_id;
    edit = (await alice.client.sendMessage(roomId, {
      msgtype: sdk.MsgType.Text, body: '* I like chocolate cake',
      'm.new_content': { msgtype: sdk.MsgType.Text, body: 'I like chocolate cake' },
      'm.relates_to': { rel_type: sdk.RelationType.Replace, event_id: original },
    } as never)).event_id;
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.stopClient();
    await hs?.stop();
    unmute?.();
    if (process.env.E2E_HTTP_LOG === '1') console.log(requests.map((r) => `[${r.who}] ${r.method} ${r.path} -> ${r.status}`).join('\n'));
  });

  it('a thread made before the first sync is in the room\'s threads, with its replies counted and its latest reply', async () => {
    const viewer = await register('carol');
    await viewer.client.joinRoom(roomId);
    const synced = waitFor(viewer.client, [sdk.ClientEvent.Sync], () => (viewer.client.getSyncState() === sdk.SyncState.Syncing || viewer.client.getSyncState() === sdk.SyncState.Prepared ? true : undefined), TIMEOUT_MS, 'carol to sync');
    // A short initial timeline: the thread comes from /threads (fetchRoomThreads), as in a room with long history.
    await viewer.client.startClient({ initialSyncLimit: 1, threadSupport: true });
    await synced;
    const room = viewer.client.getRoom(roomId)!;
    expect(room).toBeTruthy();
    // From /threads (the SDK's own call), as Element does when the thread panel opens.
    // As Element's thread panel does: the thread list's timelines, then the first page of /threads.
    await room.createThreadsTimelineSets();
    await room.fetchRoomThreads();
    const thread = await waitFor(viewer.client, [sdk.ThreadEvent.New, sdk.ThreadEvent.Update, sdk.RoomEvent.Timeline], () => room.getThread(root) ?? undefined, TIMEOUT_MS, 'the thread to exist');
    expect(room.getThreads().map((t) => t.id)).toContain(root);
    expect(thread.rootEvent?.getId()).toBe(root);
    expect(thread.length).toBe(5);
    expect(thread.replyToEvent?.getId()).toBe(replies[4]);
    expect(thread.hasCurrentUserParticipated).toBe(false);
    // The root carries the server's aggregation, as bundled in /threads.
    const rootEvent = thread.rootEvent!;
    expect(rootEvent.isThreadRoot).toBe(true);
    const summary = rootEvent.getServerAggregatedRelation<{ count: number; latest_event: { event_id: string }; current_user_participated: boolean }>('m.thread');
    expect(summary).toMatchObject({ count: 5, latest_event: { event_id: replies[4] }, current_user_participated: false });
  }, 60_000);

  it('an edit replaces the original: from the timeline, and from the server\'s bundled m.replace', async () => {
    const synced = waitFor(bob.client, [sdk.ClientEvent.Sync], () => (bob.client.getSyncState() === sdk.SyncState.Prepared || bob.client.getSyncState() === sdk.SyncState.Syncing ? true : undefined), TIMEOUT_MS, 'bob to sync');
    await bob.client.startClient({ initialSyncLimit: 20 });
    await synced;
    const room = bob.client.getRoom(roomId)!;
    const ev = await waitFor(bob.client, [sdk.RoomEvent.Timeline], () => room.findEventById(original), TIMEOUT_MS, 'the original in bob\'s timeline');
    const replacing = await waitFor(bob.client, [sdk.RoomEvent.Timeline, sdk.MatrixEventEvent.Replaced], () => ev.replacingEvent() ?? undefined, TIMEOUT_MS, 'the edit to apply');
    expect(replacing.getId()).toBe(edit);
    expect(ev.getContent().body).toBe('I like chocolate cake');
    expect(ev.getOriginalContent().body).toBe('I like cake');
    // The original fetched alone (/event) knows its replacement from the server's aggregation.
    const raw = await bob.client.fetchRoomEvent(roomId, original);
    const fetched = new sdk.MatrixEvent(raw);
    expect(fetched.replacingEventId()).toBe(edit);
    expect(fetched.replacingEventDate()).toBeInstanceOf(Date);
  }, 60_000);

  it('/relations pages through the thread with next_batch until the end, in both directions', async () => {
    const seen: string[] = [];
    let from: string | undefined;
    let pages = 0;
    do {
      const page = await bob.client.relations(roomId, root, sdk.THREAD_RELATION_TYPE.name, null, { limit: 2, ...(from ? { from } : {}) });
      seen.push(...page.events.map((e) => e.getId()!));
      from = page.nextBatch ?? undefined;
      pages++;
    } while (from && pages < 10);
    expect(seen).toEqual([...replies].reverse());
    expect(pages).toBe(3);
    const forwards = await bob.client.relations(roomId, root, sdk.THREAD_RELATION_TYPE.name, sdk.EventType.RoomMessage, { limit: 10, dir: sdk.Direction.Forward });
    expect(forwards.events.map((e) => e.getId())).toEqual(replies);
    expect(forwards.nextBatch ?? undefined).toBeUndefined();
    // No request the SDK made answered an error (long polls still waiting have no status yet).
    expect(requests.filter((r) => typeof r.status === 'number' && r.status >= 400).map((r) => `${r.method} ${r.path} -> ${r.status}`)).toEqual([]);
  }, 60_000);
});
