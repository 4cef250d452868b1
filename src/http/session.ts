// Counting each authenticated request in a session (spec/sessions.md): the session is named by the
// `Hearth-Session` header, else the `session_id` query parameter, else the `hearth_session` cookie;
// a request naming none is counted in its device's active session. A request naming a session that
// is not live or not the caller's is refused here, before it has any effect (410).
import type { AuthContext } from '../core/accounts/events.js';
import { SESSION_COOKIE, SESSION_HEADER, SESSION_QUERY, type Session } from '../core/sessions.js';
import type { Services } from '../services.js';
import type { Request, Response } from 'express';

function cookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const v = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(v);
      } catch {
        return v;
      }
    }
  }
  return undefined;
}

/** The session a request names: header, then query, then cookie. */
export function namedSession(req: Request): string | undefined {
  const h = req.headers[SESSION_HEADER.toLowerCase()];
  if (typeof h === 'string' && h !== '') return h;
  const q = (req.query as Record<string, unknown>)[SESSION_QUERY];
  if (typeof q === 'string' && q !== '') return q;
  return cookie(req.headers.cookie, SESSION_COOKIE) || undefined;
}

export function countInSession(services: Services, req: Request, res: Response, auth: AuthContext, active: boolean): Session {
  const meta = { ip: req.ip ?? null, userAgent: req.headers['user-agent'] ?? null };
  const session = services.sessions.resolve(auth, namedSession(req), meta);
  const done = services.sessions.begin(session, meta);
  res.once('close', done);
  res.setHeader(SESSION_HEADER, session.id);
  res.locals.session = session;
  if (active) services.sessions.markActive(session);
  return session;
}

export function sessionOf(res: Response): Session {
  const s = res.locals.session;
  if (!s) throw new Error('route has no session');
  return s;
}
