import { Validator } from '@seriousme/openapi-schema-validator'
import { describe, expect, it } from 'vitest'
import { createTestApp } from './helpers/app.js'

// The OpenAPI document is generated from the zod schemas that validate the routes: checked here
// by a real validator, and against the routes the app actually serves (none missing).
const t = await createTestApp()
const res = await t.app.request('/openapi.json')
const doc = (await res.json()) as {
  openapi: string
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>
  components: {
    schemas: Record<string, { properties?: { error?: { properties?: { code?: { enum?: string[] } } } } }>
  }
}

/** Served outside the API reference on purpose: the dashboard's own pages and API, the docs UI, the sign-in. */
const NOT_API = [/^\/admin\//, /^\/docs/, /^\/openapi\.json$/]

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    expect(res.status).toBe(200)
    expect(doc.openapi).toBe('3.1.0')
    const result = await new Validator().validate(doc as never)
    expect(result.errors ?? []).toEqual([])
    expect(result.valid).toBe(true)
  })

  it('documents every route the app serves, with its method', () => {
    const served = t.app.routes
      .filter((r) => ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method))
      .filter((r) => !NOT_API.some((re) => re.test(r.path)))
      .map((r) => {
        // `/:id{<regex>\.csv}` is documented as `/{id}.csv`; `/:id` as `/{id}`.
        const path = r.path.replace(/:(\w+)\{.*\\\.(\w+)\}$/, '{$1}.$2').replace(/:(\w+)/g, '{$1}')
        return `${r.method.toLowerCase()} ${path}`
      })
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)),
    )
    const missing = [...new Set(served)].filter((r) => !documented.has(r))
    expect(missing).toEqual([])
    expect(served.length).toBeGreaterThan(50)
  })

  it('lists every error code, and error statuses on the routes that answer them', () => {
    const codes = doc.components.schemas.Error?.properties?.error?.properties?.code?.enum ?? []
    for (const code of [
      'unauthorized',
      'forbidden',
      'field_locked',
      'invalid_event',
      'invalid_settings',
      'rate_limited',
    ])
      expect(codes).toContain(code)
    const webhook = doc.paths['/v1/webhooks/{sourceId}']?.post?.responses ?? {}
    expect(Object.keys(webhook).sort()).toEqual([
      '200',
      '202',
      '400',
      '401',
      '404',
      '413',
      '415',
      '422',
      '429',
      '503',
    ])
  })

  it('serves the interactive reference from this process (no CDN)', async () => {
    const page = await t.app.request('/docs')
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).toContain('/openapi.json')
    expect(html).not.toMatch(/https?:\/\//)
    const asset = await t.app.request('/docs/assets/swagger-ui-bundle.js')
    expect(asset.status).toBe(200)
  })
})
