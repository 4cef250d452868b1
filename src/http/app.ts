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
import { buildRouter } from './routes.js';

export function createApp(services: Services): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use(requestLog(services));
  app.use(cors);
  app.use(jsonBody(services.config.max_request_body_bytes));

  app.use('/.well-known/matrix', buildRouter(services, wellKnownRoutes(services)));
  app.use('/_matrix/client', buildRouter(services, clientRoutes(services)));
  app.use('/_matrix/federation', buildRouter(services, federationRoutes(services)));
  app.use('/_matrix/key', buildRouter(services, keyRoutes(services)));
  app.use('/', buildRouter(services, adminRoutes(services)));

  app.use(() => {
    throw unrecognized('Unrecognized request');
  });
  app.use(errorHandler(services.logger));
  return app;
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
