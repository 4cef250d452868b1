// The federation transport's services as the rest of the server sees them (Services.federation),
// and what tests may inject when building a server (ServiceOptions.federation).
import type { EventReceiver, EventSignatureVerifier } from '../events/receive.js';
import type { Backfiller } from './backfill.js';
import type { PduFanout } from './fanout.js';
import type { FederationHistory } from './history.js';
import type { RemoteMembership } from './membership.js';
import type { RemoteEvents } from './remote-events.js';
import type { ResidentRooms } from './resident.js';
import type { RoomFederationHandler } from './room-handler.js';
import type { AddressPolicy } from '../net/address-policy.js';
import type { DnsResolver } from '../net/dns.js';
import type { HttpFederationClient, HttpFederationClientOptions } from './client.js';
import type { DiscoveryOptions, ServerResolver, WellKnownFetcher } from './discovery.js';
import type { FederationEventHandler } from './handler.js';
import type { TransactionReceiver } from './inbound.js';
import type { KeyRing, KeyRingOptions } from './keyring.js';
import type { FederationSenderOptions, QueueingFederationSender, TransactionTransport } from './sender.js';

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

/** The room protocol over the transport (Services.federationRooms). */
export interface FederationRooms {
  /** Checks on receipt of events from other servers (spec/event-graph.md). */
  receiver: EventReceiver;
  /** Fetching events, state and history from other servers. */
  remote: RemoteEvents;
  /** Received PDUs (gaps filled) and EDUs (per type). */
  handler: RoomFederationHandler;
  /** Local events to the other servers in their room. */
  fanout: PduFanout;
  /** A room's events and state for other servers. */
  history: FederationHistory;
  /** make_join / send_join / make_leave / send_leave / invites from other servers. */
  resident: ResidentRooms;
  /** Our users' joins, leaves and invites through other servers. */
  membership: RemoteMembership;
  /** Older history of a room from other servers, for /messages. */
  backfiller: Backfiller;
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
  /** How the outbound queue sends a transaction (tests: a recorder); by default PUT /send through the client. */
  transactionTransport?: TransactionTransport;
  /** The handler of received PDUs and EDUs: the room protocol's (RoomFederationHandler), or a test's. */
  eventHandler?: FederationEventHandler;
}
