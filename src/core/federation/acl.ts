// Server access control lists (matrix-spec: client-server-api "Server Access Control Lists (ACLs) for
// rooms", m.room.server_acl; server-server-api "Server Access Control Lists (ACLs)"): which servers a
// room lets take part. Checked on inbound PDUs and EDUs, on room-scoped federation requests, and
// before anything of the room is sent to a server.
import type { JsonObject } from '../../wire.js';
import { isIpLiteral } from '../net/ip.js';

/** `*` any run of characters, `?` exactly one; the rest literal; case-insensitive (as Synapse matches). */
function globRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

/** The host of a server name: without the port (ACL entries match hosts). */
export function hostOf(serverName: string): string {
  if (serverName.startsWith('[')) {
    const end = serverName.indexOf(']');
    return end < 0 ? serverName : serverName.slice(0, end + 1);
  }
  const colon = serverName.lastIndexOf(':');
  return colon < 0 ? serverName : serverName.slice(0, colon);
}

const cache = new Map<string, RegExp>();
function matches(host: string, entries: unknown): boolean {
  if (!Array.isArray(entries)) return false;
  for (const e of entries) {
    if (typeof e !== 'string') continue;
    let re = cache.get(e);
    if (!re) {
      if (cache.size > 10_000) cache.clear();
      re = globRegExp(e);
      cache.set(e, re);
    }
    if (re.test(host)) return true;
  }
  return false;
}

/**
 * Whether an m.room.server_acl content lets `serverName` take part (no ACL: everyone). In the spec's
 * order: an IP literal is refused unless `allow_ip_literals` (default true); then any `deny` match
 * refuses; then an `allow` match admits; anything else is refused.
 */
export function serverAllowedByAcl(content: JsonObject | undefined, serverName: string): boolean {
  if (!content) return true;
  const host = hostOf(serverName);
  const literal = host.startsWith('[') ? host.slice(1, -1) : host;
  if (content.allow_ip_literals === false && isIpLiteral(literal)) return false;
  if (matches(host, content.deny)) return false;
  return matches(host, content.allow);
}
