import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { readdirSync, rmSync } from 'node:fs'
import { chown, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { request } from 'undici'
import { afterAll } from 'vitest'
import { type Proc, runEntry } from '../helpers/process.js'

/**
 * Private Redis and Postgres instances for fault injection: a scenario may kill and restart its
 * own, never the machine's shared services (other test runs use them at the same time).
 */

const run = promisify(execFile)

/**
 * The last resort when the file's hooks never run (a crashed or killed test worker): whatever
 * this process started is stopped on its way out, so nothing keeps running orphaned.
 */
const onExit = new Set<() => void>()
process.once('exit', () => {
  for (const stop of onExit) stop()
})

/** A port nobody listens on right now (the kernel's pick, released at once). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

async function waitUntil(check: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const until = Date.now() + ms
  while (!(await check().catch(() => false))) {
    if (Date.now() > until) throw new Error(`${what} not up within ${ms} ms`)
    await sleep(50)
  }
}

export type PrivateRedis = {
  url: string
  /** SIGKILL: what it held is gone (no RDB, no AOF). */
  kill(): Promise<void>
  start(): Promise<void>
}

/** `redis-server` on a free port, keeping nothing on disk; killed after the file. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async () => {
    const c = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--loglevel',
        'warning',
      ],
      { stdio: 'ignore' },
    )
    child = c
    const stop = () => c.kill('SIGKILL')
    onExit.add(stop)
    c.once('exit', () => onExit.delete(stop))
    await waitUntil(
      async () => (await run('redis-cli', ['-p', String(port), 'ping'])).stdout.trim() === 'PONG',
      'redis',
    )
  }
  const kill = async () => {
    const c = child
    child = undefined
    if (!c || c.exitCode !== null || c.signalCode !== null) return
    const exited = once(c, 'exit')
    c.kill('SIGKILL')
    await exited
  }
  await start()
  afterAll(kill)
  return { url: `redis://127.0.0.1:${port}`, kill, start }
}

export type PrivatePostgres = {
  /** The `postgres` database as the superuser; the service creates its own database from it. */
  adminUrl: string
  urlOf(database: string): string
  /** `pg_ctl stop -m immediate`: every backend killed, no shutdown checkpoint (a crash to recover from). */
  crash(): Promise<void>
  start(): Promise<void>
}

/** The newest installed PostgreSQL's binaries (Debian layout), unless TEST_PG_BIN says otherwise. */
function pgBin(): string {
  if (process.env.TEST_PG_BIN) return process.env.TEST_PG_BIN
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a))
  return join('/usr/lib/postgresql', versions[0] ?? '15', 'bin')
}

/**
 * A throwaway cluster (initdb into a temp dir as the `postgres` OS user), on a free port and a
 * private socket directory; stopped and removed after the file. fsync is off: a killed server
 * loses nothing the OS already has, and only the server is killed here, never the machine.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'tiersync-faults-pg-'))
  const data = join(dir, 'data')
  const { stdout } = await run('id', ['-u', 'postgres'])
  const { stdout: gid } = await run('id', ['-g', 'postgres'])
  await chown(dir, Number(stdout.trim()), Number(gid.trim()))
  const bin = pgBin()
  const asPostgres = (tool: string, args: string[]) =>
    run('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args], { timeout: 60_000 })
  await asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'])
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c full_page_writes=off',
    '-c max_connections=200',
  ].join(' ')
  const start = async () => {
    await asPostgres('pg_ctl', ['start', '-D', data, '-w', '-t', '60', '-l', join(dir, 'log'), '-o', options])
  }
  const crash = async () => {
    await asPostgres('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w'])
  }
  const stopNow = () => {
    spawnSync('runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), 'stop', '-D', data, '-m', 'immediate'])
    rmSync(dir, { recursive: true, force: true })
  }
  onExit.add(stopNow)
  await start()
  afterAll(async () => {
    await crash().catch(() => {})
    await rm(dir, { recursive: true, force: true })
    onExit.delete(stopNow)
  })
  const urlOf = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`
  return { adminUrl: urlOf('postgres'), urlOf, crash, start }
}

/**
 * Settings every scenario's service shares: its own queue prefix, and short recovery times so a
 * killed process's jobs (lock) and unqueued rows (relay) come back within the scenario.
 */
