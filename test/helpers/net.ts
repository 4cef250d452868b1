// Ports for tests that start real listeners (federation listeners, Synapse).
import { createServer, type AddressInfo } from 'node:net';

/** A TCP port free on 127.0.0.1 right now (bound and released: another process could take it, rarely). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok, fail) => {
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => ok());
  });
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}
