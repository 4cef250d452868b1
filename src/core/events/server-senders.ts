// How clients see the sender of server-generated events (spec/server-events.md "Clients that need a
// user ID as sender"). The sender is the server name by default. Many SDKs (matrix-nio, and the
// clients built on it) drop events whose sender is not a user ID, so a deployment can name a
// server-owned user (server_events.compat_sender_localpart): clients that have not said they
// understand server-name senders then see that user as the sender, with the server name kept in
// unsigned["hearth.server_sender"]. A client says so per session (`domain_senders: true` when it
// starts one) or per request (the filter key `hearth.domain_senders: true` in /sync, /messages and
// /context filters).
import type { Config } from '../../config.js';

/** The filter key (sync Filter and RoomEventFilter) by which a client says it understands server-name senders. */
export const DOMAIN_SENDERS_FILTER_KEY = 'hearth.domain_senders';

/** The unsigned key that keeps the real (server-name) sender of a rewritten event. */
export const SERVER_SENDER_KEY = 'hearth.server_sender';

/** The server-owned user that stands in for the server, or undefined when compatibility is off. */
export function compatSenderId(config: Config): string | undefined {
  const localpart = config.server_events.compat_sender_localpart;
  return localpart === null ? undefined : `@${localpart}:${config.server_name}`;
}

/**
 * The sender to show instead of the server name to this client: undefined when compatibility is off
 * or the client understands server-name senders (its session said so, or the request's filter).
 */
export function compatSenderFor(config: Config, understandsDomainSenders: boolean): string | undefined {
  return understandsDomainSenders ? undefined : compatSenderId(config);
}

/** Whether a sender is a server name (a server-generated event) rather than a user ID. */
export const isServerSender = (sender: string): boolean => !sender.startsWith('@');
