import { createHash } from 'node:crypto';
import { decodeBase64 } from '../../../src/core/crypto/base64.js';
import { canonicalJsonBytes } from '../../../src/core/crypto/canonical-json.js';
import {
  computeContentHash,
  computeEventId,
  computeReferenceHash,
  hashAndSignEvent,
  redactEvent,
  verifyContentHash,
  verifyEventSignature,
  type UnsignedPdu,
} from '../../../src/core/crypto/event-hashing.js';
import { SigningKey } from '../../../src/core/crypto/signing.js';
import type { JsonObject, Pdu } from '../../../src/core/events/types.js';
import { ROOM_VERSIONS } from '../../../src/core/room-versions.js';

const V10 = ROOM_VERSIONS['10'];
const V11 = ROOM_VERSIONS['11'];

// matrix-spec content/appendices.md "Cryptographic Test Vectors".
const key = SigningKey.fromSeed('ed25519:1', decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1'));

/** Top-level fields every test event shares; `extra` adds or overrides. */
function pdu(type: string, content: JsonObject, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    auth_events: ['$auth'],
    content,
    depth: 12,
    hashes: { sha256: 'hash' },
    origin_server_ts: 1700000000000,
    prev_events: ['$prev'],
    room_id: '!room:example.org',
    sender: '@alice:example.org',
    signatures: { 'example.org': { 'ed25519:1': 'sig' } },
    type,
    unsigned: { age: 5 },
    ...extra,
  };
}

/** The same event as redactEvent should return it: no `unsigned`, the given content. */
function redacted(type: string, content: JsonObject, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { unsigned: _u, ...rest } = pdu(type, content, extra);
  return rest;
}

describe('hashAndSignEvent (appendices "Event Signing" vectors, room v10 redaction)', () => {
  // The vectors keep top-level `origin` (and `event_id`) in the signed redacted form, as v10 does.
  it('signs the minimal event', () => {
    const event = {
      room_id: '!x:domain',
      sender: '@a:domain',
      origin: 'domain',
      origin_server_ts: 1000000,
      signatures: {},
      hashes: {},
      type: 'X',
      content: {},
      prev_events: [],
      auth_events: [],
      depth: 3,
      unsigned: { age_ts: 1000000 },
    } as unknown as UnsignedPdu;
    const signed = hashAndSignEvent(event, 'domain', key, V10);
    expect(signed).toEqual({
      auth_events: [],
      content: {},
      depth: 3,
      hashes: { sha256: '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos' },
      origin: 'domain',
      origin_server_ts: 1000000,
      prev_events: [],
      room_id: '!x:domain',
      sender: '@a:domain',
      signatures: {
        domain: { 'ed25519:1': 'KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg' },
      },
      type: 'X',
      unsigned: { age_ts: 1000000 },
    });
    expect(event).toHaveProperty('hashes', {}); // input left alone
    expect(verifyContentHash(signed)).toBe(true);
    expect(verifyEventSignature(signed, 'domain', 'ed25519:1', key.publicKeyBase64, V10)).toBe(true);
  });

  it('signs the event with redactable content', () => {
    const event = {
      content: { body: 'Here is the message content' },
      event_id: '$0:domain',
      origin: 'domain',
      origin_server_ts: 1000000,
      type: 'm.room.message',
      room_id: '!r:domain',
      sender: '@u:domain',
      signatures: {},
      unsigned: { age_ts: 1000000 },
    } as unknown as UnsignedPdu;
    expect(hashAndSignEvent(event, 'domain', key, V10)).toEqual({
      content: { body: 'Here is the message content' },
      event_id: '$0:domain',
      hashes: { sha256: 'onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g' },
      origin: 'domain',
      origin_server_ts: 1000000,
      type: 'm.room.message',
      room_id: '!r:domain',
      sender: '@u:domain',
      signatures: {
        domain: { 'ed25519:1': 'Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA' },
      },
      unsigned: { age_ts: 1000000 },
    });
  });

  it('under v11 the signature no longer covers `origin`, the content hash still does', () => {
    const event = pdu('m.room.message', { body: 'hi' }, { origin: 'example.org', signatures: {} }) as unknown as UnsignedPdu;
    const signed11 = hashAndSignEvent(event, 'example.org', key, V11);
    const signed10 = hashAndSignEvent(event, 'example.org', key, V10);
    expect(signed11.hashes).toEqual(signed10.hashes);
    expect(signed11.signatures['example.org']!['ed25519:1']).not.toBe(signed10.signatures['example.org']!['ed25519:1']);
    const moved = { ...signed11, origin: 'evil.example' };
    expect(verifyEventSignature(moved, 'example.org', 'ed25519:1', key.publicKeyBase64, V11)).toBe(true);
    expect(verifyContentHash(moved)).toBe(false);
    expect(verifyEventSignature({ ...signed10, origin: 'evil.example' }, 'example.org', 'ed25519:1', key.publicKeyBase64, V10)).toBe(false);
  });

  it('keeps existing signatures and replaces stale hashes', () => {
    const event = pdu('m.room.message', {}, { hashes: { sha256: 'stale' }, signatures: { 'other.example': { 'ed25519:o': 'x' } } });
    const signed = hashAndSignEvent(event as unknown as UnsignedPdu, 'example.org', key, V11);
    expect(signed.hashes.sha256).toBe(computeContentHash(event));
    expect(Object.keys(signed.signatures).sort()).toEqual(['example.org', 'other.example']);
    expect(signed.signatures['other.example']).toEqual({ 'ed25519:o': 'x' });
  });
});

