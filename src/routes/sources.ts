import { createRoute, z } from '@hono/zod-openapi'
import type { Deps } from '../deps.js'
import { AppError } from '../errors.js'
import { MappingConfig, preview } from '../mappers/mapping.js'
import { SandboxUnavailable } from '../mappers/mapping-sandbox.js'
import { runReconcileNow, syncReconcileSchedules } from '../reconcile/schedule.js'
import { sourceHealth } from '../sources/health.js'
import {
  BssApiSettings,
  createSource,
  getSource,
  listSources,
  NewSource,
  rotateSecret,
  type Source,
  SourceFormat,
  SourcePatch,
  setEnabled,
  updateSource,
} from '../sources/sources.js'
import { VerificationConfig } from '../verify/schemes.js'
import { byMethod } from './auth.js'
import { errors, IdParam, json, jsonBody, router } from './openapi.js'

const SourceView = z
  .object({
    id: z.uuid(),
    name: z.string(),
    format: SourceFormat,
    verification: VerificationConfig,
    account_id: z.uuid(),
    enabled: z.boolean(),
    rate_limit_per_minute: z.number().int().nullable(),
    api: z
      .object({ base_url: BssApiSettings.shape.base_url, credentials_type: z.string() })
      .nullable()
      .openapi({ description: 'The BSS API tiersync calls back; its credentials are never returned' }),
    mapping: MappingConfig.nullable(),
    reconcile_every_minutes: z.number().int().nullable(),
    reconciled_at: z.string().nullable(),
    reconcile_report: z.unknown().openapi({ description: 'What the last reconciliation found and changed' }),
    webhook_url: z.url(),
    secrets: z.array(z.object({ id: z.uuid(), created_at: z.string(), expires_at: z.string().nullable() })),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Source')

const Health = z
  .object({
    rejections_24h: z.record(z.string(), z.number().int()).nullable().openapi({
      description: 'Deliveries refused in the last 24 h by error code (null: Redis could not say)',
    }),
    events: z.object({
      received: z.number().int(),
      processing: z.number().int(),
      waiting: z.number().int(),
      failed: z.number().int(),
    }),
    last_event_at: z.string().nullable(),
    last_applied_at: z.string().nullable(),
  })
  .openapi('SourceHealth')

const WithSecret = SourceView.extend({
  secret: z.string().openapi({
    description:
      'The new secret (Standard Webhooks: whsec_...; other schemes: the shared secret); shown only here',
  }),
})

const Rotate = z
  .object({
    grace_hours: z
      .number()
      .min(0)
      .max(24 * 30)
      .optional(),
    secret: z
      .string()
      .min(16)
      .max(512)
      .optional()
      .openapi({ description: 'Use this secret (one the BSS generated) instead of a new random one' }),
  })
  .openapi('RotateSecret')

const PreviewBody = z
  .object({
    payload: z.unknown().openapi({ description: 'A sample payload as the BSS would send it' }),
    mapping: MappingConfig.optional().describe("An expression to try instead of the source's stored one"),
  })
  .openapi('MappingPreviewRequest')

const PreviewResult = z
  .object({
    ok: z.boolean(),
    events: z.array(z.unknown()).optional(),
    operations: z.array(z.unknown()).optional(),
    reason: z.string().optional(),
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('MappingPreview')

export function sourcesRoutes(deps: Deps) {
  const { sql, config } = deps
  const app = router()
  // Best effort: the worker syncs every schedule at start anyway.
  const reschedule = () =>
    syncReconcileSchedules(sql, deps.queues).catch((err: unknown) =>
      deps.log.warn({ err: (err as Error).message }, 'could not update reconciliation schedules'),
    )
  app.use('*', byMethod(sql, 'admin'))
  const view = (s: Source) => ({
    ...s,
    webhook_url: `${config.PUBLIC_URL.replace(/\/$/, '')}/v1/webhooks/${s.id}`,
    secrets: s.secrets.map((k) => ({
      id: k.id,
      created_at: iso(k.created_at),
      expires_at: k.expires_at && iso(k.expires_at),
    })),
    reconciled_at: s.reconciled_at && iso(s.reconciled_at),
    created_at: iso(s.created_at),
    updated_at: iso(s.updated_at),
  })

  app.openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: ['Sources'],
      summary: 'Register a reseller BSS and its tenant reseller account',
      request: { body: jsonBody(NewSource) },
      responses: { 201: json(WithSecret, 'created'), ...errors(400, 401, 403) },
    }),
    async (c) => {
      const { source, secret } = await createSource(deps, c.req.valid('json'))
      if (source.reconcile_every_minutes) await reschedule()
      return c.json({ ...view(source), secret }, 201)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['Sources'],
      summary: 'List sources (never their secrets)',
      responses: { 200: json(z.object({ data: z.array(SourceView) }), 'the sources'), ...errors(401, 403) },
    }),
    async (c) => c.json({ data: (await listSources(sql)).map(view) }, 200),
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: ['Sources'],
      summary: 'One source with its health: refused deliveries, events not applied, last event',
      request: { params: IdParam },
      responses: {
        200: json(z.object({ data: SourceView.extend({ health: Health }) }), 'the source'),
        ...errors(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const source = await found(getSource(sql, c.req.valid('param').id))
      return c.json({ data: { ...view(source), health: await sourceHealth(deps, source.id) } }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/secrets/rotate',
      tags: ['Sources'],
      summary: 'Issue a new secret; the previous ones keep verifying for the grace period (default 24 h)',
      request: {
        params: IdParam,
        body: { required: false, content: { 'application/json': { schema: Rotate } } },
      },
      responses: { 200: json(WithSecret, 'rotated'), ...errors(400, 401, 403, 404, 422) },
    }),
    async (c) => {
      const body = c.req.valid('json')
      const hours = body?.grace_hours ?? config.SECRET_GRACE_HOURS
      const rotated = await found(rotateSecret(deps, c.req.valid('param').id, hours * 3600, body?.secret))
      deps.sourceCache.invalidate(rotated.source.id)
      return c.json({ ...view(rotated.source), secret: rotated.secret }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/{id}',
      tags: ['Sources'],
      summary: 'Change settings: name, verification scheme, BSS API, mapping, reconciliation, rate limit',
      description:
        'Fields left out are unchanged; `api: null` removes the API. The source after the change must still be ' +
        'coherent (a thin format needs an API, `mapping` an expression); else 422 and nothing changes. ' +
        'Changing the verification scheme is a cut-over: the old secrets stop at once and the answer carries ' +
        'the new secret (`secret`, shown only here).',
      request: { params: IdParam, body: jsonBody(SourcePatch) },
      responses: {
        200: json(
          z.object({ data: SourceView, secret: z.string().optional() }),
          'the source (and its new secret after a scheme change)',
        ),
        ...errors(400, 401, 403, 404, 422),
      },
    }),
    async (c) => {
      const patch = c.req.valid('json')
      const updated = await found(updateSource(deps, c.req.valid('param').id, patch))
      deps.sourceCache.invalidate(updated.source.id)
      if (patch.reconcile_every_minutes !== undefined) await reschedule()
      return c.json({ data: view(updated.source), ...(updated.secret && { secret: updated.secret }) }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'put',
      path: '/{id}/mapping',
      tags: ['Sources'],
      summary: 'Store the JSONata mapping of a home-grown BSS (validated when saved)',
      request: { params: IdParam, body: jsonBody(MappingConfig) },
      responses: { 200: json(z.object({ data: SourceView }), 'the source'), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const updated = await found(
        updateSource(deps, c.req.valid('param').id, { mapping: c.req.valid('json') }),
      )
      deps.sourceCache.invalidate(updated.source.id)
      return c.json({ data: view(updated.source) }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/mapping/preview',
      tags: ['Sources'],
      summary: 'What a sample payload would become under the mapping (nothing is stored)',
      request: { params: IdParam, body: jsonBody(PreviewBody) },
      responses: {
        200: json(PreviewResult, 'the events and operations, or why it fails'),
        ...errors(400, 401, 403, 404, 422),
      },
    }),
    async (c) => {
      const source = await found(getSource(sql, c.req.valid('param').id))
      const body = c.req.valid('json')
      const mapping = body.mapping ?? source.mapping
      if (!mapping)
        throw new AppError('invalid_settings', {
          message: 'the source has no mapping: store one or send `mapping` with the preview',
        })
      try {
        return c.json(await preview(mapping, body.payload), 200)
      } catch (err) {
        if (!(err instanceof SandboxUnavailable)) throw err
        return c.json(
          { ok: false, reason: 'no verdict', details: [{ path: '(expression)', message: err.message }] },
          200,
        )
      }
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/reconcile',
      tags: ['Sources'],
      summary: 'Reconcile now: pull every account and subscription from the BSS API and repair drift',
      description: "Queued at once; the report lands on the source's `reconcile_report`.",
      request: { params: IdParam },
      responses: {
        202: json(z.object({ job_id: z.string(), status: z.literal('queued') }), 'queued'),
        ...errors(400, 401, 403, 404, 422, 503),
      },
    }),
    async (c) => {
      const source = await found(getSource(sql, c.req.valid('param').id))
      if (!source.api)
        throw new AppError('invalid_settings', { message: 'the source has no BSS API to reconcile from' })
      const jobId = await runReconcileNow(deps.queues, source.id, c.get('requestId'))
      return c.json({ job_id: jobId, status: 'queued' as const }, 202)
    },
  )

  for (const [action, enabled] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    app.openapi(
      createRoute({
        method: 'post',
        path: `/{id}/${action}`,
        tags: ['Sources'],
        summary: enabled
          ? 'Accept webhooks from this source again'
          : 'Refuse webhooks from this source (404)',
        request: { params: IdParam },
        responses: { 200: json(z.object({ data: SourceView }), 'the source'), ...errors(400, 401, 403, 404) },
      }),
      async (c) => {
        const source = await found(setEnabled(sql, c.req.valid('param').id, enabled))
        deps.sourceCache.invalidate(source.id)
        if (source.reconcile_every_minutes) await reschedule()
        return c.json({ data: view(source) }, 200)
      },
    )
  }
  return app
}

async function found<T>(p: Promise<T | undefined>): Promise<T> {
  const v = await p
  if (v === undefined) throw new AppError('not_found', { message: 'no such source' })
  return v
}

function iso(d: Date | string): string {
  return typeof d === 'string' ? new Date(d).toISOString() : d.toISOString()
}
