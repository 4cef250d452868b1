// multipart/mixed (RFC 2046 5.1) as the federation media endpoints use it (matrix-spec:
// server-server/content_repository.yaml#getContent, #getContentThumbnail): exactly two parts, the
// first `application/json` metadata (an empty object today), the second the media bytes with their
// Content-Type and Content-Disposition, or a `Location` header to fetch them from.
//
// Writing: the parts around the media bytes, so the file streams from the store between them and the
// whole length is known up front. Reading: a response held in memory (its size is limited by the
// caller) split into parts with their headers.
import { randomBytes } from 'node:crypto';

/** A part's headers (names lower case) and bytes. */
export interface MultipartPart {
  headers: Record<string, string>;
  body: Buffer;
}

const CRLF = '\r\n';

/** The framing of a two-part federation media answer: write `head`, the media bytes, then `tail`. */
export interface MultipartFrame {
  /** The response's Content-Type: `multipart/mixed; boundary=...`. */
  contentType: string;
  head: Buffer;
  tail: Buffer;
}

/** Frames media bytes (Content-Type and Content-Disposition of the media part) after an empty JSON metadata part. */
export function frameMedia(contentType: string, contentDisposition: string, boundary = randomBytes(16).toString('hex')): MultipartFrame {
  const head = `--${boundary}${CRLF}Content-Type: application/json${CRLF}${CRLF}{}${CRLF}`
    + `--${boundary}${CRLF}Content-Type: ${contentType}${CRLF}Content-Disposition: ${contentDisposition}${CRLF}${CRLF}`;
  return { contentType: `multipart/mixed; boundary=${boundary}`, head: Buffer.from(head, 'utf8'), tail: Buffer.from(`${CRLF}--${boundary}--${CRLF}`, 'utf8') };
}

/** The `boundary` parameter of a multipart Content-Type (quoted or not), or undefined. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  if (!contentType || !/^\s*multipart\/[A-Za-z0-9.+-]+\s*(;|$)/i.test(contentType)) return undefined;
  const m = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

/**
 * The parts of a multipart body (RFC 2046 5.1.1): a preamble before the first delimiter and an
 * epilogue after the closing one are ignored; each part's headers end at the first empty line (a
 * part without headers starts with it). Throws on a body that is not well framed (no closing
 * delimiter: a truncated answer).
 */
export function parseMultipart(body: Buffer, boundary: string): MultipartPart[] {
  const dash = Buffer.from(`--${boundary}`, 'latin1');
  const delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  // The first delimiter may open the body (no CRLF before it).
  let pos = body.subarray(0, dash.length).equals(dash) ? 0 : body.indexOf(delimiter);
  if (pos < 0) throw new Error('multipart: no boundary');
  pos += pos === 0 && body.subarray(0, dash.length).equals(dash) ? dash.length : delimiter.length;
  const parts: MultipartPart[] = [];
  for (;;) {
    // After a delimiter: `--` closes, otherwise optional whitespace then CRLF opens a part.
    if (body.subarray(pos, pos + 2).toString('latin1') === '--') return parts;
    const lineEnd = body.indexOf('\r\n', pos);
    if (lineEnd < 0 || body.subarray(pos, lineEnd).toString('latin1').trim() !== '') throw new Error('multipart: malformed delimiter line');
    const start = lineEnd + 2;
    const next = body.indexOf(delimiter, start);
    if (next < 0) throw new Error('multipart: no closing delimiter');
    const raw = body.subarray(start, Math.max(start, next));
    if (raw.length === 0) {
      // A part with neither headers nor bytes.
      parts.push({ headers: {}, body: raw });
      pos = next + delimiter.length;
      continue;
    }
    // Headers end at the first empty line; without one (`Location: ...` right before the delimiter), all is headers.
    const found = raw.subarray(0, 2).toString('latin1') === '\r\n' ? 0 : raw.indexOf('\r\n\r\n');
    const headerEnd = found < 0 ? raw.length : found;
    const headers: Record<string, string> = {};
    for (const line of raw.subarray(0, headerEnd).toString('utf8').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    parts.push({ headers, body: found < 0 ? Buffer.alloc(0) : raw.subarray(found === 0 ? 2 : found + 4) });
    pos = next + delimiter.length;
  }
}

/**
 * The file name of a Content-Disposition header (RFC 6266): `filename*` (RFC 5987, UTF-8) when it
 * decodes, else `filename` (quoted or a token); null without one.
 */
export function fileNameOf(disposition: string | undefined): string | null {
  if (!disposition) return null;
  const ext = /;\s*filename\*\s*=\s*([A-Za-z0-9_-]+)'[^']*'([^;\s]+)/i.exec(disposition);
  if (ext && /^utf-8$/i.test(ext[1]!)) {
    try {
      return decodeURIComponent(ext[2]!);
    } catch {
      // fall back to filename=
    }
  }
  const plain = /;\s*filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(disposition);
  if (!plain) return null;
  return plain[1] !== undefined ? plain[1].replace(/\\(.)/g, '$1') : plain[2]!;
}
