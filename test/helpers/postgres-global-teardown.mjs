// jest globalTeardown of the `postgres` project: stops the cluster globalSetup started and removes it.
import { stopCluster } from '../../scripts/pg-cluster.mjs';

export default async function teardown() {
  const cluster = globalThis.__hearthPgCluster;
  globalThis.__hearthPgCluster = undefined;
  stopCluster(cluster);
}
