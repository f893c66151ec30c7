import { z } from 'zod'

const DEV_SECRETS_KEY = 'tiersync-development-secrets-key-not-for-production'

const Env = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    DATABASE_URL: z.url().default('postgres://127.0.0.1:5432/tiersync'),
    REDIS_URL: z.url().default('redis://127.0.0.1:6379'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    /** Base URL resellers reach us at; used to build each source's webhook_url. */
    PUBLIC_URL: z.url().optional(),
    ADMIN_API_KEY: z.string().min(24, 'must be at least 24 characters').optional(),
    SECRETS_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
    ROLE: z.enum(['all', 'api', 'worker']).default('all'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Largest webhook body accepted, in bytes (CONTRACT section 2: default 1 MiB). */
    WEBHOOK_MAX_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(1024 * 1024),
    /** Default per-source rate limit; a source may override it. 0 disables the limit. */
    RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(6000),
    /** How long a rotated-out secret keeps verifying. */
    SECRET_GRACE_HOURS: z.coerce.number().positive().default(24),
    /**
     * Jobs (batches of events) a worker applies at once. 2 on a 2-core machine: more transactions
     * at once only wait on each other's object locks and share the same CPU (README, Benchmarks).
     */
    WORKER_CONCURRENCY: z.coerce.number().int().positive().default(2),
    /** A job whose worker died is retried after this long (BullMQ lock duration and stalled check). */
    WORKER_LOCK_MS: z.coerce.number().int().min(1000).default(30_000),
    /** Seconds a committed inbox row may wait without a job before the relay queues it again. */
    RELAY_AFTER_SECONDS: z.coerce.number().int().positive().default(10),
    QUEUE_PREFIX: z.string().min(1).default('tiersync'),
    /** Redis Sentinel instead of one Redis: `host:port,host:port` (REDIS_URL then gives password and db). */
    REDIS_SENTINELS: z
      .string()
      .regex(/^[\w.-]+:\d+(,[\w.-]+:\d+)*$/, 'host:port,host:port')
      .optional(),
    /** The Sentinel master's name. */
    REDIS_SENTINEL_NAME: z.string().min(1).default('mymaster'),
    /** A parked event whose object has not arrived after this long ends `failed` (replayable). */
    WAITING_EXPIRE_HOURS: z.coerce.number().positive().default(72),
    /** Per-attempt timeout of calls to a reseller BSS API (thin notifications, reconciliation). */
    BSS_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
    /** Day of the month (UTC) the scheduled invoice run bills the previous month. */
    INVOICE_RUN_DAY: z.coerce.number().int().min(1).max(28).default(1),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === 'production' && !env.SECRETS_KEY) {
      ctx.addIssue({ code: 'custom', path: ['SECRETS_KEY'], message: 'is required when NODE_ENV=production' })
    }
  })

export type Config = Omit<z.infer<typeof Env>, 'SECRETS_KEY' | 'PUBLIC_URL'> & {
  SECRETS_KEY: string
  PUBLIC_URL: string
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Parses the environment once, at boot; the message names every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable (compose's `${X:-}`) means "not set", not "set to nothing".
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const parsed = Env.safeParse(present)
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`)
    throw new ConfigError(`invalid configuration\n  ${lines.join('\n  ')}`)
  }
  const data = parsed.data
  return {
    ...data,
    SECRETS_KEY: data.SECRETS_KEY ?? DEV_SECRETS_KEY,
    PUBLIC_URL: data.PUBLIC_URL ?? `http://localhost:${data.PORT}`,
  }
}
