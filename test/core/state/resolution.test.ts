// Tests for src/core/state/resolution.ts: state resolution of rooms/v2 (rooms v10, v11; spec text in
// rooms/fragments/v2-state-res.md) and of rooms/v12 ("v2.1": empty start for the power events, conflicted
// state subgraph). Each test names the definition or algorithm step it checks; "step N" is the
// numbered "Algorithm" list. Graphs are built with the harness: branches select their auth events from
// their own state, and merging resolves their states (as a server computes the state before an event
// with several prev_events).
import { describe, expect, it } from '@jest/globals';
import type { JsonObject } from '../../../src/core/events/types.js';
import { ROOM_VERSIONS, type RoomVersion } from '../../../src/core/room-versions.js';
import { resolveState, stateKey, type IterativeCheck, type StateMap } from '../../../src/core/state/resolution.js';
import { ALICE, BOB, Branch, CHARLIE, EVELYN, TestRoom, ZARA, k, startRoom, type EventInit } from './harness.js';

const V10 = ROOM_VERSIONS['10'];
const V11 = ROOM_VERSIONS['11'];
const V12 = ROOM_VERSIONS['12'];
const ALL: Array<[string, RoomVersion]> = [['v10', V10], ['v11', V11], ['v12', V12]];
const V2_ONLY: Array<[string, RoomVersion]> = [['v10', V10], ['v11', V11]];

// Event builders for the branches (ids are chosen by each test).
const topic = (id: string, sender: string, extra: Partial<EventInit> = {}): EventInit =>
  ({ id, type: 'm.room.topic', sender, state_key: '', content: { topic: id }, ...extra });
const pl = (id: string, sender: string, content: JsonObject, extra: Partial<EventInit> = {}): EventInit =>
  ({ id, type: 'm.room.power_levels', sender, state_key: '', content, ...extra });
const joinRules = (id: string, sender: string, rule: string, extra: Partial<EventInit> = {}): EventInit =>
  ({ id, type: 'm.room.join_rules', sender, state_key: '', content: { join_rule: rule }, ...extra });
const member = (id: string, sender: string, target: string, membership: string, extra: Partial<EventInit> = {}): EventInit =>
  ({ id, type: 'm.room.member', sender, state_key: target, content: { membership }, ...extra });
const message = (id: string, sender: string): EventInit => ({ id, type: 'm.room.message', sender, content: { body: id } });

/** Resolves and records the iterative auth checks (step 2 and step 4 lists, and what was refused). */
async function traced(room: TestRoom, states: StateMap[]): Promise<{ view: Record<string, string>; step2: string[]; step4: string[]; refused: Record<string, string> }> {
  const checks: IterativeCheck[] = [];
  const resolved = await room.resolve(states, { observe: (c) => checks.push(c) });
  const refused: Record<string, string> = {};
  for (const c of checks) if (c.refused) refused[c.eventId] = c.refused.rule;
  return {
    view: room.view(resolved),
    step2: checks.filter((c) => c.step === 2).map((c) => c.eventId),
    step4: checks.filter((c) => c.step === 4).map((c) => c.eventId),
    refused,
  };
}

/** `base` with `changes` applied (null removes a key): the expected resolved state, in full. */
function expected(room: TestRoom, base: Branch, changes: Record<string, string | null>): Record<string, string> {
  const out = room.view(base.state);
  for (const [key, id] of Object.entries(changes)) {
    if (id === null) delete out[key];
    else out[key] = id;
  }
  return out;
}

// -------------------------------------------------------------------------------------------------

describe('resolveState: inputs that need no resolution', () => {
  it('returns an empty map for no states, a copy for one state, without fetching anything', async () => {
    const room = new TestRoom(V11);
    const base = startRoom(room);
    expect((await room.resolve([])).size).toBe(0);
    const copy = await room.resolve([base.state]);
    expect(copy).toEqual(base.state);
    expect(copy).not.toBe(base.state);
    expect(room.fetches).toEqual([]);
  });

  it('returns a copy of identical states without fetching anything', async () => {
    const room = new TestRoom(V12);
    const base = startRoom(room);
    const copy = await room.resolve([base.state, new Map(base.state), new Map(base.state)]);
    expect(copy).toEqual(base.state);
    expect(copy).not.toBe(base.state);
    expect(room.fetches).toEqual([]);
  });

  it('exports the StateKey format', () => {
    expect(stateKey('m.room.member', '@a:b')).toBe('m.room.member\u0000@a:b');
  });
});

describe('unconflicted state map and conflicted state set (definitions)', () => {
  it.each(ALL)('%s: a key missing from one state is conflicted, and concurrent joins both end up in the state', async (_n, version) => {
    const room = new TestRoom(version);
    const base = startRoom(room);
    const a = base.fork();
    a.send(member('$ME', EVELYN, EVELYN, 'join'));
    const b = base.fork();
    b.send(member('$MX', '@xavier:example.com', '@xavier:example.com', 'join'));
    const r = await traced(room, [a.state, b.state]);
    expect(r.view).toEqual(expected(room, base, { [k('m.room.member', EVELYN)]: '$ME', [k('m.room.member', '@xavier:example.com')]: '$MX' }));
    expect(r.step2).toEqual([]); // joins are not power events
    expect(r.step4).toEqual(['$ME', '$MX']); // same mainline position: by origin_server_ts
  });

  it.each(ALL)('%s: keys with the same event in every state are kept as they are (unconflicted)', async (_n, version) => {
    const room = new TestRoom(version);
    const base = startRoom(room);
    const a = base.fork();
    a.send(topic('$T1', ALICE));
    const b = base.fork();
    b.send(topic('$T2', ALICE));
    const r = await traced(room, [a.state, b.state]);
    expect(r.view).toEqual(expected(room, base, { [k('m.room.topic')]: '$T2' }));
    // Only the conflicted events (plus their auth difference, empty here) are checked.
    expect([...r.step2, ...r.step4]).toEqual(['$T1', '$T2']);
  });
});