export const FAULT_ENV = { QUEUE_PREFIX: 'faults', WORKER_LOCK_MS: '1500', RELAY_AFTER_SECONDS: '1' }

export const ADMIN_KEY = 'tsk_faults_admin_key_0123456789abcdef'

export type Service = { proc: Proc; url: string | undefined; stop(): Promise<void>; kill(): Promise<void> }

// Services may start inside a test (a restarted worker), where no hook can be added: one hook for all.
const services = new Set<Service>()
afterAll(async () => {
  await Promise.all([...services].map((s) => s.kill()))
})

/**
 * src/main.ts as its own process. With an API (`ROLE` all or api) it listens on `PORT` (default:
 * a free port) and is ready when /healthz answers; a worker is ready when it logs so. Rejects
 * when the process exits first. Killed after the file.
 */
export async function startService(env: Record<string, string>): Promise<Service> {
  const role = env.ROLE ?? 'all'
  const port = env.PORT ?? String(role === 'worker' ? 0 : await freePort())
  const proc = runEntry('src/main.ts', {
    NODE_ENV: 'test',
    ADMIN_API_KEY: ADMIN_KEY,
    // info for the worker (it says when it runs); warn for the API (no line per request).
    LOG_LEVEL: role === 'worker' ? 'info' : 'warn',
    ...env,
    PORT: port,
  })
  const exited = () => proc.child.exitCode !== null || proc.child.signalCode !== null
  const stopNow = () => proc.child.kill('SIGKILL')
  onExit.add(stopNow)
  proc.child.once('exit', () => onExit.delete(stopNow))
  const service: Service = {
    proc,
    url: role === 'worker' ? undefined : `http://127.0.0.1:${port}`,
    async kill() {
      services.delete(service)
      if (exited()) return
      proc.child.kill('SIGKILL')
      await proc.exited()
    },
    async stop() {
      services.delete(service)
      if (exited()) return
      proc.child.kill('SIGTERM')
      await proc.exited()
    },
  }
  services.add(service)
  const url = service.url
  if (url) {
    const until = Date.now() + 30_000
    for (;;) {
      if (exited()) throw new Error(`the service exited before it answered:\n${proc.output()}`)
      const up = await request(`${url}/healthz`).then(
        async (res) => {
          await res.body.dump()
          return res.statusCode === 200
        },
        () => false,
      )
      if (up) break
      if (Date.now() > until) throw new Error(`the API did not answer within 30 s:\n${proc.output()}`)
      await sleep(50)
    }
  } else {
    await proc.waitFor(/"msg":"worker started"/, 30_000)
  }
  return service
}

/** Creates a canonical source over HTTP; the secret signs the deliveries. */
export async function createSource(
  url: string,
  body: Record<string, unknown> = {},
): Promise<{ id: string; secret: string }> {
  const res = await request(`${url}/v1/sources`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'Faults BSS',
      format: 'canonical',
      reseller: { name: 'Cloud Resell', number: 'R-1001', currency: 'EUR' },
      ...body,
    }),
  })
  const text = await res.body.text()
  if (res.statusCode !== 201) throw new Error(`source create failed: ${res.statusCode} ${text}`)
  return JSON.parse(text) as { id: string; secret: string }
}

/** The count of API answers with `status`, from the API's own Prometheus histogram. */
export async function answersWithStatus(url: string, status: number): Promise<number> {
  const res = await request(`${url}/metrics`)
  const text = await res.body.text()
  let n = 0
  for (const line of text.split('\n')) {
    if (
      line.startsWith('tiersync_http_request_duration_seconds_count{') &&
      line.includes(`status="${status}"`)
    )
      n += Number(line.split(' ').at(-1))
  }
  return n
}
