// Request authentication between servers (matrix-spec: server-server-api "Request Authentication"):
// the JSON object {method, uri, origin, destination, content?} signed with the origin's key, carried
// as `Authorization: X-Matrix origin="…",destination="…",key="ed25519:…",sig="…"`.
import { signJson, type SigningKey } from '../crypto/signing.js';

/** What a request signature covers ("Step 1 sign JSON"). */
export interface SignedRequestJson {
  method: string;
  /** The path with `?` and query, exactly as sent (not the scheme or host). */
  uri: string;
  origin: string;
  destination: string;
  /** The JSON-parsed request body, when there is one. */
  content?: unknown;
}

export function requestJson(method: string, uri: string, origin: string, destination: string, content?: unknown): SignedRequestJson {
  const json: SignedRequestJson = { method: method.toUpperCase(), uri, origin, destination };
  if (content !== undefined) json.content = content;
  return json;
}

/**
 * The Authorization header of a request signed with `key` ("Step 2"). Written the way the spec asks
 * senders to, for older servers: one space after the scheme, lower-case names, no whitespace around
 * the commas, no backslashes (server names and base64 have no characters that need them).
 */
export function signRequest(json: SignedRequestJson, key: SigningKey): string {
  const signed = signJson(json as unknown as Record<string, unknown>, json.origin, key);
  const sig = signed.signatures[json.origin]![key.keyId]!;
  return `X-Matrix origin=${quote(json.origin)},destination=${quote(json.destination)},key=${quote(key.keyId)},sig=${quote(sig)}`;
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

export interface XMatrixCredentials {
  origin: string;
  /** Absent from servers older than spec v1.3 (recipients should accept that). */
  destination?: string;
  key: string;
  sig: string;
}

export class XMatrixParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XMatrixParseError';
  }
}

// RFC 9110 5.6.2 tchar. Unquoted values also take ':' ("the recipient should allow colons to be
// included in values without requiring the value to be enclosed in quotes"), and '/' and '=' that
// base64 signatures hold (a sender that leaves a signature unquoted means it whole).
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const VALUE_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:/=]/;

/**
 * Parses one Authorization header value. Returns undefined when its scheme is not X-Matrix (another
 * scheme is not ours to judge); throws XMatrixParseError when it is X-Matrix but malformed or lacks
 * `origin`, `key` or `sig`. Grammar (RFC 9110 11.4): the scheme (case-insensitive), one or more
 * spaces, then `name=value` pairs separated by commas with optional spaces and tabs around them;
 * names are case-insensitive, values are tokens or quoted strings with backslash escapes; unknown
 * names are ignored.
 */
export function parseXMatrix(header: string): XMatrixCredentials | undefined {
  const scheme = /^X-Matrix(?: +|$)/i.exec(header);
  if (!scheme) return undefined;
  const params = new Map<string, string>();
  let i = scheme[0].length;
  const n = header.length;
  const skipOws = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  for (;;) {
    skipOws();
    if (i >= n) break;
    if (header[i] === ',') { // empty list element ("a=1,,b=2"), allowed by the list syntax
      i++;
      continue;
    }
    const nameStart = i;
    while (i < n && TCHAR.test(header[i]!)) i++;
    if (i === nameStart) throw new XMatrixParseError(`Unexpected character ${JSON.stringify(header[i])} in X-Matrix parameters`);
    const name = header.slice(nameStart, i).toLowerCase();
    skipOws();
    if (header[i] !== '=') throw new XMatrixParseError(`X-Matrix parameter ${name} has no value`);
    i++;
    skipOws();
    let value = '';
    if (header[i] === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const c = header[i]!;
        if (c === '\\') {
          if (i + 1 >= n) break;
          value += header[i + 1];
          i += 2;
        } else if (c === '"') {
          i++;
          closed = true;
          break;
        } else {
          value += c;
          i++;
        }
      }
      if (!closed) throw new XMatrixParseError(`Unterminated quoted value of X-Matrix parameter ${name}`);
    } else {
      const start = i;
      while (i < n && VALUE_CHAR.test(header[i]!)) i++;
      if (i === start) throw new XMatrixParseError(`X-Matrix parameter ${name} has an empty value`);
      value = header.slice(start, i);
    }
    if (params.has(name)) throw new XMatrixParseError(`X-Matrix parameter ${name} is given twice`);
    params.set(name, value);
    skipOws();
    if (i >= n) break;
    if (header[i] !== ',') throw new XMatrixParseError(`Expected a comma after X-Matrix parameter ${name}`);
    i++;
  }
  const origin = params.get('origin');
  const key = params.get('key');
  const sig = params.get('sig');
  if (!origin || !key || !sig) throw new XMatrixParseError('X-Matrix authorization needs origin, key and sig');
  const destination = params.get('destination');
  return { origin, key, sig, ...(destination !== undefined ? { destination } : {}) };
}
