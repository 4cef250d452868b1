// OpenID tokens (matrix-spec: openid.yaml#requestOpenIdToken, client-server-api "OpenID"; server-server
// openid.yaml#exchangeOpenIdToken): a client asks for a short-lived token it hands to a widget or an
// integration server, which asks this server (federation API) whose token it is. The token proves
// the user's identity and nothing more: it is not an access token, it is stored only as a SHA-256
// hash, and it expires.
import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import { forbidden, guestAccessForbidden, unknownToken } from '../../errors.js';
import type { AccountStore } from '../../storage/types.js';
import { randomToken } from '../ids.js';
import type { AuthContext } from './events.js';
import { hashToken } from './tokens.js';

/** How long an OpenID token is valid (Synapse: one hour). */
export const OPENID_TOKEN_LIFETIME_MS = 60 * 60 * 1000;

export class OpenIdService {
  constructor(
    private readonly config: Config,
    private readonly store: AccountStore,
    private readonly clock: Clock,
  ) {}

  /** POST /user/{userId}/openid/request_token: only for yourself. */
  async requestToken(auth: AuthContext, userId: string): Promise<{ access_token: string; token_type: 'Bearer'; matrix_server_name: string; expires_in: number }> {
    if (userId !== auth.userId) throw forbidden('You can only request an OpenID token for yourself');
    if (auth.isGuest) throw guestAccessForbidden();
    const token = `hoi_${randomToken(32)}`;
    const now = this.clock.now();
    await this.store.putOpenIdToken(hashToken(token), userId, now + OPENID_TOKEN_LIFETIME_MS, now);
    return { access_token: token, token_type: 'Bearer', matrix_server_name: this.config.server_name, expires_in: OPENID_TOKEN_LIFETIME_MS / 1000 };
  }

  /** GET /_matrix/federation/v1/openid/userinfo: the user of a valid token; otherwise 401 M_UNKNOWN_TOKEN. */
  async userInfo(token: string | undefined): Promise<{ sub: string }> {
    if (token === undefined || token === '') throw unknownToken('Missing OpenID token');
    const userId = await this.store.findOpenIdToken(hashToken(token), this.clock.now());
    if (userId === undefined) throw unknownToken('Unknown or expired OpenID token');
    // A deactivated account proves no identity any more.
    if ((await this.store.getUser(userId))?.deactivated !== false) throw unknownToken('Unknown or expired OpenID token');
    return { sub: userId };
  }
}
