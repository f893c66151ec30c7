import { OpenAPIHono } from '@hono/zod-openapi'
import { methodNotAllowed } from 'hono/method-not-allowed'
import { requestId } from 'hono/request-id'
import { matchedRoutes } from 'hono/route'
import type { Deps } from './deps.js'
import { AppError } from './errors.js'
import { accountsRoutes } from './routes/accounts.js'
import { activitiesRoutes } from './routes/activities.js'
import { apiKeysRoutes } from './routes/api-keys.js'
import { contactsRoutes } from './routes/contacts.js'
import { dashboardRoutes } from './routes/dashboard.js'
import { errorResponse, onError } from './routes/error-handler.js'
import { eventsRoutes } from './routes/events.js'
import { healthRoutes } from './routes/health.js'
import { invoiceRunsRoutes } from './routes/invoice-runs.js'
import { documentInvoiceExports, invoicesRoutes } from './routes/invoices.js'
import type { Env } from './routes/openapi.js'
import { priceBookRoutes } from './routes/price-book.js'
import { recordRequest } from './routes/requests.js'
import { sourcesRoutes } from './routes/sources.js'
import { subscriptionsRoutes } from './routes/subscriptions.js'
import { webhookRoutes } from './routes/webhooks.js'

export function createApp(deps: Deps) {
  const app = new OpenAPIHono<Env>()
  app.use('*', requestId({ headerName: 'x-request-id' }))
  app.use('*', async (c, next) => {
    const started = performance.now()
    await next()
    recordRequest(deps, {
      route: matchedRoutes(c).findLast((r) => r.method !== 'ALL')?.path ?? 'unmatched',
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: performance.now() - started,
      requestId: c.get('requestId'),
    })
  })

  app.route('/', healthRoutes(deps))
  app.route('/', dashboardRoutes(deps))
  app.route('/v1/webhooks', webhookRoutes(deps))
  app.route('/v1/api-keys', apiKeysRoutes(deps.sql))
  app.route('/v1/sources', sourcesRoutes(deps))
  // Before accounts: these serve /v1/accounts/{id}/contacts|activities with their own auth.
  app.route('/v1', contactsRoutes(deps))
  app.route('/v1', activitiesRoutes(deps))
  app.route('/v1/accounts', accountsRoutes(deps.sql))
  app.route('/v1/subscriptions', subscriptionsRoutes(deps.sql))
  app.route('/v1/events', eventsRoutes(deps))
  app.route('/v1/price-book', priceBookRoutes(deps.sql))
  app.route('/v1/invoice-runs', invoiceRunsRoutes(deps))
  app.route('/v1/invoices', invoicesRoutes(deps))

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'tiersync', version: '1', description: 'Mirror of reseller BSSs for a CSP distributor' },
    security: [{ bearer: [] }],
  })
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' })
  documentInvoiceExports(app.openAPIRegistry)

  app.use(
    '*',
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, allowed) => {
        c.header('Allow', allowed.join(', '))
        return errorResponse(
          c,
          new AppError('method_not_allowed', { message: `allowed: ${allowed.join(', ')}` }),
        )
      },
    }),
  )
  app.notFound((c) =>
    errorResponse(c, new AppError('not_found', { message: `no route for ${c.req.method} ${c.req.path}` })),
  )
  app.onError(onError(deps.log))
  return app
}
