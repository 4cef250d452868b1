// Admin API: users and their sessions (Synapse admin API paths and shapes: users, deactivate, whois,
// joined_rooms; ours: /_hearth/admin/v1/sessions, GTChat's admin_show_table of active users).
import type { RouteDef } from '../../http/routes.js';
import { objectBody, optBool, optString, queryBool, queryInt, queryString } from '../../http/validate.js';
import type { Services } from '../../services.js';
import { SERVER_NAME_SOFTWARE, VERSION } from '../../version.js';

const A = { admin: true } as const;

export function adminUserRoutes(services: Services): RouteDef[] {
  const { admin } = services;
  const uid = (req: { params: Record<string, unknown> }) => req.params.userId as string;
  return [
    {
      // GET /_synapse/admin/v1/server_version (Synapse admin API: version_api)
      method: 'get', path: '/_synapse/admin/v1/server_version', ...A,
      handler: (_req, res) => {
        res.json({ server_version: `${SERVER_NAME_SOFTWARE} ${VERSION}` });
      },
    },
    {
      // GET /_synapse/admin/v2/users (Synapse admin API: user_admin_api "List Accounts")
      method: 'get', path: '/_synapse/admin/v2/users', ...A,
      handler: async (req, res) => {
        const from = queryInt(req.query, 'from', { min: 0 }) ?? 0;
        const name = queryString(req.query, 'name') ?? queryString(req.query, 'user_id');
        res.json(await admin.listUsers({
          from,
          limit: queryInt(req.query, 'limit', { min: 1, max: 1000 }) ?? 100,
          ...(name !== undefined ? { name } : {}),
          guests: queryBool(req.query, 'guests') ?? true,
          deactivated: queryBool(req.query, 'deactivated') ?? false,
        }));
      },
    },
    {
      // GET /_synapse/admin/v2/users/{userId} (Synapse admin API: "Query User Account")
      method: 'get', path: '/_synapse/admin/v2/users/:userId', ...A,
      handler: async (req, res) => {
        res.json(await admin.getUser(uid(req)));
      },
    },
    {
      // PUT /_synapse/admin/v2/users/{userId} (Synapse admin API: "Create or modify account")
      method: 'put', path: '/_synapse/admin/v2/users/:userId', ...A,
      handler: async (req, res) => {
        const b = objectBody(req.body);
        const displayname = b.displayname === null ? null : optString(b, 'displayname');
        const avatarUrl = b.avatar_url === null ? null : optString(b, 'avatar_url');
        const password = optString(b, 'password');
        const adminFlag = optBool(b, 'admin');
        const deactivated = optBool(b, 'deactivated');
        const r = await admin.upsertUser(uid(req), {
          ...(password !== undefined ? { password } : {}),
          logoutDevices: optBool(b, 'logout_devices') ?? true,
          ...(displayname !== undefined ? { displayname } : {}),
          ...(avatarUrl !== undefined ? { avatarUrl } : {}),
          ...(adminFlag !== undefined ? { admin: adminFlag } : {}),
          ...(deactivated !== undefined ? { deactivated } : {}),
        });
        res.status(r.created ? 201 : 200).json(r.user);
      },
    },
    {
      // POST /_synapse/admin/v1/deactivate/{userId} (Synapse admin API: "Deactivate Account")
      method: 'post', path: '/_synapse/admin/v1/deactivate/:userId', ...A,
      handler: async (req, res) => {
        optBool(objectBody(req.body), 'erase');
        await admin.deactivate(uid(req));
        res.json({ id_server_unbind_result: 'success' });
      },
    },
    {
      // GET /_synapse/admin/v1/whois/{userId} (Synapse admin API: "Query current sessions for a user")
      method: 'get', path: '/_synapse/admin/v1/whois/:userId', ...A,
      handler: async (req, res) => {
        res.json(await admin.whois(uid(req)));
      },
    },
    {
      // GET /_synapse/admin/v1/users/{userId}/joined_rooms (Synapse admin API: "List joined rooms of a user")
      method: 'get', path: '/_synapse/admin/v1/users/:userId/joined_rooms', ...A,
      handler: async (req, res) => {
        res.json(await admin.joinedRooms(uid(req)));
      },
    },
    {
      // GET /_hearth/admin/v1/sessions (hearth: spec/admin.md "Sessions")
      method: 'get', path: '/_hearth/admin/v1/sessions', ...A,
      handler: (req, res) => {
        const from = queryInt(req.query, 'from', { min: 0 }) ?? 0;
        res.json(admin.listSessions(from, queryInt(req.query, 'limit', { min: 1, max: 1000 }) ?? 100));
      },
    },
  ];
}
