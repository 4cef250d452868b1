// The KeyRing (matrix-spec: server-server-api "Retrieving server keys"; rooms/v5 "Signing key
// validity period") with a fake fetcher and a fake clock: what a key answer must be to be accepted,
// validity (valid_until_ts, the 7-day cap, old_verify_keys), refetching and its throttle, storage,
// notary answers; and the event signature check built on it.
import { FakeClock } from '../../../src/clock.js';
import { hashAndSignEvent } from '../../../src/core/crypto/event-hashing.js';
import { signJson, SigningKey, verifyJsonSignature } from '../../../src/core/crypto/signing.js';
import { KeyRingEventVerifier, requiredSigners } from '../../../src/core/federation/event-signatures.js';
import { checkKeyResponse, KeyRing, KeyResponseError, MAX_KEY_VALIDITY_MS, SignatureError } from '../../../src/core/federation/keyring.js';
import { ROOM_VERSIONS } from '../../../src/core/room-versions.js';
import { createLogger } from '../../../src/logger.js';
import { openSqliteStorage, type SqliteStorage } from '../../../src/storage/sqlite/index.js';
import type { StoredEvent } from '../../../src/wire.js';

const DAY = 24 * 3600_000;
const logger = createLogger('silent');

/** A remote server's key answer, signed by its key(s). */
function keyAnswer(serverName: string, keys: SigningKey[], validUntil: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  let body: Record<string, unknown> = {
    server_name: serverName,
    verify_keys: Object.fromEntries(keys.map((k) => [k.keyId, { key: k.publicKeyBase64 }])),
    old_verify_keys: {},
    valid_until_ts: validUntil,
    ...extra,
  };
  for (const k of keys) body = signJson(body, serverName, k);
  return body;
}

interface Setup {
  clock: FakeClock;
  storage: SqliteStorage;
  ring: KeyRing;
  fetched: string[];
  answers: Map<string, unknown>;
}

function setup(): Setup {
  const clock = new FakeClock();
  const storage = openSqliteStorage(':memory:', () => clock.now());
  const own = SigningKey.generate();
  const fetched: string[] = [];
  const answers = new Map<string, unknown>();
  const ring = new KeyRing({ server_name: 'me.test' }, storage.federation, clock, async () => own, async (server) => {
    fetched.push(server);
    const a = answers.get(server);
    if (a === undefined) throw new Error(`${server} is down`);
    return a;
  }, logger);
  return { clock, storage, ring, fetched, answers };
}

describe('checkKeyResponse', () => {
  const key = SigningKey.generate();
  const now = 1_700_000_000_000;

  it('accepts a self-signed answer and caps validity at 7 days after the fetch', () => {
    const keys = checkKeyResponse(keyAnswer('a.test', [key], now + 30 * DAY), 'a.test', now);
    expect(keys).toEqual([{ serverName: 'a.test', keyId: key.keyId, publicKey: key.publicKeyBase64, validUntilTs: now + MAX_KEY_VALIDITY_MS, expiredTs: null, fetchedTs: now }]);
    expect(checkKeyResponse(keyAnswer('a.test', [key], now + DAY), 'a.test', now)[0]!.validUntilTs).toBe(now + DAY);
  });

  it('keeps old_verify_keys, valid until their expired_ts', () => {
    const old = SigningKey.generate();
    const answer = keyAnswer('a.test', [key], now + DAY, { old_verify_keys: { [old.keyId]: { key: old.publicKeyBase64, expired_ts: now - DAY } } });
    expect(checkKeyResponse(answer, 'a.test', now)).toContainEqual({ serverName: 'a.test', keyId: old.keyId, publicKey: old.publicKeyBase64, validUntilTs: now - DAY, expiredTs: now - DAY, fetchedTs: now });
  });

  it.each<[string, (a: Record<string, unknown>) => unknown, RegExp]>([
    ['another server_name', (a) => ({ ...a, server_name: 'b.test' }), /server_name/],
    ['no valid_until_ts', (a) => { const { valid_until_ts: _v, ...rest } = a; return rest; }, /valid_until_ts/],
    ['a tampered body', (a) => ({ ...a, valid_until_ts: (a.valid_until_ts as number) + 1 }), /does not verify/],
    ['no signature', (a) => { const { signatures: _s, ...rest } = a; return rest; }, /not signed/],
    ['a signature by a key it does not list only', (a) => ({ ...signJson({ ...a, signatures: {} }, 'a.test', SigningKey.generate()) }), /not signed with any/],
    ['a key that is not 32 bytes', (a) => ({ ...a, verify_keys: { [key.keyId]: { key: 'AAAA' } } }), /32-byte/],
    ['not an object', () => [1, 2], /not a JSON object/],
  ])('refuses %s', (_name, change, message) => {
    const answer = change(keyAnswer('a.test', [key], now + DAY));
    expect(() => checkKeyResponse(answer, 'a.test', now)).toThrow(KeyResponseError);
    expect(() => checkKeyResponse(answer, 'a.test', now)).toThrow(message);
  });
});

