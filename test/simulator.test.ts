import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Webhook } from 'standardwebhooks'
import { afterAll, describe, expect, it, onTestFinished } from 'vitest'
import { serveApi } from '../src/server.js'
import { generateEvents } from '../src/sim/generate.js'
import { loadScenario } from '../src/sim/scenario.js'
import { type Delivery, sendAll } from '../src/sim/send.js'
import { createSourceViaApi, createTestApp } from './helpers/app.js'
import { settled } from './helpers/reseller.js'
import { startTestWorker } from './helpers/worker.js'

// The simulator against the real service over a socket, with a real worker applying the events.
const t = await createTestApp()
startTestWorker(t)
// The server as the service runs it: the webhook route through its fast path.
const server = await serveApi(t.deps, t.app, { port: 0, hostname: '127.0.0.1' })
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
const root = fileURLToPath(new URL('..', import.meta.url))
const example = `${root}scenarios/example.json`

async function inboxCount(sourceId: string): Promise<number> {
  const [row] = await t.db.sql<{ n: number }[]>`
    select count(*)::int as n from inbox where source_id = ${sourceId}`
  return row?.n ?? -1
}

/** The CLI as a reseller runs it, in a child process (async: this process serves the requests). */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/sim/cli.ts', ...args], { cwd: root })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** The final quantity per subscription: the one carried by its highest sequence. */
function expectedQuantities(deliveries: Delivery[]): Map<string, number> {
  const latest = new Map<string, { sequence: number; quantity: number }>()
  for (const d of deliveries) {
    const e = JSON.parse(d.body) as { type: string; sequence: number; data: { id: string; quantity: number } }
    if (!e.type.startsWith('subscription.')) continue
    const seen = latest.get(e.data.id)
    if (!seen || e.sequence > seen.sequence) {
      latest.set(e.data.id, { sequence: e.sequence, quantity: e.data.quantity })
    }
  }
  return new Map([...latest].map(([id, v]) => [id, v.quantity]))
}

