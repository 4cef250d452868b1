// Rooms driven by two real matrix-js-sdk clients over real HTTP against a Hearth on port 0: alice
// creates a room, invites bob with a reason, bob joins, alice sends text, both read it through
// /messages, alice kicks bob with a reason and the reason is in bob's m.room.member event.
//
// Every HTTP request the SDK makes is recorded (method, path, status); a test that fails prints the
// requests that answered an error, so a missing or broken endpoint is named exactly.
import * as sdk from 'matrix-js-sdk';
import { startE2eServer, type E2eServer } from './helpers.js';

interface Recorded {
  who: string;
  method: string;
  path: string;
  status: number | 'network-error';
  /** Made while a test expected an error (see `refused`). */
  expected: boolean;
}

const PASSWORD = 'correct horse battery staple';
const quiet = process.env.E2E_DEBUG !== '1';
/** True while a test provokes an error on purpose: the SDK's own error log for it is dropped. */
let expectingError = false;
type SdkLogger = NonNullable<sdk.ICreateClientOpts['logger']>;
const logger: SdkLogger = {
  trace: () => undefined,
  debug: (...m: unknown[]) => { if (!quiet) console.debug(...m); },
  info: (...m: unknown[]) => { if (!quiet) console.info(...m); },
  warn: (...m: unknown[]) => { if (!(quiet && expectingError)) console.warn(...m); },
  error: (...m: unknown[]) => { if (!(quiet && expectingError)) console.error(...m); },
  getChild: () => logger,
};

/** Expects `p` to be refused by the server with `status` and `errcode`. */
async function refused(p: () => Promise<unknown>, status: number, errcode: string): Promise<void> {
  expectingError = true;
  try {
    await expect(p()).rejects.toMatchObject({ httpStatus: status, errcode });
  } finally {
    expectingError = false;
  }
}

/** Rejects with a clear message if `p` does not settle within `ms`. */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

