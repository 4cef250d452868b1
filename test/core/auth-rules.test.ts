// Tests for src/core/auth-rules.ts: the room authorisation rules of rooms/v10 and rooms/v11.
import { describe, expect, it } from '@jest/globals';
import type { JsonObject, StoredEvent } from '../../src/core/events/types.js';
import { ROOM_VERSIONS, type RoomVersion } from '../../src/core/room-versions.js';
import {
  AuthError,
  canApplyRedaction,
  checkAuthEventsList,
  checkEventAuth,
  createEventCreator,

  joinRuleOf,
  membershipOf,
  powerLevelFor,
  requiredPowerLevel,
  selectAuthEvents,
  userPowerLevel,
  type AuthCheckOptions,
  type StateLookup,
} from '../../src/core/auth-rules.js';

const V10 = ROOM_VERSIONS['10'];
const V11 = ROOM_VERSIONS['11'];
const BOTH: Array<[string, RoomVersion]> = [
  ['v10', V10],
  ['v11', V11],
];

const ROOM_ID = '!room:hs1';
const ALICE = '@alice:hs1'; // creator, level 100
const MOD = '@mod:hs1'; // level 50
const MOD2 = '@mod2:hs2'; // level 50
const BOB = '@bob:hs1'; // level 0
const CAROL = '@carol:hs2'; // level 0
const EVE = '@eve:hs3'; // never in the room

let seq = 0;

interface EvInit {
  type: string;
  sender: string;
  state_key?: string;
  content?: JsonObject;
  prev_events?: string[];
  room_id?: string;
  event_id?: string;
  signatures?: Record<string, Record<string, string>>;
}

function ev(init: EvInit): StoredEvent {
  seq += 1;
  const domain = init.sender.slice(init.sender.indexOf(':') + 1);
  const event: StoredEvent = {
    event_id: init.event_id ?? `$ev${seq}`,
    room_id: init.room_id ?? ROOM_ID,
    sender: init.sender,
    type: init.type,
    content: init.content ?? {},
    origin_server_ts: 1_700_000_000_000 + seq,
    prev_events: init.prev_events ?? ['$prev'],
    auth_events: [],
    depth: seq,
    hashes: { sha256: 'x' },
    signatures: init.signatures ?? { [domain]: { 'ed25519:a': 'sig' } },
  };
  if (init.state_key !== undefined) event.state_key = init.state_key;
  return event;
}

function createContent(version: RoomVersion, creator = ALICE): JsonObject {
  return version.createHasCreator ? { creator, room_version: version.id } : { room_version: version.id };
}

function createEvent(version: RoomVersion, sender = ALICE, content?: JsonObject): StoredEvent {
  return ev({
    type: 'm.room.create',
    sender,
    state_key: '',
    content: content ?? createContent(version, sender),
    prev_events: [],
    event_id: '$create',
  });
}

/** An in-memory room: a Map-based StateLookup. */
class Room {
  readonly state = new Map<string, StoredEvent>();

  constructor(
    readonly version: RoomVersion,
    create?: StoredEvent,
  ) {
    this.put(create ?? createEvent(version));
  }

  readonly lookup: StateLookup = (type, stateKey) => this.state.get(`${type}|${stateKey}`);

  put(event: StoredEvent): this {
    this.state.set(`${event.type}|${event.state_key ?? ''}`, event);
    return this;
  }

  remove(type: string, stateKey: string): this {
    this.state.delete(`${type}|${stateKey}`);
    return this;
  }

  member(user: string, membership: string, sender = user): this {
    return this.put(ev({ type: 'm.room.member', sender, state_key: user, content: { membership } }));
  }

  powerLevels(content: JsonObject, sender = ALICE): this {
    return this.put(ev({ type: 'm.room.power_levels', sender, state_key: '', content }));
  }

  joinRule(rule: string): this {
    return this.put(ev({ type: 'm.room.join_rules', sender: ALICE, state_key: '', content: { join_rule: rule } }));
  }

  check(event: StoredEvent, options?: AuthCheckOptions): void {
    checkEventAuth(event, this.lookup, this.version, options);
  }
}

const STANDARD_PL: JsonObject = {
  users: { [ALICE]: 100, [MOD]: 50, [MOD2]: 50 },
  users_default: 0,
  events_default: 0,
  state_default: 50,
  ban: 50,
  kick: 50,
  redact: 50,
  invite: 0,
  events: { 'm.room.name': 50, 'm.room.power_levels': 100 },
};

/** Alice created the room; Alice, Mod, Mod2 and Bob are joined; Carol is not a member. */
function standardRoom(version: RoomVersion, joinRule = 'public', pl: JsonObject = STANDARD_PL): Room {
  return new Room(version)
    .member(ALICE, 'join')
    .powerLevels(pl)
    .joinRule(joinRule)
    .member(MOD, 'join')
    .member(MOD2, 'join')
    .member(BOB, 'join');
}

function member(sender: string, target: string, membership: string, extra: JsonObject = {}): StoredEvent {
  return ev({ type: 'm.room.member', sender, state_key: target, content: { membership, ...extra } });
}

function message(sender: string, type = 'm.room.message'): StoredEvent {
  return ev({ type, sender, content: { msgtype: 'm.text', body: 'hi' } });
}

function stateEvent(sender: string, type: string, stateKey = '', content: JsonObject = {}): StoredEvent {
  return ev({ type, sender, state_key: stateKey, content });
}

function plEvent(sender: string, content: JsonObject): StoredEvent {
  return stateEvent(sender, 'm.room.power_levels', '', content);
}

/** Asserts that `fn` throws an AuthError (optionally for the given rule). */
function expectRefused(fn: () => void, rule?: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(AuthError);
  expect(caught).toBeInstanceOf(Error);
  if (rule !== undefined) expect((caught as AuthError).rule).toBe(rule);
}

// -------------------------------------------------------------------------------------------------

describe('AuthError', () => {
  it('carries the rule and a message', () => {
    const err = new AuthError('4.4.3', 'target is already joined');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('AuthError');
    expect(err.rule).toBe('4.4.3');
    expect(err.message).toContain('target is already joined');
  });
});

describe('rule 1: m.room.create', () => {
  it('v10: allows a create event with creator', () => {
    expect(() => checkEventAuth(createEvent(V10), () => undefined, V10)).not.toThrow();
  });

  it('v10: refuses a create event without creator (1.4)', () => {
    const create = createEvent(V10, ALICE, { room_version: '10' });
    expectRefused(() => checkEventAuth(create, () => undefined, V10), '1.4');
  });

  it('v11: allows a create event without creator', () => {
    expect(() => checkEventAuth(createEvent(V11), () => undefined, V11)).not.toThrow();
  });

  it('v11: a leftover creator property is ignored', () => {
    const create = createEvent(V11, ALICE, { room_version: '11', creator: BOB });
    expect(() => checkEventAuth(create, () => undefined, V11)).not.toThrow();
  });

  it.each(BOTH)('%s: allows a create event without room_version', (_n, version) => {
    const content = createContent(version);
    delete content['room_version'];
    expect(() => checkEventAuth(createEvent(version, ALICE, content), () => undefined, version)).not.toThrow();
  });

  it.each(BOTH)('%s: refuses a create event with prev_events (1.1)', (_n, version) => {
    const create = createEvent(version);
    create.prev_events = ['$something'];
    expectRefused(() => checkEventAuth(create, () => undefined, version), '1.1');
  });

  it.each(BOTH)('%s: refuses a room_id domain different from the sender domain (1.2)', (_n, version) => {
    const create = createEvent(version, CAROL);
    expectRefused(() => checkEventAuth(create, () => undefined, version), '1.2');
  });

  it.each(BOTH)('%s: refuses an unrecognised room_version (1.3)', (_n, version) => {
    const bad = createEvent(version, ALICE, { ...createContent(version), room_version: 'bogus' });
    expectRefused(() => checkEventAuth(bad, () => undefined, version), '1.3');
    const notString = createEvent(version, ALICE, { ...createContent(version), room_version: 11 });
    expectRefused(() => checkEventAuth(notString, () => undefined, version), '1.3');
  });
});

