// Other servers' media over federation (matrix-spec: server-server-api "Content Repository";
// server-server/content_repository.yaml#getContent): the RemoteMediaFetcher the media service asks
// once per remote media item (it keeps what it gets, in the same store and table as local media).
//
//   1. GET /_matrix/federation/v1/media/download/{mediaId} on the media's server, signed (X-Matrix),
//      through the federation client (discovery, address policy, timeout, size limit): a
//      multipart/mixed answer whose first part is JSON metadata and whose second part is either the
//      bytes (with Content-Type and Content-Disposition) or a `Location` to fetch them from;
//   2. only when that answers 404 M_UNRECOGNIZED (a server from before v1.11): the deprecated
//      GET /_matrix/media/v3/download/{serverName}/{mediaId}?allow_remote=false, as the spec asks;
//   3. a `Location` (in the second part, or a 3xx of either request) is fetched unsigned through the
//      same address policy (ip_range_blacklist), following at most 5 redirects.
//
// Thumbnails of remote media are made here from the original (like Synapse's dynamic thumbnails),
// so the federation thumbnail endpoint is not asked. Answers are held in memory up to
// media.max_upload_bytes (plus the multipart framing), then streamed into the store.
import { Readable } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import { MatrixError, notYetUploaded } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { SERVER_NAME_SOFTWARE, VERSION } from '../../version.js';
import { FederationError, type FederationRequest, type RawFederationResponse } from '../federation/client.js';
import { OutboundError, type OutboundHttp } from '../net/http.js';
import { boundaryOf, fileNameOf, parseMultipart } from './multipart.js';
import type { RemoteMediaFetcher } from './service.js';

/** The federation client's raw-bytes request (HttpFederationClient.requestRaw). */
export interface RawFederationClient {
  requestRaw(r: FederationRequest & { accept?: string }): Promise<RawFederationResponse>;
}

/** Room for the multipart framing and the JSON metadata part around the bytes. */
const FRAMING_BYTES = 64 * 1024;
const MAX_REDIRECTS = 5;
/** Time for the transfer itself, on top of the time the remote may wait for an upload. */
const TRANSFER_MS = 60_000;

type Fetched = { contentType: string | null; uploadName: string | null; body: Readable };

const tooLarge = () => new MatrixError(502, 'M_TOO_LARGE', 'Remote content is too large');
const failed = (serverName: string, why: string) => new MatrixError(502, 'M_UNKNOWN', `Could not fetch the media from ${serverName}: ${why}`);

export class FederationMediaFetcher implements RemoteMediaFetcher {
  constructor(
    private readonly client: RawFederationClient,
    private readonly http: OutboundHttp,
    private readonly verifyCertificates: boolean,
    private readonly logger: Logger,
  ) {}

  async download(serverName: string, mediaId: string, opts: { maxBytes: number; timeoutMs: number }): Promise<Fetched | undefined> {
    const timeoutMs = opts.timeoutMs + TRANSFER_MS;
    let res: RawFederationResponse;
    try {
      res = await this.client.requestRaw({
        destination: serverName, method: 'GET', path: `/_matrix/federation/v1/media/download/${encodeURIComponent(mediaId)}`,
        query: { timeout_ms: opts.timeoutMs }, timeoutMs, maxResponseBytes: opts.maxBytes + FRAMING_BYTES, accept: 'multipart/mixed',
      });
    } catch (e) {
      if (e instanceof FederationError && e.kind === 'http' && e.status === 404 && e.errcode === 'M_UNRECOGNIZED') {
        return this.legacyDownload(serverName, mediaId, opts.maxBytes, opts.timeoutMs);
      }
      return this.failure(serverName, mediaId, e);
    }
    if (res.status >= 300) return this.fromLocation(serverName, res.headers.location, opts.maxBytes, timeoutMs);
    const boundary = boundaryOf(header(res.headers, 'content-type'));
    if (boundary === undefined) throw failed(serverName, 'the answer is not multipart/mixed');
    let parts;
    try {
      parts = parseMultipart(res.body, boundary);
    } catch (e) {
      throw failed(serverName, (e as Error).message);
    }
    const media = parts[1];
    if (parts.length < 2 || !media) throw failed(serverName, `the answer has ${parts.length} parts, not 2`);
    if (media.headers.location !== undefined) return this.fromLocation(serverName, media.headers.location, opts.maxBytes, timeoutMs);
    if (media.body.length > opts.maxBytes) throw tooLarge();
    return { contentType: media.headers['content-type'] ?? null, uploadName: fileNameOf(media.headers['content-disposition']), body: Readable.from([media.body]) };
  }

