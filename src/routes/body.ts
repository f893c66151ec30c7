import type { IncomingMessage } from 'node:http'
import type { Context } from 'hono'

/**
 * Reads a request body, refusing it (`tooLarge`) as soon as it passes `max` bytes: from the
 * Content-Length before reading anything, else while reading, so an endless chunked body is cut
 * off, never buffered. On @hono/node-server it reads the Node stream itself, which costs far less
 * than building a Web Request and stream for every delivery; elsewhere (app.request in tests,
 * other runtimes) it reads the Web stream with the same limit.
 */
export async function readLimitedBody(c: Context, max: number, tooLarge: () => never): Promise<Uint8Array> {
  const length = c.req.header('content-length')
  if (length !== undefined && Number(length) > max) tooLarge()
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
  if (incoming && !incoming.readableEnded) {
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of incoming as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > max) {
        // Stop reading; the 413 answer closes the connection, so nothing more is buffered.
        c.header('connection', 'close')
        tooLarge()
      }
      chunks.push(chunk)
    }
    return Buffer.concat(chunks, size)
  }
  const reader = c.req.raw.body?.getReader()
  if (!reader) return new Uint8Array(0)
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.length
    if (size > max) {
      await reader.cancel()
      tooLarge()
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks, size)
}
