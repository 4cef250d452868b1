// The client's picture of the rooms: state that matters for display (name, topic, members), the
// timeline as display items with edits and redactions applied, unread counts, typing.
import type { Json } from './api.js';

export interface MatrixEvent {
  event_id?: string;
  type: string;
  sender: string;
  state_key?: string;
  content: Json;
  origin_server_ts?: number;
  unsigned?: Json;
  redacts?: string;
  room_id?: string;
}

export interface Member {
  membership: string;
  displayName?: string;
}

/** One line of the timeline: a message, a membership or room change, or a server-generated event. */
export interface Item {
  /** Stable DOM key: the event ID, or `txn:<id>` for our own message while it is being sent. */
  key: string;
  eventId?: string;
  txnId?: string;
  type: string;
  sender: string;
  stateKey?: string;
  ts: number;
  /** The content shown: the original, or the newest edit's `m.new_content`. */
  content: Json;
  /** The event's own content (for membership changes: the previous displayname). */
  prevContent?: Json;
  edited: boolean;
  editTs: number;
  redacted: boolean;
  pending?: 'sending' | 'failed';
  /** Bumped on every change, so views re-render only what changed. */
  version: number;
}

export interface Invite {
  roomId: string;
  name: string;
  inviter: string;
  inviterName: string;
  reason?: string;
  topic?: string;
  ts: number;
}

/** Server-generated events (spec/server-events.md): the sender is a domain, not a user ID. */
export const isServerSender = (sender: string) => !sender.startsWith('@');

const SHOWN_STATE = new Set(['m.room.member', 'm.room.name', 'm.room.topic', 'm.room.create']);

export function relatesTo(content: Json): { rel_type?: unknown; event_id?: unknown } | undefined {
  const r = content['m.relates_to'];
  return typeof r === 'object' && r !== null ? (r as { rel_type?: unknown; event_id?: unknown }) : undefined;
}

