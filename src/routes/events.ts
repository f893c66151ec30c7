import { createRoute, z } from '@hono/zod-openapi'
import type { Deps } from '../deps.js'
import { AppError } from '../errors.js'
import { EventStatus, getEvent, listEvents, markForReplay } from '../inbox/events.js'
import { enqueueRows } from '../inbox/relay.js'
import type { EventRef } from '../queue/jobs.js'
import { byMethod } from './auth.js'
import { errors, json, jsonBody, router } from './openapi.js'
import { decodeCursor, PageQuery, page } from './pagination.js'

const Event = z
  .object({
    id: z.string(),
    source_id: z.uuid(),
    webhook_id: z.string(),
    event_type: z.string(),
    object_id: z.string().nullable(),
    occurred_at: z.string().nullable(),
    received_at: z.string(),
    processed_at: z.string().nullable(),
    status: z.enum(EventStatus),
    attempts: z.number().int(),
    error: z.string().nullable(),
    error_details: z.unknown(),
    waiting_for_kind: z.string().nullable(),
    waiting_for_id: z.string().nullable(),
    request_id: z.string().nullable(),
  })
  .openapi('Event')

const Filter = z.object({
  source_id: z.uuid().optional(),
  status: z.enum(EventStatus).optional(),
  type: z.string().max(100).optional(),
  object_id: z.string().max(256).optional().openapi({ description: 'the external id of the object' }),
  since: z.coerce.date().optional(),
  until: z.coerce.date().optional(),
})

const EventIdParam = z.object({
  id: z
    .string()
    .regex(/^\d{1,18}$/)
    .openapi({ param: { name: 'id', in: 'path' } }),
})

export function eventsRoutes(deps: Deps) {
  const { sql } = deps
  const app = router()
  app.use('*', byMethod(sql, 'admin'))

  /** Queues replayed rows now; if Redis is down they are `received` without a job and the relay takes them. */
  async function requeue(refs: EventRef[]) {
    await enqueueRows(deps, refs).catch((err: unknown) =>
      deps.log.warn({ err: (err as Error).message }, 'replay enqueue deferred to relay'),
    )
  }

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['Events'],
      summary: 'Search received events (newest first)',
      request: { query: Filter.extend(PageQuery) },
      responses: {
        200: json(z.object({ data: z.array(Event), next_cursor: z.string().optional() }), 'events'),
        ...errors(400, 401),
      },
    }),
    async (c) => {
      const { limit, cursor, ...filter } = c.req.valid('query')
      return c.json(page(await listEvents(sql, filter, limit, decodeCursor(cursor)), limit), 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: ['Events'],
      summary: 'One event with its raw payload, outcome and error',
      request: { params: EventIdParam },
      responses: {
        200: json(
          z.object({
            data: Event.extend({
              payload: z.unknown().openapi({ description: 'the raw payload as received' }),
              origin: z.enum(['webhook', 'reconcile']),
              fetched: z
                .record(z.string(), z.unknown())
                .nullable()
                .openapi({ description: 'thin notifications: what the BSS answered, by request' }),
              fetched_at: z.string().nullable(),
              mapped: z.unknown().openapi({
                description:
                  'what the payload maps to under the source format: { ok, operations } or { ok: false, reason, details }',
              }),
            }),
          }),
          'the event',
        ),
        ...errors(400, 401, 404),
      },
    }),
    async (c) => {
      const event = await getEvent(sql, c.req.valid('param').id)
      if (!event) throw new AppError('not_found', { message: 'no such event' })
      return c.json({ data: event }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/replay',
      tags: ['Events'],
      summary: 'Run a settled event again (after a fix); an event still in flight answers 409',
      request: { params: EventIdParam },
      responses: {
        202: json(z.object({ id: z.string(), status: z.literal('received') }), 'queued again'),
        ...errors(400, 401, 403, 404, 409),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param')
      const refs = await markForReplay(sql, { id })
      if (refs.length === 0) {
        const exists = await getEvent(sql, id)
        if (!exists) throw new AppError('not_found', { message: 'no such event' })
        throw new AppError('conflict', { message: `event ${id} is still ${exists.status}` })
      }
      await requeue(refs)
      return c.json({ id, status: 'received' as const }, 202)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/replay',
      tags: ['Events'],
      summary: 'Replay every settled event that matches (by default: failed ones)',
      request: { body: jsonBody(Filter.extend({ status: z.enum(EventStatus).default('failed') })) },
      responses: {
        202: json(z.object({ replayed: z.number().int() }), 'queued again'),
        ...errors(400, 401, 403),
      },
    }),
    async (c) => {
      const refs = await markForReplay(sql, c.req.valid('json'))
      await requeue(refs)
      return c.json({ replayed: refs.length }, 202)
    },
  )
  return app
}
