// The outbound transaction queue (matrix-spec: server-server-api "Transactions";
// server-server/transactions.yaml#sendTransaction). PDUs and EDUs are queued durably per destination
// (FederationStore) and sent as `PUT /_matrix/federation/v1/send/{txnId}` transactions of at most 50
// PDUs and 100 EDUs. Each destination has its own loop, so one slow or dead server never delays the
// others; a destination has one transaction in flight at a time, retried with the same txnId until it
// answers 200 ("The sending server must wait and retry for a 200 OK response before sending a
// transaction with a different txnId"). Failures back off exponentially (capped, reset on success or
// when the server contacts us); a restart resumes what was not acknowledged; acknowledged items are
// deleted in the same step that records the acknowledgement, so they are never sent again.
import type { Clock, TimerHandle } from '../../clock.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { FederationStore, OutboundTransaction, OutboxItem } from '../../storage/federation-types.js';
import type { JsonObject, Pdu } from '../../wire.js';
import { FederationError, type FederationClient } from './client.js';
import type { Edu } from './handler.js';
import { MAX_EDUS_PER_TRANSACTION, MAX_PDUS_PER_TRANSACTION, type TransactionResponse } from './inbound.js';

export interface FederationSenderOptions {
  /** The first retry after a failure (ms); each further failure doubles it. */
  initialBackoffMs?: number;
  /** The longest wait between two attempts (ms). */
  maxBackoffMs?: number;
  /** Timeout of one transaction request (ms). */
  requestTimeoutMs?: number;
  maxPdusPerTransaction?: number;
  maxEdusPerTransaction?: number;
}

export interface SendEduOptions {
  /**
   * A newer EDU with the same key replaces one queued for the destination and not yet in a
   * transaction (e.g. `m.typing ${roomId} ${userId}`, `m.presence ${userId}`): the per-type
   * coalescing hook for typing and presence.
   */
  coalesceKey?: string;
}

/** What the rest of the server calls to send PDUs and EDUs to other servers. */
export interface FederationSender {
  /** Queues a PDU (federation form: `pduOf(event)`) for each destination (this server and non-whitelisted ones are skipped). */
  sendPdu(destinations: Iterable<string>, pdu: Pdu | JsonObject): Promise<void>;
  sendEdu(destination: string, edu: Edu, opts?: SendEduOptions): Promise<void>;
  /** The server contacted us: if it was backing off, try it now. */
  remoteIsUp(serverName: string): void;
}

interface DestinationLoop {
  running: Promise<void> | undefined;
  again: boolean;
  timer: TimerHandle | undefined;
  timerAt: number;
  abort: AbortController | undefined;
}

/** Sends one transaction and returns the remote's answer (a FederationError when it fails). */
export type TransactionTransport = (txn: OutboundTransaction, body: JsonObject, signal: AbortSignal) => Promise<unknown>;

/** The transport through the federation client: `PUT /_matrix/federation/v1/send/{txnId}`. */
export function clientTransport(client: FederationClient, timeoutMs: number): TransactionTransport {
  return (txn, body, signal) => client.request({
    destination: txn.destination, method: 'PUT', path: `/_matrix/federation/v1/send/${encodeURIComponent(txn.txnId)}`,
    body, timeoutMs, signal,
  });
}

export class QueueingFederationSender implements FederationSender {
  private readonly loops = new Map<string, DestinationLoop>();
  /** Destinations known to be backing off: an inbound request from one of them resets its backoff. */
  private readonly backingOff = new Set<string>();
  private stopped = false;
  private readonly opts: Required<FederationSenderOptions>;
  /** A cluster: only the holder of this lease sends; the others forward each destination they queued for. */
  private lease: { readonly held: boolean } | undefined;
  private forward: ((destination: string) => void) | undefined;

  constructor(
    private readonly config: Pick<Config, 'server_name' | 'federation'>,
    private readonly store: FederationStore,
    private readonly transport: TransactionTransport,
    private readonly clock: Clock,
    private readonly txnIds: () => string,
    private readonly logger: Logger,
    opts: FederationSenderOptions = {},
  ) {
    this.opts = {
      initialBackoffMs: opts.initialBackoffMs ?? 10_000,
      maxBackoffMs: opts.maxBackoffMs ?? 60 * 60 * 1000,
      requestTimeoutMs: opts.requestTimeoutMs ?? 60_000,
      maxPdusPerTransaction: opts.maxPdusPerTransaction ?? MAX_PDUS_PER_TRANSACTION,
      maxEdusPerTransaction: opts.maxEdusPerTransaction ?? MAX_EDUS_PER_TRANSACTION,
    };
  }

