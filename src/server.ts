import { type ServerType, serve } from '@hono/node-server'
import type { createApp } from './app.js'
import type { Deps } from './deps.js'
import { webhookFastPath } from './routes/webhooks.js'

/** The API's HTTP server: the app on @hono/node-server, with the webhook route's fast path. */
export function serveApi(
  deps: Deps,
  app: ReturnType<typeof createApp>,
  opts: { port: number; hostname: string },
): Promise<ServerType> {
  return new Promise((resolve) => {
    const server = serve(
      { fetch: app.fetch, port: opts.port, hostname: opts.hostname, createServer: webhookFastPath(deps) },
      () => resolve(server),
    )
  })
}