describe('rule 2: auth events', () => {
  it.each(BOTH)('%s: refuses any event when there is no m.room.create (2.4)', (_n, version) => {
    const empty: StateLookup = () => undefined;
    expectRefused(() => checkEventAuth(member(ALICE, ALICE, 'join'), empty, version), '2.4');
    expectRefused(() => checkEventAuth(message(ALICE), empty, version), '2.4');
  });

  it.each(BOTH)('%s: refuses when a consulted state event is from another room (2.5)', (_n, version) => {
    const room = standardRoom(version);
    room.member(BOB, 'join');
    room.state.get(`m.room.member|${BOB}`)!.room_id = '!other:hs1';
    expectRefused(() => room.check(message(BOB)), '2.5');
  });

  describe('checkAuthEventsList', () => {
    it.each(BOTH)('%s: accepts the selected auth events and returns a lookup over them', (_n, version) => {
      const room = standardRoom(version, 'invite');
      const invite = member(ALICE, CAROL, 'invite');
      const authEvents = selectAuthEvents(invite, room.lookup, version).map(
        (id) => [...room.state.values()].find((e) => e.event_id === id)!,
      );
      const lookup = checkAuthEventsList(invite, authEvents, version);
      expect(lookup('m.room.create', '')?.event_id).toBe('$create');
      expect(() => checkEventAuth(invite, lookup, version)).not.toThrow();
    });

    it.each(BOTH)('%s: refuses duplicate (type, state_key) entries (2.1)', (_n, version) => {
      const room = standardRoom(version);
      const pl1 = room.lookup('m.room.power_levels', '')!;
      const pl2 = plEvent(ALICE, STANDARD_PL);
      const create = room.lookup('m.room.create', '')!;
      expectRefused(() => checkAuthEventsList(message(BOB), [create, pl1, pl2], version), '2.1');
    });

    it.each(BOTH)('%s: refuses entries not chosen by auth events selection (2.2)', (_n, version) => {
      const room = standardRoom(version);
      const create = room.lookup('m.room.create', '')!;
      const joinRules = room.lookup('m.room.join_rules', '')!;
      // join_rules is only selected for membership events.
      expectRefused(() => checkAuthEventsList(message(BOB), [create, joinRules], version), '2.2');
      const otherMember = room.lookup('m.room.member', MOD)!;
      expectRefused(() => checkAuthEventsList(message(BOB), [create, otherMember], version), '2.2');
    });

    it.each(BOTH)('%s: refuses auth events without m.room.create (2.4)', (_n, version) => {
      const room = standardRoom(version);
      expectRefused(() => checkAuthEventsList(message(BOB), [room.lookup('m.room.member', BOB)!], version), '2.4');
    });

    it.each(BOTH)('%s: refuses auth events from another room (2.5)', (_n, version) => {
      const room = standardRoom(version);
      const foreign = { ...room.lookup('m.room.member', BOB)!, room_id: '!other:hs1' };
      expectRefused(
        () => checkAuthEventsList(message(BOB), [room.lookup('m.room.create', '')!, foreign], version),
        '2.5',
      );
    });
  });
});

describe('rule 3: m.federate', () => {
  it.each(BOTH)('%s: refuses remote senders when m.federate is false, allows local ones', (_n, version) => {
    const create = createEvent(version, ALICE, { ...createContent(version), 'm.federate': false });
    const room = new Room(version, create).member(ALICE, 'join').joinRule('public');
    expectRefused(() => room.check(member(CAROL, CAROL, 'join')), '3');
    expect(() => room.check(member(BOB, BOB, 'join'))).not.toThrow();
  });

  it.each(BOTH)('%s: m.federate true lets remote users join', (_n, version) => {
    const create = createEvent(version, ALICE, { ...createContent(version), 'm.federate': true });
    const room = new Room(version, create).member(ALICE, 'join').joinRule('public');
    expect(() => room.check(member(CAROL, CAROL, 'join'))).not.toThrow();
  });
});

describe('rule 4.1 / 4.2 / 4.8: membership event shape', () => {
  it.each(BOTH)('%s: refuses a member event without membership (4.1)', (_n, version) => {
    const room = standardRoom(version);
    const e = ev({ type: 'm.room.member', sender: CAROL, state_key: CAROL, content: { displayname: 'c' } });
    expectRefused(() => room.check(e), '4.1');
  });

  it.each(BOTH)('%s: refuses a member event without state_key (4.1)', (_n, version) => {
    const room = standardRoom(version);
    const e = ev({ type: 'm.room.member', sender: CAROL, content: { membership: 'join' } });
    expectRefused(() => room.check(e), '4.1');
  });

  it.each(BOTH)('%s: refuses an unknown membership (4.8)', (_n, version) => {
    const room = standardRoom(version);
    expectRefused(() => room.check(member(BOB, BOB, 'dance')), '4.8');
  });

  it.each(BOTH)(
    '%s: refuses join_authorised_via_users_server not signed by that user\'s server (4.2.1)',
    (_n, version) => {
      const room = standardRoom(version, 'restricted');
      const join = member(CAROL, CAROL, 'join', { join_authorised_via_users_server: ALICE });
      join.signatures = { hs2: { 'ed25519:a': 'sig' } };
      expectRefused(() => room.check(join), '4.2.1');
      const notString = member(CAROL, CAROL, 'join', { join_authorised_via_users_server: 5 });
      expectRefused(() => room.check(notString), '4.2.1');
    },
  );

  it.each(BOTH)('%s: isSignedBy option replaces the signature presence check (4.2.1)', (_n, version) => {
    const room = standardRoom(version, 'restricted');
    const join = member(CAROL, CAROL, 'join', { join_authorised_via_users_server: ALICE });
    join.signatures = {};
    expect(() => room.check(join, { isSignedBy: () => true })).not.toThrow();
    expectRefused(() => room.check(join, { isSignedBy: () => false }), '4.2.1');
  });
});

