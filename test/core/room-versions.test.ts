// Tests for src/core/room-versions.ts: the version flags, and v12's room ID derived from the create
// event (rooms/v12 auth rule 1.2 note) with the hashing that derivation relies on.
import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { encodeBase64Url } from '../../src/core/crypto/base64.js';
import { canonicalJsonBytes } from '../../src/core/crypto/canonical-json.js';
import { computeEventId, hashSignAndIdentify, redactEvent, type UnsignedPdu } from '../../src/core/crypto/event-hashing.js';
import { SigningKey } from '../../src/core/crypto/signing.js';
import { decodeBase64 } from '../../src/core/crypto/base64.js';
import {
  DEFAULT_ROOM_VERSION,
  ROOM_VERSIONS,
  SUPPORTED_ROOM_VERSIONS,
  createEventIdForRoom,
  knownRoomVersion,
  roomIdForCreateEvent,
  roomVersion,
} from '../../src/core/room-versions.js';

const V10 = ROOM_VERSIONS['10'];
const V11 = ROOM_VERSIONS['11'];
const V12 = ROOM_VERSIONS['12'];

const key = SigningKey.fromSeed('ed25519:1', decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1'));

/** A v12 create event as its creator builds it: no room_id. */
function v12Create(): Record<string, unknown> {
  return {
    auth_events: [],
    content: { room_version: '12', additional_creators: ['@cat:hs2'], 'm.federate': true },
    depth: 1,
    hashes: { sha256: 'ignored' },
    origin_server_ts: 1_700_000_000_000,
    prev_events: [],
    sender: '@alice:hs1',
    signatures: {},
    state_key: '',
    type: 'm.room.create',
    unsigned: { age: 1 },
  };
}

describe('room versions', () => {
  it('knows the rules of 10, 11 and 12 and hosts all three; the default is 12 (it federates with Synapse)', () => {
    expect(Object.keys(ROOM_VERSIONS).sort()).toEqual(['10', '11', '12']);
    expect(knownRoomVersion('12')).toBe(V12);
    expect(knownRoomVersion('11')).toBe(V11);
    expect(knownRoomVersion('13')).toBeUndefined();
    expect(knownRoomVersion('constructor')).toBeUndefined();
    expect(SUPPORTED_ROOM_VERSIONS).toEqual(['10', '11', '12']);
    expect(roomVersion('10')).toBe(V10);
    expect(roomVersion('11')).toBe(V11);
    expect(roomVersion('12')).toBe(V12);
    expect(roomVersion('13')).toBeUndefined();
    expect(roomVersion('constructor')).toBeUndefined();
    expect(DEFAULT_ROOM_VERSION).toBe('12');
  });

  it('v10 and v11 keep their flags; v12 differs only where rooms/v12 says so', () => {
    expect(V10).toEqual({
      id: '10', createHasCreator: true, redactsInContent: false, redaction: 'v10',
      roomIdFromCreateEvent: false, privilegedCreators: false, stateResolution: 'v2', authRuleNumbering: 'v10',
    });
    expect(V11).toEqual({
      id: '11', createHasCreator: false, redactsInContent: true, redaction: 'v11',
      roomIdFromCreateEvent: false, privilegedCreators: false, stateResolution: 'v2', authRuleNumbering: 'v10',
    });
    // rooms/v12 "Unchanged from v11": redactions (v11's algorithm), no creator, redacts in content.
    expect(V12).toEqual({
      id: '12', createHasCreator: false, redactsInContent: true, redaction: 'v11',
      roomIdFromCreateEvent: true, privilegedCreators: true, stateResolution: 'v2.1', authRuleNumbering: 'v12',
    });
  });
});

describe('v12 room IDs (rooms/v12 auth rule 1.2: the room ID is the create event ID with ! for $)', () => {
  it('the event ID of a create event without room_id is the reference hash of exactly its keys', () => {
    const create = v12Create();
    // Reference hash by hand: redact (v11 keeps all of a create's content), drop signatures/unsigned.
    const { signatures: _s, unsigned: _u, ...redacted } = redactEvent(create, V12);
    expect(redacted).not.toHaveProperty('room_id');
    expect(redacted['content']).toEqual(create['content']);
    const expected = `$${encodeBase64Url(createHash('sha256').update(canonicalJsonBytes(redacted)).digest())}`;
    expect(computeEventId(create, V12)).toBe(expected);
  });

  it('roomIdForCreateEvent is "!" + the event ID without "$", and createEventIdForRoom inverts it', () => {
    const create = v12Create();
    const eventId = computeEventId(create, V12);
    const roomId = roomIdForCreateEvent(create, V12);
    expect(roomId).toBe(`!${eventId.slice(1)}`);
    expect(roomId).not.toContain(':');
    expect(createEventIdForRoom(roomId, V12)).toBe(eventId);
    // An event_id carried beside the PDU does not change the result.
    expect(roomIdForCreateEvent({ ...create, event_id: '$whatever' }, V12)).toBe(roomId);
  });

  it('signing a create event without room_id yields the same event ID (hashSignAndIdentify)', () => {
    const { pdu, eventId } = hashSignAndIdentify(v12Create() as unknown as UnsignedPdu, 'hs1', key, V12);
    expect(pdu).not.toHaveProperty('room_id');
    expect(eventId).toBe(computeEventId(pdu, V12));
    expect(roomIdForCreateEvent(pdu, V12)).toBe(`!${eventId.slice(1)}`);
  });

  it('the room ID depends on the content (additional_creators survives redaction, so it is hashed)', () => {
    const a = v12Create();
    const b = { ...v12Create(), content: { room_version: '12' } };
    expect(roomIdForCreateEvent(a, V12)).not.toBe(roomIdForCreateEvent(b, V12));
  });

  it('v10/v11: the room ID is the one the create event carries; no create event ID can be derived', () => {
    const create = { ...v12Create(), room_id: '!chosen:hs1' };
    expect(roomIdForCreateEvent(create, V11)).toBe('!chosen:hs1');
    expect(roomIdForCreateEvent(create, V10)).toBe('!chosen:hs1');
    expect(() => roomIdForCreateEvent(v12Create(), V11)).toThrow(TypeError);
    expect(createEventIdForRoom('!chosen:hs1', V11)).toBeUndefined();
    expect(createEventIdForRoom('not-a-room-id', V12)).toBeUndefined();
  });
});
