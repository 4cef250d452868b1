// Structured logs (pino). Secrets never reach them: known secret fields are redacted and request
// logs carry the path without its query string (which may hold access_token or session_id).
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'password', 'new_password', 'access_token', 'token', 'mac', 'secret', 'registration_shared_secret',
  '*.password', '*.new_password', '*.access_token', '*.token', '*.mac', '*.secret', '*.registration_shared_secret',
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const opts = { level, base: { name: 'hearth' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return destination ? pino(opts, destination as never) : pino(opts);
}
