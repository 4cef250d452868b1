// Route definitions and the route table. Each API file returns a list of RouteDefs; the app compiles
// them all into one table that finds a request's route in a single pass over the candidates with the
// same number of path segments (it replaced Express's chain of routers and regular expressions, a
// measurable part of every request: bench/README.md). Matching keeps what Express's router did:
// registration order, the first path that matches decides; a known path with another method
// answers 405 M_UNRECOGNIZED; literal segments match case-insensitively; a trailing slash is optional;
// parameters are percent-decoded (malformed encoding: 400 M_INVALID_PARAM).
import { forbidden, guestAccessForbidden, MatrixError } from '../errors.js';
import type { Services } from '../services.js';
import { authenticate } from './auth.js';
import { countInSession } from './session.js';
import type { HttpRequest, HttpResponse } from './types.js';

export type Method = 'get' | 'put' | 'post' | 'delete';

export interface RouteDef {
  method: Method;
  /** Path relative to the prefix it is mounted under: literal segments and `:name` parameters (one segment each). */
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
  handler: (req: HttpRequest, res: HttpResponse) => Promise<void> | void;
}

type Segment = { literal: string } | { param: string };

interface PathEntry {
  /** The full pattern (prefix + path), the `route` label of the request metrics. */
  pattern: string;
  segments: Segment[];
  byMethod: Map<string, RouteDef>;
}

function parsePattern(pattern: string): Segment[] {
  // `{/}` (an optional trailing slash in path-to-regexp syntax) is what every path allows anyway.
  const clean = pattern.replace(/\{\/\}$/, '').replace(/\/+$/, '');
  const parts = clean === '' ? [] : clean.slice(1).split('/');
  return parts.map((p) => {
    if (p.startsWith(':')) {
      if (!/^:[A-Za-z_][A-Za-z0-9_]*$/.test(p)) throw new Error(`unsupported route segment ${p} in ${pattern}`);
      return { param: p.slice(1) };
    }
    if (/[:*{}()?+]/.test(p)) throw new Error(`unsupported route segment ${p} in ${pattern}`);
    return { literal: p.toLowerCase() };
  });
}

function decodeParam(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    throw new MatrixError(400, 'M_INVALID_PARAM', `Malformed percent-encoding in path segment: ${value}`);
  }
}

export interface RouteMatch {
  entry: PathEntry;
  def: RouteDef | undefined;
  params: Record<string, string>;
}

/** All routes of the server, grouped by path in registration order. */
export class RouteTable {
  /** Paths by their number of segments, in registration order. */
  private readonly bySize = new Map<number, PathEntry[]>();
  private readonly entries = new Map<string, PathEntry>();

  add(prefix: string, defs: RouteDef[]): void {
    for (const d of defs) {
      const pattern = `${prefix === '/' ? '' : prefix}${d.path}`;
      let entry = this.entries.get(pattern);
      if (!entry) {
        const segments = parsePattern(pattern);
        entry = { pattern, segments, byMethod: new Map() };
        this.entries.set(pattern, entry);
        const list = this.bySize.get(segments.length) ?? [];
        list.push(entry);
        this.bySize.set(segments.length, list);
      }
      const method = d.method.toUpperCase();
      if (entry.byMethod.has(method)) throw new Error(`duplicate route ${method} ${pattern}`);
      entry.byMethod.set(method, d);
    }
  }

  /** The route for a request path (raw, without the query string), or undefined for an unknown path. */
  match(method: string, pathname: string): RouteMatch | undefined {
    let path = pathname;
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    const parts = path === '/' || path === '' ? [] : path.slice(1).split('/');
    const candidates = this.bySize.get(parts.length);
    if (!candidates) return undefined;
    outer: for (const entry of candidates) {
      const segs = entry.segments;
      for (let i = 0; i < segs.length; i++) {
        const s = segs[i]!;
        const part = parts[i]!;
        if ('literal' in s) {
          if (part.length !== s.literal.length || part.toLowerCase() !== s.literal) continue outer;
        } else if (part === '') {
          continue outer;
        }
      }
      const params: Record<string, string> = {};
      for (let i = 0; i < segs.length; i++) {
        const s = segs[i]!;
        if ('param' in s) params[s.param] = decodeParam(parts[i]!);
      }
      // HEAD is answered like GET (as Express does).
      const def = entry.byMethod.get(method) ?? (method === 'HEAD' ? entry.byMethod.get('GET') : undefined);
      return { entry, def, params };
    }
    return undefined;
  }
}

/** Runs a matched route: policy (auth, session, guest, admin), then the handler. */
export async function runRoute(services: Services, d: RouteDef, req: HttpRequest, res: HttpResponse): Promise<void> {
  await applyPolicy(services, d, req, res);
  await d.handler(req, res);
}

async function applyPolicy(services: Services, d: RouteDef, req: HttpRequest, res: HttpResponse): Promise<void> {
  const mode = d.auth ?? 'user';
  if (mode === 'none') return;
  const auth = await authenticate(services, req, mode === 'user');
  if (!auth) return;
  res.locals.auth = auth;
  // Counted in its session first: even a refused request answers with its Hearth-Session, and
  // a request naming a bad session is refused (410) before anything else about it happens.
  if (d.session !== 'none') countInSession(services, req, res, auth, d.active === true);
  await services.accounts.touchDevice(auth, req.ip ?? null, req.headers['user-agent'] ?? null);
  if (d.admin && !auth.isAdmin) throw forbidden('You are not a server admin');
  if (auth.isGuest && !d.guest) throw guestAccessForbidden();
}
