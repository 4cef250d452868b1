// The federation transport's services as the rest of the server sees them (Services.federation),
// and what tests may inject when building a server (ServiceOptions.federation).
import type { EventSignatureVerifier } from '../events/receive.js';
import type { AddressPolicy } from '../net/address-policy.js';
import type { DnsResolver } from '../net/dns.js';
import type { HttpFederationClient, HttpFederationClientOptions } from './client.js';
import type { DiscoveryOptions, ServerResolver, WellKnownFetcher } from './discovery.js';
import type { FederationEventHandler } from './handler.js';
import type { TransactionReceiver } from './inbound.js';
import type { KeyRing, KeyRingOptions } from './keyring.js';
import type { FederationSenderOptions, QueueingFederationSender } from './sender.js';

export interface FederationServices {
  /** The outbound address policy (ip_range_blacklist / ip_range_whitelist). */
  policy: AddressPolicy;
  /** Server discovery (well-known, SRV, ports). */
  resolver: ServerResolver;
  /** Signed JSON requests to other servers. */
  client: HttpFederationClient;
  /** Other servers' keys; every remote signature is checked here. */
  keyRing: KeyRing;
  /** EventReceiver's signature check, through the KeyRing. */
  eventVerifier: EventSignatureVerifier;
  /** Where received PDUs and EDUs go. */
  handler: FederationEventHandler;
  /** Inbound transactions (PUT /send/{txnId}). */
  receiver: TransactionReceiver;
  /** The outbound transaction queue: sendPdu, sendEdu. */
  sender: QueueingFederationSender;
}

export interface FederationServiceOptions {
  /** DNS for discovery and the address policy (tests: a fake resolver). */
  dns?: DnsResolver;
  /** How well-known delegations are fetched (tests: a fake). */
  wellKnownFetcher?: WellKnownFetcher;
  /** The port `https://<hostname>/.well-known/matrix/server` is fetched on (443; tests serve it elsewhere). */
  wellKnownPort?: number;
  discovery?: DiscoveryOptions;
  client?: HttpFederationClientOptions;
  keyRing?: KeyRingOptions;
  sender?: FederationSenderOptions;
  /** The handler of received PDUs and EDUs; by default every PDU is refused ("not joined"). */
  eventHandler?: FederationEventHandler;
}
