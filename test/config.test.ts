import { describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'

describe('config', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({})
    expect(c.DATABASE_URL).toBe('postgres://127.0.0.1:5432/tiersync')
    expect(c.REDIS_URL).toBe('redis://127.0.0.1:6379')
    expect(c.PORT).toBe(3000)
    expect(c.ROLE).toBe('all')
    expect(c.WEBHOOK_MAX_BYTES).toBe(1024 * 1024)
    expect(c.SECRETS_KEY.length).toBeGreaterThanOrEqual(32)
  })

  it('names the bad variable', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/)
    expect(() => loadConfig({ ROLE: 'both' })).toThrow(/ROLE/)
    expect(() => loadConfig({ DATABASE_URL: 'not a url' })).toThrow(/DATABASE_URL/)
  })

  it('requires SECRETS_KEY in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/SECRETS_KEY/)
    expect(loadConfig({ NODE_ENV: 'production', SECRETS_KEY: 'x'.repeat(32) }).SECRETS_KEY).toBe(
      'x'.repeat(32),
    )
  })
})
