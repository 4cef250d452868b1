// The signatures a received event must carry (matrix-spec: server-server-api "Validating hashes and
// signatures on received events"; rooms/v8+ auth rule 4.2.1 for restricted joins; rooms/v5 "Signing
// key validity period"), checked with the KeyRing: EventReceiver's EventSignatureVerifier.
import { MatrixError } from '../../errors.js';
import { pduOf } from '../../wire.js';
import { redactEvent } from '../crypto/event-hashing.js';
import type { StoredEvent } from '../events/types.js';
import type { EventSignatureVerifier } from '../events/receive.js';
import { parseUserId } from '../ids.js';
import type { RoomVersion } from '../room-versions.js';
import { SignatureError, type KeyRing } from './keyring.js';

/** The servers whose signatures an event needs: the sender's, and for a restricted join the authorising user's. */
export function requiredSigners(event: StoredEvent): string[] {
  const servers = new Set<string>();
  const sender = parseUserId(event.sender);
  if (!sender) throw new MatrixError(400, 'M_BAD_JSON', `The sender ${JSON.stringify(event.sender)} is not a user ID`);
  servers.add(sender.domain);
  const content = event.content as Record<string, unknown>;
  // Rooms v8+ (restricted rooms; every version hosted here): a join naming an authorising user must
  // be signed by that user's server too (auth rule 4.2.1; v12 5.2.1). A null value counts as absent.
  if (event.type === 'm.room.member' && content.membership === 'join') {
    const via = content.join_authorised_via_users_server;
    if (via !== undefined && via !== null) {
      const authoriser = typeof via === 'string' ? parseUserId(via) : undefined;
      if (!authoriser) throw new MatrixError(400, 'M_BAD_JSON', 'join_authorised_via_users_server is not a user ID');
      servers.add(authoriser.domain);
    }
  }
  return [...servers];
}

export class KeyRingEventVerifier implements EventSignatureVerifier {
  constructor(private readonly keyRing: KeyRing) {}

  /**
   * Throws (SignatureError, 401 M_UNAUTHORIZED) unless the event, redacted by its room version's
   * rules (what was signed, so a redacted copy verifies too), carries a valid signature of each
   * required server, made with a key valid at the event's `origin_server_ts`. Signatures of other
   * servers and unknown keys are ignored. (Third-party invites, whose sender's server may not be the
   * one that signed, are refused by the auth rules before this matters.)
   */
  async verifyEvent(event: StoredEvent, version: RoomVersion): Promise<void> {
    const redacted = redactEvent(pduOf(event), version);
    const ts = typeof event.origin_server_ts === 'number' ? event.origin_server_ts : 0;
    for (const server of requiredSigners(event)) {
      try {
        await this.keyRing.verifyJsonSignedBy(redacted, server, ts);
      } catch (e) {
        if (e instanceof SignatureError) throw new SignatureError(`Event ${event.event_id}: ${e.message}`);
        throw e;
      }
    }
  }
}
