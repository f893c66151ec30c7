import { z } from 'zod'

/**
 * Canonical operations: what every mapper turns a BSS payload into, and all the sync applies.
 * Each carries the full state of one object (CONTRACT section 3) and its version.
 */

const Id = z.union([z.string(), z.number().int()]).transform(String).pipe(z.string().trim().min(1).max(256))
const Text = (max: number) => z.string().max(max)
const IsoDate = z.iso.date()

export const BillingAddress = z
  .object({
    line1: Text(500).nullish(),
    line2: Text(500).nullish(),
    city: Text(200).nullish(),
    state: Text(200).nullish(),
    postal_code: Text(50).nullish(),
    country: Text(100).nullish(),
  })
  .loose()

export const AccountState = z.object({
  id: Id,
  type: z.enum(['reseller', 'customer']),
  parent_id: Id.nullish().transform((v) => v ?? null),
  name: Text(500).min(1),
  number: Text(200)
    .nullish()
    .transform((v) => v ?? null),
  email: Text(320)
    .nullish()
    .transform((v) => v ?? null),
  billing_address: BillingAddress.nullish().transform((v) => v ?? null),
})
export type AccountState = z.infer<typeof AccountState>

export const SubscriptionStatus = ['pending', 'active', 'suspended', 'cancelled', 'expired'] as const
export type CanonicalStatus = (typeof SubscriptionStatus)[number] | 'unknown'

/** A status no mapper knows is kept raw and read as `unknown`; it never fails the event. */
export function canonicalStatus(raw: string): CanonicalStatus {
  const s = raw.trim().toLowerCase()
  return (SubscriptionStatus as readonly string[]).includes(s) ? (s as CanonicalStatus) : 'unknown'
}

export const Characteristic = z.object({
  code: Text(200).min(1),
  name: Text(500)
    .nullish()
    .transform((v) => v ?? null),
  value: z.union([z.string().max(10_000), z.number(), z.boolean(), z.null()]),
})

export const SubscriptionState = z.object({
  id: Id,
  account_id: Id,
  parent_subscription_id: Id.nullish().transform((v) => v ?? null),
  product: z.object({
    sku: Text(200).min(1),
    name: Text(500)
      .nullish()
      .transform((v) => v ?? null),
  }),
  status: Text(100).min(1),
  paid: z.boolean(),
  quantity: z.number().int().min(0).max(10_000_000),
  billing_cycle: z.enum(['monthly', 'annual', 'triennial', 'one_time']),
  term: z
    .enum(['P1M', 'P1Y', 'P3Y'])
    .nullish()
    .transform((v) => v ?? null),
  start_date: IsoDate.nullish().transform((v) => v ?? null),
  end_date: IsoDate.nullish().transform((v) => v ?? null),
  activation_date: IsoDate.nullish().transform((v) => v ?? null),
  auto_renew: z.boolean().default(false),
  characteristics: z.array(Characteristic).max(500).default([]),
})
export type SubscriptionState = z.infer<typeof SubscriptionState>

export type Version = { sequence: number | null; occurredAt: Date }

export type Operation =
  | { kind: 'account'; action: 'upsert'; version: Version; eventType: string; state: AccountState }
  | { kind: 'account'; action: 'close'; version: Version; eventType: string; id: string }
  | { kind: 'subscription'; version: Version; eventType: string; state: SubscriptionState }

export type MapResult =
  | { ok: true; operations: Operation[] }
  | { ok: false; reason: string; details: { path: string; message: string }[] }

/**
 * A resource a thin notification needs from the reseller's BSS before it can be mapped: a GET of
 * `path` (absolute path, no host: it is always joined to the source's configured base URL, so a
 * payload can never point tiersync at another host). `key` names it in `Fetched`.
 */
export type FetchRequest = { key: string; path: string }

/** What the worker hands a mapper: fetched resources by key, and when they were fetched. */
export type MapContext = {
  fetched: Readonly<Record<string, unknown>>
  /** When the fetched resources were read: the version time of state fetched from the BSS. */
  fetchedAt: Date
}
