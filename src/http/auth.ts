// Access tokens: `Authorization: Bearer <token>` or `?access_token=` (matrix-spec: client-server-api
// "Using access tokens"). Missing: 401 M_MISSING_TOKEN; unknown or revoked: 401 M_UNKNOWN_TOKEN.
import type { AuthContext } from '../core/accounts/events.js';
import { missingToken, unknownToken } from '../errors.js';
import type { Services } from '../services.js';
import type { Request, Response } from 'express';

export function extractToken(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw unknownToken('Malformed Authorization header');
    return m[1];
  }
  const q = (req.query as Record<string, unknown>).access_token;
  if (typeof q === 'string' && q.length > 0) return q;
  return undefined;
}

/** Resolves the caller; with `required` a missing token is an error, otherwise it yields undefined. */
export async function authenticate(services: Services, req: Request, required: boolean): Promise<AuthContext | undefined> {
  const token = extractToken(req);
  if (token === undefined) {
    if (required) throw missingToken();
    return undefined;
  }
  return services.tokens.authenticate(token);
}

/** The authenticated caller of a route whose policy requires a token. */
export function authOf(res: Response): AuthContext {
  const auth = res.locals.auth;
  if (!auth) throw missingToken();
  return auth;
}
