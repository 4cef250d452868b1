// CORS as the spec requires for browser clients (matrix-spec: client-server-api "Web Browser Clients"):
// every origin, the methods, and the headers clients send; OPTIONS answered without auth.

export const CORS_HEADERS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'X-Requested-With, Content-Type, Authorization, Hearth-Session',
  'Access-Control-Expose-Headers': 'Hearth-Session, Retry-After',
};

const CORS_ENTRIES = Object.entries(CORS_HEADERS);

/** Sets the CORS headers on a response. */
export function setCorsHeaders(res: { setHeader(name: string, value: string): unknown }): void {
  for (const [k, v] of CORS_ENTRIES) res.setHeader(k, v);
}
