// Bundled aggregations (matrix-spec: client-server-api "Aggregations of child events"): what the
// server summarises of an event's children in its `unsigned["m.relations"]`, for the events it serves
// through /sync, /messages, /context, /event, /relations, /threads and /search.
//
//   m.thread     (modules/threading.md "Server-side aggregation of m.thread relationships"):
//                `latest_event` (the topologically newest reply the viewer may see, from a user they do
//                not ignore, itself with its own aggregations), `count` (replies from users they do not
//                ignore), `current_user_participated` (they sent the root or a reply).
//   m.replace    (event_replacements.md, v1.7+): the most recent valid replacement, formatted as
//                normal (by origin_server_ts, then the greatest event ID); none for a redacted original.
//   m.reference  (reference_relations.md): `chunk` of the referencing events' IDs.
//   m.annotation is not aggregated (event_annotations.md). State events get no aggregations.
//
// Children the viewer may not see under history visibility are left out of every aggregation; a
// redacted child declares no relation any more (its index row went with its content).
import type { EventRecord, RoomStore } from '../../storage/types.js';
import { relationOf } from '../../wire.js';
import { clientFormatter, type ClientEvent, type Viewer } from '../events/client-format.js';
import type { JsonObject, StoredEvent } from '../events/types.js';
import type { Visibility } from './read.js';

/** Highest position; stands for "no upper bound" (as in read.ts). */
const END = Number.MAX_SAFE_INTEGER - 1;
const TOPO_END = { depth: Number.MAX_SAFE_INTEGER, streamOrdering: Number.MAX_SAFE_INTEGER };
/** Candidates read per parent when looking for the newest valid edit, or a thread's newest visible reply. */
const CANDIDATES = 50;
/** References listed per parent (polls gather many). */
const MAX_REFERENCES = 100;

/**
 * Whether `replacement` validly replaces `original` (event_replacements.md "Validity of replacement
 * events"): the same room, sender and type, neither a state event, the original not itself an edit,
 * and the replacement carries an `m.new_content` object (the cleartext of an encrypted replacement has
 * none: its content is in the ciphertext, which the server cannot check, so an encrypted replacement
 * is accepted on the other rules).
 */
export function isValidReplacement(original: StoredEvent, replacement: StoredEvent): boolean {
  const rel = relationOf(replacement.content);
  if (!rel || rel.relType !== 'm.replace' || rel.eventId !== original.event_id) return false;
  if (original.room_id !== replacement.room_id || original.sender !== replacement.sender || original.type !== replacement.type) return false;
  if (original.state_key !== undefined || replacement.state_key !== undefined) return false;
  if (relationOf(original.content)?.relType === 'm.replace') return false;
  if (replacement.type === 'm.room.encrypted') return true;
  const nc = replacement.content['m.new_content'];
  return typeof nc === 'object' && nc !== null && !Array.isArray(nc);
}

/** The most recent of several replacements: greatest origin_server_ts, then the lexicographically greatest event ID. */
export function mostRecent<T extends { event: StoredEvent }>(candidates: T[]): T | undefined {
  let best: T | undefined;
  for (const c of candidates) {
    if (!best || c.event.origin_server_ts > best.event.origin_server_ts
      || (c.event.origin_server_ts === best.event.origin_server_ts && c.event.event_id > best.event.event_id)) best = c;
  }
  return best;
}

/** What the viewer may see of the room: history visibility and, for a departed user, the position they left at. */
export interface Sight {
  vis: Visibility;
  cap: number;
}

export class Aggregator {
  constructor(
    private readonly store: RoomStore,
    private readonly now: () => number,
    /** History visibility of a room for a user (RoomReader.visibility). */
    private readonly visibility: (userId: string, roomId: string) => Promise<Visibility>,
    /** The users a user ignores (m.ignored_user_list). */
    private readonly ignoredBy: (userId: string) => Promise<Set<string>>,
  ) {}