describe('rule 4.3: join', () => {
  it.each(BOTH)('%s: the creator joining first is allowed (4.3.1)', (_n, version) => {
    const room = new Room(version);
    const join = ev({
      type: 'm.room.member',
      sender: ALICE,
      state_key: ALICE,
      content: { membership: 'join' },
      prev_events: ['$create'],
    });
    expect(() => room.check(join)).not.toThrow();
  });

  it.each(BOTH)('%s: another user joining right after the create event is refused', (_n, version) => {
    const room = new Room(version);
    const join = ev({
      type: 'm.room.member',
      sender: BOB,
      state_key: BOB,
      content: { membership: 'join' },
      prev_events: ['$create'],
    });
    // No join rules event: the join rule is 'invite' and Bob is not invited.
    expectRefused(() => room.check(join), '4.3.7');
  });

  it.each(BOTH)('%s: the creator join is not special once other events exist', (_n, version) => {
    const room = new Room(version);
    const join = ev({
      type: 'm.room.member',
      sender: ALICE,
      state_key: ALICE,
      content: { membership: 'join' },
      prev_events: ['$create', '$other'],
    });
    expectRefused(() => room.check(join), '4.3.7');
  });

  it('v10: the creator is content.creator, not the sender (4.3.1)', () => {
    const create = createEvent(V10, ALICE, { creator: BOB, room_version: '10' });
    const room = new Room(V10, create);
    const first = (user: string): StoredEvent =>
      ev({ type: 'm.room.member', sender: user, state_key: user, content: { membership: 'join' }, prev_events: ['$create'] });
    expect(() => room.check(first(BOB))).not.toThrow();
    expectRefused(() => room.check(first(ALICE)), '4.3.7');
  });

  it('v11: the creator is the create event sender, creator in content is ignored (4.3.1)', () => {
    const create = createEvent(V11, ALICE, { creator: BOB, room_version: '11' });
    const room = new Room(V11, create);
    const first = (user: string): StoredEvent =>
      ev({ type: 'm.room.member', sender: user, state_key: user, content: { membership: 'join' }, prev_events: ['$create'] });
    expect(() => room.check(first(ALICE))).not.toThrow();
    expectRefused(() => room.check(first(BOB)), '4.3.7');
  });

  it.each(BOTH)('%s: joining on behalf of someone else is refused (4.3.2)', (_n, version) => {
    const room = standardRoom(version);
    expectRefused(() => room.check(member(ALICE, CAROL, 'join')), '4.3.2');
  });

  it.each(BOTH)('%s: a random user may join a public room (4.3.6)', (_n, version) => {
    const room = standardRoom(version, 'public');
    expect(() => room.check(member(CAROL, CAROL, 'join'))).not.toThrow();
  });

  it.each(BOTH)('%s: a banned user may not join a public room (4.3.3)', (_n, version) => {
    const room = standardRoom(version, 'public').member(CAROL, 'ban', ALICE);
    expectRefused(() => room.check(member(CAROL, CAROL, 'join')), '4.3.3');
  });

  it.each(BOTH)('%s: a user who left may rejoin a public room', (_n, version) => {
    const room = standardRoom(version, 'public').member(CAROL, 'leave');
    expect(() => room.check(member(CAROL, CAROL, 'join'))).not.toThrow();
  });

  it.each(BOTH)('%s: a random user may not join an invite-only room (4.3.7)', (_n, version) => {
    const room = standardRoom(version, 'invite');
    expectRefused(() => room.check(member(CAROL, CAROL, 'join')), '4.3.7');
  });

  it.each(BOTH)('%s: an invited user may join an invite-only room (4.3.4)', (_n, version) => {
    const room = standardRoom(version, 'invite').member(CAROL, 'invite', ALICE);
    expect(() => room.check(member(CAROL, CAROL, 'join'))).not.toThrow();
  });

  it.each(BOTH)('%s: a joined user may re-send a join (profile change) in an invite room (4.3.4)', (_n, version) => {
    const room = standardRoom(version, 'invite');
    expect(() => room.check(member(BOB, BOB, 'join', { displayname: 'Bobby' }))).not.toThrow();
  });

  it.each(BOTH)('%s: an invited but banned user may not join (4.3.3)', (_n, version) => {
    const room = standardRoom(version, 'invite').member(CAROL, 'ban', ALICE);
    expectRefused(() => room.check(member(CAROL, CAROL, 'join')), '4.3.3');
  });

  it.each(BOTH)('%s: without a join_rules event the room behaves as invite-only', (_n, version) => {
    const room = standardRoom(version).remove('m.room.join_rules', '');
    expect(joinRuleOf(room.lookup)).toBe('invite');
    expectRefused(() => room.check(member(CAROL, CAROL, 'join')), '4.3.7');
    room.member(CAROL, 'invite', ALICE);
    expect(() => room.check(member(CAROL, CAROL, 'join'))).not.toThrow();
  });

  it.each(BOTH)('%s: knock rule: only invited users may join (4.3.4)', (_n, version) => {
    const room = standardRoom(version, 'knock');
    expectRefused(() => room.check(member(CAROL, CAROL, 'join')), '4.3.7');
    room.member(CAROL, 'knock');
    expectRefused(() => room.check(member(CAROL, CAROL, 'join')), '4.3.7');
    room.member(CAROL, 'invite', ALICE);
    expect(() => room.check(member(CAROL, CAROL, 'join'))).not.toThrow();
  });

  it.each(BOTH)('%s: an unknown join rule refuses joins (4.3.7)', (_n, version) => {
    const room = standardRoom(version, 'private');
    expectRefused(() => room.check(member(CAROL, CAROL, 'join')), '4.3.7');
  });

  describe.each(['restricted', 'knock_restricted'])('join_rule %s (4.3.5)', (rule) => {
    it.each(BOTH)('%s: an invited user may join (4.3.5.1)', (_n, version) => {
      const room = standardRoom(version, rule).member(CAROL, 'invite', ALICE);
      expect(() => room.check(member(CAROL, CAROL, 'join'))).not.toThrow();
    });

    it.each(BOTH)('%s: a join without join_authorised_via_users_server is refused (4.3.5.2)', (_n, version) => {
      const room = standardRoom(version, rule);
      expectRefused(() => room.check(member(CAROL, CAROL, 'join')), '4.3.5.2');
    });

    it.each(BOTH)('%s: a join authorised by a joined user with invite power is allowed (4.3.5.3)', (_n, version) => {
      const room = standardRoom(version, rule);
      const join = member(CAROL, CAROL, 'join', { join_authorised_via_users_server: ALICE });
      join.signatures = { hs2: { 'ed25519:a': 's' }, hs1: { 'ed25519:b': 's' } };
      expect(() => room.check(join)).not.toThrow();
    });

    it.each(BOTH)('%s: an authoriser who is not joined is refused (4.3.5.2)', (_n, version) => {
      const room = standardRoom(version, rule).member(MOD, 'leave');
      const join = member(CAROL, CAROL, 'join', { join_authorised_via_users_server: MOD });
      join.signatures = { hs2: { 'ed25519:a': 's' }, hs1: { 'ed25519:b': 's' } };
      expectRefused(() => room.check(join), '4.3.5.2');
    });

    it.each(BOTH)('%s: an authoriser below the invite level is refused (4.3.5.2)', (_n, version) => {
      const room = standardRoom(version, rule, { ...STANDARD_PL, invite: 50 });
      const join = member(CAROL, CAROL, 'join', { join_authorised_via_users_server: BOB });
      join.signatures = { hs2: { 'ed25519:a': 's' }, hs1: { 'ed25519:b': 's' } };
      expectRefused(() => room.check(join), '4.3.5.2');
      const byMod = member(CAROL, CAROL, 'join', { join_authorised_via_users_server: MOD });
      byMod.signatures = join.signatures;
      expect(() => room.check(byMod)).not.toThrow();
    });

    it.each(BOTH)('%s: a banned user may not join even when authorised (4.3.3)', (_n, version) => {
      const room = standardRoom(version, rule).member(CAROL, 'ban', ALICE);
      const join = member(CAROL, CAROL, 'join', { join_authorised_via_users_server: ALICE });
      join.signatures = { hs2: { 'ed25519:a': 's' }, hs1: { 'ed25519:b': 's' } };
      expectRefused(() => room.check(join), '4.3.3');
    });
  });
});