describe('KeyRing.verifyJsonSignedBy', () => {
  const remote = SigningKey.generate();

  it('fetches the keys of an unknown server once, stores them, and verifies with them', async () => {
    const s = setup();
    s.answers.set('a.test', keyAnswer('a.test', [remote], s.clock.now() + DAY));
    const obj = signJson({ hello: 'world' }, 'a.test', remote);
    await s.ring.verifyJsonSignedBy(obj, 'a.test', s.clock.now());
    await s.ring.verifyJsonSignedBy(obj, 'a.test', s.clock.now());
    expect(s.fetched).toEqual(['a.test']);
    expect((await s.storage.federation.getServerKeys('a.test')).map((k) => k.keyId)).toEqual([remote.keyId]);
    const stored = await s.storage.federation.getServerKeyResponse('a.test');
    expect(verifyJsonSignature(JSON.parse(stored!.json), 'a.test', remote.keyId, remote.publicKeyBase64)).toBe(true);
  });

  it('refuses a bad signature, a missing signature and a server whose keys cannot be had', async () => {
    const s = setup();
    s.answers.set('a.test', keyAnswer('a.test', [remote], s.clock.now() + DAY));
    const forged = signJson({ hello: 'world' }, 'a.test', SigningKey.fromSeed(remote.keyId, Buffer.alloc(32, 7)));
    await expect(s.ring.verifyJsonSignedBy(forged, 'a.test', s.clock.now())).rejects.toThrow(/does not verify/);
    await expect(s.ring.verifyJsonSignedBy({ hello: 'world' }, 'a.test', s.clock.now())).rejects.toThrow(SignatureError);
    await expect(s.ring.verifyJsonSignedBy(signJson({ x: 1 }, 'down.test', remote), 'down.test', s.clock.now())).rejects.toThrow(/No key of down.test/);
  });

  it('ignores signatures with unknown keys when a known one verifies', async () => {
    const s = setup();
    s.answers.set('a.test', keyAnswer('a.test', [remote], s.clock.now() + DAY));
    const obj = signJson(signJson({ x: 1 }, 'a.test', remote), 'a.test', SigningKey.generate());
    await expect(s.ring.verifyJsonSignedBy(obj, 'a.test', s.clock.now())).resolves.toBeUndefined();
  });

  it('uses keys stored by an earlier run without fetching', async () => {
    const s = setup();
    s.answers.set('a.test', keyAnswer('a.test', [remote], s.clock.now() + DAY));
    await s.ring.refresh('a.test');
    const again = new KeyRing({ server_name: 'me.test' }, s.storage.federation, s.clock, async () => remote, async () => { throw new Error('no fetch expected'); }, logger);
    await again.verifyJsonSignedBy(signJson({ x: 1 }, 'a.test', remote), 'a.test', s.clock.now());
  });

  it('fetches again when the key is no longer valid for the time asked, at most once a minute', async () => {
    const s = setup();
    s.answers.set('a.test', keyAnswer('a.test', [remote], s.clock.now() + 1000));
    const obj = signJson({ x: 1 }, 'a.test', remote);
    await s.ring.verifyJsonSignedBy(obj, 'a.test', s.clock.now());
    s.clock.advance(2000);
    // Still the short validity: refused, and not fetched again within the minute.
    await expect(s.ring.verifyJsonSignedBy(obj, 'a.test', s.clock.now())).rejects.toThrow(/No key of a.test valid/);
    await expect(s.ring.verifyJsonSignedBy(obj, 'a.test', s.clock.now())).rejects.toThrow(SignatureError);
    expect(s.fetched).toEqual(['a.test']);
    s.answers.set('a.test', keyAnswer('a.test', [remote], s.clock.now() + DAY));
    s.clock.advance(60_000);
    await s.ring.verifyJsonSignedBy(obj, 'a.test', s.clock.now());
    expect(s.fetched).toEqual(['a.test', 'a.test']);
  });

  it('fetches again for a key ID it does not know (a rotated key)', async () => {
    const s = setup();
    s.answers.set('a.test', keyAnswer('a.test', [remote], s.clock.now() + DAY));
    await s.ring.refresh('a.test');
    s.clock.advance(60_000);
    const rotated = SigningKey.generate();
    s.answers.set('a.test', keyAnswer('a.test', [rotated], s.clock.now() + DAY, { old_verify_keys: { [remote.keyId]: { key: remote.publicKeyBase64, expired_ts: s.clock.now() } } }));
    await s.ring.verifyJsonSignedBy(signJson({ x: 1 }, 'a.test', rotated), 'a.test', s.clock.now());
    expect(s.fetched).toEqual(['a.test', 'a.test']);
  });

  it('lets an old key verify what was signed before it expired, never a request', async () => {
    const s = setup();
    const old = SigningKey.generate();
    const t = s.clock.now();
    s.answers.set('a.test', keyAnswer('a.test', [remote], t + DAY, { old_verify_keys: { [old.keyId]: { key: old.publicKeyBase64, expired_ts: t + 5000 } } }));
    const obj = signJson({ x: 1 }, 'a.test', old);
    await s.ring.verifyJsonSignedBy(obj, 'a.test', t);
    await expect(s.ring.verifyJsonSignedBy(obj, 'a.test', t, { currentKeysOnly: true })).rejects.toThrow(SignatureError);
    await expect(s.ring.verifyJsonSignedBy(obj, 'a.test', t + 6000)).rejects.toThrow(SignatureError);
  });

  it('checks its own server\'s signatures with its own key', async () => {
    const s = setup();
    const own = SigningKey.generate();
    const ring = new KeyRing({ server_name: 'me.test' }, s.storage.federation, s.clock, async () => own, async () => { throw new Error('no'); }, logger);
    await ring.verifyJsonSignedBy(signJson({ x: 1 }, 'me.test', own), 'me.test', s.clock.now());
  });
});

