// History visibility as position ranges (modules/history_visibility.md "Server behaviour"), and the
// token format /messages uses.
import { computeVisibility } from '../../../src/core/rooms/read.js';
import { parsePagingToken, pagingToken } from '../../../src/core/tokens.js';
import type { StoredEvent } from '../../../src/core/events/types.js';

const ev = (type: string, stateKey: string, content: Record<string, string>): StoredEvent => ({
  event_id: `$${type}${stateKey}${JSON.stringify(content)}`, room_id: '!r:x', sender: '@a:x', type, state_key: stateKey, content,
  origin_server_ts: 0, prev_events: [], auth_events: [], depth: 1, hashes: { sha256: '' }, signatures: {},
});
const hv = (pos: number, value: string) => ({ streamOrdering: pos, event: ev('m.room.history_visibility', '', { history_visibility: value }) });
const member = (pos: number, membership: string) => ({ streamOrdering: pos, event: ev('m.room.member', '@b:x', { membership }) });

/** Which of positions 1..n are visible. */
function visibleUpTo(n: number, v: ReturnType<typeof computeVisibility>): number[] {
  return Array.from({ length: n }, (_, i) => i + 1).filter((p) => v.isVisible(p));
}

describe('computeVisibility', () => {
  it('shared (also the default): everything before a later join, and everything while joined', () => {
    expect(visibleUpTo(12, computeVisibility([hv(3, 'shared')], [member(8, 'join')]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(visibleUpTo(12, computeVisibility([], [member(8, 'join')]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('shared: a user who never joined sees nothing; one who left sees nothing after leaving', () => {
    expect(visibleUpTo(10, computeVisibility([hv(3, 'shared')], []))).toEqual([]);
    expect(visibleUpTo(10, computeVisibility([hv(3, 'shared')], [member(5, 'join'), member(7, 'leave')]))).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('shared: a user who left and rejoined sees what was sent while away', () => {
    expect(visibleUpTo(12, computeVisibility([hv(3, 'shared')], [member(5, 'join'), member(7, 'leave'), member(10, 'join')]))).toEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    );
  });

  // In these two, position 1 is the history_visibility event itself: visible because the setting
  // before it (shared, the default) allows it to a user who joined later.
  it('joined: from the join on, until the leave (the leave itself included)', () => {
    expect(visibleUpTo(12, computeVisibility([hv(1, 'joined')], [member(5, 'invite'), member(7, 'join'), member(10, 'leave')]))).toEqual([1, 7, 8, 9, 10]);
  });

  it('invited: from the invite on', () => {
    expect(visibleUpTo(10, computeVisibility([hv(1, 'invited')], [member(5, 'invite'), member(7, 'join')]))).toEqual([1, 5, 6, 7, 8, 9, 10]);
  });

  it('events before the first history_visibility event are shared (the default), and so is the change to a stricter setting', () => {
    expect(visibleUpTo(10, computeVisibility([hv(3, 'joined')], [member(7, 'join')]))).toEqual([1, 2, 3, 7, 8, 9, 10]);
  });

  it('world_readable: everything while it is set, for anyone', () => {
    expect(visibleUpTo(10, computeVisibility([hv(3, 'world_readable'), hv(6, 'joined')], []))).toEqual([3, 4, 5, 6]);
  });

  it('a history_visibility event is visible when the setting before or after it allows it', () => {
    // joined -> world_readable at 6: the change itself is visible to a non-member.
    expect(visibleUpTo(8, computeVisibility([hv(3, 'joined'), hv(6, 'world_readable')], []))).toEqual([6, 7, 8]);
  });

  it('a rejected invite is visible to its subject (leave after invite)', () => {
    expect(visibleUpTo(8, computeVisibility([hv(1, 'joined')], [member(4, 'invite'), member(6, 'leave')]))).toEqual([6]);
  });

  it('an unknown history_visibility value counts as shared', () => {
    expect(visibleUpTo(6, computeVisibility([hv(2, 'bogus')], [member(5, 'join')]))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('membershipAt is the membership after the event, leave before any', () => {
    const v = computeVisibility([], [member(5, 'invite'), member(7, 'join')]);
    expect([4, 5, 6, 7, 9].map((p) => v.membershipAt(p))).toEqual(['leave', 'invite', 'invite', 'join', 'join']);
  });
});

describe('paging tokens', () => {
  it('round-trips topological tokens (depth, arrival; arrival negative for backfilled history)', () => {
    expect(pagingToken({ depth: 7, streamOrdering: 42 })).toBe('t7_42');
    expect(parsePagingToken('t7_42', 'from')).toEqual({ topological: { depth: 7, streamOrdering: 42 } });
    expect(parsePagingToken(pagingToken({ depth: 3, streamOrdering: -9 }), 'from')).toEqual({ topological: { depth: 3, streamOrdering: -9 } });
  });

  it('accepts sync tokens and the stream tokens of earlier versions as stream positions', () => {
    expect(parsePagingToken('t42', 'from')).toEqual({ stream: 42 });
    expect(parsePagingToken('s17', 'from')).toEqual({ stream: 17 });
    expect(parsePagingToken('s17~3', 'from')).toEqual({ stream: 17 });
  });

  it('refuses anything else with 400 M_INVALID_PARAM', () => {
    for (const bad of ['', 't', 'x5', 't-1', '5', 't1.5', 't1_', 't_5', 't-1_5', 's1_2']) {
      expect(() => parsePagingToken(bad, 'from')).toThrow(expect.objectContaining({ status: 400, errcode: 'M_INVALID_PARAM' }));
    }
  });
});
