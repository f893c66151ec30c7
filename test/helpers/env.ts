/** Where the test suite finds its services; CI and a developer machine use the defaults. */
export const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://127.0.0.1:5432/postgres'
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
/** This run's id, set by the global setup (test/helpers/global-setup.ts). */
export function testRun(): string {
  const run = process.env.TIERSYNC_TEST_RUN
  if (!run) throw new Error('TIERSYNC_TEST_RUN is not set: run the tests through vitest')
  return run
}

export function templateDb(): string {
  return `tiersync_tpl_${testRun()}`
}

export function dbUrl(name: string): string {
  const u = new URL(ADMIN_URL)
  u.pathname = `/${name}`
  return u.toString()
}
