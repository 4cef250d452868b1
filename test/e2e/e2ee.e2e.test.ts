// End-to-end encryption driven by real matrix-js-sdk clients with their Rust crypto (the WASM build of
// matrix-sdk-crypto that ships in @matrix-org/matrix-sdk-crypto-wasm, in memory: no IndexedDB in
// Node) against a Hearth on port 0. The server only stores and routes keys; every decryption below is
// the SDK's.
//
//   1. alice and bob create an encrypted room and exchange messages that each decrypts (keys upload,
//      query, claim, to-device room keys, device_lists and one-time key counts in /sync);
//   2. alice bootstraps cross-signing (device_signing/upload, signatures/upload; a reset of the keys
//      needs user-interactive auth with her password) and backs up her room keys (room_keys);
//   3. alice logs in on a second device, her first device cross-signs it, bob sees it signed by its
//      owner and the new device reads bob's new messages;
//   4. the new device restores the key backup and reads a message sent before it existed.
//
// Every HTTP request is recorded; a wait that times out names the requests that answered an error.
import { jest } from '@jest/globals';
import * as sdk from 'matrix-js-sdk';
import { decodeRecoveryKey, encodeRecoveryKey } from 'matrix-js-sdk/lib/crypto-api/recovery-key.js';
import { startE2eServer, type E2eServer } from './helpers.js';
import { createHarness, muteKnownSdkNoise } from './sdk-harness.js';

const PASSWORD = 'correct horse battery staple';
const PREPARED_TIMEOUT_MS = 20_000;
const DELIVERY_TIMEOUT_MS = 20_000;
// The SDK's backup loop waits a random 0 to 10 s before it uploads new keys.
const BACKUP_TIMEOUT_MS = 30_000;

jest.setTimeout(120_000);

const quiet = process.env.E2E_DEBUG !== '1';

interface User {
  client: sdk.MatrixClient;
  userId: string;
  deviceId: string;
  states: string[];
}

