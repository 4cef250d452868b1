// Tests for src/core/auth-rules.ts under rooms/v12 ("Authorisation rules"), whose numbering differs
// from v10/v11 (v12 inserts rule 2): every rule cited here is a v12 rule number unless it says v10/v11.
// Also checks that what v12 changed stays as it was for v10 and v11.
import { describe, expect, it } from '@jest/globals';
import type { JsonObject, StoredEvent } from '../../src/core/events/types.js';
import { ROOM_VERSIONS, type RoomVersion } from '../../src/core/room-versions.js';
import {
  AuthError,
  authEventKeys,
  canApplyRedaction,
  checkAuthEventsList,
  checkEventAuth,
  isRoomCreator,
  roomCreators,
  selectAuthEvents,
  userPowerLevel,
  type AuthCheckOptions,
  type StateLookup,
} from '../../src/core/auth-rules.js';

const V10 = ROOM_VERSIONS['10'];
const V11 = ROOM_VERSIONS['11'];
const V12 = ROOM_VERSIONS['12'];

const CREATE_ID = '$CREATE';
const ROOM_ID = '!CREATE'; // v12: the create event's ID with '!' for '$'
const ALICE = '@alice:hs1'; // creator (create sender)
const CAT = '@cat:hs2'; // additional creator
const ADMIN = '@admin:hs1'; // level 100 in power_levels, not a creator
const MOD = '@mod:hs1'; // level 50
const BOB = '@bob:hs1'; // level 0
const CAROL = '@carol:hs2'; // level 0, on another server

let seq = 0;

interface EvInit {
  type: string;
  sender: string;
  state_key?: string;
  content?: JsonObject;
  prev_events?: string[];
  room_id?: string | null;
  event_id?: string;
}

function ev(init: EvInit): StoredEvent {
  seq += 1;
  const event = {
    event_id: init.event_id ?? `$ev${seq}`,
    sender: init.sender,
    type: init.type,
    content: init.content ?? {},
    origin_server_ts: 1_700_000_000_000 + seq,
    prev_events: init.prev_events ?? ['$prev'],
    auth_events: [],
    depth: seq,
    hashes: { sha256: 'x' },
    signatures: { [init.sender.slice(init.sender.indexOf(':') + 1)]: { 'ed25519:a': 'sig' } },
  } as unknown as StoredEvent;
  // `room_id: null` builds an event without one (a v12 create event).
  if (init.room_id !== null) event.room_id = init.room_id ?? ROOM_ID;
  if (init.state_key !== undefined) event.state_key = init.state_key;
  return event;
}

/** A v12 create event: no room_id (rule 1.2), no creator, optional additional_creators. */
function create12(content: JsonObject = { room_version: '12', additional_creators: [CAT] }, sender = ALICE): StoredEvent {
  return ev({ type: 'm.room.create', sender, state_key: '', content, prev_events: [], room_id: null, event_id: CREATE_ID });
}

function member(sender: string, target: string, membership: string, extra: Partial<EvInit> = {}): StoredEvent {
  return ev({ type: 'm.room.member', sender, state_key: target, content: { membership }, ...extra });
}

function stateEvent(sender: string, type: string, stateKey = '', content: JsonObject = {}): StoredEvent {
  return ev({ type, sender, state_key: stateKey, content });
}

function plEvent(sender: string, content: JsonObject): StoredEvent {
  return stateEvent(sender, 'm.room.power_levels', '', content);
}

function message(sender: string): StoredEvent {
  return ev({ type: 'm.room.message', sender, content: { body: 'hi' } });
}

const STANDARD_PL: JsonObject = {
  users: { [ADMIN]: 100, [MOD]: 50 },
  users_default: 0,
  state_default: 50,
  ban: 50,
  kick: 50,
  invite: 0,
  events: { 'm.room.power_levels': 100, 'm.room.tombstone': 150 },
};

/** A Map-based current room state (it holds the create event, as a current state does). */
class Room {
  readonly state = new Map<string, StoredEvent>();
  readonly create: StoredEvent;

