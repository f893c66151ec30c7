import { loadConfig } from './config.js'
import { isDriverNullSocketWrite } from './db/client.js'
import { type Running, start } from './runtime.js'

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig()
} catch (err) {
  console.error((err as Error).message)
  process.exit(1)
}

// A known driver bug must not take the whole service down when Postgres restarts (clients get
// 503 meanwhile); every other uncaught error still ends the process, as Node's default would.
process.on('uncaughtException', (err) => {
  if (isDriverNullSocketWrite(err)) {
    console.error(
      JSON.stringify({
        level: 40,
        msg: 'postgres connection lost mid-write (driver bug #1208); reconnecting',
      }),
    )
    return
  }
  console.error(err)
  process.exit(1)
})

// Handlers go in before anything starts: a signal during boot still shuts down cleanly.
let running: Running | undefined
let signals = 0
let shutdownRequested = false
function shutdown(r: Running) {
  r.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      r.deps.log.error({ err }, 'shutdown failed')
      process.exit(1)
    },
  )
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (++signals > 1) process.exit(1)
    shutdownRequested = true
    if (running) {
      running.deps.log.info({ signal }, 'shutting down')
      shutdown(running)
    }
  })
}

running = await start(config)
if (running.generatedAdminKey) {
  // Printed once: only its hash is stored.
  console.log(`\n  tiersync: generated admin API key (shown only now): ${running.generatedAdminKey}\n`)
}
if (shutdownRequested) shutdown(running)
