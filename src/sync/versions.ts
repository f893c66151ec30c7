import type { Version } from '../mappers/operations.js'

/**
 * The identity of a version: its sequence when the BSS sends one, else its occurred_at. Two
 * events with the same key are the same version (a resend), whatever their webhook ids.
 */
export function versionKey(v: Version): string {
  return v.sequence !== null ? `s:${v.sequence}` : `t:${v.occurredAt.toISOString()}`
}

export type StoredVersion = { version_sequence: string | number | null; version_occurred_at: Date }

/** CONTRACT section 3: newer means a greater sequence, or when absent, a later occurred_at. */
export function isNewer(v: Version, stored: StoredVersion): boolean {
  if (v.sequence !== null && stored.version_sequence !== null)
    return v.sequence > Number(stored.version_sequence)
  return v.occurredAt.getTime() > stored.version_occurred_at.getTime()
}

export function effectiveDate(v: Version): string {
  return v.occurredAt.toISOString().slice(0, 10)
}
