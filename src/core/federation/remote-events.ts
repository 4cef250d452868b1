// Fetching room events from other servers (matrix-spec: server-server/events.yaml, event_auth.yaml,
// backfill.yaml; server-server-api "Retrieving events", "Backfilling and retrieving missing events")
// and handing them to EventReceiver, which checks each on receipt (spec/event-graph.md). Every answer
// is untrusted: PDUs are identified by their reference hash (an answer that names another event than
// asked is dropped), and each goes through the receiver's signature, hash and auth checks.
import type { Logger } from '../../logger.js';
import type { RoomStore } from '../../storage/types.js';
import type { JsonObject } from '../../wire.js';
import { computeEventId } from '../crypto/event-hashing.js';
import { MissingEventsError, type EventReceiver, type ReceiveOptions, type ReceiveResult } from '../events/receive.js';
import type { RoomVersion } from '../room-versions.js';
import type { FederationClient } from './client.js';

const enc = encodeURIComponent;
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A received PDU with the ID its room version gives it. */
export interface IdentifiedPdu {
  eventId: string;
  pdu: JsonObject;
}

/** The PDUs of a list that are objects and hash to an event ID (the rest is dropped). */
export function identify(list: unknown, version: RoomVersion): IdentifiedPdu[] {
  if (!Array.isArray(list)) return [];
  const out: IdentifiedPdu[] = [];
  const seen = new Set<string>();
  for (const p of list) {
    if (!isObject(p)) continue;
    let eventId: string;
    try {
      eventId = computeEventId(p, version);
    } catch {
      continue; // not canonical JSON: no event
    }
    if (seen.has(eventId)) continue;
    seen.add(eventId);
    out.push({ eventId, pdu: p });
  }
  return out;
}

const idsOf = (p: JsonObject, key: 'prev_events' | 'auth_events'): string[] =>
  Array.isArray(p[key]) ? (p[key] as unknown[]).filter((x): x is string => typeof x === 'string') : [];
const depthOf = (p: JsonObject): number => (typeof p.depth === 'number' ? p.depth : 0);

/**
 * The events in an order where each comes after the events of the set it names (auth events and prev
 * events), ties by depth, then event ID: the order they can be checked in. Cycles (which valid events
 * cannot form) are broken by depth.
 */
export function topologicalOrder(list: IdentifiedPdu[]): IdentifiedPdu[] {
  const byId = new Map(list.map((e) => [e.eventId, e]));
  const events = [...byId.values()];
  const waiting = new Map<string, number>();
  const children = new Map<string, string[]>();
  for (const e of events) {
    const deps = new Set([...idsOf(e.pdu, 'auth_events'), ...idsOf(e.pdu, 'prev_events')].filter((id) => byId.has(id) && id !== e.eventId));
    waiting.set(e.eventId, deps.size);
    for (const d of deps) {
      const list = children.get(d);
      if (list) list.push(e.eventId);
      else children.set(d, [e.eventId]);
    }
  }
  const cmp = (a: IdentifiedPdu, b: IdentifiedPdu) => depthOf(a.pdu) - depthOf(b.pdu) || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);
  const out: IdentifiedPdu[] = [];
  const done = new Set<string>();
  let ready = events.filter((e) => waiting.get(e.eventId) === 0).sort(cmp);
  while (out.length < events.length) {
    if (ready.length === 0) {
      // A cycle: take the shallowest event left.
      ready = [events.filter((e) => !done.has(e.eventId)).sort(cmp)[0]!];
    }
    const next = ready.shift()!;
    if (done.has(next.eventId)) continue;
    done.add(next.eventId);
    out.push(next);
    const freed: IdentifiedPdu[] = [];
    for (const c of children.get(next.eventId) ?? []) {
      const n = waiting.get(c)! - 1;
      waiting.set(c, n);
      if (n === 0 && !done.has(c)) freed.push(byId.get(c)!);
    }
    if (freed.length > 0) ready = [...ready, ...freed].sort(cmp);
  }
  return out;
}

export class RemoteEvents {
  constructor(
    private readonly client: FederationClient,
    private readonly store: RoomStore,
    private readonly receiver: EventReceiver,
    private readonly logger: Logger,
  ) {}

  /** GET /_matrix/federation/v1/event/{eventId} (matrix-spec: events.yaml#getEvent): the event, if it is the one asked for. */
  async fetchEvent(server: string, eventId: string, version: RoomVersion): Promise<JsonObject | undefined> {
    const r = await this.client.request<JsonObject>({ destination: server, method: 'GET', path: `/_matrix/federation/v1/event/${enc(eventId)}` });
    return identify(r.pdus, version).find((p) => p.eventId === eventId)?.pdu;
  }

