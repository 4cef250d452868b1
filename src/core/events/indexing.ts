// What is indexed with each persisted event (spec/relations.md): the relation its content declares,
// the thread it belongs to, and its searchable text. Worked out here, in the one place every event
// passes through on its way to storage (EventWriter: local sends, room creation, and the events the
// receiver accepts from other servers), so all of them are indexed alike. Events a client is never
// shown (outliers, rejected and soft-failed events) index nothing.
import type { PersistEventInput, RelationRecord } from '../../storage/types.js';
import { relationOf, searchableText, type Relation } from '../../wire.js';

/** The thread of events outside any thread (modules/threading.md, receipts.md "Threaded read receipts"). */
export const MAIN_THREAD = 'main';
/** Relations followed to find an event's thread (modules/push.md: "a maximum of 3 hops is recommended"). */
export const THREAD_HOPS = 3;

/**
 * The thread an event with relation `rel` is in: the root it names with m.thread, or the thread of
 * the event it relates to otherwise (an edit or reaction of a threaded reply), up to THREAD_HOPS
 * relations; `main` for everything else, thread roots included.
 */
export async function threadOf(rel: Relation | undefined, getRelation: (eventId: string) => Promise<RelationRecord | undefined>): Promise<string> {
  let current = rel ? { relType: rel.relType, parent: rel.eventId } : undefined;
  for (let hop = 1; current; hop++) {
    if (current.relType === 'm.thread') return current.parent;
    if (hop >= THREAD_HOPS) break;
    const up = await getRelation(current.parent);
    current = up ? { relType: up.relType, parent: up.relatesTo } : undefined;
  }
  return MAIN_THREAD;
}

/** Sets the input's relation, thread and search text (nothing for events never shown to clients). */
export async function addIndexes(input: PersistEventInput, getRelation: (eventId: string) => Promise<RelationRecord | undefined>): Promise<void> {
  const g = input.graph;
  if (g?.outlier || g?.rejected || g?.softFailed) return;
  const e = input.event;
  const rel = relationOf(e.content);
  if (rel && rel.eventId !== e.event_id) input.relation = rel;
  input.threadId = await threadOf(input.relation, getRelation);
  const text = searchableText(e);
  if (text) input.search = text;
}
