// JSON request bodies, whatever the Content-Type (clients may omit it): read with a size limit,
// checked for valid UTF-8, parsed. Not JSON: 400 M_NOT_JSON; too large: 413 M_TOO_LARGE.
import type { NextFunction, Request, Response } from 'express';
import { notJson, tooLarge } from '../errors.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

export function jsonBody(limitBytes: number) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') {
      req.body = undefined;
      next();
      return;
    }
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limitBytes) {
      // Drain the request so the connection stays usable, then answer 413.
      req.resume();
      next(tooLarge());
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
        next(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', (err) => {
      if (!failed) {
        failed = true;
        next(err);
      }
    });
    req.on('end', () => {
      if (failed) return;
      const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      (req as Request & { rawBody?: Buffer }).rawBody = raw;
      if (raw.length === 0) {
        req.body = {};
        next();
        return;
      }
      let text: string;
      try {
        text = decoder.decode(raw);
      } catch {
        next(notJson('Body is not valid UTF-8'));
        return;
      }
      try {
        req.body = JSON.parse(text);
      } catch {
        next(notJson('Body is not valid JSON'));
        return;
      }
      next();
    });
  };
}
