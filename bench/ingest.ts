import { randomBytes } from 'node:crypto'
import autocannon from 'autocannon'
import { Webhook } from 'standardwebhooks'
import { request } from 'undici'
import { microsEach, postgresCpu } from './cpu.js'
import { dropDatabase, freshDatabase } from './db.js'
import { startProcess } from './servers.js'

type Side = { req_per_s: number; p50_ms: number; p99_ms: number; non_2xx: number }

export type IngestResult = {
  connections: number
  /** Load time per side, in `rounds` rounds that alternate bare and tiersync. */
  seconds: number
  rounds: number
  /** req/s, p50 and p99: the median over the rounds; non-2xx: the sum. */
  bare: Side & { cpu_us_per_req: number }
  tiersync: Side & {
    peak_rss_mb: number
    /** CPU per acknowledged request, of the API process and of Postgres (its backends for this database). */
    api_cpu_us_per_req: number
    postgres_cpu_us_per_req: number
  }
  /** The median of the rounds' ratios (ours over bare, each round against the bare round just before it). */
  ratio: number
  ratio_range: [number, number]
  by_round: { bare_req_per_s: number; tiersync_req_per_s: number; ratio: number }[]
}

type Signed = { body: string; headers: Record<string, string> }

/** Distinct canonical subscription events, each signed as a reseller would (npm standardwebhooks). */
function signedPool(secret: string, n: number): Signed[] {
  const wh = new Webhook(secret)
  const run = randomBytes(4).toString('hex')
  const pool: Signed[] = []
  const now = new Date()
  for (let i = 0; i < n; i++) {
    const body = JSON.stringify({
      type: 'subscription.updated',
      occurred_at: now.toISOString(),
      sequence: i,
      data: {
        id: `sub-${run}-${i % 5000}`,
        account_id: `acc-${run}-${i % 500}`,
        product: { sku: 'CFQ7TTC0LFLX:0001', name: 'Microsoft 365 Business Standard' },
        status: 'active',
        paid: true,
        quantity: 1 + (i % 250),
        billing_cycle: 'monthly',
        term: 'P1Y',
        start_date: '2026-11-01',
        auto_renew: true,
      },
    })
    const id = `msg_${run}_${i}`
    pool.push({
      body,
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
        'webhook-signature': wh.sign(id, now, body),
      },
    })
  }
  return pool
}

/** An endpoint and its pool of requests, with the next one to send: each is sent once, across rounds. */
type Target = { url: string; pool: Signed[]; next: number }

type Round = Side & { acknowledged: number }

async function load(target: Target, connections: number, seconds: number): Promise<Round> {
  const result = await autocannon({
    url: target.url,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        setupRequest: (req) => {
          const r = target.pool[target.next++ % target.pool.length] as Signed
          return { ...req, body: r.body, headers: r.headers }
        },
      },
    ],
  })
  return {
    req_per_s: Math.round(result.requests.average),
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    non_2xx: result.non2xx,
    acknowledged: result['2xx'],
  }
}

/**
 * Ingest: a bare Hono endpoint on the same server stack against tiersync's full ingest
 * (verification, inbox group commit, enqueue), each in its own process, both loaded by
 * autocannon with distinct signed requests; the ratio is ours over bare. The two take turns in
 * short rounds, so a shared machine that speeds up or slows down during the run moves both
 * sides of each round's ratio alike; the median round is reported, with the range. A first
 * round of each warms up and is not counted.
 */
