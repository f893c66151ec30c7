import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll } from 'vitest'

/** What the fake BSS answers for a path: a JSON body, or a function for anything else. */
export type Reply =
  | { status?: number; json: unknown; headers?: Record<string, string> }
  | ((req: IncomingMessage, res: ServerResponse) => void)

/**
 * A real HTTP server playing a reseller's BSS API, on a free local port, closed after the file.
 * Routes are `GET <path>` (query ignored unless the key has one); every request is logged.
 */
export async function startFakeBss() {
  const routes = new Map<string, Reply[]>()
  const requests: { path: string; url: string; headers: IncomingMessage['headers'] }[] = []
  const server = createServer((req, res) => {
    const url = req.url ?? '/'
    const path = url.split('?')[0] ?? '/'
    requests.push({ path, url, headers: req.headers })
    const queue = routes.get(url) ?? routes.get(path)
    // A route's replies are used in order; the last one repeats.
    const reply = queue && (queue.length > 1 ? queue.shift() : queue[0])
    if (!reply) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}')
      return
    }
    if (typeof reply === 'function') return reply(req, res)
    res
      .writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers })
      .end(JSON.stringify(reply.json))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const { port } = server.address() as AddressInfo
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    /** Replies for `GET path`, in order (the last repeats). */
    on(path: string, ...replies: Reply[]) {
      routes.set(path, replies)
    },
    hitsOf(path: string) {
      return requests.filter((r) => r.path === path).length
    },
  }
}
