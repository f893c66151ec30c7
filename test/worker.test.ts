import { UnrecoverableError } from 'bullmq'
import { pino } from 'pino'
import postgres from 'postgres'
import { describe, expect, it } from 'vitest'
import { insertBatch } from '../src/inbox/inbox-writer.js'
import { oneByOne } from '../src/queue/worker.js'
import { createSourceViaApi, createTestApp, pingEvent, signedHeaders } from './helpers/app.js'
import { eventually, startTestWorker } from './helpers/worker.js'

const t = await createTestApp()
const source = await createSourceViaApi(t)

// Scripted per event: the payload's `data.script` tells the handler how to behave.
const calls = new Map<string, number>()
const scripted = oneByOne(async (_tx, event) => {
  const n = (calls.get(event.id) ?? 0) + 1
  calls.set(event.id, n)
  const script = (JSON.parse(event.body) as { data: { script?: string } }).data.script
  if (script === 'unmappable') throw new UnrecoverableError('payload cannot be mapped')
  if (script === 'flaky' && n === 1) throw new Error('transient: deadlock detected')
  if (script === 'always-fails') throw new Error('transient forever')
  if (script === 'deadlock')
    throw new postgres.PostgresError({ code: '40P01', message: 'deadlock detected' } as never)
  if (script === 'stale') return { status: 'stale' }
  if (script === 'detailed') return { status: 'applied', details: { note: 'kept' } }
  if (script === 'parked') return { status: 'waiting', waitingFor: { kind: 'account', id: 'acc-later' } }
  return { status: 'applied' }
})
// The worker's warnings, as JSON lines.
const warnings: { msg: string; attempts?: number; err?: string }[] = []
startTestWorker(t, scripted, {
  log: pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) }),
})

async function send(data: Record<string, unknown>): Promise<string> {
  const body = pingEvent({ data })
  const res = await t.app.request(`/v1/webhooks/${source.id}`, {
    method: 'POST',
    headers: signedHeaders(source.secret, body),
    body,
  })
  expect(res.status).toBe(202)
  return ((await res.json()) as { id: string }).id
}

/** Stores a scripted event in the inbox without queueing it (the test queues its own job). */
async function store(script: string, webhookId: string): Promise<string> {
  const [written] = await insertBatch(t.db.sql, [
    {
      sourceId: source.id,
      webhookId,
      eventType: 'test.ping',
      occurredAt: null,
      objectId: null,
      body: pingEvent({ data: { script } }),
      requestId: null,
    },
  ])
  return written?.id as string
}

type Row = { status: string; attempts: number; error: string | null; processed_at: Date | null }

type Settled = Row & {
  error_details: unknown
  waiting_for_kind: string | null
  waiting_for_id: string | null
}
const settled = (id: string) =>
  eventually(async () => {
    const [row] = await t.db.sql<
      Row[]
    >`select status, attempts, error, processed_at from inbox where id = ${id}`
    return row && row.status !== 'received' && row.status !== 'processing' ? row : undefined
  })