// Synapse's tests/state/test_v2.py has these graphs (there for room version 2). Each is rebuilt here
// with the harness and run under v10, v11 (the same algorithm) and v12 (the v2.1 variant; Alice is then
// a room creator with infinite power instead of level 100, which changes none of the outcomes).
describe('scenarios of Synapse\'s tests/state/test_v2.py', () => {
  it.each(ALL)('%s: ban vs power levels: Alice bans Bob while Bob changes power levels: the ban wins', async (_n, version) => {
    // Alice gives Bob 50 (PA). Then one branch has Alice re-join (MA) and ban Bob (MB); the other has
    // Bob send power levels (PB). Step 1 sorts Alice's events first (greater power level), so Bob is
    // banned by the time his PB is checked and PB is refused (Bob is not joined).
    const room = new TestRoom(version);
    const start = startRoom(room);
    start.send(pl('$PA', ALICE, room.pl({ [ALICE]: 100, [BOB]: 50 })));
    const a = start.fork();
    a.send(member('$MA', ALICE, ALICE, 'join'));
    a.send(member('$MB', ALICE, BOB, 'ban'));
    const b = start.fork();
    b.send(pl('$PB', BOB, room.pl({ [ALICE]: 100, [BOB]: 50 })));
    const r = await traced(room, [a.state, b.state]);
    expect(r.view).toEqual(expected(room, start, { [k('m.room.member', ALICE)]: '$MA', [k('m.room.member', BOB)]: '$MB' }));
    expect(r.refused).toEqual({ $PB: version.authRuleNumbering === 'v12' ? '6' : '5' });
  });

  it.each(ALL)('%s: join rule evasion: Evelyn\'s join racing a switch to invite-only is dropped', async (_n, version) => {
    const room = new TestRoom(version);
    const start = startRoom(room);
    const a = start.fork();
    a.send(joinRules('$JR', ALICE, 'invite'));
    const b = start.fork();
    b.send(member('$ME', EVELYN, EVELYN, 'join'));
    const r = await traced(room, [a.state, b.state]);
    expect(r.view).toEqual(expected(room, start, { [k('m.room.join_rules')]: '$JR' }));
    expect(r.refused).toEqual({ $ME: version.authRuleNumbering === 'v12' ? '5.3.7' : '4.3.7' });
  });

  it.each(ALL)('%s: off-topic power levels: a chain PA -> PB -> PC on one side against PA: PC wins', async (_n, version) => {
    // Bob (50 by PA) gives Charlie 50 (PB); Charlie lowers himself to 0 (PC). The other side is still at
    // PA. PB is only in one side's auth chain (auth difference) and is replayed between PA and PC.
    const room = new TestRoom(version);
    const start = startRoom(room);
    start.send(pl('$PA', ALICE, room.pl({ [ALICE]: 100, [BOB]: 50 })));
    const a = start.fork();
    a.send(pl('$PB', BOB, room.pl({ [ALICE]: 100, [BOB]: 50, [CHARLIE]: 50 })));
    a.send(pl('$PC', CHARLIE, room.pl({ [ALICE]: 100, [BOB]: 50, [CHARLIE]: 0 })));
    const r = await traced(room, [a.state, start.state]);
    expect(r.view).toEqual(expected(room, start, { [k('m.room.power_levels')]: '$PC' }));
    // Bob's and Charlie's joins are cited only by PB and PC (their senders' memberships): they are in
    // the auth difference too, and in PB's and PC's auth chains, so step 1 sorts them in.
    expect(r.step2).toEqual(['$PA', '$IMB', '$PB', '$IMC', '$PC']);
  });

  it.each(ALL)('%s: topic basic: Alice demotes Bob while Bob promotes himself and sets the topic', async (_n, version) => {
    const room = new TestRoom(version);
    const start = startRoom(room);
    start.send(topic('$T1', ALICE));
    start.send(pl('$PA1', ALICE, room.pl({ [ALICE]: 100, [BOB]: 50 })));
    const a = start.fork();
    a.send(topic('$T2', ALICE));
    a.send(pl('$PA2', ALICE, room.pl({ [ALICE]: 100, [BOB]: 0 })));
    const b = start.fork();
    b.send(pl('$PB', BOB, room.pl({ [ALICE]: 100, [BOB]: 50 })));
    b.send(topic('$T3', BOB));
    const r = await traced(room, [a.state, b.state]);
    expect(r.view).toEqual(expected(room, start, { [k('m.room.power_levels')]: '$PA2', [k('m.room.topic')]: '$T2' }));
    // Alice (100 / creator) before Bob (50); Bob's join is in the auth difference (only PB cites it).
    expect(r.step2).toEqual(['$PA2', '$IMB', '$PB']);
    expect(Object.keys(r.refused).sort()).toEqual(['$PB', '$T3']);
  });

  it.each(ALL)('%s: topic reset: Bob\'s topic is undone by his ban, back to Alice\'s first topic', async (_n, version) => {
    // One side: T1, PA (Bob 50), T2 by Bob, Alice bans Bob (MB). Other side: still at T1.
    const room = new TestRoom(version);
    const start = startRoom(room);
    start.send(topic('$T1', ALICE));
    const atT1 = start.fork();
    const a = start.fork();
    a.send(pl('$PA', ALICE, room.pl({ [ALICE]: 100, [BOB]: 50 })));
    a.send(topic('$T2', BOB));
    a.send(member('$MB', ALICE, BOB, 'ban'));
    const r = await traced(room, [a.state, atT1.state]);
    expect(r.view).toEqual(expected(room, atT1, { [k('m.room.power_levels')]: '$PA', [k('m.room.member', BOB)]: '$MB' }));
    // Step 4 in mainline order of PA: T1 (cites IPOWER: position 1) before T2 (cites PA: position 0).
    expect(r.step4).toEqual(['$T1', '$T2']);
    expect(Object.keys(r.refused)).toEqual(['$T2']);
  });

  it.each(ALL)('%s: topic: a merge in the middle, then Alice\'s topic T4 on top wins', async (_n, version) => {
    // Like "topic basic", then Zara's message merges both sides (the state there resolves to PA2 and
    // T2), Alice sets T4 after it, and the last event merges T4's side with the merge point again.
    const room = new TestRoom(version);
    const start = startRoom(room);
    start.send(topic('$T1', ALICE));
    start.send(pl('$PA1', ALICE, room.pl({ [ALICE]: 100, [BOB]: 50 })));
    const a = start.fork();
    a.send(topic('$T2', ALICE));
    a.send(pl('$PA2', ALICE, room.pl({ [ALICE]: 100, [BOB]: 0 })));
    const b = start.fork();
    b.send(pl('$PB', BOB, room.pl({ [ALICE]: 100, [BOB]: 50 })));
    b.send(topic('$T3', BOB));
    const atMz1 = await Branch.merge(a, b);
    atMz1.send(message('$MZ1', ZARA));
    expect(room.view(atMz1.state)[k('m.room.topic')]).toBe('$T2');
    const t4 = atMz1.fork();
    t4.send(topic('$T4', ALICE));
    const end = await Branch.merge(t4, atMz1);
    expect(room.view(end.state)).toEqual(expected(room, start, { [k('m.room.power_levels')]: '$PA2', [k('m.room.topic')]: '$T4' }));
  });

  it.each(ALL)('%s: mainline sort: the topic citing the newest power levels wins over a later-sent one', async (_n, version) => {
    // T3 (Bob) cites PA2; T4 (Alice, sent later) cites Bob's PB, which PA2 makes invalid (power_levels
    // now need 100). On the mainline of PA2, T4 sits at PA1 (position 1) and T3 at PA2 (position 0), so
    // T4 is checked first and T3 last: T3 wins. By origin_server_ts alone T4 would have.
    const room = new TestRoom(version);
    const start = startRoom(room);
    start.send(topic('$T1', ALICE));
    start.send(pl('$PA1', ALICE, room.pl({ [ALICE]: 100, [BOB]: 50 })));
    const a = start.fork();
    a.send(topic('$T2', ALICE));
    a.send(pl('$PA2', ALICE, room.pl({ [ALICE]: 100, [BOB]: 50 }, { events: { 'm.room.power_levels': 100 } })));
    a.send(topic('$T3', BOB));
    const b = start.fork();
    b.send(pl('$PB', BOB, room.pl({ [ALICE]: 100, [BOB]: 50 })));
    b.send(topic('$T4', ALICE));
    const r = await traced(room, [a.state, b.state]);
    expect(r.view).toEqual(expected(room, start, { [k('m.room.power_levels')]: '$PA2', [k('m.room.topic')]: '$T3' }));
    expect(r.step4).toEqual(['$T4', '$T3']);
  });
});

