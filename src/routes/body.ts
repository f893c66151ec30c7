import type { IncomingMessage } from 'node:http'
import type { Context } from 'hono'
import { RequestAborted } from '../errors.js'

/**
 * Reads a request body, refusing it (`tooLarge`) as soon as it passes `max` bytes while reading,
 * so an endless chunked body is cut off, never buffered (the webhook receiver has refused a
 * Content-Length past `max` before reading anything). On @hono/node-server it reads the Node
 * stream itself, which costs far less than building a Web Request and stream for every
 * delivery; elsewhere (app.request in tests, other runtimes) it reads the Web stream with the
 * same limit.
 */
export async function readLimitedBody(c: Context, max: number, tooLarge: () => never): Promise<Uint8Array> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
  if (incoming && !incoming.readableEnded) {
    return readIncomingBody(incoming, max, () => {
      c.header('connection', 'close')
      return tooLarge()
    })
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

/**
 * Reads a Node request stream up to `max` bytes. Past it, reading stops and `tooLarge` throws;
 * it must also close the connection (the answer says `connection: close`), so nothing more of
 * the body is buffered. A client that is gone, before or while reading, rejects with
 * RequestAborted: the promise always settles.
 */
export function readIncomingBody(
  incoming: IncomingMessage,
  max: number,
  tooLarge: () => never,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    // Gone already (while the source was looked up, say): no event would ever come.
    if (incoming.destroyed || incoming.errored) return reject(new RequestAborted())
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size <= max) {
        chunks.push(chunk)
        return
      }
      cleanup()
      incoming.pause()
      try {
        tooLarge()
      } catch (err) {
        reject(err)
      }
    }
    const onEnd = () => {
      cleanup()
      resolve(Buffer.concat(chunks, size))
    }
    const onAborted = () => {
      cleanup()
      reject(new RequestAborted())
    }
    // 'close' before 'end': the client went away mid-body ('error' says the same, when emitted).
    const onClose = () => {
      if (!incoming.readableEnded) onAborted()
    }
    const cleanup = () => {
      incoming.off('data', onData)
      incoming.off('end', onEnd)
      incoming.off('error', onAborted)
      incoming.off('close', onClose)
    }
    incoming.on('data', onData)
    incoming.on('end', onEnd)
    incoming.on('error', onAborted)
    incoming.on('close', onClose)
  })
}