export async function benchIngest(connections = 50, seconds = 10, rounds = 5): Promise<IngestResult> {
  const poolSize = Number(process.env.BENCH_INGEST_POOL ?? 150_000)
  const roundSeconds = Math.max(1, Math.round(seconds / rounds))
  const name = 'tiersync_bench_ingest'
  const { url: dbUrl, sql } = await freshDatabase(name)
  const pg = postgresCpu(sql, name)
  const adminKey = `tsk_bench_${randomBytes(12).toString('hex')}`

  // Same bodies and headers for both: the bare endpoint just does not check them.
  const bare = await startProcess('bench/bare-server.ts', {}, /listening (\d+)/)
  // The production build (`npm run build`, run by `npm run bench`), as `npm run start:prod` runs it.
  const api = await startProcess(
    'dist/main.js',
    {
      DATABASE_URL: dbUrl,
      REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
      ROLE: 'api',
      PORT: '0',
      LOG_LEVEL: 'info', // as in production; the port is read from the 'api listening' line
      ADMIN_API_KEY: adminKey,
      RATE_LIMIT_PER_MINUTE: '0',
      QUEUE_PREFIX: `bench-${randomBytes(4).toString('hex')}`,
    },
    /"port":(\d+)/,
  )
  const base = `http://127.0.0.1:${api.port}`
  const created = await request(`${base}/v1/sources`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', reseller: { name: 'Bench Reseller' } }),
  })
  const source = (await created.body.json()) as { id: string; secret: string }
  const bareTarget: Target = {
    url: `http://127.0.0.1:${bare.port}/v1/webhooks/x`,
    pool: signedPool(`whsec_${randomBytes(32).toString('base64')}`, poolSize),
    next: 0,
  }
  const oursTarget: Target = {
    url: `${base}/v1/webhooks/${source.id}`,
    pool: signedPool(source.secret, poolSize),
    next: 0,
  }

  const bareRounds: Round[] = []
  const oursRounds: Round[] = []
  let [bareCpu, apiCpu, pgCpu] = [0, 0, 0]
  // A first round each, not counted: both processes and autocannon warm up in it.
  await load(bareTarget, connections, roundSeconds)
  await load(oursTarget, connections, roundSeconds)
  for (let r = 0; r < rounds; r++) {
    const bareCpu0 = bare.cpuSeconds()
    bareRounds.push(await load(bareTarget, connections, roundSeconds))
    bareCpu += bare.cpuSeconds() - bareCpu0
    const [apiCpu0, pg0] = [api.cpuSeconds(), await pg.sample()]
    oursRounds.push(await load(oursTarget, connections, roundSeconds))
    apiCpu += api.cpuSeconds() - apiCpu0
    pgCpu += await pg.since(pg0)
  }
  const peak = api.peakRssMb()
  await Promise.all([bare.stop(), api.stop()])
  await sql.end()
  await dropDatabase(name)
  if (oursTarget.next > poolSize)
    console.warn(`ingest bench: ${oursTarget.next} requests > pool ${poolSize}: some were duplicates`)

  const byRound = bareRounds.map((b, i) => {
    const ours = oursRounds[i] as Round
    return {
      bare_req_per_s: b.req_per_s,
      tiersync_req_per_s: ours.req_per_s,
      ratio: round3(ours.req_per_s / b.req_per_s),
    }
  })
  const ratios = byRound.map((r) => r.ratio)
  const acknowledged = (rs: Round[]) => rs.reduce((n, r) => n + r.acknowledged, 0)
  return {
    connections,
    seconds: roundSeconds * rounds,
    rounds,
    bare: { ...summarize(bareRounds), cpu_us_per_req: microsEach(bareCpu, acknowledged(bareRounds)) },
    tiersync: {
      ...summarize(oursRounds),
      peak_rss_mb: peak,
      api_cpu_us_per_req: microsEach(apiCpu, acknowledged(oursRounds)),
      postgres_cpu_us_per_req: microsEach(pgCpu, acknowledged(oursRounds)),
    },
    ratio: median(ratios),
    ratio_range: [Math.min(...ratios), Math.max(...ratios)],
    by_round: byRound,
  }
}

function summarize(rs: Side[]): Side {
  return {
    req_per_s: median(rs.map((r) => r.req_per_s)),
    p50_ms: median(rs.map((r) => r.p50_ms)),
    p99_ms: median(rs.map((r) => r.p99_ms)),
    non_2xx: rs.reduce((n, r) => n + r.non_2xx, 0),
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

const round3 = (x: number) => Math.round(x * 1000) / 1000
