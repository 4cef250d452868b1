// Base64 as Matrix uses it (matrix-spec: content/appendices.md "Unpadded Base64",
// "URL-safe unpadded Base64").

/** Standard alphabet (`+`, `/`), without `=` padding. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64').replace(/=+$/, '');
}

/** URL-safe alphabet (`-`, `_`), without `=` padding. */
export function encodeBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

const BASE64_CHARS = /^[A-Za-z0-9+/_-]*$/;

/**
 * Decodes padded or unpadded Base64 in either alphabet ("implementations SHOULD accept input with or
 * without padding characters"). Throws on characters outside the alphabets, on a wrong amount of
 * padding and on an impossible length (Node's own decoder silently skips such input).
 */
export function decodeBase64(s: string): Buffer {
  const body = s.replace(/={1,2}$/, '');
  const padding = s.length - body.length;
  if (!BASE64_CHARS.test(body) || body.length % 4 === 1 || (padding > 0 && s.length % 4 !== 0)) {
    throw new Error('Invalid base64');
  }
  return Buffer.from(body, 'base64');
}
