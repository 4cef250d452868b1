// The storage API of the federation transport (spec/federation.md "What is persisted"): other
// servers' keys, the outbound queue per destination, the transactions received. Part of Storage.

/** A signing key of another server. */
export interface StoredServerKey {
  serverName: string;
  keyId: string;
  /** Unpadded base64 of the ed25519 public key. */
  publicKey: string;
  /** Signatures made up to this time may be verified with it (see migrations/0011). */
  validUntilTs: number;
  /** Set when the server lists it in `old_verify_keys`: it verifies events, never requests. */
  expiredTs: number | null;
  fetchedTs: number;
}

/** A server's `/_matrix/key/v2/server` answer as received. */
export interface StoredKeyResponse {
  json: string;
  validUntilTs: number;
  fetchedTs: number;
}

export interface OutboxItem {
  destination: string;
  kind: 'pdu' | 'edu';
  json: string;
  /** An EDU with a key replaces a queued EDU of the same destination and key not yet in a transaction. */
  coalesceKey?: string;
}

/** A transaction to send: the items assigned to it, in the order they were queued. */
export interface OutboundTransaction {
  destination: string;
  txnId: string;
  /** When the transaction was first assigned (its `origin_server_ts`, the same on every retry). */
  ts: number;
  pdus: string[];
  edus: string[];
}

export interface DestinationState {
  destination: string;
  /** The backoff after the last failure (0: the destination is up). */
  retryIntervalMs: number;
  /** No attempt before this time. */
  nextAttemptTs: number;
  lastSuccessTs: number | null;
}

export interface FederationStore {
  getServerKeys(serverName: string): Promise<StoredServerKey[]>;
  /** Stores a fetched and checked key answer: the response, and each of its keys (upserted), atomically. */
  storeServerKeys(serverName: string, response: StoredKeyResponse, keys: StoredServerKey[]): Promise<void>;
  getServerKeyResponse(serverName: string): Promise<StoredKeyResponse | undefined>;

  /** Queues items for their destinations, in one transaction. */
  enqueue(items: OutboxItem[], ts: number): Promise<void>;
  /**
   * The destination's transaction in flight, or else a new one (ID `newTxnId`, time `ts`) of the
   * oldest queued items (at most `maxPdus` PDUs and `maxEdus` EDUs); undefined when nothing is queued.
   */
  takeTransaction(destination: string, newTxnId: string, ts: number, maxPdus: number, maxEdus: number): Promise<OutboundTransaction | undefined>;
  /** The destination acknowledged (or, for a permanent error, refused) the transaction: its items are deleted, the backoff reset. */
  completeTransaction(destination: string, txnId: string, ts: number, succeeded: boolean): Promise<void>;
  /** Remembers the backoff after a failed attempt. */
  setBackoff(destination: string, retryIntervalMs: number, nextAttemptTs: number): Promise<void>;
  getDestination(destination: string): Promise<DestinationState | undefined>;
  /** Destinations with queued items, with their backoff (what a restart resumes). */
  destinationsWithQueue(): Promise<DestinationState[]>;

  /** The answer given to a transaction already received from `origin`. */
  getReceivedTransaction(origin: string, txnId: string): Promise<string | undefined>;
  /** Records the answer to a received transaction; forgets those received before `pruneBeforeTs`. */
  putReceivedTransaction(origin: string, txnId: string, responseJson: string, ts: number, pruneBeforeTs: number): Promise<void>;
}
