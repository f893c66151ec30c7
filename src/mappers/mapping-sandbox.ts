import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

/**
 * JSONata expressions run in a worker thread, never on the thread that answers requests or
 * applies events: a built-in call cannot be interrupted from inside (a catastrophic regex in
 * `$match`, a huge `$pad`), so the only safe bound is a thread that can be terminated. The thread
 * has its own memory limit; on a timeout or a crash it is replaced and the evaluations it held
 * fail with `SandboxUnavailable` (retryable), never with a verdict on the payload.
 */
export class SandboxUnavailable extends Error {}

/** The expression itself failed on this payload (a verdict: the same input fails again). */
export class ExpressionFailed extends Error {
  constructor(
    message: string,
    readonly position?: number,
  ) {
    super(message)
  }
}

const LIMITS = { ms: 1000, depth: 200, padWidth: 10_000, heapMb: 64 }

// Plain CommonJS, evaluated as the thread's source: no file to ship beside the compiled code.
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads')
const jsonata = require(workerData.jsonataPath)
const limits = workerData.limits
const compiled = new Map()
function pad(str, width, char) {
  if (str === undefined) return undefined
  if (Math.abs(width) > limits.padWidth) throw new Error('$pad width over ' + limits.padWidth)
  const c = char === undefined || char === '' ? ' ' : String(char)
  const missing = Math.abs(width) - Array.from(str).length
  if (missing <= 0) return str
  const fill = c.repeat(Math.ceil(missing / c.length)).slice(0, missing)
  return width < 0 ? fill + str : str + fill
}
parentPort.on('message', async ({ id, expression, payload }) => {
  try {
    let expr = compiled.get(expression)
    if (!expr) {
      expr = jsonata(expression)
      expr.registerFunction('pad', pad, '<s-ns?:s>')
      if (compiled.size > 200) compiled.clear()
      compiled.set(expression, expr)
    }
    let depth = 0
    const enter = Symbol.for('jsonata.__evaluate_entry')
    const exit = Symbol.for('jsonata.__evaluate_exit')
    const bindings = {
      [enter]: (e, i, env) => { if (!env.isParallelCall && ++depth > limits.depth) throw new Error('expression nests deeper than ' + limits.depth) },
      [exit]: (e, i, env) => { if (!env.isParallelCall) depth-- },
    }
    const result = await expr.evaluate(payload, bindings)
    parentPort.postMessage({ id, ok: true, result: result === undefined ? undefined : JSON.parse(JSON.stringify(result)) })
  } catch (err) {
    parentPort.postMessage({ id, ok: false, message: String((err && err.message) || err), position: err && err.position })
  }
})
`

type Pending = {
  resolve: (v: unknown) => void
  reject: (e: Error) => void
  timer: NodeJS.Timeout
}

let worker: Worker | undefined
const pending = new Map<number, Pending>()
let nextId = 0

function failAll(reason: string): void {
  for (const [id, p] of pending) {
    clearTimeout(p.timer)
    p.reject(new SandboxUnavailable(reason))
    pending.delete(id)
  }
}

function thread(): Worker {
  if (worker) return worker
  const jsonataPath = createRequire(import.meta.url).resolve('jsonata')
  const w = new Worker(THREAD, {
    eval: true,
    workerData: { jsonataPath, limits: LIMITS },
    resourceLimits: { maxOldGenerationSizeMb: LIMITS.heapMb, maxYoungGenerationSizeMb: 16 },
  })
  w.unref()
  w.on('message', (m: { id: number; ok: boolean; result?: unknown; message?: string; position?: number }) => {
    const p = pending.get(m.id)
    if (!p) return
    pending.delete(m.id)
    clearTimeout(p.timer)
    if (m.ok) p.resolve(m.result)
    else p.reject(new ExpressionFailed(m.message ?? 'evaluation error', m.position))
  })
  // Only the current thread's end fails what is pending: a replaced one already failed its own.
  const gone = (reason: string) => {
    if (worker !== w) return
    worker = undefined
    failAll(reason)
  }
  w.on('error', (err) => gone(`the mapping sandbox failed: ${err.message}`))
  w.on('exit', () => gone('the mapping sandbox stopped'))
  worker = w
  return w
}

/** Evaluates `expression` over `payload` in the sandbox thread. */
export function evaluateInSandbox(expression: string, payload: unknown): Promise<unknown> {
  const w = thread()
  const id = nextId++
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      // A runaway built-in cannot be interrupted: replace the thread (and fail what it held).
      pending.delete(id)
      reject(new SandboxUnavailable(`the mapping ran longer than ${LIMITS.ms} ms`))
      if (worker === w) worker = undefined
      failAll('the mapping sandbox was restarted after a runaway expression')
      void w.terminate()
    }, LIMITS.ms)
    pending.set(id, { resolve, reject, timer })
    w.postMessage({ id, expression, payload })
  })
}
