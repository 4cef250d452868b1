// jest setupFiles of the `postgres` project: the helpers that open storage (test/helpers/storage.ts)
// read the engine from here, so the same test files run on SQLite in the `sqlite` project.
process.env.HEARTH_TEST_ENGINE = 'postgres';
