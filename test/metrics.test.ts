import { describe, expect, it } from 'vitest'
import { bearer, createSourceViaApi, createTestApp, pingEvent, signedHeaders } from './helpers/app.js'
import { account, sender, settled, subscription } from './helpers/reseller.js'
import { eventually, startTestWorker } from './helpers/worker.js'

// /metrics scraped after real traffic: webhooks by source and outcome, HTTP by route, events
// applied and failed, queue counts, the oldest unapplied event, invoice runs.
const t = await createTestApp()
startTestWorker(t)
const source = await createSourceViaApi(t)
const bss = sender(t, source)

/** The value of one sample line, by metric name and (a subset of) its labels. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      return Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return undefined
}

describe('GET /metrics', () => {
  it('shows the expected counters after traffic', async () => {
    const body = pingEvent()
    const headers = signedHeaders(source.secret, body, { id: 'm-1' })
    for (let i = 0; i < 2; i++)
      await t.app.request(`/v1/webhooks/${source.id}`, { method: 'POST', headers, body })
    const bad = signedHeaders('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', body)
    expect(
      (await t.app.request(`/v1/webhooks/${source.id}`, { method: 'POST', headers: bad, body })).status,
    ).toBe(401)
    expect((await bss.send(account('m-cust'))).status).toBe(202)
    // A subscription for an account of the wrong kind fails in the worker: a failed event.
    expect((await bss.send(subscription('m-sub', 'm-cust', { quantity: -1 }))).status).toBe(202)
    await settled(t)
    await t.app.request('/v1/accounts', { headers: bearer(t.adminKey) })
    await t.app.request('/v1/invoice-runs', {
      method: 'POST',
      headers: { ...bearer(t.adminKey), 'content-type': 'application/json' },
      body: JSON.stringify({ period: '2026-11', dry_run: true }),
    })

    // The jobs are finished in BullMQ just after their rows settle: wait for that, so the counts read
    // below are the ones the scrape sees.
    const jobs = await eventually(async () => {
      const c = await t.deps.queues.events.getJobCounts('active', 'waiting', 'completed', 'failed')
      return c.active === 0 && c.waiting === 0 ? c : undefined
    })
    const res = await t.app.request('/metrics')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/plain')
    const text = await res.text()
    expect(sample(text, 'tiersync_webhooks_total', { source: source.id, outcome: 'accepted' })).toBe(3)
    expect(sample(text, 'tiersync_webhooks_total', { source: source.id, outcome: 'duplicate' })).toBe(1)
    expect(sample(text, 'tiersync_webhooks_total', { source: source.id, outcome: 'signature_invalid' })).toBe(
      1,
    )
    expect(
      sample(text, 'tiersync_http_request_duration_seconds_count', {
        route: '/v1/webhooks/:sourceId',
        method: 'POST',
        status: '202',
      }),
    ).toBe(3)
    expect(
      sample(text, 'tiersync_http_request_duration_seconds_count', { route: '/v1/accounts', status: '200' }),
    ).toBe(1)
    expect(sample(text, 'tiersync_events_processed_total', { outcome: 'applied' })).toBe(2)
    expect(sample(text, 'tiersync_events_processed_total', { outcome: 'failed' })).toBe(1)
    expect(sample(text, 'tiersync_events', { status: 'failed' })).toBe(1)
    expect(sample(text, 'tiersync_events', { status: 'received' })).toBe(0)
    expect(sample(text, 'tiersync_oldest_unapplied_event_age_seconds')).toBe(0)
    // Deliveries committed within a few milliseconds share a job, so the counts are BullMQ's own.
    expect((jobs.completed ?? 0) + (jobs.failed ?? 0)).toBeGreaterThan(0)
    expect(sample(text, 'tiersync_queue_jobs', { queue: 'events', state: 'completed' })).toBe(jobs.completed)
    expect(sample(text, 'tiersync_queue_jobs', { queue: 'events', state: 'failed' })).toBe(jobs.failed)
    expect(sample(text, 'tiersync_invoice_runs', { status: 'queued' })).toBe(1)
    expect(sample(text, 'tiersync_process_resident_memory_bytes')).toBeGreaterThan(0)
  })
})
