import { request } from 'undici'
import { afterAll, describe, expect, it } from 'vitest'
import { createTestDb } from './helpers/db.js'
import { REDIS_URL } from './helpers/env.js'
import { type Proc, runEntry } from './helpers/process.js'

const db = await createTestDb()
const running: Proc[] = []
afterAll(() => {
  for (const p of running) p.child.kill('SIGKILL')
})

function startService(env: Record<string, string> = {}): Proc {
  const p = runEntry('src/main.ts', {
    DATABASE_URL: db.url,
    REDIS_URL,
    PORT: '0',
    QUEUE_PREFIX: `proc-${db.name}`,
    ...env,
  })
  running.push(p)
  return p
}

describe('the service process (src/main.ts)', () => {
  it('refuses to boot on bad configuration, naming the variable', async () => {
    const p = startService({ PORT: 'eighty', ROLE: 'everything' })
    expect(await p.exited()).toBe(1)
    expect(p.output()).toMatch(/PORT/)
    expect(p.output()).toMatch(/ROLE/)
  })

  it('prints a generated admin key once, on the first start only, and stops cleanly on SIGTERM', async () => {
    const first = startService()
    const [, key] = await first.waitFor(/generated admin API key \(shown only now\): (tsk_\S+)/)
    const [, port] = await first.waitFor(/"port":(\d+)/)
    const res = await request(`http://127.0.0.1:${port}/v1/sources`, {
      headers: { authorization: `Bearer ${key}` },
    })
    expect(res.statusCode).toBe(200)
    await res.body.dump()
    first.child.kill('SIGTERM')
    expect(await first.exited()).toBe(0)
    expect(first.output()).toMatch(/"msg":"stopped"/)

    const second = startService()
    await second.waitFor(/"msg":"worker started"/)
    second.child.kill('SIGINT')
    expect(await second.exited()).toBe(0)
    expect(second.output()).not.toMatch(/generated admin API key/)
  })
})
