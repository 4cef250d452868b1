// What Hearth's middleware hands to handlers in `res.locals`, typed for every Express Response.
import type { AuthContext } from '../core/accounts/events.js';
import type { Session } from '../core/sessions.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      /** Set on every request Hearth answers (its error middleware answers only these). */
      hearth?: boolean;
      /** The matched route's pattern: the `route` label of the metrics. */
      route?: string;
      /** The caller, from the access token (routes with auth 'user', or 'optional' with a token). */
      auth?: AuthContext;
      /** The session the request is counted in (spec/sessions.md). */
      session?: Session;
      /** The server that signed the request (routes with auth 'federation'; src/http/federation-auth.ts). */
      federation?: { origin: string };
    }
  }
}

export {};
