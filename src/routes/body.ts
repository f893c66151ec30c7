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
 * the body is buffered.
 */
export function readIncomingBody(
  incoming: IncomingMessage,
  max: number,
  tooLarge: () => never,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
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
    const onError = (err: Error) => {
      cleanup()
      reject(err)
    }
    const onClose = () => {
      // Closed before the end: the client went away mid-body.
      if (!incoming.readableEnded) onError(new Error('request aborted before its body ended'))
    }
    const cleanup = () => {
      incoming.off('data', onData)
      incoming.off('end', onEnd)
      incoming.off('error', onError)
      incoming.off('close', onClose)
    }
    incoming.on('data', onData)
    incoming.on('end', onEnd)
    incoming.on('error', onError)
    incoming.on('close', onClose)
  })
}