  constructor(create: StoredEvent = create12()) {
    this.create = create;
    this.put(create);
  }

  readonly lookup: StateLookup = (type, stateKey) => this.state.get(`${type}|${stateKey}`);

  put(event: StoredEvent): this {
    this.state.set(`${event.type}|${event.state_key ?? ''}`, event);
    return this;
  }

  member(user: string, membership: string, sender = user): this {
    return this.put(member(sender, user, membership));
  }

  check(event: StoredEvent, options?: AuthCheckOptions): void {
    checkEventAuth(event, this.lookup, V12, options);
  }
}

/** Alice (creator) and Cat (additional creator), Admin, Mod and Bob joined; public. Carol is not a member. */
function standardRoom(pl: JsonObject = STANDARD_PL, joinRule = 'public'): Room {
  return new Room()
    .member(ALICE, 'join')
    .put(plEvent(ALICE, pl))
    .put(stateEvent(ALICE, 'm.room.join_rules', '', { join_rule: joinRule }))
    .member(CAT, 'join')
    .member(ADMIN, 'join')
    .member(MOD, 'join')
    .member(BOB, 'join');
}

/** Asserts that `fn` throws an AuthError for `rule` in the given numbering. */
function expectRefused(fn: () => void, rule: string, numbering: 'v10' | 'v12' = 'v12'): AuthError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(AuthError);
  expect((caught as AuthError).rule).toBe(rule);
  expect((caught as AuthError).numbering).toBe(numbering);
  return caught as AuthError;
}

// -------------------------------------------------------------------------------------------------

describe('v12 AuthError numbering', () => {
  it('names rooms/v12 in the message and carries numbering v12', () => {
    const err = expectRefused(() => checkEventAuth(message(CAROL), () => undefined, V12), '2');
    expect(err.message).toContain('(rooms/v12 auth rule 2)');
  });

  it('v10/v11 errors keep their numbering and message form', () => {
    for (const version of [V10, V11]) {
      const err = expectRefused(() => checkEventAuth(message(CAROL), () => undefined, version), '2.4', 'v10');
      expect(err.message).toMatch(/\(auth rule 2\.4\)$/);
    }
    expect(new AuthError('4.4.3', 'x').numbering).toBe('v10');
  });
});

describe('v12 rule 1: m.room.create', () => {
  it('allows a create event without room_id (1.5)', () => {
    expect(() => checkEventAuth(create12(), () => undefined, V12)).not.toThrow();
  });

  it('refuses a create event with prev_events (1.1)', () => {
    const create = create12();
    create.prev_events = ['$x'];
    expectRefused(() => checkEventAuth(create, () => undefined, V12), '1.1');
  });

  it('refuses a create event that has a room_id (1.2), even one on the sender\'s server', () => {
    const create = { ...create12(), room_id: '!room:hs1' };
    expectRefused(() => checkEventAuth(create, () => undefined, V12), '1.2');
  });

  it('refuses an unrecognised room_version (1.3) and recognises "12"', () => {
    expectRefused(() => checkEventAuth(create12({ room_version: '13' }), () => undefined, V12), '1.3');
    expect(() => checkEventAuth(create12({ room_version: '12' }), () => undefined, V12)).not.toThrow();
  });

  it.each<[string, JsonObject['x']]>([
    ['not an array', CAT],
    ['an array with a non-string', [CAT, 5]],
    ['an array with an invalid user ID', [CAT, 'cat:hs2']],
    ['an array with a user ID on an invalid server name', ['@cat:bad server']],
  ])('refuses additional_creators that is %s (1.4)', (_n, value) => {
    const create = create12({ room_version: '12', additional_creators: value! });
    expectRefused(() => checkEventAuth(create, () => undefined, V12), '1.4');
  });

  it('allows an empty or valid additional_creators (1.4, 1.5)', () => {
    expect(() => checkEventAuth(create12({ additional_creators: [] }), () => undefined, V12)).not.toThrow();
    expect(() => checkEventAuth(create12({ additional_creators: [CAT, BOB] }), () => undefined, V12)).not.toThrow();
  });

  it('v10/v11: additional_creators means nothing (no 1.4 check of it) and room_id stays mandatory', () => {
    const v11 = ev({ type: 'm.room.create', sender: ALICE, state_key: '', prev_events: [], room_id: '!r:hs1',
      content: { room_version: '11', additional_creators: 'nonsense' } });
    expect(() => checkEventAuth(v11, () => undefined, V11)).not.toThrow();
    const noRoomId = ev({ type: 'm.room.create', sender: ALICE, state_key: '', prev_events: [], room_id: null,
      content: { room_version: '11' } });
    expectRefused(() => checkEventAuth(noRoomId, () => undefined, V11), '1.2', 'v10');
  });
});

