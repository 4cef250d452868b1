/** jest 30 + ts-jest in ESM mode (see ../shared/docs/house-style.md). */
const base = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: false }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  // Builds of other commits for `npm run bench -- --against` (bench/.against) and the bench's peer servers
  // (bench/.peers) are not part of this package.
  modulePathIgnorePatterns: ['<rootDir>/bench/.against/', '<rootDir>/bench/.build/', '<rootDir>/bench/.peers/'],
};

// The storage engine is chosen in one place, test/helpers/storage.ts (HEARTH_TEST_ENGINE): the tests
// of storage, of the API and end to end, and the core tests that write rooms' event graphs through a
// server, run twice, once per engine (`npm test` runs both projects; `npm test -- --selectProjects
// sqlite` one of them).
const BOTH_ENGINES = [
  '<rootDir>/test/storage/**/*.test.ts',
  '<rootDir>/test/api/**/*.test.ts',
  '<rootDir>/test/e2e/**/*.test.ts',
  '<rootDir>/test/core/events/**/*.test.ts',
  '<rootDir>/test/core/state/groups.test.ts',
];
// SQLite-only tests among those (each says why at its top): SQLite's own migrations from older
// schemas, and the SQLite connection settings.
const SQLITE_ONLY = [
  '/test/storage/migrate\\.test\\.ts$',
  '/test/storage/migrations\\.test\\.ts$',
  '/test/storage/graph-migration\\.test\\.ts$',
  '/test/storage/sqlite-open\\.test\\.ts$',
];
// PostgreSQL-only tests: *.pg.test.ts (the dialects compared, the room lock between two pools, the CLI).
const POSTGRES_ONLY = '\\.pg\\.test\\.ts$';

export default {
  projects: [
    {
      ...base,
      displayName: 'sqlite',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', POSTGRES_ONLY],
    },
    {
      ...base,
      displayName: 'postgres',
      testMatch: [...BOTH_ENGINES, '<rootDir>/test/**/*.pg.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', ...SQLITE_ONLY],
      // One throwaway cluster per run (scripts/pg-cluster.mjs); a fresh database per test server.
      globalSetup: '<rootDir>/test/helpers/postgres-global-setup.mjs',
      globalTeardown: '<rootDir>/test/helpers/postgres-global-teardown.mjs',
      setupFiles: ['<rootDir>/test/helpers/postgres-env.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/helpers/postgres-setup.ts'],
    },
  ],
  // e2e tests drive matrix-js-sdk, which keeps timers alive after stopClient().
  forceExit: true,
  testTimeout: 30000,
};
