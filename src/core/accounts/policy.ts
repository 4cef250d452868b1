// Checks shared by registration, login and password changes: the password policy, device IDs, and the
// m.login.password stage of user-interactive auth.
import type { Config } from '../../config.js';
import { forbidden, invalidParam, weakPassword } from '../../errors.js';
import type { AccountStore } from '../../storage/types.js';
import { parseUserId, userIdFor } from '../ids.js';
import { verifyPassword } from '../passwords.js';
import type { UiaFlow } from '../uia.js';

const MAX_DEVICE_ID_BYTES = 255;

/** The flows of endpoints that ask for the account's password again. */
export const PASSWORD_FLOWS: UiaFlow[] = [{ stages: ['m.login.password'] }];

export function checkPasswordPolicy(config: Config, password: string): void {
  if (password.length < config.password_min_length) {
    throw weakPassword(`Password must be at least ${config.password_min_length} characters long`);
  }
  if (Buffer.byteLength(password, 'utf8') > 512) throw weakPassword('Password is too long (at most 512 bytes)');
}

export function checkDeviceId(deviceId: string | undefined): void {
  if (deviceId !== undefined && (deviceId.length === 0 || Buffer.byteLength(deviceId, 'utf8') > MAX_DEVICE_ID_BYTES)) {
    throw invalidParam('device_id must be 1 to 255 bytes');
  }
}

/** Resolves the user named by an m.id.user identifier or the legacy `user` field to a local user ID. */
export function localUserId(config: Config, user: string): string {
  if (user.startsWith('@')) {
    const parsed = parseUserId(user);
    if (!parsed || parsed.domain !== config.server_name) throw forbidden('Invalid username or password');
    return userIdFor(parsed.localpart.toLowerCase(), config.server_name);
  }
  return userIdFor(user.toLowerCase(), config.server_name);
}

/** The UIA m.login.password check for an authenticated user: the identifier, if given, must be that user. */
export function passwordStageCheck(config: Config, store: AccountStore) {
  return async (a: Record<string, unknown>, userId: string): Promise<boolean> => {
    if (typeof a.password !== 'string') return false;
    // Identity only from the token: a named identifier must match it.
    const ident = a.identifier as Record<string, unknown> | undefined;
    const named = ident && typeof ident === 'object' ? ident.user : a.user;
    if (named !== undefined) {
      if (typeof named !== 'string') return false;
      let namedId: string;
      try { namedId = localUserId(config, named); } catch { return false; }
      if (namedId !== userId) return false;
    }
    const record = await store.getUser(userId);
    return verifyPassword(a.password, record?.passwordHash ?? null);
  };
}