describe('v12 rule 2: the room ID names the create event', () => {
  it('refuses an event whose room_id is not the create event\'s ID with ! (2)', () => {
    const room = standardRoom();
    const other = message(BOB);
    other.room_id = '!SOMETHINGELSE';
    expectRefused(() => room.check(other), '2');
    const withDomain = message(BOB);
    withDomain.room_id = '!CREATE:hs1';
    expectRefused(() => room.check(withDomain), '2');
  });

  it('refuses when no create event is known at all (2, not v11\'s 2.4)', () => {
    expectRefused(() => checkEventAuth(message(BOB), () => undefined, V12), '2');
  });

  it('takes the create event from options.createEvent when the state lookup has none', () => {
    const room = standardRoom();
    const withoutCreate: StateLookup = (t, k) => (t === 'm.room.create' ? undefined : room.lookup(t, k));
    expectRefused(() => checkEventAuth(message(BOB), withoutCreate, V12), '2');
    expect(() => checkEventAuth(message(BOB), withoutCreate, V12, { createEvent: room.create })).not.toThrow();
  });

  it('prefers options.createEvent over what the lookup says about m.room.create', () => {
    const room = standardRoom();
    const impostor = { ...room.create, event_id: '$IMPOSTOR' };
    room.put(impostor);
    expectRefused(() => room.check(message(BOB)), '2');
    expect(() => room.check(message(BOB), { createEvent: room.create })).not.toThrow();
  });

  it('refuses a "create event" that is not an m.room.create state event (2)', () => {
    const room = standardRoom();
    const notCreate = { ...stateEvent(ALICE, 'm.room.topic'), event_id: CREATE_ID };
    expectRefused(() => room.check(message(BOB), { createEvent: notCreate }), '2');
  });

  it('v10/v11: options.createEvent is ignored (the create event must be in the state: 2.4)', () => {
    const v11Create = ev({ type: 'm.room.create', sender: ALICE, state_key: '', prev_events: [], room_id: '!r:hs1', content: {} });
    const bob = { ...member(BOB, BOB, 'join'), room_id: '!r:hs1' };
    expectRefused(() => checkEventAuth(bob, () => undefined, V11, { createEvent: v11Create }), '2.4', 'v10');
  });
});