describe('reseller simulator', () => {
  it('loads the service: accepted = inbox rows, repeats = duplicates, the records match the events', async () => {
    const source = await createSourceViaApi(t)
    const generated = generateEvents({ events: 300, subscriptions: 60, seed: 42 })
    // Every 10th delivery sent again right after itself (same id): a BSS retry.
    const deliveries = generated.flatMap((d, i) => (i % 10 === 9 ? [d, d] : [d]))
    const { summary, results } = await sendAll(
      { url, sourceId: source.id, secret: source.secret },
      deliveries,
      { concurrency: 8 },
    )

    expect(summary).toMatchObject({
      sent: 330,
      accepted: 300,
      duplicates: 30,
      rejected: {},
      network_errors: 0,
    })
    expect(await inboxCount(source.id)).toBe(summary.accepted)
    expect(summary.latency_ms.p50).toBeGreaterThan(0)
    expect(summary.latency_ms.max).toBeGreaterThanOrEqual(summary.latency_ms.p99)
    // A duplicate answers with the id of the row the first delivery stored; those rows are the inbox.
    const idsPerWebhook = new Map<string, Set<string | undefined>>()
    for (const r of results) {
      idsPerWebhook.set(r.webhookId, (idsPerWebhook.get(r.webhookId) ?? new Set()).add(r.inboxId))
    }
    expect(idsPerWebhook.size).toBe(300)
    expect([...idsPerWebhook.values()].filter((ids) => ids.size !== 1 || ids.has(undefined))).toEqual([])
    const stored = await t.db.sql<{ id: string }[]>`select id::text from inbox where source_id = ${source.id}`
    expect(new Set(results.map((r) => r.inboxId))).toEqual(new Set(stored.map((r) => r.id)))

    await settled(t)
    const statuses = await t.db.sql<{ status: string; n: number }[]>`
      select status, count(*)::int as n from inbox where source_id = ${source.id} group by status`
    expect(statuses.filter((s) => !['applied', 'stale'].includes(s.status))).toEqual([])
    const expected = expectedQuantities(generated)
    const rows = await t.db.sql<{ external_id: string; quantity: number }[]>`
      select external_id, quantity from subscriptions where source_id = ${source.id}`
    expect(rows).toHaveLength(60)
    expect(rows.reduce((sum, r) => sum + r.quantity, 0)).toBe(
      [...expected.values()].reduce((a, b) => a + b, 0),
    )
    expect(new Map(rows.map((r) => [r.external_id, r.quantity]))).toEqual(expected)
    const [accounts] = await t.db.sql<{ n: number }[]>`
      select count(*)::int as n from accounts where source_id = ${source.id} and type = 'customer'`
    expect(accounts?.n).toBe(6)
  })

  it('a wrong secret: every delivery rejected with signature_invalid, nothing stored', async () => {
    const source = await createSourceViaApi(t)
    const wrong = `whsec_${randomBytes(32).toString('base64')}`
    const deliveries = generateEvents({ events: 25, subscriptions: 5 })
    const { summary, results } = await sendAll({ url, sourceId: source.id, secret: wrong }, deliveries, {
      concurrency: 4,
    })
    expect(summary).toMatchObject({
      sent: 25,
      accepted: 0,
      duplicates: 0,
      rejected: { signature_invalid: 25 },
      network_errors: 0,
    })
    expect(new Set(results.map((r) => r.status))).toEqual(new Set([401]))
    expect(await inboxCount(source.id)).toBe(0)
  })

  it('the CLI plays the example scenario; a second run of it is all duplicates', async () => {
    const source = await createSourceViaApi(t)
    const args = ['--url', url, '--source', source.id, '--secret', source.secret]
    const run = await cli([...args, '--scenario', 'scenarios/example.json', '--json'])
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const summary = JSON.parse(run.stdout.trim())
    expect(summary).toMatchObject({ sent: 5, accepted: 4, duplicates: 1, rejected: {}, network_errors: 0 })
    expect(summary.accepted + summary.duplicates).toBe(summary.sent)
    expect(await inboxCount(source.id)).toBe(4)

    // Deterministic webhook ids: the same scenario again creates nothing new.
    const again = await sendAll({ url, sourceId: source.id, secret: source.secret }, loadScenario(example), {
      concurrency: 1,
    })
    expect(again.summary).toMatchObject({ sent: 5, accepted: 0, duplicates: 5 })

    await settled(t)
    const subs = await t.db.sql<{ external_id: string; quantity: number }[]>`
      select external_id, quantity from subscriptions where source_id = ${source.id}`
    expect(subs).toEqual([{ external_id: 'sub-acme-m365', quantity: 15 }])
    const [trial] = await t.db.sql<{ status: string }[]>`
      select status from inbox where source_id = ${source.id} and object_id = 'sub-acme-copilot-trial'`
    expect(trial?.status).toBe('ignored_unpaid')
  })

  it('the CLI: bad arguments or a bad scenario exit 2 with a message, --help prints usage, network errors exit 1', async () => {
    const secret = `whsec_${randomBytes(32).toString('base64')}`
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo
        s.close(() => resolve(port))
      })
    })
    const dir = await mkdtemp(join(tmpdir(), 'sim-'))
    onTestFinished(() => rm(dir, { recursive: true, force: true }))
    const badScenario = join(dir, 'bad.json')
    await writeFile(
      badScenario,
      JSON.stringify({ steps: [{ event: { type: 'test.ping' }, times: 0, extra: 1 }] }),
    )
    const target = ['--url', url, '--source', 's', '--secret', secret]
    const [badArgs, noMode, unknown, scenario, help, unreachable] = await Promise.all([
      cli(['--url', 'nope', '--source', 's', '--secret', secret, '--events', 'abc', '--subscriptions', '5']),
      cli([...target, '--events', '3']),
      cli(['--bogus']),
      cli([...target, '--scenario', badScenario]),
      cli(['--help']),
      cli([
        '--url',
        `http://127.0.0.1:${closed}`,
        '--source',
        's',
        '--secret',
        secret,
        '--events',
        '3',
        '--subscriptions',
        '1',
        '--json',
      ]),
    ])
    expect(badArgs.code).toBe(2)
    expect(badArgs.stderr).toContain('--url must be an http(s) URL')
    expect(badArgs.stderr).toContain('--events must be a number')
    expect(noMode.code).toBe(2)
    expect(noMode.stderr).toContain('--events and --subscriptions go together')
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("Unknown option '--bogus'")
    expect(scenario.code).toBe(2)
    expect(scenario.stderr).toContain('is invalid')
    expect(scenario.stderr).toContain('steps[0].times')
    expect(scenario.stderr).toContain('"extra"')
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('usage: npm run sim')
    expect(unreachable.code).toBe(1)
    expect(JSON.parse(unreachable.stdout.trim())).toMatchObject({ sent: 3, accepted: 0, network_errors: 3 })
  })

  it('sendAll keeps iteration order at concurrency 1, paces starts, and retries a 503 with the same webhook-id', async () => {
    // A stand-in for the service that answers each webhook-id's first attempt 503 Retry-After: 0.
    const seen: { id: string; at: number; headers: IncomingHttpHeaders; body: string }[] = []
    const stub = createServer((req, res) => {
      let body = ''
      req.on('data', (d) => {
        body += d
      })
      req.on('end', () => {
        const id = String(req.headers['webhook-id'])
        const first = !seen.some((s) => s.id === id)
        seen.push({ id, at: performance.now(), headers: req.headers, body })
        res.writeHead(first ? 503 : 202, {
          'content-type': 'application/json',
          ...(first && { 'retry-after': '0' }),
        })
        res.end(
          JSON.stringify(first ? { error: { code: 'storage_unavailable' } } : { id, status: 'accepted' }),
        )
      })
    })
    await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve))
    onTestFinished(() => new Promise<void>((resolve) => stub.close(() => resolve())))
    const secret = `whsec_${randomBytes(32).toString('base64')}`
    const deliveries = loadScenario(example)
    const t0 = performance.now()
    const { summary, results } = await sendAll(
      { url: `http://127.0.0.1:${(stub.address() as AddressInfo).port}/`, sourceId: 'src-1', secret },
      deliveries,
      { concurrency: 1, retries: 2, ratePerSecond: 50 },
    )
    expect(summary).toMatchObject({ sent: 5, accepted: 5, duplicates: 0, rejected: {}, network_errors: 0 })
    expect(results.map((r) => r.webhookId)).toEqual(deliveries.map((d) => d.webhookId))
    // In scenario order; a webhook-id's first delivery twice in a row (the 503, then the retry),
    // its repeat (the scenario's duplicate step) once; every attempt signed.
    const expectedIds = deliveries.flatMap((d, i) =>
      deliveries.findIndex((x) => x.webhookId === d.webhookId) === i
        ? [d.webhookId, d.webhookId]
        : [d.webhookId],
    )
    expect(expectedIds).toHaveLength(9)
    expect(seen.map((s) => s.id)).toEqual(expectedIds)
    for (const s of seen) {
      expect(() => new Webhook(secret).verify(s.body, s.headers as Record<string, string>)).not.toThrow()
    }
    // 9 starts at 50 per second, the first at once: the last one starts 8 gaps of 20 ms later.
    expect((seen.at(-1)?.at ?? 0) - t0).toBeGreaterThanOrEqual(8 * 20)

    // Without retries the 503 is the final outcome, counted under its code.
    const once = await sendAll(
      { url: `http://127.0.0.1:${(stub.address() as AddressInfo).port}`, sourceId: 'src-1', secret },
      [{ body: '{}', webhookId: 'msg_never_seen' }],
      { concurrency: 1 },
    )
    expect(once.summary.rejected).toEqual({ storage_unavailable: 1 })
  })
})
