/*
 * Reseller simulator: signs and sends webhooks to a running tiersync, as a reseller BSS would.
 *
 *   npm run sim -- --url http://localhost:3000 --source <id> --secret whsec_... --scenario scenarios/example.json
 *   npm run sim -- --url http://localhost:3000 --source <id> --secret whsec_... --events 10000 --subscriptions 500 \
 *     --rate 200 --concurrency 16 --retries 3 --json
 *
 * --scenario plays a scenario file in order (concurrency 1 by default); its webhook ids are
 * deterministic, so a second run answers duplicates. --events/--subscriptions generates a fresh
 * run of canonical events (concurrency 8 by default). --retries resends a 429, a 503 or a network
 * error with the same webhook-id. Prints a summary table, or with --json the summary as one JSON
 * line. Exit 0 when every delivery got an answer, 1 on network errors, 2 on bad arguments.
 */
import { parseArgs } from 'node:util'
import { Presets, SingleBar } from 'cli-progress'
import { Webhook } from 'standardwebhooks'
import { z } from 'zod'
import { generateEvents } from './generate.js'
import { loadScenario, ScenarioError } from './scenario.js'
import { type Delivery, type SimTarget, type Summary, sendAll } from './send.js'

const USAGE = `usage: npm run sim -- --url <base url> --source <id> --secret <whsec_...>
         (--scenario <file.json> | --events <N> --subscriptions <M>)
         [--rate <per second>] [--concurrency <C>] [--retries <K>] [--json]

  --url            tiersync base URL, e.g. http://localhost:3000
  --source         source id (from POST /v1/sources)
  --secret         the source's Standard Webhooks secret
  --scenario       play a scenario file, in order
  --events         generate N canonical events ...
  --subscriptions  ... over M subscriptions (10 per account)
  --rate           at most R deliveries started per second (default: unlimited)
  --concurrency    deliveries in flight (default: 1 for a scenario, 8 for generated events)
  --retries        resend a 429/503/network error up to K times, same webhook-id (default 0)
  --json           print the summary as one JSON line on stdout
`

const count = (flag: string) =>
  z.coerce
    .number({ error: `${flag} must be a number` })
    .int(`${flag} must be a whole number`)
    .positive(`${flag} must be at least 1`)

const Args = z
  .object({
    url: z.url({ protocol: /^https?$/, error: '--url must be an http(s) URL' }),
    source: z.string({ error: '--source is required' }).min(1, '--source is required'),
    secret: z
      .string({ error: '--secret is required' })
      .startsWith('whsec_', '--secret must be a Standard Webhooks secret (whsec_...)')
      .refine(isSecret, '--secret is not a valid Standard Webhooks secret'),
    scenario: z.string().min(1).optional(),
    events: count('--events').optional(),
    subscriptions: count('--subscriptions').optional(),
    rate: z.coerce.number({ error: '--rate must be a number' }).positive('--rate must be above 0').optional(),
    concurrency: count('--concurrency').max(1024, '--concurrency is at most 1024').optional(),
    retries: z.coerce
      .number({ error: '--retries must be a number' })
      .int('--retries must be a whole number')
      .min(0, '--retries must be 0 or more')
      .max(20, '--retries is at most 20')
      .default(0),
    json: z.boolean().default(false),
  })
  .superRefine((a, ctx) => {
    const generated = a.events !== undefined || a.subscriptions !== undefined
    if (a.scenario !== undefined && generated) {
      ctx.addIssue({ code: 'custom', message: 'give --scenario or --events/--subscriptions, not both' })
    } else if (a.scenario === undefined && !generated) {
      ctx.addIssue({ code: 'custom', message: 'give --scenario <file> or --events <N> --subscriptions <M>' })
    } else if (generated && (a.events === undefined || a.subscriptions === undefined)) {
      ctx.addIssue({ code: 'custom', message: '--events and --subscriptions go together' })
    }
  })
type Args = z.infer<typeof Args>

function isSecret(secret: string): boolean {
  try {
    new Webhook(secret)
    return true
  } catch {
    return false
  }
}

class UsageError extends Error {}

function parse(argv: string[]): Args | 'help' {
  let values: Record<string, string | boolean | undefined>
  try {
    ;({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: 'string' },
        source: { type: 'string' },
        secret: { type: 'string' },
        scenario: { type: 'string' },
        events: { type: 'string' },
        subscriptions: { type: 'string' },
        rate: { type: 'string' },
        concurrency: { type: 'string' },
        retries: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  if (values.help) return 'help'
  const parsed = Args.safeParse(values)
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => i.message).join('\n'))
  return parsed.data
}

function printTable(s: Summary): void {
  const rows: [string, string | number][] = [
    ['sent', s.sent],
    ['accepted', s.accepted],
    ['duplicates', s.duplicates],
    ['rejected', Object.values(s.rejected).reduce((a, b) => a + b, 0)],
    ...Object.entries(s.rejected).map(([code, n]): [string, number] => [`  ${code}`, n]),
    ['network errors', s.network_errors],
    ['latency p50 ms', s.latency_ms.p50],
    ['latency p90 ms', s.latency_ms.p90],
    ['latency p99 ms', s.latency_ms.p99],
    ['latency max ms', s.latency_ms.max],
    ['seconds', s.seconds],
    ['per second', s.per_second],
  ]
  const width = Math.max(...rows.map(([k]) => k.length)) + 2
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(width)}${v}\n`)
}

async function main(argv: string[]): Promise<number> {
  let args: Args | 'help'
  let deliveries: Delivery[]
  try {
    args = parse(argv)
    if (args === 'help') {
      process.stdout.write(USAGE)
      return 0
    }
    deliveries =
      args.scenario !== undefined
        ? loadScenario(args.scenario)
        : generateEvents({ events: args.events ?? 0, subscriptions: args.subscriptions ?? 0 })
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof ScenarioError)) throw err
    process.stderr.write(`sim: ${err.message}\n\n${USAGE}`)
    return 2
  }

  const target: SimTarget = { url: args.url, sourceId: args.source, secret: args.secret }
  const bar =
    process.stderr.isTTY && !args.json
      ? new SingleBar({ stream: process.stderr, etaBuffer: 100 }, Presets.shades_classic)
      : undefined
  bar?.start(deliveries.length, 0)
  let summary: Summary
  try {
    ;({ summary } = await sendAll(target, deliveries, {
      concurrency: args.concurrency ?? (args.scenario !== undefined ? 1 : 8),
      retries: args.retries,
      onResult: () => bar?.increment(),
      ...(args.rate === undefined ? {} : { ratePerSecond: args.rate }),
    }))
  } finally {
    bar?.stop()
  }
  if (args.json) process.stdout.write(`${JSON.stringify(summary)}\n`)
  else printTable(summary)
  return summary.network_errors === 0 ? 0 : 1
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    process.stderr.write(`sim: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  },
)