describe('v12 rule 3: auth events (auth events selection without m.room.create)', () => {
  it('authEventKeys never selects m.room.create in v12, always in v10/v11 (3.2 note)', () => {
    const join = member(BOB, BOB, 'join');
    expect(authEventKeys(join, V12)).toEqual([
      ['m.room.power_levels', ''],
      ['m.room.member', BOB],
      ['m.room.join_rules', ''],
    ]);
    for (const version of [V10, V11]) expect(authEventKeys(join, version)[0]).toEqual(['m.room.create', '']);
    expect(authEventKeys(create12(), V12)).toEqual([]);
  });

  it('selectAuthEvents leaves the create event out', () => {
    const room = standardRoom();
    const ids = selectAuthEvents(message(BOB), room.lookup, V12);
    expect(ids).not.toContain(CREATE_ID);
    expect(ids).toEqual([room.lookup('m.room.power_levels', '')!.event_id, room.lookup('m.room.member', BOB)!.event_id]);
  });

  it('accepts auth events without the create event and answers m.room.create from options.createEvent', () => {
    const room = standardRoom();
    const msg = message(BOB);
    const authEvents = selectAuthEvents(msg, room.lookup, V12).map((id) => [...room.state.values()].find((e) => e.event_id === id)!);
    const bare = checkAuthEventsList(msg, authEvents, V12);
    expect(bare('m.room.create', '')).toBeUndefined();
    expectRefused(() => checkEventAuth(msg, bare, V12), '2');
    const lookup = checkAuthEventsList(msg, authEvents, V12, { createEvent: room.create });
    expect(lookup('m.room.create', '')?.event_id).toBe(CREATE_ID);
    expect(() => checkEventAuth(msg, lookup, V12)).not.toThrow();
  });

  it('refuses the create event among auth_events (3.2)', () => {
    const room = standardRoom();
    expectRefused(() => checkAuthEventsList(message(BOB), [room.create, room.lookup('m.room.member', BOB)!], V12), '3.2');
  });

  it('refuses duplicates (3.1), unexpected entries (3.2) and auth events of another room (3.4)', () => {
    const room = standardRoom();
    const pl = room.lookup('m.room.power_levels', '')!;
    expectRefused(() => checkAuthEventsList(message(BOB), [pl, plEvent(ALICE, STANDARD_PL)], V12), '3.1');
    expectRefused(() => checkAuthEventsList(message(BOB), [room.lookup('m.room.join_rules', '')!], V12), '3.2');
    const foreign = { ...room.lookup('m.room.member', BOB)!, room_id: '!OTHER' };
    expectRefused(() => checkAuthEventsList(message(BOB), [foreign], V12), '3.4');
  });

  it('refuses a consulted state event from another room (3.4)', () => {
    const room = standardRoom();
    room.put({ ...room.lookup('m.room.member', BOB)!, room_id: '!OTHER' });
    expectRefused(() => room.check(message(BOB)), '3.4');
  });
});

describe('v12 rule 4: m.federate', () => {
  it('compares the sender domain with the create event\'s sender domain (4)', () => {
    const room = new Room(create12({ 'm.federate': false })).member(ALICE, 'join')
      .put(stateEvent(ALICE, 'm.room.join_rules', '', { join_rule: 'public' }));
    expectRefused(() => room.check(member(CAROL, CAROL, 'join')), '4');
    expect(() => room.check(member(BOB, BOB, 'join'))).not.toThrow();
  });
});

