// Inbound request authentication between servers (matrix-spec: server-server-api "Request
// Authentication"; server-server/definitions/security.yaml#signedRequest) for routes with
// `auth: 'federation'`. Every `Authorization: X-Matrix ...` header is read (one per key the origin
// signed with), the request JSON {method, uri, origin, destination, content} rebuilt from what was
// received and checked with the KeyRing against the origin's current keys. Refusals:
//   - federation.enabled false: 403 M_FORBIDDEN;
//   - no X-Matrix header, a malformed one, several origins: 401 M_UNAUTHORIZED;
//   - a `destination` that is not this server's name: 401 M_UNAUTHORIZED (the spec's MUST);
//   - an origin outside federation.domain_whitelist: 403 M_FORBIDDEN;
//   - a signature that does not verify, or no key to check it with: 401 M_UNAUTHORIZED.
// The origin goes to `res.locals.federation.origin`.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { parseXMatrix, requestJson, XMatrixParseError, type XMatrixCredentials } from '../core/federation/x-matrix.js';
import { isValidServerName } from '../core/ids.js';
import { forbidden, MatrixError } from '../errors.js';
import type { Services } from '../services.js';

export const unauthorized = (msg: string) => new MatrixError(401, 'M_UNAUTHORIZED', msg);

/** Every Authorization header of the request (Node keeps only the first in `req.headers`). */
export function authorizationHeaders(req: Request): string[] {
  const out: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'authorization') out.push(raw[i + 1]!);
  }
  return out;
}

/** The X-Matrix credentials of a request: 401 M_UNAUTHORIZED when there are none or they disagree. */
export function xMatrixCredentials(headers: string[]): XMatrixCredentials[] {
  const creds: XMatrixCredentials[] = [];
  for (const h of headers) {
    try {
      const c = parseXMatrix(h);
      if (c) creds.push(c);
    } catch (e) {
      if (e instanceof XMatrixParseError) throw unauthorized(`Malformed X-Matrix Authorization header: ${e.message}`);
      throw e;
    }
  }
  if (creds.length === 0) throw unauthorized('Missing X-Matrix Authorization header');
  if (new Set(creds.map((c) => c.origin)).size > 1) throw unauthorized('X-Matrix Authorization headers name different origins');
  return creds;
}

export function federationAuth(services: Services): RequestHandler {
  const { config } = services;
  return async (req: Request, res: Response, next: NextFunction) => {
    if (!config.federation.enabled) throw forbidden('Federation is disabled on this server');
    const creds = xMatrixCredentials(authorizationHeaders(req));
    const origin = creds[0]!.origin;
    if (!isValidServerName(origin)) throw unauthorized('The X-Matrix origin is not a server name');
    const wrong = creds.find((c) => c.destination !== undefined && c.destination !== config.server_name);
    if (wrong) throw unauthorized(`This server is ${config.server_name}, not ${wrong.destination}`);
    const whitelist = config.federation.domain_whitelist;
    if (whitelist !== null && !whitelist.includes(origin)) throw forbidden(`Federation with ${origin} is not allowed here`);
    // What the origin signed: the request target exactly as received, the parsed body for PUT and POST.
    const content = req.method === 'PUT' || req.method === 'POST' ? (req.body as unknown) : undefined;
    const json = {
      ...requestJson(req.method, req.originalUrl, origin, config.server_name, content),
      signatures: { [origin]: Object.fromEntries(creds.map((c) => [c.key, c.sig])) },
    };
    await services.federation.keyRing.verifyJsonSignedBy(json, origin, services.clock.now(), { currentKeysOnly: true });
    res.locals.federation = { origin };
    services.federation.sender.remoteIsUp(origin);
    next();
  };
}

/** The origin of a request authenticated by federationAuth. */
export function federationOrigin(res: Response): string {
  const origin = res.locals.federation?.origin;
  if (origin === undefined) throw unauthorized('Missing X-Matrix Authorization header');
  return origin;
}
