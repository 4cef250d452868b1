// Login and logout (matrix-spec: login.yaml, logout.yaml).
import { publicBaseUrl } from '../../config.js';
import { badJson, MatrixError, missingParam } from '../../errors.js';
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody, optBool, optObject, optString } from '../../http/validate.js';
import type { Services } from '../../services.js';

export const JWT_LOGIN_TYPE = 'org.matrix.login.jwt';

export function loginRoutes(services: Services): RouteDef[] {
  const { accounts, login, rateLimiter, config } = services;
  return [
    {
      // GET /_matrix/client/v3/login (matrix-spec: login.yaml#getLoginFlows)
      method: 'get', path: '/v3/login', r0: true, auth: 'none',
      handler: (_req, res) => {
        const flows: { type: string }[] = [{ type: 'm.login.password' }];
        if (config.jwt_login.enabled) flows.push({ type: JWT_LOGIN_TYPE });
        res.json({ flows });
      },
    },
    {
      // POST /_matrix/client/v3/login (matrix-spec: login.yaml#login)
      method: 'post', path: '/v3/login', r0: true, auth: 'none',
      handler: async (req, res) => {
        await rateLimiter.check('login', req.ip ?? 'unknown');
        const b = objectBody(req.body);
        const type = optString(b, 'type');
        if (type === undefined) throw missingParam("'type' is required");
        const deviceId = optString(b, 'device_id');
        const displayName = optString(b, 'initial_device_display_name');
        optBool(b, 'refresh_token');
        let result;
        if (type === 'm.login.password') {
          const password = optString(b, 'password');
          if (password === undefined) throw missingParam("'password' is required");
          result = await login.withPassword(loginUser(b), password, deviceId, displayName);
        } else if (type === 'org.matrix.login.jwt' && config.jwt_login.enabled) {
          const token = optString(b, 'token');
          if (token === undefined) throw missingParam("'token' is required");
          result = await login.withJwt(token, deviceId, displayName);
        } else {
          throw new MatrixError(400, 'M_UNKNOWN', `Unknown login type ${type}`);
        }
        res.json({ ...result, well_known: { 'm.homeserver': { base_url: publicBaseUrl(config) } } });
      },
    },
    {
      // POST /_matrix/client/v3/logout (matrix-spec: logout.yaml#logout)
      method: 'post', path: '/v3/logout', r0: true, guest: true,
      handler: async (_req, res) => {
        await accounts.logout(authOf(res));
        res.json({});
      },
    },
    {
      // POST /_matrix/client/v3/logout/all (matrix-spec: logout.yaml#logout_all)
      method: 'post', path: '/v3/logout/all', r0: true, guest: true,
      handler: async (_req, res) => {
        await accounts.logoutAll(authOf(res));
        res.json({});
      },
    },
  ];
}

/** The user named by `identifier` (m.id.user) or the deprecated top-level `user`. */
function loginUser(b: Record<string, unknown>): string {
  const identifier = optObject(b, 'identifier');
  if (identifier !== undefined) {
    const type = optString(identifier, 'type');
    if (type !== 'm.id.user') throw new MatrixError(400, 'M_UNKNOWN', `Unsupported identifier type ${String(type)}`);
    const user = optString(identifier, 'user');
    if (user === undefined) throw missingParam("'identifier.user' is required");
    return user;
  }
  const user = optString(b, 'user');
  if (user === undefined) throw badJson("'identifier' is required");
  return user;
}
