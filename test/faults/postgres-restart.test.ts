import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { afterAll, describe, expect, it } from 'vitest'
import { createSql } from '../../src/db/client.js'
import { generateEvents } from '../../src/sim/generate.js'
import { sendAll } from '../../src/sim/send.js'
import { signedHeaders } from '../helpers/app.js'
import {
  acknowledged,
  checkMirror,
  expectedMirror,
  lossFigures,
  printFigures,
  settledInbox,
} from './mirror.js'
import {
  answersWithStatus,
  createSource,
  FAULT_ENV,
  freePort,
  type Service,
  startPrivatePostgres,
  startPrivateRedis,
  startService,
} from './services.js'

// The service on a private Postgres cluster, which crashes (immediate stop: every backend killed,
// no checkpoint) in the middle of the load and comes back after crash recovery.
const N = Number(process.env.FAULTS_N ?? 3000)
const RATE = 300

const pg = await startPrivatePostgres()
const redis = await startPrivateRedis()
const env = {
  DATABASE_URL: pg.urlOf('tiersync'),
  REDIS_URL: redis.url,
  ...FAULT_ENV,
  ROLE: 'all',
  // The same port across restarts: the reseller keeps one URL.
  PORT: String(await freePort()),
  RATE_LIMIT_PER_MINUTE: '0',
}
let service = await startService(env)
const url = service.url as string
const source = await createSource(url)
const sql = createSql(pg.urlOf('tiersync'), { max: 2 })
afterAll(() => sql.end({ timeout: 1 }))

/**
 * What a process supervisor (systemd, Docker `restart:`, Kubernetes) would do: start the service
 * again when it exits. The test expects it never has to, and says so when it did.
 */
function supervise() {
  const deaths: string[] = []
  const instances = [service]
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      await service.proc.exited()
      if (stopped) return
      deaths.push(service.proc.output().slice(-1500))
      for (;;) {
        try {
          service = await startService(env)
          instances.push(service)
          break
        } catch {
          // Postgres is still down: the service cannot boot (it migrates first). Try again.
          await sleep(500)
        }
      }
    }
  })()
  return {
    deaths,
    /** 5xx answers over every instance: the error handler logs each one. */
    serverErrors: () =>
      instances.reduce((n, i) => n + (i.proc.output().match(/"msg":"request failed"/g)?.length ?? 0), 0),
    async stop(): Promise<Service> {
      stopped = true
      void loop
      return service
    },
  }
}

/** One signed delivery, answered or not (a refused connection is status 0). */
async function ping(): Promise<{ status: number; code?: string; retryAfter?: string | null }> {
  const body = JSON.stringify({ type: 'test.ping', occurred_at: new Date().toISOString(), data: {} })
  const headers = signedHeaders(source.secret, body)
  try {
    const res = await request(`${url}/v1/webhooks/${source.id}`, { method: 'POST', headers, body })
    const answer = (await res.body.json()) as { error?: { code: string } }
    const retryAfter = res.headers['retry-after']
    return {
      status: res.statusCode,
      ...(answer.error && { code: answer.error.code }),
      retryAfter: typeof retryAfter === 'string' ? retryAfter : null,
    }
  } catch {
    return { status: 0 }
  }
}

describe(`Postgres crashed and restarted in the middle of ${N} deliveries`, () => {
  it('answers 503 storage_unavailable with Retry-After while it is down; every 2xx is applied', async () => {
    const started = performance.now()
    const supervisor = supervise()
    const deliveries = generateEvents({ events: N, subscriptions: 200, seed: 3 })
    let answered = 0
    const sending = sendAll({ url, sourceId: source.id, secret: source.secret }, deliveries, {
      concurrency: 32,
      ratePerSecond: RATE,
      // Retry-After is 5 s: ten retries outlast the outage by far.
      retries: 10,
      onResult: () => {
        answered++
      },
    })

    while (answered < N * 0.3) await sleep(10)
    const crashAt = answered
    await pg.crash()
    const downAt = performance.now()
    await sleep(300)
    const probe = await ping()
    await sleep(1700)
    await pg.start()
    const downSeconds = (performance.now() - downAt) / 1000
    const { summary, results } = await sending
    await settledInbox(sql, source.id, 120_000)
    const last = await supervisor.stop()

    const acked = acknowledged(deliveries, results)
    const mirror = await checkMirror(sql, source.id, expectedMirror(acked))
    const unavailable = supervisor.serverErrors()
    // The last instance's own count of 5xx other than 503: there must be none.
    const otherErrors = (await answersWithStatus(url, 500)) + (await answersWithStatus(url, 502))
    printFigures('postgres-restart', {
      ...lossFigures(summary.sent, acked.length, mirror, started),
      answered_before_crash: crashAt,
      down_s: Math.round(downSeconds * 10) / 10,
      answers_5xx: unavailable,
      probe_while_down: probe,
      service_restarts: supervisor.deaths.length,
      // Retried deliveries whose first attempt had committed before the crash cut the answer.
      duplicates_on_retry: summary.duplicates,
      statuses: mirror.statuses,
      rejected: summary.rejected,
      network_errors: summary.network_errors,
    })

    // The process must ride out the outage, answering 503 (not a refused connection) meanwhile.
    expect
      .soft(supervisor.deaths, 'the service process died when Postgres crashed (last output of each death)')
      .toEqual([])
    expect.soft(last.proc.child.exitCode).toBeNull()
    expect.soft(probe).toEqual({ status: 503, code: 'storage_unavailable', retryAfter: '5' })
    expect.soft(unavailable).toBeGreaterThan(0)
    expect(otherErrors).toBe(0)
    // Whatever happened to the process, nothing acknowledged may be lost.
    expect(summary).toMatchObject({ sent: N, rejected: {}, network_errors: 0 })
    expect(summary.accepted + summary.duplicates).toBe(N)
    expect(acked).toHaveLength(N)
    expect(mirror.applied).toBe(N)
    expect(mirror).toMatchObject({ lost: 0, missingRows: 0, missingVersions: 0, duplicateHistory: 0 })
    expect(mirror.wrongQuantities).toEqual([])
    expect(mirror.subscriptions).toBe(200)
  }, 180_000)
})
