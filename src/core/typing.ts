// Typing notifications, scoped to sessions (spec/sessions.md "Typing"; matrix-spec: typing.yaml).
// A notification lasts until the earliest of its timeout, `typing: false`, the user sending an event
// in the room, or the end of the session that set it. Each change of a room's typing set takes one
// position and is pushed to the room's joined members; expiries come from the shared deadline queue.
// Other servers' users type through their server (setRemote): until it says stop, they send an event
// in the room, or the federated timeout passes without a renewal.
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { forbidden } from '../errors.js';
import type { AuthContext } from './accounts/events.js';
import { membershipOf } from './auth-rules.js';
import type { DeadlineQueue } from './deadlines.js';
import type { JsonObject } from './events/types.js';
import { joinedMembers, lookupIn, type EventWriter } from './events/writer.js';
import type { RoomStateService } from './rooms/room-state.js';
import type { Notifier } from './notifier.js';
import type { Session, SessionListener, SessionService } from './sessions.js';
import type { StreamPositions } from './stream.js';
import { BackgroundTasks } from './background.js';
import type { ReplicaLink } from './replica.js';

/** A change of a room's typing set, sent to the other processes of a cluster. */
export type TypingChange =
  | { room: string; user: string; entry: { sessionId: string | null; until: number } | null }
  | { room: string; pos: number };

export const DEFAULT_TYPING_TIMEOUT_MS = 30_000;

interface RoomTyping {
  /** sessionId null: another server's user, set by their server (setRemote). */
  users: Map<string, { sessionId: string | null; until: number }>;
  position: number;
}

/** Told of every typing notification set (also each renewal) or ended, for any user (federation). */
export interface TypingListener {
  typingChanged(roomId: string, userId: string, typing: boolean): void;
}

export class TypingService implements SessionListener {
  private rooms = new Map<string, RoomTyping>();
  /** session id -> rooms where that session set a typing notification (ending a session is O(its rooms)). */
  private bySession = new Map<string, Set<string>>();
  private readonly listeners: TypingListener[] = [];
  private link: ReplicaLink<TypingChange> | undefined;

  constructor(
    private readonly config: Config,
    private readonly writer: EventWriter,
    private readonly roomState: RoomStateService,
    private readonly sessions: SessionService,
    private readonly notifier: Notifier,
    private readonly positions: () => Promise<StreamPositions>,
    private readonly deadlines: DeadlineQueue,
    private readonly clock: Clock,
    /** Typing ended by a send, a departure or a session's end runs here (the server's stop waits for it). */
    private readonly background: BackgroundTasks = new BackgroundTasks(),
  ) {
    sessions.addListener(this);
    writer.addListener({
      onEventPersisted: (rec) => {
        // Sending an event in the room ends the sender's typing there.
        if (rec.event.state_key === undefined && !rec.serverLocal) this.background.run(this.stop(rec.event.room_id, rec.event.sender));
        // Someone who is no longer joined (leave, kick, ban) is no longer typing there.
        else if (rec.event.type === 'm.room.member' && rec.event.state_key !== undefined && rec.event.content.membership !== 'join') {
          this.background.run(this.stop(rec.event.room_id, rec.event.state_key));
        }
      },
    });
  }

  addListener(l: TypingListener): void {
    this.listeners.push(l);
  }

  /**
   * Shares the typing sets with the other processes of a cluster: each change made here is sent, each
   * change made there is applied (no position or wake-up: the process that made it took and sent
   * those). Every process keeps the expiry deadlines; the first to fire ends the notification.
   */
  share(link: ReplicaLink<TypingChange>): void {
    this.link = link;
    link.onReceive((c) => {
      const r = this.room(c.room);
      if ('pos' in c) {
        r.position = Math.max(r.position, c.pos);
        return;
      }
      const prev = r.users.get(c.user);
      if (prev?.sessionId) this.unindex(prev.sessionId, c.room);
      if (c.entry === null) {
        r.users.delete(c.user);
        this.deadlines.cancel(`typing:${c.room}|${c.user}`);
        return;
      }
      const { sessionId, until } = c.entry;
      r.users.set(c.user, { sessionId, until });
      if (sessionId) {
        let rooms = this.bySession.get(sessionId);
        if (!rooms) this.bySession.set(sessionId, (rooms = new Set()));
        rooms.add(c.room);
      }
      this.deadlines.schedule(`typing:${c.room}|${c.user}`, until, () => this.background.run(this.expire(c.room, c.user, until)));
    });
  }