describe('conflicts between branches', () => {
  it.each(ALL)('%s: a ban racing a join: the ban is a power event (step 1), applied first; the join then fails', async (_n, version) => {
    const room = new TestRoom(version);
    const start = startRoom(room);
    const b = start.fork();
    b.send(member('$ME', EVELYN, EVELYN, 'join')); // sent first: origin_server_ts does not matter here
    const a = start.fork();
    a.send(member('$BAN', ALICE, EVELYN, 'ban'));
    const r = await traced(room, [a.state, b.state]);
    expect(r.view).toEqual(expected(room, start, { [k('m.room.member', EVELYN)]: '$BAN' }));
    expect(r.step2).toEqual(['$BAN']);
    expect(r.refused).toEqual({ $ME: version.authRuleNumbering === 'v12' ? '5.3.3' : '4.3.3' });
  });

  it.each(ALL)('%s: a kick racing the kicked member\'s topic: the topic fails the iterative auth check and is dropped', async (_n, version) => {
    const room = new TestRoom(version);
    const start = startRoom(room);
    start.send(pl('$PA', ALICE, room.pl({ [ALICE]: 100, [CHARLIE]: 50 })));
    const a = start.fork();
    a.send(topic('$TC', CHARLIE));
    const b = start.fork();
    b.send(member('$KICK', ALICE, CHARLIE, 'leave'));
    const r = await traced(room, [a.state, b.state]);
    expect(r.view).toEqual(expected(room, start, { [k('m.room.member', CHARLIE)]: '$KICK' }));
    // 5 (v12: 6) "If the sender's current membership state is not join, reject."
    expect(r.refused).toEqual({ $TC: version.authRuleNumbering === 'v12' ? '6' : '5' });
  });

  it.each(ALL)('%s: competing power levels, both valid: the higher-powered sender\'s sorts first, so the other is applied last and wins', async (_n, version) => {
    // Reverse topological power ordering, comparison 1: Alice (100 / creator) before Bob (50), even
    // though Bob's change is older. Bob's change is still allowed after Alice's, so it is the result.
    const room = new TestRoom(version);
    const start = startRoom(room);
    start.send(pl('$PA', ALICE, room.pl({ [ALICE]: 100, [BOB]: 50 })));
    const b = start.fork();
    b.send(pl('$PB', BOB, room.pl({ [ALICE]: 100, [BOB]: 50, [ZARA]: 20 }), { ts: 5_000 }));
    const a = start.fork();
    a.send(pl('$PX', ALICE, room.pl({ [ALICE]: 100, [BOB]: 50, [CHARLIE]: 10 }), { ts: 9_000 }));
    const r = await traced(room, [a.state, b.state]);
    expect(r.step2).toEqual(['$PX', '$IMB', '$PB']);
    expect(r.view[k('m.room.power_levels')]).toBe('$PB');
  });

  it.each(ALL)('%s: competing power levels where one demotes the other\'s sender: the demotion wins', async (_n, version) => {
    const room = new TestRoom(version);
    const start = startRoom(room);
    start.send(pl('$PA', ALICE, room.pl({ [ALICE]: 100, [BOB]: 50 })));
    const b = start.fork();
    b.send(pl('$PB', BOB, room.pl({ [ALICE]: 100, [BOB]: 50, [ZARA]: 20 })));
    const a = start.fork();
    a.send(pl('$PX', ALICE, room.pl({ [ALICE]: 100, [BOB]: 0 })));
    const r = await traced(room, [a.state, b.state]);
    expect(r.step2).toEqual(['$PX', '$IMB', '$PB']);
    expect(r.view[k('m.room.power_levels')]).toBe('$PX');
    expect(Object.keys(r.refused)).toEqual(['$PB']);
  });

  it.each(ALL)('%s: auth difference: an event only in one side\'s auth chains is replayed and can win its key', async (_n, version) => {
    // One side: Alice promotes Bob (P1), then Bob sends power levels (P2); that state has P2, and P1 is
    // only in its auth chains. Other side: Alice bans Bob. Full conflicted set = {P2, IPOWER, IMB, MB}
    // plus the auth difference {P1}. Step 1: P1 and MB (Alice) before P2 (Bob): P1 applies, MB bans Bob,
    // P2 fails. The power levels end up P1, which neither state had.
    const room = new TestRoom(version);
    const start = startRoom(room);
    const a = start.fork();
    a.send(pl('$P1', ALICE, room.pl({ [ALICE]: 100, [BOB]: 50 })));
    a.send(pl('$P2', BOB, room.pl({ [ALICE]: 100, [BOB]: 50, [CHARLIE]: 50 })));
    const b = start.fork();
    b.send(member('$MB', ALICE, BOB, 'ban'));
    const r = await traced(room, [a.state, b.state]);
    expect(r.view).toEqual(expected(room, start, { [k('m.room.power_levels')]: '$P1', [k('m.room.member', BOB)]: '$MB' }));
    expect(r.step2).toContain('$P1');
    expect(Object.keys(r.refused)).toEqual(['$P2']);
  });

  it.each(ALL)('%s: step 5: the unconflicted state map is re-applied over what the iterative auth checks did', async (_n, version) => {
    // P1 (Alice) and P2 (Alice, later) race; Bob changes his name citing P1. Merging gives PL = P2 and
    // Bob's new name. Resolving that with the P2 side again: PL is unconflicted (P2), Bob's member event
    // is conflicted, and P1 is in the auth difference (only Bob's name change cites it). P1 is a power
    // event: step 2 applies it, so the partial state has PL = P1, until step 5 puts P2 back.
    const room = new TestRoom(version);
    const start = startRoom(room);
    const a = start.fork();
    a.send(pl('$P1', ALICE, room.pl({ [ALICE]: 100, [BOB]: 50 })));
    a.send({ ...member('$MB2', BOB, BOB, 'join'), content: { membership: 'join', displayname: 'Bobby' } });
    const b = start.fork();
    b.send(pl('$P2', ALICE, room.pl({ [ALICE]: 100, [CHARLIE]: 50 })));
    const merged = await Branch.merge(a, b);
    expect(room.view(merged.state)[k('m.room.power_levels')]).toBe('$P2');
    const r = await traced(room, [merged.state, b.state]);
    expect(r.step2).toEqual(['$P1']);
    expect(r.refused).toEqual({});
    expect(r.view).toEqual(expected(room, start, { [k('m.room.power_levels')]: '$P2', [k('m.room.member', BOB)]: '$MB2' }));
  });
});

