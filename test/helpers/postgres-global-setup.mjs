// jest globalSetup of the `postgres` project (jest.config.js): one throwaway PostgreSQL cluster for
// the whole run (scripts/pg-cluster.mjs), its URL handed to the test workers in HEARTH_TEST_PG_URL.
// When it cannot start, the reason goes to HEARTH_TEST_PG_ERROR instead, and every test file of the
// project fails with it (test/helpers/postgres-setup.ts): they fail, they are never skipped, and the
// SQLite project still runs.
import { execFileSync } from 'node:child_process';
import { startCluster } from '../../scripts/pg-cluster.mjs';

export default async function setup() {
  try {
    const cluster = await startCluster({ fsync: false });
    globalThis.__hearthPgCluster = cluster;
    process.env.HEARTH_TEST_PG_URL = cluster.url;
    delete process.env.HEARTH_TEST_PG_ERROR;
    // A run that ends without globalTeardown (an interrupted jest) still stops its cluster.
    process.once('exit', () => {
      if (globalThis.__hearthPgCluster !== cluster) return;
      try {
        const args = ['-D', cluster.data, '-m', 'immediate', 'stop'];
        if (cluster.asRoot) execFileSync('runuser', ['-u', 'postgres', '--', `${cluster.bin}/pg_ctl`, ...args], { stdio: 'ignore' });
        else execFileSync(`${cluster.bin}/pg_ctl`, args, { stdio: 'ignore' });
        execFileSync('rm', ['-rf', cluster.dir]);
      } catch {
        // nothing more to do on the way out
      }
    });
  } catch (e) {
    process.env.HEARTH_TEST_PG_ERROR = e instanceof Error ? e.message : String(e);
    delete process.env.HEARTH_TEST_PG_URL;
  }
}
