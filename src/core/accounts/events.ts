// What the account services tell the rest of the server: sessions end with their tokens, notices go
// out on new logins and password changes. One hub shared by the account services (built first, passed
// to each by constructor).

/** Who is making an authenticated request; the only source of identity for handlers. */
export interface AuthContext {
  userId: string;
  deviceId: string;
  isGuest: boolean;
  isAdmin: boolean;
  tokenHash: string;
  /** Shadow-banned (admin API): sends are answered but reach nobody. */
  isShadowBanned?: boolean;
}

export interface LoginResult {
  user_id: string;
  access_token: string;
  device_id: string;
  home_server: string;
}

export interface AccountListener {
  tokensRevoked?(userId: string, deviceIds: string[] | 'all-but', keepDeviceId?: string): void;
  /** `via` tells a login from the first device of a new account and from an admin logging in as the user. */
  deviceLoggedIn?(userId: string, deviceId: string, isNewDevice: boolean, via: 'login' | 'register' | 'admin'): void;
  passwordChanged?(userId: string): void;
  userDeactivated?(userId: string): void;
}

export class AccountEvents {
  private readonly listeners: AccountListener[] = [];

  addListener(l: AccountListener): void {
    this.listeners.push(l);
  }

  emit<K extends keyof AccountListener>(name: K, ...args: Parameters<NonNullable<AccountListener[K]>>): void {
    for (const l of this.listeners) (l[name] as ((...a: unknown[]) => void) | undefined)?.apply(l, args);
  }
}
