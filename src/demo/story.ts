import type { Delivery } from '../sim/send.js'

/**
 * The seed story, as two reseller BSSs would send it. Cloud Resell (canonical format): Lite
 * reseller Cloud Lite with customers X and Y, End-Customer Z directly under Cloud Resell, paid
 * subscriptions and an add-on, a quantity change, a suspension, a cancellation, a free trial
 * that is never mirrored, one event sent twice and one out of order. Nimbus Cloud runs a
 * home-grown BSS with its own JSON, read through a JSONata mapping.
 *
 * Webhook ids are derived from the period and the step, so a second run of the demo delivers
 * the same events again and gets `duplicate` for each: nothing changes twice.
 */

export const PRODUCTS = {
  standard: { sku: 'CFQ7TTC0LFLX:0001', name: 'Microsoft 365 Business Standard' },
  basic: { sku: 'CFQ7TTC0LH18:0001', name: 'Microsoft 365 Business Basic' },
  e3: { sku: 'CFQ7TTC0LFK5:0001', name: 'Microsoft 365 E3' },
  teams: { sku: 'CFQ7TTC0J1FV:0001', name: 'Teams Phone Standard' },
} as const

/** The demo's price book (EUR list prices per unit and cycle). */
export const PRICES = [
  { sku: PRODUCTS.standard.sku, billing_cycle: 'monthly', unit_price: '12.50' },
  { sku: PRODUCTS.basic.sku, billing_cycle: 'monthly', unit_price: '6.00' },
  { sku: PRODUCTS.e3.sku, billing_cycle: 'annual', unit_price: '396.00' },
  { sku: PRODUCTS.teams.sku, billing_cycle: 'monthly', unit_price: '8.00' },
] as const

type Step = { label: string; event: Record<string, unknown>; id?: string }

function account(
  id: string,
  over: Record<string, unknown>,
  seq: number,
  at: string,
  type = 'account.created',
) {
  return {
    type,
    occurred_at: at,
    sequence: seq,
    data: {
      id,
      type: 'customer',
      parent_id: null,
      number: id.toUpperCase(),
      email: `it@${id}.example`,
      billing_address: { line1: '1 Ermou St', city: 'Athens', postal_code: '10563', country: 'GR' },
      ...over,
    },
  }
}

function subscription(
  id: string,
  accountId: string,
  over: Record<string, unknown>,
  seq: number,
  at: string,
  type = 'subscription.created',
) {
  return {
    type,
    occurred_at: at,
    sequence: seq,
    data: {
      id,
      account_id: accountId,
      parent_subscription_id: null,
      product: PRODUCTS.standard,
      status: 'active',
      paid: true,
      quantity: 10,
      billing_cycle: 'monthly',
      term: 'P1Y',
      auto_renew: true,
      characteristics: [{ code: 'domain', name: 'Tenant domain', value: `${accountId}.onmicrosoft.com` }],
      ...over,
    },
  }
}

