import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const root = new URL('../', import.meta.url)

describe('deployment', () => {
  it("the image's CMD starts node as `npm run start:prod` does (the flags the bench measures)", () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
      scripts: Record<string, string>
    }
    const script = (pkg.scripts['start:prod'] ?? '').split(/\s+/)
    const cmdLine = readFileSync(new URL('Dockerfile', root), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('CMD '))
    const cmd = JSON.parse((cmdLine ?? 'CMD []').slice(4)) as string[]
    expect(cmd).toEqual(script)
    expect(script).toContain('--heap-growing-percent=100')
  })
})
