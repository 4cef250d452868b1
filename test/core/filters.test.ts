// Tests for src/core/filters.ts (matrix-spec: filter.yaml, definitions/sync_filter.yaml,
// room_event_filter.yaml, event_filter.yaml; appendices "Dot-separated property paths").
import { describe, expect, it } from '@jest/globals';
import { MatrixError } from '../../src/errors.js';
import { FILTER_CASES, SAMPLE_EVENTS } from '../helpers/filter-cases.js';
import type { JsonObject } from '../../src/core/events/types.js';
import {
  applyEventFields,
  eventLimit,
  eventMatches,
  isInlineFilter,
  parseFilter,
  parseInlineFilter,
  parseInlineRoomEventFilter,
  parseRoomEventFilter,
  roomAllowed,
  splitFieldPath,
  timelineLimit,
  typeGlobMatches,
  type Filter,
  type RoomEventFilter,
} from '../../src/core/filters.js';

/** Runs `fn`, expects a MatrixError with this status/errcode, returns its message. */
function errorOf(fn: () => unknown, status = 400, errcode = 'M_BAD_JSON'): string {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(MatrixError);
  const err = caught as MatrixError;
  expect(err.status).toBe(status);
  expect(err.errcode).toBe(errcode);
  return err.message;
}

// The request body example of filter.yaml#defineFilter.
const SPEC_EXAMPLE = {
  room: {
    state: { types: ['m.room.*'], not_rooms: ['!726s6s6q:example.com'] },
    timeline: { limit: 10, types: ['m.room.message'], not_rooms: ['!726s6s6q:example.com'], not_senders: ['@spam:example.com'] },
    ephemeral: { types: ['m.receipt', 'm.typing'], not_rooms: ['!726s6s6q:example.com'], not_senders: ['@spam:example.com'] },
  },
  presence: { types: ['m.presence'], not_senders: ['@alice:example.com'] },
  event_format: 'client',
  event_fields: ['type', 'content', 'sender'],
};

const FULL: Filter = {
  event_fields: ['content.body', 'content.m\\.relates_to'],
  event_format: 'federation',
  presence: { limit: 5, senders: ['@a:hs'], not_senders: ['@b:hs'], types: ['m.presence'], not_types: ['x'] },
  account_data: { limit: 1, types: ['m.*'] },
  room: {
    rooms: ['!r1:hs', '!r2:hs'],
    not_rooms: ['!r2:hs'],
    include_leave: true,
    ephemeral: { types: ['m.typing'], rooms: ['!r1:hs'] },
    state: { lazy_load_members: true, include_redundant_members: false, types: ['m.room.*'] },
    timeline: {
      limit: 20,
      contains_url: false,
      unread_thread_notifications: true,
      rooms: ['!r1:hs'],
      not_rooms: [],
      senders: ['@a:hs'],
      not_senders: ['@c:hs'],
      types: ['m.room.message'],
      not_types: ['m.room.member'],
    },
    account_data: { not_types: ['m.tag'] },
  },
};

describe('parseFilter: valid filters', () => {
  it('round-trips the spec example of POST /user/{userId}/filter', () => {
    expect(parseFilter(structuredClone(SPEC_EXAMPLE))).toEqual(SPEC_EXAMPLE);
  });

  it('round-trips a filter that sets every field', () => {
    expect(parseFilter(structuredClone(FULL))).toEqual(FULL);
  });

  it('accepts the empty filter as {}', () => {
    expect(parseFilter({})).toEqual({});
  });

  it('drops unknown keys at every level and adds no undefined keys', () => {
    const parsed = parseFilter({
      unknown: 1,
      presence: { types: ['m.presence'], contains_url: 'not checked on an EventFilter', x: [] },
      room: { foo: 'bar', timeline: { limit: 3, bogus: null } },
    });
    expect(parsed).toStrictEqual({ presence: { types: ['m.presence'] }, room: { timeline: { limit: 3 } } });
    expect(Object.keys(parsed.room!.timeline!)).toEqual(['limit']);
  });

  it('returns copies, not the caller\'s arrays', () => {
    const input = { room: { rooms: ['!a:hs'] } };
    const parsed = parseFilter(input);
    input.room.rooms.push('!b:hs');
    expect(parsed.room!.rooms).toEqual(['!a:hs']);
  });

  it('accepts limit 1 and large integers (capping is the caller\'s business)', () => {
    expect(parseFilter({ room: { timeline: { limit: 1 } } }).room!.timeline!.limit).toBe(1);
    expect(parseFilter({ presence: { limit: 1000000 } }).presence!.limit).toBe(1000000);
  });

  it('ignores inherited names such as constructor', () => {
    expect(parseFilter(JSON.parse('{"constructor": 1, "__proto__": {"room": 5}}'))).toEqual({});
  });
});

