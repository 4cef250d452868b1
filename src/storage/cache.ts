// Read caches in front of any Storage implementation (the Dendrite pattern: caching storage, not
// caching services). They answer the questions every /sync asks again and again from memory:
// which rooms a user is in, a room's newest events, unread counts and read receipts, whether a
// device has to-device messages, whether a user's account data changed. Every write goes through
// this layer, which keeps the caches right:
//
// - A write marks its keys pending before it calls the store and settles them after the store
//   answered (committed or failed). While a key is pending, reads of it go to the store, and a read
//   that was under way when a write began never fills the cache (per-key versions). So a reader sees
//   what the store has, never an answer older than a write that already committed, whatever order
//   the promises resolve in.
// - Each cache is bounded; when one is full it is emptied (cheap, and it refills from the store).
// - Several processes (spec/scaling.md "Caches"): a write's keys, and the rooms it added events to,
//   are sent to the other processes once it committed (before its position settles, on the same
//   ordered channel as the position), and each drops those entries as if it had written them.
import type { ReplicaLink } from '../core/replica.js';
import type {
  AccountStore, AccountDataRecord, EventRecord, MembershipRecord, PersistEventInput, ReceiptRecord, RoomEventsQuery, RoomStore, Storage, SyncStore,
  ToDeviceRecord,
} from './types.js';

/** A bounded map whose entries are filled from reads and dropped by writes (see the file comment). */
export class VersionedCache<K, V> {
  private readonly entries = new Map<K, V>();
  private readonly versions = new Map<K, number>();
  private readonly pending = new Map<K, number>();
  private readonly held = new Map<K, V>();
  private clock = 0;
  private clearedAt = 0;
  /** Set when the cache is shared: tells the other processes which keys a write changed. */
  announce: ((keys: K[]) => void) | undefined;

  constructor(private readonly maxEntries: number) {}

  get(key: K): V | undefined {
    return this.pending.has(key) ? undefined : this.entries.get(key);
  }

  /** A token for a read that may fill the cache: pass it to `fill` with the key and the value read. */
  startRead(): number {
    return ++this.clock;
  }

  /** Stores what a read returned, unless a write of the key began or settled since the read started. */
  fill(key: K, token: number, value: V): void {
    if (this.pending.has(key) || this.clearedAt > token || (this.versions.get(key) ?? 0) > token) return;
    if (this.entries.size >= this.maxEntries) this.clear();
    this.entries.set(key, value);
  }

  beginWrite(key: K): void {
    const n = (this.pending.get(key) ?? 0) + 1;
    this.pending.set(key, n);
    // The value before the write, for a write that reports its effect (endWrite); one write at a time.
    const v = this.entries.get(key);
    if (n === 1 && v !== undefined) this.held.set(key, v);
    else this.held.delete(key);
    this.invalidate(key);
  }

  /**
   * Settles a write. `effect`, given for a write that committed and whose effect on the value is
   * known, turns the entry cached before the write into the value after it (instead of dropping it).
   */
  endWrite(key: K, effect?: (v: V) => V): void {
    const n = (this.pending.get(key) ?? 1) - 1;
    if (n <= 0) this.pending.delete(key);
    else this.pending.set(key, n);
    const before = effect && n <= 0 ? this.held.get(key) : undefined;
    this.held.delete(key);
    this.invalidate(key);
    if (before !== undefined) this.entries.set(key, effect!(before));
  }

  invalidate(key: K): void {
    this.entries.delete(key);
    if (this.versions.size >= this.maxEntries * 2) {
      // Forgetting versions is only safe together with everything filled before now.
      this.clear();
      return;
    }
    this.versions.set(key, ++this.clock);
  }

