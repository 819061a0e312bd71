/**
 * The hit digest: a SHA-256 of every hit update the rule engine makes (each as JSON, in order, those of
 * lifecycle events included) over a fixed stream of events, with every registered rule and no baselines. A change meant to make the
 * engine leaner or faster must leave it as it was: run it on the tree before and after the change (a
 * `git worktree` of the parent) and compare the lines.
 *
 *   npm run bench:digest                      the engine bench's events (20,000 merchants, 1,000,000)
 *   DIGEST_POPULATION=A npm run bench:digest  population A's month (B likewise): every rule fires there
 *   DIGEST_EVENTS=… DIGEST_MERCHANTS=… DIGEST_DAYS=… DIGEST_SEED=… npm run bench:digest
 *
 * Each event reaches the engine as a decoded copy (fresh strings, as the rules worker gets them), so
 * that an engine keeping an event's strings is tested as it runs. Prints the hit updates per rule, then
 * one line with their count and the digest's first 16 hex digits.
 */
import { createHash } from 'node:crypto'
import { buildRulesConfig, createEngine } from '../rules/engine/config.ts'
import type { HitUpdate } from '../rules/engine/engine.ts'
import { RULES } from '../rules/index.ts'
import type { MerchantEvent, TerminalTransaction } from '../schemas/types.generated.ts'
import { TrafficSimulator } from '../simulator/generator.ts'
import { HistorySimulator } from '../simulator/history.ts'
import { population } from '../simulator/population.ts'

type Input = { kind: 'transaction'; value: TerminalTransaction } | { kind: 'merchant'; value: MerchantEvent }

function decoded<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T
}

/** The stream and the time zone of its merchants. */
function stream(): { label: string; timeZone: string; events: Iterable<Input> } {
  const name = process.env.DIGEST_POPULATION
  if (name !== undefined) {
    const sim = new HistorySimulator({ ...population(name), runId: 'digest' })
    return {
      label: `population ${name}`,
      timeZone: sim.labels.timeZone,
      events: (function* () {
        for (const e of sim.events())
          yield e.topic === 'transactions'
            ? { kind: 'transaction', value: e.value }
            : { kind: 'merchant', value: e.value }
      })(),
    }
  }
  const n = Number(process.env.DIGEST_EVENTS ?? 1_000_000)
  const merchants = Number(process.env.DIGEST_MERCHANTS ?? 20_000)
  const days = Number(process.env.DIGEST_DAYS ?? 30)
  const seed = Number(process.env.DIGEST_SEED ?? 11)
  const sim = new TrafficSimulator({ seed, merchants, runId: 'engine-bench' })
  const start = Date.UTC(2026, 9, 1)
  const step = (days * 86_400_000) / n
  return {
    label: `${n} events of ${merchants} merchants over ${days} days, seed ${seed}`,
    timeZone: '+08:00',
    events: (function* () {
      for (const e of sim.lifecycle(start)) yield { kind: 'merchant', value: e }
      for (let i = 0; i < n; i++) yield { kind: 'transaction', value: sim.next(start + Math.floor(i * step)) }
    })(),
  }
}

const { label, timeZone, events } = stream()
const engine = createEngine(buildRulesConfig({}, RULES), {
  timeZoneOf: () => timeZone,
  allowedLatenessMs: 6 * 3_600_000,
})
const hash = createHash('sha256')
const byRule = new Map<string, number>()
let updates = 0
const count = (hits: readonly HitUpdate[]) => {
  for (const hit of hits) {
    updates++
    byRule.set(hit.ruleId, (byRule.get(hit.ruleId) ?? 0) + 1)
    hash.update(JSON.stringify(hit))
    hash.update('\n')
  }
}
for (const e of events) {
  count(
    e.kind === 'merchant' ? engine.onMerchantEvent(decoded(e.value)) : engine.onTransaction(decoded(e.value)),
  )
}
console.log(`${label}: ${JSON.stringify(Object.fromEntries(byRule))}`)
console.log(`${updates} hit updates, digest ${hash.digest('hex').slice(0, 16)}`)