describe('rule 4.4: invite', () => {
  it.each(BOTH)('%s: a joined member may invite (4.4.4)', (_n, version) => {
    const room = standardRoom(version, 'invite');
    expect(() => room.check(member(BOB, CAROL, 'invite'))).not.toThrow();
  });

  it.each(BOTH)('%s: a non-member may not invite (4.4.2)', (_n, version) => {
    const room = standardRoom(version, 'invite');
    expectRefused(() => room.check(member(CAROL, EVE, 'invite')), '4.4.2');
  });

  it.each(BOTH)('%s: an invited (not joined) user may not invite (4.4.2)', (_n, version) => {
    const room = standardRoom(version, 'invite').member(CAROL, 'invite', ALICE);
    expectRefused(() => room.check(member(CAROL, EVE, 'invite')), '4.4.2');
  });

  it.each(BOTH)('%s: inviting a joined member is refused (4.4.3)', (_n, version) => {
    const room = standardRoom(version);
    expectRefused(() => room.check(member(ALICE, BOB, 'invite')), '4.4.3');
  });

  it.each(BOTH)('%s: inviting a banned user is refused (4.4.3)', (_n, version) => {
    const room = standardRoom(version).member(CAROL, 'ban', ALICE);
    expectRefused(() => room.check(member(ALICE, CAROL, 'invite')), '4.4.3');
  });

  it.each(BOTH)('%s: re-inviting an invited user, or inviting one who left or knocked, is allowed', (_n, version) => {
    const room = standardRoom(version).member(CAROL, 'invite', ALICE);
    expect(() => room.check(member(BOB, CAROL, 'invite'))).not.toThrow();
    room.member(CAROL, 'leave');
    expect(() => room.check(member(BOB, CAROL, 'invite'))).not.toThrow();
    room.member(CAROL, 'knock');
    expect(() => room.check(member(BOB, CAROL, 'invite'))).not.toThrow();
  });

  it.each(BOTH)('%s: inviting needs the invite level (4.4.5)', (_n, version) => {
    const room = standardRoom(version, 'invite', { ...STANDARD_PL, invite: 50 });
    expectRefused(() => room.check(member(BOB, CAROL, 'invite')), '4.4.5');
    expect(() => room.check(member(MOD, CAROL, 'invite'))).not.toThrow();
  });

  describe('third-party invites (4.4.1)', () => {
    const TOKEN = 'tok123';
    const signedFor = (mxid: string, token = TOKEN): JsonObject => ({
      mxid,
      token,
      signatures: { 'id.example': { 'ed25519:0': 'sig' } },
    });

    function roomWith3pid(version: RoomVersion): Room {
      return standardRoom(version, 'invite').put(
        stateEvent(BOB, 'm.room.third_party_invite', TOKEN, {
          display_name: 'c...@example.org',
          key_validity_url: 'https://id.example/_matrix/identity/v2/pubkey/isvalid',
          public_key: 'PUBKEY1',
          public_keys: [{ public_key: 'PUBKEY2' }],
        }),
      );
    }

    const tpInvite = (sender: string, target: string, tpi: JsonObject): StoredEvent =>
      member(sender, target, 'invite', { third_party_invite: { display_name: 'c...', ...tpi } });

    it.each(BOTH)('%s: refused as unsupported without a signature verifier (4.4.1.7)', (_n, version) => {
      const room = roomWith3pid(version);
      expectRefused(() => room.check(tpInvite(BOB, CAROL, { signed: signedFor(CAROL) })), '4.4.1.7');
    });

    it.each(BOTH)('%s: allowed when the verifier accepts a signature, with all public keys (4.4.1.7)', (_n, version) => {
      const room = roomWith3pid(version);
      let seenKeys: string[] = [];
      const options: AuthCheckOptions = {
        verifyThirdPartyInviteSignature: (signed, keys) => {
          seenKeys = keys;
          return signed['mxid'] === CAROL;
        },
      };
      expect(() => room.check(tpInvite(BOB, CAROL, { signed: signedFor(CAROL) }), options)).not.toThrow();
      expect(seenKeys).toEqual(['PUBKEY1', 'PUBKEY2']);
    });

    it.each(BOTH)('%s: refused when no signature matches (4.4.1.8)', (_n, version) => {
      const room = roomWith3pid(version);
      const options: AuthCheckOptions = { verifyThirdPartyInviteSignature: () => false };
      expectRefused(() => room.check(tpInvite(BOB, CAROL, { signed: signedFor(CAROL) }), options), '4.4.1.8');
    });

    const accept: AuthCheckOptions = { verifyThirdPartyInviteSignature: () => true };

    it.each(BOTH)('%s: refused when the target is banned (4.4.1.1)', (_n, version) => {
      const room = roomWith3pid(version).member(CAROL, 'ban', ALICE);
      expectRefused(() => room.check(tpInvite(BOB, CAROL, { signed: signedFor(CAROL) }), accept), '4.4.1.1');
    });

    it.each(BOTH)('%s: refused without signed (4.4.1.2)', (_n, version) => {
      const room = roomWith3pid(version);
      expectRefused(() => room.check(tpInvite(BOB, CAROL, {}), accept), '4.4.1.2');
    });

    it.each(BOTH)('%s: refused when signed lacks mxid or token (4.4.1.3)', (_n, version) => {
      const room = roomWith3pid(version);
      expectRefused(() => room.check(tpInvite(BOB, CAROL, { signed: { token: TOKEN } }), accept), '4.4.1.3');
      expectRefused(() => room.check(tpInvite(BOB, CAROL, { signed: { mxid: CAROL } }), accept), '4.4.1.3');
    });

    it.each(BOTH)('%s: refused when mxid is not the state_key (4.4.1.4)', (_n, version) => {
      const room = roomWith3pid(version);
      expectRefused(() => room.check(tpInvite(BOB, CAROL, { signed: signedFor(EVE) }), accept), '4.4.1.4');
    });

    it.each(BOTH)('%s: refused without a matching m.room.third_party_invite (4.4.1.5)', (_n, version) => {
      const room = roomWith3pid(version);
      expectRefused(() => room.check(tpInvite(BOB, CAROL, { signed: signedFor(CAROL, 'other') }), accept), '4.4.1.5');
    });

    it.each(BOTH)('%s: refused when the sender did not send the third_party_invite (4.4.1.6)', (_n, version) => {
      const room = roomWith3pid(version);
      expectRefused(() => room.check(tpInvite(MOD, CAROL, { signed: signedFor(CAROL) }), accept), '4.4.1.6');
    });
  });
});