  clear(): void {
    this.entries.clear();
    this.held.clear();
    this.versions.clear();
    this.clearedAt = ++this.clock;
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Runs `write` with `keys` pending in `cache` (see the file comment). `effects`: for keys whose
 * change a committed write knows, the function that turns the value before into the value after.
 */
async function writing<K, V, T>(cache: VersionedCache<K, V>, keys: K[], write: () => Promise<T>, effects?: Map<K, (v: V) => V>): Promise<T> {
  for (const k of keys) cache.beginWrite(k);
  let ok = false;
  try {
    const out = await write();
    ok = true;
    return out;
  } finally {
    for (const k of keys) cache.endWrite(k, ok ? effects?.get(k) : undefined);
    if (keys.length > 0) cache.announce?.(keys);
  }
}

/** Reads through `cache`: the cached value, or the store's answer (filled when still current). */
async function reading<K, V>(cache: VersionedCache<K, V>, key: K, read: () => Promise<V>): Promise<V> {
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const token = cache.startRead();
  const value = await read();
  cache.fill(key, token, value);
  return value;
}

export interface CacheLimits {
  /** Users whose room memberships are kept. */
  users: number;
  /** Rooms whose newest events are kept, and how many of each. */
  rooms: number;
  eventsPerRoom: number;
  /** Unread counts, receipts, devices' to-device marks, users' account-data marks. */
  small: number;
}

export const DEFAULT_CACHE_LIMITS: CacheLimits = { users: 100_000, rooms: 2_000, eventsPerRoom: 24, small: 200_000 };

/** An unread count as countNotifications answered it for receipts up to `after`. */
interface Unread {
  after: number;
  n: number;
  h: number;
}

const ALL_MEMBERSHIPS = ['join', 'invite', 'leave', 'ban', 'knock'];

/** The newest events of a room: every event of the room with a position above `floor`, oldest first. */
interface RecentEvents {
  floor: number;
  events: EventRecord[];
}

function recordOf(p: PersistEventInput): EventRecord {
  return {
    event: p.event,
    streamOrdering: p.streamOrdering,
    unsigned: p.unsigned,
    redactedBy: null,
    txn: p.txn ? { userId: p.txn.userId, deviceId: p.txn.deviceId, txnId: p.txn.txnId } : null,
    serverLocal: p.serverLocal === true,
    graph: {
      stateBefore: p.graph?.stateBefore ?? null, stateAfter: p.graph?.stateAfter ?? null, outlier: p.graph?.outlier === true,
      rejected: p.graph?.rejected ?? null, softFailed: p.graph?.softFailed === true,
    },
  };
}

/** Whether an event takes part in the room's stream (not an outlier, rejected, soft-failed or backfilled one). */
const inStream = (p: PersistEventInput): boolean =>
  p.streamOrdering > 0 && !p.graph?.outlier && !p.graph?.rejected && !p.graph?.softFailed;

/** The query answered from a room's newest events, or undefined when they do not cover it. */
function fromRecent(recent: RecentEvents, q: RoomEventsQuery): EventRecord[] | undefined {
  if (q.types || q.notTypes || q.senders || q.notSenders) return undefined;
  if (q.limit <= 0) return [];
  const list = recent.events;
  if (q.dir === 'f') {
    // (from, to]: covered when from is at or above the floor.
    if (q.from < recent.floor) return undefined;
    const out: EventRecord[] = [];
    for (const r of list) {
      if (r.streamOrdering <= q.from) continue;
      if (q.to !== undefined && r.streamOrdering > q.to) break;
      out.push(r);
      if (out.length === q.limit) break;
    }
    return out;
  }
  // (to, from), newest first: covered when `to` is at or above the floor, or when `limit` events
  // below `from` are in memory (the newest `limit` of the range then all are).
  const out: EventRecord[] = [];
  for (let i = list.length - 1; i >= 0; i--) {
    const r = list[i]!;
    if (r.streamOrdering >= q.from) continue;
    if (q.to !== undefined && r.streamOrdering <= q.to) return out;
    out.push(r);
    if (out.length === q.limit) return out;
  }
  return q.to !== undefined && q.to >= recent.floor ? out : undefined;
}

/** Unread counts per thread as countNotificationsByThread answered them for receipts up to `after`. */
interface ThreadUnread {
  after: number;
  byThread: Map<string, { notifications: number; highlights: number }>;
}

/** What one process's caches tell the others: keys of a named cache changed, or rooms got events up to `pos`. */
export type CacheChange = { cache: string; keys: string[] } | { rooms: string[]; pos: number };

type Register = (name: string, cache: VersionedCache<string, never>) => void;

function cachedRoomStore(inner: RoomStore, limits: CacheLimits, unread: VersionedCache<string, Unread>, threadUnread: VersionedCache<string, ThreadUnread>,
  register: Register, link: ReplicaLink<CacheChange> | undefined): RoomStore {
  const memberships = new VersionedCache<string, MembershipRecord[]>(limits.users);
  register('memberships', memberships as VersionedCache<string, never>);
  const recent = new Map<string, RecentEvents>();
  const roomsWriting = new Map<string, number>();
  // Another process added events to these rooms: their newest events are read from the store again.
  link?.onReceive((c) => {
    if ('rooms' in c) for (const r of c.rooms) recent.delete(r);
  });

  // Memberships follow the current state's deltas (the event's own key, or the keys a resolution changed).
  const userKeys = (inputs: PersistEventInput[]) => {
    const keys: string[] = [];
    for (const p of inputs) {
      for (const d of p.currentState?.deltas ?? []) if (d.type === 'm.room.member') keys.push(d.stateKey);
      if (p.outOfBand) keys.push(p.outOfBand.userId);
    }
    return keys;
  };
  // New notifications raise the unread counts cached for them: a new event comes after every
  // receipt, so it counts whatever receipt position a count was taken after.
  const unreadEffects = (inputs: PersistEventInput[]) => {
    const added = new Map<string, { n: number; h: number }>();
    for (const p of inputs) {
      for (const a of p.pushActions ?? []) {
        const key = `${a.userId}\u0000${p.event.room_id}`;
        const d = added.get(key) ?? { n: 0, h: 0 };
        d.n += 1;
        if (a.highlight) d.h += 1;
        added.set(key, d);
      }
    }
    const effects = new Map<string, (v: Unread) => Unread>();
    for (const [key, d] of added) effects.set(key, (v) => ({ after: v.after, n: v.n + d.n, h: v.h + d.h }));
    return effects;
  };
  // The same per thread (a notification is counted in its event's thread, 'main' when none): a new
  // event also comes after every read receipt of its thread. Without this, every event that notifies
  // the members of a big room sent each of them to the store for their counts at their next /sync.
  const threadUnreadEffects = (inputs: PersistEventInput[]) => {
    const added = new Map<string, Map<string, { n: number; h: number }>>();
    for (const p of inputs) {
      const thread = p.threadId ?? 'main';
      for (const a of p.pushActions ?? []) {
        const key = `${a.userId}\u0000${p.event.room_id}`;
        let byThread = added.get(key);
        if (!byThread) added.set(key, (byThread = new Map()));
        const d = byThread.get(thread) ?? { n: 0, h: 0 };
        d.n += 1;
        if (a.highlight) d.h += 1;
        byThread.set(thread, d);
      }
    }
    const effects = new Map<string, (v: ThreadUnread) => ThreadUnread>();
    for (const [key, byThread] of added) {
      effects.set(key, (v) => {
        const next = new Map(v.byThread);
        for (const [thread, d] of byThread) {
          const c = next.get(thread) ?? { notifications: 0, highlights: 0 };
          next.set(thread, { notifications: c.notifications + d.n, highlights: c.highlights + d.h });
        }
        return { after: v.after, byThread: next };
      });
    }
    return effects;
  };

  const remember = (p: PersistEventInput) => {
    if (!inStream(p)) return;
    const roomId = p.event.room_id;
    let r = recent.get(roomId);
    const newest = Math.max(p.streamOrdering, r?.events[r.events.length - 1]?.streamOrdering ?? 0);
    if (p.redaction) {
      // The target changed in the store; the room's events are read from there until new ones come.
      recent.set(roomId, { floor: newest, events: [] });
      return;
    }
    if (!r) {
      if (recent.size >= limits.rooms) recent.clear();
      // Every event of the room after this one comes through here, in order.
      r = { floor: p.streamOrdering - 1, events: [] };
      recent.set(roomId, r);
    }
    const last = r.events[r.events.length - 1];
    if (last && last.streamOrdering >= p.streamOrdering) {
      // Out of order (the writer never does this): start again above everything seen.
      recent.set(roomId, { floor: newest, events: [] });
      return;
    }
    r.events.push(recordOf(p));
    if (r.events.length > limits.eventsPerRoom) {
      const dropped = r.events.splice(0, r.events.length - limits.eventsPerRoom);
      r.floor = dropped[dropped.length - 1]!.streamOrdering;
    }
  };

  const persist = async (inputs: PersistEventInput[], write: () => Promise<void>) => {
    const rooms = [...new Set(inputs.map((p) => p.event.room_id))];
    for (const r of rooms) roomsWriting.set(r, (roomsWriting.get(r) ?? 0) + 1);
    let ok = false;
    try {
      const effects = unreadEffects(inputs);
      const keys = [...effects.keys()];
      await writing(threadUnread, keys, () => writing(unread, keys, () => writing(memberships, userKeys(inputs), write), effects), threadUnreadEffects(inputs));
      ok = true;
    } finally {
      for (const r of rooms) {
        const n = (roomsWriting.get(r) ?? 1) - 1;
        if (n <= 0) roomsWriting.delete(r);
        else roomsWriting.set(r, n);
      }
      if (ok) for (const p of inputs) remember(p);
      else for (const r of rooms) recent.delete(r);
      if (ok && link) {
        let pos = 0;
        for (const p of inputs) if (inStream(p)) pos = Math.max(pos, p.streamOrdering);
        link.send({ rooms, pos });
      }
    }
  };

  return {
    ...inner,
    persistEvent: (input) => persist([input], () => inner.persistEvent(input)),
    persistEvents: (inputs) => persist(inputs, () => inner.persistEvents(inputs)),
    async lockRoom(roomId) {
      const lock = await inner.lockRoom(roomId);
      return { persist: (input) => persist([input], () => lock.persist(input)), release: () => lock.release() };
    },
    async getRoomEvents(q) {
      const r = roomsWriting.has(q.roomId) ? undefined : recent.get(q.roomId);
      const hit = r ? fromRecent(r, q) : undefined;
      return hit ?? inner.getRoomEvents(q);
    },
    async getRoomsForUser(userId, wanted) {
      const all = await reading(memberships, userId, () => inner.getRoomsForUser(userId, ALL_MEMBERSHIPS));
      return all.filter((m) => wanted.includes(m.membership));
    },
    forgetRoom: (roomId, userId) => writing(memberships, [userId], () => inner.forgetRoom(roomId, userId)),
  };
}

function cachedSyncStore(inner: SyncStore, limits: CacheLimits, unread: VersionedCache<string, Unread>, threadUnread: VersionedCache<string, ThreadUnread>,
  register: Register): SyncStore {
  const receipts = new VersionedCache<string, ReceiptRecord | null>(limits.small);
  // No receipt in the room has a position above this.
  const receiptsNoneAfter = new VersionedCache<string, number>(limits.small);
  // No to-device message of the device has a position above this.
  const toDeviceNoneAfter = new VersionedCache<string, number>(limits.small);
  register('receipts', receipts as VersionedCache<string, never>);
  register('receiptsNoneAfter', receiptsNoneAfter as VersionedCache<string, never>);
  register('toDeviceNoneAfter', toDeviceNoneAfter as VersionedCache<string, never>);
  // Every to-device message of the device at or below this position is deleted.
  const toDeviceDeleted = new Map<string, number>();
  // No account data of the user has a position above this.
  const accountDataNoneAfter = new VersionedCache<string, number>(limits.small);
  register('accountDataNoneAfter', accountDataNoneAfter as VersionedCache<string, never>);

  const receiptKey = (roomId: string, type: string, userId: string, threadId: string) => `${roomId}\u0000${type}\u0000${userId}\u0000${threadId}`;
  const device = (userId: string, deviceId: string) => `${userId}\u0000${deviceId}`;

  return {
    ...inner,
    setAccountData: (userId, roomId, type, content, pos) =>
      writing(accountDataNoneAfter, [userId], () => inner.setAccountData(userId, roomId, type, content, pos)),
    async getAccountDataSince(userId, since): Promise<AccountDataRecord[]> {
      const none = accountDataNoneAfter.get(userId);
      if (none !== undefined && none <= since) return [];
      const token = accountDataNoneAfter.startRead();
      const records = await inner.getAccountDataSince(userId, since);
      let max = since;
      for (const r of records) max = Math.max(max, r.streamOrdering);
      accountDataNoneAfter.fill(userId, token, max);
      return records;
    },
    putReceipt: (r) => writing(threadUnread, [`${r.userId}\u0000${r.roomId}`], () => writing(unread, [`${r.userId}\u0000${r.roomId}`], () =>
      writing(receiptsNoneAfter, [r.roomId], () =>
        writing(receipts, [receiptKey(r.roomId, r.receiptType, r.userId, r.threadId)], () => inner.putReceipt(r))))),
    async getReceiptsSince(roomIds, since) {
      // Most incremental syncs: no receipt in any of the user's rooms since `since`.
      if (since > 0 && roomIds.every((id) => {
        const none = receiptsNoneAfter.get(id);
        return none !== undefined && none <= since;
      })) return [];
      const token = receiptsNoneAfter.startRead();
      const records = await inner.getReceiptsSince(roomIds, since);
      const max = new Map<string, number>();
      for (const r of records) max.set(r.roomId, Math.max(max.get(r.roomId) ?? 0, r.streamOrdering));
      for (const id of roomIds) receiptsNoneAfter.fill(id, token, Math.max(since, max.get(id) ?? 0));
      return records;
    },
    async getReceipt(roomId, type, userId, threadId) {
      const r = await reading(receipts, receiptKey(roomId, type, userId, threadId), async () => (await inner.getReceipt(roomId, type, userId, threadId)) ?? null);
      return r ?? undefined;
    },
    async addToDevice(messages: ToDeviceRecord[], txn) {
      const keys = [...new Set(messages.map((m) => device(m.userId, m.deviceId)))];
      return writing(toDeviceNoneAfter, keys, () => inner.addToDevice(messages, txn));
    },
    async getToDevice(userId, deviceId, after, limit) {
      const key = device(userId, deviceId);
      const none = toDeviceNoneAfter.get(key);
      if (none !== undefined && none <= after) return [];
      const token = toDeviceNoneAfter.startRead();
      const messages = await inner.getToDevice(userId, deviceId, after, limit);
      if (messages.length < limit) {
        let max = after;
        for (const m of messages) max = Math.max(max, m.streamOrdering);
        toDeviceNoneAfter.fill(key, token, max);
      }
      return messages;
    },
    async deleteToDevice(userId, deviceId, upTo) {
      const key = device(userId, deviceId);
      const deleted = toDeviceDeleted.get(key);
      const none = toDeviceNoneAfter.get(key);
      // Nothing at or below `upTo` is left: everything up to `deleted` is gone and nothing came after it.
      if (deleted !== undefined && (upTo <= deleted || (none !== undefined && none <= deleted))) return;
      await inner.deleteToDevice(userId, deviceId, upTo);
      if (toDeviceDeleted.size >= limits.small) toDeviceDeleted.clear();
      toDeviceDeleted.set(key, Math.max(deleted ?? 0, upTo));
    },
    async countNotifications(userId, roomId, after) {
      const key = `${userId}\u0000${roomId}`;
      const hit = unread.get(key);
      if (hit !== undefined && hit.after === after) return { notifications: hit.n, highlights: hit.h };
      const token = unread.startRead();
      const c = await inner.countNotifications(userId, roomId, after);
      unread.fill(key, token, { after, n: c.notifications, h: c.highlights });
      return c;
    },
    async countNotificationsByThread(userId, roomId, after) {
      const key = `${userId}\u0000${roomId}`;
      const hit = threadUnread.get(key);
      if (hit !== undefined && hit.after === after) return new Map(hit.byThread);
      const token = threadUnread.startRead();
      const c = await inner.countNotificationsByThread(userId, roomId, after);
      threadUnread.fill(key, token, { after, byThread: new Map(c) });
      return c;
    },
  };
}

/**
 * The account store with one cache: the users known to have no pusher. Every committed event asks,
 * for each user it notifies, for that user's pushers (src/core/push/pushers.ts), and most users have
 * none. Only `setPusher` can give a user one, so only it drops the user's entry; a deletion (of a
 * pusher, or of a device with its pushers) can only leave a user with fewer, so the entries stay true.
 */
function cachedAccountStore(inner: AccountStore, limits: CacheLimits, register: Register): AccountStore {
  const noPushers = new VersionedCache<string, true>(limits.small);
  register('noPushers', noPushers as unknown as VersionedCache<string, never>);
  return {
    ...inner,
    async getPushers(userId: string) {
      if (noPushers.get(userId)) return [];
      const token = noPushers.startRead();
      const pushers = await inner.getPushers(userId);
      if (pushers.length === 0) noPushers.fill(userId, token, true);
      return pushers;
    },
    // Announced to the other processes of a cluster like every cached write (their entry goes too).
    setPusher: (p: Parameters<AccountStore['setPusher']>[0], append: boolean) => writing(noPushers, [p.userId], () => inner.setPusher(p, append)),
  };
}

/**
 * `storage` with the read caches in front of its room and sync stores. `link`: the caches of the
 * other processes of a cluster, told of every write here, telling of theirs.
 */
export function withCaches(storage: Storage, limits: CacheLimits = DEFAULT_CACHE_LIMITS, link?: ReplicaLink<CacheChange>): Storage {
  const unread = new VersionedCache<string, Unread>(limits.small);
  const threadUnread = new VersionedCache<string, ThreadUnread>(limits.small);
  const named = new Map<string, VersionedCache<string, never>>();
  const register: Register = (name, cache) => {
    named.set(name, cache);
    if (link) cache.announce = (keys) => link.send({ cache: name, keys });
  };
  register('unread', unread as VersionedCache<string, never>);
  register('threadUnread', threadUnread as VersionedCache<string, never>);
  link?.onReceive((c) => {
    if (!('cache' in c)) return;
    const cache = named.get(c.cache);
    if (cache) for (const k of c.keys) cache.invalidate(k);
  });
  return {
    engine: storage.engine,
    accounts: cachedAccountStore(storage.accounts, limits, register),
    rooms: cachedRoomStore(storage.rooms, limits, unread, threadUnread, register, link),
    sync: cachedSyncStore(storage.sync, limits, unread, threadUnread, register),
    meta: storage.meta,
    admin: storage.admin,
    federation: storage.federation,
    e2ee: storage.e2ee,
    media: storage.media,
    close: () => storage.close(),
  };
}

