// Sending events: messages, state, redactions (matrix-spec: room_send.yaml, room_state.yaml, redaction.yaml).
import type { JsonObject } from '../../core/events/types.js';
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody, optString } from '../../http/validate.js';
import type { Services } from '../../services.js';

export function eventRoutes(services: Services): RouteDef[] {
  const { rooms } = services;
  const setState = async (req: { params: Record<string, unknown>; body: unknown }, res: Parameters<RouteDef['handler']>[1]) => {
    const eventId = await rooms.setState(
      authOf(res), req.params.roomId as string, req.params.eventType as string, (req.params.stateKey as string | undefined) ?? '',
      objectBody(req.body) as JsonObject,
    );
    res.json({ event_id: eventId });
  };
  return [
    {
      // PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId} (matrix-spec: room_send.yaml#sendMessage)
      method: 'put', path: '/v3/rooms/:roomId/send/:eventType/:txnId', r0: true, hot: true, guest: true, active: true,
      handler: async (req, res) => {
        // The body is the content; a `sender` in it does not change who sent the event.
        const eventId = await rooms.sendMessage(authOf(res), req.params.roomId as string, req.params.eventType as string, req.params.txnId as string, objectBody(req.body) as JsonObject);
        res.json({ event_id: eventId });
      },
    },
    {
      // PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey} (matrix-spec: room_state.yaml#setRoomStateWithKey)
      method: 'put', path: '/v3/rooms/:roomId/state/:eventType/:stateKey', r0: true, guest: true, active: true,
      handler: setState,
    },
    {
      // PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType} (empty state key; matrix-spec: room_state.yaml#setRoomStateWithKey)
      method: 'put', path: '/v3/rooms/:roomId/state/:eventType', r0: true, guest: true, active: true,
      handler: setState,
    },
    {
      // PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId} (matrix-spec: redaction.yaml#redactEvent)
      method: 'put', path: '/v3/rooms/:roomId/redact/:eventId/:txnId', r0: true, active: true,
      handler: async (req, res) => {
        const reason = optString(objectBody(req.body), 'reason');
        const eventId = await rooms.redact(authOf(res), req.params.roomId as string, req.params.eventId as string, req.params.txnId as string, reason);
        res.json({ event_id: eventId });
      },
    },
  ];
}
