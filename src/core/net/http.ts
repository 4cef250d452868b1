// Outbound HTTP(S) requests through the address policy: the one way this server opens a connection
// to an address it did not choose itself. The agents' `lookup` resolves and checks host names
// (OutboundGuard), IP literals are checked before the request; TLS SNI and the name the certificate
// must be valid for are the caller's (server discovery decides them), certificate verification can be
// turned off for tests. Bodies are read whole, up to a size limit, within an overall timeout.
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { BlockedAddressError, type OutboundGuard } from './address-policy.js';
import { isIpLiteral } from './ip.js';

export interface OutboundRequest {
  protocol: 'https' | 'http';
  /** Where to connect: a host name (resolved through the guard) or an IP literal (no brackets). */
  host: string;
  port: number;
  method: string;
  /** Path and query exactly as sent. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /**
   * TLS: the name sent as SNI and that the certificate must be valid for. Undefined: `host` when it
   * is a name; an IP literal gets no SNI and its certificate must be valid for the IP.
   */
  servername?: string;
  /** Verify the peer's certificate (default true). */
  verifyCertificates?: boolean;
  timeoutMs: number;
  maxResponseBytes: number;
  signal?: AbortSignal;
}

export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export type OutboundErrorKind = 'blocked' | 'timeout' | 'network' | 'too_large' | 'aborted';

/** A request that got no complete HTTP response. */
export class OutboundError extends Error {
  constructor(readonly kind: OutboundErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OutboundError';
  }
}

export class OutboundHttp {
  private readonly httpsAgent: https.Agent;
  private readonly httpAgent: http.Agent;

  constructor(private readonly guard: OutboundGuard) {
    // Every connection of these agents resolves through the guard: checked address = connected address.
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 32, lookup: guard.lookup });
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 32, lookup: guard.lookup });
  }

  request(r: OutboundRequest): Promise<OutboundResponse> {
    return new Promise<OutboundResponse>((resolve, reject) => {
      try {
        this.guard.checkLiteral(r.host);
      } catch (e) {
        reject(new OutboundError('blocked', (e as Error).message, { cause: e }));
        return;
      }
      if (r.signal?.aborted) {
        reject(new OutboundError('aborted', 'Request aborted'));
        return;
      }
      const literal = isIpLiteral(r.host);
      const headers: Record<string, string | number> = { ...(r.headers ?? {}) };
      if (r.body !== undefined) headers['Content-Length'] = r.body.length;
      const common = { host: r.host, port: r.port, method: r.method, path: r.path, headers, lookup: this.guard.lookup };
      // SNI: the given name, else the host name; none for an IP literal ('' keeps Node from deriving
      // one from the Host header).
      const servername = r.servername ?? (literal ? '' : r.host);
      const req = r.protocol === 'https'
        ? https.request({ ...common, agent: this.httpsAgent, servername, rejectUnauthorized: r.verifyCertificates !== false })
        : http.request({ ...common, agent: this.httpAgent });
      let settled = false;
      const fail = (err: OutboundError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        r.signal?.removeEventListener('abort', onAbort);
        reject(err);
        req.destroy();
      };
      const timer = setTimeout(() => fail(new OutboundError('timeout', `No response from ${r.host}:${r.port} within ${r.timeoutMs} ms`)), r.timeoutMs);
      timer.unref();
      const onAbort = () => fail(new OutboundError('aborted', 'Request aborted'));
      r.signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof BlockedAddressError) fail(new OutboundError('blocked', err.message, { cause: err }));
        else fail(new OutboundError('network', `${r.host}:${r.port}: ${err.message}`, { cause: err }));
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > r.maxResponseBytes) {
            fail(new OutboundError('too_large', `Response from ${r.host}:${r.port} is larger than ${r.maxResponseBytes} bytes`));
            res.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (err) => fail(new OutboundError('network', `${r.host}:${r.port}: ${err.message}`, { cause: err })));
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          r.signal?.removeEventListener('abort', onAbort);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
      });
      req.end(r.body);
    });
  }

  /** Closes idle keep-alive connections and refuses to pool new ones. */
  close(): void {
    this.httpsAgent.destroy();
    this.httpAgent.destroy();
  }
}
