// Hearth sessions (spec/sessions.md, spec/openapi-sessions.yaml): explicit start, list and end.
import { badJson, forbidden, invalidParam } from '../../errors.js';
import { MAX_STATUS_MSG_CHARS } from '../../core/presence.js';
import type { SessionPresence } from '../../core/sessions.js';
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody, optBool, optString } from '../../http/validate.js';
import type { Services } from '../../services.js';
import { SESSION_HEADER } from '../../core/sessions.js';

const PRESENCE = new Set(['online', 'unavailable', 'offline']);

export function sessionRoutes(services: Services): RouteDef[] {
  const { sessions, presence } = services;
  const view = (s: ReturnType<typeof sessions.list>[number]) => ({
    session_id: s.id,
    device_id: s.deviceId,
    presence: s.presence,
    created_ts: s.createdTs,
    last_seen_ts: s.lastSeenTs,
    expires_in_ms: sessions.expiresInMs(s),
    ...(s.domainSenders ? { domain_senders: true } : {}),
  });
  return [
    {
      // POST /_matrix/client/unstable/hearth/sessions (hearth: spec/openapi-sessions.yaml#startSession)
      method: 'post', path: '/unstable/hearth/sessions', guest: true, session: 'none',
      handler: async (req, res) => {
        const me = authOf(res);
        const b = objectBody(req.body);
        // Identity comes only from the access token.
        if (b.user_id !== undefined && b.user_id !== me.userId) throw forbidden('user_id does not match the access token');
        if (b.device_id !== undefined && b.device_id !== me.deviceId) throw forbidden('device_id does not match the access token');
        const p = optString(b, 'presence') ?? 'online';
        if (!PRESENCE.has(p)) throw badJson("'presence' must be online, unavailable or offline");
        const statusMsg = b.status_msg === null ? null : optString(b, 'status_msg');
        // The client understands server-name senders (spec/server-events.md).
        const domainSenders = optBool(b, 'domain_senders') ?? false;
        // Everything is checked before the session starts: a refused request starts none.
        if (typeof statusMsg === 'string' && statusMsg.length > MAX_STATUS_MSG_CHARS) throw invalidParam(`status_msg may be at most ${MAX_STATUS_MSG_CHARS} characters`);
        const s = sessions.start(me, p as SessionPresence, { ip: req.ip ?? null, userAgent: req.headers['user-agent'] ?? null }, { domainSenders });
        if (statusMsg !== undefined) await presence.setStatus(me.userId, s, p, statusMsg);
        const done = sessions.begin(s, { ip: req.ip ?? null, userAgent: req.headers['user-agent'] ?? null });
        res.once('close', done);
        res.setHeader(SESSION_HEADER, s.id);
        res.json({ session_id: s.id, presence: s.presence, expires_in_ms: sessions.idleTimeoutMs, ...(domainSenders ? { domain_senders: true } : {}) });
      },
    },
    {
      // GET /_matrix/client/unstable/hearth/sessions (hearth: spec/openapi-sessions.yaml#listSessions)
      method: 'get', path: '/unstable/hearth/sessions', guest: true,
      handler: (_req, res) => {
        res.json({ sessions: sessions.list(authOf(res).userId).map(view) });
      },
    },
    {
      // DELETE /_matrix/client/unstable/hearth/sessions/{sessionId} (hearth: spec/openapi-sessions.yaml#endSession)
      method: 'delete', path: '/unstable/hearth/sessions/:sessionId', guest: true,
      handler: (req, res) => {
        sessions.endOwn(authOf(res), req.params.sessionId as string);
        res.json({});
      },
    },
  ];
}
