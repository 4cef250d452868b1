// Admin API: rooms, server notices and server-generated events (Synapse admin API paths and shapes
// where Synapse has the feature: rooms, send_server_notice; ours under /_hearth/admin).
import { KeyedMutex } from '../../core/lock.js';
import { badJson, invalidParam } from '../../errors.js';
import type { JsonObject } from '../../core/events/types.js';
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody, optBool, optObject, optString, queryInt, queryString, reqString, type Body } from '../../http/validate.js';
import type { Services } from '../../services.js';

const A = { admin: true } as const;
const ORDER_BY = new Set(['name', 'canonical_alias', 'joined_members', 'joined_local_members', 'version', 'creator', 'encryption', 'federatable', 'public', 'join_rules', 'guest_access', 'history_visibility', 'state_events']);

function requireContent(b: Body): JsonObject {
  const content = optObject(b, 'content');
  if (content === undefined) throw badJson("'content' is required");
  return content as JsonObject;
}

export function adminRoomRoutes(services: Services): RouteDef[] {
  const { admin, notices, storage, clock } = services;

  /**
   * Runs an admin request once per (admin, path, txnId): a retry gets the first answer. Retries that
   * arrive together wait for the first (one at a time per transaction ID, in this process).
   */
  const txnLock = new KeyedMutex();
  const once = async (userId: string, scope: string, txnId: string | undefined, run: () => Promise<JsonObject>): Promise<JsonObject> => {
    if (txnId === undefined) return run();
    return txnLock.run(`${userId}\u0000${scope}\u0000${txnId}`, async () => {
      const earlier = await storage.admin.getAdminTxn(userId, scope, txnId);
      if (earlier !== undefined) return JSON.parse(earlier) as JsonObject;
      const result = await run();
      await storage.admin.putAdminTxn(userId, scope, txnId, JSON.stringify(result), clock.now());
      return result;
    });
  };

  const sendNotice = async (req: { body: unknown; params: Record<string, unknown> }, res: Parameters<RouteDef['handler']>[1]) => {
    const b = objectBody(req.body);
    const userId = reqString(b, 'user_id');
    const content = requireContent(b);
    const type = optString(b, 'type') ?? 'm.room.message';
    if (optString(b, 'state_key') !== undefined) throw invalidParam('State events cannot be sent as server notices');
    const result = await once(authOf(res).userId, 'send_server_notice', req.params.txnId as string | undefined,
      async () => ({ event_id: await notices.send(userId, content, type) }));
    res.json(result);
  };

  const broadcast = async (req: { body: unknown; params: Record<string, unknown> }, res: Parameters<RouteDef['handler']>[1]) => {
    const b = objectBody(req.body);
    const content = requireContent(b);
    const type = optString(b, 'type') ?? 'm.room.message';
    const result = await once(authOf(res).userId, 'broadcast', req.params.txnId as string | undefined,
      async () => ({ sent: await notices.broadcast(content, type) }));
    res.json(result);
  };

  const serverEvent = async (req: { body: unknown; params: Record<string, unknown> }, res: Parameters<RouteDef['handler']>[1]) => {
    const b = objectBody(req.body);
    const type = reqString(b, 'type');
    const content = requireContent(b);
    const roomId = req.params.roomId as string;
    const result = await once(authOf(res).userId, `server_events ${roomId}`, req.params.txnId as string | undefined,
      async () => ({ event_id: await notices.roomEvent(roomId, type, content) }));
    res.json(result);
  };

  return [
    {
      // POST /_synapse/admin/v1/send_server_notice (Synapse admin API: server_notices)
      method: 'post', path: '/_synapse/admin/v1/send_server_notice', ...A, handler: sendNotice,
    },
    {
      // PUT /_synapse/admin/v1/send_server_notice/{txnId} (Synapse admin API: server_notices, idempotent)
      method: 'put', path: '/_synapse/admin/v1/send_server_notice/:txnId', ...A, handler: sendNotice,
    },
    {
      // POST /_hearth/admin/v1/server_notices/broadcast (hearth: spec/admin.md "Broadcast")
      method: 'post', path: '/_hearth/admin/v1/server_notices/broadcast', ...A, handler: broadcast,
    },
    {
      // PUT /_hearth/admin/v1/server_notices/broadcast/{txnId} (hearth: spec/admin.md "Broadcast", idempotent)
      method: 'put', path: '/_hearth/admin/v1/server_notices/broadcast/:txnId', ...A, handler: broadcast,
    },
    {
      // POST /_hearth/admin/v1/rooms/{roomId}/server_events (hearth: spec/server-events.md)
      method: 'post', path: '/_hearth/admin/v1/rooms/:roomId/server_events', ...A, handler: serverEvent,
    },
    {
      // PUT /_hearth/admin/v1/rooms/{roomId}/server_events/{txnId} (hearth: spec/server-events.md, idempotent)
      method: 'put', path: '/_hearth/admin/v1/rooms/:roomId/server_events/:txnId', ...A, handler: serverEvent,
    },
    {
      // GET /_synapse/admin/v1/rooms (Synapse admin API: rooms "List Room API")
      method: 'get', path: '/_synapse/admin/v1/rooms', ...A,
      handler: async (req, res) => {
        const orderBy = queryString(req.query, 'order_by') ?? 'name';
        if (!ORDER_BY.has(orderBy)) throw invalidParam(`Unknown order_by ${orderBy}`);
        const dir = queryString(req.query, 'dir') ?? 'f';
        if (dir !== 'f' && dir !== 'b') throw invalidParam("dir must be 'f' or 'b'");
        const term = queryString(req.query, 'search_term');
        res.json(await admin.listRooms({
          from: queryInt(req.query, 'from', { min: 0 }) ?? 0,
          limit: queryInt(req.query, 'limit', { min: 1, max: 1000 }) ?? 100,
          orderBy, dir, ...(term !== undefined ? { searchTerm: term } : {}),
        }));
      },
    },
    {
      // GET /_synapse/admin/v1/rooms/{roomId} (Synapse admin API: rooms "Room Details API")
      method: 'get', path: '/_synapse/admin/v1/rooms/:roomId', ...A,
      handler: async (req, res) => {
        res.json(await admin.getRoom(req.params.roomId as string));
      },
    },
    {
      // GET /_synapse/admin/v1/rooms/{roomId}/members (Synapse admin API: rooms "Room Members API")
      method: 'get', path: '/_synapse/admin/v1/rooms/:roomId/members', ...A,
      handler: async (req, res) => {
        res.json(await admin.roomMembers(req.params.roomId as string));
      },
    },
    {
      // GET /_synapse/admin/v1/rooms/{roomId}/state (Synapse admin API: rooms "Room State API")
      method: 'get', path: '/_synapse/admin/v1/rooms/:roomId/state', ...A,
      handler: async (req, res) => {
        res.json(await admin.roomState(req.params.roomId as string, queryString(req.query, 'type')));
      },
    },
    {
      // GET /_synapse/admin/v1/rooms/{roomId}/block (Synapse admin API: rooms "Get block status")
      method: 'get', path: '/_synapse/admin/v1/rooms/:roomId/block', ...A,
      handler: async (req, res) => {
        res.json(await admin.roomBlock(req.params.roomId as string));
      },
    },
    {
      // PUT /_synapse/admin/v1/rooms/{roomId}/block (Synapse admin API: rooms "Block or unblock a room")
      method: 'put', path: '/_synapse/admin/v1/rooms/:roomId/block', ...A,
      handler: async (req, res) => {
        const block = optBool(objectBody(req.body), 'block');
        if (block === undefined) throw badJson("'block' is required");
        res.json(await admin.setRoomBlock(authOf(res), req.params.roomId as string, block));
      },
    },
    {
      // DELETE /_synapse/admin/v2/rooms/{roomId} (Synapse admin API: rooms "Version 2 (new version)" delete)
      method: 'delete', path: '/_synapse/admin/v2/rooms/:roomId', ...A,
      handler: async (req, res) => {
        const b = objectBody(req.body);
        const message = optString(b, 'message');
        res.json({ delete_id: await admin.shutdownRoom(req.params.roomId as string, message) });
      },
    },
    {
      // GET /_synapse/admin/v2/rooms/delete_status/{deleteId} (Synapse admin API: rooms "Query by delete_id")
      method: 'get', path: '/_synapse/admin/v2/rooms/delete_status/:deleteId', ...A,
      handler: (req, res) => {
        res.json(admin.shutdownStatus(req.params.deleteId as string));
      },
    },
    {
      // GET /_synapse/admin/v2/rooms/{roomId}/delete_status (Synapse admin API: rooms "Query by room_id")
      method: 'get', path: '/_synapse/admin/v2/rooms/:roomId/delete_status', ...A,
      handler: (req, res) => {
        res.json(admin.shutdownStatusForRoom(req.params.roomId as string));
      },
    },
  ];
}