  /**
   * In a cluster (spec/scaling.md "Leases"): the queue is in the database; one process sends. Others
   * queue and call `forward(destination)`, which the sending process answers with `kickFromPeer`.
   */
  sendOnlyWith(lease: { readonly held: boolean }, forward: (destination: string) => void): void {
    this.lease = lease;
    this.forward = forward;
  }

  /** Another process queued items for the destination. */
  kickFromPeer(destination: string): void {
    if (this.config.federation.enabled && this.accepts(destination)) this.kick(destination);
  }

  /** Resumes every destination with queued items (after a restart), each at the end of its backoff. */
  async start(): Promise<void> {
    if (!this.config.federation.enabled) return;
    for (const d of await this.store.destinationsWithQueue()) {
      if (d.retryIntervalMs > 0) this.backingOff.add(d.destination);
      this.kick(d.destination);
    }
  }

  async sendPdu(destinations: Iterable<string>, pdu: Pdu | JsonObject): Promise<void> {
    const json = JSON.stringify(pdu);
    const items: OutboxItem[] = [...new Set(destinations)].filter((d) => this.accepts(d)).map((destination) => ({ destination, kind: 'pdu', json }));
    await this.enqueue(items);
  }

  async sendEdu(destination: string, edu: Edu, opts: SendEduOptions = {}): Promise<void> {
    if (!this.accepts(destination)) return;
    const item: OutboxItem = { destination, kind: 'edu', json: JSON.stringify(edu) };
    if (opts.coalesceKey !== undefined) item.coalesceKey = opts.coalesceKey;
    await this.enqueue([item]);
  }

  remoteIsUp(serverName: string): void {
    if (this.stopped || !this.backingOff.has(serverName)) return;
    this.backingOff.delete(serverName);
    void this.store.setBackoff(serverName, 0, 0).then(() => {
      this.logger.info({ destination: serverName }, 'federation: the destination contacted us, retrying it now');
      this.kick(serverName);
    }, (err: unknown) => this.logger.error({ err, destination: serverName }, 'federation: could not reset the backoff'));
  }

  /** Stops sending: timers cancelled, requests in flight aborted (their items stay queued for the next start). */
  async stop(): Promise<void> {
    this.stopped = true;
    const running: Promise<void>[] = [];
    for (const loop of this.loops.values()) {
      loop.timer?.cancel();
      loop.abort?.abort();
      if (loop.running) running.push(loop.running);
    }
    await Promise.allSettled(running);
  }

  /** Resolves once no destination is sending (tests). */
  async idle(): Promise<void> {
    for (;;) {
      const running = [...this.loops.values()].flatMap((l) => (l.running ? [l.running] : []));
      if (running.length === 0) return;
      await Promise.allSettled(running);
    }
  }

  private accepts(destination: string): boolean {
    const f = this.config.federation;
    if (!f.enabled || this.stopped || destination === this.config.server_name) return false;
    if (f.domain_whitelist !== null && !f.domain_whitelist.includes(destination)) {
      this.logger.debug({ destination }, 'federation: not sending to a server outside federation.domain_whitelist');
      return false;
    }
    return true;
  }

  private async enqueue(items: OutboxItem[]): Promise<void> {
    if (items.length === 0) return;
    await this.store.enqueue(items, this.clock.now());
    for (const d of new Set(items.map((i) => i.destination))) this.kick(d);
  }

  private loopOf(destination: string): DestinationLoop {
    let loop = this.loops.get(destination);
    if (!loop) {
      loop = { running: undefined, again: false, timer: undefined, timerAt: 0, abort: undefined };
      this.loops.set(destination, loop);
    }
    return loop;
  }

