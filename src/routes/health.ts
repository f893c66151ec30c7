import { Hono } from 'hono'
import { withTimeout } from '../async.js'
import type { Deps } from '../deps.js'

/** Liveness, readiness and Prometheus metrics: unauthenticated, for the platform's probes and scraper. */
export function healthRoutes(deps: Pick<Deps, 'sql' | 'redis' | 'metrics'>) {
  const app = new Hono()
  app.get('/healthz', (c) => c.json({ status: 'ok' }))
  app.get('/metrics', async (c) => {
    const { registry } = deps.metrics
    return c.body(await registry.metrics(), 200, { 'content-type': registry.contentType })
  })
  app.get('/readyz', async (c) => {
    const [postgres, redis] = await Promise.all([
      deps.sql`select 1`.then(
        () => 'ok' as const,
        () => 'unavailable' as const,
      ),
      withTimeout(deps.redis.ping(), 1000, 'redis ping').then(
        () => 'ok' as const,
        () => 'unavailable' as const,
      ),
    ])
    const ready = postgres === 'ok' && redis === 'ok'
    return c.json({ status: ready ? 'ready' : 'not_ready', postgres, redis }, ready ? 200 : 503)
  })
  return app
}