describe('KeyRing.notaryResponse', () => {
  const remote = SigningKey.generate();

  it('serves its own keys signed by itself, and a remote answer with both signatures', async () => {
    const s = setup();
    const own = await (s.ring as unknown as { ownKey: () => Promise<SigningKey> }).ownKey();
    const mine = await s.ring.notaryResponse('me.test', s.clock.now(), true);
    expect(verifyJsonSignature(mine!, 'me.test', own.keyId, own.publicKeyBase64)).toBe(true);
    s.answers.set('a.test', keyAnswer('a.test', [remote], s.clock.now() + DAY));
    const theirs = await s.ring.notaryResponse('a.test', s.clock.now(), true);
    expect(verifyJsonSignature(theirs!, 'a.test', remote.keyId, remote.publicKeyBase64)).toBe(true);
    expect(verifyJsonSignature(theirs!, 'me.test', own.keyId, own.publicKeyBase64)).toBe(true);
  });

  it('serves a cached answer while it is fresh, and a stale one when the server is down', async () => {
    const s = setup();
    s.answers.set('a.test', keyAnswer('a.test', [remote], s.clock.now() + DAY));
    await s.ring.notaryResponse('a.test', s.clock.now(), true);
    await s.ring.notaryResponse('a.test', s.clock.now(), true);
    expect(s.fetched).toEqual(['a.test']);
    s.answers.delete('a.test');
    s.clock.advance(2 * DAY);
    const stale = await s.ring.notaryResponse('a.test', s.clock.now(), true);
    expect(s.fetched).toEqual(['a.test', 'a.test']);
    expect(stale!.server_name).toBe('a.test');
  });

  it('does not fetch when it may not, and answers nothing for a server it knows nothing of', async () => {
    const s = setup();
    s.answers.set('a.test', keyAnswer('a.test', [remote], s.clock.now() + DAY));
    expect(await s.ring.notaryResponse('a.test', s.clock.now(), false)).toBeUndefined();
    expect(s.fetched).toEqual([]);
  });
});

