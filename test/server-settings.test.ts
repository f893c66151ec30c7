import { pino } from 'pino'
import { afterAll, describe, expect, it } from 'vitest'
import { createSql } from '../src/db/client.js'
import { warnAboutServerSettings } from '../src/db/server-settings.js'
import { ADMIN_URL } from './helpers/env.js'

describe('Postgres settings checked at start', () => {
  const sql = createSql(ADMIN_URL, { max: 1 })
  afterAll(() => sql.end({ timeout: 1 }))

  it('warns exactly when the server runs without autovacuum', async () => {
    const lines: { level: number; msg: string; setting?: string }[] = []
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) })
    const [row] = await sql<{ autovacuum: string }[]>`show autovacuum`
    const off = row?.autovacuum !== 'on'

    expect(await warnAboutServerSettings(sql, log)).toBe(off)
    const warnings = lines.filter((l) => l.level === 40)
    expect(warnings).toHaveLength(off ? 1 : 0)
    if (off)
      expect(warnings[0]).toMatchObject({
        setting: 'autovacuum',
        msg: expect.stringMatching(/autovacuum off/),
      })
  })
})
