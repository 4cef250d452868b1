// The client: this tab's Hearth session, the /sync long-poll, and every action the UI offers, each
// one request of the public client-server API. Changes are announced as events:
//   'rooms' (the list, invites, unread counts), 'timeline' (detail: room ID), 'typing' (room ID),
//   'presence', 'status' (connection), 'session' (this tab's session changed), 'loggedout'.
import { Api, enc, MatrixError, SESSIONS_PATH, type Json } from './api.js';
import { inviteFrom, Room, type Invite, type Item, type MatrixEvent } from './model.js';

export interface Presence {
  presence: string;
  lastActiveAgo?: number;
  currentlyActive?: boolean;
  statusMsg?: string;
}

export interface SessionInfo {
  session_id: string;
  device_id: string;
  presence: string;
  created_ts: number;
  last_seen_ts: number;
  expires_in_ms: number;
}

interface JoinedRoomSync {
  state?: { events?: MatrixEvent[] };
  timeline?: { events?: MatrixEvent[]; limited?: boolean; prev_batch?: string };
  ephemeral?: { events?: MatrixEvent[] };
  account_data?: { events?: MatrixEvent[] };
  unread_notifications?: { notification_count?: number; highlight_count?: number };
  summary?: { 'm.heroes'?: string[]; 'm.joined_member_count'?: number; 'm.invited_member_count'?: number };
}

interface SyncResponse {
  next_batch: string;
  rooms?: {
    join?: Record<string, JoinedRoomSync>;
    invite?: Record<string, { invite_state?: { events?: MatrixEvent[] } }>;
    leave?: Record<string, unknown>;
  };
  presence?: { events?: MatrixEvent[] };
}

/** Lazy-loaded members (only senders of what we get), a timeline of 30 per room. */
export const TIMELINE_LIMIT = 30;
export const SYNC_FILTER = JSON.stringify({
  room: {
    state: { lazy_load_members: true },
    timeline: { limit: TIMELINE_LIMIT, lazy_load_members: true },
  },
});
const MESSAGES_FILTER = JSON.stringify({ lazy_load_members: true });
const SYNC_TIMEOUT_MS = 30_000;

/** Typing: sent on input, renewed while typing, stopped on send, blur, room change or 5 s of quiet. */
export const TYPING_TIMEOUT_MS = 30_000;
const TYPING_RENEW_MS = 20_000;
const TYPING_IDLE_MS = 5_000;

/**
 * sessionStorage keys. sessionStorage belongs to one tab and survives its reloads. The session
 * handoff exists only between this tab's pagehide and its next load: a reload resumes its session,
 * while a duplicated tab (which copies sessionStorage from a live tab) finds none and starts its own.
 */
const HANDOFF_KEY = 'hearth.sessionHandoff';
export const APPEAR_OFFLINE_KEY = 'hearth.appearOffline';

let txnCounter = 0;
const newTxnId = () => `web${Date.now().toString(36)}${(++txnCounter).toString(36)}${Math.random().toString(36).slice(2, 6)}`;

export class Client extends EventTarget {
  readonly rooms = new Map<string, Room>();
  readonly invites = new Map<string, Invite>();
  readonly presence = new Map<string, Presence>();
  status: 'connecting' | 'online' | 'reconnecting' = 'connecting';
  /** The first sync has been applied. */
  ready = false;
  appearOffline: boolean;
  private since: string | undefined;
  private abort = new AbortController();
  private running = false;
  private typingRoom: string | undefined;
  private typingSentAt = 0;
  private typingIdle: ReturnType<typeof setTimeout> | undefined;
  private readonly autoJoining = new Set<string>();
  private readonly presenceAsked = new Set<string>();
  private readonly onPageHide = (e: PageTransitionEvent) => this.pageHide(e);
  private readonly onPageShow = (e: PageTransitionEvent) => this.pageShow(e);

  constructor(readonly api: Api) {
    super();
    this.appearOffline = sessionStorage.getItem(APPEAR_OFFLINE_KEY) === '1';
    api.onSessionReplaced = (id) => this.reestablish(id);
    api.onUnknownToken = () => this.emit('loggedout');
  }

  get userId(): string {
    return this.api.creds!.userId;
  }

  /** The server's name: the domain of our user ID, and the sender of its server-generated events. */
  get serverName(): string {
    return this.userId.slice(this.userId.indexOf(':') + 1);
  }

  get sessionId(): string | undefined {
    return this.api.sessionId;
  }

