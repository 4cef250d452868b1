// The HTTP application: request logs, CORS, JSON bodies, the API routers, 404/405 and one error handler.
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { adminRoutes } from '../api/admin/index.js';
import { clientRoutes, wellKnownRoutes } from '../api/client/index.js';
import { federationRoutes, keyRoutes } from '../api/federation/index.js';
import { unrecognized } from '../errors.js';
import type { Services } from '../services.js';
import { jsonBody } from './body.js';
import { cors } from './cors.js';
import { errorHandler } from './errors.js';
import { createMetrics, metricsHandler, metricsMiddleware } from './metrics.js';
import { buildRouter, type RouteDef } from './routes.js';

export interface AppOptions {
  /** Process-level metrics (CPU, memory, event loop) in /metrics; off in tests. */
  defaultMetrics?: boolean;
}

export function createApp(services: Services, opts: AppOptions = {}): Express {
  const app = express();
  const metrics = createMetrics(services, { defaultMetrics: opts.defaultMetrics === true });
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use(requestLog(services));
  app.use(metricsMiddleware(metrics));
  app.get('/metrics', metricsHandler(services, metrics));
  app.use(cors);
  app.use(jsonBody(services.config.max_request_body_bytes));

  for (const { prefix, routes } of mountedRoutes(services)) app.use(prefix, buildRouter(services, routes));

  app.use(() => {
    throw unrecognized('Unrecognized request');
  });
  app.use(errorHandler(services.logger));
  return app;
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

/** One structured line per request: method, path without query (it may hold secrets), status, time, user. */
function requestLog(services: Services) {
  const log = services.logger;
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!log.isLevelEnabled('info')) {
      next();
      return;
    }
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      log.info({ method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 10) / 10, user: res.locals.auth?.userId }, 'request');
    });
    next();
  };
}
