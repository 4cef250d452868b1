// Room tags (matrix-spec: tags.yaml), stored as the room's `m.tag` account data so /sync delivers them.
import type { JsonObject } from '../../core/events/types.js';
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody } from '../../http/validate.js';
import type { Services } from '../../services.js';

export function tagRoutes(services: Services): RouteDef[] {
  const { accountData } = services;
  return [
    {
      // GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags (matrix-spec: tags.yaml#getRoomTags)
      method: 'get', path: '/v3/user/:userId/rooms/:roomId/tags', r0: true,
      handler: async (req, res) => {
        res.json({ tags: await accountData.getTags(authOf(res), req.params.userId as string, req.params.roomId as string) });
      },
    },
    {
      // PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag} (matrix-spec: tags.yaml#setRoomTag)
      method: 'put', path: '/v3/user/:userId/rooms/:roomId/tags/:tag', r0: true,
      handler: async (req, res) => {
        const body = objectBody(req.body) as JsonObject;
        await accountData.setTag(authOf(res), req.params.userId as string, req.params.roomId as string, req.params.tag as string, body);
        res.json({});
      },
    },
    {
      // DELETE /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag} (matrix-spec: tags.yaml#deleteRoomTag)
      method: 'delete', path: '/v3/user/:userId/rooms/:roomId/tags/:tag', r0: true,
      handler: async (req, res) => {
        await accountData.deleteTag(authOf(res), req.params.userId as string, req.params.roomId as string, req.params.tag as string);
        res.json({});
      },
    },
  ];
}
