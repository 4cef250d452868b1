// The HTTP application on Express 5. createHearthRouter builds one express.Router carrying every
// Hearth route with its middleware (request log and metrics, CORS, per-route policy and JSON body,
// 404/405 and the Matrix error mapper), scoped to Hearth's path prefixes so that a host application
// can mount it beside its own routes (`host.use(hearth.router)`). createApp wraps that router in an
// Express app tuned for Hearth alone (no ETag, no X-Powered-By, a lean JSON writer) and serves the
// built-in web client outside those prefixes (web-client.ts).
import express, { type Express, type NextFunction, type Request, type Response, type Router } from 'express';
import { createServer, IncomingMessage, ServerResponse, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { adminRoutes } from '../api/admin/index.js';
import { clientRoutes, wellKnownRoutes } from '../api/client/index.js';
import { federationRoutes, keyRoutes } from '../api/federation/index.js';
import { mediaRoutes } from '../api/media/index.js';
import { unrecognized } from '../errors.js';
import type { Services } from '../services.js';
import { setCorsHeaders } from './cors.js';
import { errorHandler, pathOf } from './errors.js';
import { MEDIA_PREFIXES, mediaSecurityHeaders } from './media.js';
import { createMetrics, metricsHandler, recordRequest, type Metrics } from './metrics.js';
import { buildRouter, withLegacyR0, type RouteDef } from './routes.js';
import { webClientMiddleware } from './web-client.js';
import './locals.js';

export interface AppOptions {
  /** Process-level metrics (CPU, memory, event loop) in /metrics; off in tests. */
  defaultMetrics?: boolean;
  /** The Hearth router to serve (createHearthRouter's), when the caller also hands it out. */
  router?: Router;
  /** Where the built web client is (dist/web/ by default; tests use their own files). */
  webClientDir?: string;
  /**
   * Serve only the routes mounted under these prefixes (the federation listener: FEDERATION_PREFIXES),
   * without /metrics or the web client; everything else answers 404 M_UNRECOGNIZED.
   */
  only?: readonly string[];
  /** The metrics to record into (the federation listener shares the main app's). */
  metrics?: Metrics;
}

/** What the federation listener serves (src/http/federation-listener.ts). */
export const FEDERATION_PREFIXES = ['/_matrix/federation', '/_matrix/key'] as const;

/** The path prefixes Hearth answers under; everything else is left to a host application. */
export const HEARTH_PREFIXES = ['/_matrix', '/.well-known/matrix', '/_synapse', '/_hearth'];

/** Every API route with the prefix it is mounted under (spec/endpoints.md lists them all). */
export function mountedRoutes(services: Services): { prefix: string; routes: RouteDef[] }[] {
  return [
    // Client routes that existed in r0 are served under /_matrix/client/r0/ too (RouteDef.r0), and
    // so are the media repository's r0-era routes (upload, download, thumbnail, preview_url, config)
    // under /_matrix/media/r0/.
    { prefix: '/_matrix/client', routes: withLegacyR0(clientRoutes(services)) },
    { prefix: '/_matrix/media', routes: withLegacyR0(mediaRoutes(services)) },
    { prefix: '/.well-known/matrix', routes: wellKnownRoutes(services) },
    { prefix: '/_matrix/federation', routes: federationRoutes(services) },
    { prefix: '/_matrix/key', routes: keyRoutes(services) },
    { prefix: '/', routes: adminRoutes(services) },
  ];
}

export interface HearthRouter {
  router: Router;
  metrics: Metrics;
}

/** One router with every Hearth route and its middleware, for this app or a host's. */
export function createHearthRouter(services: Services, opts: AppOptions = {}): HearthRouter {
  const metrics = opts.metrics ?? createMetrics(services, { defaultMetrics: opts.defaultMetrics === true });
  const router = express.Router();
  const entry = entryMiddleware(services, metrics);
  if (!opts.only) {
    router.get('/metrics', entry, (_req, res, next) => {
      res.locals.route = '/metrics';
      next();
    }, metricsHandler(services, metrics));
  }
  // One layer for everything under Hearth's prefixes: request log, metrics and CORS.
  router.use(HEARTH_PREFIXES, entry);
  // Several processes: an answer leaves once the live-state changes the request made reached Redis,
  // so the client's next request, on any process, sees them (spec/scaling.md "Read your writes").
  if (services.cluster) {
    const cluster = services.cluster;
    router.use(HEARTH_PREFIXES, (_req: Request, res: Response, next: NextFunction) => {
      const end = res.end.bind(res) as (...args: unknown[]) => Response;
      (res as unknown as { end: (...args: unknown[]) => Response }).end = (...args: unknown[]) => {
        void cluster.flushed().then(() => end(...args));
        return res;
      };
      next();
    });
  }
  // Every media answer, errors included, carries the sandboxing CSP, nosniff and CORP (media.ts).
  router.use(MEDIA_PREFIXES, mediaSecurityHeaders);
  const bodyLimit = services.config.max_request_body_bytes;
  for (const { prefix, routes } of mountedRoutes(services)) {
    if (opts.only && !opts.only.includes(prefix)) continue;
    const sub = buildRouter(services, prefix, routes, { bodyLimit });
    if (prefix === '/') router.use(sub);
    else router.use(prefix, sub);
  }
  router.use(HEARTH_PREFIXES, () => {
    throw unrecognized('Unrecognized request');
  });
  router.use(errorHandler(services.logger));
  return { router, metrics };
}

export function createApp(services: Services, opts: AppOptions = {}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  installLeanJson(app);
  installQueryCache(app);
  app.use(opts.router ?? createHearthRouter(services, opts).router);
  // The web client (spec/web-client.md) after every Hearth route: it can never shadow one.
  const web = opts.only ? undefined : webClientMiddleware(services.config.web_client, { logger: services.logger, ...(opts.webClientDir ? { dir: opts.webClientDir } : {}) });
  if (web) app.use(web);
  // Anything outside Hearth's prefixes, in Hearth's own app: still a Matrix 404.
  app.use((_req: Request, res: Response) => {
    setCorsHeaders(res);
    res.locals.hearth = true;
    const e = unrecognized('Unrecognized request');
    res.status(e.status).json(e.toJSON());
  });
  return app;
}

/**
 * The first middleware of every Hearth request: marks it as Hearth's, writes one log line and the
 * metrics when it finishes, and sets the CORS headers (a preflight is answered here, before any auth:
 * matrix-spec client-server-api "Web Browser Clients").
 */
function entryMiddleware(services: Services, metrics: Metrics) {
  const log = services.logger;
  return (req: Request, res: Response, next: NextFunction): void => {
    if (res.locals.hearth) {
      next();
      return;
    }
    res.locals.hearth = true;
    setCorsHeaders(res);
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    const start = process.hrtime.bigint();
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      recordRequest(metrics, req, res, seconds);
      // One structured line per request: method, path without query (it may hold secrets), status, time, user.
      if (log.isLevelEnabled('info')) {
        log.info({ method: req.method, path: pathOf(req), status: res.statusCode, ms: Math.round(seconds * 1e4) / 10, user: res.locals.auth?.userId }, 'request');
      }
    });
    next();
  };
}

