// CORS as the spec requires for browser clients (matrix-spec: client-server-api "Web Browser Clients"):
// every origin, the methods, and the headers clients send; OPTIONS answered without auth.
import type { NextFunction, Request, Response } from 'express';

export const CORS_HEADERS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'X-Requested-With, Content-Type, Authorization, Hearth-Session',
  'Access-Control-Expose-Headers': 'Hearth-Session, Retry-After',
};

export function cors(req: Request, res: Response, next: NextFunction): void {
  res.set(CORS_HEADERS);
  if (req.method === 'OPTIONS') {
    res.status(204).end();
    return;
  }
  next();
}
