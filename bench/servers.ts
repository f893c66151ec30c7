import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { processCpuSeconds } from './cpu.js'

const ROOT = fileURLToPath(new URL('../', import.meta.url))

/**
 * The Node flags production starts with: those of `npm run start:prod` (the Dockerfile's CMD has
 * the same), read from package.json so the bench cannot drift from it.
 */
function productionNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> }
  const words = (pkg.scripts['start:prod'] ?? '').split(/\s+/)
  return words.slice(1, words.indexOf('dist/main.js')).filter((w) => w.startsWith('--'))
}

export type ServerProc = {
  child: ChildProcess
  port: number
  peakRssMb(): number
  /** CPU seconds the process has used so far. */
  cpuSeconds(): number
  stop(): Promise<void>
}

/** Starts a TypeScript entry point as its own process and waits for `re` (with the port) on stdout/stderr. */
export async function startProcess(
  entry: string,
  env: Record<string, string>,
  re: RegExp,
): Promise<ServerProc> {
  // BENCH_CPU_PROF=dir profiles the servers (node --cpu-prof), for finding where the time goes.
  const prof = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
    : []
  // Compiled JavaScript (tiersync) runs as in production (`npm run start:prod`), with
  // BENCH_NODE_FLAGS after those to measure a change of them (a later flag wins); TypeScript (the
  // bare baseline) through tsx.
  const flags = entry.endsWith('.ts')
    ? ['--import', 'tsx']
    : [...productionNodeFlags(), ...(process.env.BENCH_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? [])]
  const child = spawn(process.execPath, [...prof, ...flags, entry], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  // Until the port is read, the output is kept (for the error if the process exits); after it,
  // only drained: keeping a server's access log in the load generator's process would make the
  // baseline and the server under test pay for it (appending and matching the whole log each chunk).
  let out = ''
  let started = false
  const port = await new Promise<number>((resolve, reject) => {
    const onData = (d: Buffer) => {
      if (started) return
      out += d
      const m = out.match(re)
      if (m) {
        started = true
        out = ''
        resolve(Number(m[1]))
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.on('exit', (code) => reject(new Error(`${entry} exited ${code}:\n${out}`)))
  })
  return {
    child,
    port,
    peakRssMb() {
      // VmHWM: the process's peak resident set, kept by the kernel.
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0)
      return Math.round((kb / 1024) * 10) / 10
    },
    cpuSeconds: () => (child.pid ? processCpuSeconds(child.pid) : 0),
    async stop() {
      if (child.exitCode !== null) return
      child.kill('SIGTERM')
      await new Promise((r) => child.once('exit', r))
    },
  }
}