describe('event signature and content hash verification', () => {
  const base = pdu('m.room.message', { body: 'hello', msgtype: 'm.text' }, { signatures: {} });
  const signed = hashAndSignEvent(base as unknown as UnsignedPdu, 'example.org', key, V11);
  const check = (event: object, keyId = 'ed25519:1', publicKey = key.publicKeyBase64): boolean =>
    verifyEventSignature(event, 'example.org', keyId, publicKey, V11);

  it('accepts the event, its redacted copy and a changed unsigned', () => {
    expect(check(signed)).toBe(true);
    expect(check(redactEvent(signed, V11))).toBe(true);
    expect(check({ ...signed, unsigned: { age: 999 } })).toBe(true);
    expect(verifyContentHash(signed)).toBe(true);
    expect(verifyContentHash({ ...signed, unsigned: { age: 999 } })).toBe(true);
  });

  it('detects tampering', () => {
    // Essential fields break the signature; redactable content only breaks the content hash.
    expect(check({ ...signed, depth: 13 })).toBe(false);
    expect(check({ ...signed, sender: '@mallory:example.org' })).toBe(false);
    expect(check({ ...signed, hashes: { sha256: computeContentHash({ ...signed, content: {} }) } })).toBe(false);
    expect(check({ ...signed, content: { body: 'bye', msgtype: 'm.text' } })).toBe(true);
    expect(verifyContentHash({ ...signed, content: { body: 'bye', msgtype: 'm.text' } })).toBe(false);
    expect(verifyContentHash(redactEvent(signed, V11))).toBe(false);
    expect(verifyContentHash({ ...signed, hashes: {} })).toBe(false);
    expect(check(signed, 'ed25519:2')).toBe(false);
    expect(check(signed, 'ed25519:1', SigningKey.generate().publicKeyBase64)).toBe(false);
  });
});

describe('computeContentHash', () => {
  it('covers everything except unsigned, signatures and hashes', () => {
    const event = pdu('m.room.message', { body: 'x' });
    const hash = computeContentHash(event);
    expect(hash).toMatch(/^[A-Za-z0-9+/]{43}$/);
    expect(computeContentHash({ ...event, unsigned: {}, signatures: {}, hashes: { sha256: 'other' } })).toBe(hash);
    expect(computeContentHash({ ...event, content: { body: 'y' } })).not.toBe(hash);
    expect(computeContentHash({ ...event, origin: 'example.org' })).not.toBe(hash);
  });
});

