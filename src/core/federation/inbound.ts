// Received transactions (matrix-spec: server-server/transactions.yaml#sendTransaction; server-server-api
// "Transactions"): at most 50 PDUs and 100 EDUs; PDUs handed one by one, in order, to the
// FederationEventHandler, then the EDUs; the answer `{pdus: {eventId: {} | {error}}}` is stored, so
// that a retry of the same (origin, txnId) gets it again without anything being processed twice.
// Transactions from one origin are processed one at a time, in arrival order.
import type { Clock } from '../../clock.js';
import { badJson } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { FederationStore } from '../../storage/federation-types.js';
import type { JsonObject } from '../../wire.js';
import { KeyedMutex } from '../lock.js';
import type { Edu, FederationEventHandler } from './handler.js';

export const MAX_PDUS_PER_TRANSACTION = 50;
export const MAX_EDUS_PER_TRANSACTION = 100;
/** How long a transaction's answer is kept for retries. */
export const RECEIVED_TRANSACTION_TTL_MS = 24 * 60 * 60 * 1000;

export interface TransactionResponse {
  pdus: Record<string, { error?: string }>;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

export class TransactionReceiver {
  private readonly perOrigin = new KeyedMutex();
  private readonly inFlight = new Map<string, Promise<TransactionResponse>>();

  constructor(
    private readonly store: FederationStore,
    private readonly handler: FederationEventHandler,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** Checks the body's shape (400 M_BAD_JSON) and processes it once per (origin, txnId). */
  receive(origin: string, txnId: string, body: unknown): Promise<TransactionResponse> {
    if (!isObject(body)) throw badJson('The transaction must be a JSON object');
    if (!Array.isArray(body.pdus)) throw badJson('The transaction needs a pdus array');
    if (body.edus !== undefined && !Array.isArray(body.edus)) throw badJson('edus must be an array');
    const pdus = body.pdus;
    const edus = (body.edus ?? []) as unknown[];
    if (pdus.length > MAX_PDUS_PER_TRANSACTION) throw badJson(`A transaction carries at most ${MAX_PDUS_PER_TRANSACTION} PDUs (got ${pdus.length})`);
    if (edus.length > MAX_EDUS_PER_TRANSACTION) throw badJson(`A transaction carries at most ${MAX_EDUS_PER_TRANSACTION} EDUs (got ${edus.length})`);
    const key = `${origin}\u0000${txnId}`;
    const running = this.inFlight.get(key);
    if (running) return running;
    const p = this.perOrigin.run(origin, async () => {
      const stored = await this.store.getReceivedTransaction(origin, txnId);
      if (stored !== undefined) {
        this.logger.debug({ origin, txnId }, 'federation: transaction already received, same answer');
        return JSON.parse(stored) as TransactionResponse;
      }
      const response = await this.process(origin, txnId, pdus, edus);
      const now = this.clock.now();
      await this.store.putReceivedTransaction(origin, txnId, JSON.stringify(response), now, now - RECEIVED_TRANSACTION_TTL_MS);
      return response;
    }).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  private async process(origin: string, txnId: string, pdus: unknown[], edus: unknown[]): Promise<TransactionResponse> {
    const results: TransactionResponse['pdus'] = {};
    for (const pdu of pdus) {
      if (!isObject(pdu)) {
        this.logger.info({ origin, txnId }, 'federation: a PDU that is not an object, skipped');
        continue;
      }
      let eventId: string | undefined;
      let error: string | undefined;
      try {
        const r = await this.handler.onPdu(origin, pdu);
        eventId = r.eventId;
        error = r.error;
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
        this.logger.warn({ origin, txnId, err: e }, 'federation: the PDU handler failed');
      }
      if (eventId !== undefined) results[eventId] = error === undefined ? {} : { error };
    }
    for (const edu of edus) {
      if (!isObject(edu) || typeof edu.edu_type !== 'string' || !isObject(edu.content)) {
        this.logger.info({ origin, txnId }, 'federation: a malformed EDU, skipped');
        continue;
      }
      try {
        await this.handler.onEdu(origin, edu as unknown as Edu);
      } catch (e) {
        this.logger.warn({ origin, txnId, eduType: edu.edu_type, err: e }, 'federation: the EDU handler failed');
      }
    }
    return { pdus: results };
  }
}
