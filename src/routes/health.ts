import { createRoute, z } from '@hono/zod-openapi'
import { withTimeout } from '../async.js'
import type { Deps } from '../deps.js'
import { json, router } from './openapi.js'

const Ready = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    postgres: z.enum(['ok', 'unavailable']),
    redis: z.enum(['ok', 'unavailable']),
  })
  .openapi('Readiness')

/** Liveness, readiness and Prometheus metrics: unauthenticated, for the platform's probes and scraper. */
export function healthRoutes(deps: Pick<Deps, 'sql' | 'redis' | 'metrics'>) {
  const app = router()
  app.openapi(
    createRoute({
      method: 'get',
      path: '/healthz',
      tags: ['Operations'],
      summary: 'Liveness: the process is up',
      security: [],
      responses: { 200: json(z.object({ status: z.literal('ok') }), 'up') },
    }),
    (c) => c.json({ status: 'ok' as const }, 200),
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/readyz',
      tags: ['Operations'],
      summary: 'Readiness: Postgres and Redis answer',
      security: [],
      responses: { 200: json(Ready, 'ready'), 503: json(Ready, 'not ready') },
    }),
    async (c) => {
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
      return ready
        ? c.json({ status: 'ready' as const, postgres, redis }, 200)
        : c.json({ status: 'not_ready' as const, postgres, redis }, 503)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/metrics',
      tags: ['Operations'],
      summary: 'Prometheus metrics (text exposition format)',
      security: [],
      responses: {
        200: {
          description: 'the metrics',
          content: { 'text/plain': { schema: z.string() } },
        },
      },
    }),
    async (c) => {
      const { registry } = deps.metrics
      c.header('content-type', registry.contentType)
      return c.text(await registry.metrics(), 200)
    },
  )
  return app
}
