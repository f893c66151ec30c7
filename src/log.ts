import { pino } from 'pino'

export type Logger = pino.Logger

/**
 * JSON lines on stdout, written asynchronously: under load, lines that arrive while a write is
 * in flight go out together in the next one (a synchronous write per request line cost more than
 * the request itself), and a quiet service still writes each line at once. Flushed on exit.
 */
export function createLogger(level: string): Logger {
  const destination = pino.destination({ dest: 1, sync: false })
  process.once('exit', () => destination.flushSync())
  return pino({ level, base: { service: 'tiersync' }, timestamp: pino.stdTimeFunctions.isoTime }, destination)
}
