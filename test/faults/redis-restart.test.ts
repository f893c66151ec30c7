import { setTimeout as sleep } from 'node:timers/promises'
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

// The service (API and worker in one process) on a private redis-server, which is killed with
// SIGKILL in the middle of the load and started again empty: nothing it held survives.
const N = Number(process.env.FAULTS_N ?? 3000)
const RATE = 300

const db = await createTestDb()
const redis = await startPrivateRedis()
const service = await startService({
  DATABASE_URL: db.url,
  REDIS_URL: redis.url,
  ...FAULT_ENV,
  ROLE: 'all',
  // A limit that is never reached but consults Redis on every delivery (it must fail open).
  RATE_LIMIT_PER_MINUTE: '1000000',
})
const url = service.url as string
const source = await createSource(url)

async function inboxRows(): Promise<number> {
  const [row] = await db.sql<
    { n: number }[]
  >`select count(*)::int as n from inbox where source_id = ${source.id}`
  return row?.n ?? 0
}

describe(`Redis killed and restarted empty in the middle of ${N} deliveries`, () => {
  it('answers 2xx throughout, and every acknowledged event is applied once Redis is back', async () => {
    const started = performance.now()
    const deliveries = generateEvents({ events: N, subscriptions: 200, seed: 2 })
    let answered = 0
    let answeredWhileDown = 0
    let down = false
    const sending = sendAll({ url, sourceId: source.id, secret: source.secret }, deliveries, {
      concurrency: 32,
      ratePerSecond: RATE,
      retries: 5,
      onResult: () => {
        answered++
        if (down) answeredWhileDown++
      },
    })

    while (answered < N * 0.3) await sleep(10)
    // Rows whose job is in Redis only: the kill takes those jobs with it.
    const [queued] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from inbox
      where source_id = ${source.id} and status = 'received' and enqueued_at is not null`
    await redis.kill()
    down = true
    const rowsAtKill = await inboxRows()
    await sleep(1500)
    await redis.start()
    down = false
    const { summary, results } = await sending
    await settledInbox(db.sql, source.id, 120_000)

    const acked = acknowledged(deliveries, results)
    const mirror = await checkMirror(db.sql, source.id, expectedMirror(acked))
    printFigures('redis-restart', {
      ...lossFigures(summary.sent, acked.length, mirror, started),
      rows_at_kill: rowsAtKill,
      jobs_lost_with_redis: queued?.n,
      answered_while_down: answeredWhileDown,
      statuses: mirror.statuses,
      rejected: summary.rejected,
      network_errors: summary.network_errors,
    })

    // The inbox is the acknowledgement: Redis down changes no answer.
    expect(answeredWhileDown).toBeGreaterThan(0)
    // Jobs were lost with Redis (else this proves nothing): the relay queued their rows again.
    expect(queued?.n).toBeGreaterThan(0)
    expect(Object.keys(mirror.statuses).filter((s) => s !== 'applied' && s !== 'stale')).toEqual([])
    expect(summary).toMatchObject({ sent: N, accepted: N, rejected: {}, network_errors: 0 })
    expect(mirror.applied).toBe(N)
    expect(mirror).toMatchObject({ lost: 0, missingRows: 0, missingVersions: 0, duplicateHistory: 0 })
    expect(mirror.wrongQuantities).toEqual([])
    expect(mirror.subscriptions).toBe(200)
  }, 180_000)
})
