import { jsonParam } from '../db/client.js'
import { canonicalStatus, type Operation } from '../mappers/operations.js'
import type { ApplyContext } from './context.js'
import { wakeWaiters } from './objects.js'
import { type ApplyStatus, EventRejected, MustWait } from './outcome.js'
import { effectiveDate, isNewer, type StoredVersion, versionKey } from './versions.js'

type SubscriptionOp = Extract<Operation, { kind: 'subscription' }>
type Existing = StoredVersion & { id: string; tenant_id: string }

/**
 * Mirrors one subscription (or add-on) 1:1. Unpaid states create and change nothing; a newer
 * version replaces the current row; any version not seen before joins the history, even late.
 */
export async function applySubscription(ctx: ApplyContext, op: SubscriptionOp): Promise<ApplyStatus> {
  const s = op.state
  const { tx } = ctx
  if (!s.paid) return 'ignored_unpaid'

  const [existing]: [Existing?] = await tx`
    select id, tenant_id, version_sequence, version_occurred_at from subscriptions
    where source_id = ${ctx.sourceId} and external_id = ${s.id}`
  if (existing && existing.tenant_id !== ctx.tenantId) {
    throw new EventRejected(`subscription ${s.id} belongs to another tenant reseller's tree`)
  }
  const status = canonicalStatus(s.status)
  const state = { ...s, status, raw_status: s.status }
  const key = versionKey(op.version)
  if (existing && !isNewer(op.version, existing)) {
    await insertVersion(ctx, existing.id, op, key, state)
    return 'stale'
  }

  const [account]: [{ id: string }?] = await tx`
    select id from accounts where source_id = ${ctx.sourceId} and external_id = ${s.account_id}`
  if (!account) throw new MustWait('account', s.account_id)
  let parentId: string | null = null
  if (s.parent_subscription_id !== null) {
    if (s.parent_subscription_id === s.id)
      throw new EventRejected(`subscription ${s.id} cannot be its own add-on`)
    const [parent]: [{ id: string }?] = await tx`
      select id from subscriptions where source_id = ${ctx.sourceId} and external_id = ${s.parent_subscription_id}`
    if (!parent) throw new MustWait('subscription', s.parent_subscription_id)
    parentId = parent.id
  }

  const [row]: [{ id: string }?] = await tx`
    insert into subscriptions (source_id, external_id, tenant_id, account_id, parent_subscription_id, sku,
      product_name, status, raw_status, quantity, billing_cycle, term, start_date, end_date, activation_date,
      auto_renew, characteristics, version_key, version_sequence, version_occurred_at, last_inbox_id)
    values (${ctx.sourceId}, ${s.id}, ${ctx.tenantId}, ${account.id}, ${parentId}, ${s.product.sku},
      ${s.product.name}, ${status}, ${s.status}, ${s.quantity}, ${s.billing_cycle}, ${s.term}, ${s.start_date},
      ${s.end_date}, ${s.activation_date}, ${s.auto_renew}, ${jsonParam(tx, s.characteristics)}, ${key},
      ${op.version.sequence}, ${op.version.occurredAt}, ${ctx.inboxId})
    on conflict (source_id, external_id) do update set
      account_id = excluded.account_id, parent_subscription_id = excluded.parent_subscription_id,
      sku = excluded.sku, product_name = excluded.product_name, status = excluded.status,
      raw_status = excluded.raw_status, quantity = excluded.quantity, billing_cycle = excluded.billing_cycle,
      term = excluded.term, start_date = excluded.start_date, end_date = excluded.end_date,
      activation_date = excluded.activation_date, auto_renew = excluded.auto_renew,
      characteristics = excluded.characteristics, version_key = excluded.version_key,
      version_sequence = excluded.version_sequence, version_occurred_at = excluded.version_occurred_at,
      last_inbox_id = excluded.last_inbox_id, updated_at = now()
    returning id`
  await insertVersion(ctx, (row as { id: string }).id, op, key, state)
  ctx.wake.push(...(await wakeWaiters(tx, ctx.sourceId, 'subscription', s.id)))
  return 'applied'
}

async function insertVersion(
  ctx: ApplyContext,
  subscriptionId: string,
  op: SubscriptionOp,
  key: string,
  state: Record<string, unknown>,
): Promise<void> {
  await ctx.tx`
    insert into subscription_versions (subscription_id, inbox_id, event_type, version_key, sequence, occurred_at,
      effective_date, state)
    values (${subscriptionId}, ${ctx.inboxId}, ${op.eventType}, ${key}, ${op.version.sequence},
      ${op.version.occurredAt}, ${effectiveDate(op.version)}, ${jsonParam(ctx.tx, state)})
    on conflict (subscription_id, version_key) do nothing`
}
