import { jsonParam } from '../db/client.js'
import type { AccountState, Operation, Version } from '../mappers/operations.js'
import type { ApplyContext } from './context.js'
import { wakeWaiters } from './objects.js'
import { type ApplyStatus, EventRejected, MustWait } from './outcome.js'
import { effectiveDate, isNewer, type StoredVersion, versionKey } from './versions.js'

type AccountOp = Extract<Operation, { kind: 'account' }>
type Existing = StoredVersion & { id: string; tenant_id: string | null; status: string }

async function findAccount(ctx: ApplyContext, externalId: string): Promise<Existing | undefined> {
  const [row]: [Existing?] = await ctx.tx`
    select id, tenant_id, status, version_sequence, version_occurred_at from accounts
    where source_id = ${ctx.sourceId} and external_id = ${externalId}`
  if (row && row.tenant_id !== ctx.tenantId) {
    throw new EventRejected(`account ${externalId} belongs to another tenant reseller's tree`)
  }
  return row
}

/** The parent's id: the tenant reseller for `parent_id: null`, else a reseller of this source. */
async function resolveParent(ctx: ApplyContext, state: AccountState): Promise<string> {
  if (state.parent_id === null) return ctx.tenantId
  if (state.parent_id === state.id) throw new EventRejected(`account ${state.id} cannot be its own parent`)
  const [parent]: [{ id: string; type: string }?] = await ctx.tx`
    select id, type from accounts where source_id = ${ctx.sourceId} and external_id = ${state.parent_id}`
  if (!parent) throw new MustWait('account', state.parent_id)
  if (parent.type === 'customer') {
    throw new EventRejected(`account ${state.id}: parent ${state.parent_id} is a customer, not a reseller`, [
      { path: 'data.parent_id', message: 'parent must be a reseller' },
    ])
  }
  const [cycle]: [{ found: boolean }?] = await ctx.tx`
    with recursive up(id, parent_id, depth) as (
      select id, parent_id, 0 from accounts where id = ${parent.id}
      union all
      select a.id, a.parent_id, up.depth + 1 from accounts a join up on a.id = up.parent_id where up.depth < 64
    )
    select exists(select 1 from up join accounts a on a.id = up.id
                  where a.source_id = ${ctx.sourceId} and a.external_id = ${state.id}) as found`
  if (cycle?.found)
    throw new EventRejected(`account ${state.id}: parent ${state.parent_id} is below it (a cycle)`)
  return parent.id
}

export async function applyAccount(ctx: ApplyContext, op: AccountOp): Promise<ApplyStatus> {
  const externalId = op.action === 'close' ? op.id : op.state.id
  const existing = await findAccount(ctx, externalId)
  // A close for an account not seen yet waits for it, so the final state does not depend on order.
  if (op.action === 'close' && !existing) throw new MustWait('account', externalId)
  const newer = !existing || isNewer(op.version, existing)
  const key = versionKey(op.version)
  const { tx } = ctx

  let accountId: string
  let state: Record<string, unknown>
  if (op.action === 'close') {
    accountId = (existing as Existing).id
    // The closed state is the state in force just before this version, with status closed: the
    // history then shows exactly one change, whatever order the events came in.
    state = { ...(await stateBefore(ctx, accountId, op.version)), status: 'closed' }
    if (!newer) {
      await insertVersion(ctx, accountId, op, key, state)
      return 'stale'
    }
    await tx`
      update accounts set status = 'closed', closed_at = ${op.version.occurredAt}, version_key = ${key},
        version_sequence = ${op.version.sequence}, version_occurred_at = ${op.version.occurredAt}, updated_at = now()
      where id = ${accountId}`
  } else {
    state = { ...op.state, status: 'active' }
    if (!newer) {
      await insertVersion(ctx, (existing as Existing).id, op, key, state)
      if ((existing as Existing).status === 'closed') await lateUnderClose(ctx, existing as Existing, op)
      return 'stale'
    }
    const parentId = await resolveParent(ctx, op.state)
    const s = op.state
    const [row]: [{ id: string }?] = await tx`
      insert into accounts (type, tenant_id, parent_id, source_id, external_id, name, number, email,
        billing_address, status, closed_at, version_key, version_sequence, version_occurred_at)
      values (${s.type}, ${ctx.tenantId}, ${parentId}, ${ctx.sourceId}, ${s.id}, ${s.name}, ${s.number},
        ${s.email}, ${s.billing_address === null ? null : jsonParam(tx, s.billing_address)}, 'active', null,
        ${key}, ${op.version.sequence}, ${op.version.occurredAt})
      on conflict (source_id, external_id) where source_id is not null do update set
        type = excluded.type, parent_id = excluded.parent_id, name = excluded.name, number = excluded.number,
        email = excluded.email, billing_address = excluded.billing_address, status = 'active', closed_at = null,
        version_key = excluded.version_key, version_sequence = excluded.version_sequence,
        version_occurred_at = excluded.version_occurred_at, updated_at = now()
      returning id`
    accountId = (row as { id: string }).id
  }
  await insertVersion(ctx, accountId, op, key, state)
  ctx.wake.push(...(await wakeWaiters(tx, ctx.sourceId, 'account', externalId)))
  return 'applied'
}

