import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'

/** What came back: status 0 when there was no answer at all (the connection failed). */
export type Answer = {
  status: number
  headers: IncomingHttpHeaders
  text: string
  /** The contract's `error.code`, when the body is a JSON error. */
  code: string | undefined
  error?: string
}

export type RawRequest = {
  method?: string
  /** Sent as is: no normalization, no escaping. */
  path: string
  headers?: Record<string, string>
  body?: string | Buffer
  /** A chunked body that never ends: 64 KiB chunks until the server answers (at most 64 MiB). */
  endless?: boolean
}

/**
 * One request over node:http, which sends what it is given (any method, raw path, any body,
 * a body that never ends) and hands back the answer even when the server answers before the
 * body is done.
 */
export function rawRequest(base: URL, req: RawRequest): Promise<Answer> {
  return new Promise((resolve) => {
    let settled = false
    const done = (a: Answer) => {
      if (settled) return
      settled = true
      resolve(a)
    }
    let r: ReturnType<typeof httpRequest>
    try {
      r = httpRequest({
        host: base.hostname,
        port: base.port,
        method: req.method ?? 'POST',
        path: req.path,
        headers: req.headers ?? {},
        agent: false,
      })
    } catch (err) {
      // A request node:http refuses to send: a broken case, reported as no answer.
      done({ status: 0, headers: {}, text: '', code: undefined, error: (err as Error).message })
      return
    }
    r.on('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', () => {})
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let code: string | undefined
        try {
          code = (JSON.parse(text) as { error?: { code?: string } }).error?.code
        } catch {
          code = undefined
        }
        done({ status: res.statusCode ?? 0, headers: res.headers, text, code })
        r.destroy()
      })
    })
    r.on('error', (err) => done({ status: 0, headers: {}, text: '', code: undefined, error: err.message }))
    if (!req.endless) {
      r.end(req.body)
      return
    }
    const chunk = Buffer.alloc(64 * 1024, 'a')
    let written = 0
    const pump = () => {
      while (!settled && !r.destroyed && written < 64 * 1024 * 1024) {
        written += chunk.length
        if (!r.write(chunk)) {
          r.once('drain', pump)
          return
        }
      }
    }
    r.write('{"type":"test.ping","data":"')
    pump()
  })
}
