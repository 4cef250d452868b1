// Reporting content (matrix-spec: report_content.yaml; client-server-api modules/report_content.md) and
// the admin API's view of the reports (Synapse admin API "Show reported events"; spec/admin.md "Reports").
//   - An event report needs the reporter joined to the room (v1.8) and the event visible to them;
//     otherwise 404 M_NOT_FOUND (the spec's one answer for both).
//   - A room report needs no membership (v1.13): any room this server knows.
//   - A user report needs no shared room (v1.14): a local user that exists, or any remote user.
// Reports are stored; nothing is sent anywhere (modules/report_content.md: "Servers are free to
// handle the reported content however they desire").
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { badJson, invalidParam, notFound } from '../errors.js';
import type { AccountStore, AdminStore, ReportListQuery, ReportRecord, RoomStore } from '../storage/types.js';
import { pduOf } from '../wire.js';
import type { AuthContext } from './accounts/events.js';
import type { JsonObject } from './events/types.js';
import { parseUserId } from './ids.js';
import type { RateLimiter } from './ratelimit.js';
import type { RoomReader } from './rooms/read.js';
import { lookupIn, type RoomStateService } from './rooms/room-state.js';

/** Longest reason kept (characters); longer: 400 M_BAD_JSON. */
export const MAX_REPORT_REASON = 2000;

export interface ReportBody {
  reason?: string;
  score?: number;
}

export class ReportService {
  constructor(
    private readonly config: Config,
    private readonly store: AdminStore,
    private readonly rooms: RoomStore,
    private readonly accounts: AccountStore,
    private readonly roomState: RoomStateService,
    private readonly reader: RoomReader,
    private readonly rateLimiter: RateLimiter,
    private readonly clock: Clock,
  ) {}

  private checkReason(reason: string | undefined): void {
    if (reason !== undefined && [...reason].length > MAX_REPORT_REASON) throw badJson(`reason must be at most ${MAX_REPORT_REASON} characters`);
  }

  /** `score` left the spec in v1.18; a client that still sends one gets it kept when it is an integer from -100 to 0. */
  private static score(score: unknown): number | null {
    return typeof score === 'number' && Number.isInteger(score) && score >= -100 && score <= 0 ? score : null;
  }

  /** POST /rooms/{roomId}/report/{eventId} (matrix-spec: report_content.yaml#reportEvent). */
  async reportEvent(auth: AuthContext, roomId: string, eventId: string, body: ReportBody): Promise<void> {
    this.checkReason(body.reason);
    const missing = () => notFound('The event was not found or you are not joined to the room');
    const m = await this.rooms.getMembership(roomId, auth.userId);
    if (m?.membership !== 'join') throw missing();
    const rec = await this.rooms.getEvent(eventId);
    if (!rec || rec.event.room_id !== roomId || rec.graph?.outlier || rec.graph?.rejected || rec.graph?.softFailed) throw missing();
    const vis = await this.reader.visibility(auth.userId, roomId);
    if (!vis.isVisible(rec.streamOrdering)) throw missing();
    await this.rateLimiter.check('message', auth.userId, auth.isAdmin);
    await this.store.addReport({
      kind: 'event', receivedTs: this.clock.now(), reporter: auth.userId, roomId, eventId, eventSender: rec.event.sender,
      targetUserId: null, reason: body.reason ?? null, score: ReportService.score(body.score),
    });
  }

  /** POST /rooms/{roomId}/report (matrix-spec: report_content.yaml#reportRoom): any room known here. */
  async reportRoom(auth: AuthContext, roomId: string, reason: string): Promise<void> {
    this.checkReason(reason);
    if (!(await this.rooms.getRoom(roomId))) throw notFound('Unknown room');
    await this.rateLimiter.check('message', auth.userId, auth.isAdmin);
    await this.store.addReport({
      kind: 'room', receivedTs: this.clock.now(), reporter: auth.userId, roomId, eventId: null, eventSender: null, targetUserId: null, reason, score: null,
    });
  }