  /** Makes sure the destination's loop runs (or runs once more after the current pass). */
  private kick(destination: string): void {
    if (this.stopped) return;
    if (this.lease && !this.lease.held) {
      this.forward?.(destination);
      return;
    }
    const loop = this.loopOf(destination);
    if (loop.running) {
      loop.again = true;
      return;
    }
    loop.running = this.drain(destination, loop).catch((err: unknown) => {
      this.logger.error({ err, destination }, 'federation: the send loop failed');
    }).finally(() => {
      loop.running = undefined;
      if (loop.again && !this.stopped) {
        loop.again = false;
        this.kick(destination);
      } else if (!loop.timer) {
        this.loops.delete(destination);
      }
    });
  }

  /** Sends transactions to the destination until its queue is empty or it fails (then a timer resumes it). */
  private async drain(destination: string, loop: DestinationLoop): Promise<void> {
    while (!this.stopped) {
      loop.again = false;
      const state = await this.store.getDestination(destination);
      const now = this.clock.now();
      if (state && state.nextAttemptTs > now) {
        this.schedule(destination, loop, state.nextAttemptTs);
        return;
      }
      const txn = await this.store.takeTransaction(destination, this.txnIds(), now, this.opts.maxPdusPerTransaction, this.opts.maxEdusPerTransaction);
      if (!txn) return;
      const body: JsonObject = {
        origin: this.config.server_name,
        origin_server_ts: txn.ts,
        pdus: txn.pdus.map((p) => JSON.parse(p) as JsonObject),
      };
      if (txn.edus.length > 0) body.edus = txn.edus.map((e) => JSON.parse(e) as JsonObject);
      loop.abort = new AbortController();
      let answer: unknown;
      try {
        answer = await this.transport(txn, body, loop.abort.signal);
      } catch (e) {
        if (this.stopped) return;
        if (e instanceof FederationError && !e.transient) {
          // The destination refuses this transaction itself (400, 403, 404, ...): retrying cannot
          // help and would block every later one. It is dropped, loudly.
          this.logger.error({ destination, txnId: txn.txnId, pdus: txn.pdus.length, edus: txn.edus.length, status: e.status, errcode: e.errcode, err: e.message },
            'federation: transaction refused, dropped');
          await this.store.completeTransaction(destination, txn.txnId, this.clock.now(), false);
          continue;
        }
        const interval = Math.min(this.opts.maxBackoffMs, state && state.retryIntervalMs > 0 ? state.retryIntervalMs * 2 : this.opts.initialBackoffMs);
        const at = this.clock.now() + interval;
        await this.store.setBackoff(destination, interval, at);
        this.backingOff.add(destination);
        this.logger.info({ destination, txnId: txn.txnId, retryInMs: interval, err: (e as Error).message }, 'federation: transaction failed, backing off');
        this.schedule(destination, loop, at);
        return;
      } finally {
        loop.abort = undefined;
      }
      this.backingOff.delete(destination);
      await this.store.completeTransaction(destination, txn.txnId, this.clock.now(), true);
      this.logAnswer(destination, txn, answer);
    }
  }

  private schedule(destination: string, loop: DestinationLoop, at: number): void {
    if (loop.timer && loop.timerAt <= at) return;
    loop.timer?.cancel();
    loop.timerAt = at;
    loop.timer = this.clock.setTimer(() => {
      loop.timer = undefined;
      this.kick(destination);
    }, Math.max(0, at - this.clock.now()));
  }

  /** The destination's answer per PDU (errors in `pdus`) goes to the log. */
  private logAnswer(destination: string, txn: OutboundTransaction, answer: unknown): void {
    const pdus = typeof answer === 'object' && answer !== null ? (answer as Partial<TransactionResponse>).pdus : undefined;
    let errors = 0;
    if (typeof pdus === 'object' && pdus !== null) {
      for (const [eventId, result] of Object.entries(pdus)) {
        const error = typeof result === 'object' && result !== null ? (result as { error?: unknown }).error : undefined;
        if (error !== undefined) {
          errors++;
          this.logger.warn({ destination, txnId: txn.txnId, eventId, error }, 'federation: the destination refused a PDU');
        }
      }
    }
    this.logger.debug({ destination, txnId: txn.txnId, pdus: txn.pdus.length, edus: txn.edus.length, errors }, 'federation: transaction acknowledged');
  }
}
