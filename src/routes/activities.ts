import { createRoute, z } from '@hono/zod-openapi'
import {
  createActivity,
  deleteActivity,
  getActivity,
  listActivities,
  patchActivity,
} from '../accounts/activities.js'
import {
  ActivityKind,
  ActivityPatch,
  ActivitySort,
  CasePriority,
  CaseStatus,
  NewActivity,
  TaskStatus,
} from '../accounts/activity-input.js'
import type { Deps } from '../deps.js'
import { AppError } from '../errors.js'
import { byMethod } from './auth.js'
import { errors, IdParam, json, jsonBody, router } from './openapi.js'
import { PageQuery } from './pagination.js'
import { decodeCursor, sortedPage } from './sort-cursor.js'

const Common = {
  id: z.uuid(),
  account_id: z.uuid(),
  created_at: z.string(),
  updated_at: z.string(),
}
const Text = { subject: z.string(), body: z.string().nullable() }

const Activity = z
  .discriminatedUnion('kind', [
    z.object({
      ...Common,
      kind: z.literal('email'),
      ...Text,
      from: z.string().nullable(),
      to: z.array(z.string()),
    }),
    z.object({
      ...Common,
      kind: z.literal('task'),
      ...Text,
      due_at: z.string().nullable(),
      status: z.enum(TaskStatus),
    }),
    z.object({ ...Common, kind: z.literal('event'), ...Text, starts_at: z.string(), ends_at: z.string() }),
    z.object({
      ...Common,
      kind: z.literal('document'),
      name: z.string(),
      link: z.string(),
      content_type: z.string().nullable(),
    }),
    z.object({
      ...Common,
      kind: z.literal('case'),
      ...Text,
      status: z.enum(CaseStatus),
      priority: z.enum(CasePriority),
    }),
  ])
  .openapi('Activity')

const Filter = z.object({
  kind: z.enum(ActivityKind).optional(),
  status: z
    .enum([...TaskStatus, 'pending', 'closed'])
    .optional()
    .openapi({ description: 'Tasks and cases in this status' }),
  due_before: z.coerce.date().optional().openapi({ description: 'Tasks due strictly before this instant' }),
  since: z.coerce.date().optional().openapi({ description: 'Created at or after this instant' }),
  until: z.coerce.date().optional().openapi({ description: 'Created strictly before this instant' }),
  sort: ActivitySort,
  ...PageQuery,
})

const noSuchActivity = () => new AppError('not_found', { message: 'no such activity' })
const noSuchAccount = () => new AppError('not_found', { message: 'no such account' })
const invalid = (details: { path: string; message: string }[]) =>
  new AppError('bad_request', { message: 'request validation failed', details })

/**
 * Activities the distributor logs on any account. Mounted at `/v1` (see contactsRoutes): auth
 * is scoped to this router's own paths.
 */
export function activitiesRoutes({ sql }: Pick<Deps, 'sql'>) {
  const app = router()
  const auth = byMethod(sql, 'admin')
  app.use('/accounts/:id/activities', auth)
  app.use('/activities/:id', auth)

  app.openapi(
    createRoute({
      method: 'get',
      path: '/accounts/{id}/activities',
      tags: ['Activities'],
      summary: "An account's activities (filter by kind, status, due date, creation time)",
      request: { params: IdParam, query: Filter },
      responses: {
        200: json(z.object({ data: z.array(Activity), next_cursor: z.string().optional() }), 'activities'),
        ...errors(400, 401, 404),
      },
    }),
    async (c) => {
      const { cursor, ...q } = c.req.valid('query')
      const after = decodeCursor(cursor, q.sort)
      const page = await listActivities(sql, c.req.valid('param').id, { ...q, after })
      if (!page) throw noSuchAccount()
      return c.json(sortedPage(q.sort, page), 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/accounts/{id}/activities',
      tags: ['Activities'],
      summary: 'Log an activity on an account: an email, task, event, document or case',
      request: { params: IdParam, body: jsonBody(NewActivity) },
      responses: {
        201: json(z.object({ data: Activity }), 'created'),
        ...errors(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const result = await createActivity(sql, c.req.valid('param').id, c.req.valid('json'))
      switch (result.outcome) {
        case 'account_not_found':
          throw noSuchAccount()
        case 'invalid':
          throw invalid(result.details)
        case 'created':
          return c.json({ data: result.activity }, 201)
      }
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/activities/{id}',
      tags: ['Activities'],
      summary: 'One activity',
      request: { params: IdParam },
      responses: { 200: json(z.object({ data: Activity }), 'the activity'), ...errors(400, 401, 404) },
    }),
    async (c) => {
      const activity = await getActivity(sql, c.req.valid('param').id)
      if (!activity) throw noSuchActivity()
      return c.json({ data: activity }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/activities/{id}',
      tags: ['Activities'],
      summary: "Change fields of the activity's own kind (the kind itself is immutable)",
      request: { params: IdParam, body: jsonBody(ActivityPatch) },
      responses: { 200: json(z.object({ data: Activity }), 'updated'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const result = await patchActivity(sql, c.req.valid('param').id, c.req.valid('json'))
      switch (result.outcome) {
        case 'not_found':
          throw noSuchActivity()
        case 'kind_immutable':
          throw invalid([{ path: 'kind', message: `immutable: this activity is ${result.kind}` }])
        case 'invalid':
          throw invalid(result.details)
        case 'updated':
          return c.json({ data: result.activity }, 200)
      }
    },
  )

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/activities/{id}',
      tags: ['Activities'],
      summary: 'Delete an activity',
      request: { params: IdParam },
      responses: { 204: { description: 'deleted' }, ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      if (!(await deleteActivity(sql, c.req.valid('param').id))) throw noSuchActivity()
      return c.body(null, 204)
    },
  )
  return app
}