describe('v12 rule 5: m.room.member (renumbered from v11 rule 4)', () => {
  it('lets the create event\'s sender join right after the create event (5.3.1)', () => {
    const room = new Room();
    expect(() => room.check(member(ALICE, ALICE, 'join', { prev_events: [CREATE_ID] }))).not.toThrow();
    // An additional creator is not "the sender of the m.room.create": no such shortcut.
    expectRefused(() => room.check(member(CAT, CAT, 'join', { prev_events: [CREATE_ID] })), '5.3.7');
  });

  it('numbers the member rules 5.x', () => {
    const room = standardRoom(STANDARD_PL, 'invite');
    expectRefused(() => room.check(ev({ type: 'm.room.member', sender: BOB, state_key: BOB, content: {} })), '5.1');
    expectRefused(() => room.check(member(BOB, CAROL, 'join')), '5.3.2');
    expectRefused(() => room.check(member(CAROL, CAROL, 'join')), '5.3.7');
    expectRefused(() => room.check(member(CAROL, BOB, 'invite')), '5.4.2');
    expectRefused(() => room.check(member(BOB, MOD, 'invite')), '5.4.3');
    expectRefused(() => room.check(member(BOB, MOD, 'leave')), '5.5.5');
    expectRefused(() => room.check(member(MOD, ADMIN, 'ban')), '5.6.3');
    expectRefused(() => room.check(member(CAROL, CAROL, 'knock')), '5.7.1');
    expectRefused(() => room.check(member(BOB, BOB, 'dance')), '5.8');
  });

  it('a creator can kick and ban anyone, even a level-100 admin (5.5.4, 5.6.2: infinite power)', () => {
    const room = standardRoom();
    expect(() => room.check(member(ALICE, ADMIN, 'leave'))).not.toThrow();
    expect(() => room.check(member(ALICE, ADMIN, 'ban'))).not.toThrow();
    expect(() => room.check(member(CAT, ADMIN, 'ban'))).not.toThrow();
  });

  it('nobody can kick or ban a creator, not even another creator (5.5.5, 5.6.3)', () => {
    const room = standardRoom({ ...STANDARD_PL, users: { [ADMIN]: 100, [MOD]: 50 } });
    expectRefused(() => room.check(member(ADMIN, ALICE, 'leave')), '5.5.5');
    expectRefused(() => room.check(member(ADMIN, ALICE, 'ban')), '5.6.3');
    expectRefused(() => room.check(member(ADMIN, CAT, 'ban')), '5.6.3');
    expectRefused(() => room.check(member(CAT, ALICE, 'leave')), '5.5.5');
    expectRefused(() => room.check(member(ALICE, CAT, 'ban')), '5.6.3');
  });

  it('a creator can unban even with a huge ban level (5.5.3)', () => {
    const room = standardRoom({ ...STANDARD_PL, ban: 1_000_000, kick: 1_000_000 }).member(BOB, 'ban', ADMIN);
    expect(() => room.check(member(ALICE, BOB, 'leave'))).not.toThrow();
    expectRefused(() => room.check(member(ADMIN, BOB, 'leave')), '5.5.3');
  });

  it('a creator can invite whatever the invite level (5.4.4)', () => {
    const room = standardRoom({ ...STANDARD_PL, invite: 1_000_000 });
    expect(() => room.check(member(CAT, CAROL, 'invite'))).not.toThrow();
    expectRefused(() => room.check(member(ADMIN, CAROL, 'invite')), '5.4.5');
  });

  it('a creator can authorise a restricted join whatever the invite level (5.3.5.2)', () => {
    const room = standardRoom({ ...STANDARD_PL, invite: 1_000_000 }, 'restricted');
    const join = member(CAROL, CAROL, 'join');
    join.content['join_authorised_via_users_server'] = ALICE;
    expect(() => room.check(join, { isSignedBy: () => true })).not.toThrow();
    const viaAdmin = member(CAROL, CAROL, 'join');
    viaAdmin.content['join_authorised_via_users_server'] = ADMIN;
    expectRefused(() => room.check(viaAdmin, { isSignedBy: () => true }), '5.3.5.2');
    expectRefused(() => room.check(viaAdmin, { isSignedBy: () => false }), '5.2.1');
  });

  it('third-party invites are numbered 5.4.1.x', () => {
    const room = standardRoom();
    const invite = member(BOB, CAROL, 'invite');
    invite.content['third_party_invite'] = {};
    expectRefused(() => room.check(invite), '5.4.1.2');
  });
});

describe('v12 rules 6-9 and 11', () => {
  it('refuses a sender who is not joined (6)', () => {
    expectRefused(() => standardRoom().check(message(CAROL)), '6');
  });

  it('m.room.third_party_invite needs the invite level (7.1), which a creator always has', () => {
    const room = standardRoom({ ...STANDARD_PL, invite: 60 });
    expectRefused(() => room.check(stateEvent(BOB, 'm.room.third_party_invite', 'tok')), '7.1');
    expect(() => room.check(stateEvent(CAT, 'm.room.third_party_invite', 'tok'))).not.toThrow();
  });

  it('required power level (8): an event at 150 is refused to a level-100 admin, allowed to a creator', () => {
    const room = standardRoom();
    expectRefused(() => room.check(stateEvent(ADMIN, 'm.room.tombstone')), '8');
    expect(() => room.check(stateEvent(ALICE, 'm.room.tombstone'))).not.toThrow();
    expect(() => room.check(stateEvent(CAT, 'm.room.tombstone'))).not.toThrow();
  });

  it('state keys starting with @ must be the sender, creators included (9)', () => {
    expectRefused(() => standardRoom().check(stateEvent(ALICE, 'm.custom', BOB)), '9');
  });

  it('otherwise allows (11)', () => {
    expect(() => standardRoom().check(message(BOB))).not.toThrow();
  });
});

