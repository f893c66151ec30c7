import { loadConfig } from './config.js'
import { type Running, start } from './runtime.js'

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig()
} catch (err) {
  console.error((err as Error).message)
  process.exit(1)
}

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
