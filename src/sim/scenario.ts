import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { z } from 'zod'
import type { Delivery } from './send.js'

/**
 * One delivery of a scenario. `event` is sent as given (any JSON object), so a scenario can also
 * exercise the service's 422 answers; the service, not the simulator, judges canonical events.
 */
export const ScenarioStep = z.strictObject({
  event: z.record(z.string(), z.unknown()),
  /** Webhook id; by default derived from the scenario name, the step index and the event. */
  id: z.string().trim().min(1).max(200).optional(),
  /** Sends the same delivery (same id, same body) this many times: every one after the first is a duplicate. */
  times: z.number().int().min(1).max(100).default(1),
  label: z.string().optional(),
})

export const Scenario = z.strictObject({
  /** Part of the derived webhook ids; `loadScenario` defaults it to the file name. */
  name: z.string().optional(),
  steps: z.array(ScenarioStep).min(1, 'a scenario needs at least one step'),
})
export type Scenario = z.input<typeof Scenario>

export class ScenarioError extends Error {
  override name = 'ScenarioError'
}

/** Reads and validates a scenario file; throws a ScenarioError naming the file and the bad fields. */
export function loadScenario(path: string): Delivery[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ScenarioError(`cannot read scenario ${path}: ${(err as Error).message}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new ScenarioError(`scenario ${path} is not JSON: ${(err as Error).message}`)
  }
  const parsed = Scenario.safeParse(json)
  if (!parsed.success) {
    throw new ScenarioError(`scenario ${path} is invalid:\n${z.prettifyError(parsed.error)}`)
  }
  return scenarioDeliveries({ ...parsed.data, name: parsed.data.name ?? basename(path) })
}

/**
 * The deliveries of a scenario, in step order. Webhook ids are deterministic, so running the
 * same scenario twice against a source yields duplicates, not new events.
 */
export function scenarioDeliveries(s: Scenario): Delivery[] {
  const scenario = Scenario.parse(s)
  const name = scenario.name ?? ''
  return scenario.steps.flatMap((step, index) => {
    const body = JSON.stringify(step.event)
    const webhookId = step.id ?? derivedId(name, index, body)
    const type = typeof step.event.type === 'string' ? step.event.type : 'event'
    const label = step.label ?? `step ${index + 1} (${type})`
    return Array.from({ length: step.times }, (_, n) =>
      n === 0 ? { body, webhookId, label } : { body, webhookId, label: `${label}, again` },
    )
  })
}

function derivedId(name: string, index: number, body: string): string {
  const hash = createHash('sha256').update(`${name}\n${index}\n${body}`).digest('hex')
  return `msg_sim_${hash.slice(0, 32)}`
}
