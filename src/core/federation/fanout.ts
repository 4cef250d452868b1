// Events this server's users send reach the other servers in the room (server-server-api "PDUs": "the
// originating server ... sends them to every server with a user in the room"): each local graph event,
// once committed, is queued for the servers with joined members, plus, for a membership change, the
// server of the user it concerns (a kicked user's server learns of the kick). Servers the room's ACL
// refuses get nothing. Received events are not sent on: their origin sends them to everyone.
import type { Logger } from '../../logger.js';
import type { EventRecord } from '../../storage/types.js';
import { pduOf } from '../../wire.js';
import type { EventListener, EventSource } from '../events/writer.js';
import type { RoomState } from '../rooms/room-state.js';
import { roomAllowsServer, serverOfUser, serversInRoom } from './room-servers.js';
import type { FederationSender } from './sender.js';

/** The servers a local event of `room` (its state after the event) goes to, without this one. */
export function destinationsFor(record: EventRecord, room: RoomState, serverName: string): string[] {
  const out = serversInRoom(room);
  const e = record.event;
  if (e.type === 'm.room.member' && e.state_key !== undefined) {
    const target = serverOfUser(e.state_key);
    if (target) out.add(target);
  }
  out.delete(serverName);
  return [...out].filter((s) => roomAllowsServer(room, s));
}

export class PduFanout implements EventListener {
  /** Sends queued but not yet stored (stop waits for them). */
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly serverName: string,
    private readonly sender: FederationSender,
    private readonly logger: Logger,
    private readonly enabled: boolean,
  ) {}

  onEventPersisted(record: EventRecord, room: RoomState, source: EventSource): void {
    if (!this.enabled || source !== 'local' || record.serverLocal || record.streamOrdering <= 0) return;
    this.send(record, room);
  }

  /** Queues an event for the servers in its room (also used for events a resident server must pass on: send_join, send_leave). */
  send(record: EventRecord, room: RoomState, except: string[] = []): void {
    const destinations = destinationsFor(record, room, this.serverName).filter((d) => !except.includes(d));
    if (destinations.length === 0) return;
    const p = this.sender.sendPdu(destinations, pduOf(record.event))
      .catch((err: unknown) => this.logger.error({ err, eventId: record.event.event_id, roomId: record.event.room_id }, 'federation: could not queue an event for other servers'))
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Waits until every event handed over is queued durably. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
