/** Where the test suite finds its services; CI and a developer machine use the defaults. */
export const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://127.0.0.1:5432/postgres'
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
export const TEMPLATE_DB = 'tiersync_test_template'

export function dbUrl(name: string): string {
  const u = new URL(ADMIN_URL)
  u.pathname = `/${name}`
  return u.toString()
}
