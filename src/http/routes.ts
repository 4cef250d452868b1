// Route definitions: each API file returns a list; the app mounts them grouped by path so that a
// known path with an unsupported method answers 405 M_UNRECOGNIZED, and applies the auth policy.
import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { forbidden, guestAccessForbidden, unrecognized } from '../errors.js';
import type { Services } from '../services.js';
import { authenticate } from './auth.js';
import { countInSession } from './session.js';

export type Method = 'get' | 'put' | 'post' | 'delete';

export interface RouteDef {
  method: Method;
  /** Express 5 path (path-to-regexp 8 syntax), relative to the router's mount point. */
  path: string;
  /** 'none': no token needed; 'optional': identity if a token is given; 'user' (default): a token is required. */
  auth?: 'none' | 'optional' | 'user';
  /** Guests may call it (matrix-spec: modules/guest_access.md lists these). */
  guest?: boolean;
  /** Only server admins may call it (403 M_FORBIDDEN for others). */
  admin?: boolean;
  /**
   * How the request is counted in a session (spec/sessions.md): 'count' (default) resolves the named
   * or implicit session; 'none' skips it (the explicit session start makes its own).
   */
  session?: 'count' | 'none';
  /** An "active" action for presence idle (sending, typing, going online). */
  active?: boolean;
  handler: (req: Request, res: Response) => Promise<void> | void;
}

/** Builds a router from route definitions; paths with several methods share one route. */
export function buildRouter(services: Services, defs: RouteDef[]): Router {
  const router = Router({ strict: false });
  const byPath = new Map<string, RouteDef[]>();
  for (const d of defs) {
    const list = byPath.get(d.path) ?? [];
    if (list.some((x) => x.method === d.method)) throw new Error(`duplicate route ${d.method.toUpperCase()} ${d.path}`);
    list.push(d);
    byPath.set(d.path, list);
  }
  for (const [path, list] of byPath) {
    const route = router.route(path);
    for (const d of list) route[d.method](...policy(services, d), d.handler as RequestHandler);
    route.all(() => {
      throw unrecognized('Method not allowed on this path', 405);
    });
  }
  return router;
}

function policy(services: Services, d: RouteDef): RequestHandler[] {
  const mode = d.auth ?? 'user';
  if (mode === 'none') return [];
  return [
    async (req: Request, res: Response, next: NextFunction) => {
      const auth = await authenticate(services, req, mode === 'user');
      if (auth) {
        res.locals.auth = auth;
        // Counted in its session first: even a refused request answers with its Hearth-Session, and
        // a request naming a bad session is refused (410) before anything else about it happens.
        if (d.session !== 'none') countInSession(services, req, res, auth, d.active === true);
        await services.accounts.touchDevice(auth, req.ip ?? null, req.headers['user-agent'] ?? null);
        if (d.admin && !auth.isAdmin) throw forbidden('You are not a server admin');
        if (auth.isGuest && !d.guest) throw guestAccessForbidden();
      }
      next();
    },
  ];
}