  private emit(type: string, detail?: unknown): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // ---- this tab's session -------------------------------------------------------------------------

  /** Starts (or, after a reload, resumes) this tab's session, then syncs until stopped. */
  async start(): Promise<void> {
    addEventListener('pagehide', this.onPageHide);
    addEventListener('pageshow', this.onPageShow);
    const handoff = this.takeHandoff();
    if (handoff) this.api.sessionId = handoff;
    else await this.startSession();
    await this.loadServerEventsInfo();
    this.running = true;
    void this.syncLoop();
  }

  /** The server-owned user that owns this server's notices rooms (capability hearth.server_events). */
  private systemUser: string | undefined;

  private async loadServerEventsInfo(): Promise<void> {
    try {
      const caps = await this.api.request<{ capabilities?: Record<string, { system_user?: unknown }> }>('GET', '/_matrix/client/v3/capabilities');
      const user = caps.capabilities?.['hearth.server_events']?.system_user;
      if (typeof user === 'string') this.systemUser = user;
    } catch {
      // Not Hearth, or an older one: notices rooms are then joined by hand.
    }
  }

  /** POST .../sessions with this tab's presence: an "appear offline" tab never shows the user online. */
  private async startSession(): Promise<void> {
    const r = await this.api.request<{ session_id: string }>('POST', SESSIONS_PATH, { presence: this.appearOffline ? 'offline' : 'online' }, { noSession: true });
    this.api.sessionId = r.session_id;
    this.emit('session');
  }

