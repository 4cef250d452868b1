// JSON request bodies with Express's own parser (express.json, i.e. body-parser), whatever the
// Content-Type (clients may omit it or send text/plain): size limit, valid UTF-8 checked on the raw
// bytes, then parsed. The error middleware (errors.ts) maps its errors: not JSON or not UTF-8 to
// 400 M_NOT_JSON, too large to 413 M_TOO_LARGE. A body that is JSON but not an object is left to the
// handler (objectBody: 400 M_BAD_JSON).
import express, { type RequestHandler } from 'express';

/** The error type of a body that is not valid UTF-8 (mapped to M_NOT_JSON). */
export const INVALID_UTF8 = 'hearth.body.invalid_utf8';

const decoder = new TextDecoder('utf-8', { fatal: true });

export function jsonBody(limitBytes: number): RequestHandler {
  return express.json({
    limit: limitBytes,
    type: () => true,
    strict: false,
    verify: (_req, _res, buf, encoding) => {
      if (encoding !== 'utf-8' && encoding !== 'utf8') return;
      try {
        decoder.decode(buf);
      } catch {
        throw Object.assign(new Error('Body is not valid UTF-8'), { type: INVALID_UTF8 });
      }
    },
  });
}
