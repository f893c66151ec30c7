import { setTimeout as sleep } from 'node:timers/promises'
import { fetch } from 'undici'

/** The few admin API calls the demo makes, over HTTP like any client of the service. */
export function adminClient(base: string, key: string) {
  async function call(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const json = (await res.json()) as Record<string, unknown>
    if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
    return json
  }

  async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
    const end = Date.now() + ms
    for (;;) {
      const v = await check()
      if (v !== undefined) return v
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
      await sleep(100)
    }
  }

  return {
    call,
    /** The source of that name (secret rotated, to sign with), or a new one. */
    async ensureSource(input: { name: string } & Record<string, unknown>) {
      const { data } = (await call('GET', '/v1/sources')) as {
        data: { id: string; name: string; account_id: string }[]
      }
      const found = data.find((s) => s.name === input.name)
      if (!found)
        return (await call('POST', '/v1/sources', input)) as {
          id: string
          secret: string
          account_id: string
        }
      const rotated = (await call('POST', `/v1/sources/${found.id}/secrets/rotate`, { grace_hours: 0 })) as {
        secret: string
      }
      return { id: found.id, account_id: found.account_id, secret: rotated.secret }
    },
    /** Until no event of these sources is received, processing or waiting. */
    /** Waits until no event of these sources is in one of `statuses` (by default: not applied yet). */
    async settled(sourceIds: string[], statuses = ['received', 'processing', 'waiting']) {
      await until('the worker to apply every event', async () => {
        for (const id of sourceIds) {
          for (const status of statuses) {
            const { data } = (await call('GET', `/v1/events?source_id=${id}&status=${status}&limit=1`)) as {
              data: unknown[]
            }
            if (data.length > 0) return undefined
          }
        }
        return true
      })
    },
    async eventCounts(sourceIds: string[]) {
      const counts: Record<string, number> = {}
      for (const id of sourceIds) {
        let cursor: string | undefined
        do {
          const page = (await call(
            'GET',
            `/v1/events?source_id=${id}&limit=200${cursor ? `&cursor=${cursor}` : ''}`,
          )) as { data: { status: string }[]; next_cursor?: string }
          for (const e of page.data) counts[e.status] = (counts[e.status] ?? 0) + 1
          cursor = page.next_cursor
        } while (cursor)
      }
      return counts
    },
    /** Runs the month's invoice run for one reseller and returns its draft invoice. */
    async draftInvoice(sourceId: string, period: string) {
      const run = (await call('POST', '/v1/invoice-runs', { period, source_id: sourceId })) as {
        data: { id: string }
      }
      await until('the invoice run', async () => {
        const { data } = (await call('GET', `/v1/invoice-runs/${run.data.id}`)) as {
          data: { status: string; error: string | null }
        }
        if (data.status === 'failed') throw new Error(`invoice run failed: ${data.error}`)
        return data.status === 'succeeded' ? true : undefined
      })
      const { data } = (await call(
        'GET',
        `/v1/invoices?source_id=${sourceId}&period=${period}&status=draft`,
      )) as {
        data: { id: string }[]
      }
      const draft = data[0]
      if (!draft) throw new Error(`no draft invoice for ${period}`)
      return (await call('GET', `/v1/invoices/${draft.id}`)).data
    },
  }
}
