// History from other servers (matrix-spec: server-server-api "Backfilling and retrieving missing
// events"; backfill.yaml#backfillRoom): when a client's /messages reaches the oldest event this server
// holds of a room and the room's graph names older events we lack (backward extremities: a room
// joined over federation starts at the join), they are asked of the other servers in the room and
// placed in the graph by depth (spec/event-graph.md "backfilled"), never in /sync. The oldest of a
// batch, whose own prev events are still missing, is placed on the state before it as its server
// gives it (/state), so the next backfill continues from there.
import type { Logger } from '../../logger.js';
import type { RoomStore } from '../../storage/types.js';
import type { Clock } from '../../clock.js';
import { MissingEventsError } from '../events/receive.js';
import type { RoomStateService } from '../rooms/room-state.js';
import { topologicalOrder, type RemoteEvents } from './remote-events.js';
import { isResident, roomAllowsServer, serversInRoom } from './room-servers.js';

/** A backfill that brought nothing new is not tried again for the same gap for this long. */
const NOTHING_NEW_PAUSE_MS = 5 * 60_000;
/** At most this many backward extremities are named in one request (the deepest). */
const MAX_FROM = 20;

export class Backfiller {
  private readonly inFlight = new Map<string, Promise<boolean>>();
  /** Rooms whose last backfill brought nothing: the gap it tried, until when not to try it again. */
  private readonly fruitless = new Map<string, { gap: string; until: number }>();

  constructor(
    private readonly serverName: string,
    private readonly store: RoomStore,
    private readonly roomState: RoomStateService,
    private readonly remote: RemoteEvents,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /**
   * Fetches up to `limit` older events of the room from another server, from the gaps named (missing
   * prev events a page of history ran into) or else from all of the room's; true when any was stored.
   */
  backfill(roomId: string, limit: number, gaps?: string[]): Promise<boolean> {
    const running = this.inFlight.get(roomId);
    if (running) return running;
    const p = this.run(roomId, limit, gaps).finally(() => this.inFlight.delete(roomId));
    this.inFlight.set(roomId, p);
    return p;
  }

  private async run(roomId: string, limit: number, near: string[] | undefined): Promise<boolean> {
    const room = await this.roomState.get(roomId);
    if (!room || !isResident(room, this.serverName)) return false;
    const gapIds = near && near.length > 0 ? near : await this.store.getBackwardExtremities(roomId);
    if (gapIds.length === 0) return false;
    const gap = [...gapIds].sort().join(',');
    const pause = this.fruitless.get(roomId);
    if (pause && pause.gap === gap && pause.until > this.clock.now()) return false;
    const servers = [...serversInRoom(room, ['join', 'leave', 'ban'])].filter((s) => s !== this.serverName && roomAllowsServer(room, s));
    for (const server of servers) {
      let stored = 0;
      try {
        const events = await this.remote.backfill(server, roomId, gapIds.slice(0, MAX_FROM), Math.min(Math.max(limit, 10), 100), room.version);
        for (const e of topologicalOrder(events)) {
          if (e.pdu.room_id !== undefined && e.pdu.room_id !== roomId && e.pdu.type !== 'm.room.create') continue;
          let r;
          try {
            r = await this.remote.receiveFetchingAuth(server, roomId, e, room.version, { backfilled: true });
          } catch (err) {
            if (!(err instanceof MissingEventsError) || err.kind !== 'prev_events') throw err;
            // Its own history is still missing: place it on the state before it, as `server` has it.
            const { state, authChain } = await this.remote.fetchState(server, roomId, e.eventId, room.version);
            await this.remote.storeOutliers(server, roomId, [...authChain, ...state], room.version);
            const usable = new Set((await this.store.getEvents(state.map((x) => x.eventId))).filter((x) => !x.graph?.rejected).map((x) => x.event.event_id));
            const stateBefore = new Map<string, string>();
            for (const x of state) {
              if (usable.has(x.eventId) && typeof x.pdu.type === 'string' && typeof x.pdu.state_key === 'string') stateBefore.set(`${x.pdu.type}\u0000${x.pdu.state_key}`, x.eventId);
            }
            r = await this.remote.receiveFetchingAuth(server, roomId, e, room.version, { backfilled: true, stateBefore });
          }
          if (r?.status === 'accepted') stored++;
        }
      } catch (err) {
        this.logger.info({ server, roomId, err }, 'federation: backfill failed');
        continue;
      }
      if (stored > 0) {
        this.fruitless.delete(roomId);
        return true;
      }
    }
    this.fruitless.set(roomId, { gap, until: this.clock.now() + NOTHING_NEW_PAUSE_MS });
    return false;
  }
}
