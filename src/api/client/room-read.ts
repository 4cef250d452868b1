// Reading rooms (matrix-spec: rooms.yaml, message_pagination.yaml, joined_rooms? ...).
import type { RouteDef } from '../../http/routes.js';
import type { Services } from '../../services.js';

export function roomReadRoutes(_services: Services): RouteDef[] {
  return [];
}