  /** PUT /rooms/{roomId}/typing/{userId} (matrix-spec: typing.yaml#setTyping). */
  async set(auth: AuthContext, session: Session, roomId: string, userId: string, typing: boolean, timeoutMs: number | undefined): Promise<void> {
    if (userId !== auth.userId) throw forbidden('You can only set your own typing state');
    const room = await this.roomState.get(roomId);
    if (!room || membershipOf(auth.userId, lookupIn(room.state)) !== 'join') throw forbidden('You are not in this room');
    if (typing && this.sessions.store.get(session.id) !== session) return; // the session ended meanwhile (logout)
    if (!typing) {
      await this.stop(roomId, userId);
      return;
    }
    const timeout = Math.min(Math.max(0, timeoutMs ?? DEFAULT_TYPING_TIMEOUT_MS), this.config.typing.max_timeout_ms);
    const until = this.clock.now() + timeout;
    const r = this.room(roomId);
    const prev = r.users.get(userId);
    if (prev?.sessionId) this.unindex(prev.sessionId, roomId);
    r.users.set(userId, { sessionId: session.id, until });
    this.link?.send({ room: roomId, user: userId, entry: { sessionId: session.id, until } });
    let rooms = this.bySession.get(session.id);
    if (!rooms) this.bySession.set(session.id, (rooms = new Set()));
    rooms.add(roomId);
    this.deadlines.schedule(`typing:${roomId}|${userId}`, until, () => this.background.run(this.expire(roomId, userId, until)));
    for (const l of this.listeners) l.typingChanged(roomId, userId, true);
    if (!prev) await this.changed(roomId);
  }

  /**
   * Another server's user is typing (or stopped) in a room, as their server says (the caller checked
   * the user's membership): it lasts `timeoutMs` unless renewed, or until they stop or send an event.
   */
  async setRemote(roomId: string, userId: string, typing: boolean, timeoutMs: number): Promise<void> {
    if (!typing) {
      await this.stop(roomId, userId);
      return;
    }
    const until = this.clock.now() + timeoutMs;
    const r = this.room(roomId);
    const prev = r.users.get(userId);
    if (prev?.sessionId) this.unindex(prev.sessionId, roomId);
    r.users.set(userId, { sessionId: null, until });
    this.link?.send({ room: roomId, user: userId, entry: { sessionId: null, until } });
    this.deadlines.schedule(`typing:${roomId}|${userId}`, until, () => void this.expire(roomId, userId, until));
    if (!prev) await this.changed(roomId);
  }

  /** Whether the user has a live typing notification in the room. */
  isTyping(roomId: string, userId: string): boolean {
    return this.rooms.get(roomId)?.users.has(userId) ?? false;
  }

  private room(roomId: string): RoomTyping {
    let r = this.rooms.get(roomId);
    if (!r) this.rooms.set(roomId, (r = { users: new Map(), position: 0 }));
    return r;
  }

  private async expire(roomId: string, userId: string, until: number): Promise<void> {
    const entry = this.rooms.get(roomId)?.users.get(userId);
    if (entry && entry.until === until) await this.stop(roomId, userId);
  }

  async stop(roomId: string, userId: string): Promise<void> {
    const r = this.rooms.get(roomId);
    const entry = r?.users.get(userId);
    if (!r || !entry) return;
    r.users.delete(userId);
    this.link?.send({ room: roomId, user: userId, entry: null });
    if (entry.sessionId) this.unindex(entry.sessionId, roomId);
    this.deadlines.cancel(`typing:${roomId}|${userId}`);
    for (const l of this.listeners) l.typingChanged(roomId, userId, false);
    await this.changed(roomId);
  }

  /** The session that set them ended: its typing notifications end too. */
  sessionEnded(s: Session): void {
    for (const roomId of [...(this.bySession.get(s.id) ?? [])]) {
      const entry = this.rooms.get(roomId)?.users.get(s.userId);
      if (entry && entry.sessionId === s.id) this.background.run(this.stop(roomId, s.userId));
    }
    this.bySession.delete(s.id);
  }

  private unindex(sessionId: string, roomId: string): void {
    const rooms = this.bySession.get(sessionId);
    rooms?.delete(roomId);
    if (rooms && rooms.size === 0) this.bySession.delete(sessionId);
  }

  private async changed(roomId: string): Promise<void> {
    const r = this.room(roomId);
    const positions = await this.positions();
    await positions.available();
    r.position = positions.next();
    this.link?.send({ room: roomId, pos: r.position });
    const room = await this.roomState.get(roomId);
    if (!room) return;
    this.notifier.notify(joinedMembers(room), r.position);
    if (r.users.size === 0 && this.rooms.size > 10_000) this.rooms.delete(roomId);
  }

  typingUsers(roomId: string): string[] {
    return [...(this.rooms.get(roomId)?.users.keys() ?? [])];
  }

  /** m.typing for /sync ephemeral: when the room's set changed after `since` (initial sync: when non-empty). */
  syncEvents(roomId: string, since: number | undefined, upTo = Number.MAX_SAFE_INTEGER): JsonObject[] {
    const r = this.rooms.get(roomId);
    if (!r) return [];
    // A change after this response's position goes out with the next response, not this one as well.
    if (since !== undefined && r.position > upTo) return [];
    if (since === undefined ? r.users.size === 0 : r.position <= since) return [];
    return [{ type: 'm.typing', content: { user_ids: [...r.users.keys()] } }];
  }

  /** Number of live typing notifications (metrics). */
  get size(): number {
    let n = 0;
    for (const r of this.rooms.values()) n += r.users.size;
    return n;
  }
}