describe('parseFilter: invalid filters are 400 M_BAD_JSON naming the field', () => {
  it.each<[string, unknown]>([
    ['null', null],
    ['an array', []],
    ['a string', '{}'],
    ['a number', 3],
  ])('rejects a filter that is %s', (_what, json) => {
    expect(errorOf(() => parseFilter(json))).toBe("Invalid filter: '(filter)' must be a JSON object");
  });

  it.each<[string, unknown, string]>([
    ['event_fields not an array', { event_fields: 'content' }, "'event_fields' must be an array of strings"],
    ['event_fields with a number', { event_fields: ['type', 3] }, "'event_fields[1]' must be a string"],
    ['event_format unknown', { event_format: 'raw' }, "'event_format' must be 'client' or 'federation'"],
    ['event_format not a string', { event_format: 1 }, "'event_format' must be 'client' or 'federation'"],
    ['presence not an object', { presence: [] }, "'presence' must be a JSON object"],
    ['presence null', { presence: null }, "'presence' must be a JSON object"],
    ['account_data not an object', { account_data: 'x' }, "'account_data' must be a JSON object"],
    ['room not an object', { room: true }, "'room' must be a JSON object"],
    ['room.rooms not an array', { room: { rooms: '!a:hs' } }, "'room.rooms' must be an array of strings"],
    ['room.not_rooms with an object', { room: { not_rooms: [{}] } }, "'room.not_rooms[0]' must be a string"],
    ['room.include_leave not a boolean', { room: { include_leave: 'true' } }, "'room.include_leave' must be a boolean"],
    ['room.state not an object', { room: { state: 1 } }, "'room.state' must be a JSON object"],
    ['room.timeline not an object', { room: { timeline: [] } }, "'room.timeline' must be a JSON object"],
    ['room.ephemeral not an object', { room: { ephemeral: 'x' } }, "'room.ephemeral' must be a JSON object"],
    ['room.account_data not an object', { room: { account_data: null } }, "'room.account_data' must be a JSON object"],
    ['limit 0', { room: { timeline: { limit: 0 } } }, "'room.timeline.limit' must be an integer greater than 0"],
    ['limit negative', { room: { timeline: { limit: -5 } } }, "'room.timeline.limit' must be an integer greater than 0"],
    ['limit fractional', { presence: { limit: 1.5 } }, "'presence.limit' must be an integer greater than 0"],
    ['limit a string', { account_data: { limit: '10' } }, "'account_data.limit' must be an integer greater than 0"],
    ['limit null', { room: { state: { limit: null } } }, "'room.state.limit' must be an integer greater than 0"],
    ['senders with a number', { presence: { senders: ['@a:hs', 7] } }, "'presence.senders[1]' must be a string"],
    ['not_senders not an array', { room: { timeline: { not_senders: '@a:hs' } } }, "'room.timeline.not_senders' must be an array of strings"],
    ['types with null', { room: { state: { types: [null] } } }, "'room.state.types[0]' must be a string"],
    ['not_types an object', { account_data: { not_types: {} } }, "'account_data.not_types' must be an array of strings"],
    ['timeline.rooms with a number', { room: { timeline: { rooms: [1] } } }, "'room.timeline.rooms[0]' must be a string"],
    ['ephemeral.not_rooms a string', { room: { ephemeral: { not_rooms: '!a:hs' } } }, "'room.ephemeral.not_rooms' must be an array of strings"],
    ['contains_url a string', { room: { timeline: { contains_url: 'yes' } } }, "'room.timeline.contains_url' must be a boolean"],
    ['lazy_load_members a number', { room: { state: { lazy_load_members: 1 } } }, "'room.state.lazy_load_members' must be a boolean"],
    ['include_redundant_members null', { room: { state: { include_redundant_members: null } } }, "'room.state.include_redundant_members' must be a boolean"],
    ['unread_thread_notifications a string', { room: { timeline: { unread_thread_notifications: 'true' } } }, "'room.timeline.unread_thread_notifications' must be a boolean"],
  ])('rejects %s', (_what, json, message) => {
    expect(errorOf(() => parseFilter(json))).toBe(`Invalid filter: ${message}`);
  });
});