describe('tie-breaks', () => {
  describe('reverse topological power ordering (step 1)', () => {
    async function joinRuleRace(version: RoomVersion, x: Partial<EventInit>, y: Partial<EventInit>, xSender = ALICE): Promise<Awaited<ReturnType<typeof traced>>> {
      const room = new TestRoom(version);
      const start = startRoom(room);
      start.send(pl('$PA', ALICE, room.pl({ [ALICE]: 100, [BOB]: 50 })));
      const a = start.fork();
      a.send({ ...joinRules('$JX', xSender, 'invite'), ...x });
      const b = start.fork();
      b.send({ ...joinRules('$JY', ALICE, 'knock'), ...y });
      return traced(room, [a.state, b.state]);
    }

    it.each(ALL)('%s: same power: the earlier origin_server_ts is applied first, the later wins', async (_n, version) => {
      let r = await joinRuleRace(version, { ts: 5_000 }, { ts: 4_000 });
      expect(r.step2).toEqual(['$JY', '$JX']);
      expect(r.view[k('m.room.join_rules')]).toBe('$JX');
      r = await joinRuleRace(version, { ts: 4_000 }, { ts: 5_000 });
      expect(r.step2).toEqual(['$JX', '$JY']);
      expect(r.view[k('m.room.join_rules')]).toBe('$JY');
    });

    it.each(ALL)('%s: same power and origin_server_ts: the smaller event_id is applied first', async (_n, version) => {
      const r = await joinRuleRace(version, { ts: 5_000 }, { ts: 5_000 });
      expect(r.step2).toEqual(['$JX', '$JY']);
      expect(r.view[k('m.room.join_rules')]).toBe('$JY');
      const swapped = await joinRuleRace(version, { ts: 5_000, id: '$JZ' }, { ts: 5_000 });
      expect(swapped.step2).toEqual(['$JY', '$JZ']);
      expect(swapped.view[k('m.room.join_rules')]).toBe('$JZ');
    });

    it.each(ALL)('%s: the greater sender power level comes first whatever the origin_server_ts', async (_n, version) => {
      // Bob (50) may change join rules (state_default 50). Bob's is older, but Alice's sorts first.
      const r = await joinRuleRace(version, { ts: 1_000 }, { ts: 9_000 }, BOB);
      expect(r.step2).toEqual(['$JY', '$IMB', '$JX']); // IMB: auth difference (JX cites it)
      expect(r.view[k('m.room.join_rules')]).toBe('$JX');
    });
  });

  describe('mainline ordering (step 3)', () => {
    async function topicRace(version: RoomVersion, x: Partial<EventInit>, y: Partial<EventInit>): Promise<Awaited<ReturnType<typeof traced>>> {
      const room = new TestRoom(version);
      const start = startRoom(room);
      const a = start.fork();
      a.send({ ...topic('$TX', ALICE), ...x });
      const b = start.fork();
      b.send({ ...topic('$TW', ALICE), ...y });
      return traced(room, [a.state, b.state]);
    }

    it.each(ALL)('%s: same mainline position: the earlier origin_server_ts is applied first, the later wins', async (_n, version) => {
      let r = await topicRace(version, { ts: 5_000 }, { ts: 4_000 });
      expect(r.step4).toEqual(['$TW', '$TX']);
      expect(r.view[k('m.room.topic')]).toBe('$TX');
      r = await topicRace(version, { ts: 4_000 }, { ts: 5_000 });
      expect(r.step4).toEqual(['$TX', '$TW']);
      expect(r.view[k('m.room.topic')]).toBe('$TW');
    });

    it.each(ALL)('%s: same position and origin_server_ts: the smaller event_id is applied first', async (_n, version) => {
      const r = await topicRace(version, { ts: 5_000 }, { ts: 5_000 });
      expect(r.step4).toEqual(['$TW', '$TX']);
      expect(r.view[k('m.room.topic')]).toBe('$TX');
    });
  });
});

