// The acceptance test of issue 18 across servers: two matrix-js-sdk 37.5 clients with Rust crypto (in
// memory), alice on hs1 and bob on hs2, in an encrypted room shared over federation, exchange
// messages that each decrypts. Everything the SDK needs crosses the federation: bob's device keys and
// one-time keys (user/keys/query, user/keys/claim), device-list changes (m.device_list_update), and
// the Olm-encrypted room keys (to-device messages: m.direct_to_device).
import { jest } from '@jest/globals';
import * as sdk from 'matrix-js-sdk';
import { startHearths, type FedHearth, type HearthCluster } from '../helpers/hearths.js';
import { createHarness, muteKnownSdkNoise } from './sdk-harness.js';

const PASSWORD = 'correct horse battery staple';
const PREPARED_TIMEOUT_MS = 20_000;
const DELIVERY_TIMEOUT_MS = 30_000;

jest.setTimeout(150_000);

const quiet = process.env.E2E_DEBUG !== '1';

interface User {
  client: sdk.MatrixClient;
  userId: string;
  deviceId: string;
  states: string[];
}

describe('end-to-end encryption across two Hearths through matrix-js-sdk with Rust crypto', () => {
  let cluster: HearthCluster;
  let hs1: FedHearth;
  let hs2: FedHearth;
  let unmute: (() => void) | undefined;
  const on1 = createHarness(() => hs1.running.url);
  const on2 = createHarness(() => hs2.running.url);
  const describeFailures = () => `hs1: ${on1.describeFailures()}\nhs2: ${on2.describeFailures()}`;

  async function register(h: ReturnType<typeof createHarness>, localpart: string): Promise<User> {
    const res = await h.makeClient(`${localpart}(anon)`).registerRequest({ username: localpart, password: PASSWORD, auth: { type: 'm.login.dummy' } });
    const client = h.makeClient(localpart, { userId: res.user_id, accessToken: res.access_token!, deviceId: res.device_id! });
    const user: User = { client, userId: res.user_id, deviceId: res.device_id!, states: [] };
    client.on(sdk.ClientEvent.Sync, (state) => user.states.push(state));
    await client.initRustCrypto({ useIndexedDB: false });
    const prepared = h.waitFor(client, [sdk.ClientEvent.Sync], () => (user.states.includes(sdk.SyncState.Prepared) ? true : undefined), PREPARED_TIMEOUT_MS, `${res.user_id} to reach PREPARED`);
    await client.startClient({ initialSyncLimit: 20 });
    await prepared;
    return user;
  }

  /** The decrypted event with this body in the room, once the client has it. */
  function waitForDecrypted(h: ReturnType<typeof createHarness>, u: User, roomId: string, body: string): Promise<sdk.MatrixEvent> {
    return h.waitFor(u.client, [sdk.RoomEvent.Timeline, sdk.MatrixEventEvent.Decrypted, sdk.ClientEvent.Sync], () => {
      const room = u.client.getRoom(roomId);
      return room?.getLiveTimeline().getEvents().find((e) => e.getType() === 'm.room.message' && e.getContent().body === body);
    }, DELIVERY_TIMEOUT_MS, `${u.userId} to decrypt "${body}"\n${describeFailures()}`);
  }

  let alice: User;
  let bob: User;

  const { debug, info } = console;
  beforeAll(async () => {
    if (quiet) {
      console.debug = () => undefined;
      console.info = () => undefined;
    }
    unmute = muteKnownSdkNoise([/Secret storage is not yet set up/, /Error decrypting event/, /Unable to decrypt/, /Failed to decrypt a room event/]);
    cluster = await startHearths(2);
    [hs1, hs2] = cluster.servers as [FedHearth, FedHearth];
    alice = await register(on1, 'alice');
    bob = await register(on2, 'bob');
  }, 90_000);
  afterAll(async () => {
    for (const c of [...on1.clients, ...on2.clients]) {
      c.stopClient();
      c.http.abort();
    }
    await cluster?.close();
    unmute?.();
    console.debug = debug;
    console.info = info;
  });

  it('alice on hs1 and bob on hs2 exchange messages in an encrypted room that each decrypts', async () => {
    const created = await alice.client.createRoom({
      name: 'across servers, encrypted',
      invite: [bob.userId],
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    });
    const roomId = created.room_id;
    await on2.waitFor(bob.client, [sdk.ClientEvent.Room, sdk.RoomEvent.MyMembership, sdk.ClientEvent.Sync], () => (bob.client.getRoom(roomId)?.getMyMembership() === 'invite' ? true : undefined), DELIVERY_TIMEOUT_MS, 'bob\'s invite');
    await bob.client.joinRoom(roomId);
    await on1.waitFor(alice.client, [sdk.RoomStateEvent.Members, sdk.ClientEvent.Sync], () => (alice.client.getRoom(roomId)?.getMember(bob.userId)?.membership === 'join' ? true : undefined), DELIVERY_TIMEOUT_MS, 'bob\'s join at alice');
    expect(await alice.client.getCrypto()!.isEncryptionEnabledInRoom(roomId)).toBe(true);

    await alice.client.sendTextMessage(roomId, 'hello bob, from hs1, encrypted');
    const atBob = await waitForDecrypted(on2, bob, roomId, 'hello bob, from hs1, encrypted');
    expect(atBob.isEncrypted()).toBe(true);
    expect(atBob.getSender()).toBe(alice.userId);

    await bob.client.sendTextMessage(roomId, 'hello alice, from hs2, got it');
    const atAlice = await waitForDecrypted(on1, alice, roomId, 'hello alice, from hs2, got it');
    expect(atAlice.isEncrypted()).toBe(true);
    expect(atAlice.getSender()).toBe(bob.userId);

    // Neither server stored anything but ciphertext.
    for (const [h, id] of [[hs1, atBob.getId()!], [hs2, atAlice.getId()!]] as const) {
      const stored = await h.running.services.storage.rooms.getEvent(id);
      expect(stored?.event.type).toBe('m.room.encrypted');
      expect(JSON.stringify(stored?.event.content)).not.toContain('hello');
    }
  });
});
