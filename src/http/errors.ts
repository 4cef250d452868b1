// The one error mapper: MatrixError -> `{errcode, error, ...extra}` with its status and headers;
// anything else is logged with its stack and answered 500 M_UNKNOWN without details.
import { isUiaChallenge, MatrixError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { HttpRequest, HttpResponse } from './types.js';

export function errorHandler(logger: Logger) {
  return (err: unknown, req: HttpRequest, res: HttpResponse): void => {
    let e: MatrixError;
    if (err instanceof MatrixError) {
      e = err;
    } else if (err instanceof URIError) {
      e = new MatrixError(400, 'M_INVALID_PARAM', 'Malformed request (bad percent-encoding or parameters)');
    } else {
      logger.error({ err, method: req.method, path: req.path }, 'unhandled error');
      e = new MatrixError(500, 'M_UNKNOWN', 'Internal server error');
    }
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