describe('mainline ordering on a long mainline (step 3)', () => {
  /**
   * Alice sends 20 power levels P01..P20 in a row (the mainline of P20: P20 at position 0 ... P01 at 19,
   * IPOWER at 20). Side branches fork off at different depths and set the topic there: TX after P03
   * (position 17), TZ after P10 (position 10), TY after P17 (position 3), and TW after a side power
   * levels PW off P05 (not on the mainline: TW reaches it through PW -> P05, position 15). The topic
   * sorted last (smallest position) wins, whatever the origin_server_ts.
   */
  async function longMainline(version: RoomVersion, sides: string[]): Promise<Awaited<ReturnType<typeof traced>>> {
    const room = new TestRoom(version);
    const main = startRoom(room);
    const forks = new Map<number, Branch>();
    for (let i = 1; i <= 20; i++) {
      main.send(pl(`$P${String(i).padStart(2, '0')}`, ALICE, room.pl({ [ALICE]: 100, [BOB]: i })));
      forks.set(i, main.fork());
    }
    const at = (i: number): Branch => forks.get(i)!.fork();
    const p05ts = room.events.get('$P05')!.origin_server_ts;
    const branches: Record<string, () => Branch> = {
      TX: () => { const b = at(3); b.send(topic('$TX', ALICE, { ts: 90_000 })); return b; },
      TZ: () => { const b = at(10); b.send(topic('$TZ', ALICE, { ts: 50_000 })); return b; },
      TY: () => { const b = at(17); b.send(topic('$TY', ALICE, { ts: 10 })); return b; },
      TW: () => {
        const b = at(5);
        // Same origin_server_ts as P05, so step 1 orders it right after P05 and P20 stays the last power levels.
        b.send(pl('$PW', ALICE, room.pl({ [ALICE]: 100, [BOB]: 99 }), { ts: p05ts }));
        b.send(topic('$TW', ALICE, { ts: 5 }));
        return b;
      },
    };
    const states = [main.state, ...sides.map((s) => branches[s]!().state)];
    return traced(room, states);
  }

  it.each(ALL)('%s: positions 17 (TX) and 15 (TW, via a side power levels): TW is applied last', async (_n, version) => {
    const r = await longMainline(version, ['TX', 'TW']);
    expect(r.view[k('m.room.power_levels')]).toBe('$P20');
    expect(r.step4).toEqual(['$TX', '$TW']);
    expect(r.view[k('m.room.topic')]).toBe('$TW');
  });

  it.each(ALL)('%s: positions 17, 15, 10 and 3: TX, TW, TZ, TY, so TY wins although it is the oldest', async (_n, version) => {
    const r = await longMainline(version, ['TY', 'TX', 'TZ', 'TW']);
    expect(r.view[k('m.room.power_levels')]).toBe('$P20');
    expect(r.step4).toEqual(['$TX', '$TW', '$TZ', '$TY']);
    expect(r.view[k('m.room.topic')]).toBe('$TY');
    expect(r.refused).toEqual({});
  });

  it.each(ALL)('%s: the power levels chain itself is replayed in step 1 in auth order', async (_n, version) => {
    const r = await longMainline(version, ['TX']);
    const expectedOrder = Array.from({ length: 17 }, (_v, i) => `$P${String(i + 4).padStart(2, '0')}`);
    // P03 is in both states' auth chains and conflicted; P04..P20 are the auth difference.
    expect(r.step2).toEqual(['$P03', ...expectedOrder]);
  });
});

describe('rejected events', () => {
  it.each(ALL)('%s: an event rejected against its auth chain never enters the state: the iterative auth check refuses it again', async (_n, version) => {
    // A faulty or malicious server presents a state in which Bob (level 0) made himself 100 (PBAD,
    // rejected on receipt) and set the topic citing PBAD (TBAD). Neither survives resolution.
    const room = new TestRoom(version);
    const start = startRoom(room);
    const bad = start.fork();
    bad.send(pl('$PBAD', BOB, room.pl({ [ALICE]: 100, [BOB]: 100 })));
    bad.send(topic('$TBAD', BOB));
    room.rejected.add('$PBAD');
    room.rejected.add('$TBAD');
    const r = await traced(room, [start.state, bad.state]);
    expect(r.view).toEqual(room.view(start.state));
    expect(Object.keys(r.refused).sort()).toEqual(['$PBAD', '$TBAD']);
  });

  it('v12: a key missing from the (empty-started) state comes from the event\'s auth events, unless that auth event is rejected', async () => {
    // Bob kicks Charlie citing PBAD (rejected; it would give Bob 100) as his power levels. Power levels
    // are unconflicted (IPOWER), so in v12's step 2 the state has none and the rules look at the kick's
    // own auth events: without PBAD there are no power levels and Bob has level 0.
    async function kick(rejectPbad: boolean): Promise<Awaited<ReturnType<typeof traced>>> {
      const room = new TestRoom(V12);
      const start = startRoom(room);
      const bad = start.fork();
      const pbad = room.event(pl('$PBAD', BOB, { users: { [BOB]: 100 } }), ['$IPOWER', '$IMB'], bad.head);
      room.event(member('$KICK', BOB, CHARLIE, 'leave'), [pbad.event_id, '$IMB', '$IMC'], [pbad.event_id]);
      if (rejectPbad) room.rejected.add('$PBAD');
      const state = new Map(start.state);
      state.set(stateKey('m.room.member', CHARLIE), '$KICK');
      return traced(room, [start.state, state]);
    }
    const honest = await kick(true);
    expect(honest.view[k('m.room.member', CHARLIE)]).toBe('$IMC');
    expect(honest.refused).toEqual({ $PBAD: '8', $KICK: '5.5.5' });
    // Had the source not known PBAD was rejected, the kick would have used it.
    const fooled = await kick(false);
    expect(fooled.view[k('m.room.member', CHARLIE)]).toBe('$KICK');
  });
});

