// Edit validity and ordering for the m.replace aggregation (event_replacements.md "Validity of
// replacement events", "Server-side aggregation of m.replace relationships").
import { isValidReplacement, mostRecent } from '../../../src/core/rooms/aggregations.js';
import type { JsonObject, StoredEvent } from '../../../src/core/events/types.js';

const ev = (id: string, fields: Partial<StoredEvent> & { content: JsonObject }): StoredEvent => ({
  event_id: id, room_id: '!r:x', sender: '@a:x', type: 'm.room.message', origin_server_ts: 1000,
  prev_events: [], auth_events: [], depth: 1, hashes: { sha256: '' }, signatures: {}, ...fields,
});
const original = ev('$orig', { content: { msgtype: 'm.text', body: 'hello' } });
const editOf = (target: string, extra: Partial<StoredEvent> = {}, content: JsonObject = {}) => ev(`$e${Math.random()}`, {
  content: { body: '* hi', 'm.new_content': { msgtype: 'm.text', body: 'hi' }, 'm.relates_to': { rel_type: 'm.replace', event_id: target }, ...content },
  ...extra,
});

describe('isValidReplacement', () => {
  it('accepts an edit of the same sender, type and room with m.new_content', () => {
    expect(isValidReplacement(original, editOf('$orig'))).toBe(true);
  });

  it('refuses another sender, another type, another room', () => {
    expect(isValidReplacement(original, editOf('$orig', { sender: '@b:x' }))).toBe(false);
    expect(isValidReplacement(original, editOf('$orig', { type: 'm.sticker' }))).toBe(false);
    expect(isValidReplacement(original, editOf('$orig', { room_id: '!other:x' }))).toBe(false);
  });

  it('refuses state events on either side', () => {
    expect(isValidReplacement({ ...original, state_key: '' }, editOf('$orig'))).toBe(false);
    expect(isValidReplacement(original, editOf('$orig', { state_key: '' }))).toBe(false);
  });

  it('refuses an edit of an edit, one for another event, and one without an m.new_content object', () => {
    const firstEdit = editOf('$orig');
    expect(isValidReplacement(firstEdit, editOf(firstEdit.event_id))).toBe(false);
    expect(isValidReplacement(original, editOf('$someone_else'))).toBe(false);
    expect(isValidReplacement(original, editOf('$orig', {}, { 'm.new_content': 'text' }))).toBe(false);
    const { 'm.new_content': _n, ...withoutNew } = editOf('$orig').content;
    expect(isValidReplacement(original, ev('$x', { content: withoutNew }))).toBe(false);
  });

  it('accepts an encrypted edit of an encrypted event (m.new_content is inside the ciphertext)', () => {
    const enc = ev('$enc', { type: 'm.room.encrypted', content: { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'x' } });
    const encEdit = ev('$encedit', { type: 'm.room.encrypted', content: { ciphertext: 'y', 'm.relates_to': { rel_type: 'm.replace', event_id: '$enc' } } });
    expect(isValidReplacement(enc, encEdit)).toBe(true);
  });
});

describe('mostRecent', () => {
  it('takes the greatest origin_server_ts, then the lexicographically greatest event ID', () => {
    const a = { event: ev('$a', { content: {}, origin_server_ts: 5 }) };
    const b = { event: ev('$b', { content: {}, origin_server_ts: 9 }) };
    const c = { event: ev('$c', { content: {}, origin_server_ts: 9 }) };
    expect(mostRecent([a, b])).toBe(b);
    expect(mostRecent([c, b, a])).toBe(c);
    expect(mostRecent([])).toBeUndefined();
  });
});
