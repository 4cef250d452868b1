// Room tags (matrix-spec: tags.yaml), stored as the room's `m.tag` account data so /sync delivers them.
import { badJson, forbidden } from '../../errors.js';
import type { JsonObject } from '../../core/events/types.js';
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody } from '../../http/validate.js';
import type { Services } from '../../services.js';

export function tagRoutes(services: Services): RouteDef[] {
  const { accountData, storage } = services;
  const own = (res: Parameters<RouteDef['handler']>[1], userId: string) => {
    const me = authOf(res);
    if (me.userId !== userId) throw forbidden('You can only access your own tags');
    return me;
  };
  const current = async (userId: string, roomId: string): Promise<JsonObject> => {
    const data = await storage.sync.getAccountData(userId, roomId, 'm.tag');
    const tags = data?.tags;
    return tags && typeof tags === 'object' && !Array.isArray(tags) ? { ...(tags as JsonObject) } : {};
  };
  return [
    {
      // GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags (matrix-spec: tags.yaml#getRoomTags)
      method: 'get', path: '/v3/user/:userId/rooms/:roomId/tags',
      handler: async (req, res) => {
        own(res, req.params.userId as string);
        res.json({ tags: await current(req.params.userId as string, req.params.roomId as string) });
      },
    },
    {
      // PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag} (matrix-spec: tags.yaml#setRoomTag)
      method: 'put', path: '/v3/user/:userId/rooms/:roomId/tags/:tag',
      handler: async (req, res) => {
        const me = own(res, req.params.userId as string);
        const b = objectBody(req.body);
        if (b.order !== undefined && (typeof b.order !== 'number' || !Number.isFinite(b.order))) throw badJson("'order' must be a number");
        const tag = req.params.tag as string;
        if (tag.length === 0 || Buffer.byteLength(tag, 'utf8') > 255) throw badJson('Tags are 1 to 255 bytes');
        const roomId = req.params.roomId as string;
        const tags = await current(me.userId, roomId);
        tags[tag] = b as JsonObject;
        await accountData.put(me.userId, roomId, 'm.tag', { tags });
        res.json({});
      },
    },
    {
      // DELETE /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag} (matrix-spec: tags.yaml#deleteRoomTag)
      method: 'delete', path: '/v3/user/:userId/rooms/:roomId/tags/:tag',
      handler: async (req, res) => {
        const me = own(res, req.params.userId as string);
        const roomId = req.params.roomId as string;
        const tags = await current(me.userId, roomId);
        if (req.params.tag as string in tags) {
          delete tags[req.params.tag as string];
          await accountData.put(me.userId, roomId, 'm.tag', { tags });
        }
        res.json({});
      },
    },
  ];
}
