// State resolution (core/state/resolution.ts) over the stored events: what the writer and the receipt
// of remote events call to resolve several room states into one.
import type { RoomStore } from '../../storage/types.js';
import type { StoredEvent } from '../events/types.js';
import type { ResolutionSource } from './resolution.js';

export { resolveState } from './resolution.js';

/**
 * Events come from storage, or from `pending` (events being placed that are not stored yet); an event
 * remembered as rejected never serves as an auth event.
 */
export function resolutionSource(store: Pick<RoomStore, 'getEvents'>, pending: StoredEvent[] = []): ResolutionSource {
  const rejected = new Set<string>();
  const known = new Map(pending.map((e) => [e.event_id, e]));
  return {
    async fetchEvents(ids: string[]): Promise<Map<string, StoredEvent>> {
      const out = new Map<string, StoredEvent>();
      const missing = ids.filter((id) => {
        const e = known.get(id);
        if (e) out.set(id, e);
        return !e;
      });
      if (missing.length === 0) return out;
      for (const r of await store.getEvents(missing)) {
        out.set(r.event.event_id, r.event);
        if (r.graph?.rejected) rejected.add(r.event.event_id);
      }
      return out;
    },
    isRejected: (eventId: string) => rejected.has(eventId),
  };
}