// MSC4297 (state resolution v2.1, adopted by rooms/v12) describes two state resets of v2; ruma's
// state-res tests keep them as fixtures ("Problem A", "Problem B"). Same graphs here, resolved under v11
// (v2) and v12 (v2.1): v11 resets, v12 does not.
describe('v12 (v2.1) against v11 (v2)', () => {
  /** Problem A: Alice changes the join rules to invite and leaves; two servers saw different parts. */
  function problemA(version: RoomVersion): { room: TestRoom; bob: StateMap; charlie: StateMap } {
    const room = new TestRoom(version);
    const ev = (init: EventInit, auth: string[]): string => room.event(init, auth).event_id;
    ev({ id: room.createId, type: 'm.room.create', sender: ALICE, state_key: '', content: room.createContent() }, []);
    ev(member('$A-join', ALICE, ALICE, 'join'), []);
    ev(pl('$PL0', ALICE, room.pl({ [ALICE]: 100 })), ['$A-join']);
    ev(joinRules('$JR0', ALICE, 'public'), ['$A-join', '$PL0']);
    ev(member('$B-join', BOB, BOB, 'join'), ['$PL0', '$JR0']);
    ev(member('$C-join', CHARLIE, CHARLIE, 'join'), ['$PL0', '$JR0']);
    ev(joinRules('$JR1', ALICE, 'invite'), ['$PL0', '$A-join']);
    ev(member('$A-leave', ALICE, ALICE, 'leave'), ['$PL0', '$A-join']);
    ev({ ...member('$B-name', BOB, BOB, 'join'), content: { membership: 'join', displayname: 'bob++' } }, ['$PL0', '$B-join', '$JR1']);
    ev({ ...member('$C-name', CHARLIE, CHARLIE, 'join'), content: { membership: 'join', displayname: 'charlie++' } }, ['$PL0', '$C-join', '$JR1']);
    return {
      room,
      bob: room.state(room.createId, '$PL0', '$C-join', '$JR1', '$A-leave', '$B-name'),
      charlie: room.state(room.createId, '$PL0', '$JR0', '$B-join', '$A-leave', '$C-name'),
    };
  }

  it('v11: the conflicting join rules are checked against the unconflicted state (Alice has left): no join rules remain', async () => {
    const { room, bob, charlie } = problemA(V11);
    const r = await traced(room, [bob, charlie]);
    expect(r.view[k('m.room.join_rules')]).toBeUndefined();
    expect(r.refused).toEqual({ $JR0: '5', $JR1: '5' });
    expect(r.view[k('m.room.member', BOB)]).toBe('$B-name');
    expect(r.view[k('m.room.member', CHARLIE)]).toBe('$C-name');
  });

  it('v12: step 2 starts from an empty state, so Alice\'s membership comes from the auth events and JR1 (invite) is kept', async () => {
    const { room, bob, charlie } = problemA(V12);
    const r = await traced(room, [bob, charlie]);
    expect(r.view).toEqual({
      [k('m.room.create')]: room.createId,
      [k('m.room.power_levels')]: '$PL0',
      [k('m.room.join_rules')]: '$JR1',
      [k('m.room.member', ALICE)]: '$A-leave',
      [k('m.room.member', BOB)]: '$B-name',
      [k('m.room.member', CHARLIE)]: '$C-name',
    });
    expect(r.step2).toEqual(['$JR0', '$JR1']);
  });

  /** Problem B: Eve renames herself citing PL2 as power levels while her server's state says PL0. */
  function problemB(version: RoomVersion): { room: TestRoom; eve: StateMap; zara: StateMap } {
    const room = new TestRoom(version);
    const ev = (init: EventInit, auth: string[]): string => room.event(init, auth).event_id;
    ev({ id: room.createId, type: 'm.room.create', sender: ALICE, state_key: '', content: room.createContent() }, []);
    ev(member('$A-join', ALICE, ALICE, 'join'), []);
    ev(pl('$PL0', ALICE, room.pl({ [ALICE]: 100 })), ['$A-join']);
    ev(joinRules('$JR0', ALICE, 'public'), ['$A-join', '$PL0']);
    ev(member('$B-join', BOB, BOB, 'join'), ['$PL0', '$JR0']);
    ev(member('$C-join', CHARLIE, CHARLIE, 'join'), ['$PL0', '$JR0']);
    ev(pl('$PL1', ALICE, room.pl({ [ALICE]: 100, [BOB]: 50 })), ['$PL0', '$A-join']);
    ev(pl('$PL2', BOB, room.pl({ [ALICE]: 100, [BOB]: 50, [CHARLIE]: 50 })), ['$PL1', '$B-join']);
    ev(member('$Z-join', ZARA, ZARA, 'join'), ['$PL2', '$JR0']);
    ev(member('$E-join', EVELYN, EVELYN, 'join'), ['$PL2', '$JR0']);
    ev({ ...member('$E-name', EVELYN, EVELYN, 'join'), content: { membership: 'join', displayname: 'eve++' } }, ['$PL2', '$E-join', '$JR0']);
    return {
      room,
      eve: room.state(room.createId, '$A-join', '$PL0', '$JR0', '$B-join', '$C-join', '$E-name'),
      zara: room.state(room.createId, '$A-join', '$JR0', '$B-join', '$C-join', '$PL2', '$Z-join'),
    };
  }

  it('v11: PL1 is in both auth chains, so not in the full conflicted set: PL2 is checked against PL0 and the power levels reset to PL0', async () => {
    const { room, eve, zara } = problemB(V11);
    const r = await traced(room, [eve, zara]);
    expect(r.step2).toEqual(['$PL0', '$PL2']);
    expect(r.view[k('m.room.power_levels')]).toBe('$PL0');
  });

  it('v12: the conflicted state subgraph (E-name -> PL2 -> PL1 -> PL0, E-name -> E-join) brings PL1 in: PL2 is kept', async () => {
    const { room, eve, zara } = problemB(V12);
    const r = await traced(room, [eve, zara]);
    // Also on such paths: JR0 (E-name -> JR0 -> PL0) and B-join (PL2 -> B-join -> PL0).
    expect(r.step2).toEqual(['$PL0', '$JR0', '$PL1', '$B-join', '$PL2']);
    expect(r.step4).toEqual(['$Z-join', '$E-join', '$E-name']);
    expect(r.view).toEqual({
      [k('m.room.create')]: room.createId,
      [k('m.room.member', ALICE)]: '$A-join',
      [k('m.room.power_levels')]: '$PL2',
      [k('m.room.join_rules')]: '$JR0',
      [k('m.room.member', BOB)]: '$B-join',
      [k('m.room.member', CHARLIE)]: '$C-join',
      [k('m.room.member', EVELYN)]: '$E-name',
      [k('m.room.member', ZARA)]: '$Z-join',
    });
  });

  it('v12: room creators\' infinite power decides a ban duel that v11 leaves undecided', async () => {
    // Charlie is an additional creator in v12; in v11 he is just at 100 like Bob. Each bans the other.
    async function duel(version: RoomVersion): Promise<Awaited<ReturnType<typeof traced>>> {
      const room = new TestRoom(version);
      const start = startRoom(room, version.privilegedCreators ? { additional_creators: [CHARLIE] } : {});
      start.send(pl('$PA', ALICE, room.pl({ [ALICE]: 100, [BOB]: 100, [CHARLIE]: 100 })));
      const b = start.fork();
      b.send(member('$BOB-BANS', BOB, CHARLIE, 'ban', { ts: 3_000 }));
      const c = start.fork();
      c.send(member('$CHARLIE-BANS', CHARLIE, BOB, 'ban', { ts: 9_000 }));
      return traced(room, [b.state, c.state]);
    }
    const v12 = await duel(V12);
    // The creator's ban sorts first (infinite power level beats 100, whatever the timestamps) and is
    // allowed; Bob's is refused: he is banned, and could never outrank a creator anyway.
    // (Their join events come first: each ban cites both, and they are conflicted. Charlie's join sorts
    // before Bob's for the same reason: its sender is a creator.)
    expect(v12.step2).toEqual(['$IMC', '$IMB', '$CHARLIE-BANS', '$BOB-BANS']);
    expect(v12.view[k('m.room.member', BOB)]).toBe('$CHARLIE-BANS');
    expect(v12.view[k('m.room.member', CHARLIE)]).toBe('$IMC');
    const v11 = await duel(V11);
    // Equal power: by origin_server_ts; neither outranks the other, so neither ban applies (4.6.3).
    expect(v11.step2).toEqual(['$IMB', '$IMC', '$BOB-BANS', '$CHARLIE-BANS']);
    expect(v11.refused).toEqual({ '$BOB-BANS': '4.6.3', '$CHARLIE-BANS': '4.6.3' });
    expect(v11.view[k('m.room.member', BOB)]).toBe('$IMB');
  });
});

