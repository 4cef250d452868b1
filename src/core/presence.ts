// Presence, scoped to sessions (spec/sessions.md "Presence"): a user's presence is the most present
// of their live sessions (online > unavailable > offline); with no live session it is offline. A
// session with no active action for presence.idle_timeout_ms counts as unavailable. status_msg and
// the last-active time are per user and persisted; nobody is online after a restart until they make
// a request. Every change of the derived value takes a position and wakes the user's room-mates.
// Other servers' users have the presence their server last sent (setRemote), until it times out.
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { forbidden, invalidParam, notFound } from '../errors.js';
import type { AccountStore, MetaStore, RoomStore } from '../storage/types.js';
import { BackgroundTasks } from './background.js';
import type { DeadlineQueue } from './deadlines.js';
import type { JsonObject } from './events/types.js';
import { joinedMembers, type EventWriter } from './events/writer.js';
import type { RoomStateService } from './rooms/room-state.js';
import { parseUserId } from './ids.js';
import type { Notifier } from './notifier.js';
import type { Session, SessionListener, SessionPresence, SessionService } from './sessions.js';
import type { StreamPositions } from './stream.js';
import type { ReplicaLink } from './replica.js';

/** A user's presence as one process set it, sent to the other processes of a cluster. */
export interface PresenceChange {
  user: string;
  state: PresenceState;
}

export type Presence = SessionPresence;

export interface PresenceState {
  presence: Presence;
  statusMsg: string | null;
  lastActiveTs: number;
  currentlyActive: boolean;
  position: number;
}

const RANK: Record<Presence, number> = { offline: 0, unavailable: 1, online: 2 };
export const MAX_STATUS_MSG_CHARS = 1024;

/** Told of every change of a local user's derived presence (federation sends it on). */
export interface PresenceListener {
  presenceChanged(userId: string): void;
}

/** Another server's user's presence as their server sent it (m.presence EDU). */
export interface RemotePresence {
  presence: Presence;
  lastActiveAgo?: number;
  currentlyActive?: boolean;
  statusMsg?: string | null;
}

export class PresenceService implements SessionListener {
  private states = new Map<string, PresenceState>();
  private statusCache = new Map<string, string | null>();
  private readonly listeners: PresenceListener[] = [];
  private link: ReplicaLink<PresenceChange> | undefined;

  constructor(
    private readonly config: Config,
    private readonly sessions: SessionService,
    private readonly rooms: RoomStore,
    private readonly accounts: AccountStore,
    private readonly meta: MetaStore,
    private readonly writer: EventWriter,
    private readonly roomState: RoomStateService,
    private readonly notifier: Notifier,
    private readonly positions: () => Promise<StreamPositions>,
    private readonly deadlines: DeadlineQueue,
    private readonly clock: Clock,
    /** Recomputes started by session changes run here (the server's stop waits for them). */
    private readonly background: BackgroundTasks = new BackgroundTasks(),
  ) {
    sessions.addListener(this);
    // Someone who joins a room shows their presence to its members in their next /sync (the other
    // way round, the joiner gets the members' presence: syncEvents, newly joined rooms).
    writer.addListener({
      onEventPersisted: (rec) => {
        const e = rec.event;
        if (e.type === 'm.room.member' && e.state_key !== undefined && e.content.membership === 'join') void this.announceJoin(e.state_key, e.room_id);
      },
    });
  }

  addListener(l: PresenceListener): void {
    this.listeners.push(l);
  }

  /**
   * Shares presence with the other processes of a cluster: each user's presence set here (with its
   * position) is sent, and what they set is applied here, so every process answers /sync and
   * GET /presence alike. Sessions are shared too (src/cluster/sessions.ts): derive() sees them all.
   */
  share(link: ReplicaLink<PresenceChange>): void {
    this.link = link;
    link.onReceive(({ user, state }) => {
      this.states.set(user, state);
      this.statusCache.set(user, state.statusMsg);
      this.log(state.position, user);
    });
  }

  get enabled(): boolean {
    return this.config.presence.enabled;
  }

  // SessionListener: every change in a user's sessions may change their presence.
  sessionStarted(s: Session): void { this.scheduleIdle(s); this.background.run(this.recompute(s.userId)); }
  sessionChanged(s: Session): void { this.scheduleIdle(s); this.background.run(this.recompute(s.userId)); }
  sessionEnded(s: Session): void { this.deadlines.cancel(`idle:${s.id}`); this.background.run(this.recompute(s.userId)); }

