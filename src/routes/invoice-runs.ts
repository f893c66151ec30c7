import { createRoute, z } from '@hono/zod-openapi'
import { createRun } from '../billing/runs.js'
import type { Deps } from '../deps.js'
import { AppError } from '../errors.js'
import { byMethod } from './auth.js'
import { errors, IdParam, json, jsonBody, router } from './openapi.js'

const Run = z
  .object({
    id: z.uuid(),
    period: z.string(),
    source_id: z.uuid().nullable(),
    dry_run: z.boolean(),
    status: z.enum(['queued', 'running', 'succeeded', 'failed']),
    report: z.unknown().openapi({
      description:
        'counts, per-reseller invoices (a preview for a dry run) and errors such as unpriced lines',
    }),
    error: z.string().nullable(),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
  })
  .openapi('InvoiceRun')

const NewRun = z
  .object({
    period: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'YYYY-MM'),
    source_id: z.uuid().optional(),
    dry_run: z.boolean().optional().openapi({ description: 'compute through the same path, write nothing' }),
  })
  .openapi('NewInvoiceRun')

type RunRow = z.infer<typeof Run>

export function invoiceRunsRoutes(deps: Deps) {
  const { sql } = deps
  const app = router()
  app.use('*', byMethod(sql, 'billing'))
  const tag = ['Invoices']
  const select = (id: string) => sql<RunRow[]>`
    select id, period, source_id, dry_run, status, report, error, created_at, started_at, finished_at
    from invoice_runs where id = ${id}`

  app.openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: tag,
      summary: 'Start an invoice run for a month (one reseller or all); runs in the worker',
      request: { body: jsonBody(NewRun) },
      responses: { 202: json(z.object({ data: Run }), 'queued'), ...errors(400, 401, 403, 404, 503) },
    }),
    async (c) => {
      const input = c.req.valid('json')
      if (input.source_id) {
        const [source] = await sql`select 1 from sources where id = ${input.source_id}`
        if (!source) throw new AppError('not_found', { message: 'no such source' })
      }
      const id = await createRun(sql, input)
      try {
        await deps.queues.enqueueInvoiceRun(id, c.get('requestId'))
      } catch {
        await sql`update invoice_runs set status = 'failed', error = 'queue unavailable' where id = ${id}`
        throw new AppError('queue_unavailable', {
          message: 'the job queue is unavailable, retry later',
          retryAfter: 5,
        })
      }
      const [run] = await select(id)
      return c.json({ data: run as RunRow }, 202)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: tag,
      summary: 'An invoice run and its report',
      request: { params: IdParam },
      responses: { 200: json(z.object({ data: Run }), 'the run'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const [run] = await select(c.req.valid('param').id)
      if (!run) throw new AppError('not_found', { message: 'no such invoice run' })
      return c.json({ data: run }, 200)
    },
  )
  return app
}