describe('rule 4.5: leave', () => {
  it.each(BOTH)('%s: a joined user may leave (4.5.1)', (_n, version) => {
    const room = standardRoom(version);
    expect(() => room.check(member(BOB, BOB, 'leave'))).not.toThrow();
  });

  it.each(BOTH)('%s: an invited user may reject the invite (4.5.1)', (_n, version) => {
    const room = standardRoom(version, 'invite').member(CAROL, 'invite', ALICE);
    expect(() => room.check(member(CAROL, CAROL, 'leave'))).not.toThrow();
  });

  it.each(BOTH)('%s: a knocking user may rescind the knock (4.5.1)', (_n, version) => {
    const room = standardRoom(version, 'knock').member(CAROL, 'knock');
    expect(() => room.check(member(CAROL, CAROL, 'leave'))).not.toThrow();
  });

  it.each(BOTH)('%s: a non-member, a user who left, or a banned user may not leave (4.5.1)', (_n, version) => {
    const room = standardRoom(version);
    expectRefused(() => room.check(member(CAROL, CAROL, 'leave')), '4.5.1');
    room.member(CAROL, 'leave');
    expectRefused(() => room.check(member(CAROL, CAROL, 'leave')), '4.5.1');
    room.member(CAROL, 'ban', ALICE);
    expectRefused(() => room.check(member(CAROL, CAROL, 'leave')), '4.5.1');
  });

  it.each(BOTH)('%s: self-kick is a plain leave and needs no kick level (4.5.1)', (_n, version) => {
    const room = standardRoom(version, 'public', { ...STANDARD_PL, kick: 100 });
    expect(() => room.check(member(BOB, BOB, 'leave', { reason: 'bye' }))).not.toThrow();
  });

  it.each(BOTH)('%s: kicking needs the sender to be joined (4.5.2)', (_n, version) => {
    const room = standardRoom(version).member(ALICE, 'leave');
    expectRefused(() => room.check(member(ALICE, BOB, 'leave')), '4.5.2');
  });

  it.each(BOTH)('%s: kicking with kick level and outranking the target is allowed (4.5.4)', (_n, version) => {
    const room = standardRoom(version);
    expect(() => room.check(member(ALICE, BOB, 'leave'))).not.toThrow();
    expect(() => room.check(member(MOD, BOB, 'leave'))).not.toThrow();
    expect(() => room.check(member(ALICE, MOD, 'leave'))).not.toThrow();
    // kicking an invited user (revoking the invite)
    room.member(CAROL, 'invite', ALICE);
    expect(() => room.check(member(MOD, CAROL, 'leave'))).not.toThrow();
  });

  it.each(BOTH)('%s: kicking below the kick level is refused (4.5.5)', (_n, version) => {
    const room = standardRoom(version).member(CAROL, 'join');
    expectRefused(() => room.check(member(BOB, CAROL, 'leave')), '4.5.5');
    const raised = standardRoom(version, 'public', { ...STANDARD_PL, kick: 75 });
    expectRefused(() => raised.check(member(MOD, BOB, 'leave')), '4.5.5');
  });

  it.each(BOTH)('%s: kicking a user of equal or higher level is refused (4.5.5)', (_n, version) => {
    const room = standardRoom(version);
    expectRefused(() => room.check(member(MOD, MOD2, 'leave')), '4.5.5');
    expectRefused(() => room.check(member(MOD, ALICE, 'leave')), '4.5.5');
  });

  it.each(BOTH)('%s: unbanning needs the ban level (4.5.3) and kick level plus outranking (4.5.4)', (_n, version) => {
    const room = standardRoom(version).member(CAROL, 'ban', ALICE);
    expect(() => room.check(member(ALICE, CAROL, 'leave'))).not.toThrow();
    expect(() => room.check(member(MOD, CAROL, 'leave'))).not.toThrow();
    expectRefused(() => room.check(member(BOB, CAROL, 'leave')), '4.5.3');

    const highBan = standardRoom(version, 'public', { ...STANDARD_PL, ban: 75 }).member(CAROL, 'ban', ALICE);
    expectRefused(() => highBan.check(member(MOD, CAROL, 'leave')), '4.5.3');

    const highKick = standardRoom(version, 'public', { ...STANDARD_PL, kick: 75 }).member(CAROL, 'ban', ALICE);
    expectRefused(() => highKick.check(member(MOD, CAROL, 'leave')), '4.5.5');
  });
});

describe('rule 4.6: ban', () => {
  it.each(BOTH)('%s: ban with ban level, outranking the target, is allowed (4.6.2)', (_n, version) => {
    const room = standardRoom(version);
    expect(() => room.check(member(ALICE, BOB, 'ban'))).not.toThrow();
    expect(() => room.check(member(MOD, BOB, 'ban'))).not.toThrow();
    // banning someone who never joined
    expect(() => room.check(member(MOD, EVE, 'ban'))).not.toThrow();
  });

  it.each(BOTH)('%s: a non-joined sender may not ban (4.6.1)', (_n, version) => {
    const room = standardRoom(version).member(ALICE, 'leave');
    expectRefused(() => room.check(member(ALICE, BOB, 'ban')), '4.6.1');
  });

  it.each(BOTH)('%s: below the ban level is refused (4.6.3)', (_n, version) => {
    const room = standardRoom(version).member(CAROL, 'join');
    expectRefused(() => room.check(member(BOB, CAROL, 'ban')), '4.6.3');
    const raised = standardRoom(version, 'public', { ...STANDARD_PL, ban: 75 });
    expectRefused(() => raised.check(member(MOD, BOB, 'ban')), '4.6.3');
  });

  it.each(BOTH)('%s: banning a user of equal or higher level is refused (4.6.3)', (_n, version) => {
    const room = standardRoom(version);
    expectRefused(() => room.check(member(MOD, MOD2, 'ban')), '4.6.3');
    expectRefused(() => room.check(member(MOD, ALICE, 'ban')), '4.6.3');
  });
});

describe('rule 4.7: knock', () => {
  it.each(BOTH)('%s: knocking is allowed with join_rule knock or knock_restricted (4.7.3)', (_n, version) => {
    expect(() => standardRoom(version, 'knock').check(member(CAROL, CAROL, 'knock'))).not.toThrow();
    expect(() => standardRoom(version, 'knock_restricted').check(member(CAROL, CAROL, 'knock'))).not.toThrow();
    const left = standardRoom(version, 'knock').member(CAROL, 'leave');
    expect(() => left.check(member(CAROL, CAROL, 'knock'))).not.toThrow();
  });

  it.each(BOTH)('%s: knocking is refused with other join rules (4.7.1)', (_n, version) => {
    for (const rule of ['public', 'invite', 'restricted', 'private']) {
      expectRefused(() => standardRoom(version, rule).check(member(CAROL, CAROL, 'knock')), '4.7.1');
    }
  });

  it.each(BOTH)('%s: knocking for someone else is refused (4.7.2)', (_n, version) => {
    expectRefused(() => standardRoom(version, 'knock').check(member(BOB, CAROL, 'knock')), '4.7.2');
  });

  it.each(BOTH)('%s: banned, invited or joined users may not knock (4.7.4)', (_n, version) => {
    const room = standardRoom(version, 'knock');
    expectRefused(() => room.check(member(BOB, BOB, 'knock')), '4.7.4');
    room.member(CAROL, 'invite', ALICE);
    expectRefused(() => room.check(member(CAROL, CAROL, 'knock')), '4.7.4');
    room.member(CAROL, 'ban', ALICE);
    expectRefused(() => room.check(member(CAROL, CAROL, 'knock')), '4.7.4');
  });
});

describe('rule 5: sender must be joined', () => {
  it.each(BOTH)('%s: a joined user may send a message', (_n, version) => {
    expect(() => standardRoom(version).check(message(BOB))).not.toThrow();
  });

  it.each(BOTH)('%s: non-members, invited, knocking, left and banned users may not send (5)', (_n, version) => {
    const room = standardRoom(version);
    expectRefused(() => room.check(message(CAROL)), '5');
    for (const membership of ['invite', 'knock', 'leave', 'ban']) {
      room.member(CAROL, membership, ALICE);
      expectRefused(() => room.check(message(CAROL)), '5');
      expectRefused(() => room.check(stateEvent(CAROL, 'm.room.topic', '', { topic: 'x' })), '5');
    }
  });
});

describe('rule 6: m.room.third_party_invite', () => {
  it.each(BOTH)('%s: allowed at the invite level, regardless of events levels', (_n, version) => {
    const room = standardRoom(version, 'invite', {
      ...STANDARD_PL,
      events: { 'm.room.third_party_invite': 100 },
    });
    expect(() => room.check(stateEvent(BOB, 'm.room.third_party_invite', 'tok', { public_key: 'k' }))).not.toThrow();
  });

  it.each(BOTH)('%s: refused below the invite level (6.1)', (_n, version) => {
    const room = standardRoom(version, 'invite', { ...STANDARD_PL, invite: 50 });
    expectRefused(() => room.check(stateEvent(BOB, 'm.room.third_party_invite', 'tok', { public_key: 'k' })), '6.1');
    expect(() => room.check(stateEvent(MOD, 'm.room.third_party_invite', 'tok', { public_key: 'k' }))).not.toThrow();
  });

  it.each(BOTH)('%s: refused for non-members (5)', (_n, version) => {
    const room = standardRoom(version);
    expectRefused(() => room.check(stateEvent(CAROL, 'm.room.third_party_invite', 'tok', {})), '5');
  });
});

