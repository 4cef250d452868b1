// Admin API: registration tokens (Synapse admin API: registration_tokens; the tokens of the
// m.login.registration_token stage, matrix-spec: client-server-api "Token-authenticated registration").
import { invalidParam } from '../../errors.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody, optString, queryBool, type Body } from '../../http/validate.js';
import type { Services } from '../../services.js';

const A = { admin: true } as const;

/** An integer or null field of the body (wrong types: 400 M_INVALID_PARAM, as Synapse answers). */
function optIntOrNull(b: Body, key: string): number | null | undefined {
  const v = b[key];
  if (v === undefined || v === null) return v as null | undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalidParam(`${key} must be an integer or null`);
  return v;
}

export function registrationTokenRoutes(services: Services): RouteDef[] {
  const { registrationTokens } = services;
  const tok = (req: { params: Record<string, unknown> }) => req.params.token as string;
  return [
    {
      // GET /_synapse/admin/v1/registration_tokens (Synapse admin API: registration_tokens "List all tokens")
      method: 'get', path: '/_synapse/admin/v1/registration_tokens', ...A,
      handler: async (req, res) => {
        res.json({ registration_tokens: await registrationTokens.list(queryBool(req.query, 'valid')) });
      },
    },
    {
      // POST /_synapse/admin/v1/registration_tokens/new (Synapse admin API: registration_tokens "Create token")
      method: 'post', path: '/_synapse/admin/v1/registration_tokens/new', ...A,
      handler: async (req, res) => {
        const b = objectBody(req.body);
        const token = optString(b, 'token');
        const usesAllowed = optIntOrNull(b, 'uses_allowed');
        const expiryTime = optIntOrNull(b, 'expiry_time');
        const length = optIntOrNull(b, 'length');
        res.json(await registrationTokens.create({
          ...(token !== undefined ? { token } : {}),
          ...(usesAllowed !== undefined ? { usesAllowed } : {}),
          ...(expiryTime !== undefined ? { expiryTime } : {}),
          ...(length !== undefined && length !== null ? { length } : {}),
        }));
      },
    },
    {
      // GET /_synapse/admin/v1/registration_tokens/{token} (Synapse admin API: registration_tokens "Get one token")
      method: 'get', path: '/_synapse/admin/v1/registration_tokens/:token', ...A,
      handler: async (req, res) => {
        res.json(await registrationTokens.get(tok(req)));
      },
    },
    {
      // PUT /_synapse/admin/v1/registration_tokens/{token} (Synapse admin API: registration_tokens "Update token")
      method: 'put', path: '/_synapse/admin/v1/registration_tokens/:token', ...A,
      handler: async (req, res) => {
        const b = objectBody(req.body);
        const usesAllowed = optIntOrNull(b, 'uses_allowed');
        const expiryTime = optIntOrNull(b, 'expiry_time');
        res.json(await registrationTokens.update(tok(req), {
          ...(usesAllowed !== undefined ? { usesAllowed } : {}),
          ...(expiryTime !== undefined ? { expiryTime } : {}),
        }));
      },
    },
    {
      // DELETE /_synapse/admin/v1/registration_tokens/{token} (Synapse admin API: registration_tokens "Delete token")
      method: 'delete', path: '/_synapse/admin/v1/registration_tokens/:token', ...A,
      handler: async (req, res) => {
        await registrationTokens.delete(tok(req));
        res.json({});
      },
    },
  ];
}
