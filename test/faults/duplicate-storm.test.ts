import type { AddressInfo } from 'node:net'
import type { Job } from 'bullmq'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { processJob } from '../../src/queue/worker.js'
import { serveApi } from '../../src/server.js'
import { type Delivery, sendAll } from '../../src/sim/send.js'
import { handleEvents } from '../../src/sync/handler.js'
import { createSourceViaApi, createTestApp, signedHeaders } from '../helpers/app.js'
import { startTestWorker } from '../helpers/worker.js'
import {
  acknowledged,
  checkMirror,
  expectedMirror,
  lossFigures,
  printFigures,
  settledInbox,
} from './mirror.js'
import { differences, type Snapshot, snapshot } from './snapshot.js'
import { shuffled, storyEvents } from './story.js'

// The same story three ways: in order, one event at a time, into its own database (the
// reference); as a storm (every delivery three times at once, same webhook-id); and shuffled.
// FAULTS_N: about how many distinct events (default 1,500; ten per subscription).
const SUBSCRIPTIONS = Math.max(10, Math.round(Number(process.env.FAULTS_N ?? 1500) / 10))
const events = storyEvents({
  resellers: 3,
  customers: Math.max(5, Math.floor(SUBSCRIPTIONS / 5)),
  subscriptions: SUBSCRIPTIONS,
  versions: 8,
  seed: 20261124,
})
const deliveries: Delivery[] = events.map((e, i) => ({ body: JSON.stringify(e), webhookId: `story_${i}` }))

const t = await createTestApp({ env: { RATE_LIMIT_PER_MINUTE: '0' } })
startTestWorker(t)
// The server as the service runs it: the webhook route through its fast path.
const server = await serveApi(t.deps, t.app, { port: 0, hostname: '127.0.0.1' })
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

let reference: Snapshot
beforeAll(async () => {
  // No worker on this app: its rows are applied here, strictly one after the other, in order.
  const ref = await createTestApp({ env: { RATE_LIMIT_PER_MINUTE: '0' } })
  const source = await createSourceViaApi(ref)
  for (const d of deliveries) {
    const res = await ref.app.request(`/v1/webhooks/${source.id}`, {
      method: 'POST',
      headers: signedHeaders(source.secret, d.body, { id: d.webhookId }),
      body: d.body,
    })
    expect(res.status).toBe(202)
  }
  await ref.drain()
  const rows = await ref.db.sql<{ id: string }[]>`
    select id::text from inbox where source_id = ${source.id} order by inbox.id`
  for (const { id } of rows) {
    const job = { data: { inboxIds: [id] }, attemptsMade: 0, opts: { attempts: 1 } } as unknown as Job
    await processJob({ sql: ref.db.sql, handle: handleEvents, enqueue: () => {} }, job)
  }
  reference = await snapshot(ref.db.sql, source.id)
  // In order, nothing ever waits and nothing fails.
  expect(Object.keys(reference.statuses).sort()).toEqual(['applied', 'ignored_unpaid'])
}, 120_000)

describe(`${events.length} events of one story: duplicates and order change nothing`, () => {
  it('every delivery three times at once (same webhook-id): one 202 and two 200s, the in-order state', async () => {
    const started = performance.now()
    const source = await createSourceViaApi(t)
    const storm = deliveries.flatMap((d) => [d, d, d])
    const { summary, results } = await sendAll({ url, sourceId: source.id, secret: source.secret }, storm, {
      concurrency: 48,
      retries: 3,
    })
    await settledInbox(t.db.sql, source.id, 120_000)
    const acked = acknowledged(storm, results)
    const mirror = await checkMirror(t.db.sql, source.id, expectedMirror(acked))
    const state = await snapshot(t.db.sql, source.id)
    printFigures('duplicate-storm', {
      ...lossFigures(summary.sent, acked.length, mirror, started),
      answered_202: summary.accepted,
      answered_200: summary.duplicates,
      statuses: mirror.statuses,
      differences_from_in_order: differences(state, reference),
    })

    expect(summary).toMatchObject({ sent: events.length * 3, rejected: {}, network_errors: 0 })
    // Per webhook-id: exactly one stored (202), the two others answered 200 with the same inbox id.
    const answers = new Map<string, { statuses: number[]; ids: Set<string | undefined> }>()
    results.forEach((r) => {
      const a = answers.get(r.webhookId) ?? { statuses: [], ids: new Set() }
      a.statuses.push(r.status)
      a.ids.add(r.inboxId)
      answers.set(r.webhookId, a)
    })
    expect(answers.size).toBe(events.length)
    const odd = [...answers].filter(
      ([, a]) => a.statuses.sort().join() !== '200,200,202' || a.ids.size !== 1 || a.ids.has(undefined),
    )
    expect(odd).toEqual([])
    expect(summary).toMatchObject({ accepted: events.length, duplicates: events.length * 2 })
    expect(mirror).toMatchObject({ lost: 0, missingRows: 0, missingVersions: 0, duplicateHistory: 0 })
    expect(differences(state, reference)).toEqual({ accounts: [], subscriptions: [], history: [] })
    expect(state).toEqual({ ...reference, statuses: state.statuses })
    expect(
      Object.keys(state.statuses).filter((s) => !['applied', 'stale', 'ignored_unpaid'].includes(s)),
    ).toEqual([])
  }, 180_000)

  it('every event once, in a full shuffle: the in-order state', async () => {
    const started = performance.now()
    const source = await createSourceViaApi(t)
    const mixed = shuffled(deliveries, 8)
    const { summary, results } = await sendAll({ url, sourceId: source.id, secret: source.secret }, mixed, {
      concurrency: 16,
      retries: 3,
    })
    await settledInbox(t.db.sql, source.id, 120_000)
    const acked = acknowledged(mixed, results)
    const mirror = await checkMirror(t.db.sql, source.id, expectedMirror(acked))
    const state = await snapshot(t.db.sql, source.id)
    printFigures('shuffle', {
      ...lossFigures(summary.sent, acked.length, mirror, started),
      statuses: mirror.statuses,
      differences_from_in_order: differences(state, reference),
    })

    expect(summary).toMatchObject({ sent: events.length, accepted: events.length, rejected: {} })
    expect(mirror).toMatchObject({ lost: 0, missingRows: 0, missingVersions: 0, duplicateHistory: 0 })
    expect(differences(state, reference)).toEqual({ accounts: [], subscriptions: [], history: [] })
    expect(state).toEqual({ ...reference, statuses: state.statuses })
  }, 180_000)
})
