// jest setupFilesAfterEnv of the `postgres` project: before a test file runs, the cluster must be up
// (a file fails with the reason when it is not) and the migrated template database that test databases
// are copied from must exist (the first file to get here makes it, with the production migrations).
import { afterAll } from '@jest/globals';
import { closeAdmin, drainStock, ensureTemplate, fillStock } from './storage.js';

await ensureTemplate();
await fillStock();
afterAll(async () => {
  await drainStock();
  await closeAdmin();
});