  /** When the session would turn idle, presence is recomputed (online -> unavailable). */
  private scheduleIdle(s: Session): void {
    if (!this.enabled || s.presence !== 'online') return;
    this.deadlines.schedule(`idle:${s.id}`, s.lastActiveTs + this.config.presence.idle_timeout_ms, () => {
      if (this.sessions.store.get(s.id) !== s) return;
      if (!this.sessions.isIdle(s)) this.scheduleIdle(s);
      else this.background.run(this.recompute(s.userId));
    });
  }

  private effective(s: Session): Presence {
    if (s.presence === 'online' && this.sessions.isIdle(s)) return 'unavailable';
    return s.presence;
  }

  /** The user's presence derived from their live sessions. */
  derive(userId: string): { presence: Presence; lastActiveTs: number | null } {
    let best: Presence = 'offline';
    let lastActive: number | null = null;
    for (const s of this.sessions.store.forUser(userId)) {
      const p = this.effective(s);
      if (RANK[p] > RANK[best]) best = p;
      if (p !== 'offline' && (lastActive === null || s.lastActiveTs > lastActive)) lastActive = s.lastActiveTs;
    }
    return { presence: best, lastActiveTs: lastActive };
  }

  private async statusMsg(userId: string): Promise<string | null> {
    if (this.statusCache.has(userId)) return this.statusCache.get(userId)!;
    const row = await this.meta.getPresenceStatus(userId);
    // A status set while the row was being read is newer than the row: keep it.
    if (this.statusCache.has(userId)) return this.statusCache.get(userId)!;
    const msg = row?.statusMsg ?? null;
    this.statusCache.set(userId, msg);
    return msg;
  }

  /** Recomputes the user's presence; a change takes a position and wakes room-mates. */
  async recompute(userId: string, force = false): Promise<void> {
    if (!this.enabled) return;
    const statusMsg = await this.statusMsg(userId);
    const positions = await this.positions();
    await positions.available();
    // Derive, compare and record without awaiting in between: recomputes started close together
    // (a session starting and ending in one tick) then settle on the newest state, never an older one.
    const d = this.derive(userId);
    const prev = this.states.get(userId);
    const currentStatus = this.statusCache.has(userId) ? this.statusCache.get(userId)! : statusMsg;
    const currentlyActive = d.presence === 'online';
    const lastActiveTs = d.lastActiveTs ?? prev?.lastActiveTs ?? 0;
    if (!force && prev && prev.presence === d.presence && prev.statusMsg === currentStatus && prev.currentlyActive === currentlyActive) return;
    if (!prev && d.presence === 'offline' && !force) return; // never seen, still offline
    const position = positions.next();
    this.states.set(userId, { presence: d.presence, statusMsg: currentStatus, lastActiveTs, currentlyActive, position });
    this.link?.send({ user: userId, state: this.states.get(userId)! });
    this.log(position, userId);
    for (const l of this.listeners) l.presenceChanged(userId);
    if (d.lastActiveTs !== null) await this.meta.setPresenceStatus(userId, currentStatus, d.lastActiveTs);
    this.notifier.notify(await this.audience(userId), position);
  }

  /**
   * Another server's user's presence, as their server sent it (the caller checked that the user shares
   * a room with this server's users): shown like local presence to the users who share a room with
   * them; it turns offline after `timeoutMs` without an update (their server renews it).
   */
  async setRemote(userId: string, p: RemotePresence, timeoutMs: number): Promise<void> {
    if (!this.enabled) return;
    const positions = await this.positions();
    await positions.available();
    const now = this.clock.now();
    const prev = this.states.get(userId);
    const statusMsg = p.statusMsg === undefined ? prev?.statusMsg ?? null : p.statusMsg;
    const lastActiveTs = p.lastActiveAgo !== undefined ? now - p.lastActiveAgo : prev?.lastActiveTs ?? 0;
    const currentlyActive = p.currentlyActive ?? false;
    this.deadlines.cancel(`remote-presence:${userId}`);
    if (p.presence !== 'offline') {
      this.deadlines.schedule(`remote-presence:${userId}`, now + timeoutMs, () => {
        const st = this.states.get(userId);
        if (st && st.presence !== 'offline') void this.setRemote(userId, { presence: 'offline' }, timeoutMs);
      });
    }
    const changed = !prev || prev.presence !== p.presence || prev.statusMsg !== statusMsg || prev.currentlyActive !== currentlyActive
      || Math.abs(prev.lastActiveTs - lastActiveTs) > 1000;
    if (!changed) return;
    const position = positions.next();
    this.states.set(userId, { presence: p.presence, statusMsg, lastActiveTs, currentlyActive, position });
    this.link?.send({ user: userId, state: this.states.get(userId)! });
    this.log(position, userId);
    this.notifier.notify(await this.audience(userId), position);
  }