describe('parseRoomEventFilter and inline filters', () => {
  it('parses the /messages example filter {"contains_url":true}', () => {
    expect(parseInlineRoomEventFilter('{"contains_url":true}')).toStrictEqual({ contains_url: true });
  });

  it('names top-level RoomEventFilter fields without a prefix', () => {
    expect(errorOf(() => parseRoomEventFilter({ limit: 0 }))).toBe("Invalid filter: 'limit' must be an integer greater than 0");
    expect(errorOf(() => parseRoomEventFilter([]))).toBe("Invalid filter: '(filter)' must be a JSON object");
  });

  it('parses an inline /sync filter', () => {
    expect(parseInlineFilter('{"room":{"timeline":{"limit":2}}}')).toStrictEqual({ room: { timeline: { limit: 2 } } });
  });

  it('answers 400 M_NOT_JSON for inline filters that are not JSON', () => {
    expect(errorOf(() => parseInlineFilter('{room'), 400, 'M_NOT_JSON')).toBe('filter is not valid JSON');
    expect(errorOf(() => parseInlineRoomEventFilter('{"limit":'), 400, 'M_NOT_JSON')).toBe('filter is not valid JSON');
  });

  it('answers 400 M_BAD_JSON for inline filters of the wrong shape', () => {
    errorOf(() => parseInlineFilter('{"room":{"include_leave":1}}'));
    errorOf(() => parseInlineRoomEventFilter('[]'));
  });

  it('tells inline JSON from a filter ID by the leading {', () => {
    expect(isInlineFilter('{"room":{}}')).toBe(true);
    expect(isInlineFilter('66696p746572')).toBe(false);
    expect(isInlineFilter(' {')).toBe(false);
  });
});

describe('typeGlobMatches', () => {
  it.each<[string, string, boolean]>([
    ['m.room.*', 'm.room.message', true],
    ['m.room.*', 'm.room.', true],
    ['m.room.*', 'm.room', false],
    ['m.room.*', 'm.roomx.message', false],
    ['*', '', true],
    ['*', 'anything', true],
    ['m.*.member', 'm.room.member', true],
    ['m.*.member', 'm.room.members', false],
    ['*.member', 'm.room.member', true],
    ['m.*.*', 'm.a.b', true],
    ['m.*.*', 'm.a', false],
    ['a*b*c', 'aXbYbZc', true],
    ['a*b*c', 'aXcYb', false],
    ['m.room.message', 'm.room.message', true],
    ['m.room.message', 'm.room.messages', false],
    ['m.room.message', 'm.room.messag', false],
    ['m.room.?', 'm.room.x', false], // only `*` is a wildcard in filters
    ['m.room.?', 'm.room.?', true],
    ['m.room.[a]', 'm.room.[a]', true], // no regex semantics
    ['m.room.(', 'm.room.(', true],
    ['.*', 'x.y', false],
  ])('%s against %s is %s', (pattern, value, expected) => {
    expect(typeGlobMatches(pattern, value)).toBe(expected);
  });
});

