/**
 * `npm run demo`: tiersync on this machine in one command. Migrates, starts the API and a worker
 * (the real service, ROLE=all), registers the seed story's two reseller BSSs, plays the story
 * through the reseller simulator (signed Standard Webhooks over HTTP), then prints the hierarchy,
 * one subscription's history and the month's draft invoice, and keeps running until Ctrl-C.
 *
 * Environment: the service's own variables (DATABASE_URL, REDIS_URL, PORT, ...), plus
 * DEMO_PERIOD (YYYY-MM, default the current month) and DEMO_EXIT=1 to stop after printing.
 */
import { createApiKey } from '../auth/api-keys.js'
import { loadConfig } from '../config.js'
import { type Running, start } from '../runtime.js'
import { type Delivery, sendAll } from '../sim/send.js'
import { adminClient } from './admin-client.js'
import { type Invoice, renderHistory, renderInvoice, renderTree, type TreeNode } from './print.js'
import { cloudResellStory, NIMBUS_MAPPING, nimbusStory, PRICES } from './story.js'

const period = process.env.DEMO_PERIOD ?? new Date().toISOString().slice(0, 7)
if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(period)) {
  console.error(`DEMO_PERIOD must be YYYY-MM, got ${period}`)
  process.exit(2)
}
const config = loadConfig({ LOG_LEVEL: 'warn', ...process.env, ROLE: 'all' })

let running: Running | undefined
let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1)
    stopping = true
    console.log('\nstopping tiersync...')
    void (running?.stop() ?? Promise.resolve()).then(
      () => process.exit(0),
      () => process.exit(1),
    )
  })
}

const say = (s = '') => console.log(s)

running = await start(config)
const base = `http://127.0.0.1:${running.port}`
const publicBase = config.PUBLIC_URL.replace(/\/$/, '').replace(/:\d+$/, `:${running.port}`)
// A key of its own on every run: stored hashed, so an earlier run's key cannot be shown again.
const { key: adminKey } = await createApiKey(running.deps.sql, {
  name: `demo ${new Date().toISOString()}`,
  role: 'admin',
})
const api = adminClient(base, adminKey)

say(`tiersync is running at ${publicBase} (period ${period})`)
say()

// The two reseller BSSs. Found by name on a second run; a rotation gives the demo a secret to sign with.
const cloudResell = await api.ensureSource({
  name: 'Cloud Resell BSS',
  format: 'canonical',
  reseller: {
    name: 'Cloud Resell',
    number: 'R-1001',
    email: 'billing@cloudresell.example',
    tier: 'premium',
    currency: 'EUR',
  },
})
const nimbus = await api.ensureSource({
  name: 'Nimbus Cloud home-grown BSS',
  format: 'mapping',
  mapping: { expression: NIMBUS_MAPPING },
  reseller: {
    name: 'Nimbus Cloud',
    number: 'R-1002',
    email: 'finance@nimbus.example',
    tier: 'basic',
    currency: 'EUR',
  },
})
for (const p of PRICES)
  await api.call('POST', '/v1/price-book/prices', {
    ...p,
    term: null,
    currency: 'EUR',
    effective_from: '2020-01-01',
  })

say('Playing the story through the reseller simulator (signed Standard Webhooks over HTTP):')
const report = (name: string, results: { label?: string; status: number; code?: string }[]) => {
  for (const r of results) {
    const outcome =
      r.status === 202 ? 'accepted' : r.status === 200 ? 'duplicate' : `${r.status} ${r.code ?? ''}`
    say(`  ${name.padEnd(13)} ${(r.label ?? '').padEnd(44)} ${outcome}`)
  }
}
// One at a time, in story order, each picked up by the worker before the next is sent: the
// out-of-order and duplicate steps are the story's own. (The worker applies concurrent batches
// in any order, which ends in the same state but can mark an older event `stale`.)
const play = async (source: { id: string; secret: string }, story: Delivery[]) => {
  const results = []
  for (const delivery of story) {
    const sent = await sendAll({ url: base, sourceId: source.id, secret: source.secret }, [delivery], {
      concurrency: 1,
    })
    results.push(...sent.results)
    await api.settled([source.id], ['received', 'processing'])
  }
  return results
}
report('Cloud Resell', await play(cloudResell, cloudResellStory(period)))
report('Nimbus Cloud', await play(nimbus, nimbusStory(period)))

await api.settled([cloudResell.id, nimbus.id])
const events = await api.eventCounts([cloudResell.id, nimbus.id])
say(
  `  events: ${Object.entries(events)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ')}`,
)
say()

const tree = (await api.call('GET', `/v1/accounts/${cloudResell.account_id}/tree`)).data as TreeNode
say(renderTree(tree))
say()

const [sub] = (await api.call('GET', `/v1/subscriptions?source_id=${cloudResell.id}&external_id=sub-x1`))
  .data as { id: string }[]
if (sub) {
  const detail = (await api.call('GET', `/v1/subscriptions/${sub.id}`)).data as {
    history: Parameters<typeof renderHistory>[1]
  }
  say(renderHistory('sub-x1 (Customer X, Microsoft 365 Business Standard)', detail.history))
  say()
}

const invoice = await api.draftInvoice(cloudResell.id, period)
say(renderInvoice(invoice as Invoice))
say()

say('Explore:')
say(`  API reference   ${publicBase}/docs`)
say(`  Queue dashboard ${publicBase}/admin/queues   (sign in with the admin key)`)
say(`  Metrics         ${publicBase}/metrics`)
say(`  Admin API key   ${adminKey}`)
say(
  `  e.g. curl -s -H "authorization: Bearer ${adminKey}" ${publicBase}/v1/accounts/${cloudResell.account_id}/tree`,
)
say()
if (process.env.DEMO_EXIT === '1') {
  await running.stop()
  process.exit(0)
}
say('tiersync keeps running; Ctrl-C to stop.')