describe('v12 rule 10: m.room.power_levels', () => {
  it('numbers the shape checks 10.1-10.3', () => {
    const room = standardRoom();
    expectRefused(() => room.check(plEvent(ALICE, { ban: '50' })), '10.1');
    expectRefused(() => room.check(plEvent(ALICE, { events: { x: 'a' } })), '10.2');
    expectRefused(() => room.check(plEvent(ALICE, { users: { notauser: 1 } })), '10.3');
  });

  it('refuses power_levels whose users lists the create sender (10.4)', () => {
    expectRefused(() => standardRoom().check(plEvent(ALICE, { users: { [ALICE]: 100 } })), '10.4');
  });

  it('refuses power_levels whose users lists an additional creator (10.4), even at level 0', () => {
    expectRefused(() => standardRoom().check(plEvent(ALICE, { users: { [CAT]: 0 } })), '10.4');
  });

  it('10.4 applies to the first power_levels too (it comes before 10.5)', () => {
    const room = new Room().member(ALICE, 'join');
    expectRefused(() => room.check(plEvent(ALICE, { users: { [ALICE]: 100 } })), '10.4');
    expect(() => room.check(plEvent(ALICE, { users: { [BOB]: 100 } }))).not.toThrow();
  });

  it('a creator may set any level, above 100 included (10.6-10.10 never bind a creator)', () => {
    const room = standardRoom();
    const content = { ...STANDARD_PL, users: { [ADMIN]: 1_000_000, [MOD]: 0 }, ban: 9_999_999, events: { 'm.room.name': 500 } };
    expect(() => room.check(plEvent(CAT, content))).not.toThrow();
  });

  it('a level-100 admin who is no creator is bound as before (10.6.2, 10.8.1, 10.9.1, 10.10.1)', () => {
    const room = standardRoom({ ...STANDARD_PL, users: { [ADMIN]: 100, [MOD]: 100 } });
    expectRefused(() => room.check(plEvent(ADMIN, { ...STANDARD_PL, users: { [ADMIN]: 100, [MOD]: 100 }, ban: 101 })), '10.6.2');
    const events = { ...(STANDARD_PL.events as JsonObject), x: 101 };
    expectRefused(() => room.check(plEvent(ADMIN, { ...STANDARD_PL, users: { [ADMIN]: 100, [MOD]: 100 }, events })), '10.8.1');
    expectRefused(() => room.check(plEvent(ADMIN, { ...STANDARD_PL, users: { [ADMIN]: 100, [MOD]: 0 } })), '10.9.1');
    expectRefused(() => room.check(plEvent(ADMIN, { ...STANDARD_PL, users: { [ADMIN]: 100, [MOD]: 100, [BOB]: 101 } })), '10.10.1');
  });

  it('a creator can demote a level-100 admin (10.9: current value < infinity)', () => {
    expect(() => standardRoom().check(plEvent(ALICE, { ...STANDARD_PL, users: { [ADMIN]: 0 } }))).not.toThrow();
  });

  it('10.6.1 and 10.7.1: changing a value above the sender\'s level', () => {
    const modCanSendPl = { ...STANDARD_PL, users: { [ADMIN]: 100, [MOD]: 50 }, ban: 100, events: { 'm.room.power_levels': 50, x: 100 } };
    const room2 = standardRoom(modCanSendPl);
    expectRefused(() => room2.check(plEvent(MOD, { ...modCanSendPl, ban: 40 })), '10.6.1');
    expectRefused(() => room2.check(plEvent(MOD, { ...modCanSendPl, events: { 'm.room.power_levels': 50 } })), '10.7.1');
  });
});