  /** A user joined a room: their known presence takes a new position, so the room's members see it. */
  private async announceJoin(userId: string, roomId: string): Promise<void> {
    if (!this.enabled) return;
    const st = this.states.get(userId);
    if (!st || (st.presence === 'offline' && st.statusMsg === null)) return;
    const positions = await this.positions();
    await positions.available();
    const position = positions.next();
    st.position = position;
    this.link?.send({ user: userId, state: st });
    this.log(position, userId);
    const room = await this.roomState.get(roomId);
    if (room) this.notifier.notify(joinedMembers(room), position);
  }

  /** The user's presence as m.presence content, when this server knows it (for other servers). */
  current(userId: string): JsonObject | undefined {
    if (!this.enabled || !this.states.has(userId)) return undefined;
    return this.content(userId);
  }

  /** The user and everyone who shares a joined room with them. */
  async audience(userId: string): Promise<Set<string>> {
    const users = new Set<string>([userId]);
    for (const m of await this.rooms.getRoomsForUser(userId, ['join'])) {
      const room = await this.roomState.get(m.roomId);
      if (!room) continue;
      for (const u of joinedMembers(room)) users.add(u);
    }
    return users;
  }

  /** PUT /presence/{userId}/status: sets the calling session's presence (and the user's status_msg). */
  async setStatus(userId: string, session: Session, presence: string, statusMsg: string | undefined | null): Promise<void> {
    if (userId !== session.userId) throw forbidden('You can only set your own presence');
    if (presence !== 'online' && presence !== 'offline' && presence !== 'unavailable') throw invalidParam('presence must be online, offline or unavailable');
    if (typeof statusMsg === 'string' && statusMsg.length > MAX_STATUS_MSG_CHARS) throw invalidParam(`status_msg may be at most ${MAX_STATUS_MSG_CHARS} characters`);
    if (!this.enabled) return;
    if (statusMsg !== undefined) {
      this.statusCache.set(userId, statusMsg);
      const lastActive = this.states.get(userId)?.lastActiveTs ?? (await this.meta.getPresenceStatus(userId))?.lastActiveTs ?? null;
      await this.meta.setPresenceStatus(userId, statusMsg, lastActive);
    }
    this.sessions.setPresence(session, presence);
    await this.recompute(userId, statusMsg !== undefined);
  }

  /** GET /presence/{userId}/status: for the user and those who share a room with them; others 403. */
  async getStatus(viewerId: string, userId: string): Promise<JsonObject> {
    const parsed = parseUserId(userId);
    if (!parsed) throw invalidParam('Invalid user ID');
    if (parsed.domain === this.config.server_name && !(await this.accounts.getUser(userId))) throw notFound('Unknown user');
    if (viewerId !== userId && !(await this.audience(viewerId)).has(userId)) throw forbidden('You do not share a room with this user');
    // Not seen since start-up (a restart): status_msg and last-active time come from storage.
    let storedLastActive: number | null = null;
    if (this.enabled && !this.states.has(userId)) {
      await this.statusMsg(userId);
      storedLastActive = (await this.meta.getPresenceStatus(userId))?.lastActiveTs ?? null;
    }
    return this.content(userId, storedLastActive);
  }

  /**
   * Presence content for GET /presence/{userId}/status and m.presence events. `status_msg`
   * is left out when none is set: presence.yaml allows null, but matrix-nio (and other SDKs) type it
   * as a string and refuse the whole answer on a null.
   */
  private content(userId: string, storedLastActive: number | null = null): JsonObject {
    const st = this.states.get(userId);
    const d = this.enabled ? this.derive(userId) : { presence: 'offline' as Presence, lastActiveTs: null };
    const presence = st?.presence ?? d.presence;
    const out: JsonObject = { presence };
    const last = st?.lastActiveTs ?? d.lastActiveTs ?? storedLastActive;
    if (last) out.last_active_ago = Math.max(0, this.clock.now() - last);
    out.currently_active = st?.currentlyActive ?? false;
    const msg = st?.statusMsg ?? this.statusCache.get(userId) ?? null;
    if (msg !== null) out.status_msg = msg;
    return out;
  }