describe('rule 7: required power level', () => {
  it.each(BOTH)('%s: events_default applies to message events', (_n, version) => {
    const room = standardRoom(version, 'public', { ...STANDARD_PL, events_default: 10 });
    expectRefused(() => room.check(message(BOB)), '7');
    expect(() => room.check(message(MOD))).not.toThrow();
  });

  it.each(BOTH)('%s: a per-event level overrides events_default', (_n, version) => {
    const room = standardRoom(version, 'public', {
      ...STANDARD_PL,
      events_default: 10,
      events: { 'm.room.message': 0, 'm.room.encrypted': 60 },
    });
    expect(() => room.check(message(BOB))).not.toThrow();
    expectRefused(() => room.check(message(MOD, 'm.room.encrypted')), '7');
    expect(() => room.check(message(ALICE, 'm.room.encrypted'))).not.toThrow();
  });

  it.each(BOTH)('%s: state_default applies to state events', (_n, version) => {
    const room = standardRoom(version);
    expectRefused(() => room.check(stateEvent(BOB, 'm.room.topic', '', { topic: 't' })), '7');
    expect(() => room.check(stateEvent(MOD, 'm.room.topic', '', { topic: 't' }))).not.toThrow();
  });

  it.each(BOTH)('%s: a per-event level overrides state_default', (_n, version) => {
    const room = standardRoom(version, 'public', { ...STANDARD_PL, events: { 'm.room.topic': 0, 'm.room.name': 75 } });
    expect(() => room.check(stateEvent(BOB, 'm.room.topic', '', { topic: 't' }))).not.toThrow();
    expectRefused(() => room.check(stateEvent(MOD, 'm.room.name', '', { name: 'n' })), '7');
  });

  it.each(BOTH)('%s: users_default raises everybody without an entry', (_n, version) => {
    const room = standardRoom(version, 'public', { ...STANDARD_PL, users_default: 50 });
    expect(() => room.check(stateEvent(BOB, 'm.room.topic', '', { topic: 't' }))).not.toThrow();
  });

  it.each(BOTH)('%s: without power levels, the creator may send state and others only messages', (_n, version) => {
    const room = new Room(version).member(ALICE, 'join').joinRule('public').member(BOB, 'join');
    expect(() => room.check(stateEvent(ALICE, 'm.room.topic', '', { topic: 't' }))).not.toThrow();
    expectRefused(() => room.check(stateEvent(BOB, 'm.room.topic', '', { topic: 't' })), '7');
    expect(() => room.check(message(BOB))).not.toThrow();
  });

  it.each(BOTH)('%s: m.room.redaction only needs its event level, not the redact level', (_n, version) => {
    const redaction = (sender: string): StoredEvent => {
      const e = ev({ type: 'm.room.redaction', sender, content: version.redactsInContent ? { redacts: '$x' } : {} });
      if (!version.redactsInContent) e.redacts = '$x';
      return e;
    };
    const room = standardRoom(version, 'public', { ...STANDARD_PL, redact: 100 });
    expect(() => room.check(redaction(BOB))).not.toThrow();
    const guarded = standardRoom(version, 'public', { ...STANDARD_PL, events: { 'm.room.redaction': 50 } });
    expectRefused(() => guarded.check(redaction(BOB)), '7');
    expect(() => guarded.check(redaction(MOD))).not.toThrow();
  });
});

describe('rule 8: state_key starting with @', () => {
  const open = (version: RoomVersion): Room =>
    standardRoom(version, 'public', { ...STANDARD_PL, events: { 'org.example.profile': 0 } });

  it.each(BOTH)('%s: a state_key of another user is refused (8)', (_n, version) => {
    expectRefused(() => open(version).check(stateEvent(BOB, 'org.example.profile', MOD, {})), '8');
    expectRefused(() => open(version).check(stateEvent(ALICE, 'org.example.profile', BOB, {})), '8');
    // no owned-state-key suffix exception in v10/v11
    expectRefused(() => open(version).check(stateEvent(BOB, 'org.example.profile', `${BOB}_x`, {})), '8');
  });

  it.each(BOTH)('%s: the sender\'s own user ID, or a key without @, is allowed', (_n, version) => {
    expect(() => open(version).check(stateEvent(BOB, 'org.example.profile', BOB, {}))).not.toThrow();
    expect(() => open(version).check(stateEvent(BOB, 'org.example.profile', 'anything', {}))).not.toThrow();
  });
});

