/** jest 30 + ts-jest in ESM mode (see ../shared/docs/house-style.md). */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: false }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // Builds of other commits for `npm run bench -- --against` (bench/.against) and the bench's peer servers
  // (bench/.peers) are not part of this package.
  modulePathIgnorePatterns: ['<rootDir>/bench/.against/', '<rootDir>/bench/.build/', '<rootDir>/bench/.peers/'],
  // e2e tests drive matrix-js-sdk, which keeps timers alive after stopClient().
  forceExit: true,
  testTimeout: 30000,
};
