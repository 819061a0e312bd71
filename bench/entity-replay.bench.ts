/**
 * The cross-merchant engine over a population's month (simulator/population.ts, the month bench's
 * events), as the entity stage applies it live and replays it at every restart: the activity records
 * ingest derives from the month (a card per approved sale, an account or a terminal per lifecycle
 * event), in parts of 2,000, with the records the engine derives (card_ring's links) applied after the
 * part that derived them, as they come back from the topic.
 *
 * Prints the CPU per record (median of three passes, each with a new engine), the entities kept at
 * the end, and the live heap they hold: the heap after a full collection with the engine, less the
 * heap after one without it. The entity state is most of what the service's main thread keeps, so it
 * is what each of its full collections marks. Each pass gets the records as the stage does, decoded
 * from the topic's messages (JSON, a part per message), before its timing; they are dropped before the
 * heap is measured, so the strings the engine keeps of them (its entities' keys) count as its own.
 *
 *   npm run bench:entity
 *   BENCH_POPULATION=B npm run bench:entity
 */
import {
  type ActivityRecord,
  activitiesOf,
  decodeActivities,
  encodeActivities,
} from '../rules/entity/activity.ts'
import { buildEntityRules, EntityEngine } from '../rules/entity/engine.ts'
import { ENTITY_RULES } from '../rules/entity/index.ts'
import { HistorySimulator } from '../simulator/history.ts'
import { population } from '../simulator/population.ts'

const PART = 2_000
const PASSES = 3
const POPULATION = process.env.BENCH_POPULATION ?? 'A'

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc (npm run bench:entity does)')

const records: ActivityRecord[] = []
for (const e of new HistorySimulator(population(POPULATION, {})).events()) {
  const batch =
    e.topic === 'transactions'
      ? activitiesOf({ kind: 'transactions', items: [e.value] })
      : activitiesOf({ kind: 'merchantEvents', items: [e.value] })
  for (const r of batch) records.push(r)
}

// The records as the topic holds them: a message per part.
const messages: Buffer[] = []
for (let i = 0; i < records.length; i += PART) messages.push(encodeActivities(records.slice(i, i + PART)))

/** The records decoded from the messages, each with strings of its own, as the stage reads them. */
function decoded(): ActivityRecord[] {
  const out: ActivityRecord[] = []
  for (const m of messages)
    for (const d of decodeActivities(m)) {
      if (!d.ok) throw new Error(`a record of the month does not decode: ${d.problem}`)
      out.push(d.record)
    }
  return out
}

function pass(): { engine: EntityEngine; cpuMs: number; applied: number; hits: number } {
  const input = decoded()
  const engine = new EntityEngine({
    rules: buildEntityRules({}, ENTITY_RULES),
    isWhitelisted: () => false,
    configHash: 'bench',
  })
  let applied = 0
  let hits = 0
  const cpu = process.cpuUsage()
  for (let i = 0; i < input.length; i += PART) {
    const end = Math.min(input.length, i + PART)
    for (let j = i; j < end; j++) hits += engine.onRecord(input[j] as ActivityRecord).length
    applied += end - i
    for (let derived = engine.takeDerived(); derived.length > 0; derived = engine.takeDerived()) {
      for (const d of derived) hits += engine.onRecord(d).length
      applied += derived.length
    }
  }
  const u = process.cpuUsage(cpu)
  return { engine, cpuMs: (u.user + u.system) / 1000, applied, hits }
}

const runs: { cpuMs: number; applied: number; hits: number }[] = []
/** The passes; the last one's engine is kept until its heap is measured, then let go. */
function measure(): { heap: number; entities: number; stats: string } {
  let last: ReturnType<typeof pass> | null = null
  for (let p = 0; p < PASSES; p++) {
    last = null
    gc?.()
    last = pass()
    runs.push({ cpuMs: last.cpuMs, applied: last.applied, hits: last.hits })
  }
  gc?.()
  gc?.()
  const withEngine = process.memoryUsage().heapUsed
  const entities = last?.engine.entityCount ?? 0
  const stats = JSON.stringify(last?.engine.stats)
  last = null
  gc?.()
  gc?.()
  return { heap: withEngine - process.memoryUsage().heapUsed, entities, stats }
}
const { heap, entities, stats } = measure()
const { applied, hits } = runs.at(-1) ?? { applied: 0, hits: 0 }

const cpu = runs.map((r) => r.cpuMs).sort((a, b) => a - b)
const median = cpu[Math.floor(cpu.length / 2)] as number
console.log(
  `population ${POPULATION}: ${records.length} activity records from the month, ${applied - records.length} derived; ${hits} hit updates`,
)
console.log(
  `CPU per record applied: ${((median * 1000) / applied).toFixed(2)} µs (median of ${PASSES} passes: ${cpu.map((c) => c.toFixed(0)).join(', ')} ms)`,
)
console.log(
  `entities at the end: ${entities}; live heap ${(heap / 1e6).toFixed(1)} MB, ${(heap / Math.max(1, entities)).toFixed(0)} B per entity`,
)
console.log(`engine stats: ${stats}`)
