// Route definitions and how they become Express routers. Each API file returns a list of RouteDefs
// (method, path, auth, guest, admin, session policy, handler); buildRouter mounts them on
// express.Router()s nested by path prefix, so a request meets few layers (Express tries the layers
// of a router one by one). Per route: the policy middleware built from the RouteDef (route label,
// auth, session counting, guest/admin checks), the JSON body parser for methods with a body (after
// the route is found: an unknown route answers 404 whatever its body), then the handler. A known
// path with another method answers 405 M_UNRECOGNIZED. Express's own matching rules apply: the
// first registered path that matches decides, literals match case-insensitively, a trailing slash is
// optional, parameters are percent-decoded (malformed encoding: 400 M_INVALID_PARAM).
import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { forbidden, guestAccessForbidden, unrecognized } from '../errors.js';
import type { Services } from '../services.js';
import { authenticate } from './auth.js';
import { jsonBody } from './body.js';
import { federationAuth } from './federation-auth.js';
import { countInSession } from './session.js';

export type Method = 'get' | 'put' | 'post' | 'delete';

export interface RouteDef {
  method: Method;
  /** Express path relative to the prefix it is mounted under: literal segments and `:name` parameters. */
  path: string;
  /**
   * 'none': no token needed; 'optional': identity if a token is given; 'user' (default): a token is
   * required; 'federation': a request signed by another server (X-Matrix, src/http/federation-auth.ts),
   * checked after the body is read since the signature covers it; the origin is `res.locals.federation`.
   */
  auth?: 'none' | 'optional' | 'user' | 'federation';
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
  /** One of the busiest routes (sends, /sync): mounted at the top of its prefix's router, before the nested ones. */
  hot?: boolean;
  /**
   * How the request body is read: 'json' (default for PUT/POST/DELETE) parses it into `req.body`;
   * 'raw' leaves the stream to the handler (uploads).
   */
  body?: 'json' | 'raw';
  /** A larger JSON body limit than `max_request_body_bytes` for this route (federation transactions). */
  maxBodyBytes?: number;
  /**
   * The operation existed in the legacy r0 client-server API (spec r0.x, i.e. before v1.1: no
   * `x-addedInMatrixVersion` in the official OpenAPI), so a `/v3/...` route is also served under
   * `/r0/...` (legacyR0Aliases). Routes added in v1.1 or later, `/v1/` and unstable routes never are.
   */
  r0?: boolean;
  handler: (req: Request, res: Response) => Promise<void> | void;
}

/**
 * The `/r0/` aliases of the routes flagged `r0` (matrix-spec: client-server-api "API Standards"
 * keeps r0 as the legacy prefix of the v3 endpoints; matrix-commander, synadm and older SDKs still
 * call it). The aliases follow the v3 routes, share their handlers and policies, and carry their own
 * pattern (`/_matrix/client/r0/...`) as the route label of metrics and logs.
 */
export function legacyR0Aliases(defs: RouteDef[]): RouteDef[] {
  const out: RouteDef[] = [];
  for (const d of defs) {
    if (!d.r0) continue;
    if (!d.path.startsWith('/v3/')) throw new Error(`route ${d.method.toUpperCase()} ${d.path} is flagged r0 but is not a /v3/ route`);
    out.push({ ...d, path: `/r0/${d.path.slice('/v3/'.length)}` });
  }
  return out;
}

/** The routes with their r0 aliases appended (the v3 routes stay first: they are the busiest). */
export const withLegacyR0 = (defs: RouteDef[]): RouteDef[] => [...defs, ...legacyR0Aliases(defs)];

/** A route with its full pattern (mount prefix + path): the `route` label of metrics and logs. */
interface Entry {
  def: RouteDef;
  pattern: string;
  /** Path segments not yet consumed by the routers above. */
  segments: string[];
}

/** Groups of at least this many routes that share their next path segment get a router of their own. */
const NEST_MIN = 4;

/** Builds the Express router of a list of routes mounted under `prefix` (routes keep their order). */
export function buildRouter(services: Services, prefix: string, defs: RouteDef[], opts: { bodyLimit: number }): Router {
  const base = prefix === '/' ? '' : prefix;
  const entries = defs.map((def) => ({ def, pattern: `${base}${def.path}`.replace(/\{\/\}$/, ''), segments: splitPath(def.path) }));
  const seen = new Set<string>();
  for (const e of entries) {
    const key = `${e.def.method.toUpperCase()} ${e.pattern.toLowerCase()}`;
    if (seen.has(key)) throw new Error(`duplicate route ${e.def.method.toUpperCase()} ${e.pattern}`);
    seen.add(key);
  }
  const body = jsonBody(opts.bodyLimit);
  const handlersOf = (def: RouteDef, pattern: string) => routeHandlers(services, def, pattern, body);
  // The busiest routes first, each as one flat layer: a send or a /sync meets a single path match
  // instead of a router per path segment. The rest is nested by path prefix.
  const hot = entries.filter((e) => e.def.hot);
  const router = mount(entries.filter((e) => !e.def.hot), handlersOf);
  if (hot.length === 0) return router;
  const top = Router({ mergeParams: true });
  const byPath = new Map<string, Entry[]>();
  for (const e of hot) byPath.set(e.def.path, [...(byPath.get(e.def.path) ?? []), e]);
  for (const [path, list] of byPath) {
    const route = top.route(path);
    for (const e of list) route[e.def.method](...handlersOf(e.def, e.pattern));
    route.all(methodNotAllowed);
  }
  top.use(router);
  return top;
}

