// Presence and typing, both scoped to the calling session (matrix-spec: presence.yaml, typing.yaml;
// spec/sessions.md).
import { badJson } from '../../errors.js';
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import { sessionOf } from '../../http/session.js';
import { objectBody, optBool, optInt, reqString } from '../../http/validate.js';
import type { Services } from '../../services.js';

export function presenceRoutes(services: Services): RouteDef[] {
  const { presence, typing } = services;
  return [
    {
      // PUT /_matrix/client/v3/presence/{userId}/status (matrix-spec: presence.yaml#setPresence)
      method: 'put', path: '/v3/presence/:userId/status', r0: true, guest: true,
      handler: async (req, res) => {
        const b = objectBody(req.body);
        const p = reqString(b, 'presence');
        const statusMsg = b.status_msg === null ? null : (b.status_msg as unknown);
        if (statusMsg !== null && statusMsg !== undefined && typeof statusMsg !== 'string') throw badJson("'status_msg' must be a string");
        await presence.setStatus(req.params.userId as string, sessionOf(res), p, statusMsg as string | null | undefined);
        res.json({});
      },
    },
    {
      // GET /_matrix/client/v3/presence/{userId}/status (matrix-spec: presence.yaml#getPresence)
      method: 'get', path: '/v3/presence/:userId/status', r0: true, guest: true,
      handler: async (req, res) => {
        res.json(await presence.getStatus(authOf(res).userId, req.params.userId as string));
      },
    },
    {
      // PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId} (matrix-spec: typing.yaml#setTyping)
      method: 'put', path: '/v3/rooms/:roomId/typing/:userId', r0: true, hot: true, guest: true, active: true,
      handler: async (req, res) => {
        const b = objectBody(req.body);
        const isTyping = optBool(b, 'typing');
        if (isTyping === undefined) throw badJson("'typing' is required");
        const timeout = optInt(b, 'timeout');
        await typing.set(authOf(res), sessionOf(res), req.params.roomId as string, req.params.userId as string, isTyping, timeout);
        res.json({});
      },
    },
  ];
}
