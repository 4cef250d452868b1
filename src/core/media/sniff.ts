// What media is served as (matrix-spec: content-repo "Serving inline content", authed-content-repo
// `downloadContentType`): the declared Content-Type unless it is obviously wrong, `inline` only for the
// spec's safe types, an RFC 6266 Content-Disposition, and the security headers of every media response.

/** The types the spec lists as safe to serve inline (client-server-api "Serving inline content"). */
export const INLINE_TYPES = new Set([
  'text/css', 'text/plain', 'text/csv', 'application/json', 'application/ld+json',
  'image/jpeg', 'image/gif', 'image/png', 'image/apng', 'image/webp', 'image/avif',
  'video/mp4', 'video/webm', 'video/ogg', 'video/quicktime',
  'audio/mp4', 'audio/webm', 'audio/aac', 'audio/mpeg', 'audio/ogg', 'audio/wave', 'audio/wav', 'audio/x-wav', 'audio/x-pn-wav',
  'audio/flac', 'audio/x-flac',
]);

/**
 * Headers of every media response, errors included: a sandboxing CSP (the spec's recommended policy),
 * no MIME sniffing by browsers, and embedding by any origin (clients show media from their own).
 */
export const MEDIA_SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';",
  'X-Content-Type-Options': 'nosniff',
  'Cross-Origin-Resource-Policy': 'cross-origin',
};

export const OCTET_STREAM = 'application/octet-stream';

const TOKEN = "[A-Za-z0-9!#$&^_.+-]+";
const CONTENT_TYPE_RE = new RegExp(`^${TOKEN}/${TOKEN}(?:\\s*;\\s*${TOKEN}=(?:${TOKEN}|"[^"\\\\\\r\\n]*"))*$`);

/** The media type without parameters, lower case. */
export const baseType = (contentType: string): string => contentType.split(';')[0]!.trim().toLowerCase();

/** Magic numbers of the image types that may be served inline (and thumbnailed). */
const IMAGE_MAGIC: Record<string, (b: Buffer) => boolean> = {
  'image/jpeg': (b) => b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  'image/png': (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  'image/apng': (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  'image/gif': (b) => b.subarray(0, 6).toString('latin1') === 'GIF87a' || b.subarray(0, 6).toString('latin1') === 'GIF89a',
  'image/webp': (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP',
  'image/avif': (b) => b.subarray(4, 8).toString('latin1') === 'ftyp' && /^avi[fs]$/.test(b.subarray(8, 12).toString('latin1')),
};

/** Markup at the start of the bytes (after a BOM and whitespace): what a browser might render as a page. */
function looksLikeMarkup(head: Buffer): boolean {
  const text = head.subarray(0, 1024).toString('utf8').replace(/^\uFEFF/, '').trimStart().toLowerCase();
  return /^<(?:!doctype\s+html|html|head|body|script|iframe|svg|\?xml|!--|div|a\s|img|meta|style|title|object|embed)/.test(text);
}

/**
 * The Content-Type media is served with (authed-content-repo `downloadContentType`: "exactly the same
 * as the original upload, or reasonably close"): the declared type, except
 * - none or a malformed one: application/octet-stream;
 * - an inline-safe image type whose bytes are not that image (an encrypted file claimed as
 *   image/png): application/octet-stream;
 * - text declared as plain text, CSS, CSV or JSON whose bytes start like HTML: text/html;
 * - audio or video whose bytes start with markup: application/octet-stream.
 * The result decides inline or attachment; the uploaded bytes are never changed.
 */
export function servedTypeOf(declared: string | null, head: Buffer): string {
  if (declared === null || !CONTENT_TYPE_RE.test(declared.trim())) return OCTET_STREAM;
  const type = declared.trim();
  const base = baseType(type);
  const magic = IMAGE_MAGIC[base];
  if (magic) return magic(head) ? type : OCTET_STREAM;
  if ((base.startsWith('text/') || base === 'application/json' || base === 'application/ld+json') && INLINE_TYPES.has(base) && looksLikeMarkup(head)) return 'text/html';
  if ((base.startsWith('audio/') || base.startsWith('video/')) && looksLikeMarkup(head)) return OCTET_STREAM;
  return type;
}

/** inline for the spec's safe types, attachment for everything else. */
export const dispositionType = (servedType: string): 'inline' | 'attachment' => (INLINE_TYPES.has(baseType(servedType)) ? 'inline' : 'attachment');

const PLAIN_FILENAME = /^[\x20-\x7e]*$/;

/**
 * A Content-Disposition header (RFC 6266): `inline` or `attachment`, with the file name when there is
 * one. A name in printable ASCII without quotes or backslashes goes in `filename="..."`; any other
 * gets an ASCII fallback (other characters as `_`) and the exact name in `filename*=UTF-8''...`
 * (RFC 5987 percent-encoding).
 */
export function contentDisposition(type: 'inline' | 'attachment', filename: string | null): string {
  if (filename === null || filename === '') return type;
  if (PLAIN_FILENAME.test(filename) && !/["\\]/.test(filename)) return `${type}; filename="${filename}"`;
  const fallback = filename.replace(/[^\x20-\x7e]|["\\]/gu, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${type}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
