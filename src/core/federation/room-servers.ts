// Which servers take part in a room, from its current state: those with joined members (who get its
// events), whether this server is one of them (resident: it can answer make_join and build events),
// and the room's server ACL.
import type { JsonObject } from '../../wire.js';
import { parseUserId } from '../ids.js';
import { lookupIn, type RoomState } from '../rooms/room-state.js';
import { serverAllowedByAcl } from './acl.js';

/** The server of a user ID (undefined for something that is not one). */
export const serverOfUser = (userId: string): string | undefined => parseUserId(userId)?.domain;

/** Servers with a member whose membership is one of `memberships` (default: joined). */
export function serversInRoom(room: RoomState, memberships: readonly string[] = ['join']): Set<string> {
  const out = new Set<string>();
  for (const e of room.state.values()) {
    if (e.type !== 'm.room.member' || e.state_key === undefined) continue;
    const m = e.content.membership;
    if (typeof m !== 'string' || !memberships.includes(m)) continue;
    const server = serverOfUser(e.state_key);
    if (server) out.add(server);
  }
  return out;
}

/** Whether a user of `serverName` is joined: this server then holds the room and can build its events. */
export function isResident(room: RoomState | undefined, serverName: string): boolean {
  if (!room) return false;
  for (const e of room.state.values()) {
    if (e.type === 'm.room.member' && e.content.membership === 'join' && e.state_key !== undefined && serverOfUser(e.state_key) === serverName) return true;
  }
  return false;
}

/** The content of the room's m.room.server_acl, if it has one. */
export function aclOf(room: RoomState): JsonObject | undefined {
  return lookupIn(room.state)('m.room.server_acl', '')?.content;
}

/** Whether the room's ACL lets `serverName` take part. */
export const roomAllowsServer = (room: RoomState, serverName: string): boolean => serverAllowedByAcl(aclOf(room), serverName);
