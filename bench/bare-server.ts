import { serve } from '@hono/node-server'
import { Hono } from 'hono'

// The baseline: the same server stack (Hono on @hono/node-server) reading the body and answering
// 202, with none of tiersync's work. Prints its port, then serves until killed.
const app = new Hono()
app.post('/v1/webhooks/:sourceId', async (c) => {
  await c.req.arrayBuffer()
  return c.json({ id: '1', status: 'accepted' }, 202)
})
const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  process.stdout.write(`listening ${info.port}\n`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