/** Cloud Resell's deliveries for `period` (YYYY-MM), in the order they are sent. */
export function cloudResellStory(period: string): Delivery[] {
  const day = (d: number, time = '09:00:00') => `${period}-${String(d).padStart(2, '0')}T${time}Z`
  const date = (d: number) => `${period}-${String(d).padStart(2, '0')}`
  const term = (d: number) => ({ start_date: date(d), activation_date: date(d) })
  const steps: Step[] = [
    {
      label: 'Cloud Lite (Lite reseller)',
      event: account('lite-1', { type: 'reseller', name: 'Cloud Lite', parent_id: null }, 1, day(1)),
    },
    { label: 'Customer X', event: account('cust-x', { name: 'Customer X', parent_id: 'lite-1' }, 1, day(1)) },
    { label: 'Customer Y', event: account('cust-y', { name: 'Customer Y', parent_id: 'lite-1' }, 1, day(1)) },
    {
      label: 'X: Business Standard x10',
      event: subscription('sub-x1', 'cust-x', { ...term(1), quantity: 10 }, 1, day(1, '10:00:00')),
    },
    {
      label: 'X: Teams Phone add-on x10',
      event: subscription(
        'addon-x1',
        'cust-x',
        { ...term(1), product: PRODUCTS.teams, quantity: 10, parent_subscription_id: 'sub-x1' },
        1,
        day(1, '10:05:00'),
      ),
    },
    {
      label: 'Y: Business Basic x5',
      event: subscription(
        'sub-y1',
        'cust-y',
        { ...term(1), product: PRODUCTS.basic, quantity: 5 },
        1,
        day(1),
      ),
    },
    // Out of order: Z's subscription arrives before Z itself; it waits, then applies.
    {
      label: 'Z: E3 x25, annual (before Z exists)',
      event: subscription(
        'sub-z1',
        'cust-z',
        { ...term(2), product: PRODUCTS.e3, quantity: 25, billing_cycle: 'annual' },
        1,
        day(2),
      ),
    },
    {
      label: 'End-Customer Z (direct)',
      event: account('cust-z', { name: 'End-Customer Z', parent_id: null }, 1, day(1)),
    },
    {
      label: 'Z: free trial (never mirrored)',
      event: subscription(
        'sub-z-trial',
        'cust-z',
        { ...term(3), product: PRODUCTS.teams, quantity: 25, paid: false },
        1,
        day(3),
      ),
    },
    {
      label: 'X: quantity 10 -> 15',
      event: subscription(
        'sub-x1',
        'cust-x',
        { ...term(1), quantity: 15 },
        2,
        day(10),
        'subscription.updated',
      ),
    },
    {
      label: 'Y: suspended',
      event: subscription(
        'sub-y1',
        'cust-y',
        { ...term(1), product: PRODUCTS.basic, quantity: 5, status: 'suspended' },
        2,
        day(15),
        'subscription.suspended',
      ),
    },
    {
      label: 'X: Teams Phone add-on cancelled',
      event: subscription(
        'addon-x1',
        'cust-x',
        {
          ...term(1),
          product: PRODUCTS.teams,
          quantity: 10,
          parent_subscription_id: 'sub-x1',
          status: 'cancelled',
          end_date: date(20),
        },
        2,
        day(20),
        'subscription.cancelled',
      ),
    },
  ]
  const deliveries = steps.map((s) => ({
    label: s.label,
    webhookId: `demo-${period}-${slug(s.label)}`,
    body: JSON.stringify(s.event),
  }))
  // The BSS retries one delivery (same webhook-id): answered `duplicate`, applied once.
  const again = deliveries.find((d) => d.label === 'X: quantity 10 -> 15') as Delivery
  deliveries.push({ ...again, label: `${again.label} (sent twice)` })
  return deliveries
}

/** Nimbus Cloud's home-grown JSON, and the JSONata expression that reads it. */
export const NIMBUS_MAPPING = `(
  $type := kind = "customer"
    ? (rev = 1 ? "account.created" : "account.updated")
    : (rev = 1 ? "subscription.created" : "subscription.updated");
  {
    "type": $type,
    "occurred_at": at,
    "sequence": rev,
    "data": kind = "customer"
      ? { "id": ref, "type": "customer", "parent_id": null, "name": company, "email": mail }
      : { "id": ref, "account_id": customer_ref, "product": { "sku": sku, "name": product },
          "status": state, "paid": billable, "quantity": $number(seats), "billing_cycle": "monthly",
          "term": "P1M", "start_date": $substring(at, 0, 10), "auto_renew": true }
  }
)`

export function nimbusStory(period: string): Delivery[] {
  const at = `${period}-05T12:00:00Z`
  const payloads = [
    {
      label: 'Nimbus: Olive Grove Ltd',
      body: {
        kind: 'customer',
        ref: 'NC-77',
        rev: 1,
        at,
        company: 'Olive Grove Ltd',
        mail: 'it@olivegrove.example',
      },
    },
    {
      label: 'Nimbus: Business Basic x8',
      body: {
        kind: 'license',
        ref: 'LIC-901',
        rev: 1,
        at,
        customer_ref: 'NC-77',
        sku: PRODUCTS.basic.sku,
        product: PRODUCTS.basic.name,
        state: 'active',
        billable: true,
        seats: '8',
      },
    },
  ]
  return payloads.map((p) => ({
    label: p.label,
    webhookId: `demo-${period}-${slug(p.label)}`,
    body: JSON.stringify(p.body),
  }))
}

function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
}
