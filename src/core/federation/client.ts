// The outbound federation HTTP client: JSON requests to another server, signed with this server's
// key (matrix-spec: server-server-api "Request Authentication"), sent to the address server
// discovery finds, over TLS with the Host header and SNI the spec asks for. Retries are the
// caller's (the transaction queue retries with backoff; a one-off query just fails).
import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import { SERVER_NAME_SOFTWARE, VERSION } from '../../version.js';
import type { SigningKey } from '../crypto/signing.js';
import { OutboundError, type OutboundHttp, type OutboundResponse } from '../net/http.js';
import { DiscoveryError, type ResolvedServer, type ServerResolver } from './discovery.js';
import { requestJson, signRequest } from './x-matrix.js';

export type FederationErrorKind =
  /** federation.enabled is false. */
  | 'disabled'
  /** The destination is this server, or not in federation.domain_whitelist. */
  | 'forbidden'
  /** Discovery failed (bad server name, DNS failure, SRV says unavailable). */
  | 'discovery'
  /** Every address of the destination is in ip_range_blacklist. */
  | 'blocked'
  /** No connection or no complete response (refused, reset, TLS failure). */
  | 'network'
  | 'timeout'
  | 'aborted'
  /** The remote answered with a non-2xx status: `status`, `errcode`, `body`. */
  | 'http'
  /** A 2xx whose body is not JSON, or a response larger than allowed. */
  | 'bad_response';

/** Why a federation request failed, with the remote's status and errcode when it answered. */
export class FederationError extends Error {
  constructor(
    readonly destination: string,
    readonly kind: FederationErrorKind,
    message: string,
    readonly status?: number,
    readonly errcode?: string,
    readonly body?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FederationError';
  }

  /** Worth trying again later (the remote or the network may recover); a 4xx other than 401/408/429 is not. */
  get transient(): boolean {
    if (this.kind === 'http') return this.status === undefined || this.status >= 500 || this.status === 401 || this.status === 408 || this.status === 429;
    return this.kind === 'network' || this.kind === 'timeout' || this.kind === 'discovery' || this.kind === 'aborted';
  }
}

export type QueryValue = string | number | boolean | undefined | readonly (string | number | boolean)[];

export interface FederationRequest {
  destination: string;
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** Path from `/_matrix/...` on, each parameter already percent-encoded (encodeURIComponent). */
  path: string;
  /** Query parameters; an array repeats the name (`ver=10&ver=11`). */
  query?: Record<string, QueryValue>;
  /** The JSON body (PUT and POST always send one: `{}` when absent). */
  body?: unknown;
  /** Sign the request (default true); the key endpoints need no signature. */
  signed?: boolean;
  timeoutMs?: number;
  maxResponseBytes?: number;
  signal?: AbortSignal;
}

/** A 2xx or 3xx answer as received (status, headers, bytes): what `requestRaw` gives. */
export interface RawFederationResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** The interface the rest of the server (and tests) depend on. */
export interface FederationClient {
  request<T = unknown>(r: FederationRequest): Promise<T>;
}

export interface HttpFederationClientOptions {
  /** Default timeout of a request (ms). */
  timeoutMs?: number;
  /** Default limit of a response body (bytes). */
  maxResponseBytes?: number;
}

/** Connection failures after which the next target of an SRV answer is tried (nothing was sent yet). */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'HEARTH_ADDRESS_BLOCKED']);

