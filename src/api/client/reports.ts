// Reporting content (matrix-spec: report_content.yaml; client-server-api modules/report_content.md).
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody, optString, reqString } from '../../http/validate.js';
import type { Services } from '../../services.js';

export function reportRoutes(services: Services): RouteDef[] {
  const { reports } = services;
  return [
    {
      // POST /_matrix/client/v3/rooms/{roomId}/report/{eventId} (matrix-spec: report_content.yaml#reportEvent)
      method: 'post', path: '/v3/rooms/:roomId/report/:eventId', r0: true,
      handler: async (req, res) => {
        const b = objectBody(req.body);
        const reason = optString(b, 'reason');
        await reports.reportEvent(authOf(res), req.params.roomId as string, req.params.eventId as string, {
          ...(reason !== undefined ? { reason } : {}), ...(typeof b.score === 'number' ? { score: b.score } : {}),
        });
        res.json({});
      },
    },
    {
      // POST /_matrix/client/v3/rooms/{roomId}/report (matrix-spec: report_content.yaml#reportRoom)
      method: 'post', path: '/v3/rooms/:roomId/report',
      handler: async (req, res) => {
        await reports.reportRoom(authOf(res), req.params.roomId as string, reqString(objectBody(req.body), 'reason'));
        res.json({});
      },
    },
    {
      // POST /_matrix/client/v3/users/{userId}/report (matrix-spec: report_content.yaml#reportUser)
      method: 'post', path: '/v3/users/:userId/report',
      handler: async (req, res) => {
        await reports.reportUser(authOf(res), req.params.userId as string, reqString(objectBody(req.body), 'reason'));
        res.json({});
      },
    },
  ];
}
