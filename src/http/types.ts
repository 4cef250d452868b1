// The request and response objects the handlers see: node:http's own, with the few conveniences the
// API code uses (params, body, query, ip; json, status, set, locals). Hearth's server creates them as
// these classes; a request that arrives through another server (supertest's) is given their
// prototypes on entry (adopt), as Express does for every request.
import { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';

export class HttpRequest extends IncomingMessage {
  /** Percent-decoded path parameters of the matched route. */
  params!: Record<string, string>;
  /** The parsed JSON body (undefined for GET, HEAD, OPTIONS). */
  body: unknown;
  /** The raw body bytes, when there was a body. */
  rawBody?: Buffer;
  private parsedQuery?: Record<string, unknown>;

  /** Query parameters (`?a=1&a=2` gives an array, as node:querystring parses them). */
  get query(): Record<string, unknown> {
    if (this.parsedQuery === undefined) {
      const url = this.url ?? '';
      const q = url.indexOf('?');
      this.parsedQuery = q < 0 ? {} : (parseQuery(url.slice(q + 1)) as Record<string, unknown>);
    }
    return this.parsedQuery;
  }

  /** The request path without the query string (never logged with its query: it may hold tokens). */
  get path(): string {
    const url = this.url ?? '';
    const q = url.indexOf('?');
    return q < 0 ? url : url.slice(0, q);
  }

  /** The peer's address (no proxy headers are trusted). */
  get ip(): string | undefined {
    return this.socket?.remoteAddress;
  }
}

export class HttpResponse extends ServerResponse<HttpRequest> {
  private localsStore?: Record<string, unknown>;

  /** Per-request values the middleware hands to handlers (auth, session, route). */
  get locals(): Record<string, unknown> {
    return (this.localsStore ??= {});
  }

  status(code: number): this {
    this.statusCode = code;
    return this;
  }

  set(headers: Record<string, string>): this {
    for (const [k, v] of Object.entries(headers)) this.setHeader(k, v);
    return this;
  }

  /** Answers with `body` as JSON (HEAD: the headers only). */
  json(body: unknown): void {
    const text = JSON.stringify(body) ?? '';
    this.setHeader('Content-Type', 'application/json; charset=utf-8');
    this.setHeader('Content-Length', Buffer.byteLength(text));
    if (this.req?.method === 'HEAD') this.end();
    else this.end(text);
  }
}

/** Gives a request/response pair from any node:http server the prototypes above. */
export function adopt(req: IncomingMessage, res: ServerResponse): { req: HttpRequest; res: HttpResponse } {
  if (!(req instanceof HttpRequest)) Object.setPrototypeOf(req, HttpRequest.prototype);
  if (!(res instanceof HttpResponse)) Object.setPrototypeOf(res, HttpResponse.prototype);
  return { req: req as HttpRequest, res: res as HttpResponse };
}