const isEdit = (ev: MatrixEvent) => ev.type === 'm.room.message' && relatesTo(ev.content)?.rel_type === 'm.replace' && typeof relatesTo(ev.content)?.event_id === 'string';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export class Room {
  name: string | undefined;
  alias: string | undefined;
  topic: string | undefined;
  heroes: string[] = [];
  joinedCount = 0;
  invitedCount = 0;
  members = new Map<string, Member>();
  items: Item[] = [];
  prevBatch: string | undefined;
  /** The timeline reaches the room's creation: nothing older to load. */
  atStart = false;
  unread = 0;
  highlight = 0;
  typing: string[] = [];
  isNotices = false;
  /** The event our last read receipt named. */
  readEventId: string | undefined;
  private byId = new Map<string, Item>();
  private byTxn = new Map<string, Item>();
  private pendingEdits = new Map<string, MatrixEvent[]>();
  private pendingRedactions = new Set<string>();

  constructor(readonly id: string) {}

  /** The name shown: m.room.name, the alias, the other members (heroes), or a fallback. */
  displayName(me: string): string {
    if (this.name) return this.name;
    if (this.alias) return this.alias;
    const others = this.heroes.filter((u) => u !== me).map((u) => this.memberName(u));
    if (others.length > 0) return others.join(', ');
    return 'Empty room';
  }

  memberName(userId: string): string {
    return this.members.get(userId)?.displayName || userId;
  }

  lastActivity(): number {
    return this.items.at(-1)?.ts ?? 0;
  }

  /** The newest message (for the room list). */
  lastMessage(): Item | undefined {
    for (let i = this.items.length - 1; i >= 0; i--) {
      const it = this.items[i]!;
      if (it.type !== 'm.room.member' && it.type !== 'm.room.create') return it;
    }
    return undefined;
  }

  /** Current state (sync `state`, and state events of the live timeline). */
  applyState(ev: MatrixEvent): void {
    const c = ev.content;
    switch (ev.type) {
      case 'm.room.name': this.name = str(c.name) || undefined; break;
      case 'm.room.topic': this.topic = str(c.topic) || undefined; break;
      case 'm.room.canonical_alias': this.alias = str(c.alias) || undefined; break;
      case 'm.room.member':
        if (ev.state_key !== undefined) this.members.set(ev.state_key, { membership: str(c.membership) ?? 'leave', ...(str(c.displayname) ? { displayName: str(c.displayname)! } : {}) });
        break;
    }
  }

  /** Learns a member's name from an older event without overriding what is known. */
  private learnMember(ev: MatrixEvent): void {
    if (ev.type === 'm.room.member' && ev.state_key !== undefined && !this.members.has(ev.state_key)) this.applyState(ev);
  }

  /** Live events, oldest first (sync timeline). */
  addLive(events: MatrixEvent[]): void {
    for (const ev of events) {
      if (ev.state_key !== undefined) this.applyState(ev);
      this.ingest(ev, 'end');
    }
  }

  /** Older events, newest first (/messages dir=b), with the state that names their senders. */
  addOlder(events: MatrixEvent[], state: MatrixEvent[]): void {
    for (const ev of state) this.learnMember(ev);
    const older: Item[] = [];
    for (const ev of events) {
      this.learnMember(ev);
      const item = this.ingest(ev, 'none');
      if (item) older.push(item);
    }
    older.reverse();
    this.items = [...older, ...this.items];
  }

  /** A gap (limited sync): what we had no longer joins up with what comes; start again from here. */
  resetTimeline(): void {
    this.items = this.items.filter((i) => i.pending);
    this.byId.clear();
    for (const i of this.items) if (i.eventId) this.byId.set(i.eventId, i);
    this.pendingEdits.clear();
    this.pendingRedactions.clear();
    this.atStart = false;
  }

  private ingest(ev: MatrixEvent, at: 'end' | 'none'): Item | undefined {
    if (ev.event_id && this.byId.has(ev.event_id)) {
      const known = this.byId.get(ev.event_id)!;
      if (known.pending) this.confirm(known, ev);
      return undefined;
    }
    const txnId = str(ev.unsigned?.transaction_id);
    const echo = txnId ? this.byTxn.get(txnId) : undefined;
    if (echo) {
      this.confirm(echo, ev);
      return undefined;
    }
    if (ev.type === 'm.room.redaction') {
      const target = ev.redacts ?? str(ev.content.redacts);
      if (target) this.redact(target);
      return undefined;
    }
    if (isEdit(ev)) {
      const target = relatesTo(ev.content)!.event_id as string;
      const original = this.byId.get(target);
      if (original) this.applyEdit(original, ev);
      else this.pendingEdits.set(target, [...(this.pendingEdits.get(target) ?? []), ev]);
      return undefined;
    }
    const item = this.toItem(ev);
    if (!item) return undefined;
    if (item.eventId) {
      this.byId.set(item.eventId, item);
      for (const edit of this.pendingEdits.get(item.eventId) ?? []) this.applyEdit(item, edit);
      this.pendingEdits.delete(item.eventId);
      if (this.pendingRedactions.delete(item.eventId)) this.markRedacted(item);
    }
    if (at === 'end') this.items.push(item);
    return item;
  }

  private toItem(ev: MatrixEvent): Item | undefined {
    const server = isServerSender(ev.sender);
    const shown = ev.type === 'm.room.message' || ev.type === 'm.room.encrypted' || (ev.state_key !== undefined && SHOWN_STATE.has(ev.type)) || (server && ev.state_key === undefined);
    if (!shown) return undefined;
    const redacted = ev.unsigned?.redacted_because !== undefined;
    const prev = ev.unsigned?.prev_content;
    return {
      key: ev.event_id ?? `local:${Math.random()}`,
      ...(ev.event_id ? { eventId: ev.event_id } : {}),
      type: ev.type,
      sender: ev.sender,
      ...(ev.state_key !== undefined ? { stateKey: ev.state_key } : {}),
      ts: ev.origin_server_ts ?? Date.now(),
      content: redacted ? {} : ev.content,
      ...(typeof prev === 'object' && prev !== null ? { prevContent: prev as Json } : {}),
      edited: false,
      editTs: 0,
      redacted,
      version: 0,
    };
  }

  /** Our own message, shown at once while it is sent. */
  addLocalEcho(txnId: string, sender: string, content: Json): Item {
    const item: Item = { key: `txn:${txnId}`, txnId, type: 'm.room.message', sender, ts: Date.now(), content, edited: false, editTs: 0, redacted: false, pending: 'sending', version: 0 };
    this.byTxn.set(txnId, item);
    this.items.push(item);
    return item;
  }

  /** The server accepted our message: it now has an event ID (sync may bring it before or after). */
  echoSent(item: Item, eventId: string): void {
    if (this.byId.has(eventId) && this.byId.get(eventId) !== item) {
      // sync delivered it first as a separate item: keep one
      this.items = this.items.filter((i) => i !== item);
      return;
    }
    item.eventId = eventId;
    item.pending = undefined;
    item.version++;
    this.byId.set(eventId, item);
    for (const edit of this.pendingEdits.get(eventId) ?? []) this.applyEdit(item, edit);
    this.pendingEdits.delete(eventId);
    if (this.pendingRedactions.delete(eventId)) this.markRedacted(item);
  }

  echoFailed(item: Item): void {
    item.pending = 'failed';
    item.version++;
  }

  private confirm(item: Item, ev: MatrixEvent): void {
    if (ev.event_id) {
      item.eventId = ev.event_id;
      this.byId.set(ev.event_id, item);
    }
    item.ts = ev.origin_server_ts ?? item.ts;
    if (!item.edited && !item.redacted) item.content = ev.content;
    item.pending = undefined;
    item.version++;
  }

  private applyEdit(original: Item, edit: MatrixEvent): void {
    // Only the original sender may edit (matrix-spec: "Validity of replacement events").
    if (edit.sender !== original.sender || original.redacted) return;
    const replacement = edit.content['m.new_content'];
    if (typeof replacement !== 'object' || replacement === null) return;
    const ts = edit.origin_server_ts ?? Date.now();
    if (ts < original.editTs) return;
    original.content = replacement as Json;
    original.edited = true;
    original.editTs = ts;
    original.version++;
  }

  redact(eventId: string): void {
    const target = this.byId.get(eventId);
    if (target) this.markRedacted(target);
    else this.pendingRedactions.add(eventId);
  }

  private markRedacted(item: Item): void {
    item.redacted = true;
    item.content = {};
    item.edited = false;
    item.version++;
  }

  findItem(eventId: string): Item | undefined {
    return this.byId.get(eventId);
  }

  /** The newest event with an ID (for read receipts). */
  lastEventId(): string | undefined {
    for (let i = this.items.length - 1; i >= 0; i--) {
      const id = this.items[i]!.eventId;
      if (id && !this.items[i]!.pending) return id;
    }
    return undefined;
  }
}

