// The HTTP side: fetch with the access token and this tab's Hearth session (spec/sessions.md).
//
// Every authenticated request names the tab's session in the `Hearth-Session` header (the header
// wins over the cookie and the query). No cookie is sent (`credentials: 'omit'`): a cookie belongs to
// the whole browser, not to a tab. A 410 HEARTH_SESSION_EXPIRED answer was refused before it had
// any effect and names a new session: it is adopted, typing and presence are re-established in it
// (onSessionReplaced), and the request is sent again.

export type Json = Record<string, unknown>;

export interface Credentials {
  userId: string;
  accessToken: string;
  deviceId: string;
}

export class MatrixError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
    readonly body: Json = {},
  ) {
    super(message);
    this.name = 'MatrixError';
  }
}

export const SESSION_HEADER = 'Hearth-Session';
export const SESSIONS_PATH = '/_matrix/client/unstable/hearth/sessions';

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  signal?: AbortSignal;
  /** For pagehide: the browser sends it even after the page is gone; the answer is not awaited. */
  keepalive?: boolean;
  /** No access token (login, register). */
  noAuth?: boolean;
  /** Name no session (starting one explicitly). */
  noSession?: boolean;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new DOMException('aborted', 'AbortError'));
    }, { once: true });
  });

export const enc = encodeURIComponent;

export class Api {
  creds: Credentials | undefined;
  /** This tab's session; every request names it. */
  sessionId: string | undefined;
  /** Called after a 410 made us adopt a new session: re-establish typing and presence in it. */
  onSessionReplaced: ((newId: string) => Promise<void>) | undefined;
  /** Called when the server no longer knows our access token (logged out elsewhere, deactivated). */
  onUnknownToken: (() => void) | undefined;
  private replacing: Promise<void> | undefined;

  constructor(readonly baseUrl = '') {}

  async request<T = Json>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const named = opts.noSession ? undefined : this.sessionId;
      const res = await this.send(method, path, body, opts, named);
      const json = await res.json().catch(() => ({})) as Json;
      if (res.ok) return json as T;
      const errcode = typeof json.errcode === 'string' ? json.errcode : `HTTP_${res.status}`;
      const error = new MatrixError(res.status, errcode, typeof json.error === 'string' ? json.error : res.statusText, json);
      if (opts.keepalive) throw error;
      if (res.status === 410 && errcode === 'HEARTH_SESSION_EXPIRED' && attempt < 3) {
        const fresh = typeof json.session_id === 'string' ? json.session_id : res.headers.get(SESSION_HEADER);
        await this.adopt(named, fresh ?? undefined);
        continue;
      }
      if (res.status === 429 && errcode === 'M_LIMIT_EXCEEDED' && attempt < 3) {
        const wait = typeof json.retry_after_ms === 'number' ? json.retry_after_ms : 1000;
        await sleep(Math.min(wait, 10_000), opts.signal);
        continue;
      }
      if (res.status === 401 && errcode === 'M_UNKNOWN_TOKEN' && !opts.noAuth) this.onUnknownToken?.();
      throw error;
    }
  }

  private send(method: string, path: string, body: unknown, opts: RequestOptions, session: string | undefined): Promise<Response> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (!opts.noAuth && this.creds) headers.Authorization = `Bearer ${this.creds.accessToken}`;
    if (session && !opts.noAuth) headers[SESSION_HEADER] = session;
    let url = this.baseUrl + path;
    const q = Object.entries(opts.query ?? {}).filter((e): e is [string, string | number] => e[1] !== undefined);
    if (q.length > 0) url += `?${new URLSearchParams(q.map(([k, v]) => [k, String(v)])).toString()}`;
    return fetch(url, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      keepalive: opts.keepalive === true,
      credentials: 'omit',
      cache: 'no-store',
    });
  }

  /**
   * Takes the new session from a 410. Several requests in flight may each get a 410 (and the server
   * starts a new session for each): the first one wins, the others' new sessions are ended at once.
   */
  private async adopt(named: string | undefined, fresh: string | undefined): Promise<void> {
    if (this.sessionId !== named) {
      if (fresh && fresh !== this.sessionId) void this.endSession(fresh).catch(() => undefined);
      await this.replacing;
      return;
    }
    if (!fresh) return;
    this.sessionId = fresh;
    this.replacing = (async () => {
      try {
        await this.onSessionReplaced?.(fresh);
      } catch {
        // typing and presence are best effort; the next change sets them again
      }
    })();
    await this.replacing;
  }

  endSession(id: string): Promise<Json> {
    return this.request('DELETE', `${SESSIONS_PATH}/${enc(id)}`);
  }
}