export function encodeQuery(query: Record<string, QueryValue> | undefined): string {
  if (!query) return '';
  const parts: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(String(v))}`);
  }
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

export class HttpFederationClient implements FederationClient {
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;

  constructor(
    private readonly config: Pick<Config, 'server_name' | 'federation'>,
    private readonly signingKey: () => Promise<SigningKey>,
    private readonly resolver: ServerResolver,
    private readonly http: OutboundHttp,
    private readonly logger: Logger,
    opts: HttpFederationClientOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.maxResponseBytes = opts.maxResponseBytes ?? 64 * 1024 * 1024;
  }

  /** Whether this server may talk to `serverName` at all (federation on, whitelist). */
  allows(serverName: string): boolean {
    const f = this.config.federation;
    return f.enabled && serverName !== this.config.server_name && (f.domain_whitelist === null || f.domain_whitelist.includes(serverName));
  }

  /** A signed JSON request: the parsed JSON of a 2xx answer; anything else is a FederationError. */
  async request<T = unknown>(r: FederationRequest): Promise<T> {
    return this.parse<T>(r.destination, r, await this.send(r, 'application/json'));
  }

  /**
   * A signed request whose answer is not JSON (media: multipart/mixed, or a file): the same signing,
   * address policy, discovery, timeout and size limit as `request`, and the answer's status, headers
   * and bytes as received when it is a 2xx or 3xx (a redirect is the caller's to follow). Other
   * statuses are a FederationError `http` with the remote's errcode when its body is a Matrix error.
   */
  async requestRaw(r: FederationRequest & { accept?: string }): Promise<RawFederationResponse> {
    const res = await this.send(r, r.accept ?? '*/*');
    if (res.status >= 200 && res.status < 400) return { status: res.status, headers: res.headers, body: res.body };
    return this.parse<never>(r.destination, r, res);
  }

  private async send(r: FederationRequest, accept: string): Promise<OutboundResponse> {
    const { destination } = r;
    const f = this.config.federation;
    if (!f.enabled) throw new FederationError(destination, 'disabled', 'Federation is disabled on this server');
    if (destination === this.config.server_name) throw new FederationError(destination, 'forbidden', 'Refusing to send a federation request to this server itself');
    if (f.domain_whitelist !== null && !f.domain_whitelist.includes(destination)) {
      throw new FederationError(destination, 'forbidden', `${destination} is not in federation.domain_whitelist`);
    }
    let server: ResolvedServer;
    try {
      server = await this.resolver.resolve(destination);
    } catch (e) {
      const msg = e instanceof DiscoveryError ? e.message : `Cannot resolve ${destination}: ${(e as Error).message}`;
      throw new FederationError(destination, 'discovery', msg, undefined, undefined, undefined, { cause: e });
    }
    const uri = `${r.path}${encodeQuery(r.query)}`;
    const hasBody = r.method === 'PUT' || r.method === 'POST';
    const content = hasBody ? (r.body ?? {}) : undefined;
    const headers: Record<string, string> = { Host: server.hostHeader, 'User-Agent': `${SERVER_NAME_SOFTWARE}/${VERSION}`, Accept: accept };
    if (r.signed !== false) {
      const json = requestJson(r.method, uri, this.config.server_name, destination, content);
      headers.Authorization = signRequest(json, await this.signingKey());
    }
    let body: Buffer | undefined;
    if (content !== undefined) {
      body = Buffer.from(JSON.stringify(content), 'utf8');
      headers['Content-Type'] = 'application/json';
    }
    let res: OutboundResponse | undefined;
    let lastError: OutboundError | undefined;
    for (const target of server.targets) {
      try {
        res = await this.http.request({
          protocol: 'https', host: target.host, port: target.port, method: r.method, path: uri, headers, body,
          ...(server.tlsName !== undefined ? { servername: server.tlsName } : {}),
          verifyCertificates: f.verify_certificates,
          timeoutMs: r.timeoutMs ?? this.timeoutMs,
          maxResponseBytes: r.maxResponseBytes ?? this.maxResponseBytes,
          ...(r.signal ? { signal: r.signal } : {}),
        });
        break;
      } catch (e) {
        if (!(e instanceof OutboundError)) throw e;
        lastError = e;
        const code = (e.cause as NodeJS.ErrnoException | undefined)?.code ?? '';
        if (e.kind !== 'blocked' && !CONNECT_ERRORS.has(code)) break;
        this.logger.debug({ destination, target: `${target.host}:${target.port}`, err: e.message }, 'federation target unreachable, trying the next one');
      }
    }
    if (!res) throw this.fromOutbound(destination, lastError!);
    return res;
  }

  private fromOutbound(destination: string, e: OutboundError): FederationError {
    const kind: FederationErrorKind = e.kind === 'too_large' ? 'bad_response' : e.kind;
    return new FederationError(destination, kind, e.message, undefined, undefined, undefined, { cause: e });
  }

  private parse<T>(destination: string, r: FederationRequest, res: OutboundResponse): T {
    const text = res.body.toString('utf8');
    let json: unknown;
    let parsed = false;
    try {
      json = text === '' ? {} : JSON.parse(text);
      parsed = true;
    } catch {
      // handled below
    }
    if (res.status < 200 || res.status >= 300) {
      const obj = parsed && typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : {};
      const errcode = typeof obj.errcode === 'string' ? obj.errcode : undefined;
      const error = typeof obj.error === 'string' ? obj.error : text.slice(0, 200);
      return throwing(new FederationError(destination, 'http', `${r.method} ${r.path} on ${destination}: ${res.status}${errcode ? ` ${errcode}` : ''}${error ? `: ${error}` : ''}`,
        res.status, errcode, parsed ? json : undefined));
    }
    if (!parsed) throw new FederationError(destination, 'bad_response', `${r.method} ${r.path} on ${destination}: the response is not JSON`, res.status);
    return json as T;
  }
}

function throwing(e: Error): never {
  throw e;
}
