// HTTP pieces of the media repository: the security headers every media response carries (errors
// included), and streaming a media answer (a byte range, HEAD, a client that goes away).
import type { NextFunction, Request, Response } from 'express';
import { pipeline } from 'node:stream/promises';
import { frameMedia } from '../core/media/multipart.js';
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

/**
 * Writes a media answer for another server (matrix-spec: server-server/content_repository.yaml
 * #getContent): multipart/mixed with the JSON metadata part (`{}`) and the bytes with their
 * Content-Type and Content-Disposition, streamed from the store; with the media security headers.
 */
export async function sendMultipartMedia(res: Response, m: MediaResponse): Promise<void> {
  const frame = frameMedia(m.contentType, m.contentDisposition);
  for (const [k, v] of HEADERS) res.setHeader(k, v);
  res.status(200);
  res.setHeader('Content-Type', frame.contentType);
  res.setHeader('Content-Length', frame.head.length + m.length + frame.tail.length);
  res.setHeader('Cache-Control', 'private, max-age=86400');
  res.write(frame.head);
  try {
    await pipeline(m.body, res, { end: false });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE' || res.destroyed) return;
    throw e;
  }
  res.end(frame.tail);
}
