import { describe, expect, it } from 'vitest'
import { uniquePrefix } from './helpers/app.js'
import { createTestDb } from './helpers/db.js'
import { REDIS_URL } from './helpers/env.js'
import { runEntry } from './helpers/process.js'

// `npm run demo` end to end, twice on the same database, as a newcomer would run it: its own
// process, the real service, the story over HTTP, Ctrl-C to stop.
const db = await createTestDb()
const env = {
  DATABASE_URL: db.url,
  REDIS_URL,
  PORT: '0',
  QUEUE_PREFIX: uniquePrefix(),
  DEMO_PERIOD: '2026-11',
  LOG_LEVEL: 'warn',
}

async function runDemo() {
  const demo = runEntry('src/demo/main.ts', env)
  await demo.waitFor(/Ctrl-C to stop/, 90_000)
  demo.child.kill('SIGINT')
  expect(await demo.exited()).toBe(0)
  return demo.output()
}

describe('npm run demo', () => {
  it('plays the story and prints the tree, a history and the draft invoice; a second run changes nothing', async () => {
    const first = await runDemo()
    expect(first).toContain('events: 13 applied, 1 ignored_unpaid')
    for (const line of [
      'Cloud Resell (tenant reseller)',
      '├── Cloud Lite (reseller)',
      '│   ├── Customer X (customer, 2 subscriptions)',
      '│   └── Customer Y (customer, 1 subscription)',
      '└── End-Customer Z (customer, 1 subscription)',
    ])
      expect(first).toContain(line)
    expect(first).toMatch(/seq 2\s+subscription\.updated\s+quantity 10 -> 15/)
    expect(first).toContain('X: quantity 10 -> 15 (sent twice)            duplicate')
    expect(first).toContain('Total 10149.42 EUR')
    expect(first).toMatch(/Admin API key\s+tsk_/)
    expect(first).toMatch(/API reference\s+http:\/\/\S+\/docs/)

    const second = await runDemo()
    expect(second).not.toMatch(/ accepted$/m)
    expect(second).toContain('events: 13 applied, 1 ignored_unpaid')
    expect(second).toContain('Total 10149.42 EUR')
  }, 180_000)
})