describe('end-to-end encryption through matrix-js-sdk with Rust crypto', () => {
  let hs: E2eServer;
  let unmute: (() => void) | undefined;
  const { requests, clients, describeFailures, waitFor, makeClient } = createHarness(() => hs.url);
  const uiaSteps: string[] = [];

  async function start(client: sdk.MatrixClient, userId: string, deviceId: string): Promise<User> {
    const user: User = { client, userId, deviceId, states: [] };
    client.on(sdk.ClientEvent.Sync, (state) => user.states.push(state));
    await client.initRustCrypto({ useIndexedDB: false });
    const prepared = waitFor(client, [sdk.ClientEvent.Sync], () => (user.states.includes(sdk.SyncState.Prepared) ? true : undefined), PREPARED_TIMEOUT_MS, `${userId} to reach PREPARED`);
    await client.startClient({ initialSyncLimit: 20 });
    await prepared;
    return user;
  }

  async function register(localpart: string): Promise<User> {
    const res = await makeClient(`${localpart}(anon)`).registerRequest({ username: localpart, password: PASSWORD, auth: { type: 'm.login.dummy' } });
    return start(makeClient(localpart, { userId: res.user_id, accessToken: res.access_token!, deviceId: res.device_id! }), res.user_id, res.device_id!);
  }

  async function login(localpart: string, who: string): Promise<User> {
    const res = await makeClient(`${who}(anon)`).loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: localpart }, password: PASSWORD });
    return start(makeClient(who, { userId: res.user_id, accessToken: res.access_token, deviceId: res.device_id }), res.user_id, res.device_id);
  }

  /** The UIA callback of cross-signing uploads: without auth first, then with the password in the session the server started. */
  const passwordAuth = (u: User) => async <T>(makeRequest: (auth: sdk.AuthDict | null) => Promise<T>): Promise<T> => {
    try {
      const r = await makeRequest(null);
      uiaSteps.push('accepted without auth');
      return r;
    } catch (e) {
      const err = e as sdk.MatrixError;
      if (err.httpStatus !== 401 || typeof err.data?.session !== 'string') throw e;
      uiaSteps.push('challenged');
      const r = await makeRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: u.userId }, password: PASSWORD, session: err.data.session });
      uiaSteps.push('accepted with the password');
      return r;
    }
  };

  /** The decrypted body of the room's event with this body, once the client has it. */
  function waitForDecrypted(u: User, roomId: string, body: string, ms = DELIVERY_TIMEOUT_MS): Promise<sdk.MatrixEvent> {
    return waitFor(u.client, [sdk.RoomEvent.Timeline, sdk.MatrixEventEvent.Decrypted, sdk.ClientEvent.Sync], () => {
      const room = u.client.getRoom(roomId);
      return room?.getLiveTimeline().getEvents().find((e) => e.getType() === 'm.room.message' && e.getContent().body === body);
    }, ms, `${u.userId}/${u.deviceId} to decrypt "${body}"`);
  }

  /** Polls `check` (for state the SDK changes in the background: backups, device lists). */
  async function eventually<T>(check: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await check();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${describeFailures()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  let alice: User;
  let bob: User;
  let alice2: User | undefined;
  let roomId = '';

  // The Rust library's tracing (turned on at debug level by initRustCrypto) and the SDK's per-room
  // encryption loggers write debug and info lines straight to the console: kept for E2E_DEBUG=1.
  const { debug, info } = console;
  beforeAll(async () => {
    if (quiet) {
      console.debug = () => undefined;
      console.info = () => undefined;
    }
    unmute = muteKnownSdkNoise([/Secret storage is not yet set up/, /Error decrypting event/, /Unable to decrypt/]);
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
    if (process.env.E2E_HTTP_LOG === '1') info(`e2ee HTTP log:\n${requests.map((r) => `  [${r.who}] ${r.method} ${r.path} -> ${r.status}`).join('\n')}`);
    unmute?.();
    console.debug = debug;
    console.info = info;
  });

  it('uploads each device\'s identity and one-time keys', async () => {
    for (const u of [alice, bob]) {
      // One upload stores the device keys, then the one-time keys: wait for both (a read in between,
      // quicker to happen on PostgreSQL, sees the first without the second).
      const { q, counts } = await eventually(async () => {
        const r = await hs.services.keys.queryLocal(null, { [u.userId]: [] });
        const c = await hs.services.storage.e2ee.countOneTimeKeys(u.userId, u.deviceId);
        return r.device_keys[u.userId]?.[u.deviceId] && c.signed_curve25519 !== undefined ? { q: r, counts: c } : undefined;
      }, DELIVERY_TIMEOUT_MS, `${u.userId}'s device keys and one-time keys`);
      const keys = q.device_keys[u.userId]![u.deviceId]! as { keys: Record<string, string> };
      expect(keys.keys[`ed25519:${u.deviceId}`]).toBe(await u.client.getCrypto()!.getOwnDeviceKeys().then((k) => k.ed25519));
      expect(counts.signed_curve25519).toBeGreaterThan(0);
    }
  });

  it('exchanges messages in an encrypted room that each side decrypts', async () => {
    const created = await alice.client.createRoom({
      name: 'secret plans',
      invite: [bob.userId],
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    });
    roomId = created.room_id;
    await waitFor(bob.client, [sdk.ClientEvent.Room, sdk.RoomEvent.MyMembership, sdk.ClientEvent.Sync], () => (bob.client.getRoom(roomId)?.getMyMembership() === 'invite' ? true : undefined), DELIVERY_TIMEOUT_MS, 'bob\'s invite');
    await bob.client.joinRoom(roomId);
    await waitFor(alice.client, [sdk.RoomStateEvent.Members, sdk.ClientEvent.Sync], () => (alice.client.getRoom(roomId)?.getMember(bob.userId)?.membership === 'join' ? true : undefined), DELIVERY_TIMEOUT_MS, 'bob\'s join at alice');
    expect(await alice.client.getCrypto()!.isEncryptionEnabledInRoom(roomId)).toBe(true);

    await alice.client.sendTextMessage(roomId, 'hello bob, this is encrypted');
    const atBob = await waitForDecrypted(bob, roomId, 'hello bob, this is encrypted');
    expect(atBob.isEncrypted()).toBe(true);
    expect(atBob.getWireType()).toBe('m.room.encrypted');
    expect(atBob.getSender()).toBe(alice.userId);

    await bob.client.sendTextMessage(roomId, 'hello alice, got it');
    const atAlice = await waitForDecrypted(alice, roomId, 'hello alice, got it');
    expect(atAlice.isEncrypted()).toBe(true);

    // What the server stored is ciphertext only.
    const stored = await hs.services.storage.rooms.getEvent(atBob.getId()!);
    expect(stored?.event.type).toBe('m.room.encrypted');
    expect(JSON.stringify(stored?.event.content)).not.toContain('hello bob');
  });

  it('bootstraps cross-signing (a reset needs the password) and backs up the room keys', async () => {
    const crypto = alice.client.getCrypto()!;
    await crypto.bootstrapCrossSigning({ authUploadDeviceSigningKeys: passwordAuth(alice) });
    expect(await crypto.isCrossSigningReady()).toBe(true);
    // A new account uploads its first keys without auth (cross_signing.yaml); replacing them needs UIA.
    await crypto.bootstrapCrossSigning({ setupNewCrossSigning: true, authUploadDeviceSigningKeys: passwordAuth(alice) });
    expect(uiaSteps).toEqual(['accepted without auth', 'challenged', 'accepted with the password']);
    expect(await crypto.isCrossSigningReady()).toBe(true);
    const status = await crypto.getCrossSigningStatus();
    expect(status.publicKeysOnDevice).toBe(true);
    expect(status.privateKeysCachedLocally).toEqual({ masterKey: true, selfSigningKey: true, userSigningKey: true });
    // The server has her keys, and her device signed by her self-signing key.
    const own = await hs.services.keys.queryLocal(alice.userId, { [alice.userId]: [] });
    expect(own.master_keys[alice.userId]).toBeDefined();
    expect(own.user_signing_keys?.[alice.userId]).toBeDefined();
    const ssk = Object.values((own.self_signing_keys[alice.userId] as { keys: Record<string, string> }).keys)[0]!;
    const device = own.device_keys[alice.userId]![alice.deviceId] as { signatures: Record<string, Record<string, string>> };
    expect(device.signatures[alice.userId]![`ed25519:${ssk}`]).toBeDefined();

    await crypto.resetKeyBackup();
    const version = await eventually(async () => (await crypto.getActiveSessionBackupVersion()) ?? undefined, DELIVERY_TIMEOUT_MS, 'an active backup');
    expect((await hs.services.keyBackup.get(alice.userId)).version).toBe(version);
    // A message before the second device exists; its room key goes to the backup.
    await alice.client.sendTextMessage(roomId, 'sent before the second device');
    await waitForDecrypted(bob, roomId, 'sent before the second device');
    await eventually(async () => ((await hs.services.keyBackup.get(alice.userId)).count >= 2 ? true : undefined), BACKUP_TIMEOUT_MS, 'the room keys in the backup');
  });

  it('a second device, cross-signed by the first, reads new messages', async () => {
    alice2 = await login('alice', 'alice2');
    const second = alice2;
    // Alice's first device learns of the new device (device_lists.changed) and signs it.
    await eventually(async () => ((await alice.client.getCrypto()!.getUserDeviceInfo([alice.userId], true)).get(alice.userId)?.has(second.deviceId) ? true : undefined),
      DELIVERY_TIMEOUT_MS, 'alice\'s first device to see her second');
    await alice.client.getCrypto()!.crossSignDevice(second.deviceId);
    // Bob sees it signed by its owner once his device list says so.
    const status = await eventually(async () => {
      const s = await bob.client.getCrypto()!.getDeviceVerificationStatus(alice.userId, second.deviceId);
      return s?.signedByOwner ? s : undefined;
    }, DELIVERY_TIMEOUT_MS, 'bob to see alice\'s second device signed by her self-signing key');
    expect(status.signedByOwner).toBe(true);

    await waitFor(second.client, [sdk.ClientEvent.Room, sdk.ClientEvent.Sync], () => second.client.getRoom(roomId) ?? undefined, DELIVERY_TIMEOUT_MS, 'the room on alice\'s second device');
    await bob.client.sendTextMessage(roomId, 'for both of your devices');
    const ev = await waitForDecrypted(second, roomId, 'for both of your devices');
    expect(ev.isEncrypted()).toBe(true);
    await waitForDecrypted(alice, roomId, 'for both of your devices');
  });

  it('the second device restores the key backup and reads a message sent before it existed', async () => {
    if (!alice2) throw new Error('no second device (see the previous test)');
    const second = alice2;
    const first = alice.client.getCrypto()!;
    // What alice types in as her backup recovery key.
    const recoveryKey = encodeRecoveryKey((await first.getSessionBackupPrivateKey())!)!;
    const version = (await first.getActiveSessionBackupVersion())!;
    const crypto = second.client.getCrypto()!;
    await crypto.storeSessionBackupPrivateKey(decodeRecoveryKey(recoveryKey), version);
    const restored = await crypto.restoreKeyBackup();
    expect(restored.imported).toBeGreaterThanOrEqual(1);
    const early = await waitForDecrypted(second, roomId, 'sent before the second device');
    expect(early.getSender()).toBe(alice.userId);
    expect(requests.filter((r) => r.who === 'alice2' && r.path.startsWith('/_matrix/client/v3/room_keys/keys')).map((r) => r.status)).toContain(200);
  });
});
