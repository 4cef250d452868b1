// Sessions: Hearth's explicit and implicit client sessions (spec/sessions.md; the Matrix draft's
// "Session API" and "Sessions" in ../shared/seeds). A session is a group of requests by one client
// (one device of one user). It starts explicitly or with the first request that names none, and ends
// explicitly or after `sessions.idle_timeout_ms` without a request; a request in flight (a waiting
// /sync) keeps it alive. Presence and typing belong to a session and end with it.
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { MatrixError, notFound } from '../errors.js';
import type { AuthContext } from './accounts/events.js';
import type { DeadlineQueue } from './deadlines.js';
import { uuidV7Generator } from './ids.js';

export type SessionPresence = 'online' | 'unavailable' | 'offline';

export interface Session {
  id: string;
  userId: string;
  deviceId: string;
  /** What the client asked for; `offline` = appear offline (live, but not visible). */
  presence: SessionPresence;
  createdTs: number;
  lastSeenTs: number;
  /** Last "active" action (sending, typing, going online), for presence idle. */
  lastActiveTs: number;
  inFlight: number;
  ip: string | null;
  userAgent: string | null;
  /**
   * The client said at the explicit start that it understands server-name senders
   * (spec/server-events.md): it sees server-generated events with the server name as sender.
   */
  domainSenders: boolean;
}

/** Reacts to sessions starting, changing presence and ending (presence, typing). */
export interface SessionListener {
  sessionStarted?(s: Session): void;
  sessionChanged?(s: Session): void;
  sessionEnded?(s: Session, reason: 'ended' | 'expired' | 'logout'): void;
}

/**
 * The ephemeral store of live sessions: id -> session, plus each device's active session. In memory
 * here; a shared implementation (Redis) can replace it when several processes serve one server.
 */
export interface SessionStore {
  get(id: string): Session | undefined;
  put(s: Session): void;
  delete(id: string): void;
  /** The device's most recently used live session, if any. */
  activeForDevice(userId: string, deviceId: string): Session | undefined;
  setActiveForDevice(userId: string, deviceId: string, id: string): void;
  forUser(userId: string): Session[];
  all(): Iterable<Session>;
  readonly size: number;
  /**
   * A shared store (src/cluster/sessions.ts) is told of changes made to a session object in place:
   * `inFlightDelta` +1/-1 when a request begins/ends in it, 0 for presence and activity changes.
   */
  touched?(s: Session, inFlightDelta: number): void;
  /** A shared store calls `fn` for each session another process started (this one learns of it). */
  onRemoteStart?(fn: (s: Session) => void): void;
}

export class InMemorySessionStore implements SessionStore {
  private byId = new Map<string, Session>();
  private active = new Map<string, string>();
  private byUser = new Map<string, Set<string>>();

  get size(): number {
    return this.byId.size;
  }

  get(id: string) { return this.byId.get(id); }

  put(s: Session): void {
    this.byId.set(s.id, s);
    let set = this.byUser.get(s.userId);
    if (!set) this.byUser.set(s.userId, (set = new Set()));
    set.add(s.id);
  }

  delete(id: string): void {
    const s = this.byId.get(id);
    if (!s) return;
    this.byId.delete(id);
    const set = this.byUser.get(s.userId);
    set?.delete(id);
    if (set && set.size === 0) this.byUser.delete(s.userId);
    const key = `${s.userId}|${s.deviceId}`;
    if (this.active.get(key) === id) this.active.delete(key);
  }

  activeForDevice(userId: string, deviceId: string): Session | undefined {
    const id = this.active.get(`${userId}|${deviceId}`);
    return id ? this.byId.get(id) : undefined;
  }

  setActiveForDevice(userId: string, deviceId: string, id: string): void {
    this.active.set(`${userId}|${deviceId}`, id);
  }

  forUser(userId: string): Session[] {
    return [...(this.byUser.get(userId) ?? [])].map((id) => this.byId.get(id)!).filter(Boolean);
  }

  all(): Iterable<Session> {
    return this.byId.values();
  }
}

