// What is indexed with each event (src/core/events/indexing.ts, src/wire.ts): its relation, its thread
// (modules/push.md: up to 3 hops), its searchable text (search.yaml `keys`).
import { addIndexes, threadOf } from '../../../src/core/events/indexing.js';
import type { PersistEventInput, RelationRecord } from '../../../src/storage/types.js';
import { relationOf, searchableText, type JsonObject, type StoredEvent } from '../../../src/wire.js';

const rel = (eventId: string, relatesTo: string, relType: string): RelationRecord => ({
  eventId, relatesTo, relType, key: null, roomId: '!r:x', type: 'm.room.message', sender: '@a:x', originServerTs: 0, depth: 1, streamOrdering: 1,
});
const store = (rows: RelationRecord[]) => async (id: string) => rows.find((r) => r.eventId === id);
const ev = (content: JsonObject, type = 'm.room.message'): StoredEvent => ({
  event_id: '$new', room_id: '!r:x', sender: '@a:x', type, content, origin_server_ts: 0, prev_events: [], auth_events: [], depth: 2, hashes: { sha256: '' }, signatures: {},
});

describe('relationOf', () => {
  it('reads rel_type, event_id and an annotation key; anything else is no relation', () => {
    expect(relationOf({ 'm.relates_to': { rel_type: 'm.thread', event_id: '$root' } })).toEqual({ eventId: '$root', relType: 'm.thread', key: null });
    expect(relationOf({ 'm.relates_to': { rel_type: 'm.annotation', event_id: '$e', key: '👍' } })).toEqual({ eventId: '$e', relType: 'm.annotation', key: '👍' });
    expect(relationOf({ 'm.relates_to': { 'm.in_reply_to': { event_id: '$e' } } })).toBeUndefined();
    expect(relationOf({ 'm.relates_to': { rel_type: 'm.thread', event_id: 42 } })).toBeUndefined();
    expect(relationOf({ 'm.relates_to': { rel_type: 'm.thread', event_id: 'not-an-event' } })).toBeUndefined();
    expect(relationOf({ 'm.relates_to': 'x' })).toBeUndefined();
    expect(relationOf({})).toBeUndefined();
  });
});

describe('searchableText', () => {
  it('takes content.body, content.name and content.topic of their event types only', () => {
    expect(searchableText({ type: 'm.room.message', content: { body: 'hi' } })).toEqual({ key: 'content.body', value: 'hi' });
    expect(searchableText({ type: 'm.room.name', content: { name: 'Room' } })).toEqual({ key: 'content.name', value: 'Room' });
    expect(searchableText({ type: 'm.room.topic', content: { topic: 'Talk' } })).toEqual({ key: 'content.topic', value: 'Talk' });
    expect(searchableText({ type: 'm.room.message', content: { body: 5 } })).toBeUndefined();
    expect(searchableText({ type: 'm.room.message', content: { body: '   ' } })).toBeUndefined();
    expect(searchableText({ type: 'org.example', content: { body: 'hi' } })).toBeUndefined();
  });
});

describe('threadOf', () => {
  it('is the root of an m.thread relation, main without a relation', async () => {
    expect(await threadOf({ eventId: '$root', relType: 'm.thread', key: null }, store([]))).toBe('$root');
    expect(await threadOf(undefined, store([]))).toBe('main');
  });

  it('follows other relations up to 3 hops to find the thread', async () => {
    const rows = [rel('$reply', '$root', 'm.thread'), rel('$edit', '$reply', 'm.replace'), rel('$ref', '$edit', 'm.reference')];
    // A reaction to a reply (2 hops), to an edit of a reply (3 hops), to a reference of that edit (4 hops: too far).
    expect(await threadOf({ eventId: '$reply', relType: 'm.annotation', key: 'x' }, store(rows))).toBe('$root');
    expect(await threadOf({ eventId: '$edit', relType: 'm.annotation', key: 'x' }, store(rows))).toBe('$root');
    expect(await threadOf({ eventId: '$ref', relType: 'm.annotation', key: 'x' }, store(rows))).toBe('main');
    // A reaction to a thread root is in the main timeline.
    expect(await threadOf({ eventId: '$root', relType: 'm.annotation', key: 'x' }, store(rows))).toBe('main');
  });
});

describe('addIndexes', () => {
  const input = (event: StoredEvent, graph: PersistEventInput['graph'] = { newGroups: [], stateBefore: 1, stateAfter: 1 }): PersistEventInput =>
    ({ event, streamOrdering: 5, unsigned: null, extremities: [], graph });

  it('sets relation, thread and search text of a shown event', async () => {
    const i = input(ev({ body: 'in thread', 'm.relates_to': { rel_type: 'm.thread', event_id: '$root' } }));
    await addIndexes(i, store([]));
    expect(i.relation).toEqual({ eventId: '$root', relType: 'm.thread', key: null });
    expect(i.threadId).toBe('$root');
    expect(i.search).toEqual({ key: 'content.body', value: 'in thread' });
  });

  it('indexes nothing for events never shown (rejected, soft-failed, outliers) and no self-relation', async () => {
    for (const graph of [{ rejected: 'no' }, { softFailed: true }, { outlier: true }]) {
      const i = input(ev({ body: 'x', 'm.relates_to': { rel_type: 'm.thread', event_id: '$root' } }), { newGroups: [], stateBefore: null, stateAfter: null, ...graph });
      await addIndexes(i, store([]));
      expect([i.relation, i.threadId, i.search]).toEqual([undefined, undefined, undefined]);
    }
    const self = input(ev({ body: 'x', 'm.relates_to': { rel_type: 'm.reference', event_id: '$new' } }));
    await addIndexes(self, store([]));
    expect(self.relation).toBeUndefined();
  });
});
