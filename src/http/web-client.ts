// The built-in web client (spec/web-client.md): the files `npm run build` writes to dist/web/
// (scripts/build-web.mjs: content-hashed bundles, an index.html naming them, and .br/.gz siblings
// compressed at build time), served at `web_client.path`. Mounted by createApp after the Hearth
// router, so it never shadows a Matrix route, and it answers only for the files it has: anything
// else falls through to the Matrix 404.
//
// Caching: index.html is `no-cache` (revalidated by ETag, so a new build is picked up at once); every
// other file carries a content hash in its name and is `immutable` for a year. Encoding: the
// precompressed variant the client accepts (br, then gzip, by Accept-Encoding q-values), with
// `Vary: Accept-Encoding`. Every answer carries the page's security headers.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NextFunction, Request, Response } from 'express';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';

/** dist/web/ of this package: src/http/ and dist/http/ are both two levels below the package root. */
export const WEB_CLIENT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'web');

/**
 * The page's policy: scripts and styles only from files of this origin (no inline script or style),
 * API calls only to this origin, no framing, no <base>, forms only to this origin.
 */
export const WEB_CLIENT_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

export const WEB_CLIENT_HEADERS: Record<string, string> = {
  'Content-Security-Policy': WEB_CLIENT_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

export const IMMUTABLE = 'public, max-age=31536000, immutable';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** esbuild's `[name]-[hash]` names: a hash of 8 or more letters and digits before the extension. */
const HASHED = /-[A-Za-z0-9]{8,}\.[A-Za-z0-9]+$/;

type Encoding = 'br' | 'gzip';

interface Variant {
  body: Buffer;
  etag: string;
}

interface Asset {
  type: string;
  cacheControl: string;
  identity: Variant;
  encoded: Partial<Record<Encoding, Variant>>;
}

const etagOf = (body: Buffer, suffix: string) => `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}${suffix}"`;

/** A file's bytes, or undefined when it is not there (any more: a build swapped in meanwhile). */
function readIfThere(file: string): Buffer | undefined {
  try {
    return statSync(file).isFile() ? readFileSync(file) : undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Reads the built files into memory (a few hundred KB at most); index.html and hashed names only. */
export function loadWebClient(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(join(dir, 'index.html'))) return assets;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return assets;
    throw e;
  }
  for (const name of names) {
    if (name.endsWith('.br') || name.endsWith('.gz')) continue;
    const isIndex = name === 'index.html';
    if (!isIndex && !HASHED.test(name)) continue; // only what the build names by content is cacheable
    const file = join(dir, name);
    const body = readIfThere(file);
    if (!body) continue;
    const asset: Asset = {
      type: TYPES[extname(name)] ?? 'application/octet-stream',
      cacheControl: isIndex ? 'no-cache' : IMMUTABLE,
      identity: { body, etag: etagOf(body, '') },
      encoded: {},
    };
    for (const [enc, ext] of [['br', '.br'], ['gzip', '.gz']] as const) {
      const encodedBody = readIfThere(file + ext);
      if (encodedBody) asset.encoded[enc] = { body: encodedBody, etag: etagOf(body, `-${enc}`) };
    }
    assets.set(name, asset);
  }
  return assets;
}

/**
 * The encoding to send: br when acceptable, else gzip, else none. `q=0` refuses a coding; `*`
 * stands for codings not named (RFC 9110 12.5.3).
 */
export function chooseEncoding(header: string | undefined, available: readonly Encoding[]): Encoding | undefined {
  if (!header || available.length === 0) return undefined;
  const q = new Map<string, number>();
  for (const part of header.split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (!coding) continue;
    let weight = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p);
      if (m) weight = Number(m[1]);
    }
    q.set(coding, Number.isFinite(weight) ? weight : 0);
  }
  const weightOf = (c: string) => q.get(c) ?? (c === 'gzip' ? q.get('x-gzip') : undefined) ?? q.get('*') ?? 0;
  let best: Encoding | undefined;
  let bestQ = 0;
  for (const enc of ['br', 'gzip'] as const) {
    if (!available.includes(enc)) continue;
    const w = weightOf(enc);
    if (w > bestQ) {
      best = enc;
      bestQ = w;
    }
  }
  return best;
}

const matches = (ifNoneMatch: string | undefined, etag: string) =>
  ifNoneMatch !== undefined && (ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag));

export interface WebClientOptions {
  /** Where the built files are; dist/web/ of this package by default (tests point elsewhere). */
  dir?: string;
  logger?: Logger;
}

/**
 * The middleware serving the web client at `config.path` ('/' or '/chat/'), or undefined when it is
 * turned off. GET and HEAD of known files only; everything else goes on to the next handler.
 */
export function webClientMiddleware(config: Config['web_client'], opts: WebClientOptions = {}) {
  if (!config.enabled) return undefined;
  const dir = opts.dir ?? WEB_CLIENT_DIR;
  const assets = loadWebClient(dir);
  if (assets.size === 0) {
    opts.logger?.warn({ dir }, 'web_client is enabled but the web client is not built (no index.html): run `npm run build`');
  }
  const base = config.path.endsWith('/') ? config.path : `${config.path}/`;
  const bare = base.slice(0, -1);
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const path = req.path;
    // '/chat' -> '/chat/': the page names its files relative to its own URL.
    if (bare !== '' && path === bare && assets.size > 0) {
      const q = req.originalUrl.indexOf('?');
      res.redirect(301, base + (q >= 0 ? req.originalUrl.slice(q) : ''));
      return;
    }
    if (!path.startsWith(base)) return next();
    const name = path === base ? 'index.html' : path.slice(base.length);
    const asset = assets.get(name);
    if (!asset) return next();
    const encoding = chooseEncoding(req.headers['accept-encoding'], Object.keys(asset.encoded) as Encoding[]);
    const variant = (encoding && asset.encoded[encoding]) || asset.identity;
    for (const [k, v] of Object.entries(WEB_CLIENT_HEADERS)) res.setHeader(k, v);
    res.setHeader('Cache-Control', asset.cacheControl);
    if (Object.keys(asset.encoded).length > 0) res.setHeader('Vary', 'Accept-Encoding');
    res.setHeader('ETag', variant.etag);
    if (matches(req.headers['if-none-match'], variant.etag)) {
      res.status(304).end();
      return;
    }
    res.setHeader('Content-Type', asset.type);
    if (encoding) res.setHeader('Content-Encoding', encoding);
    res.setHeader('Content-Length', variant.body.length);
    res.status(200).end(variant.body); // Node sends no body for HEAD
  };
}