/**
 * An HTTP server for the app whose requests and responses are created with the app's prototypes, so
 * Express does not swap the prototype of every request and response it handles (which costs V8 its
 * fast paths on those objects).
 */
export function createHttpServer(app: Express): Server {
  type Ctor = new (...args: never[]) => unknown;
  function HearthRequest(this: IncomingMessage, socket: Socket): void {
    IncomingMessage.call(this, socket);
  }
  HearthRequest.prototype = app.request;
  function HearthResponse(this: ServerResponse, req: IncomingMessage, options?: object): void {
    (ServerResponse as unknown as (this: ServerResponse, r: IncomingMessage, o?: object) => void).call(this, req, options);
  }
  HearthResponse.prototype = app.response;
  return createServer({
    IncomingMessage: HearthRequest as unknown as Ctor as typeof IncomingMessage,
    ServerResponse: HearthResponse as unknown as Ctor as typeof ServerResponse,
  }, app);
}

/**
 * res.json without Express's per-call settings lookups, ETag and freshness checks (Hearth's app turns
 * ETags off anyway): serialise, set type and length, end. HEAD answers the headers only.
 */
function installLeanJson(app: Express): void {
  app.response.json = function leanJson(this: Response, body: unknown): Response {
    const text = JSON.stringify(body) ?? '';
    if (!this.hasHeader('Content-Type')) this.setHeader('Content-Type', 'application/json; charset=utf-8');
    this.setHeader('Content-Length', Buffer.byteLength(text));
    if (this.req.method === 'HEAD') this.end();
    else this.end(text);
    return this;
  };
}

const QUERY = Symbol('hearth.query');

/**
 * req.query is a getter that parses the query string on every read (auth, session and the handler
 * each read it); this one parses once per request with the app's query parser.
 */
function installQueryCache(app: Express): void {
  const parse = app.get('query parser fn') as (qs: string) => Record<string, unknown>;
  Object.defineProperty(app.request, 'query', {
    configurable: true,
    enumerable: true,
    get(this: Request & { [QUERY]?: { qs: string; query: Record<string, unknown> } }) {
      // Routers strip their mount path from req.url, never the query string: key the cache by it.
      const url = this.url;
      const q = url.indexOf('?');
      const qs = q < 0 ? '' : url.slice(q + 1);
      const cached = this[QUERY];
      if (cached && cached.qs === qs) return cached.query;
      const query = qs === '' ? {} : parse(qs);
      this[QUERY] = { qs, query };
      return query;
    },
  });
}
