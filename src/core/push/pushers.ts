// Pushers and the push gateway (matrix-spec: pusher.yaml; client-server-api modules/push.md; the Push
// Gateway API's POST /_matrix/push/v1/notify; spec/pushers.md).
//
// A user's pushers are stored with the device that set them (deleted with it). When an event notifies
// a user under their push rules (the push actions the writer computed for it), each of the user's
// HTTP pushers gets one notification: POSTed to the pusher's `data.url` through the outbound address
// policy (services.outbound: ip_range_blacklist / ip_range_whitelist), one request per pusher, in
// order per pusher. A gateway that cannot be reached, times out or answers 5xx/429 is retried with
// exponential backoff (timers of the injected clock); after `maxAttempts` the notification is dropped.
// A 4xx answer or an address the policy refuses drops the notification at once. A pushkey the gateway
// lists in `rejected` deletes that pusher. Notifications waiting in memory do not survive a restart.
import type { Clock, TimerHandle } from '../../clock.js';
import { badJson, invalidParam, missingParam } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { AccountStore, EventRecord, PushActionRecord, PusherRecord, RoomStore, SyncStore } from '../../storage/types.js';
import type { JsonObject, JsonValue } from '../../wire.js';
import type { AuthContext } from '../accounts/events.js';
import type { EventSource, RoomState } from '../events/writer.js';
import { OutboundError, type OutboundRequest, type OutboundResponse } from '../net/http.js';
import type { RateLimiter } from '../ratelimit.js';
import { lookupIn } from '../rooms/room-state.js';
import { total, unreadByThread } from './unread.js';

/** pusher.yaml: "MUST be an HTTPS URL with a path of /_matrix/push/v1/notify" (http is accepted too, as Synapse does). */
export const NOTIFY_PATH = '/_matrix/push/v1/notify';
const MAX_APP_ID = 64;
const MAX_PUSHKEY_BYTES = 512;
/** Notifications kept waiting per pusher while its gateway is down; older ones are dropped past this. */
const MAX_QUEUED = 100;

export interface PusherOptions {
  /** Per request. */
  timeoutMs?: number;
  /** First retry after this; each next one waits twice as long, up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Attempts per notification (the first included). */
  maxAttempts?: number;
}

/** What the pushers need of the outbound HTTP client (core/net/http.ts OutboundHttp). */
export interface PushTransport {
  request(r: OutboundRequest): Promise<OutboundResponse>;
}

