import { UnrecoverableError } from 'bullmq'
import { type BssClient, BssRejected, BssUnavailable } from '../callback/client.js'
import { jsonParam, type Sql } from '../db/client.js'
import type { Logger } from '../log.js'
import { parseJson } from '../mappers/envelope.js'
import { mapperFor } from '../mappers/index.js'
import type { MappingConfig } from '../mappers/mapping.js'
import type { SecretBox } from '../sources/secret-box.js'
import { loadBssApi, type SourceFormat } from '../sources/sources.js'

/**
 * The BSS cannot answer yet (down, throttling, breaker open). Not a failure of the event: its
 * row stays unsettled whatever the attempt count, and is tried again by the job's backoff and,
 * past that, by the relay. The received event is never lost to a BSS outage.
 */
export class FetchPending extends Error {
  readonly retryForever = true
}

/** Refusals that may heal (not found yet, credentials mid-rotation, conflict, timeout, too early). */
const TRANSIENT_REFUSALS = new Set([401, 403, 404, 408, 409, 425])
const REFUSAL_TRIES = 3

export type FetchDeps = { sql: Sql; box: SecretBox; client: BssClient; log: Logger; now: () => Date }

type Candidate = {
  id: string
  source_id: string
  body: string
  format: SourceFormat
  mapping: MappingConfig | null
  attempts: number
}

/** Fetches at a time, for one job. */
const PARALLEL = 8

/**
 * The first step of applying thin notifications, outside the apply transaction: for each row of
 * a job that needs it, GET what its mapper asks for from the source's BSS API and keep the
 * answers on the inbox row. Done once: a retried apply reads the stored answers (a replay clears
 * them, to read the BSS anew). Returns the rows that could not be fetched, with the reason.
 */
export async function fetchForEvents(
  deps: FetchDeps,
  inboxIds: readonly string[],
): Promise<Map<string, unknown>> {
  // Only sources whose format can fetch; a batch of full-state events costs one query.
  const rows = await deps.sql<Candidate[]>`
    select i.id::text, i.source_id, i.body, s.format, s.mapping, i.attempts
    from inbox i join sources s on s.id = i.source_id
    where i.id = any(${inboxIds}::bigint[]) and i.status in ('received', 'processing') and i.fetched is null
      and i.origin = 'webhook' and s.format <> 'canonical'
    order by i.id`
  const errors = new Map<string, unknown>()
  for (let i = 0; i < rows.length; i += PARALLEL) {
    await Promise.all(
      rows.slice(i, i + PARALLEL).map((row) =>
        fetchForEvent(deps, row).catch((err: unknown) => {
          errors.set(row.id, err)
        }),
      ),
    )
  }
  return errors
}

async function fetchForEvent(deps: FetchDeps, row: Candidate): Promise<void> {
  const mapper = mapperFor(row)
  if (!mapper.fetches) return
  let payload: unknown
  try {
    payload = parseJson(row.body)
  } catch {
    return // the apply step fails it with the reason
  }
  const requests = mapper.fetches(payload)
  if (requests.length === 0) return
  const api = await loadBssApi(deps.sql, deps.box, row.source_id)
  if (!api)
    throw new UnrecoverableError('the source has no BSS API configured to fetch this notification from')
  const fetched: Record<string, unknown> = {}
  for (const r of requests) {
    try {
      fetched[r.key] = await deps.client.getJson(api, r.path)
    } catch (err) {
      if (err instanceof BssRejected) {
        // A resource not readable yet right after its notification, or a credential being rotated,
        // heals within a few tries; after that the event fails with the reason (replayable).
        const message = `the BSS refused GET ${r.path}: ${err.message}`
        if (TRANSIENT_REFUSALS.has(err.status) && row.attempts < REFUSAL_TRIES - 1) throw new Error(message)
        throw new UnrecoverableError(message)
      }
      if (err instanceof BssUnavailable) {
        deps.log.warn({ inboxId: row.id, path: r.path, err: err.message }, 'BSS fetch failed; will retry')
        throw new FetchPending(`BSS unavailable for GET ${r.path}: ${err.message}`)
      }
      throw err
    }
  }
  await deps.sql`
    update inbox set fetched = ${jsonParam(deps.sql, fetched)}, fetched_at = ${deps.now()}
    where id = ${row.id} and fetched is null`
}
