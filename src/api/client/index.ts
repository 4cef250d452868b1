// Every client-server route, by spec area. spec/endpoints.md lists them with their operationIds.
import type { RouteDef } from '../../http/routes.js';
import type { Services } from '../../services.js';
import { accountRoutes } from './account.js';
import { accountDataRoutes } from './account-data.js';
import { deviceRoutes } from './devices.js';
import { directoryRoutes } from './directory.js';
import { eventRoutes } from './events.js';
import { keyBackupRoutes, keyRoutes } from './keys.js';
import { mediaClientRoutes } from '../media/index.js';
import { loginRoutes } from './login.js';
import { presenceRoutes } from './presence.js';
import { profileRoutes } from './profile.js';
import { pushRuleRoutes } from './pushrules.js';
import { pusherRoutes } from './pushers.js';
import { registerRoutes } from './register.js';
import { relationRoutes } from './relations.js';
import { roomReadRoutes } from './room-read.js';
import { roomRoutes } from './rooms.js';
import { roomUpgradeRoutes } from './room-upgrades.js';
import { reportRoutes } from './reports.js';
import { searchRoutes } from './search.js';
import { sessionRoutes } from './sessions.js';
import { syncRoutes } from './sync.js';
import { tagRoutes } from './tags.js';
import { threepidRoutes } from './threepids.js';
import { versionRoutes } from './versions.js';

export { wellKnownRoutes } from './versions.js';

/** Routes below /_matrix/client. */
export function clientRoutes(services: Services): RouteDef[] {
  // The busiest routes first (the route table tries paths of the same length in this order).
  return [
    ...eventRoutes(services),
    ...syncRoutes(services),
    ...versionRoutes(services),
    ...registerRoutes(services),
    ...loginRoutes(services),
    ...accountRoutes(services),
    ...deviceRoutes(services),
    ...profileRoutes(services),
    ...roomRoutes(services),
    ...directoryRoutes(services),
    ...roomReadRoutes(services),
    ...relationRoutes(services),
    ...searchRoutes(services),
    ...roomUpgradeRoutes(services),
    ...reportRoutes(services),
    ...accountDataRoutes(services),
    ...pushRuleRoutes(services),
    ...pusherRoutes(services),
    ...sessionRoutes(services),
    ...presenceRoutes(services),
    ...tagRoutes(services),
    ...keyRoutes(services),
    ...keyBackupRoutes(services),
    ...mediaClientRoutes(services),
    ...threepidRoutes(services),
  ];
}
