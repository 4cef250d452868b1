// Reading rooms: single events, history pages, context, members, state, with history visibility.
// (matrix-spec: room_event_by_id.yaml? rooms.yaml, message_pagination.yaml, room_initial_sync.yaml;
//  client-server-api "History visibility")
import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import type { RoomStore } from '../../storage/types.js';
import type { EventWriter } from '../events/writer.js';

export class RoomReader {
  constructor(
    readonly config: Config,
    readonly store: RoomStore,
    readonly writer: EventWriter,
    readonly clock: Clock,
  ) {}
}
