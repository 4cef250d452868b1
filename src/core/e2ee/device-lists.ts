// Device-list tracking (matrix-spec: client-server-api "Tracking the device list for a user",
// "Extensions to /sync"; keys.yaml#getKeysChanges). Every change of a user's devices (keys uploaded,
// a device with keys deleted) or cross-signing keys takes a position of the global stream
// (design-notes.md "One position for everything a client syncs"), is stored in device_list_changes,
// and wakes the waiting /syncs of the users it concerns: everyone who shares a room with the user,
// and the user. A sync from position N then reports, in device_lists:
//
//   changed: users sharing a room now whose devices or cross-signing keys changed in (N, upTo]; users
//            who came to share a room since N (a room joined, someone joining or invited to a room of
//            ours: the spec's note allows this even if another room was shared already); the user.
//   left:    users who left a shared room (or whose room we left) in (N, upTo] and share none now.
//
// "Share a room" means any room with both joined (as /keys/changes and Synapse), not only encrypted
// rooms: clients track only users of encrypted rooms and ignore the rest.
//
// Federation plugs in here: listeners hear of every local change (to send m.device_list_update /
// m.signing_key_update EDUs), and `recordRemoteChange` takes a remote user's change (from those EDUs)
// into the same stream, so local room-mates re-query.
import type { Logger } from '../../logger.js';
import type { DeviceListChangeRecord, E2eeStore } from '../../storage/e2ee-types.js';
import type { RoomStore } from '../../storage/types.js';
import type { EventWriter } from '../events/writer.js';
import type { Notifier } from '../notifier.js';
import { joinedMembers, type RoomStateService } from '../rooms/room-state.js';
import type { StreamPositions } from '../stream.js';

/** What changed for a local user, as federation needs it (m.device_list_update / m.signing_key_update). */
export interface DeviceListUpdate {
  userId: string;
  /** The change's position in the global stream: the EDU's `stream_id`. */
  streamId: number;
  /** The user's previous change visible to everyone, if any: the EDU's `prev_id`. */
  prevId: number | undefined;
  /** Devices whose keys (or signatures on them) changed, or that were deleted. */
  deviceIds: string[];
  /** Those devices were deleted (their keys are gone). */
  deleted: boolean;
  /** The public cross-signing keys (master, self-signing) or the signatures on the master key changed. */
  crossSigning: boolean;
}

export interface DeviceListListener {
  /** A local user's devices or public cross-signing keys changed (committed). Not called for user-signing keys. */
  onLocalDeviceListUpdate?(update: DeviceListUpdate): void;
}

/** The change to record: who, for whom, and what federation is told. */
export interface DeviceListChange {
  userId: string;
  /** Only this user sees the change (user-signing keys and their signatures); default: everyone sharing a room. */
  onlyFor?: string;
  deviceIds?: string[];
  deleted?: boolean;
  crossSigning?: boolean;
}

export interface DeviceListSection {
  changed: string[];
  left: string[];
}

/** How many recent changes the in-memory window keeps (older windows are read from the store). */
const WINDOW = 10_000;
/** Member events read per room and sync, at most (a room with more changes counts all its members as changed). */
const MAX_MEMBER_EVENTS = 500;

export class DeviceListService {
  private readonly listeners: DeviceListListener[] = [];
  /** Recent changes in stream order; complete for positions above `floor`. */
  private recent: DeviceListChangeRecord[] = [];
  private floor: number | undefined;
  /** Position of the newest m.room.member event per room (seen since start-up). */
  private readonly memberLatest = new Map<string, number>();
  /** No member event this process has not seen is above this position. */
  private memberFloor: number | undefined;

  constructor(
    private readonly serverName: string,
    private readonly store: E2eeStore,
    private readonly rooms: RoomStore,
    private readonly roomState: RoomStateService,
    writer: EventWriter,
    private readonly notifier: Notifier,
    private readonly positions: () => Promise<StreamPositions>,
    private readonly logger: Logger,
  ) {
    writer.addListener({
      onEventPersisted: (rec) => {
        if (rec.event.type === 'm.room.member') this.memberLatest.set(rec.event.room_id, rec.streamOrdering);
      },
    });
  }

