// The account's own lifecycle: logout (matrix-spec: logout.yaml), password change and deactivation
// (password_management.yaml), and what the admin API changes (admin flag, reactivation, a password
// reset that logs every device out). Revoked tokens leave the token cache at once.
import type { Config } from '../../config.js';
import { guestAccessForbidden } from '../../errors.js';
import type { AccountStore } from '../../storage/types.js';
import { DEFAULT_SCRYPT, hashPassword, type ScryptParams } from '../passwords.js';
import type { UiaService } from '../uia.js';
import type { AccountEvents, AuthContext } from './events.js';
import { checkPasswordPolicy, PASSWORD_FLOWS, passwordStageCheck } from './policy.js';
import type { TokenService } from './tokens.js';

export class AccountService {
  private readonly passwordCheck: ReturnType<typeof passwordStageCheck>;

  constructor(
    private readonly config: Config,
    private readonly store: AccountStore,
    private readonly uia: UiaService,
    private readonly tokens: TokenService,
    private readonly events: AccountEvents,
    private readonly scrypt: ScryptParams = DEFAULT_SCRYPT,
  ) {
    this.passwordCheck = passwordStageCheck(config, store);
  }

  /** POST /logout: the device and its token go (matrix-spec: logout.yaml#logout). */
  async logout(auth: AuthContext): Promise<void> {
    const revoked = await this.store.deleteDevices(auth.userId, [auth.deviceId]);
    this.tokens.forget([auth.tokenHash, ...revoked]);
    this.events.emit('tokensRevoked', auth.userId, [auth.deviceId]);
  }

  /** POST /logout/all (matrix-spec: logout.yaml#logout_all). */
  async logoutAll(auth: AuthContext): Promise<void> {
    const revoked = await this.store.revokeOtherDevices(auth.userId, null, true);
    this.tokens.forget([auth.tokenHash, ...revoked]);
    this.events.emit('tokensRevoked', auth.userId, 'all-but');
  }

  /** POST /account/password (matrix-spec: password_management.yaml#changePassword). */
  async changePassword(auth: AuthContext, newPassword: string, logoutDevices: boolean, uiaAuth: unknown): Promise<void> {
    if (auth.isGuest) throw guestAccessForbidden();
    checkPasswordPolicy(this.config, newPassword);
    await this.uia.authenticate('change-password', uiaAuth, PASSWORD_FLOWS, { userId: auth.userId, checkPassword: this.passwordCheck });
    await this.store.setPasswordHash(auth.userId, await hashPassword(newPassword, this.scrypt));
    if (logoutDevices) {
      const revoked = await this.store.revokeOtherDevices(auth.userId, auth.deviceId, true);
      this.tokens.forget(revoked);
      this.events.emit('tokensRevoked', auth.userId, 'all-but', auth.deviceId);
    }
    this.events.emit('passwordChanged', auth.userId);
  }

  /** POST /account/deactivate (matrix-spec: password_management.yaml#deactivateAccount). */
  async deactivate(auth: AuthContext, uiaAuth: unknown): Promise<void> {
    if (auth.isGuest) throw guestAccessForbidden();
    await this.uia.authenticate('deactivate', uiaAuth, PASSWORD_FLOWS, { userId: auth.userId, checkPassword: this.passwordCheck });
    await this.deactivateUser(auth.userId);
  }

  async deactivateUser(userId: string): Promise<void> {
    const revoked = await this.store.deactivateUser(userId);
    this.tokens.forget(revoked);
    this.tokens.forgetUser(userId);
    this.events.emit('tokensRevoked', userId, 'all-but');
    this.events.emit('userDeactivated', userId);
  }

  /** Admin API: sets a new password (policy checked); with logoutDevices every token and device goes. */
  async setPassword(userId: string, newPassword: string, logoutDevices: boolean): Promise<void> {
    checkPasswordPolicy(this.config, newPassword);
    await this.store.setPasswordHash(userId, await hashPassword(newPassword, this.scrypt));
    if (logoutDevices) await this.revokeAllDevices(userId);
  }

  /** Revokes every token and device of the user (admin password reset with logout_devices). */
  async revokeAllDevices(userId: string): Promise<void> {
    const revoked = await this.store.revokeOtherDevices(userId, null, true);
    this.tokens.forget(revoked);
    this.events.emit('tokensRevoked', userId, 'all-but');
  }

  /** Admin API: a deactivated account may log in again (with a password set by the admin). */
  async reactivateUser(userId: string): Promise<void> {
    await this.store.setDeactivated(userId, false);
    this.tokens.forgetUser(userId);
  }

  async setAdmin(userId: string, admin: boolean): Promise<void> {
    await this.store.setAdmin(userId, admin);
    this.tokens.forgetUser(userId);
  }
}
