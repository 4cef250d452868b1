// Sessions shared by the processes of a cluster (spec/scaling.md "Sessions"). Every process keeps
// every live session in memory (the SessionStore interface is synchronous: a request resolves its
// session without a round trip), Redis holds them for processes that start later
// (`sessions` hash: id -> JSON; `sessions:active` hash: user|device -> id), and each change is
// published on the cluster channel and applied by the others:
//
// - `session` (started, presence or activity changed), `session-del` (ended), `session-active`
//   (the device's active session);
// - `session-touch`: a request began or ended in a session on one process, with that process's count
//   of requests in flight in it and the new last-seen time. A session's `inFlight` is the sum over
//   processes, so a /sync waiting on process B keeps a session alive that process A would expire;
//   the counts of a process that died are dropped (`gone`, sent by the lease holder).
//
// Session objects keep their identity in each process (a remote change is applied to the same object),
// as SessionService compares them by identity.
import { InMemorySessionStore, type Session, type SessionStore } from '../core/sessions.js';
import type { Cluster, Lease } from './bus.js';

type Wire = Omit<Session, 'inFlight'>;

const wire = (s: Session): Wire => {
  const { inFlight: _, ...rest } = s;
  return rest;
};

export class RedisSessionStore implements SessionStore {
  private readonly mirror = new InMemorySessionStore();
  /** Requests in flight per session on this process. */
  private readonly local = new Map<string, number>();
  /** Requests in flight per session on other processes: session -> process -> count. */
  private readonly busy = new Map<string, Map<string, number>>();
  private readonly remoteStart: ((s: Session) => void)[] = [];
  private readonly keys: { sessions: string; active: string };
  private reaper: NodeJS.Timeout | undefined;

  private constructor(private readonly cluster: Cluster) {
    this.keys = { sessions: `${cluster.prefix}sessions`, active: `${cluster.prefix}sessions:active` };
    cluster.on('session', (m) => this.applyPut(m.s as Wire));
    cluster.on('session-del', (m) => this.applyDelete(String(m.id)));
    cluster.on('session-active', (m) => this.mirror.setActiveForDevice(String(m.u), String(m.d), String(m.id)));
    cluster.on('session-touch', (m, from) => this.applyTouch(m, from));
    cluster.on('gone', (m) => this.dropProcess(String(m.p)), true);
  }

  /** The store with every live session loaded from Redis. `lease`: its holder announces dead processes. */
  static async open(cluster: Cluster, lease?: Lease): Promise<RedisSessionStore> {
    const store = new RedisSessionStore(cluster);
    const all = await cluster.command<string[] | Record<string, string>>(['HGETALL', store.keys.sessions]);
    for (const json of values(all)) store.applyPut(JSON.parse(json) as Wire, false);
    const active = await cluster.command<string[] | Record<string, string>>(['HGETALL', store.keys.active]);
    for (const [key, id] of entries(active)) {
      const [u, d] = key.split('|');
      if (u !== undefined && d !== undefined && store.mirror.get(id)) store.mirror.setActiveForDevice(u, d, id);
    }
    if (lease) {
      store.reaper = setInterval(() => {
        if (lease.held) void store.announceDead().catch(() => {});
      }, 1000);
      store.reaper.unref();
    }
    return store;
  }

  stop(): void {
    if (this.reaper) clearInterval(this.reaper);
  }

  get size(): number {
    return this.mirror.size;
  }

  get(id: string): Session | undefined {
    return this.mirror.get(id);
  }

  put(s: Session): void {
    this.mirror.put(s);
    this.save(s);
    this.cluster.publish({ t: 'session', s: wire(s) });
  }

  delete(id: string): void {
    this.mirror.delete(id);
    this.local.delete(id);
    this.busy.delete(id);
    void this.cluster.command(['HDEL', this.keys.sessions, id]).catch(() => {});
    this.cluster.publish({ t: 'session-del', id });
  }

  activeForDevice(userId: string, deviceId: string): Session | undefined {
    return this.mirror.activeForDevice(userId, deviceId);
  }