  /** The deprecated unauthenticated download, for servers without the federation media endpoints (allow_remote=false). */
  private async legacyDownload(serverName: string, mediaId: string, maxBytes: number, waitMs: number): Promise<Fetched | undefined> {
    const timeoutMs = waitMs + TRANSFER_MS;
    let res: RawFederationResponse;
    try {
      res = await this.client.requestRaw({
        destination: serverName, method: 'GET', path: `/_matrix/media/v3/download/${encodeURIComponent(serverName)}/${encodeURIComponent(mediaId)}`,
        query: { allow_remote: 'false', timeout_ms: waitMs }, timeoutMs, maxResponseBytes: maxBytes,
      });
    } catch (e) {
      return this.failure(serverName, mediaId, e);
    }
    if (res.status >= 300) return this.fromLocation(serverName, res.headers.location, maxBytes, timeoutMs);
    return this.fromResponse(res.headers, res.body);
  }

  /** Fetches the bytes at a `Location` (unsigned, through the address policy), following redirects. */
  private async fromLocation(serverName: string, location: string | string[] | undefined, maxBytes: number, timeoutMs: number): Promise<Fetched> {
    let url: URL;
    let target = Array.isArray(location) ? location[0] : location;
    let base: string | undefined;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      if (!target) throw failed(serverName, 'a redirect without a Location');
      try {
        url = new URL(target, base);
      } catch {
        throw failed(serverName, 'a redirect to an invalid URL');
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw failed(serverName, `a redirect to a ${url.protocol} URL`);
      let res;
      try {
        res = await this.http.request({
          protocol: url.protocol === 'https:' ? 'https' : 'http',
          host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80,
          method: 'GET', path: `${url.pathname}${url.search}`,
          headers: { Host: url.host, 'User-Agent': `${SERVER_NAME_SOFTWARE}/${VERSION}` },
          verifyCertificates: this.verifyCertificates, timeoutMs, maxResponseBytes: maxBytes,
        });
      } catch (e) {
        if (e instanceof OutboundError && e.kind === 'too_large') throw tooLarge();
        throw failed(serverName, (e as Error).message);
      }
      if (res.status >= 300 && res.status < 400) {
        base = url.href;
        target = header(res.headers, 'location');
        continue;
      }
      if (res.status < 200 || res.status >= 300) throw failed(serverName, `the redirect target answered ${res.status}`);
      return this.fromResponse(res.headers, res.body);
    }
    throw failed(serverName, 'too many redirects');
  }

  private fromResponse(headers: IncomingHttpHeaders, body: Buffer): Fetched {
    return { contentType: header(headers, 'content-type') ?? null, uploadName: fileNameOf(header(headers, 'content-disposition')), body: Readable.from([body]) };
  }

  /** A failed request: the server does not have it (404, or we may not ask it), or a client error to answer. */
  private failure(serverName: string, mediaId: string, e: unknown): undefined {
    if (!(e instanceof FederationError)) throw e;
    if (e.kind === 'disabled' || e.kind === 'forbidden') return undefined;
    if (e.kind === 'bad_response' && e.cause instanceof OutboundError && e.cause.kind === 'too_large') throw tooLarge();
    if (e.kind === 'http') {
      if (e.status === 404) return undefined;
      if (e.status === 502 && e.errcode === 'M_TOO_LARGE') throw tooLarge();
      if (e.status === 504 && e.errcode === 'M_NOT_YET_UPLOADED') throw notYetUploaded();
    }
    this.logger.info({ serverName, mediaId, err: e.message }, 'federation: remote media could not be fetched');
    throw failed(serverName, e.message);
  }
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
