import { describe, expect, it } from 'vitest'
import { generateEvents } from '../../src/sim/generate.js'
import { sendAll } from '../../src/sim/send.js'
import { createTestDb } from '../helpers/db.js'
import {
  acknowledged,
  checkMirror,
  expectedMirror,
  lossFigures,
  printFigures,
  settledInbox,
} from './mirror.js'
import { createSource, FAULT_ENV, startPrivateRedis, startService } from './services.js'

// The API and the worker as separate processes (src/main.ts); the worker is killed with SIGKILL
// while it drains, then started again. FAULTS_N=20000 for the full run.
const N = Number(process.env.FAULTS_N ?? 5000)
const SUBSCRIPTIONS = 300

const db = await createTestDb()
const redis = await startPrivateRedis()
const env = {
  DATABASE_URL: db.url,
  REDIS_URL: redis.url,
  ...FAULT_ENV,
  RATE_LIMIT_PER_MINUTE: '0',
  WORKER_CONCURRENCY: '8',
}
const api = await startService({ ...env, ROLE: 'api' })
const url = api.url as string
const source = await createSource(url)

async function settledCount(): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from inbox where source_id = ${source.id} and status in ('applied', 'stale')`
  return row?.n ?? 0
}

describe(`kill -9 of the worker while it drains ${N} events`, () => {
  it('every acknowledged event is applied exactly once in effect after a restart', async () => {
    const started = performance.now()
    const deliveries = generateEvents({ events: N, subscriptions: SUBSCRIPTIONS, seed: 8 })
    const first = await startService({ ...env, ROLE: 'worker' })
    const sending = sendAll({ url, sourceId: source.id, secret: source.secret }, deliveries, {
      concurrency: 32,
      retries: 5,
    })

    const killAt = Math.floor(N * 0.3)
    const deadline = Date.now() + 120_000
    for (let n = await settledCount(); n < killAt; n = await settledCount()) {
      if (first.proc.child.exitCode !== null || Date.now() > deadline)
        throw new Error(`worker stuck at ${n} applied:\n${first.proc.output()}\nAPI:\n${api.proc.output()}`)
      await new Promise((r) => setTimeout(r, 20))
    }
    await first.kill()
    expect(first.proc.child.signalCode).toBe('SIGKILL')
    const appliedAtKill = await settledCount()
    expect(appliedAtKill).toBeLessThan(N)

    const second = await startService({ ...env, ROLE: 'worker' })
    const { summary, results } = await sending
    const sentSeconds = (performance.now() - started) / 1000
    await settledInbox(db.sql, source.id, 180_000)
    await second.stop()

    const acked = acknowledged(deliveries, results)
    const expected = expectedMirror(acked)
    const mirror = await checkMirror(db.sql, source.id, expected)
    printFigures('worker-kill', {
      ...lossFigures(summary.sent, acked.length, mirror, started),
      send_s: Math.round(sentSeconds * 10) / 10,
      applied_at_kill: appliedAtKill,
      statuses: mirror.statuses,
      rejected: summary.rejected,
    })

    expect(summary).toMatchObject({ sent: N, accepted: N, rejected: {}, network_errors: 0 })
    expect(Object.keys(mirror.statuses).filter((s) => s !== 'applied' && s !== 'stale')).toEqual([])
    expect(mirror.applied).toBe(N)
    expect(mirror).toMatchObject({ lost: 0, missingRows: 0, missingVersions: 0, duplicateHistory: 0 })
    expect(mirror.wrongQuantities).toEqual([])
    expect(mirror.subscriptions).toBe(SUBSCRIPTIONS)
    expect(mirror.accounts).toBe(SUBSCRIPTIONS / 10)
    // One history row per acknowledged version: count equals the distinct (object, sequence) sent.
    const [history] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from subscription_versions v join subscriptions s on s.id = v.subscription_id
      where s.source_id = ${source.id}`
    expect(history?.n).toBe([...expected.versions].filter((k) => k.startsWith('subscription:')).length)
  }, 300_000)
})
