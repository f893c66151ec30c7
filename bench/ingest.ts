import { randomBytes } from 'node:crypto'
import autocannon from 'autocannon'
import { Webhook } from 'standardwebhooks'
import { request } from 'undici'
import { microsEach, postgresCpu } from './cpu.js'
import { dropDatabase, freshDatabase } from './db.js'
import { startProcess } from './servers.js'

export type IngestResult = {
  connections: number
  seconds: number
  bare: { req_per_s: number; p50_ms: number; p99_ms: number; non_2xx: number; cpu_us_per_req: number }
  tiersync: {
    req_per_s: number
    p50_ms: number
    p99_ms: number
    non_2xx: number
    peak_rss_mb: number
    /** CPU per acknowledged request, of the API process and of Postgres (its backends for this database). */
    api_cpu_us_per_req: number
    postgres_cpu_us_per_req: number
  }
  ratio: number
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

async function load(url: string, pool: Signed[], connections: number, seconds: number) {
  let next = 0
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        setupRequest: (req) => {
          const r = pool[next++ % pool.length] as Signed
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
    sent: next,
    acknowledged: result['2xx'],
  }
}

/**
 * Ingest: a bare Hono endpoint on the same server stack against tiersync's full ingest
 * (verification, inbox group commit, enqueue), each in its own process, both loaded by
 * autocannon with distinct signed requests; the ratio is ours over bare.
 */
export async function benchIngest(connections = 50, seconds = 10): Promise<IngestResult> {
  const poolSize = Number(process.env.BENCH_INGEST_POOL ?? 150_000)
  const name = 'tiersync_bench_ingest'
  const { url: dbUrl, sql } = await freshDatabase(name)
  const pg = postgresCpu(sql, name)
  const adminKey = `tsk_bench_${randomBytes(12).toString('hex')}`

  // Same bodies and headers for both: the bare endpoint just does not check them.
  const bare = await startProcess('bench/bare-server.ts', {}, /listening (\d+)/)
  const barePool = signedPool(`whsec_${randomBytes(32).toString('base64')}`, poolSize)
  const bareCpu0 = bare.cpuSeconds()
  const bareResult = await load(`http://127.0.0.1:${bare.port}/v1/webhooks/x`, barePool, connections, seconds)
  const bareCpu = bare.cpuSeconds() - bareCpu0
  barePool.length = 0
  await bare.stop()

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
  const pool = signedPool(source.secret, poolSize)
  const [apiCpu0, pg0] = [api.cpuSeconds(), await pg.sample()]
  const ours = await load(`${base}/v1/webhooks/${source.id}`, pool, connections, seconds)
  const [apiCpu, pgCpu] = [api.cpuSeconds() - apiCpu0, await pg.since(pg0)]
  const peak = api.peakRssMb()
  await api.stop()
  await sql.end()
  await dropDatabase(name)
  if (ours.sent > poolSize)
    console.warn(`ingest bench: ${ours.sent} requests > pool ${poolSize}: some were duplicates`)
  return {
    connections,
    seconds,
    bare: { ...strip(bareResult), cpu_us_per_req: microsEach(bareCpu, bareResult.acknowledged) },
    tiersync: {
      ...strip(ours),
      peak_rss_mb: peak,
      api_cpu_us_per_req: microsEach(apiCpu, ours.acknowledged),
      postgres_cpu_us_per_req: microsEach(pgCpu, ours.acknowledged),
    },
    ratio: Math.round((ours.req_per_s / bareResult.req_per_s) * 1000) / 1000,
  }
}

function strip(r: { req_per_s: number; p50_ms: number; p99_ms: number; non_2xx: number }) {
  return { req_per_s: r.req_per_s, p50_ms: r.p50_ms, p99_ms: r.p99_ms, non_2xx: r.non_2xx }
}
