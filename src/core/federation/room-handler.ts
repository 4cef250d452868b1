// Received PDUs and EDUs (matrix-spec: server-server/transactions.yaml#sendTransaction;
// server-server-api "Checks performed on receipt of a PDU", "Retrieving missing events"): each PDU of
// a room this server is in goes through EventReceiver; a PDU whose prev events are unknown first has
// them fetched from its origin with get_missing_events (a small gap); when that does not close the
// gap, the state before the event is fetched (/state) and the event is placed on it, its missing
// ancestors recorded as a gap that backfill can fill later. EDUs go to the handler registered for
// their type; unknown types are ignored, as the spec asks.
import type { Logger } from '../../logger.js';
import type { JsonObject } from '../../wire.js';
import { computeEventId } from '../crypto/event-hashing.js';
import { MissingEventsError, type ReceiveResult } from '../events/receive.js';
import type { RoomVersion } from '../room-versions.js';
import type { RoomStateService } from '../rooms/room-state.js';
import type { RoomStore } from '../../storage/types.js';
import { roomVersionOfPdu, type Edu, type FederationEventHandler, type PduResult } from './handler.js';
import { topologicalOrder, type IdentifiedPdu, type RemoteEvents } from './remote-events.js';
import { isResident, roomAllowsServer } from './room-servers.js';

/** How many missing events one get_missing_events asks for (Synapse asks for 10). */
export const MISSING_EVENTS_LIMIT = 10;

/** Handles one EDU type; `origin` is the authenticated sending server. */
export type EduHandler = (origin: string, content: JsonObject) => Promise<void>;

export class RoomFederationHandler implements FederationEventHandler {
  private readonly edus = new Map<string, EduHandler>();

  constructor(
    private readonly serverName: string,
    private readonly store: RoomStore,
    private readonly roomState: RoomStateService,
    private readonly remote: RemoteEvents,
    private readonly logger: Logger,
  ) {}

  /** The handler of an EDU type (typing, presence, receipts, to-device, device lists, server events). */
  onEduType(type: string, handler: EduHandler): void {
    this.edus.set(type, handler);
  }

  async onEdu(origin: string, edu: Edu): Promise<void> {
    const handler = this.edus.get(edu.edu_type);
    if (!handler) {
      this.logger.debug({ origin, eduType: edu.edu_type }, 'federation: EDU of an unknown type ignored');
      return;
    }
    await handler(origin, edu.content);
  }

  async onPdu(origin: string, pdu: JsonObject): Promise<PduResult> {
    const version = await roomVersionOfPdu(this.store, pdu);
    if (!version) return { error: 'Unknown room' };
    let eventId: string;
    try {
      eventId = computeEventId(pdu, version);
    } catch {
      return { error: 'Not a valid event' };
    }
    const roomId = pdu.room_id as string;
    const room = await this.roomState.get(roomId);
    if (!room || !isResident(room, this.serverName)) return { eventId, error: 'This server is not in the room' };
    if (!roomAllowsServer(room, origin)) return { eventId, error: 'The room\'s server ACL does not allow your server' };
    try {
      const r = await this.receiveWithGaps(origin, roomId, { eventId, pdu }, version);
      if (!r) return { eventId, error: 'The event could not be checked' };
      if (r.status === 'rejected') return { eventId, error: `Rejected: ${r.reason ?? 'auth rules'}` };
      return { eventId };
    } catch (e) {
      this.logger.info({ origin, roomId, eventId, err: e }, 'federation: a PDU could not be received');
      return { eventId, error: e instanceof Error ? e.message : String(e) };
    }
  }

  /**
   * Receives an event of a room this server is in, filling a gap before it: get_missing_events from
   * `origin` for up to MISSING_EVENTS_LIMIT events between our forward extremities and it, then, if
   * prev events are still missing, the state before it from `origin`.
   */
  async receiveWithGaps(origin: string, roomId: string, e: IdentifiedPdu, version: RoomVersion): Promise<ReceiveResult | undefined> {
    try {
      return await this.remote.receiveFetchingAuth(origin, roomId, e, version, {});
    } catch (err) {
      if (!(err instanceof MissingEventsError) || err.kind !== 'prev_events') throw err;
    }
    const room = await this.roomState.get(roomId);
    const earliest = room?.extremities.map((x) => x.eventId) ?? [];
    const minDepth = Math.max(0, Math.min(...(room?.extremities.map((x) => x.depth) ?? [0])) - 1);
    let missing: IdentifiedPdu[] = [];
    try {
      missing = await this.remote.getMissingEvents(origin, roomId, earliest, [e.eventId], MISSING_EVENTS_LIMIT, minDepth, version);
    } catch (fetchErr) {
      this.logger.info({ origin, roomId, eventId: e.eventId, err: fetchErr }, 'federation: get_missing_events failed');
    }
    for (const m of topologicalOrder(missing.filter((x) => x.eventId !== e.eventId))) {
      try {
        await this.placeOrOnState(origin, roomId, m, version);
      } catch (mErr) {
        this.logger.info({ origin, roomId, eventId: m.eventId, err: mErr }, 'federation: a missing event could not be received');
      }
    }
    return this.placeOrOnState(origin, roomId, e, version);
  }

  /** Receives an event; if its prev events are still unknown, on the state before it as `origin` gives it. */
  private async placeOrOnState(origin: string, roomId: string, e: IdentifiedPdu, version: RoomVersion): Promise<ReceiveResult | undefined> {
    try {
      return await this.remote.receiveFetchingAuth(origin, roomId, e, version, {});
    } catch (err) {
      if (!(err instanceof MissingEventsError) || err.kind !== 'prev_events') throw err;
    }
    const { state, authChain } = await this.remote.fetchState(origin, roomId, e.eventId, version);
    await this.remote.storeOutliers(origin, roomId, [...authChain, ...state], version);
    const stored = new Set((await this.store.getEvents(state.map((s) => s.eventId))).filter((r) => !r.graph?.rejected).map((r) => r.event.event_id));
    const stateBefore = new Map<string, string>();
    for (const s of state) {
      if (!stored.has(s.eventId) || typeof s.pdu.type !== 'string' || typeof s.pdu.state_key !== 'string') continue;
      stateBefore.set(`${s.pdu.type}\u0000${s.pdu.state_key}`, s.eventId);
    }
    return this.remote.receiveFetchingAuth(origin, roomId, e, version, { stateBefore });
  }
}