describe('eventMatches', () => {
  const msg = { type: 'm.room.message', sender: '@alice:hs', room_id: '!r1:hs', content: { body: 'hi' } };

  it('lets everything through with no filter or an empty one', () => {
    expect(eventMatches(undefined, msg)).toBe(true);
    expect(eventMatches({}, msg)).toBe(true);
  });

  it('matches types with wildcards', () => {
    expect(eventMatches({ types: ['m.room.*'] }, msg)).toBe(true);
    expect(eventMatches({ types: ['m.room.member', 'm.room.message'] }, msg)).toBe(true);
    expect(eventMatches({ types: ['m.room.member'] }, msg)).toBe(false);
    expect(eventMatches({ types: ['m.call.*'] }, msg)).toBe(false);
  });

  it('treats an empty positive list as allowing nothing', () => {
    expect(eventMatches({ types: [] }, msg)).toBe(false);
    expect(eventMatches({ senders: [] }, msg)).toBe(false);
    expect(eventMatches({ rooms: [] } as RoomEventFilter, msg)).toBe(false);
  });

  it('treats an empty negative list as excluding nothing', () => {
    expect(eventMatches({ not_types: [], not_senders: [], not_rooms: [] } as RoomEventFilter, msg)).toBe(true);
  });

  it('excludes not_types, with wildcards', () => {
    expect(eventMatches({ not_types: ['m.room.message'] }, msg)).toBe(false);
    expect(eventMatches({ not_types: ['m.*'] }, msg)).toBe(false);
    expect(eventMatches({ not_types: ['m.room.member'] }, msg)).toBe(true);
  });

  it('gives not_types precedence over types', () => {
    expect(eventMatches({ types: ['m.room.*'], not_types: ['m.room.message'] }, msg)).toBe(false);
    expect(eventMatches({ types: ['m.room.message'], not_types: ['*'] }, msg)).toBe(false);
    expect(eventMatches({ types: ['m.room.*'], not_types: ['m.room.member'] }, msg)).toBe(true);
  });

  it('matches senders exactly and gives not_senders precedence', () => {
    expect(eventMatches({ senders: ['@alice:hs'] }, msg)).toBe(true);
    expect(eventMatches({ senders: ['@bob:hs'] }, msg)).toBe(false);
    expect(eventMatches({ senders: ['@alice:*'] }, msg)).toBe(false); // no wildcards for senders
    expect(eventMatches({ not_senders: ['@alice:hs'] }, msg)).toBe(false);
    expect(eventMatches({ senders: ['@alice:hs'], not_senders: ['@alice:hs'] }, msg)).toBe(false);
    expect(eventMatches({ senders: ['@alice:hs'], not_senders: ['@spam:hs'] }, msg)).toBe(true);
  });

  it('handles events without a sender', () => {
    const typing = { type: 'm.typing', room_id: '!r1:hs', content: { user_ids: [] } };
    expect(eventMatches({ not_senders: ['@alice:hs'] }, typing)).toBe(true);
    expect(eventMatches({ senders: ['@alice:hs'] }, typing)).toBe(false);
  });

  it('matches rooms and gives not_rooms precedence', () => {
    expect(eventMatches({ rooms: ['!r1:hs'] }, msg)).toBe(true);
    expect(eventMatches({ rooms: ['!r2:hs'] }, msg)).toBe(false);
    expect(eventMatches({ not_rooms: ['!r1:hs'] }, msg)).toBe(false);
    expect(eventMatches({ rooms: ['!r1:hs'], not_rooms: ['!r1:hs'] }, msg)).toBe(false);
    expect(eventMatches({ rooms: ['!r1:hs', '!r2:hs'], not_rooms: ['!r2:hs'] }, msg)).toBe(true);
  });

  it('skips the room check when the event has no room_id', () => {
    const { room_id: _omit, ...noRoom } = msg;
    expect(eventMatches({ rooms: ['!r2:hs'], not_rooms: ['!r1:hs'] }, noRoom)).toBe(true);
  });

  it('filters on contains_url: a string url only', () => {
    const image = { ...msg, content: { msgtype: 'm.image', url: 'mxc://hs/abc' } };
    const badUrl = { ...msg, content: { url: 5 } };
    const noContent = { type: 'm.room.message', sender: '@alice:hs' };
    expect(eventMatches({ contains_url: true }, image)).toBe(true);
    expect(eventMatches({ contains_url: true }, msg)).toBe(false);
    expect(eventMatches({ contains_url: true }, badUrl)).toBe(false);
    expect(eventMatches({ contains_url: true }, noContent)).toBe(false);
    expect(eventMatches({ contains_url: false }, image)).toBe(false);
    expect(eventMatches({ contains_url: false }, msg)).toBe(true);
    expect(eventMatches({ contains_url: false }, badUrl)).toBe(true);
    expect(eventMatches({ contains_url: false }, noContent)).toBe(true);
  });

  it('requires every condition at once', () => {
    const f: RoomEventFilter = { types: ['m.room.*'], senders: ['@alice:hs'], rooms: ['!r1:hs'], contains_url: false };
    expect(eventMatches(f, msg)).toBe(true);
    expect(eventMatches(f, { ...msg, type: 'm.call.invite' })).toBe(false);
    expect(eventMatches(f, { ...msg, sender: '@bob:hs' })).toBe(false);
    expect(eventMatches(f, { ...msg, room_id: '!r9:hs' })).toBe(false);
    expect(eventMatches(f, { ...msg, content: { url: 'mxc://x/y' } })).toBe(false);
  });

  it('applies the spec example timeline filter', () => {
    const timeline = parseFilter(SPEC_EXAMPLE).room!.timeline;
    expect(eventMatches(timeline, { ...msg, room_id: '!other:example.com' })).toBe(true);
    expect(eventMatches(timeline, { ...msg, room_id: '!726s6s6q:example.com' })).toBe(false);
    expect(eventMatches(timeline, { ...msg, room_id: '!other:example.com', sender: '@spam:example.com' })).toBe(false);
    expect(eventMatches(timeline, { ...msg, room_id: '!other:example.com', type: 'm.room.member' })).toBe(false);
  });
});

