import type { Tx } from '../db/client.js'
import type { Operation } from '../mappers/operations.js'
import type { EventRef } from '../queue/jobs.js'

export type ObjectKind = 'account' | 'subscription'

/** The objects an operation reads or writes, as (kind, external id) of its source. */
export function objectsOf(op: Operation): [ObjectKind, string][] {
  if (op.kind === 'account') {
    if (op.action === 'close') return [['account', op.id]]
    return op.state.parent_id === null
      ? [['account', op.state.id]]
      : [
          ['account', op.state.id],
          ['account', op.state.parent_id],
        ]
  }
  const keys: [ObjectKind, string][] = [
    ['subscription', op.state.id],
    ['account', op.state.account_id],
  ]
  if (op.state.parent_subscription_id !== null) keys.push(['subscription', op.state.parent_subscription_id])
  return keys
}

/**
 * One advisory lock per object, all taken up front in a fixed order so two events never wait on
 * each other. Holding the lock of an object we wait for closes the lost-wake-up race: its
 * creator either committed before we look, or finds our parked row when it wakes waiters.
 */
export async function lockObjects(tx: Tx, sourceId: string, objects: [ObjectKind, string][]): Promise<void> {
  const keys = [...new Set(objects.map(([kind, id]) => `${sourceId}:${kind}:${id}`))].sort()
  if (keys.length === 0) return
  await tx`select pg_advisory_xact_lock(hashtextextended(k, 0)) from unnest(${tx.array(keys)}::text[]) with ordinality as t(k, n) order by n`
}

/** Requeues every event parked on this object; returns them for the worker to enqueue after commit. */
export async function wakeWaiters(
  tx: Tx,
  sourceId: string,
  kind: ObjectKind,
  externalId: string,
): Promise<EventRef[]> {
  return tx<EventRef[]>`
    update inbox set status = 'received', generation = generation + 1, enqueued_at = null,
      waiting_for_kind = null, waiting_for_id = null
    where status = 'waiting' and source_id = ${sourceId}
      and waiting_for_kind = ${kind} and waiting_for_id = ${externalId}
    returning id, generation`
}