  /** m.presence events for /sync: room-mates (and self) whose presence changed in (since, upTo]. */
  /** Presence changes in position order, so an incremental sync reads only what changed since. */
  private changes: { position: number; userId: string }[] = [];

  /** Changes up to this position were dropped from the log (it keeps the newest 100,000 or more). */
  private trimmedUpTo = 0;

  private log(position: number, userId: string): void {
    // In position order (another process's change may arrive after a later one of this process).
    let i = this.changes.length;
    while (i > 0 && this.changes[i - 1]!.position > position) i--;
    if (i === this.changes.length) this.changes.push({ position, userId });
    else this.changes.splice(i, 0, { position, userId });
    if (this.changes.length > 200_000) {
      this.trimmedUpTo = this.changes[99_999]!.position;
      this.changes = this.changes.slice(100_000);
    }
  }

  /** Users whose presence changed in (since, upTo], or undefined when the log no longer reaches back that far. */
  private changedSince(since: number, upTo: number): Set<string> | undefined {
    const log = this.changes;
    if (since < this.trimmedUpTo) return undefined;
    let lo = 0;
    let hi = log.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (log[mid]!.position <= since) lo = mid + 1;
      else hi = mid;
    }
    const users = new Set<string>();
    for (let i = lo; i < log.length && log[i]!.position <= upTo; i++) users.add(log[i]!.userId);
    return users;
  }

  /** Whether two users share a joined room (cheap: one membership query for the other user). */
  private async sharesRoom(viewerRooms: Set<string>, other: string): Promise<boolean> {
    for (const m of await this.rooms.getRoomsForUser(other, ['join'])) if (viewerRooms.has(m.roomId)) return true;
    return false;
  }

  async syncEvents(userId: string, since: number | undefined, upTo = Number.MAX_SAFE_INTEGER): Promise<JsonObject[]> {
    if (!this.enabled) return [];
    const out: JsonObject[] = [];
    const changed = since !== undefined ? this.changedSince(since, upTo) : undefined;
    if (changed !== undefined) {
      // Incremental: the users whose presence changed, if they share a room with the viewer, and the
      // members of rooms the viewer joined meanwhile (whatever their presence's age).
      const joined = await this.rooms.getRoomsForUser(userId, ['join']);
      const fresh = new Set<string>();
      for (const m of joined) {
        if (m.streamOrdering <= since! || m.streamOrdering > upTo) continue;
        const room = await this.roomState.get(m.roomId);
        for (const u of room ? joinedMembers(room) : []) if (u !== userId) fresh.add(u);
      }
      if (changed.size === 0 && fresh.size === 0) return out;
      // Few changes: one membership query per changed user. Many (a parked sync while thousands came
      // online): the viewer's room-mates once, from the cached member lists, instead of a query each.
      const mates = changed.size > 32 ? await this.audience(userId) : undefined;
      const viewerRooms = mates ? undefined : new Set(joined.map((m) => m.roomId));
      for (const u of changed) {
        const st = this.states.get(u);
        if (!st || st.position <= since! || st.position > upTo) continue;
        if (u !== userId && !(mates ? mates.has(u) : await this.sharesRoom(viewerRooms!, u))) continue;
        fresh.delete(u);
        out.push({ type: 'm.presence', sender: u, content: this.content(u) });
      }
      for (const u of fresh) {
        const st = this.states.get(u);
        if (!st || st.position > upTo || (st.presence === 'offline' && st.statusMsg === null)) continue;
        out.push({ type: 'm.presence', sender: u, content: this.content(u) });
      }
      return out;
    }
    for (const u of await this.audience(userId)) {
      const st = this.states.get(u);
      if (!st) continue;
      // A change after this response's position goes out with the next response, not this one as well.
      if (since !== undefined && st.position > upTo) continue;
      if (since !== undefined ? st.position <= since : st.presence === 'offline' && st.statusMsg === null) continue;
      out.push({ type: 'm.presence', sender: u, content: this.content(u) });
    }
    return out;
  }
}
