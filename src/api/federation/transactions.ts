// PUT /_matrix/federation/v1/send/{txnId}: transactions from other servers.
import type { RouteDef } from '../../http/routes.js';
import { federationOrigin } from '../../http/federation-auth.js';
import type { Services } from '../../services.js';

/**
 * 50 PDUs (65536 bytes each at most, rooms "Size limits") and 100 EDUs: the transaction route takes
 * bodies up to this size whatever `max_request_body_bytes` says.
 */
export const MAX_TRANSACTION_BYTES = 8 * 1024 * 1024;

export function transactionRoutes(services: Services): RouteDef[] {
  return [
    {
      // PUT /_matrix/federation/v1/send/{txnId} (matrix-spec: server-server/transactions.yaml#sendTransaction)
      method: 'put', path: '/v1/send/:txnId', auth: 'federation', maxBodyBytes: MAX_TRANSACTION_BYTES,
      handler: async (req, res) => {
        const origin = federationOrigin(res);
        await services.rateLimiter.check('federation_transaction', origin);
        res.json(await services.federation.receiver.receive(origin, req.params.txnId as string, req.body));
      },
    },
  ];
}