  setActiveForDevice(userId: string, deviceId: string, id: string): void {
    if (this.mirror.activeForDevice(userId, deviceId)?.id === id) return;
    this.mirror.setActiveForDevice(userId, deviceId, id);
    void this.cluster.command(['HSET', this.keys.active, `${userId}|${deviceId}`, id]).catch(() => {});
    this.cluster.publish({ t: 'session-active', u: userId, d: deviceId, id });
  }

  forUser(userId: string): Session[] {
    return this.mirror.forUser(userId);
  }

  all(): Iterable<Session> {
    return this.mirror.all();
  }

  touched(s: Session, inFlightDelta: number): void {
    if (this.mirror.get(s.id) !== s) return;
    if (inFlightDelta !== 0) {
      const n = Math.max(0, (this.local.get(s.id) ?? 0) + inFlightDelta);
      if (n === 0) this.local.delete(s.id);
      else this.local.set(s.id, n);
      this.cluster.publish({ t: 'session-touch', id: s.id, n, ls: s.lastSeenTs, ip: s.ip, ua: s.userAgent });
    } else {
      this.cluster.publish({ t: 'session', s: wire(s) });
    }
    this.save(s);
  }

  onRemoteStart(fn: (s: Session) => void): void {
    this.remoteStart.push(fn);
  }

  private save(s: Session): void {
    void this.cluster.command(['HSET', this.keys.sessions, s.id, JSON.stringify(wire(s))]).catch(() => {});
  }

  private applyPut(w: Wire, announce = true): void {
    const existing = this.mirror.get(w.id);
    if (existing) {
      Object.assign(existing, w, { lastSeenTs: Math.max(existing.lastSeenTs, w.lastSeenTs) });
      return;
    }
    const s: Session = { ...w, inFlight: 0 };
    this.mirror.put(s);
    if (announce) for (const fn of this.remoteStart) fn(s);
  }

  private applyDelete(id: string): void {
    this.mirror.delete(id);
    this.local.delete(id);
    this.busy.delete(id);
  }

  private applyTouch(m: Record<string, unknown>, from: string): void {
    const s = this.mirror.get(String(m.id));
    if (!s) return;
    let counts = this.busy.get(s.id);
    if (!counts) this.busy.set(s.id, (counts = new Map()));
    const n = Number(m.n);
    s.inFlight = Math.max(0, s.inFlight + n - (counts.get(from) ?? 0));
    if (n === 0) counts.delete(from);
    else counts.set(from, n);
    if (counts.size === 0) this.busy.delete(s.id);
    s.lastSeenTs = Math.max(s.lastSeenTs, Number(m.ls));
    if (typeof m.ip === 'string') s.ip = m.ip;
    if (typeof m.ua === 'string') s.userAgent = m.ua;
  }

  /** A process died: its requests in flight are over. */
  private dropProcess(proc: string): void {
    for (const [id, counts] of this.busy) {
      const n = counts.get(proc);
      if (n === undefined) continue;
      counts.delete(proc);
      const s = this.mirror.get(id);
      if (s) s.inFlight = Math.max(0, s.inFlight - n);
      if (counts.size === 0) this.busy.delete(id);
    }
  }

  /** The lease holder tells everyone which processes with requests in flight died. */
  private async announceDead(): Promise<void> {
    const procs = new Set<string>();
    for (const counts of this.busy.values()) for (const p of counts.keys()) procs.add(p);
    for (const p of procs) if (!(await this.cluster.isLive(p))) this.cluster.publish({ t: 'gone', p });
  }
}

/** HGETALL answers a flat list (RESP2) or a map (RESP3) depending on the protocol. */
function entries(reply: string[] | Record<string, string>): [string, string][] {
  if (!Array.isArray(reply)) return Object.entries(reply);
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) out.push([reply[i]!, reply[i + 1]!]);
  return out;
}

function values(reply: string[] | Record<string, string>): string[] {
  return entries(reply).map(([, v]) => v);
}