describe('rooms through matrix-js-sdk', () => {
  let hs: E2eServer;
  const requests: Recorded[] = [];
  const clients: sdk.MatrixClient[] = [];

  /** A client whose every request is recorded under `who`. */
  function makeClient(who: string, creds?: { userId: string; accessToken: string; deviceId: string }): sdk.MatrixClient {
    const fetchFn: typeof fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
      try {
        const res = await fetch(input, init);
        requests.push({ who, method, path: url.pathname + url.search, status: res.status, expected: expectingError });
        return res;
      } catch (e) {
        requests.push({ who, method, path: url.pathname + url.search, status: 'network-error', expected: expectingError });
        throw e;
      }
    };
    const c = sdk.createClient({ baseUrl: hs.url, ...creds, fetchFn, logger });
    clients.push(c);
    return c;
  }

  async function register(localpart: string): Promise<{ client: sdk.MatrixClient; userId: string }> {
    const res = await makeClient(`${localpart}(anon)`).registerRequest({ username: localpart, password: PASSWORD, auth: { type: 'm.login.dummy' } });
    expect(res.user_id).toBe(`@${localpart}:localhost`);
    const client = makeClient(localpart, { userId: res.user_id, accessToken: res.access_token!, deviceId: res.device_id! });
    return { client, userId: res.user_id };
  }

  beforeAll(async () => {
    hs = await startE2eServer();
  });
  afterAll(async () => {
    for (const c of clients) {
      c.stopClient();
      c.http.abort();
    }
    await hs?.stop();
  });
  afterEach(() => {
    const failed = requests.filter((r) => !r.expected && (r.status === 'network-error' || r.status >= 400));
    if (failed.length > 0) {
      // Printed to name the endpoint when a call fails unexpectedly.
      console.info(`HTTP requests that answered an unexpected error:\n${failed.map((r) => `  [${r.who}] ${r.method} ${r.path} -> ${r.status}`).join('\n')}`);
    }
    requests.length = 0;
  });

  it('create, invite with a reason, join, send, read /messages on both sides, kick with a reason', async () => {
    const alice = await register('alice');
    const bob = await register('bob');

    // alice creates a room: she is its only member, with the creator's power.
    const { room_id: roomId } = await within(5000, 'createRoom', alice.client.createRoom({ name: 'Hearth e2e', preset: sdk.Preset.PrivateChat }));
    expect(roomId).toMatch(/^![A-Za-z0-9_-]{43}$/); // room version 12 (the default)
    expect(await alice.client.getStateEvent(roomId, 'm.room.name', '')).toEqual({ name: 'Hearth e2e' });
    expect((await alice.client.getStateEvent(roomId, 'm.room.member', alice.userId)).membership).toBe('join');
    const create = await alice.client.getStateEvent(roomId, 'm.room.create', '');
    expect(create.room_version).toBe('12');
    expect(create.creator ?? alice.userId).toBe(alice.userId);
    const power = await alice.client.getStateEvent(roomId, 'm.room.power_levels', '');
    // Room version 12: the creator has unlimited power and is not listed.
    expect(power.users?.[alice.userId]).toBeUndefined();

    // bob cannot read the room before he is invited.
    await refused(() => bob.client.createMessagesRequest(roomId, null, 10, sdk.Direction.Backward), 403, 'M_FORBIDDEN');

    // alice invites bob with a reason; the reason and the inviter are in bob's member event.
    const inviteReason = 'come and see the hearth';
    expect(await within(5000, 'invite', alice.client.invite(roomId, bob.userId, inviteReason))).toEqual({});
    const invited = await alice.client.getStateEvent(roomId, 'm.room.member', bob.userId);
    expect(invited).toMatchObject({ membership: 'invite', reason: inviteReason });

    // bob joins.
    const joined = await within(5000, 'joinRoom', bob.client.joinRoom(roomId));
    expect(joined.roomId).toBe(roomId);
    expect((await bob.client.getStateEvent(roomId, 'm.room.member', bob.userId)).membership).toBe('join');
    const members = await alice.client.getJoinedRoomMembers(roomId);
    expect(Object.keys(members.joined).sort()).toEqual([alice.userId, bob.userId].sort());

    // alice sends text.
    const text = 'hello bob, welcome to the hearth';
    const sent = await within(5000, 'sendTextMessage', alice.client.sendTextMessage(roomId, text));
    expect(sent.event_id).toMatch(/^\$[A-Za-z0-9_-]{43}$/);

    // Both read it through /messages, newest first.
    for (const [who, c] of [['alice', alice.client], ['bob', bob.client]] as const) {
      const page = await within(5000, `${who} /messages`, c.createMessagesRequest(roomId, null, 10, sdk.Direction.Backward));
      expect(typeof page.start).toBe('string');
      expect(page.chunk.length).toBeGreaterThan(0);
      const newest = page.chunk[0]!;
      expect(newest.event_id).toBe(sent.event_id);
      expect(newest.type).toBe('m.room.message');
      expect(newest.sender).toBe(alice.userId);
      expect(newest.room_id).toBe(roomId);
      expect(newest.content).toEqual({ msgtype: 'm.text', body: text });
      expect(typeof newest.origin_server_ts).toBe('number');
      // Older events, in order: bob's join, then the invite with its reason.
      const bobMember = page.chunk.filter((e) => e.type === 'm.room.member' && (e as { state_key?: string }).state_key === bob.userId);
      expect(bobMember.map((e) => e.content.membership)).toEqual(['join', 'invite']);
      expect(bobMember[1]!.content.reason).toBe(inviteReason);
      expect(bobMember[1]!.sender).toBe(alice.userId);
    }

    // The same message through /event as bob.
    const single = await bob.client.fetchRoomEvent(roomId, sent.event_id);
    expect(single.content).toEqual({ msgtype: 'm.text', body: text });
    expect(single.sender).toBe(alice.userId);

    // alice kicks bob with a reason; bob's membership event carries it.
    const kickReason = 'closing time';
    expect(await within(5000, 'kick', alice.client.kick(roomId, bob.userId, kickReason))).toEqual({});
    const afterKick = await alice.client.getStateEvent(roomId, 'm.room.member', bob.userId);
    expect(afterKick).toMatchObject({ membership: 'leave', reason: kickReason });

    const page = await alice.client.createMessagesRequest(roomId, null, 10, sdk.Direction.Backward);
    const kickEvent = page.chunk[0]!;
    expect(kickEvent).toMatchObject({
      type: 'm.room.member',
      state_key: bob.userId,
      sender: alice.userId,
      content: { membership: 'leave', reason: kickReason },
    });
    // The kick replaced bob's join: the previous content is in unsigned.
    expect((kickEvent.unsigned as { prev_content?: { membership?: string } } | undefined)?.prev_content?.membership).toBe('join');

    // bob is out: only alice remains joined and bob can no longer send.
    expect(Object.keys((await alice.client.getJoinedRoomMembers(roomId)).joined)).toEqual([alice.userId]);
    await refused(() => bob.client.sendTextMessage(roomId, 'let me back'), 403, 'M_FORBIDDEN');
  });
});
