// The state a room upgrade copies (src/core/rooms/upgrade.ts; room_upgrades.md "Server behaviour").
import { restrictedPowerLevels, upgradeDrafts, type UpgradeInput } from '../../../src/core/rooms/upgrade.js';
import { ROOM_VERSIONS } from '../../../src/core/room-versions.js';
import type { JsonObject, StoredEvent } from '../../../src/core/events/types.js';

const ev = (type: string, stateKey: string, content: JsonObject, sender = '@alice:x'): StoredEvent => ({
  event_id: `$${type}${stateKey}`, room_id: '!old:x', sender, type, state_key: stateKey, content,
  origin_server_ts: 0, prev_events: [], auth_events: [], depth: 1, hashes: { sha256: '' }, signatures: {},
});
const stateOf = (...events: StoredEvent[]) => new Map(events.map((e) => [`${e.type}\u0000${e.state_key}`, e]));
const base = (over: Partial<UpgradeInput> = {}): UpgradeInput => ({
  oldState: stateOf(
    ev('m.room.create', '', { room_version: '11', type: 'm.space', 'm.federate': false, other: 'dropped' }),
    ev('m.room.power_levels', '', { users: { '@alice:x': 100, '@mod:x': 50 }, events: { 'm.room.tombstone': 50, 'm.room.name': 100 }, state_default: 50 }),
    ev('m.room.name', '', { name: 'Room' }),
    ev('m.room.topic', '', { topic: 'Topic' }),
    ev('m.room.join_rules', '', { join_rule: 'public' }),
    ev('m.room.name', 'odd key', { name: 'not copied' }),
    ev('m.room.member', '@alice:x', { membership: 'join' }),
    ev('m.room.member', '@spammer:x', { membership: 'ban', reason: 'spam' }),
    ev('m.room.member', '@gone:x', { membership: 'leave' }),
    ev('org.example.private', '', { secret: true }),
    ev('m.room.avatar', '', {}),
  ),
  oldVersion: ROOM_VERSIONS['11'], newVersion: ROOM_VERSIONS['11'], upgrader: '@alice:x', oldRoomId: '!old:x',
  lastEventId: '$last', additionalCreators: [], memberContent: { membership: 'join', displayname: 'Alice' },
  ...over,
});
const summary = (d: { type: string; state_key?: string; content: JsonObject }) => `${d.type}|${d.state_key}`;

describe('upgradeDrafts', () => {
  it('creates with predecessor and the kept create content, joins, copies power levels, transferable state and bans', () => {
    const { drafts, raised } = upgradeDrafts(base());
    expect(raised).toBe(false);
    expect(drafts.map(summary)).toEqual([
      'm.room.create|', 'm.room.member|@alice:x', 'm.room.power_levels|', 'm.room.name|', 'm.room.topic|', 'm.room.join_rules|', 'm.room.member|@spammer:x',
    ]);
    expect(drafts[0]!.content).toEqual({ room_version: '11', predecessor: { room_id: '!old:x', event_id: '$last' }, type: 'm.space', 'm.federate': false });
    expect(drafts[1]!.content).toEqual({ membership: 'join', displayname: 'Alice' });
    expect(drafts[2]!.content.users).toEqual({ '@alice:x': 100, '@mod:x': 50 });
    expect(drafts[6]!.content).toEqual({ membership: 'ban', reason: 'spam' });
    expect(drafts.every((d) => d.sender === '@alice:x')).toBe(true);
  });

  it('puts the creator in the create event of versions that have one', () => {
    expect(upgradeDrafts(base({ newVersion: ROOM_VERSIONS['10'] })).drafts[0]!.content.creator).toBe('@alice:x');
  });

  it('raises an upgrader below the levels the copy needs, and restores their level at the end', () => {
    const { drafts, raised } = upgradeDrafts(base({ upgrader: '@mod:x' }));
    expect(raised).toBe(true);
    const pls = drafts.filter((d) => d.type === 'm.room.power_levels');
    expect(pls.map((p) => (p.content.users as JsonObject)['@mod:x'])).toEqual([100, 50]);
    expect(drafts[drafts.length - 1]!.type).toBe('m.room.power_levels');
  });

  it('leaves creators out of the users of a version with privileged creators, and sets additional creators', () => {
    const { drafts } = upgradeDrafts(base({ newVersion: ROOM_VERSIONS['12'], additionalCreators: ['@mod:x'] }));
    expect(drafts[0]!.content.additional_creators).toEqual(['@mod:x']);
    expect(drafts[0]!.content.creator).toBeUndefined();
    expect(drafts.find((d) => d.type === 'm.room.power_levels')!.content.users).toEqual({});
  });

  it('lists a creator of a version with privileged creators at 100 in one without', () => {
    const { drafts } = upgradeDrafts(base({
      oldVersion: ROOM_VERSIONS['12'],
      oldState: stateOf(ev('m.room.create', '', { room_version: '12' }), ev('m.room.power_levels', '', { users: {} })),
    }));
    expect(drafts.find((d) => d.type === 'm.room.power_levels')!.content.users).toEqual({ '@alice:x': 100 });
  });
});

describe('restrictedPowerLevels', () => {
  it('requires max(50, users_default + 1) to send events and invite', () => {
    expect(restrictedPowerLevels({ users: { '@a:x': 100 } })).toEqual({ users: { '@a:x': 100 }, events_default: 50, invite: 50 });
    expect(restrictedPowerLevels({ users_default: 60, events_default: 0 })).toEqual({ users_default: 60, events_default: 61, invite: 61 });
  });
});