describe('roomAllowed', () => {
  it('allows every room without a filter or lists', () => {
    expect(roomAllowed(undefined, '!r1:hs')).toBe(true);
    expect(roomAllowed({}, '!r1:hs')).toBe(true);
    expect(roomAllowed({ timeline: { rooms: [] } }, '!r1:hs')).toBe(true); // sub-filters are not room-level
  });

  it('restricts to rooms and excludes not_rooms, not_rooms first', () => {
    const f = { rooms: ['!r1:hs', '!r2:hs'], not_rooms: ['!r2:hs'] };
    expect(roomAllowed(f, '!r1:hs')).toBe(true);
    expect(roomAllowed(f, '!r2:hs')).toBe(false);
    expect(roomAllowed(f, '!r3:hs')).toBe(false);
    expect(roomAllowed({ not_rooms: ['!r2:hs'] }, '!r3:hs')).toBe(true);
    expect(roomAllowed({ rooms: [] }, '!r1:hs')).toBe(false);
  });

  it('compares room IDs exactly', () => {
    expect(roomAllowed({ rooms: ['!r1:hs'] }, '!R1:hs')).toBe(false);
    expect(roomAllowed({ rooms: ['!r*'] }, '!r1:hs')).toBe(false);
  });
});

describe('limits', () => {
  it('uses the filter limit, else the default, capped at the maximum', () => {
    expect(eventLimit({ limit: 5 }, 10, 100)).toBe(5);
    expect(eventLimit({}, 10, 100)).toBe(10);
    expect(eventLimit(undefined, 7, 100)).toBe(7);
    expect(eventLimit({ limit: 1000 }, 10, 100)).toBe(100);
  });

  it('reads room.timeline.limit for /sync with default 10 and cap 100', () => {
    expect(timelineLimit(undefined)).toBe(10);
    expect(timelineLimit({})).toBe(10);
    expect(timelineLimit({ room: { state: { limit: 3 } } })).toBe(10);
    expect(timelineLimit({ room: { timeline: { limit: 3 } } })).toBe(3);
    expect(timelineLimit({ room: { timeline: { limit: 500 } } })).toBe(100);
    expect(timelineLimit({ room: { timeline: { limit: 500 } } }, 10, 50)).toBe(50);
    expect(timelineLimit({}, 20)).toBe(20);
  });
});

describe('splitFieldPath', () => {
  it.each<[string, string[]]>([
    ['content.body', ['content', 'body']],
    ['content.m\\.relates_to', ['content', 'm.relates_to']],
    ['content.m\\\\foo', ['content', 'm\\foo']],
    ['content.m\\xfoo', ['content', 'm\\xfoo']], // other escapes are left as-is
    ['a\\', ['a\\']],
    ['a\\\\.b', ['a\\', 'b']],
    ['type', ['type']],
    ['a..b', ['a', '', 'b']],
  ])('splits %s', (path, parts) => {
    expect(splitFieldPath(path)).toEqual(parts);
  });
});