/** POST /pushers/set's body, checked. */
export type PusherChange =
  | { delete: true; appId: string; pushkey: string }
  | { delete: false; append: boolean; pusher: Omit<PusherRecord, 'userId' | 'deviceId' | 'pushkeyTs'> };

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(b: Obj, key: string, required: boolean): string | undefined {
  const v = b[key];
  if (v === undefined || v === null) {
    if (required) throw missingParam(`'${key}' is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw badJson(`'${key}' must be a string`);
  return v;
}

/** The gateway URL of an HTTP pusher's data: an http(s) URL whose path is /_matrix/push/v1/notify. */
export function gatewayUrl(data: JsonObject): URL {
  const raw = data.url;
  if (typeof raw !== 'string') throw missingParam("'data.url' is required for an http pusher");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidParam("'data.url' must be a URL");
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalidParam("'data.url' must be an https (or http) URL");
  if (url.pathname !== NOTIFY_PATH) throw invalidParam(`'data.url' must have the path ${NOTIFY_PATH}`);
  if (url.username !== '' || url.password !== '') throw invalidParam("'data.url' must not carry credentials");
  return url;
}

/** Checks POST /pushers/set's body (pusher.yaml#postPusher). */
export function parsePusherChange(body: unknown): PusherChange {
  if (!isObject(body)) throw badJson('Content must be a JSON object');
  if (!('kind' in body)) throw missingParam("'kind' is required");
  const kind = body.kind;
  const appId = str(body, 'app_id', true)!;
  const pushkey = str(body, 'pushkey', true)!;
  if ([...appId].length > MAX_APP_ID) throw invalidParam(`'app_id' must be at most ${MAX_APP_ID} characters`);
  if (Buffer.byteLength(pushkey, 'utf8') > MAX_PUSHKEY_BYTES) throw invalidParam(`'pushkey' must be at most ${MAX_PUSHKEY_BYTES} bytes`);
  if (kind === null) return { delete: true, appId, pushkey };
  if (typeof kind !== 'string') throw badJson("'kind' must be a string or null");
  if (kind === 'email') throw invalidParam('Email pushers are not supported: this server sends no email');
  if (kind !== 'http') throw invalidParam("'kind' must be 'http' or null");
  const data = body.data;
  if (data === undefined || data === null) throw missingParam("'data' is required");
  if (!isObject(data)) throw badJson("'data' must be an object");
  gatewayUrl(data as JsonObject);
  if (data.format !== undefined && data.format !== 'event_id_only') throw invalidParam("'data.format' must be 'event_id_only' when given");
  const append = body.append;
  if (append !== undefined && append !== null && typeof append !== 'boolean') throw badJson("'append' must be a boolean");
  return {
    delete: false,
    append: append === true,
    pusher: {
      kind, appId, pushkey,
      appDisplayName: str(body, 'app_display_name', true)!,
      deviceDisplayName: str(body, 'device_display_name', true)!,
      profileTag: str(body, 'profile_tag', false) ?? null,
      lang: str(body, 'lang', true)!,
      data: data as JsonObject,
    },
  };
}

/** A pusher as GET /pushers shows it (pusher.yaml#getPushers). */
function pusherJson(p: PusherRecord): JsonObject {
  return {
    app_display_name: p.appDisplayName, app_id: p.appId, data: p.data, device_display_name: p.deviceDisplayName,
    kind: p.kind, lang: p.lang, pushkey: p.pushkey, ...(p.profileTag !== null ? { profile_tag: p.profileTag } : {}),
  };
}

interface Delivery {
  pusher: PusherRecord;
  body: JsonObject;
  attempts: number;
}

export class PusherService {
  private readonly queues = new Map<string, Delivery[]>();
  /** Pushers whose queue is being worked on (a request in flight, or a retry timer set). */
  private readonly active = new Map<string, TimerHandle | null>();
  private busy = 0;
  private idleWaiters: (() => void)[] = [];
  private stopped = false;
  private readonly timeoutMs: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly maxAttempts: number;

  constructor(
    private readonly accounts: AccountStore,
    private readonly rooms: RoomStore,
    private readonly sync: SyncStore,
    private readonly transport: PushTransport,
    private readonly rateLimiter: RateLimiter,
    private readonly clock: Clock,
    private readonly logger: Logger,
    opts: PusherOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.initialBackoffMs = opts.initialBackoffMs ?? 1_000;
    this.maxBackoffMs = opts.maxBackoffMs ?? 10 * 60_000;
    this.maxAttempts = opts.maxAttempts ?? 10;
  }

  // ---- the client API ----------------------------------------------------------------------------

  /** GET /pushers (matrix-spec: pusher.yaml#getPushers). */
  async list(auth: AuthContext): Promise<{ pushers: JsonObject[] }> {
    return { pushers: (await this.accounts.getPushers(auth.userId)).map(pusherJson) };
  }

  /** POST /pushers/set (matrix-spec: pusher.yaml#postPusher): create, replace or (kind null) delete. */
  async set(auth: AuthContext, body: unknown): Promise<void> {
    const change = parsePusherChange(body);
    await this.rateLimiter.check('message', auth.userId, auth.isAdmin);
    if (change.delete) {
      await this.accounts.deletePusher(auth.userId, change.appId, change.pushkey);
      return;
    }
    await this.accounts.setPusher({ ...change.pusher, userId: auth.userId, deviceId: auth.deviceId, pushkeyTs: this.clock.now() }, change.append);
  }

  // ---- delivery ----------------------------------------------------------------------------------

  /** The writer's listener: an event was committed that notifies these users. */
  onEventPersisted(record: EventRecord, room: RoomState, _source: EventSource, actions: PushActionRecord[]): void {
    if (this.stopped || actions.length === 0) return;
    this.busy++;
    void this.enqueue(record, room, actions)
      .catch((err: unknown) => this.logger.warn({ err, eventId: record.event.event_id }, 'could not prepare push notifications'))
      .finally(() => this.done());
  }

  private async enqueue(record: EventRecord, room: RoomState, actions: PushActionRecord[]): Promise<void> {
    for (const a of actions) {
      const pushers = (await this.accounts.getPushers(a.userId)).filter((p) => p.kind === 'http');
      if (pushers.length === 0) continue;
      const unread = await this.badge(a.userId);
      for (const p of pushers) {
        const key = `${p.userId}\u0000${p.appId}\u0000${p.pushkey}`;
        const queue = this.queues.get(key) ?? [];
        if (queue.length >= MAX_QUEUED) queue.shift();
        queue.push({ pusher: p, body: this.notification(record, room, a, p, unread), attempts: 0 });
        this.queues.set(key, queue);
        if (!this.active.has(key)) {
          this.active.set(key, null);
          this.busy++;
          void this.drain(key).finally(() => this.done());
        }
      }
    }
  }

  /**
   * `counts.unread` of the Push Gateway API: the number of rooms in which the user has unread
   * notifications (Synapse's default, `group_unread_count_by_room`).
   */
  private async badge(userId: string): Promise<number> {
    let rooms = 0;
    for (const m of await this.rooms.getRoomsForUser(userId, ['join'])) {
      if (total(await unreadByThread(this.sync, userId, m.roomId)).notifications > 0) rooms++;
    }
    return rooms;
  }

  /** The body of POST /_matrix/push/v1/notify for one pusher (`format: event_id_only`: the IDs, counts and devices only). */
  private notification(record: EventRecord, room: RoomState, a: PushActionRecord, p: PusherRecord, unread: number): JsonObject {
    const e = record.event;
    const tweaks: Record<string, JsonValue> = { ...(a.tweaks ?? {}) };
    const { url: _url, ...data } = p.data;
    const prio = e.type === 'm.room.encrypted' || tweaks.sound !== undefined || a.highlight ? 'high' : 'low';
    const device: JsonObject = { app_id: p.appId, pushkey: p.pushkey, pushkey_ts: Math.floor(p.pushkeyTs / 1000), data, tweaks };
    const n: JsonObject = { event_id: e.event_id, room_id: e.room_id, counts: { unread }, devices: [device], prio };
    if (p.data.format !== 'event_id_only') {
      const lookup = lookupIn(room.state);
      n.type = e.type;
      n.sender = e.sender;
      n.content = e.content;
      const name = lookup('m.room.name', '')?.content.name;
      if (typeof name === 'string') n.room_name = name;
      const alias = lookup('m.room.canonical_alias', '')?.content.alias;
      if (typeof alias === 'string') n.room_alias = alias;
      const displayName = lookup('m.room.member', e.sender)?.content.displayname;
      if (typeof displayName === 'string') n.sender_display_name = displayName;
      if (e.type === 'm.room.member') n.user_is_target = e.state_key === a.userId;
    }
    return { notification: n };
  }

  /** Sends a pusher's queued notifications in order until the queue is empty or a retry waits. */
  private async drain(key: string): Promise<void> {
    for (;;) {
      const queue = this.queues.get(key);
      const d = queue?.[0];
      if (this.stopped || !queue || !d) {
        this.queues.delete(key);
        this.active.delete(key);
        return;
      }
      const outcome = await this.attempt(d);
      if (outcome === 'retry' && d.attempts < this.maxAttempts) {
        const delay = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** (d.attempts - 1));
        this.busy++;
        this.active.set(key, this.clock.setTimer(() => {
          this.active.set(key, null);
          void this.drain(key).finally(() => this.done());
        }, delay));
        return;
      }
      if (outcome === 'retry') this.logger.warn({ appId: d.pusher.appId, userId: d.pusher.userId, attempts: d.attempts }, 'push gateway unreachable: notification dropped');
      if (outcome === 'gone') {
        this.queues.delete(key);
        this.active.delete(key);
        return;
      }
      queue.shift();
    }
  }

  /** One request to the gateway: 'ok', 'drop' (give the notification up), 'retry', or 'gone' (the pusher was deleted). */
  private async attempt(d: Delivery): Promise<'ok' | 'drop' | 'retry' | 'gone'> {
    const p = d.pusher;
    // The pusher may have been deleted (its device logged out) while this waited.
    const current = (await this.accounts.getPushers(p.userId)).find((x) => x.appId === p.appId && x.pushkey === p.pushkey);
    if (!current) return 'gone';
    d.attempts++;
    let url: URL;
    try {
      url = gatewayUrl(current.data);
    } catch {
      return 'gone';
    }
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    let res: OutboundResponse;
    try {
      res = await this.transport.request({
        protocol: url.protocol === 'https:' ? 'https' : 'http', host, port, method: 'POST', path: `${url.pathname}${url.search}`,
        headers: { 'Content-Type': 'application/json' }, body: Buffer.from(JSON.stringify(d.body)),
        timeoutMs: this.timeoutMs, maxResponseBytes: 64 * 1024,
      });
    } catch (err) {
      if (err instanceof OutboundError && err.kind === 'blocked') {
        this.logger.warn({ appId: p.appId, userId: p.userId, err: err.message }, 'push gateway address refused by ip_range_blacklist: notification dropped');
        return 'drop';
      }
      this.logger.info({ appId: p.appId, userId: p.userId, err: (err as Error).message, attempt: d.attempts }, 'push gateway request failed');
      return 'retry';
    }
    if (res.status >= 500 || res.status === 429) return 'retry';
    if (res.status < 200 || res.status >= 300) {
      this.logger.warn({ appId: p.appId, userId: p.userId, status: res.status }, 'push gateway refused the notification: dropped');
      return 'drop';
    }
    let rejected: unknown;
    try {
      rejected = (JSON.parse(res.body.toString('utf8')) as { rejected?: unknown }).rejected;
    } catch {
      rejected = undefined;
    }
    // Push Gateway API: pushkeys in `rejected` are no longer valid; their pushers are deleted.
    if (Array.isArray(rejected) && rejected.includes(p.pushkey)) {
      await this.accounts.deletePusher(p.userId, p.appId, p.pushkey);
      this.logger.info({ appId: p.appId, userId: p.userId }, 'push gateway rejected the pushkey: pusher deleted');
      return 'gone';
    }
    return 'ok';
  }

  private done(): void {
    this.busy--;
    if (this.busy === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /**
   * Resolves when no notification is being prepared or sent and no retry is waiting (tests; an orderly
   * shutdown). A retry timer counts as work until it has fired and its attempt has finished.
   */
  settled(): Promise<void> {
    if (this.busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops delivering: waiting retries are cancelled, queued notifications are dropped. */
  stop(): void {
    this.stopped = true;
    for (const [key, timer] of this.active) {
      if (timer) {
        timer.cancel();
        this.active.delete(key);
        this.done();
      }
    }
    this.queues.clear();
  }
}