  /** GET /_matrix/federation/v1/event_auth/{roomId}/{eventId} (matrix-spec: event_auth.yaml#getEventAuth). */
  async fetchAuthChain(server: string, roomId: string, eventId: string, version: RoomVersion): Promise<IdentifiedPdu[]> {
    const r = await this.client.request<JsonObject>({ destination: server, method: 'GET', path: `/_matrix/federation/v1/event_auth/${enc(roomId)}/${enc(eventId)}` });
    return identify(r.auth_chain, version);
  }

  /**
   * GET /_matrix/federation/v1/state/{roomId}?event_id= (matrix-spec: events.yaml#getRoomState): the
   * room state before the event, with the auth chain of those state events.
   */
  async fetchState(server: string, roomId: string, eventId: string, version: RoomVersion): Promise<{ state: IdentifiedPdu[]; authChain: IdentifiedPdu[] }> {
    const r = await this.client.request<JsonObject>({ destination: server, method: 'GET', path: `/_matrix/federation/v1/state/${enc(roomId)}`, query: { event_id: eventId }, timeoutMs: 120_000, maxResponseBytes: 256 * 1024 * 1024 });
    return { state: identify(r.pdus, version), authChain: identify(r.auth_chain, version) };
  }

  /** POST /_matrix/federation/v1/get_missing_events/{roomId} (matrix-spec: events.yaml#getMissingPreviousEvents). */
  async getMissingEvents(server: string, roomId: string, earliest: string[], latest: string[], limit: number, minDepth: number, version: RoomVersion): Promise<IdentifiedPdu[]> {
    const r = await this.client.request<JsonObject>({
      destination: server, method: 'POST', path: `/_matrix/federation/v1/get_missing_events/${enc(roomId)}`,
      body: { earliest_events: earliest, latest_events: latest, limit, min_depth: minDepth },
    });
    return identify(r.events, version);
  }

  /** GET /_matrix/federation/v1/backfill/{roomId} (matrix-spec: backfill.yaml#backfillRoom). */
  async backfill(server: string, roomId: string, from: string[], limit: number, version: RoomVersion): Promise<IdentifiedPdu[]> {
    const r = await this.client.request<JsonObject>({
      destination: server, method: 'GET', path: `/_matrix/federation/v1/backfill/${enc(roomId)}`, query: { v: from, limit },
      maxResponseBytes: 64 * 1024 * 1024,
    });
    return identify(r.pdus, version);
  }

  /**
   * Receives events as outliers (state and auth chains fetched for others), in an order where each
   * one's auth events come first. An event whose auth events are neither in the set nor stored has
   * them fetched from `server` (at most `depth` levels); events that still cannot be checked are
   * skipped (logged). Returns the results by event ID.
   */
  async storeOutliers(server: string, roomId: string, events: IdentifiedPdu[], version: RoomVersion, depth = 3): Promise<Map<string, ReceiveResult>> {
    const results = new Map<string, ReceiveResult>();
    const stored = new Set((await this.store.getEvents(events.map((e) => e.eventId))).map((r) => r.event.event_id));
    for (const e of topologicalOrder(events)) {
      if (stored.has(e.eventId)) {
        results.set(e.eventId, { eventId: e.eventId, status: 'duplicate' });
        continue;
      }
      const r = await this.receiveFetchingAuth(server, roomId, e, version, { outlier: true }, depth);
      if (r) results.set(e.eventId, r);
    }
    return results;
  }

  /**
   * One event, fetching its missing auth events from `server` first when the receiver asks for them.
   * Undefined when it cannot be received (logged): a bad signature, auth events nobody gives us.
   */
  async receiveFetchingAuth(server: string, roomId: string, e: IdentifiedPdu, version: RoomVersion, opts: ReceiveOptions, depth = 3): Promise<ReceiveResult | undefined> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        return await this.receiver.receive(e.pdu, version, opts);
      } catch (err) {
        if (err instanceof MissingEventsError && err.kind === 'auth_events' && attempt === 0 && depth > 0) {
          try {
            const chain = await this.fetchAuthChain(server, roomId, e.eventId, version);
            await this.storeOutliers(server, roomId, chain, version, depth - 1);
          } catch (fetchErr) {
            this.logger.info({ server, roomId, eventId: e.eventId, err: fetchErr }, 'federation: could not fetch the auth chain of an event');
            return undefined;
          }
          continue;
        }
        if (err instanceof MissingEventsError && err.kind === 'prev_events') throw err;
        this.logger.info({ server, roomId, eventId: e.eventId, err }, 'federation: an event could not be received');
        return undefined;
      }
    }
    return undefined;
  }
}
