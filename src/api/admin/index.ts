// Admin APIs: Synapse-compatible paths where Synapse has the feature, /_hearth/admin for ours.
import type { RouteDef } from '../../http/routes.js';
import type { Services } from '../../services.js';
import { adminMediaRoutes } from '../media/index.js';
import { registrationTokenRoutes } from './registration-tokens.js';
import { adminReportRoutes } from './reports.js';
import { sharedSecretRegisterRoutes } from './register.js';
import { adminRoomRoutes } from './rooms.js';
import { adminUserRoutes } from './users.js';

/** Routes mounted at the root (their paths start with /_synapse/admin or /_hearth/admin). */
export function adminRoutes(services: Services): RouteDef[] {
  return [...sharedSecretRegisterRoutes(services), ...adminUserRoutes(services), ...adminRoomRoutes(services), ...registrationTokenRoutes(services), ...adminMediaRoutes(services), ...adminReportRoutes(services)];
}