describe('computeEventId', () => {
  // A room v5 create event made by Synapse, with the event ID it got under the v4+ event ID format
  // (taken from gomatrixserverlib's eventversion_test.go). Room v5's redaction keeps the same fields
  // of this event as v10's, so the ID must be reproduced exactly under v10 rules.
  const SYNAPSE_CREATE = JSON.parse(
    '{"auth_events": [], "prev_events": [], "type": "m.room.create", "room_id": "!uXDCzlYgCTHtiWCkEx:jki.re", "sender": "@erikj:jki.re", "content": {"room_version": "5", "predecessor": {"room_id": "!gdRMqOrTFdOCYHNwOo:half-shot.uk", "event_id": "$LP7ROBc4b+cMc1UE9haIz8q5AK2AIW4eJ90FfKLvyZI"}, "creator": "@erikj:jki.re"}, "depth": 1, "prev_state": [], "state_key": "", "origin": "jki.re", "origin_server_ts": 1560284621137, "hashes": {"sha256": "IX6zuNiJpJPNf70BLleL3HSCpjKeq9Uhu7uUpyDjBmc"}, "signatures": {"jki.re": {"ed25519:auto": "O4IyFfF2PPtGp5uaDm8t57dZbdh8vc8Q64LgCwvzYRVItAMI0uisfiAFaxkVT7MRpzh6N2QNN5NMRXZKmgPYDA"}}, "unsigned": {"age": 1321650}}',
  ) as JsonObject;

  it('reproduces an event ID computed by Synapse', () => {
    expect(computeEventId(SYNAPSE_CREATE, V10)).toBe('$RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438');
    expect(verifyContentHash(SYNAPSE_CREATE)).toBe(true);
    // v11 keeps the whole create content and drops origin / prev_state: another reference hash.
    expect(computeEventId(SYNAPSE_CREATE, V11)).not.toBe('$RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438');
  });

  // Values cross-checked with an independent Python computation following the spec's algorithm
  // (json.dumps(sort_keys=True, separators=(',',':'), ensure_ascii=False), hashlib.sha256, urlsafe_b64encode).
  const message = pdu('m.room.message', { body: 'hello', msgtype: 'm.text' }, {
    auth_events: ['$auth1'],
    depth: 5,
    hashes: { sha256: 'abc' },
    origin: 'example.org',
    prev_events: ['$prev1'],
    room_id: '!room:example.org',
    signatures: { 'example.org': { 'ed25519:1': 'sig' } },
  });

  it('is $ + 43 URL-safe base64 characters of the reference hash', () => {
    expect(computeEventId(message, V10)).toBe('$8wHdO35xb6FO3ZO4sqCU8w3ft0bu9M5MhTb5vp4ZoaY');
    expect(computeEventId(message, V11)).toBe('$8xAouPKRJhWOO1cktk-4ZNfBFGmdweGjWtLkUHrRyN4');
    expect(computeReferenceHash(message, V11).toString('base64url')).toBe('8xAouPKRJhWOO1cktk-4ZNfBFGmdweGjWtLkUHrRyN4');
    for (let i = 0; i < 20; i++) {
      expect(computeEventId({ ...message, depth: i }, V11)).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
    }
  });

  it('is stable, ignores unsigned, signatures and a carried event_id, and follows essential changes', () => {
    const id = computeEventId(message, V11);
    expect(computeEventId(structuredClone(message), V11)).toBe(id);
    expect(computeEventId({ ...message, unsigned: { age: 1, transaction_id: 't' } }, V11)).toBe(id);
    expect(computeEventId({ ...message, signatures: {} }, V11)).toBe(id);
    expect(computeEventId({ ...message, event_id: id }, V11)).toBe(id);
    // Redactable content is covered through `hashes`, not directly.
    expect(computeEventId({ ...message, content: { body: 'bye' } }, V11)).toBe(id);
    expect(computeEventId({ ...message, hashes: { sha256: 'abd' } }, V11)).not.toBe(id);
    expect(computeEventId({ ...message, depth: 6 }, V11)).not.toBe(id);
    expect(computeEventId({ ...message, prev_events: ['$other'] }, V11)).not.toBe(id);
  });

  it('changes when the content changes (through the content hash of a signed event)', () => {
    const a = hashAndSignEvent(pdu('m.room.message', { body: 'a' }) as unknown as UnsignedPdu, 'example.org', key, V11);
    const b = hashAndSignEvent(pdu('m.room.message', { body: 'b' }) as unknown as UnsignedPdu, 'example.org', key, V11);
    expect(computeEventId(a, V11)).not.toBe(computeEventId(b, V11));
    const member = (membership: string): Pdu => pdu('m.room.member', { membership }, { state_key: '@alice:example.org' }) as unknown as Pdu;
    expect(computeEventId(member('join'), V11)).not.toBe(computeEventId(member('leave'), V11));
  });
});

