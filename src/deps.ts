import type { Redis } from 'ioredis'
import type { Clock } from './clock.js'
import type { Config } from './config.js'
import type { Sql } from './db/client.js'
import type { InboxWriter } from './inbox/inbox-writer.js'
import type { Logger } from './log.js'
import type { Metrics } from './metrics.js'
import type { Queues } from './queue/queues.js'
import type { SourceCache } from './sources/cache.js'
import type { SecretBox } from './sources/secret-box.js'

/** Everything the app and the worker need, built by an entry point (or a test) and passed in. */
export type Deps = {
  config: Config
  sql: Sql
  /** Fail-fast connection for producers and the rate limiter. */
  redis: Redis
  queues: Queues
  inbox: InboxWriter
  box: SecretBox
  clock: Clock
  log: Logger
  metrics: Metrics
  /** Ingest's view of each source, for a few seconds; routes that change a source drop its entry. */
  sourceCache: SourceCache
}