describe('rule 9: m.room.power_levels', () => {
  const OPEN_PL: JsonObject = { ...STANDARD_PL, events: { 'm.room.power_levels': 50 } };
  const room = (version: RoomVersion, pl: JsonObject = OPEN_PL): Room => standardRoom(version, 'public', pl);

  it.each(BOTH)('%s: sending power levels needs the required level (7)', (_n, version) => {
    expectRefused(() => standardRoom(version).check(plEvent(MOD, STANDARD_PL)), '7');
    expect(() => standardRoom(version).check(plEvent(ALICE, STANDARD_PL))).not.toThrow();
  });

  it.each(BOTH)('%s: string or non-integer levels are refused (9.1)', (_n, version) => {
    for (const key of ['users_default', 'events_default', 'state_default', 'ban', 'redact', 'kick', 'invite']) {
      expectRefused(() => room(version).check(plEvent(ALICE, { ...STANDARD_PL, [key]: '50' })), '9.1');
      expectRefused(() => room(version).check(plEvent(ALICE, { ...STANDARD_PL, [key]: 50.5 })), '9.1');
      expectRefused(() => room(version).check(plEvent(ALICE, { ...STANDARD_PL, [key]: null })), '9.1');
    }
  });

  it.each(BOTH)('%s: events and notifications must be objects of integers (9.2)', (_n, version) => {
    expectRefused(() => room(version).check(plEvent(ALICE, { ...STANDARD_PL, events: [] })), '9.2');
    expectRefused(() => room(version).check(plEvent(ALICE, { ...STANDARD_PL, events: { 'm.room.name': '50' } })), '9.2');
    expectRefused(() => room(version).check(plEvent(ALICE, { ...STANDARD_PL, notifications: { room: '50' } })), '9.2');
    expectRefused(() => room(version).check(plEvent(ALICE, { ...STANDARD_PL, notifications: 50 })), '9.2');
    expect(() => room(version).check(plEvent(ALICE, { ...STANDARD_PL, notifications: { room: 50 } }))).not.toThrow();
  });

  it.each(BOTH)('%s: users must map valid user IDs to integers (9.3)', (_n, version) => {
    const users = STANDARD_PL['users'] as JsonObject;
    expectRefused(() => room(version).check(plEvent(ALICE, { ...STANDARD_PL, users: 'x' })), '9.3');
    expectRefused(() => room(version).check(plEvent(ALICE, { ...STANDARD_PL, users: { ...users, bob: 10 } })), '9.3');
    expectRefused(() => room(version).check(plEvent(ALICE, { ...STANDARD_PL, users: { ...users, '@bob': 10 } })), '9.3');
    expectRefused(() => room(version).check(plEvent(ALICE, { ...STANDARD_PL, users: { ...users, [BOB]: '10' } })), '9.3');
    expect(() => room(version).check(plEvent(ALICE, { ...STANDARD_PL, users: { ...users, [BOB]: 10 } }))).not.toThrow();
  });

  it.each(BOTH)('%s: the first power levels event is allowed (9.4)', (_n, version) => {
    const r = new Room(version).member(ALICE, 'join');
    expect(() => r.check(plEvent(ALICE, { users: { [ALICE]: 100, [BOB]: 100 }, ban: 100 }))).not.toThrow();
  });

  it.each(BOTH)('%s: the first power levels event still needs the creator\'s default level (7)', (_n, version) => {
    const r = new Room(version).member(ALICE, 'join').joinRule('public').member(BOB, 'join');
    expectRefused(() => r.check(plEvent(BOB, { users: { [BOB]: 100 } })), '7');
  });

  it.each(BOTH)('%s: changing a level within own level is allowed (9.5)', (_n, version) => {
    expect(() => room(version).check(plEvent(MOD, { ...OPEN_PL, kick: 40 }))).not.toThrow();
    expect(() => room(version).check(plEvent(MOD, { ...OPEN_PL, kick: 50, ban: 50 }))).not.toThrow();
  });

  it.each(BOTH)('%s: raising a level above own level is refused (9.5.2)', (_n, version) => {
    expectRefused(() => room(version).check(plEvent(MOD, { ...OPEN_PL, ban: 60 })), '9.5.2');
    expectRefused(() => room(version).check(plEvent(MOD, { ...OPEN_PL, users_default: 51 })), '9.5.2');
  });

  it.each(BOTH)('%s: changing or removing a level that is above own level is refused (9.5.1)', (_n, version) => {
    const pl = { ...OPEN_PL, state_default: 100 };
    expectRefused(() => room(version, pl).check(plEvent(MOD, { ...pl, state_default: 50 })), '9.5.1');
    const removed: JsonObject = { ...pl };
    delete removed['state_default'];
    expectRefused(() => room(version, pl).check(plEvent(MOD, removed)), '9.5.1');
    // leaving it unchanged is fine
    expect(() => room(version, pl).check(plEvent(MOD, { ...pl, kick: 20 }))).not.toThrow();
  });

  it.each(BOTH)('%s: changing or removing an events entry above own level is refused (9.6.1)', (_n, version) => {
    const pl = { ...OPEN_PL, events: { 'm.room.power_levels': 50, 'm.room.tombstone': 100 } };
    expectRefused(
      () => room(version, pl).check(plEvent(MOD, { ...pl, events: { 'm.room.power_levels': 50, 'm.room.tombstone': 0 } })),
      '9.6.1',
    );
    expectRefused(() => room(version, pl).check(plEvent(MOD, { ...pl, events: { 'm.room.power_levels': 50 } })), '9.6.1');
    const notif = { ...OPEN_PL, notifications: { room: 100 } };
    expectRefused(() => room(version, notif).check(plEvent(MOD, { ...notif, notifications: { room: 0 } })), '9.6.1');
  });

  it.each(BOTH)('%s: adding or raising an events entry above own level is refused (9.7.1)', (_n, version) => {
    expectRefused(
      () => room(version).check(plEvent(MOD, { ...OPEN_PL, events: { 'm.room.power_levels': 50, 'm.room.topic': 60 } })),
      '9.7.1',
    );
    expectRefused(() => room(version).check(plEvent(MOD, { ...OPEN_PL, notifications: { room: 51 } })), '9.7.1');
    expect(() =>
      room(version).check(plEvent(MOD, { ...OPEN_PL, events: { 'm.room.power_levels': 50, 'm.room.topic': 50 } })),
    ).not.toThrow();
  });

  it.each(BOTH)('%s: changing a peer with equal level is refused (9.8.1)', (_n, version) => {
    const users = { ...(OPEN_PL['users'] as JsonObject), [MOD2]: 0 };
    expectRefused(() => room(version).check(plEvent(MOD, { ...OPEN_PL, users })), '9.8.1');
    const removed = { ...(OPEN_PL['users'] as JsonObject) };
    delete removed[MOD2];
    expectRefused(() => room(version).check(plEvent(MOD, { ...OPEN_PL, users: removed })), '9.8.1');
  });

  it.each(BOTH)('%s: changing a user above own level is refused (9.8.1)', (_n, version) => {
    const users = { ...(OPEN_PL['users'] as JsonObject), [ALICE]: 10 };
    expectRefused(() => room(version).check(plEvent(MOD, { ...OPEN_PL, users })), '9.8.1');
  });

  it.each(BOTH)('%s: changing a user below own level, or one\'s own entry, is allowed', (_n, version) => {
    const pl = { ...OPEN_PL, users: { ...(OPEN_PL['users'] as JsonObject), [BOB]: 20 } };
    expect(() => room(version, pl).check(plEvent(MOD, { ...pl, users: { ...(pl.users as JsonObject), [BOB]: 0 } }))).not.toThrow();
    const withoutBob = { ...(pl.users as JsonObject) };
    delete withoutBob[BOB];
    expect(() => room(version, pl).check(plEvent(MOD, { ...pl, users: withoutBob }))).not.toThrow();
    // demoting oneself is excluded from 9.8
    expect(() => room(version, pl).check(plEvent(MOD, { ...pl, users: { ...(pl.users as JsonObject), [MOD]: 10 } }))).not.toThrow();
  });

  it.each(BOTH)('%s: raising others above own level is refused (9.9.1)', (_n, version) => {
    const users = OPEN_PL['users'] as JsonObject;
    expectRefused(() => room(version).check(plEvent(MOD, { ...OPEN_PL, users: { ...users, [BOB]: 51 } })), '9.9.1');
    expectRefused(() => room(version).check(plEvent(ALICE, { ...OPEN_PL, users: { ...users, [BOB]: 101 } })), '9.9.1');
    expectRefused(() => room(version).check(plEvent(MOD, { ...OPEN_PL, users: { ...users, [MOD]: 60 } })), '9.9.1');
    // raising to one's own level is allowed
    expect(() => room(version).check(plEvent(MOD, { ...OPEN_PL, users: { ...users, [BOB]: 50 } }))).not.toThrow();
  });

  it.each(BOTH)('%s: the admin may promote and demote lower users', (_n, version) => {
    const users = OPEN_PL['users'] as JsonObject;
    expect(() =>
      room(version).check(plEvent(ALICE, { ...OPEN_PL, users: { ...users, [MOD]: 0, [BOB]: 100 }, ban: 100 })),
    ).not.toThrow();
  });
});

describe('rule 10: other events', () => {
  it.each(BOTH)('%s: custom events from joined users with enough level are allowed', (_n, version) => {
    const room = standardRoom(version);
    expect(() => room.check(message(BOB, 'org.example.custom'))).not.toThrow();
    expect(() => room.check(stateEvent(ALICE, 'org.example.state', 'k', { a: 1 }))).not.toThrow();
  });
});

// -------------------------------------------------------------------------------------------------