describe('redactEvent', () => {
  it('strips unknown top-level keys; v10 keeps origin, membership and prev_state, v11 does not', () => {
    const event = pdu('m.room.message', { body: 'x' }, {
      origin: 'example.org',
      membership: 'join',
      prev_state: [],
      redacts: '$x',
      event_id: '$id',
      state_key: 's',
      custom: 1,
    });
    expect(redactEvent(event, V10)).toEqual(
      redacted('m.room.message', {}, { origin: 'example.org', membership: 'join', prev_state: [], event_id: '$id', state_key: 's' }),
    );
    expect(redactEvent(event, V11)).toEqual(redacted('m.room.message', {}, { event_id: '$id', state_key: 's' }));
  });

  it('returns a copy and always has content', () => {
    const event = pdu('m.room.power_levels', { users: { '@a:b': 100 } });
    const out = redactEvent(event, V11);
    (out.content as { users: Record<string, number> }).users['@a:b'] = 0;
    expect(event.content).toEqual({ users: { '@a:b': 100 } });
    const { content: _c, ...noContent } = pdu('m.room.message', {});
    expect(redactEvent(noContent, V10).content).toEqual({});
    expect(redactEvent({ ...noContent, content: 'text' }, V10).content).toEqual({});
  });

  const cases: Array<{ name: string; type: string; content: JsonObject; v10: JsonObject; v11: JsonObject }> = [
    {
      name: 'm.room.member: membership and join_authorised_via_users_server; v11 also third_party_invite.signed',
      type: 'm.room.member',
      content: {
        membership: 'invite',
        displayname: 'Alice',
        avatar_url: 'mxc://a/b',
        join_authorised_via_users_server: '@admin:example.org',
        third_party_invite: { display_name: 'alice@example.com', signed: { mxid: '@alice:example.org', token: 't', signatures: {} } },
      },
      v10: { membership: 'invite', join_authorised_via_users_server: '@admin:example.org' },
      v11: {
        membership: 'invite',
        join_authorised_via_users_server: '@admin:example.org',
        third_party_invite: { signed: { mxid: '@alice:example.org', token: 't', signatures: {} } },
      },
    },
    {
      name: 'm.room.member: a third_party_invite without signed stays as an empty object in v11',
      type: 'm.room.member',
      content: { membership: 'invite', third_party_invite: { display_name: 'x' } },
      v10: { membership: 'invite' },
      v11: { membership: 'invite', third_party_invite: {} },
    },
    {
      name: 'm.room.create: v10 keeps only creator, v11 keeps all content',
      type: 'm.room.create',
      content: { creator: '@alice:example.org', room_version: '10', 'm.federate': false, predecessor: { room_id: '!old:x' } },
      v10: { creator: '@alice:example.org' },
      v11: { creator: '@alice:example.org', room_version: '10', 'm.federate': false, predecessor: { room_id: '!old:x' } },
    },
    {
      name: 'm.room.join_rules: join_rule and allow in both',
      type: 'm.room.join_rules',
      content: { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: '!s:x' }], other: 1 },
      v10: { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: '!s:x' }] },
      v11: { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: '!s:x' }] },
    },
    {
      name: 'm.room.power_levels: v11 also keeps invite',
      type: 'm.room.power_levels',
      content: {
        ban: 50, events: { 'm.room.name': 50 }, events_default: 0, invite: 0, kick: 50, redact: 50,
        state_default: 50, users: { '@alice:example.org': 100 }, users_default: 0, notifications: { room: 50 },
      },
      v10: {
        ban: 50, events: { 'm.room.name': 50 }, events_default: 0, kick: 50, redact: 50,
        state_default: 50, users: { '@alice:example.org': 100 }, users_default: 0,
      },
      v11: {
        ban: 50, events: { 'm.room.name': 50 }, events_default: 0, invite: 0, kick: 50, redact: 50,
        state_default: 50, users: { '@alice:example.org': 100 }, users_default: 0,
      },
    },
    {
      name: 'm.room.history_visibility: history_visibility in both',
      type: 'm.room.history_visibility',
      content: { history_visibility: 'shared', extra: true },
      v10: { history_visibility: 'shared' },
      v11: { history_visibility: 'shared' },
    },
    {
      name: 'm.room.redaction: v11 keeps content.redacts',
      type: 'm.room.redaction',
      content: { redacts: '$target', reason: 'spam' },
      v10: {},
      v11: { redacts: '$target' },
    },
    {
      name: 'other types: content emptied',
      type: 'm.room.name',
      content: { name: 'Room' },
      v10: {},
      v11: {},
    },
  ];

  it.each(cases)('$name', ({ type, content, v10, v11 }) => {
    const event = pdu(type, content, { state_key: '' });
    expect(redactEvent(event, V10)).toEqual(redacted(type, v10, { state_key: '' }));
    expect(redactEvent(event, V11)).toEqual(redacted(type, v11, { state_key: '' }));
  });

  it('drops the top-level redacts of a v10 redaction event', () => {
    const event = pdu('m.room.redaction', { reason: 'spam' }, { redacts: '$target' });
    expect(redactEvent(event, V10)).toEqual(redacted('m.room.redaction', {}));
  });
});

