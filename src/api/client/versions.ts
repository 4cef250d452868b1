// Discovery: /versions, /capabilities and .well-known.
import { publicBaseUrl } from '../../config.js';
import { SUPPORTED_ROOM_VERSIONS } from '../../core/room-versions.js';
import { compatSenderId } from '../../core/events/server-senders.js';
import type { RouteDef } from '../../http/routes.js';
import type { Services } from '../../services.js';

/**
 * Spec versions whose client-server API this server implements for the parts it advertises; the
 * conformance list in spec/conformance.md says which modules are there and which are not.
 */
export const SUPPORTED_SPEC_VERSIONS = ['v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6', 'v1.7', 'v1.8', 'v1.9', 'v1.10', 'v1.11', 'v1.12'];

/** Our extensions, advertised under unstable_features. */
export function unstableFeatures(): Record<string, boolean> {
  // hearth.domain_senders: a client may say it understands server-name senders (spec/server-events.md).
  return { 'hearth.sessions': true, 'hearth.domain_senders': true };
}

export function versionRoutes(services: Services): RouteDef[] {
  return [
    {
      // GET /_matrix/client/versions (matrix-spec: versions.yaml#getVersions)
      method: 'get', path: '/versions', auth: 'optional', guest: true,
      handler: (_req, res) => {
        res.json({ versions: SUPPORTED_SPEC_VERSIONS, unstable_features: unstableFeatures() });
      },
    },
    {
      // GET /_matrix/client/v3/capabilities (matrix-spec: capabilities.yaml#getCapabilities)
      method: 'get', path: '/v3/capabilities', r0: true, guest: true,
      handler: (_req, res) => {
        const available: Record<string, string> = {};
        for (const id of SUPPORTED_ROOM_VERSIONS) available[id] = 'stable';
        res.json({
          capabilities: {
            'm.change_password': { enabled: true },
            'm.room_versions': { default: services.config.default_room_version, available },
            'm.set_displayname': { enabled: true },
            'm.set_avatar_url': { enabled: true },
            'm.3pid_changes': { enabled: false },
            'm.get_login_token': { enabled: false },
            'hearth.sessions': { idle_timeout_ms: services.config.sessions.idle_timeout_ms },
            // Who server-generated events come from for clients that have not said they understand server
            // names, and the server-owned user that owns the server-notices rooms (spec/server-events.md).
            'hearth.server_events': {
              sender: services.config.server_name,
              compat_sender: compatSenderId(services.config) ?? null,
              system_user: `@${services.config.server_notices.system_user_localpart}:${services.config.server_name}`,
            },
          },
        });
      },
    },
  ];
}

export function wellKnownRoutes(services: Services): RouteDef[] {
  return [
    {
      // GET /.well-known/matrix/client (matrix-spec: wellknown.yaml#getWellknown)
      method: 'get', path: '/client', auth: 'none',
      handler: (_req, res) => {
        res.json({ 'm.homeserver': { base_url: publicBaseUrl(services.config) } });
      },
    },
  ];
}