export const SESSION_HEADER = 'Hearth-Session';
export const SESSION_QUERY = 'session_id';
export const SESSION_COOKIE = 'hearth_session';
export const SESSION_EXPIRED = 'HEARTH_SESSION_EXPIRED';

/** 410 HEARTH_SESSION_EXPIRED carrying the caller's new session (body `session_id` and header). */
export function sessionExpired(newSessionId: string): MatrixError {
  return new MatrixError(
    410, SESSION_EXPIRED,
    'The session named by this request has expired, ended or is not yours; a new session was started: re-establish typing and presence in it',
    { session_id: newSessionId }, { [SESSION_HEADER]: newSessionId },
  );
}

/** Sessions in the order they started (their IDs are time-ordered UUIDs). */
export const byStart = (a: Session, b: Session): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export class SessionService {
  private listeners: SessionListener[] = [];
  /** Session IDs: UUIDv7 from the injected clock, so IDs sort by start (spec/sessions.md rule 1). */
  private readonly newId = uuidV7Generator(() => this.clock.now());

  constructor(
    private readonly config: Config,
    private readonly clock: Clock,
    private readonly deadlines: DeadlineQueue,
    readonly store: SessionStore = new InMemorySessionStore(),
    /**
     * Whether this process ends idle sessions now (a cluster: the holder of the `timers` lease; the
     * others re-check one idle period later, and take over when the holder dies).
     */
    private readonly expiresHere: () => boolean = () => true,
  ) {
    store.onRemoteStart?.((s) => this.scheduleExpiry(s));
  }

  addListener(l: SessionListener): void {
    this.listeners.push(l);
  }

  get idleTimeoutMs(): number {
    return this.config.sessions.idle_timeout_ms;
  }

  expiresInMs(s: Session): number {
    if (s.inFlight > 0) return this.idleTimeoutMs;
    return Math.max(0, s.lastSeenTs + this.idleTimeoutMs - this.clock.now());
  }

  /** Starts a session for the token's device (explicitly, or implicitly for a request that names none). */
  start(auth: AuthContext, presence: SessionPresence = 'online', meta: { ip?: string | null; userAgent?: string | null } = {}, opts: { domainSenders?: boolean } = {}): Session {
    const now = this.clock.now();
    const s: Session = {
      id: this.newId(),
      userId: auth.userId,
      deviceId: auth.deviceId,
      presence,
      createdTs: now,
      lastSeenTs: now,
      lastActiveTs: now,
      inFlight: 0,
      ip: meta.ip ?? null,
      userAgent: meta.userAgent ?? null,
      domainSenders: opts.domainSenders === true,
    };
    this.store.put(s);
    this.store.setActiveForDevice(s.userId, s.deviceId, s.id);
    this.scheduleExpiry(s);
    for (const l of this.listeners) l.sessionStarted?.(s);
    return s;
  }

  /**
   * The session a request is counted in. A named session must be live and belong to the token's
   * user and device; otherwise the request is refused before it has any effect (410) and the
   * caller gets a new session. A request naming none uses the device's active session or starts one.
   */
  resolve(auth: AuthContext, named: string | undefined, meta: { ip: string | null; userAgent: string | null }): Session {
    if (named !== undefined) {
      const s = this.store.get(named);
      if (!s || s.userId !== auth.userId || s.deviceId !== auth.deviceId || this.endIfOverdue(s)) {
        // Never attributed to the caller, never reveals or touches the owner's session.
        const fresh = this.start(auth, 'online', meta);
        throw sessionExpired(fresh.id);
      }
      this.store.setActiveForDevice(s.userId, s.deviceId, s.id);
      return s;
    }
    return this.activeFor(auth) ?? this.start(auth, 'online', meta);
  }

  /**
   * The device's active session: the one it used last. When that one has ended while another live
   * session of the device remains (an explicit one, say), the most recently used of those takes over.
   */
  private activeFor(auth: AuthContext): Session | undefined {
    const active = this.store.activeForDevice(auth.userId, auth.deviceId);
    if (active && !this.endIfOverdue(active)) return active;
    let best: Session | undefined;
    for (const s of this.store.forUser(auth.userId)) {
      if (s.deviceId !== auth.deviceId || this.endIfOverdue(s)) continue;
      if (!best || s.lastSeenTs > best.lastSeenTs || (s.lastSeenTs === best.lastSeenTs && s.createdTs > best.createdTs)) best = s;
    }
    if (best) this.store.setActiveForDevice(best.userId, best.deviceId, best.id);
    return best;
  }

  /**
   * A session whose idle time has passed is over even if its deadline has not been processed yet
   * (a busy event loop runs timers late): it is ended here and never revived by a request.
   */
  private endIfOverdue(s: Session): boolean {
    if (s.inFlight > 0 || s.lastSeenTs + this.idleTimeoutMs > this.clock.now()) return false;
    this.end(s, 'expired');
    return true;
  }

  /** Counts a request in the session: it is in flight until `done()`; then last-seen moves on. */
  begin(s: Session, meta: { ip: string | null; userAgent: string | null }): () => void {
    s.inFlight++;
    s.lastSeenTs = this.clock.now();
    if (meta.ip) s.ip = meta.ip;
    if (meta.userAgent) s.userAgent = meta.userAgent;
    this.store.touched?.(s, 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      s.inFlight = Math.max(0, s.inFlight - 1);
      s.lastSeenTs = this.clock.now();
      this.store.touched?.(s, -1);
    };
  }

  /** Marks an "active" action (sending, typing, going online) for presence idle. */
  markActive(s: Session): void {
    const wasIdle = this.isIdle(s);
    s.lastActiveTs = this.clock.now();
    this.store.touched?.(s, 0);
    if (wasIdle) this.changed(s);
  }

  /** Whether the session has had no active action for presence.idle_timeout_ms. */
  isIdle(s: Session): boolean {
    return this.clock.now() - s.lastActiveTs >= this.config.presence.idle_timeout_ms;
  }

  setPresence(s: Session, presence: SessionPresence): void {
    const before = s.presence;
    s.presence = presence;
    if (presence === 'online') s.lastActiveTs = this.clock.now();
    this.store.touched?.(s, 0);
    if (before !== presence || presence === 'online') this.changed(s);
  }

  /** Tells listeners that the session's presence inputs changed (presence recomputes). */
  changed(s: Session): void {
    for (const l of this.listeners) l.sessionChanged?.(s);
  }

  list(userId: string): Session[] {
    return this.store.forUser(userId).sort(byStart);
  }

  /** Ends one of the caller's own sessions; someone else's or an unknown one: 404 (the same answer). */
  endOwn(auth: AuthContext, id: string): void {
    const s = this.store.get(id);
    if (!s || s.userId !== auth.userId) throw notFound('No such session');
    this.end(s, 'ended');
  }

  /** Ends the sessions of the given devices of a user (logout, password change, deactivation). */
  endDevices(userId: string, deviceIds: string[] | 'all-but', keepDeviceId?: string): void {
    for (const s of this.store.forUser(userId)) {
      const match = deviceIds === 'all-but' ? s.deviceId !== keepDeviceId : deviceIds.includes(s.deviceId);
      if (match) this.end(s, 'logout');
    }
  }

  end(s: Session, reason: 'ended' | 'expired' | 'logout'): void {
    if (this.store.get(s.id) !== s) return;
    this.store.delete(s.id);
    this.deadlines.cancel(`session:${s.id}`);
    for (const l of this.listeners) l.sessionEnded?.(s, reason);
  }

  /** One deadline per session; when it comes, re-check: a touched or busy session lives on. */
  private scheduleExpiry(s: Session): void {
    this.deadlines.schedule(`session:${s.id}`, s.lastSeenTs + this.idleTimeoutMs, () => {
      if (this.store.get(s.id) !== s) return;
      const now = this.clock.now();
      if (!this.expiresHere()) {
        this.deadlines.schedule(`session:${s.id}`, now + this.idleTimeoutMs, () => this.scheduleExpiry(s));
      } else if (s.inFlight > 0) {
        s.lastSeenTs = now;
        this.scheduleExpiry(s);
      } else if (s.lastSeenTs + this.idleTimeoutMs > now) {
        this.scheduleExpiry(s);
      } else {
        this.end(s, 'expired');
      }
    });
  }
}
