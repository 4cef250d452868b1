// A small Matrix client-server API client for tests that drive real servers over the network
// (Synapse in test/interop/, Hearths started with startServer): fetch, JSON in and out. `request`
// answers whatever the server answered; the named helpers throw (failing the test) on anything
// but 2xx, with the status and body in the message.
import { request as httpsRequest } from 'node:https';

export interface HttpResult<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export type Query = Record<string, string | number | boolean | undefined>;

function withQuery(path: string, query: Query | undefined): string {
  if (!query) return path;
  const parts = Object.entries(query).filter(([, v]) => v !== undefined).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length === 0 ? path : `${path}${path.includes('?') ? '&' : '?'}${parts.join('&')}`;
}

const enc = encodeURIComponent;

export class MatrixHttpClient {
  constructor(
    readonly baseUrl: string,
    readonly accessToken?: string,
    readonly userId?: string,
    /** Prefixed to error messages (e.g. the name of the server), and called for extra context (a log tail). */
    private readonly context: () => string = () => '',
  ) {}

  /** The same server as `user` (their token and ID). */
  as(user: { accessToken: string; userId: string }): MatrixHttpClient {
    return new MatrixHttpClient(this.baseUrl, user.accessToken, user.userId, this.context);
  }

  /** Any request; never throws for an HTTP status. `path` starts with `/_matrix/...`. */
  async request<T = Record<string, unknown>>(method: string, path: string, opts: { body?: unknown; query?: Query; auth?: boolean } = {}): Promise<HttpResult<T>> {
    const headers: Record<string, string> = {};
    if (this.accessToken && opts.auth !== false) headers.Authorization = `Bearer ${this.accessToken}`;
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${this.baseUrl}${withQuery(path, opts.query)}`, {
      method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
    const text = await res.text();
    let body: unknown;
    try {
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      body = { non_json_body: text.slice(0, 500) };
    }
    return { status: res.status, body: body as T };
  }

  /** A request that must succeed (2xx); its body. */
  async ok<T = Record<string, unknown>>(method: string, path: string, opts: { body?: unknown; query?: Query } = {}): Promise<T> {
    const r = await this.request<T>(method, path, opts);
    if (r.status < 200 || r.status >= 300) {
      const extra = this.context();
      throw new Error(`${method} ${path} on ${this.baseUrl} answered ${r.status}: ${JSON.stringify(r.body)}${extra ? `\n${extra}` : ''}`);
    }
    return r.body;
  }

  async createRoom(body: Record<string, unknown> = {}): Promise<string> {
    return (await this.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', { body })).room_id;
  }

  async invite(roomId: string, userId: string, reason?: string): Promise<void> {
    await this.ok('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { body: { user_id: userId, ...(reason !== undefined ? { reason } : {}) } });
  }

  /** POST /join/{roomIdOrAlias} with `via` servers; the room ID. */
  async join(roomIdOrAlias: string, via: string[] = []): Promise<string> {
    const query = via.length > 0 ? `?${via.map((s) => `via=${enc(s)}`).join('&')}` : '';
    return (await this.ok<{ room_id: string }>('POST', `/_matrix/client/v3/join/${enc(roomIdOrAlias)}${query}`, { body: {} })).room_id;
  }

  async send(roomId: string, type: string, content: Record<string, unknown>): Promise<string> {
    const txn = `t${Date.now()}${Math.random().toString(36).slice(2)}`;
    return (await this.ok<{ event_id: string }>('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/${enc(type)}/${txn}`, { body: content })).event_id;
  }

  async setDisplayName(displayname: string): Promise<void> {
    await this.ok('PUT', `/_matrix/client/v3/profile/${enc(this.userId!)}/displayname`, { body: { displayname } });
  }

  async setAvatarUrl(avatarUrl: string): Promise<void> {
    await this.ok('PUT', `/_matrix/client/v3/profile/${enc(this.userId!)}/avatar_url`, { body: { avatar_url: avatarUrl } });
  }

  async setAlias(alias: string, roomId: string): Promise<void> {
    await this.ok('PUT', `/_matrix/client/v3/directory/room/${enc(alias)}`, { body: { room_id: roomId } });
  }

  /** Publishes the room in this server's public room directory. */
  async publish(roomId: string): Promise<void> {
    await this.ok('PUT', `/_matrix/client/v3/directory/list/room/${enc(roomId)}`, { body: { visibility: 'public' } });
  }

  profile(userId: string): Promise<HttpResult> {
    return this.request('GET', `/_matrix/client/v3/profile/${enc(userId)}`);
  }

  profileField(userId: string, field: string): Promise<HttpResult> {
    return this.request('GET', `/_matrix/client/v3/profile/${enc(userId)}/${enc(field)}`);
  }

  resolveAlias(alias: string): Promise<HttpResult> {
    return this.request('GET', `/_matrix/client/v3/directory/room/${enc(alias)}`);
  }

  /** GET /publicRooms (`server`, `limit`, `since` in the query). */
  publicRooms(query: Query = {}): Promise<HttpResult> {
    return this.request('GET', '/_matrix/client/v3/publicRooms', { query });
  }

  /** POST /publicRooms with a filter (`server` in the query). */
  searchPublicRooms(body: Record<string, unknown>, server?: string): Promise<HttpResult> {
    return this.request('POST', '/_matrix/client/v3/publicRooms', { body, query: { server } });
  }

  async sync(query: Query = {}): Promise<Record<string, unknown>> {
    return this.ok('GET', '/_matrix/client/v3/sync', { query });
  }
}

/** A JSON request over HTTPS that does not verify the certificate (self-signed test listeners). */
export function insecureHttpsJson(url: string, opts: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const data = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const req = httpsRequest({
      host: u.hostname, port: u.port, method: opts.method ?? 'GET', path: `${u.pathname}${u.search}`, rejectUnauthorized: false,
      headers: { ...opts.headers, ...(data ? { 'Content-Type': 'application/json', 'Content-Length': String(data.length) } : {}) },
    }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => {
        let body: Record<string, unknown>;
        try {
          body = text === '' ? {} : JSON.parse(text) as Record<string, unknown>;
        } catch {
          body = { non_json_body: text.slice(0, 500) };
        }
        resolve({ status: res.statusCode!, body });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}
