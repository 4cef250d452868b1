// State resolution (core/state/resolution.ts) over the stored events: what the writer and the receipt
// of remote events call to resolve several room states into one.
import type { RoomStore } from '../../storage/types.js';
import type { StoredEvent } from '../events/types.js';
import type { ResolutionSource } from './resolution.js';

export { resolveState } from './resolution.js';

/** Events come from storage; an event remembered as rejected never serves as an auth event. */
export function resolutionSource(store: Pick<RoomStore, 'getEvents'>): ResolutionSource {
  const rejected = new Set<string>();
  return {
    async fetchEvents(ids: string[]): Promise<Map<string, StoredEvent>> {
      const out = new Map<string, StoredEvent>();
      for (const r of await store.getEvents(ids)) {
        out.set(r.event.event_id, r.event);
        if (r.graph?.rejected) rejected.add(r.event.event_id);
      }
      return out;
    },
    isRejected: (eventId: string) => rejected.has(eventId),
  };
}
