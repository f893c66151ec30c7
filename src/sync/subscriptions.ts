import { canonicalStatus, type Operation } from '../mappers/operations.js'
import type { ApplyContext } from './context.js'
import { type ApplyStatus, EventRejected, MustWait } from './outcome.js'
import { effectiveDate, isNewer, versionKey } from './versions.js'

type SubscriptionOp = Extract<Operation, { kind: 'subscription' }>

/**
 * Mirrors one subscription (or add-on) 1:1. Unpaid states create and change nothing; a newer
 * version replaces the current row; any version not seen before joins the history, even late.
 */
export function applySubscription(ctx: ApplyContext, op: SubscriptionOp): ApplyStatus {
  const s = op.state
  const { batch } = ctx
  if (!s.paid) return 'ignored_unpaid'

  const existing = batch.subscription(ctx.sourceId, s.id)
  if (existing && existing.tenant_id !== ctx.tenantId) {
    throw new EventRejected(`subscription ${s.id} belongs to another tenant reseller's tree`)
  }
  const status = canonicalStatus(s.status)
  const state = { ...s, status, raw_status: s.status }
  const key = versionKey(op.version)
  const version = (subscriptionId: string) =>
    batch.addVersion('subscription', {
      object_id: subscriptionId,
      inbox_id: ctx.inboxId,
      event_type: op.eventType,
      version_key: key,
      sequence: op.version.sequence,
      occurred_at: op.version.occurredAt,
      effective_date: effectiveDate(op.version),
      state,
    })
  if (existing && !isNewer(op.version, existing)) {
    version(existing.id)
    return 'stale'
  }

  const account = batch.account(ctx.sourceId, s.account_id)
  if (!account) throw new MustWait('account', s.account_id)
  let parentId: string | null = null
  if (s.parent_subscription_id !== null) {
    if (s.parent_subscription_id === s.id)
      throw new EventRejected(`subscription ${s.id} cannot be its own add-on`)
    const parent = batch.subscription(ctx.sourceId, s.parent_subscription_id)
    if (!parent) throw new MustWait('subscription', s.parent_subscription_id)
    parentId = parent.id
  }

  const values = {
    account_id: account.id,
    parent_subscription_id: parentId,
    sku: s.product.sku,
    product_name: s.product.name,
    status,
    raw_status: s.status,
    quantity: s.quantity,
    billing_cycle: s.billing_cycle,
    term: s.term,
    start_date: s.start_date,
    end_date: s.end_date,
    activation_date: s.activation_date,
    auto_renew: s.auto_renew,
    characteristics: s.characteristics,
    version_key: key,
    version_sequence: op.version.sequence,
    version_occurred_at: op.version.occurredAt,
    last_inbox_id: ctx.inboxId,
  }
  if (existing) {
    batch.update(existing, values)
    version(existing.id)
  } else {
    const created = batch.addSubscription({
      ...values,
      source_id: ctx.sourceId,
      external_id: s.id,
      tenant_id: ctx.tenantId,
    })
    version(created.id)
  }
  batch.markApplied({ sourceId: ctx.sourceId, kind: 'subscription', externalId: s.id })
  return 'applied'
}