describe('event worker', () => {
  it('consumes the job and marks the inbox row applied', async () => {
    const id = await send({})
    const row = await settled(id)
    expect(row).toMatchObject({ status: 'applied', attempts: 1, error: null })
    expect(row.processed_at).toBeInstanceOf(Date)
  })

  it('retries a transient failure with backoff, then applies', async () => {
    const id = await send({ script: 'flaky' })
    const row = await settled(id)
    expect(row).toMatchObject({ status: 'applied', attempts: 2, error: null })
    expect(calls.get(id)).toBe(2)
    // The failed try is logged for the job as a whole, not only for its event.
    expect(warnings).toContainEqual(
      expect.objectContaining({
        msg: 'events job failed',
        attempts: 1,
        err: expect.stringContaining('will be retried'),
      }),
    )
  })

  it('ends failed at once, with the reason in Postgres, for an unrecoverable error', async () => {
    const id = await send({ script: 'unmappable' })
    const row = await settled(id)
    expect(row).toMatchObject({ status: 'failed', attempts: 1, error: 'payload cannot be mapped' })
    await new Promise((r) => setTimeout(r, 300))
    expect(calls.get(id)).toBe(1)
  })

  it('ends failed, with the last reason, when the retries run out', async () => {
    const id = await store('always-fails', 'msg_retries')
    await t.deps.queues.events.add(
      'apply-event',
      { inboxId: id },
      { jobId: `short-${id}`, attempts: 3, backoff: { type: 'fixed', delay: 10 } },
    )
    const row = await settled(id)
    expect(row).toMatchObject({ status: 'failed', attempts: 3, error: 'transient forever' })
    expect(calls.get(id)).toBe(3)
  })

  it('a second job for an already settled row changes nothing', async () => {
    const id = await send({})
    await settled(id)
    await t.deps.queues.events.add('apply-event', { inboxId: id }, { jobId: `again-${id}` })
    await new Promise((r) => setTimeout(r, 300))
    expect(calls.get(id)).toBe(1)
  })

  it('settles each row of a batch as its own outcome says, each try counted once', async () => {
    const scripts = ['plain', 'stale', 'detailed', 'parked', 'unmappable', 'always-fails']
    const ids = await Promise.all(scripts.map((s) => store(s, `msg_batch_${s}`)))
    // A woken row that fails this try keeps the processed_at of its earlier settling, to the
    // microsecond (a JavaScript Date would keep milliseconds; hence text here too, as the driver
    // sends a timestamptz parameter through a Date).
    const earlier = '2026-11-01 08:00:00.123456+00'
    const retried = ids[5] as string
    await t.db.sql`update inbox set processed_at = ${earlier}::text::timestamptz where id = ${retried}`
    await t.deps.queues.events.add(
      'apply-events',
      { inboxIds: ids },
      { jobId: `batch-${ids[0]}`, attempts: 2, backoff: { type: 'fixed', delay: 60_000 } },
    )
    await eventually(async () => ((calls.get(retried) ?? 0) >= 1 ? true : undefined))
    const rows = await eventually(async () => {
      const found = await t.db.sql<(Settled & { id: string })[]>`
        select id::text, status, attempts, error, error_details, waiting_for_kind, waiting_for_id, processed_at
        from inbox where id = any(${ids}::bigint[]) and attempts > 0 order by id`
      return found.length === ids.length ? found : undefined
    })
    const byScript = Object.fromEntries(rows.map((r) => [scripts[ids.indexOf(r.id)], r]))
    const settledAt = byScript.plain?.processed_at
    expect(settledAt).toBeInstanceOf(Date)
    const done = {
      attempts: 1,
      error: null,
      error_details: null,
      waiting_for_kind: null,
      waiting_for_id: null,
    }
    expect(byScript).toEqual({
      plain: { id: ids[0], status: 'applied', ...done, processed_at: settledAt },
      stale: { id: ids[1], status: 'stale', ...done, processed_at: settledAt },
      detailed: {
        id: ids[2],
        status: 'applied',
        ...done,
        error_details: { note: 'kept' },
        processed_at: settledAt,
      },
      parked: {
        id: ids[3],
        status: 'waiting',
        ...done,
        waiting_for_kind: 'account',
        waiting_for_id: 'acc-later',
        processed_at: settledAt,
      },
      unmappable: {
        id: ids[4],
        status: 'failed',
        ...done,
        error: 'payload cannot be mapped',
        processed_at: settledAt,
      },
      'always-fails': {
        id: ids[5],
        status: 'processing',
        ...done,
        error: 'transient forever',
        processed_at: expect.any(Date),
      },
    })
    const [kept] = await t.db.sql<{ exact: boolean }[]>`
      select processed_at = ${earlier}::text::timestamptz as exact from inbox where id = ${retried}`
    expect(kept?.exact).toBe(true)
  })

  it('a deadlock on the last try leaves the event to be retried (by the relay), never failed', async () => {
    const id = await store('deadlock', 'msg_deadlock')
    await t.deps.queues.events.add(
      'apply-events',
      { inboxIds: [id] },
      { jobId: `deadlock-${id}`, attempts: 2, backoff: { type: 'fixed', delay: 10 } },
    )
    await eventually(async () => ((calls.get(id) ?? 0) >= 2 ? true : undefined))
    await new Promise((r) => setTimeout(r, 300))
    const [row] = await t.db.sql<Row[]>`select status, attempts, error from inbox where id = ${id}`
    expect(row).toMatchObject({ status: 'processing', attempts: 2, error: 'deadlock detected' })
  })
})
