// The storage API the core uses. Async and coarse-grained so that another implementation (PostgreSQL)
// can be added without touching core; each method is atomic on its own.

export interface UserRecord {
  userId: string;
  localpart: string;
  passwordHash: string | null;
  isAdmin: boolean;
  isGuest: boolean;
  deactivated: boolean;
  createdTs: number;
}

export interface DeviceRecord {
  userId: string;
  deviceId: string;
  displayName: string | null;
  createdTs: number;
  lastSeenTs: number | null;
  lastSeenIp: string | null;
  lastSeenUserAgent: string | null;
}

export interface TokenOwner {
  userId: string;
  deviceId: string;
  isGuest: boolean;
  isAdmin: boolean;
  deactivated: boolean;
}

export interface NewUser {
  userId: string;
  localpart: string;
  passwordHash: string | null;
  isAdmin: boolean;
  isGuest: boolean;
  createdTs: number;
  displayName: string | null;
}

export interface NewDeviceLogin {
  userId: string;
  deviceId: string;
  /** Used only when the device is new. */
  displayName: string | null;
  tokenHash: string;
  ts: number;
}

export interface DeviceLoginResult {
  /** Token hashes that belonged to the device before (now revoked). */
  revokedTokenHashes: string[];
  createdDevice: boolean;
}

export interface AccountStore {
  /** Creates the user (and, when given, a first device with a token) in one transaction. Returns false if the user ID is taken. */
  createUser(user: NewUser, login?: NewDeviceLogin): Promise<boolean>;
  getUser(userId: string): Promise<UserRecord | undefined>;
  /** Users whose localpart starts with a prefix are counted and listed by the admin API later; this counts all. */
  countUsers(): Promise<number>;
  nextCounter(name: string): Promise<number>;
  setPasswordHash(userId: string, hash: string | null): Promise<void>;
  setAdmin(userId: string, admin: boolean): Promise<void>;
  /** Marks the user deactivated and deletes every device and token; returns the revoked token hashes. */
  deactivateUser(userId: string): Promise<string[]>;

  /** Creates the device if needed, revokes its earlier tokens and stores the new token hash, atomically. */
  loginDevice(login: NewDeviceLogin): Promise<DeviceLoginResult>;
  findTokenOwner(tokenHash: string): Promise<TokenOwner | undefined>;
  getDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined>;
  listDevices(userId: string): Promise<DeviceRecord[]>;
  setDeviceDisplayName(userId: string, deviceId: string, displayName: string | null): Promise<boolean>;
  updateDeviceLastSeen(userId: string, deviceId: string, ts: number, ip: string | null, userAgent: string | null): Promise<void>;
  /** Deletes the devices and their tokens; returns the revoked token hashes. */
  deleteDevices(userId: string, deviceIds: string[]): Promise<string[]>;
  /** Revokes every token of the user except those of `keepDeviceId`'s device; deletes those devices too when asked. */
  revokeOtherDevices(userId: string, keepDeviceId: string | null, deleteDevices: boolean): Promise<string[]>;
  revokeToken(tokenHash: string): Promise<void>;

  getProfile(userId: string): Promise<Record<string, unknown>>;
  setProfileField(userId: string, field: string, value: unknown): Promise<void>;
  deleteProfileField(userId: string, field: string): Promise<void>;
}

export interface Storage {
  readonly accounts: AccountStore;
  close(): Promise<void>;
}
