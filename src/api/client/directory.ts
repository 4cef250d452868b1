// Room aliases and the room directory (matrix-spec: directory.yaml, list_public_rooms.yaml).
import { badJson, missingToken } from '../../errors.js';
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import type { PublicRoomsQuery } from '../../core/federation/queries.js';
import { objectBody, optBool, optInt, optObject, optString, queryInt, queryString, reqString, type Body } from '../../http/validate.js';
import type { Services } from '../../services.js';

export function directoryRoutes(services: Services): RouteDef[] {
  const { directory, clock } = services;
  return [
    {
      // PUT /_matrix/client/v3/directory/room/{roomAlias} (matrix-spec: directory.yaml#setRoomAlias)
      method: 'put', path: '/v3/directory/room/:roomAlias', r0: true,
      handler: async (req, res) => {
        const roomId = reqString(objectBody(req.body), 'room_id');
        await directory.createAlias(authOf(res), req.params.roomAlias as string, roomId, clock.now());
        res.json({});
      },
    },
    {
      // GET /_matrix/client/v3/directory/room/{roomAlias} (matrix-spec: directory.yaml#getRoomIdByAlias)
      method: 'get', path: '/v3/directory/room/:roomAlias', r0: true, auth: 'none',
      handler: async (req, res) => {
        res.json(await directory.resolveAlias(req.params.roomAlias as string));
      },
    },
    {
      // DELETE /_matrix/client/v3/directory/room/{roomAlias} (matrix-spec: directory.yaml#deleteRoomAlias)
      method: 'delete', path: '/v3/directory/room/:roomAlias', r0: true,
      handler: async (req, res) => {
        await directory.deleteAlias(authOf(res), req.params.roomAlias as string);
        res.json({});
      },
    },
    {
      // GET /_matrix/client/v3/rooms/{roomId}/aliases (matrix-spec: directory.yaml#getLocalAliases)
      method: 'get', path: '/v3/rooms/:roomId/aliases', r0: true,
      handler: async (req, res) => {
        res.json({ aliases: await directory.roomAliases(authOf(res), req.params.roomId as string) });
      },
    },
    {
      // GET /_matrix/client/v3/directory/list/room/{roomId} (matrix-spec: list_public_rooms.yaml#getRoomVisibilityOnDirectory)
      method: 'get', path: '/v3/directory/list/room/:roomId', r0: true, auth: 'none',
      handler: async (req, res) => {
        res.json({ visibility: await directory.getVisibility(req.params.roomId as string) });
      },
    },
    {
      // PUT /_matrix/client/v3/directory/list/room/{roomId} (matrix-spec: list_public_rooms.yaml#setRoomVisibilityOnDirectory)
      method: 'put', path: '/v3/directory/list/room/:roomId', r0: true,
      handler: async (req, res) => {
        const visibility = optString(objectBody(req.body), 'visibility') ?? 'public';
        if (visibility !== 'public' && visibility !== 'private') throw badJson("'visibility' must be 'public' or 'private'");
        await directory.setVisibility(authOf(res), req.params.roomId as string, visibility);
        res.json({});
      },
    },
    {
      // GET /_matrix/client/v3/publicRooms (matrix-spec: list_public_rooms.yaml#getPublicRooms)
      method: 'get', path: '/v3/publicRooms', r0: true, auth: 'optional', guest: true,
      handler: async (req, res) => {
        const server = queryString(req.query, 'server');
        // Anyone may read this server's list; asking another server takes an access token (as Synapse).
        if (server !== undefined && server !== services.config.server_name && !res.locals.auth) throw missingToken();
        res.json(await directory.publicRoomsOf(server, { limit: queryInt(req.query, 'limit', { min: 0 }), since: queryString(req.query, 'since') }));
      },
    },
    {
      // POST /_matrix/client/v3/publicRooms (matrix-spec: list_public_rooms.yaml#queryPublicRooms)
      method: 'post', path: '/v3/publicRooms', r0: true,
      handler: async (req, res) => {
        res.json(await directory.publicRoomsOf(queryString(req.query, 'server'), parsePublicRoomsBody(objectBody(req.body))));
      },
    },
  ];
}

/**
 * The body of POST /publicRooms, client and federation alike (matrix-spec:
 * list_public_rooms.yaml#queryPublicRooms, server-server/public_rooms.yaml#queryPublicRooms).
 */
export function parsePublicRoomsBody(b: Body): PublicRoomsQuery {
  const filter = optObject(b, 'filter');
  const roomTypes = filter?.room_types;
  if (roomTypes !== undefined && roomTypes !== null
    && (!Array.isArray(roomTypes) || !roomTypes.every((t) => t === null || typeof t === 'string'))) {
    throw badJson("'filter.room_types' must be a list of strings or nulls");
  }
  const q: PublicRoomsQuery = {};
  const limit = optInt(b, 'limit');
  if (limit !== undefined) q.limit = limit;
  const since = optString(b, 'since');
  if (since !== undefined) q.since = since;
  const term = filter ? optString(filter, 'generic_search_term') : undefined;
  if (term !== undefined) q.term = term;
  if (Array.isArray(roomTypes)) q.roomTypes = roomTypes as (string | null)[];
  const includeAllNetworks = optBool(b, 'include_all_networks');
  if (includeAllNetworks !== undefined) q.includeAllNetworks = includeAllNetworks;
  const thirdPartyInstanceId = optString(b, 'third_party_instance_id');
  if (thirdPartyInstanceId !== undefined) q.thirdPartyInstanceId = thirdPartyInstanceId;
  return q;
}