describe('applyEventFields', () => {
  const event = {
    event_id: '$e',
    type: 'm.room.message',
    sender: '@alice:hs',
    origin_server_ts: 1,
    room_id: '!r1:hs',
    content: {
      body: 'hello',
      msgtype: 'm.text',
      'm.relates_to': { rel_type: 'm.thread', event_id: '$root' },
      'm\\foo': 'backslash',
      m: { relates_to: 'nested, not dotted' },
      list: [{ a: 1 }],
    } as JsonObject,
    unsigned: { age: 5, transaction_id: 't1' } as JsonObject,
  };

  it('returns the event unchanged for an absent or empty list', () => {
    expect(applyEventFields(event, undefined)).toBe(event);
    expect(applyEventFields(event, [])).toBe(event);
  });

  it('keeps the spec example fields type, content and sender', () => {
    expect(applyEventFields(event, ['type', 'content', 'sender'])).toStrictEqual({
      type: 'm.room.message',
      content: event.content,
      sender: '@alice:hs',
    });
  });

  it('keeps content.body only', () => {
    expect(applyEventFields(event, ['content.body'])).toStrictEqual({ content: { body: 'hello' } });
  });

  it('handles an escaped dot: content.m\\.relates_to', () => {
    expect(applyEventFields(event, ['content.m\\.relates_to'])).toStrictEqual({
      content: { 'm.relates_to': { rel_type: 'm.thread', event_id: '$root' } },
    });
    // Unescaped, the same text walks into content.m.relates_to instead.
    expect(applyEventFields(event, ['content.m.relates_to'])).toStrictEqual({ content: { m: { relates_to: 'nested, not dotted' } } });
  });

  it('handles an escaped backslash: content.m\\\\foo', () => {
    expect(applyEventFields(event, ['content.m\\\\foo'])).toStrictEqual({ content: { 'm\\foo': 'backslash' } });
  });

  it('merges several paths into the same container', () => {
    expect(applyEventFields(event, ['content.body', 'content.m\\.relates_to.rel_type', 'unsigned.age', 'event_id'])).toStrictEqual({
      content: { body: 'hello', 'm.relates_to': { rel_type: 'm.thread' } },
      unsigned: { age: 5 },
      event_id: '$e',
    });
  });

  it('lets a whole object and a path inside it coexist in either order', () => {
    expect(applyEventFields(event, ['content', 'content.body'])).toStrictEqual({ content: event.content });
    expect(applyEventFields(event, ['content.body', 'content'])).toStrictEqual({ content: event.content });
  });

  it('skips missing paths without leaving empty objects', () => {
    expect(applyEventFields(event, ['content.nope', 'content.body.length', 'state_key', 'unsigned.age.x'])).toStrictEqual({});
    expect(applyEventFields(event, ['content.nope', 'type'])).toStrictEqual({ type: 'm.room.message' });
  });

  it('does not index into arrays', () => {
    expect(applyEventFields(event, ['content.list.0'])).toStrictEqual({});
    expect(applyEventFields(event, ['content.list'])).toStrictEqual({ content: { list: [{ a: 1 }] } });
  });

  it('copies values, so changing the result leaves the event alone', () => {
    const out = applyEventFields(event, ['content.m\\.relates_to', 'unsigned']);
    (out.content!['m.relates_to'] as JsonObject).rel_type = 'changed';
    (out.unsigned as JsonObject).age = 99;
    expect((event.content['m.relates_to'] as JsonObject).rel_type).toBe('m.thread');
    expect(event.unsigned.age).toBe(5);
  });

  it('does not read inherited properties or write prototypes', () => {
    expect(applyEventFields(event, ['constructor', 'content.toString', '__proto__'])).toStrictEqual({});
    const weird = JSON.parse('{"content": {"__proto__": {"polluted": true}}}') as { content: JsonObject };
    const out = applyEventFields(weird, ['content.__proto__']);
    expect(Object.getPrototypeOf(out.content)).toBe(Object.prototype);
    expect(Object.keys(out.content!)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('eventMatches: the shared filter cases (the SQL path is held to the same table in test/storage/filters-sql.test.ts)', () => {
  for (const c of FILTER_CASES) {
    it(c.name, () => {
      const passed = SAMPLE_EVENTS.filter((e) => eventMatches(c.filter, { type: e.type, sender: e.sender, room_id: '!r:test.local' })).map((e) => e.key);
      expect(passed).toEqual(c.passes);
    });
  }
});
