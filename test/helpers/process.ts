import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export type Proc = {
  child: ChildProcess
  output(): string
  /** Resolves with the first stdout/stderr line matching `re`. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>
  exited(): Promise<number | null>
}

/** Runs a TypeScript entry point of this project as its own process (real signals, real exit codes). */
export function runEntry(entry: string, env: Record<string, string>, args: string[] = []): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = []
  const onData = (d: Buffer) => {
    out += d.toString()
    for (const w of [...waiters]) {
      const m = out.match(w.re)
      if (m) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(m)
      }
    }
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const exit = once(child, 'exit').then(([code]) => code as number | null)
  return {
    child,
    output: () => out,
    waitFor(re, ms = 20_000) {
      const m = out.match(re)
      if (m) return Promise.resolve(m)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; output:\n${out}`)), ms)
        waiters.push({
          re,
          resolve: (v) => {
            clearTimeout(timer)
            resolve(v)
          },
        })
        void exit.then(() => {
          clearTimeout(timer)
          const last = out.match(re)
          if (last) resolve(last)
          else reject(new Error(`process exited before ${re}; output:\n${out}`))
        })
      })
    },
    exited: () => exit,
  }
}
