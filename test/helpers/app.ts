import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { Webhook } from 'standardwebhooks'
import { afterAll } from 'vitest'
import { createApp } from '../../src/app.js'
import { createApiKey, type Role } from '../../src/auth/api-keys.js'
import { type Clock, systemClock } from '../../src/clock.js'
import { type Config, loadConfig } from '../../src/config.js'
import type { Deps } from '../../src/deps.js'
import { createInboxWriter } from '../../src/inbox/inbox-writer.js'
import { createEnqueuer } from '../../src/inbox/relay.js'
import { createMetrics, registerStateGauges } from '../../src/metrics.js'
import type { EventRef } from '../../src/queue/jobs.js'
import { createQueues } from '../../src/queue/queues.js'
import { createProducerRedis } from '../../src/queue/redis.js'
import { createSourceCache } from '../../src/sources/cache.js'
import { createSecretBox } from '../../src/sources/secret-box.js'
import { createTestDb, type TestDb } from './db.js'
import { REDIS_URL } from './env.js'

export const silentLog = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })

export function uniquePrefix(): string {
  return `tst-${randomBytes(5).toString('hex')}`
}

export function testConfig(db: TestDb, overrides: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    REDIS_URL,
    PORT: '0',
    LOG_LEVEL: 'silent',
    QUEUE_PREFIX: uniquePrefix(),
    ...overrides,
  })
}

export type TestApp = {
  db: TestDb
  deps: Deps
  app: ReturnType<typeof createApp>
  adminKey: string
  keyFor(role: Role): Promise<string>
  /** Waits for enqueues started by commits (they run off the request path). */
  drain(): Promise<void>
  enqueue(refs: EventRef[]): void
}

/** The real app on a fresh database and a unique queue prefix; everything closed after the file. */
export async function createTestApp(
  opts: { clock?: Clock; env?: Record<string, string>; redisUrl?: string } = {},
): Promise<TestApp> {
  const db = await createTestDb()
  const config = testConfig(db, opts.env)
  const redis = createProducerRedis(opts.redisUrl ?? config.REDIS_URL, silentLog)
  const queues = createQueues(redis, config.QUEUE_PREFIX, silentLog)
  const inbox = createInboxWriter(db.sql)
  const enqueuer = createEnqueuer({ sql: db.sql, queues, log: silentLog })
  inbox.onCommitted((refs) => enqueuer.enqueue(refs))
  const deps: Deps = {
    config,
    sql: db.sql,
    redis,
    queues,
    inbox,
    box: createSecretBox(config.SECRETS_KEY),
    clock: opts.clock ?? systemClock,
    log: silentLog,
    metrics: createMetrics(),
    sourceCache: createSourceCache(5000),
  }
  registerStateGauges(deps.metrics, { sql: db.sql, queues })
  const app = createApp(deps)
  const { key: adminKey } = await createApiKey(db.sql, { name: 'test admin', role: 'admin' })
  afterAll(async () => {
    await enqueuer.drain()
    await queues.events.obliterate({ force: true }).catch(() => {})
    await queues.reconcile.obliterate({ force: true }).catch(() => {})
    await queues.close()
    redis.disconnect()
  })
  return {
    db,
    deps,
    app,
    adminKey,
    keyFor: async (role) => (await createApiKey(db.sql, { name: `test ${role}`, role })).key,
    drain: () => enqueuer.drain(),
    enqueue: (refs) => enqueuer.enqueue(refs),
  }
}

export function bearer(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` }
}

export const RESELLER = {
  name: 'Cloud Resell',
  number: 'R-1001',
  email: 'billing@cloudresell.example',
  tier: 'premium',
  currency: 'EUR',
}

export async function createSourceViaApi(
  t: TestApp,
  body: Record<string, unknown> = {},
): Promise<{ id: string; secret: string; webhook_url: string; account_id: string }> {
  const res = await t.app.request('/v1/sources', {
    method: 'POST',
    headers: { ...bearer(t.adminKey), 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Cloud Resell BSS', format: 'canonical', reseller: RESELLER, ...body }),
  })
  if (res.status !== 201) throw new Error(`source create failed: ${res.status} ${await res.text()}`)
  return (await res.json()) as { id: string; secret: string; webhook_url: string; account_id: string }
}

/** Signs like any reseller would: with the npm `standardwebhooks` library. */
export function signedHeaders(
  secret: string,
  body: string,
  opts: { id?: string; at?: Date } = {},
): Record<string, string> {
  const id = opts.id ?? `msg_${randomBytes(8).toString('hex')}`
  const at = opts.at ?? new Date()
  const signature = new Webhook(secret).sign(id, at, body)
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signature,
  }
}

export function pingEvent(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ type: 'test.ping', occurred_at: new Date().toISOString(), data: {}, ...extra })
}
