import type { AccountState, Operation, Version } from '../mappers/operations.js'
import type { AccountRow, VersionRow } from './batch.js'
import type { ApplyContext } from './context.js'
import { type ApplyStatus, EventRejected, MustWait } from './outcome.js'
import { effectiveDate, isNewer, versionKey } from './versions.js'

type AccountOp = Extract<Operation, { kind: 'account' }>

function findAccount(ctx: ApplyContext, externalId: string): AccountRow | undefined {
  const row = ctx.batch.account(ctx.sourceId, externalId)
  if (row && row.tenant_id !== ctx.tenantId) {
    throw new EventRejected(`account ${externalId} belongs to another tenant reseller's tree`)
  }
  return row
}

/** How deep the cycle check looks above the new parent. */
const MAX_DEPTH = 64

/** The parent's id: the tenant reseller for `parent_id: null`, else a reseller of this source. */
function resolveParent(ctx: ApplyContext, state: AccountState): string {
  if (state.parent_id === null) return ctx.tenantId
  if (state.parent_id === state.id) throw new EventRejected(`account ${state.id} cannot be its own parent`)
  const parent = ctx.batch.account(ctx.sourceId, state.parent_id)
  if (!parent) throw new MustWait('account', state.parent_id)
  if (parent.type === 'customer') {
    throw new EventRejected(`account ${state.id}: parent ${state.parent_id} is a customer, not a reseller`, [
      { path: 'data.parent_id', message: 'parent must be a reseller' },
    ])
  }
  // The batch holds every ancestor of the accounts its events name, as they stand in this batch.
  let node: AccountRow | undefined = parent
  for (let depth = 0; node && depth <= MAX_DEPTH; depth++) {
    if (node.source_id === ctx.sourceId && node.external_id === state.id)
      throw new EventRejected(`account ${state.id}: parent ${state.parent_id} is below it (a cycle)`)
    node = node.parent_id === null ? undefined : ctx.batch.accountById(node.parent_id)
  }
  return parent.id
}

const storedVersion = (v: Version) => ({ version_sequence: v.sequence, version_occurred_at: v.occurredAt })
const versionOf = (v: VersionRow): Version => ({
  sequence: v.sequence === null ? null : Number(v.sequence),
  occurredAt: v.occurred_at,
})

function fields(ctx: ApplyContext, s: AccountState) {
  return {
    type: s.type,
    parent_id: resolveParent(ctx, s),
    name: s.name,
    number: s.number,
    email: s.email,
    billing_address: s.billing_address,
  }
}

export function applyAccount(ctx: ApplyContext, op: AccountOp): ApplyStatus {
  const externalId = op.action === 'close' ? op.id : op.state.id
  const existing = findAccount(ctx, externalId)
  // A close for an account not seen yet waits for it, so the final state does not depend on order.
  if (op.action === 'close' && !existing) throw new MustWait('account', externalId)
  const newer = !existing || isNewer(op.version, existing)
  const key = versionKey(op.version)
  const version = {
    version_key: key,
    version_sequence: op.version.sequence,
    version_occurred_at: op.version.occurredAt,
  }
  const { batch } = ctx

  let account: AccountRow
  let state: Record<string, unknown>
  if (op.action === 'close') {
    account = existing as AccountRow
    // The closed state is the state in force just before this version, with status closed: the
    // history then shows exactly one change, whatever order the events came in.
    state = { ...stateBefore(ctx, account.id, op.version), status: 'closed' }
    if (!newer) {
      insertVersion(ctx, account.id, op, state)
      return 'stale'
    }
    batch.update(account, { status: 'closed', closed_at: op.version.occurredAt, ...version })
  } else {
    state = { ...op.state, status: 'active' }
    if (existing && !newer) {
      insertVersion(ctx, existing.id, op, state)
      if (existing.status === 'closed') lateUnderClose(ctx, existing, op)
      return 'stale'
    }
    const values = { ...fields(ctx, op.state), status: 'active', closed_at: null, ...version }
    if (existing) {
      batch.update(existing, values)
      account = existing
    } else {
      account = batch.addAccount({
        ...values,
        tenant_id: ctx.tenantId,
        source_id: ctx.sourceId,
        external_id: op.state.id,
      })
    }
  }
  insertVersion(ctx, account.id, op, state)
  batch.markApplied({ sourceId: ctx.sourceId, kind: 'account', externalId })
  return 'applied'
}

/**
 * An update older than the close that already ended the account, arriving after it: in order it
 * would have come first. If it is the newest update, the closed account shows its fields; and
 * every close after it recorded the state before it, which this update now is.
 */
function lateUnderClose(
  ctx: ApplyContext,
  existing: AccountRow,
  op: Extract<AccountOp, { action: 'upsert' }>,
) {
  const versions = ctx.batch.history(existing.id)
  const closed = (v: VersionRow) => v.state.status === 'closed'
  const newestUpdate = !versions.some((v) => !closed(v) && isNewer(versionOf(v), storedVersion(op.version)))
  if (newestUpdate) ctx.batch.update(existing, fields(ctx, op.state))
  for (const close of versions.filter(
    (v) => closed(v) && !isNewer(op.version, storedVersion(versionOf(v))),
  )) {
    ctx.batch.setVersionState(close, { ...stateBefore(ctx, existing.id, versionOf(close)), status: 'closed' })
  }
}

/** The state of the latest version older than `version` (the account exists, so one does). */
function stateBefore(ctx: ApplyContext, accountId: string, version: Version): Record<string, unknown> {
  let best: VersionRow | undefined
  for (const v of ctx.batch.history(accountId)) {
    if (!isNewer(version, storedVersion(versionOf(v)))) continue
    if (!best || isNewer(versionOf(v), storedVersion(versionOf(best)))) best = v
  }
  const { status: _, ...rest } = best?.state ?? {}
  return rest
}

function insertVersion(ctx: ApplyContext, accountId: string, op: AccountOp, state: Record<string, unknown>) {
  ctx.batch.addVersion('account', {
    object_id: accountId,
    inbox_id: ctx.inboxId,
    event_type: op.eventType,
    version_key: versionKey(op.version),
    sequence: op.version.sequence,
    occurred_at: op.version.occurredAt,
    effective_date: effectiveDate(op.version),
    state,
  })
}
