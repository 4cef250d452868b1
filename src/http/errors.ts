// The one error middleware: MatrixError -> `{errcode, error, ...extra}` with its status and headers;
// the body parser's errors -> M_NOT_JSON / M_TOO_LARGE; a malformed path parameter -> M_INVALID_PARAM;
// anything else is logged with its stack and answered 500 M_UNKNOWN without details.
import type { NextFunction, Request, Response } from 'express';
import { isUiaChallenge, MatrixError, notJson, tooLarge } from '../errors.js';
import { UnstorableTextError } from '../storage/errors.js';
import type { Logger } from '../logger.js';
import { INVALID_UTF8 } from './body.js';

/** Errors from body-parser and Express's router carry a `type` or `status`. */
interface HttpError extends Error {
  type?: string;
  status?: number;
  expose?: boolean;
}

/** Turns whatever a route threw into a Matrix error (unexpected errors are logged here). */
export function toMatrixError(err: unknown, req: Request, logger: Logger): MatrixError {
  if (err instanceof MatrixError) return err;
  const e = err as HttpError;
  switch (e?.type) {
    case 'entity.too.large':
      return tooLarge();
    case 'entity.parse.failed':
      return notJson('Body is not valid JSON');
    case INVALID_UTF8:
      return notJson('Body is not valid UTF-8');
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return notJson(`Body cannot be read: ${e.message}`);
    case 'request.size.invalid':
      return notJson('Body length does not match Content-Length');
    case 'request.aborted':
      return new MatrixError(400, 'M_UNKNOWN', 'Request aborted');
  }
  // Input the store cannot hold (a NUL character in text, on PostgreSQL).
  if (err instanceof UnstorableTextError) return new MatrixError(400, 'M_INVALID_PARAM', err.message);
  // Express's router: a path parameter with malformed percent-encoding.
  if (err instanceof URIError || (e?.status === 400 && /decode param/i.test(e.message ?? ''))) {
    return new MatrixError(400, 'M_INVALID_PARAM', 'Malformed request (bad percent-encoding or parameters)');
  }
  logger.error({ err, method: req.method, path: pathOf(req) }, 'unhandled error');
  return new MatrixError(500, 'M_UNKNOWN', 'Internal server error');
}

/** The request path without its query string (it may hold tokens), whatever router it is in. */
export function pathOf(req: Request): string {
  const url = req.originalUrl ?? req.url ?? '';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

export function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, next: NextFunction): void => {
    // Hearth answers errors only for its own requests (a host app's errors are the host's).
    if (res.locals.hearth !== true) {
      next(err);
      return;
    }
    const e = toMatrixError(err, req, logger);
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(e.status).set(e.headers);
    // A UIA challenge without a failed stage has no errcode/error, only flows/params/session.
    if (isUiaChallenge(e) && !e.uiaFailed) res.json(e.extra);
    else res.json(e.toJSON());
  };
}
