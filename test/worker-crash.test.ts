import { describe, expect, it } from 'vitest'
import { createSourceViaApi, createTestApp } from './helpers/app.js'
import { REDIS_URL } from './helpers/env.js'
import { type Proc, runEntry } from './helpers/process.js'
import { account, type CanonicalEvent, sender, settled, subscription } from './helpers/reseller.js'
import { eventually } from './helpers/worker.js'

// The API in-process; the worker as its own process (src/main.ts, ROLE=worker), killed with SIGKILL.
const t = await createTestApp({ env: { RATE_LIMIT_PER_MINUTE: '0' } })
const source = await createSourceViaApi(t)
const bss = sender(t, source)

function startWorker(): Proc {
  return runEntry('src/main.ts', {
    ROLE: 'worker',
    DATABASE_URL: t.db.url,
    REDIS_URL,
    QUEUE_PREFIX: t.deps.config.QUEUE_PREFIX,
    WORKER_CONCURRENCY: '8',
    WORKER_LOCK_MS: '1500',
    LOG_LEVEL: 'warn',
  })
}

const applied = async () => {
  const [row] = await t.db.sql<
    { n: number }[]
  >`select count(*)::int as n from inbox where status in ('applied', 'stale')`
  return row?.n ?? 0
}

describe('a worker killed with SIGKILL in the middle of a batch', () => {
  it('leaves every event applied exactly once in effect after a restart', async () => {
    const SUBS = 40
    const VERSIONS = 25
    const events: CanonicalEvent[] = [account('k-acc')]
    for (let v = 1; v <= VERSIONS; v++) {
      for (let s = 0; s < SUBS; s++) {
        events.push(
          subscription(
            `k-${s}`,
            'k-acc',
            { quantity: v * 10 + s },
            { seq: v, at: new Date(Date.UTC(2026, 10, 1, 0, v)).toISOString() },
          ),
        )
      }
    }
    for (let i = 0; i < events.length; i += 100) {
      await Promise.all(events.slice(i, i + 100).map((e) => bss.send(e)))
    }
    await t.drain()
    const total = events.length

    const first = startWorker()
    await eventually(async () => ((await applied()) >= total * 0.2 ? true : undefined), 60_000)
    first.child.kill('SIGKILL')
    expect(await first.exited()).toBeNull()
    const atKill = await applied()
    expect(atKill).toBeLessThan(total)

    const second = startWorker()
    try {
      await settled(t, 120_000)
    } finally {
      second.child.kill('SIGTERM')
      await second.exited()
    }

    const statuses = await t.db.sql<{ status: string; n: number }[]>`
      select status, count(*)::int as n from inbox group by status order by status`
    expect(statuses.filter((s) => !['applied', 'stale'].includes(s.status))).toEqual([])
    expect(statuses.reduce((a, s) => a + s.n, 0)).toBe(total)
    const subs = await t.db.sql<{ external_id: string; quantity: number; version_sequence: string }[]>`
      select external_id, quantity, version_sequence from subscriptions order by external_id`
    expect(subs).toHaveLength(SUBS)
    for (const s of subs) {
      const n = Number(s.external_id.slice(2))
      expect({ q: s.quantity, v: s.version_sequence }).toEqual({ q: VERSIONS * 10 + n, v: String(VERSIONS) })
    }
    const [versions] = await t.db.sql<{ n: number; distinct_inbox: number }[]>`
      select count(*)::int as n, count(distinct inbox_id)::int as distinct_inbox from subscription_versions`
    expect(versions).toEqual({ n: SUBS * VERSIONS, distinct_inbox: SUBS * VERSIONS })
  }, 240_000)
})
