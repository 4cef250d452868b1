// Admin API: users and their sessions (Synapse admin API paths and shapes: users, deactivate, whois,
// joined_rooms, reset_password, login as a user, devices, shadow bans; ours: /_hearth/admin/v1/sessions,
// GTChat's admin_show_table of active users). A user's media list
// (GET /_synapse/admin/v1/users/{userId}/media) is with the media routes (src/api/media/index.ts).
import { badJson } from '../../errors.js';
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody, optBool, optInt, optString, optStringArray, queryBool, queryInt, queryString, reqString } from '../../http/validate.js';
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
      // POST /_synapse/admin/v1/reset_password/{userId} (Synapse admin API: user_admin_api "Reset password")
      method: 'post', path: '/_synapse/admin/v1/reset_password/:userId', ...A,
      handler: async (req, res) => {
        const b = objectBody(req.body);
        await admin.resetPassword(uid(req), reqString(b, 'new_password'), optBool(b, 'logout_devices') ?? true);
        res.json({});
      },
    },
    {
      // POST /_synapse/admin/v1/users/{userId}/login (Synapse admin API: user_admin_api "Login as a user")
      method: 'post', path: '/_synapse/admin/v1/users/:userId/login', ...A,
      handler: async (req, res) => {
        const validUntil = optInt(objectBody(req.body), 'valid_until_ms');
        res.json(await admin.loginAs(authOf(res), uid(req), validUntil ?? null));
      },
    },
    {
      // GET /_synapse/admin/v2/users/{userId}/devices (Synapse admin API: user_admin_api "List all devices")
      method: 'get', path: '/_synapse/admin/v2/users/:userId/devices', ...A,
      handler: async (req, res) => {
        res.json(await admin.listDevices(uid(req)));
      },
    },
    {
      // POST /_synapse/admin/v2/users/{userId}/delete_devices (Synapse admin API: user_admin_api "Delete multiple devices")
      method: 'post', path: '/_synapse/admin/v2/users/:userId/delete_devices', ...A,
      handler: async (req, res) => {
        const ids = optStringArray(objectBody(req.body), 'devices');
        if (ids === undefined) throw badJson("'devices' is required");
        await admin.deleteDevices(uid(req), ids);
        res.json({});
      },
    },
    {
      // GET /_synapse/admin/v2/users/{userId}/devices/{deviceId} (Synapse admin API: user_admin_api "Show a device")
      method: 'get', path: '/_synapse/admin/v2/users/:userId/devices/:deviceId', ...A,
      handler: async (req, res) => {
        res.json(await admin.getDevice(uid(req), req.params.deviceId as string));
      },
    },
    {
      // PUT /_synapse/admin/v2/users/{userId}/devices/{deviceId} (Synapse admin API: user_admin_api "Update a device")
      method: 'put', path: '/_synapse/admin/v2/users/:userId/devices/:deviceId', ...A,
      handler: async (req, res) => {
        const b = objectBody(req.body);
        const name = b.display_name === null ? null : optString(b, 'display_name');
        await admin.renameDevice(uid(req), req.params.deviceId as string, name);
        res.json({});
      },
    },
    {
      // DELETE /_synapse/admin/v2/users/{userId}/devices/{deviceId} (Synapse admin API: user_admin_api "Delete a device")
      method: 'delete', path: '/_synapse/admin/v2/users/:userId/devices/:deviceId', ...A,
      handler: async (req, res) => {
        await admin.deleteDevices(uid(req), [req.params.deviceId as string]);
        res.json({});
      },
    },
    ...(['post', 'delete'] as const).map((method): RouteDef => ({
      // POST /_synapse/admin/v1/users/{userId}/shadow_ban (Synapse admin API: user_admin_api "Controlling whether a user is shadow-banned")
      // DELETE /_synapse/admin/v1/users/{userId}/shadow_ban (Synapse admin API: user_admin_api "Controlling whether a user is shadow-banned")
      method, path: '/_synapse/admin/v1/users/:userId/shadow_ban', ...A,
      handler: async (req, res) => {
        await admin.setShadowBanned(uid(req), method === 'post');
        res.json({});
      },
    })),
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
