import { defineConfig } from 'vitest/config'

// `npm run test:faults`: real processes, real signals, private Redis and Postgres instances. One
// file at a time: each scenario loads the 2-core machine on its own, and its figures mean something.
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
    restoreMocks: true,
  },
})
