// Room upgrades (matrix-spec: room_upgrades.yaml; client-server-api modules/room_upgrades.md).
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody, optStringArray, reqString } from '../../http/validate.js';
import type { Services } from '../../services.js';

export function roomUpgradeRoutes(services: Services): RouteDef[] {
  return [
    {
      // POST /_matrix/client/v3/rooms/{roomId}/upgrade (matrix-spec: room_upgrades.yaml#upgradeRoom)
      method: 'post', path: '/v3/rooms/:roomId/upgrade', r0: true,
      handler: async (req, res) => {
        const b = objectBody(req.body);
        const newVersion = reqString(b, 'new_version');
        const additional = optStringArray(b, 'additional_creators') ?? [];
        const replacement = await services.upgrades.upgrade(authOf(res), req.params.roomId as string, newVersion, additional);
        res.json({ replacement_room: replacement });
      },
    },
  ];
}