describe('power events (definition) and the mainline position ∞', () => {
  it.each(ALL)('%s: only power_levels and join_rules with state key "" are power events (as Synapse and ruma read the definition)', async (_n, version) => {
    const room = new TestRoom(version);
    const start = startRoom(room);
    const a = start.fork();
    a.send({ id: '$PLX', type: 'm.room.power_levels', sender: ALICE, state_key: 'x', content: {} });
    a.send(joinRules('$JR', ALICE, 'invite'));
    const r = await traced(room, [a.state, start.state]);
    expect(r.step2).toEqual(['$IJR', '$JR']);
    expect(r.step4).toEqual(['$PLX']);
  });

  it.each(ALL)('%s: a member leaving by themselves is no power event; one kicked or banned by another is', async (_n, version) => {
    const room = new TestRoom(version);
    const start = startRoom(room);
    const a = start.fork();
    a.send(member('$LEAVE', CHARLIE, CHARLIE, 'leave'));
    a.send(member('$KICK', ALICE, ZARA, 'leave'));
    const r = await traced(room, [a.state, start.state]);
    expect(r.step2.filter((id) => id.startsWith('$') && !id.startsWith('$IM'))).toEqual(['$KICK']);
    expect(r.step4).toContain('$LEAVE');
  });

  it.each(ALL)('%s: m.room.create in the full conflicted set is sorted with the power events (as Synapse and ruma do)', async (_n, version) => {
    const room = new TestRoom(version);
    const start = startRoom(room);
    const withoutCreate = new Map(start.state);
    withoutCreate.delete(stateKey('m.room.create', ''));
    const r = await traced(room, [start.state, withoutCreate]);
    expect(r.step2).toEqual([room.createId]);
    expect(r.view).toEqual(room.view(start.state));
  });

  it.each(ALL)('%s: an event with no power_levels in its auth chain has mainline position ∞ and sorts first, whatever its origin_server_ts', async (_n, version) => {
    // Alice sets a topic (T0) before there are any power levels (the creator may); T1, set later but
    // back-dated to ts 1, cites IPOWER: position 0. By origin_server_ts alone T1 would come first and lose.
    const room = new TestRoom(version);
    const start = room.branch();
    start.send({ id: room.createId, type: 'm.room.create', sender: ALICE, state_key: '', content: room.createContent() });
    start.send(member('$IMA', ALICE, ALICE, 'join'));
    start.send(topic('$T0', ALICE));
    start.send(pl('$IPOWER', ALICE, room.pl({ [ALICE]: 100 })));
    const a = start.fork();
    a.send(topic('$T1', ALICE, { ts: 1 }));
    const r = await traced(room, [a.state, start.state]);
    expect(r.step4).toEqual(['$T0', '$T1']);
    expect(r.view[k('m.room.topic')]).toBe('$T1');
  });

  it('v12: the conflicted state subgraph pulls in the events on auth paths between conflicted events', async () => {
    // Alice's rename MA2 conflicts with her first join IMA. MA2 cites IPOWER and IJR, both of which cite
    // IMA: they lie on paths between the two conflicted events, so they join the full conflicted set
    // (v11 would only resolve IMA and MA2), and being power events they are replayed in step 2.
    const checks = async (version: RoomVersion): Promise<Awaited<ReturnType<typeof traced>>> => {
      const room = new TestRoom(version);
      const start = startRoom(room);
      const a = start.fork();
      a.send({ ...member('$MA2', ALICE, ALICE, 'join'), content: { membership: 'join', displayname: 'Al' } });
      return traced(room, [a.state, start.state]);
    };
    const v12 = await checks(V12);
    expect(v12.step2).toEqual(['$IMA', '$IPOWER', '$IJR']);
    expect(v12.step4).toEqual(['$MA2']);
    expect(v12.view[k('m.room.member', ALICE)]).toBe('$MA2');
    const v11 = await checks(V11);
    expect(v11.step2).toEqual([]);
    expect(v11.step4).toEqual(['$IMA', '$MA2']);
  });
});