/** An invite as its stripped state shows it: room name, who invited, and why. */
export function inviteFrom(roomId: string, me: string, events: MatrixEvent[]): Invite {
  let name: string | undefined;
  let alias: string | undefined;
  let topic: string | undefined;
  let inviter = '';
  let reason: string | undefined;
  let ts = 0;
  const names = new Map<string, string>();
  for (const ev of events) {
    if (ev.type === 'm.room.name') name = str(ev.content.name);
    if (ev.type === 'm.room.canonical_alias') alias = str(ev.content.alias);
    if (ev.type === 'm.room.topic') topic = str(ev.content.topic);
    if (ev.type === 'm.room.member' && ev.state_key !== undefined && str(ev.content.displayname)) names.set(ev.state_key, str(ev.content.displayname)!);
    if (ev.type === 'm.room.member' && ev.state_key === me && ev.content.membership === 'invite') {
      inviter = ev.sender;
      reason = str(ev.content.reason);
      ts = ev.origin_server_ts ?? 0;
    }
  }
  const inviterName = names.get(inviter) ?? inviter;
  return {
    roomId,
    name: name || alias || (inviter ? `Invite from ${inviterName}` : roomId),
    inviter,
    inviterName,
    ...(reason ? { reason } : {}),
    ...(topic ? { topic } : {}),
    ts,
  };
}
