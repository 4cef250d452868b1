// The federation listener (federation.enabled): a second HTTP(S) server that serves only
// /_matrix/federation and /_matrix/key, built from the same app building blocks as the client
// listener (createApp with FEDERATION_PREFIXES). HTTPS with the configured PEM files, or plain HTTP
// when there are none (a reverse proxy terminates TLS in front of it). The client listener keeps
// serving both prefixes too, for setups that route everything to one port.
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../config.js';
import type { Services } from '../services.js';
import { createApp, FEDERATION_PREFIXES } from './app.js';
import type { Metrics } from './metrics.js';

export interface FederationListener {
  server: Server;
  /** `https://host:port` (or `http://` without TLS files), with the port actually bound. */
  url: string;
  port: number;
  /** Stops listening and closes its connections. */
  close(): Promise<void>;
}

function readPem(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new ConfigError([`${key}: cannot read ${path} (${(e as Error).message})`]);
  }
}

export async function startFederationListener(services: Services, opts: { metrics?: Metrics } = {}): Promise<FederationListener> {
  const f = services.config.federation;
  const app = createApp(services, { only: FEDERATION_PREFIXES, ...(opts.metrics ? { metrics: opts.metrics } : {}) });
  const tls = f.tls_certificate_path !== null && f.tls_private_key_path !== null;
  const server: Server = tls
    ? createHttpsServer({
      cert: readPem(f.tls_certificate_path!, 'federation.tls_certificate_path'),
      key: readPem(f.tls_private_key_path!, 'federation.tls_private_key_path'),
    }, app)
    : createHttpServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(f.listen.port, f.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.keepAliveTimeout = 65_000;
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let closing: Promise<void> | undefined;
  return {
    server,
    port: addr.port,
    url: `${tls ? 'https' : 'http'}://${host}:${addr.port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      });
      return closing;
    },
  };
}
