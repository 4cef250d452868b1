// Helpers for event-graph tests without any network: a "remote server" with its own signing key that
// builds signed PDUs, a signature verifier that knows the remote keys (what federation's key ring is
// in production), and an EventReceiver wired to a test server's services.
import { selectAuthEvents } from '../../src/core/auth-rules.js';
import { hashSignAndIdentify, verifyEventSignature } from '../../src/core/crypto/event-hashing.js';
import { SigningKey } from '../../src/core/crypto/signing.js';
import { EventReceiver, type EventSignatureVerifier } from '../../src/core/events/receive.js';
import type { JsonObject, StoredEvent } from '../../src/core/events/types.js';
import { lookupIn } from '../../src/core/rooms/room-state.js';
import type { RoomVersion } from '../../src/core/room-versions.js';
import { resolutionSource, resolveState } from '../../src/core/state/resolve.js';
import { MatrixError } from '../../src/errors.js';
import { pduOf } from '../../src/wire.js';
import type { TestServer } from './server.js';

export interface RemoteServer {
  name: string;
  key: SigningKey;
  /**
   * A signed PDU from this server: `prev` are the events it follows (depth from theirs), `state` the
   * room state before it (auth events are selected from it, as the sending server would).
   */
  event(version: RoomVersion, draft: { room_id: string; sender: string; type: string; state_key?: string; content: JsonObject },
    prev: StoredEvent[], state: Map<string, StoredEvent>, ts: number): StoredEvent;
}

export function remoteServer(name: string): RemoteServer {
  const key = SigningKey.generate();
  return {
    name, key,
    event(version, draft, prev, state, ts) {
      const pdu = {
        room_id: draft.room_id, sender: draft.sender, type: draft.type,
        ...(draft.state_key !== undefined ? { state_key: draft.state_key } : {}),
        content: draft.content, origin_server_ts: ts,
        prev_events: prev.map((e) => e.event_id),
        auth_events: selectAuthEvents(draft, lookupIn(state), version),
        depth: Math.max(0, ...prev.map((e) => e.depth)) + 1,
      };
      const built = hashSignAndIdentify(pdu, name, key, version);
      return { ...built.pdu, event_id: built.eventId } as StoredEvent;
    },
  };
}

/** Checks the sender's server signature with the keys of the servers it knows (the local one included). */
export function verifierFor(s: TestServer, remotes: RemoteServer[]): EventSignatureVerifier {
  return {
    async verifyEvent(event, version) {
      const server = event.sender.slice(event.sender.indexOf(':') + 1);
      const local = await s.services.signingKey();
      const key = server === s.config.server_name ? local : remotes.find((r) => r.name === server)?.key;
      if (!key) throw new MatrixError(401, 'M_UNAUTHORIZED', `No key of ${server}`);
      if (!verifyEventSignature(pduOf(event), server, key.keyId, key.publicKeyBase64, version)) {
        throw new MatrixError(401, 'M_UNAUTHORIZED', `Bad signature of ${server}`);
      }
    },
  };
}

export function receiverFor(s: TestServer, remotes: RemoteServer[]): EventReceiver {
  const { storage, events, roomState, stateGroups } = s.services;
  return new EventReceiver(storage.rooms, events, roomState, stateGroups,
    (version, states, pending) => resolveState(version, states, resolutionSource(storage.rooms, pending)), verifierFor(s, remotes));
}

/** The PDU a remote server would put on the wire for an event (no event_id). */
export const wire = (e: StoredEvent): JsonObject => pduOf(e) as unknown as JsonObject;