  addListener(l: DeviceListListener): void {
    this.listeners.push(l);
  }

  private async init(): Promise<StreamPositions> {
    const positions = await this.positions();
    // Every change and member event from now on passes through this service.
    this.floor ??= positions.current;
    this.memberFloor ??= positions.current;
    return positions;
  }

  /**
   * Records a change: takes the next position, runs `write(record)` (the caller's store write, which
   * records the change row in the same transaction as the keys; it answers false when there was
   * nothing to record), then wakes the users it concerns and tells the listeners. The position enters
   * the in-memory window in the same tick it is taken, so a sync that reads the current position can
   * never miss it. `change` is read after the write (which may fill in `deviceIds`).
   */
  async publish(change: DeviceListChange, write: (record: DeviceListChangeRecord) => Promise<boolean | void>): Promise<number | undefined> {
    const positions = await this.init();
    const visible = change.onlyFor === undefined && this.isLocal(change.userId);
    const prevId = visible ? await this.latestVisible(change.userId) : undefined;
    await positions.available();
    const record: DeviceListChangeRecord = { streamOrdering: positions.next(), userId: change.userId, onlyFor: change.onlyFor ?? null };
    this.remember(record);
    let recorded: boolean | void;
    try {
      recorded = await write(record);
    } catch (e) {
      this.forget(record);
      throw e;
    }
    if (recorded === false) {
      this.forget(record);
      return undefined;
    }
    await this.wake(record);
    if (visible) {
      const update: DeviceListUpdate = {
        userId: change.userId, streamId: record.streamOrdering, prevId, deviceIds: change.deviceIds ?? [],
        deleted: change.deleted ?? false, crossSigning: change.crossSigning ?? false,
      };
      for (const l of this.listeners) {
        try {
          l.onLocalDeviceListUpdate?.(update);
        } catch (err) {
          this.logger.error({ err, userId: change.userId }, 'device-list listener failed');
        }
      }
    }
    return record.streamOrdering;
  }

  /**
   * A remote user's devices or cross-signing keys changed (an m.device_list_update or
   * m.signing_key_update EDU from their server): local users who share a room with them see them in
   * device_lists.changed and query their keys again.
   */
  async recordRemoteChange(userId: string): Promise<number> {
    return (await this.publish({ userId }, (record) => this.store.recordDeviceListChanges([record])))!;
  }

  private isLocal(userId: string): boolean {
    return userId.endsWith(`:${this.serverName}`);
  }

  private async latestVisible(userId: string): Promise<number | undefined> {
    for (let i = this.recent.length - 1; i >= 0; i--) {
      const c = this.recent[i]!;
      if (c.userId === userId && c.onlyFor === null) return c.streamOrdering;
    }
    return this.store.latestDeviceListChange(userId);
  }

  private remember(record: DeviceListChangeRecord): void {
    // Positions are taken in order and remembered in the same tick: appending keeps the window sorted.
    this.recent.push(record);
    if (this.recent.length > WINDOW) {
      const dropped = this.recent.splice(0, this.recent.length - WINDOW);
      this.floor = dropped[dropped.length - 1]!.streamOrdering;
    }
  }

  private forget(record: DeviceListChangeRecord): void {
    const i = this.recent.lastIndexOf(record);
    if (i >= 0) this.recent.splice(i, 1);
  }

  /** Wakes the user, and everyone sharing a room with them unless the change is for one user only. */
  private async wake(record: DeviceListChangeRecord): Promise<void> {
    if (record.onlyFor !== null) {
      this.notifier.notify([record.onlyFor], record.streamOrdering);
      return;
    }
    this.notifier.notify(await this.roomMates(record.userId), record.streamOrdering);
  }

  /** The user and everyone joined to one of the user's joined rooms. */
  async roomMates(userId: string): Promise<Set<string>> {
    const out = new Set<string>([userId]);
    for (const m of await this.rooms.getRoomsForUser(userId, ['join'])) {
      const room = await this.roomState.get(m.roomId);
      if (room) for (const u of joinedMembers(room)) out.add(u);
    }
    return out;
  }