describe('hashSignAndIdentify', () => {
  it('gives the same PDU and event ID as hashAndSignEvent + computeEventId', async () => {
    const { hashSignAndIdentify, hashAndSignEvent, computeEventId } = await import('../../../src/core/crypto/event-hashing.js');
    const { SigningKey } = await import('../../../src/core/crypto/signing.js');
    const { ROOM_VERSIONS } = await import('../../../src/core/room-versions.js');
    const key = SigningKey.generate();
    for (const v of [ROOM_VERSIONS['10'], ROOM_VERSIONS['11']]) {
      const ev = {
        room_id: '!r:example.org', sender: '@a:example.org', type: 'm.room.message', content: { body: 'hi é', n: 1 },
        origin_server_ts: 1700000000000, prev_events: ['$p'], auth_events: ['$a'], depth: 7,
      };
      const { pdu, eventId } = hashSignAndIdentify(ev, 'example.org', key, v);
      const reference = hashAndSignEvent(ev, 'example.org', key, v);
      expect(pdu).toEqual(reference);
      expect(eventId).toBe(computeEventId(reference, v));
    }
  });

  it('the thread-pool variant gives exactly the same PDU and event ID, and refuses what the sync one refuses', async () => {
    const { hashSignAndIdentify, hashSignAndIdentifyAsync } = await import('../../../src/core/crypto/event-hashing.js');
    const { CanonicalJsonError } = await import('../../../src/core/crypto/canonical-json.js');
    const { SigningKey } = await import('../../../src/core/crypto/signing.js');
    const { ROOM_VERSIONS } = await import('../../../src/core/room-versions.js');
    const key = SigningKey.generate();
    for (const v of [ROOM_VERSIONS['10'], ROOM_VERSIONS['11']]) {
      const ev = {
        room_id: '!r:example.org', sender: '@a:example.org', type: 'm.room.member', state_key: '@a:example.org',
        content: { membership: 'join', displayname: 'A \u{1F600}' }, origin_server_ts: 1700000000001, prev_events: ['$p'], auth_events: ['$a', '$b'], depth: 3,
      };
      expect(await hashSignAndIdentifyAsync(ev, 'example.org', key, v)).toEqual(hashSignAndIdentify(ev, 'example.org', key, v));
      const bad = { ...ev, content: { n: 1.5 } };
      await expect(hashSignAndIdentifyAsync(bad, 'example.org', key, v)).rejects.toBeInstanceOf(CanonicalJsonError);
    }
  });

  it('does not modify its input, and neither does computeEventId', async () => {
    const { hashSignAndIdentify } = await import('../../../src/core/crypto/event-hashing.js');
    const deepFreeze = <T>(value: T): T => {
      if (typeof value === 'object' && value !== null) {
        for (const v of Object.values(value)) deepFreeze(v);
        Object.freeze(value);
      }
      return value;
    };
    const events: UnsignedPdu[] = [
      pdu('m.room.message', { body: 'hi', 'm.relates_to': { rel_type: 'm.thread', event_id: '$root' } }, { prev_events: ['$b', '$a'] }) as unknown as UnsignedPdu,
      pdu('m.room.create', { creator: '@alice:example.org', room_version: '11', 'm.federate': true }, { state_key: '' }) as unknown as UnsignedPdu,
      pdu('m.room.member', { membership: 'invite', displayname: 'Bob', third_party_invite: { display_name: 'b', signed: { token: 't' } } }, { state_key: '@bob:example.org', origin: 'example.org' }) as unknown as UnsignedPdu,
      pdu('m.room.power_levels', { users: { '@alice:example.org': 100 }, events: { 'm.room.name': 50 }, notifications: { room: 50 } }, { state_key: '' }) as unknown as UnsignedPdu,
    ];
    for (const v of [V10, V11]) {
      for (const event of events) {
        const snapshot = structuredClone(event);
        const frozen = deepFreeze(structuredClone(event));
        const { pdu: out, eventId } = hashSignAndIdentify(frozen, 'example.org', key, v);
        expect(frozen).toEqual(snapshot);
        expect(eventId).toBe(computeEventId(out, v));
        expect(computeReferenceHash(frozen, v)).toEqual(computeReferenceHash(snapshot, v));
        expect(frozen).toEqual(snapshot);
        // Same output as from an unfrozen input.
        expect(hashSignAndIdentify(structuredClone(event), 'example.org', key, v)).toEqual({ pdu: out, eventId });
        expect(out).toEqual(hashAndSignEvent(structuredClone(event), 'example.org', key, v));
        expect(out.signatures['example.org']).toHaveProperty('ed25519:1');
      }
    }
  });

  it('matches the reference hash of the deep-copied redaction', () => {
    const event = pdu('m.room.member', { membership: 'join', third_party_invite: { signed: { mxid: '@b:c' }, x: 1 } }, { state_key: '@b:c' });
    for (const v of [V10, V11]) {
      const { signatures: _s, unsigned: _u, ...rest } = redactEvent(event, v);
      const expected = createHash('sha256').update(canonicalJsonBytes(rest)).digest();
      expect(computeReferenceHash(event, v)).toEqual(expected);
    }
  });
});
