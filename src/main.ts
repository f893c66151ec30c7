import { loadConfig } from './config.js'
import { start } from './runtime.js'

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig()
} catch (err) {
  console.error((err as Error).message)
  process.exit(1)
}

const running = await start(config)
if (running.generatedAdminKey) {
  // Printed once: only its hash is stored.
  console.log(`\n  tiersync: generated admin API key (shown only now): ${running.generatedAdminKey}\n`)
}

let signals = 0
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (++signals > 1) process.exit(1)
    running.deps.log.info({ signal }, 'shutting down')
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        running.deps.log.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  })
}
