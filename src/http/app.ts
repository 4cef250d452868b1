// The HTTP application on node:http: request logs and metrics, CORS, JSON bodies, the route table,
// 404/405 and one error mapper. (Hearth started on Express 5; its per-request work, routers, layers
// and response helpers, was a large share of every cheap request, see bench/README.md, so the few
// pieces Hearth used are here instead.)
import type { IncomingMessage, ServerResponse } from 'node:http';
import { adminRoutes } from '../api/admin/index.js';
import { clientRoutes, wellKnownRoutes } from '../api/client/index.js';
import { federationRoutes, keyRoutes } from '../api/federation/index.js';
import { unrecognized } from '../errors.js';
import type { Services } from '../services.js';
import { readJsonBody } from './body.js';
import { setCorsHeaders } from './cors.js';
import { errorHandler } from './errors.js';
import { createMetrics, metricsHandler, recordRequest } from './metrics.js';
import { RouteTable, runRoute, type RouteDef } from './routes.js';
import { adopt, type HttpRequest, type HttpResponse } from './types.js';

export interface AppOptions {
  /** Process-level metrics (CPU, memory, event loop) in /metrics; off in tests. */
  defaultMetrics?: boolean;
}

/** A node:http request listener (also what supertest accepts). */
export type App = (req: IncomingMessage, res: ServerResponse) => void;

export function createApp(services: Services, opts: AppOptions = {}): App {
  const metrics = createMetrics(services, { defaultMetrics: opts.defaultMetrics === true });
  const serveMetrics = metricsHandler(services, metrics);
  const onError = errorHandler(services.logger);
  const log = services.logger;
  const limit = services.config.max_request_body_bytes;
  const table = new RouteTable();
  for (const { prefix, routes } of mountedRoutes(services)) table.add(prefix, routes);

  const handle = async (req: HttpRequest, res: HttpResponse): Promise<void> => {
    setCorsHeaders(res);
    if (req.method === 'OPTIONS') {
      res.statusCode = 204;
      res.end();
      return;
    }
    const path = req.path;
    if (path === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.locals.route = '/metrics';
      await serveMetrics(req, res);
      return;
    }
    const reading = readJsonBody(req, limit);
    if (reading) await reading;
    const found = table.match(req.method ?? '', path);
    if (!found) throw unrecognized('Unrecognized request');
    res.locals.route = found.entry.pattern;
    if (!found.def) throw unrecognized('Method not allowed on this path', 405);
    req.params = found.params;
    await runRoute(services, found.def, req, res);
  };

  return (rawReq, rawRes) => {
    const { req, res } = adopt(rawReq, rawRes);
    req.params = {};
    const start = process.hrtime.bigint();
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      recordRequest(metrics, req, res, seconds);
      // One structured line per request: method, path without query (it may hold secrets), status, time, user.
      if (log.isLevelEnabled('info')) {
        const auth = res.locals.auth as { userId?: string } | undefined;
        log.info({ method: req.method, path: req.path, status: res.statusCode, ms: Math.round(seconds * 1e4) / 10, user: auth?.userId }, 'request');
      }
    });
    let done: Promise<void>;
    try {
      done = handle(req, res);
    } catch (e) {
      done = Promise.reject(e);
    }
    done.catch((err: unknown) => {
      try {
        onError(err, req, res);
      } catch (e) {
        log.error({ err: e }, 'error while answering an error');
        if (!res.writableEnded) res.destroy();
      }
    });
  };
}

/** Every API route with the prefix it is mounted under (spec/endpoints.md lists them all). */
export function mountedRoutes(services: Services): { prefix: string; routes: RouteDef[] }[] {
  return [
    { prefix: '/.well-known/matrix', routes: wellKnownRoutes(services) },
    { prefix: '/_matrix/client', routes: clientRoutes(services) },
    { prefix: '/_matrix/federation', routes: federationRoutes(services) },
    { prefix: '/_matrix/key', routes: keyRoutes(services) },
    { prefix: '/', routes: adminRoutes(services) },
  ];
}
