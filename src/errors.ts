// Matrix errors (matrix-spec: client-server-api "Standard error response", definitions/errors/error.yaml).
// Core and handlers throw these; one middleware (http/errors.ts) turns them into `{errcode, error, ...extra}`.

export class MatrixError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'MatrixError';
  }

  toJSON(): Record<string, unknown> {
    return { errcode: this.errcode, error: this.message, ...this.extra };
  }
}

export const forbidden = (msg = 'Forbidden', extra?: Record<string, unknown>) => new MatrixError(403, 'M_FORBIDDEN', msg, extra);
export const notFound = (msg = 'Not found') => new MatrixError(404, 'M_NOT_FOUND', msg);
export const unrecognized = (msg = 'Unrecognized request', status = 404) => new MatrixError(status, 'M_UNRECOGNIZED', msg);
export const badJson = (msg: string) => new MatrixError(400, 'M_BAD_JSON', msg);
export const notJson = (msg = 'Content not JSON') => new MatrixError(400, 'M_NOT_JSON', msg);
export const invalidParam = (msg: string) => new MatrixError(400, 'M_INVALID_PARAM', msg);
export const missingParam = (msg: string) => new MatrixError(400, 'M_MISSING_PARAM', msg);
export const tooLarge = (msg = 'Request body too large') => new MatrixError(413, 'M_TOO_LARGE', msg);
export const missingToken = () => new MatrixError(401, 'M_MISSING_TOKEN', 'Missing access token');
export const unknownToken = (msg = 'Unrecognised access token') =>
  new MatrixError(401, 'M_UNKNOWN_TOKEN', msg, { soft_logout: false });
export const userInUse = (msg = 'User ID already taken') => new MatrixError(400, 'M_USER_IN_USE', msg);
export const invalidUsername = (msg: string) => new MatrixError(400, 'M_INVALID_USERNAME', msg);
export const weakPassword = (msg: string) => new MatrixError(400, 'M_WEAK_PASSWORD', msg);
export const userDeactivated = (msg = 'This account has been deactivated') => new MatrixError(403, 'M_USER_DEACTIVATED', msg);
export const guestAccessForbidden = (msg = 'Guest access is not allowed here') => new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', msg);
export const unknown = (msg = 'Internal server error', status = 500) => new MatrixError(status, 'M_UNKNOWN', msg);
export const unsupportedRoomVersion = (msg: string) => new MatrixError(400, 'M_UNSUPPORTED_ROOM_VERSION', msg);

/** 429 with `retry_after_ms` in the body and `Retry-After` (whole seconds, rounded up) in the headers. */
export function limitExceeded(retryAfterMs: number): MatrixError {
  const ms = Math.max(1, Math.ceil(retryAfterMs));
  return new MatrixError(429, 'M_LIMIT_EXCEEDED', 'Too many requests', { retry_after_ms: ms }, { 'Retry-After': String(Math.ceil(ms / 1000)) });
}

/** User-interactive auth needs another step (matrix-spec: client-server-api "User-interactive authentication API"). */
export function uiaRequired(body: Record<string, unknown>, failure?: { errcode: string; error: string }): MatrixError {
  const err = new MatrixError(401, failure?.errcode ?? 'M_FORBIDDEN', failure?.error ?? 'Additional authentication required', body);
  // A 401 UIA response carries flows/params/session and, only after a failed attempt, errcode/error.
  (err as MatrixError & { uia: boolean; uiaFailed: boolean }).uia = true;
  (err as MatrixError & { uia: boolean; uiaFailed: boolean }).uiaFailed = failure !== undefined;
  return err;
}

export function isUiaChallenge(err: MatrixError): err is MatrixError & { uia: true; uiaFailed: boolean } {
  return (err as MatrixError & { uia?: boolean }).uia === true;
}

// End-to-end encryption and the media repository (issue 18).
export const invalidSignature = (msg = 'Invalid signature') => new MatrixError(400, 'M_INVALID_SIGNATURE', msg);
/** key_backup.yaml: a write to a backup version that is not the current one; the current one is named. */
export const wrongRoomKeysVersion = (currentVersion: string | undefined) =>
  new MatrixError(403, 'M_WRONG_ROOM_KEYS_VERSION', 'Wrong backup version', currentVersion === undefined ? {} : { current_version: currentVersion });
export const cannotOverwriteMedia = (msg = 'Media already uploaded') => new MatrixError(409, 'M_CANNOT_OVERWRITE_MEDIA', msg);
export const notYetUploaded = (msg = 'Content has not yet been uploaded') => new MatrixError(504, 'M_NOT_YET_UPLOADED', msg);
