// Memberships of local users in rooms this server does not hold (server-server-api "Inviting to a
// room", "Rejecting invites"): an invite from another server for a room none of our users is in, and
// its rejection. The event is stored as an outlier (no state, not in the room's timeline); the user's
// room list gets the membership at a new stream position, so /sync shows the invite (with the
// stripped state the inviting server sent, kept in the event's `unsigned.invite_room_state`) or the
// rejection (the room under `leave`).
import type { EventRecord, RoomStore } from '../../storage/types.js';
import type { JsonObject, StoredEvent } from '../../wire.js';
import type { Notifier } from '../notifier.js';
import type { RoomVersion } from '../room-versions.js';
import type { StreamPositions } from '../stream.js';

export class OutOfBandMemberships {
  constructor(
    private readonly store: RoomStore,
    private readonly positions: () => Promise<StreamPositions>,
    private readonly notifier: Notifier,
  ) {}

  /** Stores `event` (an outlier) and the local user's membership it sets; wakes the user's /sync. */
  async record(event: StoredEvent, version: RoomVersion, unsigned: JsonObject | null): Promise<EventRecord> {
    const userId = event.state_key!;
    const membership = typeof event.content.membership === 'string' ? event.content.membership : 'leave';
    const existing = await this.store.getEvent(event.event_id);
    if (existing) return existing;
    const known = await this.store.getRoom(event.room_id);
    const positions = await this.positions();
    await positions.available();
    // A write in flight: readers do not pass its position before it is stored (core/stream.ts).
    const position = positions.begin();
    try {
      await this.store.persistEvent({
        event, streamOrdering: position, unsigned, extremities: [],
        graph: { newGroups: [], stateBefore: null, stateAfter: null, outlier: true },
        outOfBand: { userId, membership, streamOrdering: position },
        ...(known ? {} : { newRoom: { roomVersion: version.id, creator: event.sender, createdTs: event.origin_server_ts } }),
      });
    } finally {
      positions.done(position);
    }
    this.notifier.notify([userId], position);
    return { event, streamOrdering: position, unsigned, redactedBy: null, txn: null, serverLocal: false, graph: { stateBefore: null, stateAfter: null, outlier: true, rejected: null, softFailed: false } };
  }
}
