// JSON request bodies, whatever the Content-Type (clients may omit it): read with a size limit,
// checked for valid UTF-8, parsed. Not JSON: 400 M_NOT_JSON; too large: 413 M_TOO_LARGE.
import { notJson, tooLarge } from '../errors.js';
import type { HttpRequest } from './types.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Reads and parses the body into `req.body` ({} when empty; undefined for GET, HEAD, OPTIONS). */
export function readJsonBody(req: HttpRequest, limitBytes: number): Promise<void> | undefined {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') {
    req.body = undefined;
    return undefined;
  }
  return new Promise((resolve, reject) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limitBytes) {
      // Drain the request so the connection stays usable, then answer 413.
      req.resume();
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limitBytes) {
        failed = true;
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', (err) => {
      if (!failed) {
        failed = true;
        reject(err);
      }
    });
    req.on('end', () => {
      if (failed) return;
      const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      req.rawBody = raw;
      if (raw.length === 0) {
        req.body = {};
        resolve();
        return;
      }
      let text: string;
      try {
        text = decoder.decode(raw);
      } catch {
        reject(notJson('Body is not valid UTF-8'));
        return;
      }
      try {
        req.body = JSON.parse(text);
      } catch {
        reject(notJson('Body is not valid JSON'));
        return;
      }
      resolve();
    });
  });
}