  private takeHandoff(): string | undefined {
    const raw = sessionStorage.getItem(HANDOFF_KEY);
    sessionStorage.removeItem(HANDOFF_KEY);
    if (!raw) return undefined;
    try {
      const h = JSON.parse(raw) as { sessionId?: unknown; userId?: unknown; deviceId?: unknown };
      const c = this.api.creds!;
      return h.userId === c.userId && h.deviceId === c.deviceId && typeof h.sessionId === 'string' ? h.sessionId : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The tab is going away (closed, reloaded, navigated, or into the back/forward cache): its typing
   * ends at once (keepalive: the request outlives the page); its presence ends when its session
   * idles out, unless a reload of this tab resumes it (the handoff).
   */
  private pageHide(_e: PageTransitionEvent): void {
    if (this.typingRoom) {
      this.sendTyping(this.typingRoom, false, { keepalive: true });
      this.typingRoom = undefined;
    }
    const c = this.api.creds;
    if (c && this.api.sessionId) sessionStorage.setItem(HANDOFF_KEY, JSON.stringify({ sessionId: this.api.sessionId, userId: c.userId, deviceId: c.deviceId }));
  }

  /** Back from the back/forward cache: the page lives on, so no handoff is pending. */
  private pageShow(e: PageTransitionEvent): void {
    if (e.persisted) sessionStorage.removeItem(HANDOFF_KEY);
  }

  /** After a 410 handed us a new session: typing and presence belong to sessions, set them again. */
  private async reestablish(_newId: string): Promise<void> {
    this.emit('session');
    if (this.appearOffline) await this.putPresence('offline');
    if (this.typingRoom) await this.sendTyping(this.typingRoom, true);
  }

  /** "Appear offline in this tab": the presence of this tab's session only (spec/sessions.md). */
  async setAppearOffline(offline: boolean): Promise<void> {
    this.appearOffline = offline;
    if (offline) sessionStorage.setItem(APPEAR_OFFLINE_KEY, '1');
    else sessionStorage.removeItem(APPEAR_OFFLINE_KEY);
    await this.putPresence(offline ? 'offline' : 'online');
  }

  private putPresence(presence: 'online' | 'offline'): Promise<Json> {
    return this.api.request('PUT', `/_matrix/client/v3/presence/${enc(this.userId)}/status`, { presence });
  }

  listSessions(): Promise<SessionInfo[]> {
    return this.api.request<{ sessions: SessionInfo[] }>('GET', SESSIONS_PATH).then((r) => r.sessions);
  }

  endSession(id: string): Promise<Json> {
    return this.api.endSession(id);
  }

  stop(): void {
    this.running = false;
    this.abort.abort();
    clearTimeout(this.typingIdle);
    removeEventListener('pagehide', this.onPageHide);
    removeEventListener('pageshow', this.onPageShow);
  }

  /** POST /logout ends this device's token and every session of it (spec/sessions.md rule 9). */
  async logout(): Promise<void> {
    this.stop();
    sessionStorage.removeItem(HANDOFF_KEY);
    try {
      await this.api.request('POST', '/_matrix/client/v3/logout', {});
    } catch (e) {
      if (!(e instanceof MatrixError && e.status === 401)) throw e;
    }
  }

  // ---- sync ---------------------------------------------------------------------------------------

  private async syncLoop(): Promise<void> {
    let backoff = 1000;
    while (this.running) {
      try {
        const res = await this.api.request<SyncResponse>('GET', '/_matrix/client/v3/sync', undefined, {
          query: { filter: SYNC_FILTER, timeout: this.since ? SYNC_TIMEOUT_MS : 0, since: this.since },
          signal: this.abort.signal,
        });
        if (!this.running) return;
        this.applySync(res);
        this.since = res.next_batch;
        backoff = 1000;
        this.setStatus('online');
      } catch (e) {
        if (!this.running || (e instanceof DOMException && e.name === 'AbortError')) return;
        if (e instanceof MatrixError && e.errcode === 'M_UNKNOWN_TOKEN') return;
        this.setStatus('reconnecting');
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  }

  private setStatus(s: Client['status']): void {
    if (this.status === s) return;
    this.status = s;
    this.emit('status');
  }

  private room(id: string): Room {
    let r = this.rooms.get(id);
    if (!r) this.rooms.set(id, (r = new Room(id)));
    return r;
  }

  private applySync(res: SyncResponse): void {
    const changedTimelines = new Set<string>();
    const changedTyping = new Set<string>();
    for (const [roomId, jr] of Object.entries(res.rooms?.join ?? {})) {
      const isNew = !this.rooms.has(roomId);
      const room = this.room(roomId);
      this.invites.delete(roomId);
      for (const ev of jr.state?.events ?? []) room.applyState(ev);
      const s = jr.summary;
      if (s?.['m.heroes']) room.heroes = s['m.heroes'];
      if (typeof s?.['m.joined_member_count'] === 'number') room.joinedCount = s['m.joined_member_count'];
      if (typeof s?.['m.invited_member_count'] === 'number') room.invitedCount = s['m.invited_member_count'];
      const tl = jr.timeline;
      if (tl) {
        if (tl.limited && !isNew) room.resetTimeline();
        if (tl.limited || isNew) room.prevBatch = tl.prev_batch;
        // The first sync of a room that is not limited holds its whole history.
        if (!this.since && !tl.limited) room.atStart = true;
        if ((tl.events ?? []).length > 0 || tl.limited) {
          room.addLive(tl.events ?? []);
          changedTimelines.add(roomId);
          const joins = (tl.events ?? []).filter((e) => e.type === 'm.room.member' && e.content.membership === 'join' && e.state_key);
          if (joins.length > 0 && this.since) void this.askPresence(joins.map((e) => e.state_key!));
        }
      }
      if (jr.unread_notifications) {
        room.unread = jr.unread_notifications.notification_count ?? 0;
        room.highlight = jr.unread_notifications.highlight_count ?? 0;
      }
      for (const ev of jr.ephemeral?.events ?? []) {
        if (ev.type === 'm.typing' && Array.isArray(ev.content.user_ids)) {
          room.typing = (ev.content.user_ids as unknown[]).filter((u): u is string => typeof u === 'string');
          changedTyping.add(roomId);
        }
      }
      for (const ev of jr.account_data?.events ?? []) {
        if (ev.type === 'm.tag') {
          const tags = ev.content.tags;
          room.isNotices = typeof tags === 'object' && tags !== null && 'm.server_notice' in tags;
        }
      }
    }
    for (const [roomId, inv] of Object.entries(res.rooms?.invite ?? {})) {
      const invite = inviteFrom(roomId, this.userId, inv.invite_state?.events ?? []);
      this.invites.set(roomId, invite);
      // Our own server's notices room (the inviter is the server-owned system user, or, from servers
      // that invite by their domain, the domain itself): joined at once, so notices show without a click.
      const fromServer = invite.inviter === this.serverName || (this.systemUser !== undefined && invite.inviter === this.systemUser);
      if (fromServer && !this.autoJoining.has(roomId)) {
        this.autoJoining.add(roomId);
        void this.join(roomId).catch(() => undefined).finally(() => this.autoJoining.delete(roomId));
      }
    }
    for (const roomId of Object.keys(res.rooms?.leave ?? {})) {
      this.rooms.delete(roomId);
      this.invites.delete(roomId);
    }
    let presenceChanged = false;
    for (const ev of res.presence?.events ?? []) {
      if (ev.type !== 'm.presence') continue;
      const c = ev.content;
      this.presence.set(ev.sender, {
        presence: typeof c.presence === 'string' ? c.presence : 'offline',
        ...(typeof c.last_active_ago === 'number' ? { lastActiveAgo: c.last_active_ago } : {}),
        ...(typeof c.currently_active === 'boolean' ? { currentlyActive: c.currently_active } : {}),
        ...(typeof c.status_msg === 'string' ? { statusMsg: c.status_msg } : {}),
      });
      presenceChanged = true;
    }
    if (!this.ready) this.ready = true;
    this.emit('rooms');
    for (const id of changedTimelines) this.emit('timeline', id);
    for (const id of changedTyping) this.emit('typing', id);
    if (presenceChanged) this.emit('presence');
  }

  /** Older events for the room (/messages backwards from where its timeline starts). */
  async loadOlder(room: Room): Promise<void> {
    if (room.atStart || !room.prevBatch) {
      room.atStart = true;
      return;
    }
    const res = await this.api.request<{ chunk?: MatrixEvent[]; state?: MatrixEvent[]; end?: string }>('GET', `/_matrix/client/v3/rooms/${enc(room.id)}/messages`, undefined, {
      query: { dir: 'b', from: room.prevBatch, limit: TIMELINE_LIMIT, filter: MESSAGES_FILTER },
    });
    const chunk = res.chunk ?? [];
    room.addOlder(chunk, res.state ?? []);
    room.prevBatch = res.end;
    if (!res.end || chunk.length === 0 || chunk.some((e) => e.type === 'm.room.create')) room.atStart = true;
    this.emit('timeline', room.id);
  }

  /** Every joined member with a display name (lazy loading only gave us the senders). */
  async loadMembers(room: Room): Promise<void> {
    const res = await this.api.request<{ joined?: Record<string, { display_name?: string | null }> }>('GET', `/_matrix/client/v3/rooms/${enc(room.id)}/joined_members`);
    for (const [userId, m] of Object.entries(res.joined ?? {})) {
      room.members.set(userId, { membership: 'join', ...(m.display_name ? { displayName: m.display_name } : {}) });
    }
    this.emit('members', room.id);
    void this.askPresence(Object.keys(res.joined ?? {}));
  }

  /**
   * /sync brings presence changes only; someone who was already online when we came to share a
   * room with them has not changed since. Their current presence is asked for once.
   */
  private async askPresence(userIds: string[]): Promise<void> {
    const unknown = userIds.filter((u) => !this.presence.has(u) && !this.presenceAsked.has(u)).slice(0, 20);
    for (const u of unknown) this.presenceAsked.add(u);
    let changed = false;
    await Promise.all(unknown.map(async (u) => {
      try {
        const r = await this.api.request<{ presence?: string; last_active_ago?: number; currently_active?: boolean; status_msg?: string | null }>('GET', `/_matrix/client/v3/presence/${enc(u)}/status`);
        if (this.presence.has(u) || typeof r.presence !== 'string') return; // sync was quicker
        this.presence.set(u, {
          presence: r.presence,
          ...(typeof r.last_active_ago === 'number' ? { lastActiveAgo: r.last_active_ago } : {}),
          ...(typeof r.currently_active === 'boolean' ? { currentlyActive: r.currently_active } : {}),
          ...(typeof r.status_msg === 'string' ? { statusMsg: r.status_msg } : {}),
        });
        changed = true;
      } catch {
        // not visible to us (no shared room any more): no dot
      }
    }));
    if (changed) this.emit('presence');
  }

  joinedMembers(room: Room): string[] {
    return [...room.members.entries()].filter(([, m]) => m.membership === 'join').map(([id]) => id);
  }

  // ---- messages -----------------------------------------------------------------------------------

  async sendText(room: Room, body: string): Promise<void> {
    this.stopTyping();
    const txnId = newTxnId();
    const content = { msgtype: 'm.text', body };
    const item = room.addLocalEcho(txnId, this.userId, content);
    this.emit('timeline', room.id);
    try {
      const r = await this.api.request<{ event_id: string }>('PUT', `/_matrix/client/v3/rooms/${enc(room.id)}/send/m.room.message/${enc(txnId)}`, content);
      room.echoSent(item, r.event_id);
    } catch (e) {
      room.echoFailed(item);
      this.emit('timeline', room.id);
      throw e;
    }
    this.emit('timeline', room.id);
  }

  /** An edit: a new event replacing the original (matrix-spec: "Event replacements", m.replace). */
  async edit(room: Room, item: Item, body: string): Promise<void> {
    this.stopTyping();
    if (!item.eventId) throw new Error('the message is not sent yet');
    const content = {
      msgtype: 'm.text',
      body: `* ${body}`,
      'm.new_content': { msgtype: 'm.text', body },
      'm.relates_to': { rel_type: 'm.replace', event_id: item.eventId },
    };
    await this.api.request('PUT', `/_matrix/client/v3/rooms/${enc(room.id)}/send/m.room.message/${enc(newTxnId())}`, content);
  }

  async redact(room: Room, item: Item): Promise<void> {
    if (!item.eventId) throw new Error('the message is not sent yet');
    await this.api.request('PUT', `/_matrix/client/v3/rooms/${enc(room.id)}/redact/${enc(item.eventId)}/${enc(newTxnId())}`, {});
    room.redact(item.eventId);
    this.emit('timeline', room.id);
  }

  /** A read receipt for the newest event: the server resets the room's unread count. */
  async markRead(room: Room): Promise<void> {
    const last = room.lastEventId();
    if (!last || last === room.readEventId) return;
    room.readEventId = last;
    const hadUnread = room.unread > 0;
    room.unread = 0;
    room.highlight = 0;
    if (hadUnread) this.emit('rooms');
    await this.api.request('POST', `/_matrix/client/v3/rooms/${enc(room.id)}/receipt/m.read/${enc(last)}`, {});
  }

  // ---- typing -------------------------------------------------------------------------------------

  /** The composer changed: typing while it has text, renewed before the timeout, stopped after quiet. */
  typed(room: Room, hasText: boolean): void {
    if (!hasText) return this.stopTyping();
    if (this.typingRoom && this.typingRoom !== room.id) this.stopTyping();
    const now = Date.now();
    if (this.typingRoom !== room.id || now - this.typingSentAt > TYPING_RENEW_MS) {
      this.typingRoom = room.id;
      this.typingSentAt = now;
      void this.sendTyping(room.id, true);
    }
    clearTimeout(this.typingIdle);
    this.typingIdle = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping(): void {
    clearTimeout(this.typingIdle);
    if (!this.typingRoom) return;
    const roomId = this.typingRoom;
    this.typingRoom = undefined;
    this.typingSentAt = 0;
    void this.sendTyping(roomId, false);
  }

  private sendTyping(roomId: string, typing: boolean, opts: { keepalive?: boolean } = {}): Promise<void> {
    const body = typing ? { typing: true, timeout: TYPING_TIMEOUT_MS } : { typing: false };
    return this.api.request('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(this.userId)}`, body, opts).then(() => undefined, () => undefined);
  }

  // ---- rooms --------------------------------------------------------------------------------------

  async createRoom(opts: { name: string; topic?: string; alias?: string; publish: boolean }): Promise<string> {
    const body: Json = {
      name: opts.name,
      preset: opts.publish ? 'public_chat' : 'private_chat',
      visibility: opts.publish ? 'public' : 'private',
    };
    if (opts.topic) body.topic = opts.topic;
    if (opts.alias) body.room_alias_name = opts.alias;
    const r = await this.api.request<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', body);
    return r.room_id;
  }

  async join(roomIdOrAlias: string): Promise<string> {
    const r = await this.api.request<{ room_id: string }>('POST', `/_matrix/client/v3/join/${enc(roomIdOrAlias)}`, {});
    this.invites.delete(r.room_id);
    this.emit('rooms');
    return r.room_id;
  }

  async rejectInvite(roomId: string): Promise<void> {
    await this.leave(roomId);
  }

  async leave(roomId: string): Promise<void> {
    await this.api.request('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/leave`, {});
    this.invites.delete(roomId);
    this.rooms.delete(roomId);
    this.emit('rooms');
  }

  /** An invite with a reason: the invitee sees it in the invite's stripped state before accepting. */
  async invite(roomId: string, userId: string, reason?: string): Promise<void> {
    await this.api.request('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, reason ? { user_id: userId, reason } : { user_id: userId });
  }

  publicRooms(search: string): Promise<{ chunk?: Array<{ room_id: string; name?: string; topic?: string; canonical_alias?: string; num_joined_members?: number }> }> {
    return this.api.request('POST', '/_matrix/client/v3/publicRooms', { limit: 30, ...(search ? { filter: { generic_search_term: search } } : {}) });
  }
}