/**
 * An update older than the close that already ended the account, arriving after it: in order it
 * would have come first. If it is the newest update, the closed account shows its fields; and
 * every close after it recorded the state before it, which this update now is.
 */
async function lateUnderClose(
  ctx: ApplyContext,
  existing: Existing,
  op: Extract<AccountOp, { action: 'upsert' }>,
): Promise<void> {
  const versions = await ctx.tx<
    { version_key: string; sequence: string | null; occurred_at: Date; closed: boolean }[]
  >`
    select version_key, sequence, occurred_at, state->>'status' = 'closed' as closed
    from account_versions where account_id = ${existing.id}`
  const asStored = (v: (typeof versions)[number]) => ({
    version_sequence: v.sequence,
    version_occurred_at: v.occurred_at,
  })
  const newestUpdate = !versions.some(
    (v) =>
      !v.closed &&
      isNewer(
        { sequence: v.sequence === null ? null : Number(v.sequence), occurredAt: v.occurred_at },
        { version_sequence: op.version.sequence, version_occurred_at: op.version.occurredAt },
      ),
  )
  if (newestUpdate) {
    const s = op.state
    const parentId = await resolveParent(ctx, s)
    await ctx.tx`
      update accounts set type = ${s.type}, parent_id = ${parentId}, name = ${s.name}, number = ${s.number},
        email = ${s.email}, billing_address = ${s.billing_address === null ? null : jsonParam(ctx.tx, s.billing_address)},
        updated_at = now()
      where id = ${existing.id}`
  }
  for (const close of versions.filter((v) => v.closed && !isNewer(op.version, asStored(v)))) {
    const version = {
      sequence: close.sequence === null ? null : Number(close.sequence),
      occurredAt: close.occurred_at,
    }
    const before = await stateBefore(ctx, existing.id, version)
    await ctx.tx`
      update account_versions set state = ${jsonParam(ctx.tx, { ...before, status: 'closed' })}
      where account_id = ${existing.id} and version_key = ${close.version_key}`
  }
}

/** The state of the latest version older than `version` (the account exists, so one does). */
async function stateBefore(
  ctx: ApplyContext,
  accountId: string,
  version: Version,
): Promise<Record<string, unknown>> {
  const versions = await ctx.tx<
    { sequence: string | null; occurred_at: Date; state: Record<string, unknown> }[]
  >`
    select sequence, occurred_at, state from account_versions where account_id = ${accountId}`
  let best: (typeof versions)[number] | undefined
  for (const v of versions) {
    const stored = { version_sequence: v.sequence, version_occurred_at: v.occurred_at }
    if (!isNewer(version, stored)) continue
    if (
      !best ||
      isNewer(
        { sequence: v.sequence === null ? null : Number(v.sequence), occurredAt: v.occurred_at },
        { version_sequence: best.sequence, version_occurred_at: best.occurred_at },
      )
    )
      best = v
  }
  const { status: _, ...rest } = best?.state ?? {}
  return rest
}

async function insertVersion(
  ctx: ApplyContext,
  accountId: string,
  op: AccountOp,
  key: string,
  state: Record<string, unknown>,
): Promise<void> {
  await ctx.tx`
    insert into account_versions (account_id, inbox_id, event_type, version_key, sequence, occurred_at, effective_date, state)
    values (${accountId}, ${ctx.inboxId}, ${op.eventType}, ${key}, ${op.version.sequence}, ${op.version.occurredAt},
      ${effectiveDate(op.version)}, ${jsonParam(ctx.tx, state)})
    on conflict (account_id, version_key) do nothing`
}
