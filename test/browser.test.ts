import { existsSync, mkdirSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp } from './helpers/app.js'

// The operators' pages in headless Chromium (Debian's, never a downloaded one): the API
// reference at /docs, and Bull Board at /admin/queues after signing in with an API key.
// Screenshots are kept under test/artifacts/.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const ARTIFACTS = new URL('./artifacts/', import.meta.url)

const t = await createTestApp()
const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
  const s = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
})
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
let browser: Browser

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run does)`)
  mkdirSync(ARTIFACTS, { recursive: true })
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // The flags this machine kind needs: no sandbox as root, and no background traffic to
    // Google's hosts on a closed network.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
})

afterAll(async () => {
  await browser?.close()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

describe('in a browser', () => {
  it('/docs renders the API reference from /openapi.json', async () => {
    const page = await browser.newPage()
    await page.goto(`${base}/docs`)
    await page.locator('.swagger-ui .info .title').waitFor({ timeout: 15_000 })
    expect(await page.locator('.swagger-ui .info .title').textContent()).toContain('tiersync')
    await page.locator('.opblock-tag', { hasText: 'Sources' }).first().waitFor()
    await page.screenshot({ path: new URL('docs.png', ARTIFACTS).pathname, fullPage: false })
    await page.close()
  })

  it('/admin/queues asks to sign in, then shows the queues; a wrong key is refused', async () => {
    const page = await browser.newPage()
    await page.goto(`${base}/admin/queues`)
    expect(new URL(page.url()).pathname).toBe('/admin/login')

    await page.fill('#key', 'tsk_not-a-key')
    await page.click('button[type=submit]')
    await page.getByRole('alert').waitFor()

    await page.fill('#key', t.adminKey)
    await page.click('button[type=submit]')
    await page.waitForURL(`${base}/admin/queues**`)
    for (const queue of ['events', 'billing', 'reconcile'])
      await page.getByText(queue, { exact: true }).first().waitFor({ timeout: 15_000 })
    await page.screenshot({ path: new URL('queues.png', ARTIFACTS).pathname, fullPage: true })
    await page.close()
  })

  it('the dashboard is read-only for a viewer, also from a signed-in browser', async () => {
    const viewer = await t.keyFor('viewer')
    const context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(`${base}/admin/login`)
    await page.fill('#key', viewer)
    await page.click('button[type=submit]')
    await page.waitForURL(`${base}/admin/queues**`)
    const read = await page.request.get(`${base}/admin/queues/api/queues`)
    expect(read.status()).toBe(200)
    const write = await page.request.put(`${base}/admin/queues/api/queues/events/pause`)
    expect(write.status()).toBe(403)
    expect(((await write.json()) as { error: { code: string } }).error.code).toBe('forbidden')
    await context.close()
  })
})
