// HTTP pieces of the media repository: the security headers every media response carries (errors
// included), and streaming a media answer (a byte range, HEAD, a client that goes away).
import type { NextFunction, Request, Response } from 'express';
import { pipeline } from 'node:stream/promises';
import { MEDIA_SECURITY_HEADERS } from '../core/media/sniff.js';
import type { MediaResponse } from '../core/media/service.js';

/** The path prefixes of media routes (legacy /_matrix/media/* and authenticated /_matrix/client/v1/media/*). */
export const MEDIA_PREFIXES = ['/_matrix/media', '/_matrix/client/v1/media'];

const HEADERS = Object.entries(MEDIA_SECURITY_HEADERS);

export function mediaSecurityHeaders(_req: Request, res: Response, next: NextFunction): void {
  for (const [k, v] of HEADERS) res.setHeader(k, v);
  next();
}

/** Writes a media answer: 200, or 206 with Content-Range; nothing but headers for HEAD. */
export async function sendMedia(req: Request, res: Response, m: MediaResponse): Promise<void> {
  res.status(m.range ? 206 : 200);
  res.setHeader('Content-Type', m.contentType);
  res.setHeader('Content-Disposition', m.contentDisposition);
  res.setHeader('Accept-Ranges', 'bytes');
  // Content never changes under its ID; private: it may be a private room's.
  res.setHeader('Cache-Control', 'private, max-age=86400');
  if (m.range) {
    res.setHeader('Content-Range', `bytes ${m.range.start}-${m.range.end}/${m.length}`);
    res.setHeader('Content-Length', m.range.end - m.range.start + 1);
  } else {
    res.setHeader('Content-Length', m.length);
  }
  if (req.method === 'HEAD') {
    m.body.destroy();
    res.end();
    return;
  }
  try {
    await pipeline(m.body, res);
  } catch (e) {
    // The client went away mid-way: nothing to answer.
    if ((e as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE' || res.destroyed) return;
    throw e;
  }
}