describe('unknown events', () => {
  it.each(ALL)('%s: an event a state names but the source does not know is left out', async (_n, version) => {
    const room = new TestRoom(version);
    const start = startRoom(room);
    const a = start.fork();
    a.send(topic('$T1', ALICE));
    const b = new Map(start.state);
    b.set(stateKey('m.room.topic', ''), '$NOWHERE');
    b.set(stateKey('m.room.name', ''), '$NOWHERE-EITHER');
    const r = await traced(room, [a.state, b]);
    expect(r.view).toEqual(expected(room, start, { [k('m.room.topic')]: '$T1' }));
  });
});

describe('large rooms (a correctness test on a big graph; no timing assertions)', () => {
  it.each(ALL)('%s: 2,000 members and a fork resolve, every event fetched at most once, in few batches', async (_n, version) => {
    const room = new TestRoom(version);
    const start = startRoom(room);
    const members = Array.from({ length: 2_000 }, (_v, i) => `@user${i}:example.com`);
    for (const [i, u] of members.entries()) start.send(member(`$join-${i}`, u, u, 'join'));
    start.send(pl('$PA', ALICE, room.pl({ [ALICE]: 100, [BOB]: 50 })));
    const a = start.fork();
    const b = start.fork();
    // One side: Alice changes power levels, bans one member and kicks nine; the other: Bob (50) sets the
    // topic, ten members leave, ten new ones join, and the banned member renames himself.
    a.send(pl('$PX', ALICE, room.pl({ [ALICE]: 100, [BOB]: 50, [CHARLIE]: 50 })));
    a.send(member('$ban-0', ALICE, members[0]!, 'ban'));
    for (let i = 1; i < 10; i++) a.send(member(`$kick-${i}`, ALICE, members[i]!, 'leave'));
    b.send(topic('$TB', BOB));
    for (let i = 10; i < 20; i++) b.send(member(`$leave-${i}`, members[i]!, members[i]!, 'leave'));
    for (let i = 0; i < 10; i++) b.send(member(`$new-${i}`, `@new${i}:example.com`, `@new${i}:example.com`, 'join'));
    b.send({ ...member('$rename-0', members[0]!, members[0]!, 'join'), content: { membership: 'join', displayname: 'zero' } });
    room.fetches.length = 0;

    const r = await traced(room, [a.state, b.state]);

    const changes: Record<string, string> = { [k('m.room.power_levels')]: '$PX', [k('m.room.topic')]: '$TB' };
    changes[k('m.room.member', members[0]!)] = '$ban-0';
    for (let i = 1; i < 10; i++) changes[k('m.room.member', members[i]!)] = `$kick-${i}`;
    for (let i = 10; i < 20; i++) changes[k('m.room.member', members[i]!)] = `$leave-${i}`;
    for (let i = 0; i < 10; i++) changes[k('m.room.member', `@new${i}:example.com`)] = `$new-${i}`;
    expect(r.view).toEqual(expected(room, start, changes));
    // The ban is a power event, applied in step 2; the rename (a join) comes in step 4 and is refused.
    expect(r.refused).toEqual({ '$rename-0': version.authRuleNumbering === 'v12' ? '5.3.3' : '4.3.3' });

    const asked = room.fetches.flat();
    expect(new Set(asked).size).toBe(asked.length);
    expect(room.fetches.length).toBeLessThanOrEqual(12);
  });

  it('resolving in a loop does not refetch within a call but does across calls (memoised per call)', async () => {
    const room = new TestRoom(V11);
    const start = startRoom(room);
    const a = start.fork();
    a.send(topic('$T1', ALICE));
    const b = start.fork();
    b.send(topic('$T2', ALICE));
    await room.resolve([a.state, b.state]);
    const first = room.fetches.flat().length;
    await room.resolve([a.state, b.state]);
    expect(room.fetches.flat().length).toBe(2 * first);
  });
});

describe('resolveState with states of the same room given directly', () => {
  it('accepts more than two states (here three sides of a three-way topic race)', async () => {
    const room = new TestRoom(V11);
    const start = startRoom(room);
    const sides = ['$TA', '$TB', '$TC'].map((id, i) => {
      const b = start.fork();
      b.send(topic(id, ALICE, { ts: 5_000 - i }));
      return b.state;
    });
    const resolved = await resolveState(V11, sides, room.source);
    expect(resolved.get(stateKey('m.room.topic', ''))).toBe('$TA'); // greatest origin_server_ts is applied last
  });

  it('works with a source that has no isRejected (no event is rejected)', async () => {
    const room = new TestRoom(V12);
    const start = startRoom(room);
    const a = start.fork();
    a.send(joinRules('$JR', ALICE, 'invite'));
    const b = start.fork();
    b.send(member('$ME', EVELYN, EVELYN, 'join'));
    const resolved = await resolveState(V12, [a.state, b.state], { fetchEvents: room.source.fetchEvents });
    expect(room.view(resolved)).toEqual(expected(room, start, { [k('m.room.join_rules')]: '$JR' }));
  });
});
