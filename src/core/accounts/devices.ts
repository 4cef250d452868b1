// Devices (matrix-spec: device_management.yaml): listing, renaming, and deleting behind UIA with the
// account's password; a deleted device's tokens are revoked and its sessions end (listeners).
import type { Config } from '../../config.js';
import { guestAccessForbidden, invalidParam, notFound } from '../../errors.js';
import type { AccountStore, DeviceRecord } from '../../storage/types.js';
import type { UiaService } from '../uia.js';
import type { AccountEvents, AuthContext } from './events.js';
import { PASSWORD_FLOWS, passwordStageCheck } from './policy.js';
import type { TokenService } from './tokens.js';

const MAX_DISPLAY_NAME_CHARS = 256;

/** A device as the account services hand it out (the handlers never see storage). */
export type Device = DeviceRecord;

export class DeviceService {
  private readonly passwordCheck: ReturnType<typeof passwordStageCheck>;

  constructor(
    config: Config,
    private readonly store: AccountStore,
    private readonly uia: UiaService,
    private readonly tokens: TokenService,
    private readonly events: AccountEvents,
  ) {
    this.passwordCheck = passwordStageCheck(config, store);
  }

  async list(userId: string): Promise<Device[]> {
    return this.store.listDevices(userId);
  }

  async get(userId: string, deviceId: string): Promise<Device> {
    const d = await this.store.getDevice(userId, deviceId);
    if (!d) throw notFound('Unknown device');
    return d;
  }

  async rename(userId: string, deviceId: string, displayName: string | null): Promise<void> {
    if (displayName !== null && displayName.length > MAX_DISPLAY_NAME_CHARS) throw invalidParam(`display_name may be at most ${MAX_DISPLAY_NAME_CHARS} characters`);
    if (!(await this.store.setDeviceDisplayName(userId, deviceId, displayName))) throw notFound('Unknown device');
  }

  /** DELETE /devices/{id} and POST /delete_devices: UIA with the password, then devices and tokens go. */
  async delete(auth: AuthContext, deviceIds: string[], uiaAuth: unknown): Promise<void> {
    if (auth.isGuest) throw guestAccessForbidden();
    await this.uia.authenticate('delete-devices', uiaAuth, PASSWORD_FLOWS, { userId: auth.userId, checkPassword: this.passwordCheck });
    await this.remove(auth.userId, deviceIds);
  }

  /** Deletes devices without UIA (admin API): tokens revoked, sessions ended. */
  async remove(userId: string, deviceIds: string[]): Promise<void> {
    const revoked = await this.store.deleteDevices(userId, deviceIds);
    this.tokens.forget(revoked);
    this.events.emit('tokensRevoked', userId, deviceIds);
  }
}