  /** POST /users/{userId}/report (matrix-spec: report_content.yaml#reportUser): a local user that exists, or a remote one. */
  async reportUser(auth: AuthContext, userId: string, reason: string): Promise<void> {
    this.checkReason(reason);
    const parsed = parseUserId(userId);
    if (!parsed) throw invalidParam(`Invalid user ID: ${userId}`);
    if (parsed.domain === this.config.server_name && !(await this.accounts.getUser(userId))) throw notFound('Unknown user');
    await this.rateLimiter.check('message', auth.userId, auth.isAdmin);
    await this.store.addReport({
      kind: 'user', receivedTs: this.clock.now(), reporter: auth.userId, roomId: null, eventId: null, eventSender: null, targetUserId: userId, reason, score: null,
    });
  }

  // ---- admin API ---------------------------------------------------------------------------------

  /** The room's name and canonical alias, as Synapse's listing shows them (null when unset or the room is unknown). */
  private async roomInfo(roomId: string | null): Promise<{ name: string | null; canonical_alias: string | null }> {
    const room = roomId ? await this.roomState.get(roomId) : undefined;
    if (!room) return { name: null, canonical_alias: null };
    const lookup = lookupIn(room.state);
    const name = lookup('m.room.name', '')?.content.name;
    const alias = lookup('m.room.canonical_alias', '')?.content.alias;
    return { name: typeof name === 'string' ? name : null, canonical_alias: typeof alias === 'string' ? alias : null };
  }

  /** A report as the admin API shows it: Synapse's event report fields, and the target of room and user reports. */
  private async entry(r: ReportRecord): Promise<JsonObject> {
    const base: JsonObject = { id: r.id, received_ts: r.receivedTs, user_id: r.reporter, reason: r.reason };
    if (r.kind === 'event') {
      return { ...base, room_id: r.roomId, event_id: r.eventId, sender: r.eventSender, score: r.score, ...(await this.roomInfo(r.roomId)) };
    }
    if (r.kind === 'room') return { ...base, room_id: r.roomId, ...(await this.roomInfo(r.roomId)) };
    return { ...base, target_user_id: r.targetUserId };
  }

  /**
   * GET /_synapse/admin/v1/event_reports (`synapse`: the list is `event_reports`) and
   * /_hearth/admin/v1/reports (the list is `reports`, each with its `kind`): a page, with
   * `next_token` when more follow, and `total`.
   */
  async list(q: ReportListQuery, shape: 'synapse' | 'hearth'): Promise<JsonObject> {
    const { reports, total } = await this.store.listReports(q);
    const out: JsonObject = { total };
    const entries: JsonObject[] = [];
    for (const r of reports) entries.push(shape === 'hearth' ? { kind: r.kind, ...(await this.entry(r)) } : await this.entry(r));
    out[shape === 'synapse' ? 'event_reports' : 'reports'] = entries;
    if (q.from + reports.length < total) out.next_token = q.from + reports.length;
    return out;
  }

  /** GET /_synapse/admin/v1/event_reports/{id} (with `event_json`, the event as stored) and /_hearth/admin/v1/reports/{id}. */
  async get(id: number, kind?: ReportRecord['kind']): Promise<JsonObject> {
    const r = await this.store.getReport(id);
    if (!r || (kind !== undefined && r.kind !== kind)) throw notFound('Report not found');
    const out = kind === undefined ? { kind: r.kind, ...(await this.entry(r)) } : await this.entry(r);
    if (r.kind === 'event' && r.eventId) {
      const rec = await this.rooms.getEvent(r.eventId);
      out.event_json = rec ? ({ ...pduOf(rec.event), event_id: rec.event.event_id } as unknown as JsonObject) : null;
    }
    return out;
  }

  /** DELETE /_synapse/admin/v1/event_reports/{id} and /_hearth/admin/v1/reports/{id}. */
  async delete(id: number, kind?: ReportRecord['kind']): Promise<void> {
    const r = await this.store.getReport(id);
    if (!r || (kind !== undefined && r.kind !== kind)) throw notFound('Report not found');
    await this.store.deleteReport(id);
  }
}