  /**
   * The bundled aggregations of `records` (events of one room) for `viewer`, by event ID; events with
   * nothing to bundle are absent. `sight` defaults to the viewer's history visibility with no cap.
   */
  async bundle(viewer: Viewer, roomId: string, records: EventRecord[], sight?: Sight, nested = false): Promise<Map<string, JsonObject>> {
    const out = new Map<string, JsonObject>();
    const parents = records.filter((r) => r.event.state_key === undefined && r.event.room_id === roomId);
    if (parents.length === 0) return out;
    const ignored = await this.ignoredBy(viewer.userId);
    const counts = await this.store.countRelations(parents.map((r) => r.event.event_id), [...ignored]);
    if (counts.size === 0) return out;
    let seen: Sight | undefined = sight;
    const see = async (): Promise<Sight> => (seen ??= { vis: await this.visibility(viewer.userId, roomId), cap: END });
    const visible = (s: Sight, pos: number) => pos <= s.cap && s.vis.isVisible(pos);
    const set = (id: string, relType: string, value: JsonObject) => {
      const entry = out.get(id) ?? {};
      entry[relType] = value;
      out.set(id, entry);
    };

    // m.thread
    const threadRoots = nested ? [] : parents.filter((r) => (counts.get(r.event.event_id)?.get('m.thread') ?? 0) > 0);
    if (threadRoots.length > 0) {
      const s = await see();
      const participated = await this.store.parentsRelatedBy(threadRoots.map((r) => r.event.event_id), 'm.thread', viewer.userId);
      const latest: EventRecord[] = [];
      const latestOf = new Map<string, EventRecord>();
      for (const root of threadRoots) {
        const replies = await this.store.getRelatingEvents({
          parentId: root.event.event_id, roomId, relType: 'm.thread', dir: 'b', from: TOPO_END, limit: CANDIDATES, depth: 1,
        });
        const newest = replies.find((r) => !ignored.has(r.event.sender) && visible(s, r.streamOrdering));
        if (!newest) continue;
        latest.push(newest);
        latestOf.set(root.event.event_id, newest);
      }
      const formatted = await this.format(viewer, roomId, latest, s);
      for (const root of threadRoots) {
        const id = root.event.event_id;
        const newest = latestOf.get(id);
        if (!newest) continue;
        set(id, 'm.thread', {
          latest_event: formatted.get(newest.event.event_id) as unknown as JsonObject,
          count: counts.get(id)?.get('m.thread') ?? 0,
          current_user_participated: root.event.sender === viewer.userId || participated.has(id),
        });
      }
    }

    // m.replace: for originals that are not redacted (a redacted original bundles no edit).
    const edited = parents.filter((r) => r.redactedBy === null && (counts.get(r.event.event_id)?.get('m.replace') ?? 0) > 0);
    if (edited.length > 0) {
      const s = await see();
      const rows = await this.store.getRelationsOf(edited.map((r) => r.event.event_id), 'm.replace', CANDIDATES);
      const byParent = new Map(edited.map((r) => [r.event.event_id, r]));
      // Only candidates from the original's sender, of its type, and visible, are read.
      const wanted = rows.filter((row) => {
        const original = byParent.get(row.relatesTo);
        return original !== undefined && row.sender === original.event.sender && row.type === original.event.type && visible(s, row.streamOrdering);
      });
      const candidates = wanted.length > 0 ? await this.store.getEvents(wanted.map((w) => w.eventId)) : [];
      const chosen: EventRecord[] = [];
      for (const original of edited) {
        const valid = candidates.filter((c) => c.redactedBy === null && isValidReplacement(original.event, c.event));
        const best = mostRecent(valid);
        if (best) chosen.push(best);
      }
      if (chosen.length > 0) {
        const format = await clientFormatter(this.store, viewer, this.now(), chosen);
        for (const c of chosen) set(relationOf(c.event.content)!.eventId, 'm.replace', format(c) as unknown as JsonObject);
      }
    }

    // m.reference
    const referenced = parents.filter((r) => (counts.get(r.event.event_id)?.get('m.reference') ?? 0) > 0);
    if (referenced.length > 0) {
      const s = await see();
      const rows = await this.store.getRelationsOf(referenced.map((r) => r.event.event_id), 'm.reference', MAX_REFERENCES);
      const byParent = new Map<string, { event_id: string; pos: [number, number] }[]>();
      for (const row of rows) {
        if (ignored.has(row.sender) || !visible(s, row.streamOrdering)) continue;
        const list = byParent.get(row.relatesTo) ?? [];
        list.push({ event_id: row.eventId, pos: [row.depth, row.streamOrdering] });
        byParent.set(row.relatesTo, list);
      }
      for (const [id, list] of byParent) {
        list.sort((a, b) => a.pos[0] - b.pos[0] || a.pos[1] - b.pos[1]);
        set(id, 'm.reference', { chunk: list.map((x) => ({ event_id: x.event_id })) });
      }
    }
    return out;
  }

  /** Client-format events of one room, each with its own aggregations (one level: no threads inside threads). */
  async format(viewer: Viewer, roomId: string, records: EventRecord[], sight?: Sight): Promise<Map<string, ClientEvent>> {
    const out = new Map<string, ClientEvent>();
    if (records.length === 0) return out;
    const format = await clientFormatter(this.store, viewer, this.now(), records);
    const bundles = await this.bundle(viewer, roomId, records, sight, true);
    for (const r of records) {
      const ev = format(r);
      const b = bundles.get(r.event.event_id);
      if (b) ev.unsigned['m.relations'] = b;
      if (sight) ev.unsigned.membership = sight.vis.membershipAt(r.streamOrdering);
      out.set(r.event.event_id, ev);
    }
    return out;
  }

  /** Adds the aggregations of `records` to their formatted events (same order), for `viewer`. */
  async addTo(viewer: Viewer, roomId: string, records: EventRecord[], events: ClientEvent[], sight?: Sight): Promise<void> {
    const bundles = await this.bundle(viewer, roomId, records, sight);
    if (bundles.size === 0) return;
    for (const ev of events) {
      const b = bundles.get(ev.event_id);
      if (b) ev.unsigned['m.relations'] = b;
    }
  }
}
