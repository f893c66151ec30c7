import { randomBytes } from 'node:crypto'
import { expect } from 'vitest'
import { signedHeaders, type TestApp } from './app.js'
import { eventually } from './worker.js'

/** Builders for canonical events (CONTRACT section 3), as a reseller BSS would send them. */
export type CanonicalEvent = {
  type: string
  occurred_at: string
  sequence?: number
  data: Record<string, unknown>
}

export function account(
  id: string,
  over: Partial<{
    type: 'reseller' | 'customer'
    parent_id: string | null
    name: string
    number: string
    email: string
  }> = {},
  meta: { at?: string; seq?: number; type?: string } = {},
): CanonicalEvent {
  return {
    type: meta.type ?? 'account.created',
    occurred_at: meta.at ?? '2026-11-01T09:00:00Z',
    ...(meta.seq === undefined ? {} : { sequence: meta.seq }),
    data: {
      id,
      type: 'customer',
      parent_id: null,
      name: `Account ${id}`,
      number: `N-${id}`,
      email: `${id}@example.com`,
      billing_address: { line1: '1 Main St', city: 'Athens', postal_code: '10431', country: 'GR' },
      ...over,
    },
  }
}

export function subscription(
  id: string,
  accountId: string,
  over: Record<string, unknown> = {},
  meta: { at?: string; seq?: number; type?: string } = {},
): CanonicalEvent {
  return {
    type: meta.type ?? 'subscription.created',
    occurred_at: meta.at ?? '2026-11-01T10:00:00Z',
    ...(meta.seq === undefined ? {} : { sequence: meta.seq }),
    data: {
      id,
      account_id: accountId,
      parent_subscription_id: null,
      product: { sku: 'CFQ7TTC0LFLX:0001', name: 'Microsoft 365 Business Standard' },
      status: 'active',
      paid: true,
      quantity: 10,
      billing_cycle: 'monthly',
      term: 'P1Y',
      start_date: '2026-11-01',
      end_date: '2027-10-31',
      activation_date: '2026-11-01',
      auto_renew: true,
      characteristics: [{ code: 'domain', name: 'Tenant domain', value: `${id}.onmicrosoft.com` }],
      ...over,
    },
  }
}

export type Sender = {
  /** Signs and posts one event; returns the HTTP status and the inbox id. */
  send(event: CanonicalEvent, webhookId?: string): Promise<{ status: number; id: string }>
}

export function sender(t: TestApp, source: { id: string; secret: string }): Sender {
  return {
    async send(event, webhookId = `msg_${randomBytes(8).toString('hex')}`) {
      const body = JSON.stringify(event)
      const res = await t.app.request(`/v1/webhooks/${source.id}`, {
        method: 'POST',
        headers: signedHeaders(source.secret, body, { id: webhookId, at: t.deps.clock.now() }),
        body,
      })
      const ack = (await res.json()) as { id: string }
      return { status: res.status, id: ack.id }
    },
  }
}

/** Waits until no event is received or being processed (waiting ones count as settled). */
export async function settled(t: TestApp, ms = 30_000): Promise<void> {
  await t.drain()
  await eventually(async () => {
    const [row] = await t.db.sql<{ n: number }[]>`
      select count(*)::int as n from inbox where status in ('received', 'processing')`
    return row?.n === 0 ? true : undefined
  }, ms)
}

export async function statusOf(t: TestApp, inboxId: string): Promise<string> {
  const [row] = await t.db.sql<{ status: string }[]>`select status from inbox where id = ${inboxId}`
  expect(row).toBeDefined()
  return (row as { status: string }).status
}
