// Account management: whoami, password change, deactivation, OpenID tokens
// (matrix-spec: whoami.yaml, password_management.yaml, account_deactivation.yaml, openid.yaml).
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody, optBool, optObject, optString, reqString } from '../../http/validate.js';
import type { Services } from '../../services.js';

export function accountRoutes(services: Services): RouteDef[] {
  const { accounts, openId } = services;
  return [
    {
      // GET /_matrix/client/v3/account/whoami (matrix-spec: whoami.yaml#getTokenOwner)
      method: 'get', path: '/v3/account/whoami', r0: true, guest: true,
      handler: (_req, res) => {
        const me = authOf(res);
        res.json({ user_id: me.userId, device_id: me.deviceId, is_guest: me.isGuest });
      },
    },
    {
      // POST /_matrix/client/v3/account/password (matrix-spec: password_management.yaml#changePassword)
      method: 'post', path: '/v3/account/password', r0: true,
      handler: async (req, res) => {
        const b = objectBody(req.body);
        const newPassword = reqString(b, 'new_password');
        const logoutDevices = optBool(b, 'logout_devices') ?? true;
        await accounts.changePassword(authOf(res), newPassword, logoutDevices, optObject(b, 'auth'));
        res.json({});
      },
    },
    {
      // POST /_matrix/client/v3/account/deactivate (matrix-spec: account_deactivation.yaml#deactivateAccount)
      method: 'post', path: '/v3/account/deactivate', r0: true,
      handler: async (req, res) => {
        const b = objectBody(req.body);
        optString(b, 'id_server');
        optBool(b, 'erase');
        await accounts.deactivate(authOf(res), optObject(b, 'auth'));
        res.json({ id_server_unbind_result: 'no-support' });
      },
    },
    {
      // POST /_matrix/client/v3/user/{userId}/openid/request_token (matrix-spec: openid.yaml#requestOpenIdToken)
      method: 'post', path: '/v3/user/:userId/openid/request_token', r0: true,
      handler: async (req, res) => {
        objectBody(req.body); // "an empty object"
        res.json(await openId.requestToken(authOf(res), req.params.userId as string));
      },
    },
  ];
}
