import type { IngestSource } from './sources.js'

/**
 * What ingest knows of each source (settings and opened secrets), kept for a few seconds so a
 * delivery costs no query and no decryption. This process drops an entry the moment it changes
 * the source (rotate, disable, patch); other replicas see a change within the TTL.
 */
export type SourceCache = {
  get(id: string, load: () => Promise<IngestSource | undefined>): Promise<IngestSource | undefined>
  invalidate(id: string): void
}

export function createSourceCache(ttlMs: number, now: () => number = Date.now): SourceCache {
  const entries = new Map<string, { at: number; value: Promise<IngestSource | undefined> }>()
  return {
    async get(id, load) {
      const hit = entries.get(id)
      if (hit && now() - hit.at < ttlMs) return hit.value
      // Concurrent misses share one load; a failed load is not kept.
      const value = load()
      entries.set(id, { at: now(), value })
      if (entries.size > 10_000) entries.delete(entries.keys().next().value as string)
      value.catch(() => entries.delete(id))
      return value
    },
    invalidate(id) {
      entries.delete(id)
    },
  }
}
