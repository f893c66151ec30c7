import type { Tx } from '../db/client.js'
import type { Operation } from '../mappers/operations.js'

export type ObjectKind = 'account' | 'subscription'

/** An object of a source, as its BSS names it. */
export type ObjectRef = { sourceId: string; kind: ObjectKind; externalId: string }

/** An object's identity as a map key (an external id may contain anything but NUL). */
export function objectKey(o: ObjectRef): string {
  return `${o.sourceId}\u0000${o.kind}\u0000${o.externalId}`
}

/** What an operation does to an object: writes it, or only reads it (its account, its parent). */
export type ObjectUse = ObjectRef & { writes: boolean }

/** The objects an operation reads or writes. */
export function objectsOf(sourceId: string, op: Operation): ObjectUse[] {
  const use = (kind: ObjectKind, externalId: string, writes: boolean) => ({
    sourceId,
    kind,
    externalId,
    writes,
  })
  if (op.kind === 'account') {
    if (op.action === 'close') return [use('account', op.id, true)]
    const own = use('account', op.state.id, true)
    return op.state.parent_id === null ? [own] : [own, use('account', op.state.parent_id, false)]
  }
  const uses = [use('subscription', op.state.id, true), use('account', op.state.account_id, false)]
  if (op.state.parent_subscription_id !== null)
    uses.push(use('subscription', op.state.parent_subscription_id, false))
  return uses
}

/**
 * One advisory lock per object, all taken in one statement in a fixed order (of the lock keys)
 * so two batches never wait on each other in a cycle: exclusive for the objects written, shared
 * for those only read, so events under one account do not queue behind each other. Holding the
 * lock of an object we wait for closes the lost-wake-up race: its creator (exclusive) either
 * committed before we looked, or finds our parked row when it wakes waiters.
 */
export async function lockObjects(tx: Tx, uses: readonly ObjectUse[]): Promise<void> {
  if (uses.length === 0) return
  const modes = new Map<string, boolean>()
  for (const u of uses) {
    const k = `${u.sourceId}:${u.kind}:${u.externalId}`
    modes.set(k, (modes.get(k) ?? false) || u.writes)
  }
  const keys = (writes: boolean) => [...modes].filter(([, w]) => w === writes).map(([k]) => k)
  await tx`
    select case when w then pg_advisory_xact_lock(h) else pg_advisory_xact_lock_shared(h) end
    from (
      select hashtextextended(k, 0) as h, bool_or(w) as w
      from (
        select k, true as w from unnest(${keys(true)}::text[]) as k
        union all
        select k, false from unnest(${keys(false)}::text[]) as k
      ) u
      group by 1
    ) locks
    order by h`
}
