import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Fault injection runs on its own, one file at a time: `npm run test:faults`.
    exclude: ['test/faults/**', '**/node_modules/**'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Files run in parallel, each in its own cloned database and queue prefix.
    pool: 'forks',
    restoreMocks: true,
  },
})