describe('helpers', () => {
  it('createEventCreator: v10 uses content.creator, v11 the sender', () => {
    const v10 = createEvent(V10, ALICE, { creator: BOB, room_version: '10' });
    const v11 = createEvent(V11, ALICE, { creator: BOB, room_version: '11' });
    expect(createEventCreator(v10, V10)).toBe(BOB);
    expect(createEventCreator(v11, V11)).toBe(ALICE);
  });

  it.each(BOTH)('%s: userPowerLevel without power levels: creator 100, others 0', (_n, version) => {
    const room = new Room(version);
    expect(userPowerLevel(ALICE, room.lookup, version)).toBe(100);
    expect(userPowerLevel(BOB, room.lookup, version)).toBe(0);
  });

  it('v10: userPowerLevel default uses content.creator', () => {
    const room = new Room(V10, createEvent(V10, ALICE, { creator: BOB, room_version: '10' }));
    expect(userPowerLevel(BOB, room.lookup, V10)).toBe(100);
    expect(userPowerLevel(ALICE, room.lookup, V10)).toBe(0);
  });

  it.each(BOTH)('%s: userPowerLevel with power levels: users entry, then users_default', (_n, version) => {
    const room = standardRoom(version, 'public', { users: { [MOD]: 50 }, users_default: 5 });
    expect(userPowerLevel(MOD, room.lookup, version)).toBe(50);
    expect(userPowerLevel(ALICE, room.lookup, version)).toBe(5); // creator gets no bonus once PL exists
    const noDefault = standardRoom(version, 'public', { users: {} });
    expect(userPowerLevel(BOB, noDefault.lookup, version)).toBe(0);
    // prototype keys are not user entries
    expect(userPowerLevel('constructor', noDefault.lookup, version)).toBe(0);
  });

  it('requiredPowerLevel: defaults state 50 / message 0, events overrides', () => {
    const empty = new Room(V11);
    expect(requiredPowerLevel('m.room.topic', true, empty.lookup)).toBe(50);
    expect(requiredPowerLevel('m.room.message', false, empty.lookup)).toBe(0);
    const room = standardRoom(V11, 'public', { events: { 'm.room.topic': 10 }, state_default: 70, events_default: 3 });
    expect(requiredPowerLevel('m.room.topic', true, room.lookup)).toBe(10);
    expect(requiredPowerLevel('m.room.name', true, room.lookup)).toBe(70);
    expect(requiredPowerLevel('m.room.message', false, room.lookup)).toBe(3);
    const partial = standardRoom(V11, 'public', {});
    expect(requiredPowerLevel('m.room.name', true, partial.lookup)).toBe(50);
    expect(requiredPowerLevel('toString', false, partial.lookup)).toBe(0);
  });

  it('powerLevelFor: defaults invite 0, kick/ban/redact 50', () => {
    const empty = new Room(V11);
    expect(powerLevelFor('invite', empty.lookup)).toBe(0);
    expect(powerLevelFor('kick', empty.lookup)).toBe(50);
    expect(powerLevelFor('ban', empty.lookup)).toBe(50);
    expect(powerLevelFor('redact', empty.lookup)).toBe(50);
    const partial = standardRoom(V11, 'public', { invite: 10 });
    expect(powerLevelFor('invite', partial.lookup)).toBe(10);
    expect(powerLevelFor('kick', partial.lookup)).toBe(50);
    const room = standardRoom(V11, 'public', { invite: 1, kick: 2, ban: 3, redact: 4 });
    expect([powerLevelFor('invite', room.lookup), powerLevelFor('kick', room.lookup)]).toEqual([1, 2]);
    expect([powerLevelFor('ban', room.lookup), powerLevelFor('redact', room.lookup)]).toEqual([3, 4]);
  });

  it('membershipOf', () => {
    const room = standardRoom(V11).member(CAROL, 'invite', ALICE);
    expect(membershipOf(BOB, room.lookup)).toBe('join');
    expect(membershipOf(CAROL, room.lookup)).toBe('invite');
    expect(membershipOf(EVE, room.lookup)).toBeUndefined();
  });

  it('canApplyRedaction: redact level, or same server as the original sender', () => {
    const room = standardRoom(V11);
    expect(canApplyRedaction({ sender: MOD }, { sender: CAROL }, room.lookup, V11)).toBe(true);
    expect(canApplyRedaction({ sender: BOB }, { sender: ALICE }, room.lookup, V11)).toBe(true); // same server
    expect(canApplyRedaction({ sender: BOB }, { sender: CAROL }, room.lookup, V11)).toBe(false);
  });

});

describe('selectAuthEvents', () => {
  const ids = (room: Room, event: Parameters<typeof selectAuthEvents>[0]): string[] =>
    selectAuthEvents(event, room.lookup, room.version);
  const idOf = (room: Room, type: string, key = ''): string => room.lookup(type, key)!.event_id;

  it.each(BOTH)('%s: the create event has no auth events', (_n, version) => {
    expect(ids(new Room(version), createEvent(version))).toEqual([]);
  });

  it.each(BOTH)('%s: a message selects create, power levels and the sender member', (_n, version) => {
    const room = standardRoom(version);
    expect(ids(room, message(BOB))).toEqual([
      '$create',
      idOf(room, 'm.room.power_levels'),
      idOf(room, 'm.room.member', BOB),
    ]);
  });

  it.each(BOTH)('%s: the creator\'s first join selects only the create event', (_n, version) => {
    const room = new Room(version);
    expect(ids(room, member(ALICE, ALICE, 'join'))).toEqual(['$create']);
  });

  it.each(BOTH)('%s: a join selects join_rules, without duplicating the sender/target member', (_n, version) => {
    const room = standardRoom(version).member(CAROL, 'invite', ALICE);
    expect(ids(room, member(CAROL, CAROL, 'join'))).toEqual([
      '$create',
      idOf(room, 'm.room.power_levels'),
      idOf(room, 'm.room.member', CAROL),
      idOf(room, 'm.room.join_rules'),
    ]);
  });

  it.each(BOTH)('%s: an invite selects the target member and join_rules', (_n, version) => {
    const room = standardRoom(version).member(CAROL, 'leave');
    expect(ids(room, member(BOB, CAROL, 'invite'))).toEqual([
      '$create',
      idOf(room, 'm.room.power_levels'),
      idOf(room, 'm.room.member', BOB),
      idOf(room, 'm.room.member', CAROL),
      idOf(room, 'm.room.join_rules'),
    ]);
  });

  it.each(BOTH)('%s: a knock selects join_rules; leave and ban do not', (_n, version) => {
    const room = standardRoom(version, 'knock').member(CAROL, 'leave');
    expect(ids(room, member(CAROL, CAROL, 'knock'))).toContain(idOf(room, 'm.room.join_rules'));
    expect(ids(room, member(ALICE, BOB, 'leave'))).not.toContain(idOf(room, 'm.room.join_rules'));
    expect(ids(room, member(ALICE, BOB, 'ban'))).toEqual([
      '$create',
      idOf(room, 'm.room.power_levels'),
      idOf(room, 'm.room.member', ALICE),
      idOf(room, 'm.room.member', BOB),
    ]);
  });

  it.each(BOTH)('%s: a third-party invite selects the m.room.third_party_invite for the token', (_n, version) => {
    const room = standardRoom(version).put(stateEvent(BOB, 'm.room.third_party_invite', 'tok', { public_key: 'k' }));
    const invite = member(BOB, CAROL, 'invite', { third_party_invite: { signed: { mxid: CAROL, token: 'tok' } } });
    expect(ids(room, invite)).toContain(idOf(room, 'm.room.third_party_invite', 'tok'));
  });

  it.each(BOTH)('%s: a restricted join selects the authorising user\'s member event', (_n, version) => {
    const room = standardRoom(version, 'restricted');
    const join = member(CAROL, CAROL, 'join', { join_authorised_via_users_server: MOD });
    expect(ids(room, join)).toEqual([
      '$create',
      idOf(room, 'm.room.power_levels'),
      idOf(room, 'm.room.join_rules'),
      idOf(room, 'm.room.member', MOD),
    ]);
  });
});
