// Admin API: reports of content (Synapse admin API "Show reported events" paths and shapes for event
// reports; room and user reports under /_hearth/admin/v1/reports; spec/admin.md "Reports").
import type { Request } from 'express';
import type { ReportListQuery, ReportRecord } from '../../storage/types.js';
import { invalidParam } from '../../errors.js';
import type { RouteDef } from '../../http/routes.js';
import { queryInt, queryString } from '../../http/validate.js';
import type { Services } from '../../services.js';

const A = { admin: true } as const;
const KINDS: ReportRecord['kind'][] = ['event', 'room', 'user'];

/** Paging and filters of a listing (Synapse: `from`, `limit` default 100, `dir` default b, `user_id`, `room_id`, `event_sender_user_id`). */
function listQuery(req: Request, kind: ReportRecord['kind']): ReportListQuery {
  const dir = queryString(req.query, 'dir') ?? 'b';
  if (dir !== 'b' && dir !== 'f') throw invalidParam("'dir' must be 'b' or 'f'");
  const q: ReportListQuery = {
    kind, dir,
    from: queryInt(req.query, 'from', { min: 0 }) ?? 0,
    limit: queryInt(req.query, 'limit', { min: 0, max: 1000 }) ?? 100,
  };
  const reporter = queryString(req.query, 'user_id');
  const roomId = queryString(req.query, 'room_id');
  const sender = queryString(req.query, 'event_sender_user_id');
  if (reporter) q.reporter = reporter;
  if (roomId) q.roomId = roomId;
  if (sender) q.eventSender = sender;
  return q;
}

function reportId(req: Request): number {
  const raw = req.params.reportId as string;
  if (!/^\d{1,15}$/.test(raw)) throw invalidParam('The report ID must be a positive integer');
  return Number(raw);
}

export function adminReportRoutes(services: Services): RouteDef[] {
  const { reports } = services;
  return [
    {
      // GET /_synapse/admin/v1/event_reports (Synapse admin API: event_reports "Show reported events")
      method: 'get', path: '/_synapse/admin/v1/event_reports', ...A,
      handler: async (req, res) => {
        res.json(await reports.list(listQuery(req, 'event'), 'synapse'));
      },
    },
    {
      // GET /_synapse/admin/v1/event_reports/{reportId} (Synapse admin API: event_reports "Show details of a specific event report")
      method: 'get', path: '/_synapse/admin/v1/event_reports/:reportId', ...A,
      handler: async (req, res) => {
        res.json(await reports.get(reportId(req), 'event'));
      },
    },
    {
      // DELETE /_synapse/admin/v1/event_reports/{reportId} (Synapse admin API: event_reports "Delete a specific event report")
      method: 'delete', path: '/_synapse/admin/v1/event_reports/:reportId', ...A,
      handler: async (req, res) => {
        await reports.delete(reportId(req), 'event');
        res.json({});
      },
    },
    {
      // GET /_hearth/admin/v1/reports (hearth: spec/admin.md "Reports"): `kind` event, room (default) or user
      method: 'get', path: '/_hearth/admin/v1/reports', ...A,
      handler: async (req, res) => {
        const kind = queryString(req.query, 'kind') ?? 'room';
        if (!KINDS.includes(kind as ReportRecord['kind'])) throw invalidParam(`'kind' must be one of ${KINDS.join(', ')}`);
        res.json(await reports.list(listQuery(req, kind as ReportRecord['kind']), 'hearth'));
      },
    },
    {
      // GET /_hearth/admin/v1/reports/{reportId} (hearth: spec/admin.md "Reports")
      method: 'get', path: '/_hearth/admin/v1/reports/:reportId', ...A,
      handler: async (req, res) => {
        res.json(await reports.get(reportId(req)));
      },
    },
    {
      // DELETE /_hearth/admin/v1/reports/{reportId} (hearth: spec/admin.md "Reports")
      method: 'delete', path: '/_hearth/admin/v1/reports/:reportId', ...A,
      handler: async (req, res) => {
        await reports.delete(reportId(req));
        res.json({});
      },
    },
  ];
}
