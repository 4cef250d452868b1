// Account data, receipts, read markers and to-device messages
// (matrix-spec: account-data.yaml, receipts.yaml, read_markers.yaml, to_device.yaml).
import { badJson, invalidParam } from '../../errors.js';
import type { JsonObject } from '../../core/events/types.js';
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody, optObject, optString } from '../../http/validate.js';
import type { Services } from '../../services.js';

export function accountDataRoutes(services: Services): RouteDef[] {
  const { accountData } = services;
  const p = (req: { params: Record<string, unknown> }, k: string) => req.params[k] as string;
  return [
    {
      // GET /_matrix/client/v3/user/{userId}/account_data/{type} (matrix-spec: account-data.yaml#getAccountData)
      method: 'get', path: '/v3/user/:userId/account_data/:type', r0: true,
      handler: async (req, res) => {
        res.json(await accountData.get(authOf(res), p(req, 'userId'), '', p(req, 'type')));
      },
    },
    {
      // PUT /_matrix/client/v3/user/{userId}/account_data/{type} (matrix-spec: account-data.yaml#setAccountData)
      method: 'put', path: '/v3/user/:userId/account_data/:type', r0: true,
      handler: async (req, res) => {
        await accountData.set(authOf(res), p(req, 'userId'), '', p(req, 'type'), objectBody(req.body) as JsonObject);
        res.json({});
      },
    },
    {
      // GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type} (matrix-spec: account-data.yaml#getAccountDataPerRoom)
      method: 'get', path: '/v3/user/:userId/rooms/:roomId/account_data/:type', r0: true,
      handler: async (req, res) => {
        res.json(await accountData.get(authOf(res), p(req, 'userId'), p(req, 'roomId'), p(req, 'type')));
      },
    },
    {
      // PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type} (matrix-spec: account-data.yaml#setAccountDataPerRoom)
      method: 'put', path: '/v3/user/:userId/rooms/:roomId/account_data/:type', r0: true,
      handler: async (req, res) => {
        await accountData.set(authOf(res), p(req, 'userId'), p(req, 'roomId'), p(req, 'type'), objectBody(req.body) as JsonObject);
        res.json({});
      },
    },
    {
      // POST /_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId} (matrix-spec: receipts.yaml#postReceipt)
      method: 'post', path: '/v3/rooms/:roomId/receipt/:receiptType/:eventId', r0: true, hot: true,
      handler: async (req, res) => {
        // receipts.yaml 400: a thread_id that is not a string or is empty is M_INVALID_PARAM.
        const threadId = objectBody(req.body).thread_id;
        if (threadId !== undefined && (typeof threadId !== 'string' || threadId === '')) throw invalidParam('thread_id must be a non-empty string');
        await accountData.receipt(authOf(res), p(req, 'roomId'), p(req, 'receiptType'), p(req, 'eventId'), threadId);
        res.json({});
      },
    },
    {
      // POST /_matrix/client/v3/rooms/{roomId}/read_markers (matrix-spec: read_markers.yaml#setReadMarker)
      method: 'post', path: '/v3/rooms/:roomId/read_markers', r0: true,
      handler: async (req, res) => {
        const b = objectBody(req.body);
        const body: { fullyRead?: string; read?: string; readPrivate?: string } = {};
        const fully = optString(b, 'm.fully_read');
        const read = optString(b, 'm.read');
        const priv = optString(b, 'm.read.private');
        if (fully !== undefined) body.fullyRead = fully;
        if (read !== undefined) body.read = read;
        if (priv !== undefined) body.readPrivate = priv;
        await accountData.readMarkers(authOf(res), p(req, 'roomId'), body);
        res.json({});
      },
    },
    {
      // PUT /_matrix/client/v3/sendToDevice/{eventType}/{txnId} (matrix-spec: to_device.yaml#sendToDevice)
      method: 'put', path: '/v3/sendToDevice/:eventType/:txnId', r0: true, guest: true,
      handler: async (req, res) => {
        const messages = optObject(objectBody(req.body), 'messages');
        if (messages === undefined) throw badJson("'messages' is required");
        for (const [user, devices] of Object.entries(messages)) {
          if (typeof devices !== 'object' || devices === null || Array.isArray(devices)) throw badJson(`messages.${user} must be an object`);
        }
        await accountData.sendToDevice(authOf(res), p(req, 'eventType'), p(req, 'txnId'), messages as Record<string, Record<string, JsonObject>>);
        res.json({});
      },
    },
  ];
}