describe('KeyRingEventVerifier', () => {
  const alice = SigningKey.generate();
  const bob = SigningKey.generate();
  const v11 = ROOM_VERSIONS['11'];

  async function verifier(): Promise<{ v: KeyRingEventVerifier; s: Setup }> {
    const s = setup();
    s.answers.set('a.test', keyAnswer('a.test', [alice], s.clock.now() + DAY));
    s.answers.set('b.test', keyAnswer('b.test', [bob], s.clock.now() + DAY));
    return { v: new KeyRingEventVerifier(s.ring), s };
  }

  const event = (content: Record<string, unknown>, ts: number, type = 'm.room.member', sender = '@alice:a.test'): StoredEvent => {
    const pdu = hashAndSignEvent({
      room_id: '!r:b.test', sender, type, state_key: sender, content: content as never, origin_server_ts: ts,
      prev_events: [], auth_events: [], depth: 3,
    }, 'a.test', alice, v11);
    return { ...pdu, event_id: '$x' };
  };

  it('accepts an event signed by the sender\'s server, and its redacted copy', async () => {
    const { v, s } = await verifier();
    const e = event({ membership: 'join', displayname: 'Alice' }, s.clock.now());
    await v.verifyEvent(e, v11);
    await v.verifyEvent({ ...e, content: { membership: 'join' } }, v11);
  });

  it('refuses an event whose signed part was changed, or signed by another server only', async () => {
    const { v, s } = await verifier();
    const e = event({ membership: 'join' }, s.clock.now());
    await expect(v.verifyEvent({ ...e, content: { membership: 'leave' } }, v11)).rejects.toThrow(SignatureError);
    await expect(v.verifyEvent({ ...e, sender: '@mallory:b.test', state_key: '@mallory:b.test' }, v11)).rejects.toThrow(SignatureError);
  });

  it('needs the authorising server\'s signature on a restricted join too', async () => {
    const { v, s } = await verifier();
    const e = event({ membership: 'join', join_authorised_via_users_server: '@bob:b.test' }, s.clock.now());
    expect(requiredSigners(e)).toEqual(['a.test', 'b.test']);
    await expect(v.verifyEvent(e, v11)).rejects.toThrow(/b\.test/);
    const { event_id: _id, ...pdu } = e;
    const both = { ...hashAndSignEvent(pdu, 'b.test', bob, v11), event_id: '$x' };
    await v.verifyEvent(both, v11);
  });

  it('checks the key against the event\'s origin_server_ts', async () => {
    const { v, s } = await verifier();
    const late = event({ membership: 'join' }, s.clock.now() + 2 * DAY);
    await expect(v.verifyEvent(late, v11)).rejects.toThrow(/No key of a\.test valid/);
  });
});
