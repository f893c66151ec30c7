import { UnrecoverableError } from 'bullmq'

/** An event that can never apply as sent: it ends `failed` at once, with the reason and paths. */
export class EventRejected extends UnrecoverableError {
  override name = 'EventRejected'
  constructor(
    message: string,
    readonly details: unknown = undefined,
  ) {
    super(message)
  }
}

/** Thrown inside an apply step: the event needs an object of its source that has not arrived yet. */
export class MustWait extends Error {
  override name = 'MustWait'
  constructor(
    readonly kind: 'account' | 'subscription',
    readonly externalId: string,
  ) {
    super(`waiting for ${kind} ${externalId}`)
  }
}

export type ApplyStatus = 'applied' | 'stale' | 'ignored_unpaid'