  /** Changes with a position in (after, upTo]. */
  private async changesBetween(after: number, upTo: number): Promise<DeviceListChangeRecord[]> {
    if (upTo <= after) return [];
    if (this.floor !== undefined && after >= this.floor) {
      const out: DeviceListChangeRecord[] = [];
      // Newest first until the window's start passes `after`.
      for (let i = this.recent.length - 1; i >= 0; i--) {
        const c = this.recent[i]!;
        if (c.streamOrdering <= after) break;
        if (c.streamOrdering <= upTo) out.push(c);
      }
      return out.reverse();
    }
    return this.store.getDeviceListChanges(after, upTo);
  }

  /** Whether the room may have had a member event in (since, ...]. */
  private memberEventsSince(roomId: string, since: number): boolean {
    const latest = this.memberLatest.get(roomId);
    if (latest !== undefined) return latest > since;
    return this.memberFloor === undefined || since < this.memberFloor;
  }

  /**
   * The `device_lists` section of a sync from `since` up to `upTo` (also GET /keys/changes): see the
   * file comment. Costs what changed: the changes in the window, and the member events of rooms that
   * had any since `since`.
   */
  async section(userId: string, since: number, to: number): Promise<DeviceListSection> {
    // A position from the future (a token from before a database reset) means now.
    const upTo = Math.min(to, (await this.init()).current);
    const changed = new Set<string>();
    const leftCandidates = new Set<string>();
    if (upTo <= since) return { changed: [], left: [] };
    const memberships = await this.rooms.getRoomsForUser(userId, ['join', 'leave', 'ban']);
    const joined = new Set(memberships.filter((m) => m.membership === 'join').map((m) => m.roomId));
    const sharesRoom = async (other: string): Promise<boolean> => {
      if (other === userId) return true;
      for (const m of await this.rooms.getRoomsForUser(other, ['join'])) if (joined.has(m.roomId)) return true;
      return false;
    };

    for (const c of await this.changesBetween(since, upTo)) {
      if (changed.has(c.userId)) continue;
      if (c.onlyFor !== null) {
        if (c.onlyFor === userId) changed.add(c.userId);
        continue;
      }
      if (await sharesRoom(c.userId)) changed.add(c.userId);
    }

    for (const m of memberships) {
      if (!this.memberEventsSince(m.roomId, since)) continue;
      const room = await this.roomState.get(m.roomId);
      if (!room) continue;
      if (m.membership !== 'join') {
        // We left (or were removed) in the window: its members may share nothing with us any more.
        if (m.streamOrdering > since && m.streamOrdering <= upTo) for (const u of joinedMembers(room)) leftCandidates.add(u);
        continue;
      }
      if (m.streamOrdering > since && m.streamOrdering <= upTo && !(await this.wasJoinedAt(m.roomId, userId, since))) {
        // Newly joined: everyone in it is new to us (or may be).
        for (const u of joinedMembers(room)) changed.add(u);
        continue;
      }
      const events = await this.rooms.getRoomEvents({ roomId: m.roomId, from: upTo + 1, dir: 'b', to: since, limit: MAX_MEMBER_EVENTS + 1, types: ['m.room.member'] });
      if (events.length > MAX_MEMBER_EVENTS) {
        for (const u of joinedMembers(room)) changed.add(u);
        continue;
      }
      for (const r of events) {
        const target = r.event.state_key;
        if (target === undefined || target === userId) continue;
        const membership = r.event.content.membership;
        if (membership === 'join' || membership === 'invite') {
          if (!(await this.wasJoinedAt(m.roomId, target, since))) changed.add(target);
        } else if (membership === 'leave' || membership === 'ban') {
          leftCandidates.add(target);
        }
      }
    }

    const left: string[] = [];
    for (const u of leftCandidates) {
      if (u === userId || (await sharesRoom(u))) continue;
      left.push(u);
      changed.delete(u);
    }
    return { changed: [...changed].sort(), left: left.sort() };
  }

  private async wasJoinedAt(roomId: string, userId: string, at: number): Promise<boolean> {
    const v = await this.rooms.getStateValueAt(roomId, 'm.room.member', userId, at);
    return v?.event.content.membership === 'join';
  }
}
