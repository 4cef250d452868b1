// Third-party identifiers (matrix-spec: administrative_contact.yaml). Hearth keeps no email addresses or
// phone numbers (capabilities: `m.3pid_changes` is false): the list is always empty, adding or binding
// one is refused with M_THREEPID_DENIED, requesting a validation token with
// M_THREEPID_MEDIUM_NOT_SUPPORTED, and deleting or unbinding one with M_THREEPID_NOT_FOUND (no
// account has any). Clients call GET /account/3pid when they show account settings (Element does).
import { MatrixError } from '../../errors.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody, reqString } from '../../http/validate.js';
import type { Services } from '../../services.js';

const denied = () => new MatrixError(403, 'M_THREEPID_DENIED', 'This server does not support third-party identifiers');
const unsupported = () => new MatrixError(400, 'M_THREEPID_MEDIUM_NOT_SUPPORTED', 'This server does not support adding third-party identifiers');
const MEDIA = new Set(['email', 'msisdn']);

export function threepidRoutes(_services: Services): RouteDef[] {
  /** delete / unbind: a well-formed request for a 3PID that no account here has. */
  const notFound = (req: { body: unknown }) => {
    const b = objectBody(req.body);
    const medium = reqString(b, 'medium');
    reqString(b, 'address');
    if (!MEDIA.has(medium)) throw new MatrixError(400, 'M_INVALID_PARAM', "'medium' must be 'email' or 'msisdn'");
    throw new MatrixError(400, 'M_THREEPID_NOT_FOUND', 'This third-party identifier is not on your account');
  };
  return [
    {
      // GET /_matrix/client/v3/account/3pid (matrix-spec: administrative_contact.yaml#getAccount3PIDs)
      method: 'get', path: '/v3/account/3pid', r0: true,
      handler: (_req, res) => {
        res.json({ threepids: [] });
      },
    },
    {
      // POST /_matrix/client/v3/account/3pid (matrix-spec: administrative_contact.yaml#post3PIDs)
      method: 'post', path: '/v3/account/3pid', r0: true,
      handler: () => {
        throw denied();
      },
    },
    {
      // POST /_matrix/client/v3/account/3pid/add (matrix-spec: administrative_contact.yaml#add3PID)
      method: 'post', path: '/v3/account/3pid/add', r0: true,
      handler: () => {
        throw denied();
      },
    },
    {
      // POST /_matrix/client/v3/account/3pid/bind (matrix-spec: administrative_contact.yaml#bind3PID)
      method: 'post', path: '/v3/account/3pid/bind', r0: true,
      handler: () => {
        throw denied();
      },
    },
    {
      // POST /_matrix/client/v3/account/3pid/delete (matrix-spec: administrative_contact.yaml#delete3pidFromAccount)
      method: 'post', path: '/v3/account/3pid/delete', r0: true,
      handler: notFound,
    },
    {
      // POST /_matrix/client/v3/account/3pid/unbind (matrix-spec: administrative_contact.yaml#unbind3pidFromAccount)
      method: 'post', path: '/v3/account/3pid/unbind', r0: true,
      handler: notFound,
    },
    {
      // POST /_matrix/client/v3/account/3pid/email/requestToken (matrix-spec: administrative_contact.yaml#requestTokenTo3PIDEmail)
      method: 'post', path: '/v3/account/3pid/email/requestToken', r0: true, auth: 'none',
      handler: () => {
        throw unsupported();
      },
    },
    {
      // POST /_matrix/client/v3/account/3pid/msisdn/requestToken (matrix-spec: administrative_contact.yaml#requestTokenTo3PIDMSISDN)
      method: 'post', path: '/v3/account/3pid/msisdn/requestToken', r0: true, auth: 'none',
      handler: () => {
        throw unsupported();
      },
    },
  ];
}
