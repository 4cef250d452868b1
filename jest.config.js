/** jest 30 + ts-jest in ESM mode (see ../shared/docs/house-style.md). */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: false }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // e2e tests drive matrix-js-sdk, which keeps timers alive after stopClient().
  forceExit: true,
  testTimeout: 30000,
};