describe('v12 creators and power levels (helpers)', () => {
  it('roomCreators is the create sender plus additional_creators; isRoomCreator agrees', () => {
    const create = create12({ additional_creators: [CAT, ALICE, 5 as unknown as string] });
    expect(roomCreators(create, V12)).toEqual([ALICE, CAT]);
    expect(isRoomCreator(CAT, create, V12)).toBe(true);
    expect(isRoomCreator(BOB, create, V12)).toBe(false);
    // Before v12 only the creator counts.
    expect(roomCreators(create, V11)).toEqual([ALICE]);
  });

  it('userPowerLevel gives creators Infinity whatever power_levels says, others their level', () => {
    const room = standardRoom();
    expect(userPowerLevel(ALICE, room.lookup, V12)).toBe(Infinity);
    expect(userPowerLevel(CAT, room.lookup, V12)).toBe(Infinity);
    expect(userPowerLevel(ADMIN, room.lookup, V12)).toBe(100);
    expect(userPowerLevel(BOB, room.lookup, V12)).toBe(0);
    // Without power_levels: creators still Infinity (not 100), everybody else 0.
    const bare = new Room();
    expect(userPowerLevel(CAT, bare.lookup, V12)).toBe(Infinity);
    expect(userPowerLevel(BOB, bare.lookup, V12)).toBe(0);
  });

  it('v10/v11: the creator has no special level once power_levels exists; 100 without it', () => {
    for (const version of [V10, V11]) {
      const create = ev({ type: 'm.room.create', sender: ALICE, state_key: '', prev_events: [], room_id: '!r:hs1',
        content: { creator: ALICE, additional_creators: [CAT] } });
      const pl = plEvent(ADMIN, { users: { [ALICE]: 10 } });
      const withPl: StateLookup = (t) => (t === 'm.room.create' ? create : t === 'm.room.power_levels' ? pl : undefined);
      expect(userPowerLevel(ALICE, withPl, version)).toBe(10);
      expect(userPowerLevel(CAT, withPl, version)).toBe(0);
      const withoutPl: StateLookup = (t) => (t === 'm.room.create' ? create : undefined);
      expect(userPowerLevel(ALICE, withoutPl, version)).toBe(100);
      expect(userPowerLevel(CAT, withoutPl, version)).toBe(0);
    }
  });

  it('v11: power_levels may list the creator and anyone may outrank them (no 10.4 before v12)', () => {
    const create = ev({ type: 'm.room.create', sender: ALICE, state_key: '', prev_events: [], room_id: '!r:hs1', content: {} });
    const state = new Map<string, StoredEvent>();
    const put = (e: StoredEvent): void => void state.set(`${e.type}|${e.state_key}`, { ...e, room_id: '!r:hs1' });
    put(create);
    put(member(ALICE, ALICE, 'join'));
    put(member(ADMIN, ADMIN, 'join'));
    put(plEvent(ALICE, { users: { [ALICE]: 50, [ADMIN]: 100 } }));
    const lookup: StateLookup = (t, k) => state.get(`${t}|${k}`);
    const kick = { ...member(ADMIN, ALICE, 'leave'), room_id: '!r:hs1' };
    expect(() => checkEventAuth(kick, lookup, V11)).not.toThrow();
    const pl = { ...plEvent(ADMIN, { users: { [ALICE]: 0, [ADMIN]: 100 } }), room_id: '!r:hs1' };
    expect(() => checkEventAuth(pl, lookup, V11)).not.toThrow();
  });

  it('canApplyRedaction: a creator may redact anything whatever the redact level', () => {
    const room = standardRoom({ ...STANDARD_PL, redact: 1_000_000 });
    expect(canApplyRedaction({ sender: CAT }, { sender: BOB }, room.lookup, V12)).toBe(true);
    expect(canApplyRedaction({ sender: ADMIN }, { sender: CAROL }, room.lookup, V12)).toBe(false);
  });
});