function splitPath(path: string): string[] {
  const clean = path.replace(/\{\/\}$/, '').replace(/\/+$/, '');
  return clean === '' ? [] : clean.slice(1).split('/');
}

/** A segment that may head a nested router: a plain literal or a plain `:param`. */
const NESTABLE = /^(?::[A-Za-z_][A-Za-z0-9_]*|[A-Za-z0-9_.~-]+)$/;

function mount(entries: Entry[], handlersOf: (def: RouteDef, pattern: string) => RequestHandler[]): Router {
  // mergeParams: a nested router sees the parameters its mount path matched (e.g. :roomId).
  const router = Router({ mergeParams: true });
  const groups = new Map<string, Entry[]>();
  for (const e of entries) {
    const head = e.segments[0];
    if (e.segments.length < 2 || head === undefined || !NESTABLE.test(head)) continue;
    const key = head.startsWith(':') ? head : head.toLowerCase();
    const list = groups.get(key) ?? [];
    list.push(e);
    groups.set(key, list);
  }
  const done = new Set<Entry>();
  const byPath = new Map<string, Entry[]>();
  const order: (string | Entry[])[] = [];
  for (const e of entries) {
    if (done.has(e)) continue;
    const head = e.segments[0];
    const key = head === undefined ? undefined : head.startsWith(':') ? head : head.toLowerCase();
    const group = key === undefined ? undefined : groups.get(key);
    if (group && group.length >= NEST_MIN && group.includes(e)) {
      // The whole group goes into one router at the place of its first route.
      for (const g of group) done.add(g);
      order.push(group);
      continue;
    }
    done.add(e);
    const path = `/${e.segments.join('/')}${e.def.path.endsWith('{/}') ? '{/}' : ''}`;
    const list = byPath.get(path);
    if (list) list.push(e);
    else {
      byPath.set(path, [e]);
      order.push(path);
    }
  }
  for (const item of order) {
    if (typeof item === 'string') {
      const route = router.route(item);
      for (const e of byPath.get(item)!) route[e.def.method](...handlersOf(e.def, e.pattern));
      route.all(methodNotAllowed);
    } else {
      const head = item[0]!.segments[0]!;
      router.use(`/${head}`, mount(item.map((e) => ({ ...e, segments: e.segments.slice(1) })), handlersOf));
    }
  }
  return router;
}

const methodNotAllowed: RequestHandler = () => {
  throw unrecognized('Method not allowed on this path', 405);
};

/** The middleware chain of one route: policy, body (for methods with one), federation auth, handler. */
function routeHandlers(services: Services, d: RouteDef, pattern: string, body: RequestHandler): RequestHandler[] {
  const chain: RequestHandler[] = [policy(services, d, pattern)];
  if (d.method !== 'get' && (d.body ?? 'json') === 'json') chain.push(d.maxBodyBytes !== undefined ? jsonBody(d.maxBodyBytes) : body);
  if (d.auth === 'federation') chain.push(federationAuth(services));
  chain.push(d.handler as RequestHandler);
  return chain;
}

/** The route's policy: its metrics label, then auth, session counting, admin and guest checks. */
export function policy(services: Services, d: RouteDef, pattern: string): RequestHandler {
  const mode = d.auth ?? 'user';
  // A federation request is authenticated after its body is read (routeHandlers).
  if (mode === 'none' || mode === 'federation') {
    return (_req: Request, res: Response, next: NextFunction) => {
      res.locals.route = pattern;
      next();
    };
  }
  return async (req: Request, res: Response, next: NextFunction) => {
    res.locals.route = pattern;
    const auth = await authenticate(services, req, mode === 'user');
    if (auth) {
      res.locals.auth = auth;
      // Counted in its session first: even a refused request answers with its Hearth-Session, and
      // a request naming a bad session is refused (410) before anything else about it happens.
      if (d.session !== 'none') countInSession(services, req, res, auth, d.active === true);
      await services.tokens.touchDevice(auth, req.ip ?? null, req.headers['user-agent'] ?? null);
      if (d.admin && !auth.isAdmin) throw forbidden('You are not a server admin');
      if (auth.isGuest && !d.guest) throw guestAccessForbidden();
    }
    next();
  };
}
