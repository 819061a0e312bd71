/**
 * What each rule costs as a month's history builds up: a population's month (simulator/population.ts,
 * the month bench's events, without Kafka or the store) through the rule engine on this thread, every
 * rule's evaluation timed on one event in `TIMING_SAMPLE_EVERY` (the engine's own sampling, as behind
 * the risk_rule_eval_seconds metric). Prints, per rule, the mean time of an evaluation in each tenth of
 * the month's transactions and the last tenth against the first, and the engine's CPU per transaction
 * in each tenth. A rule whose cost climbs with the days its window holds shows here, away from the
 * contention that moves the month bench's rates.
 *
 *   npm run bench:rule-cost
 *   BENCH_POPULATION=B npm run bench:rule-cost
 */
import { buildRulesConfig, createEngine } from '../rules/engine/config.ts'
import { TIMING_SAMPLE_EVERY } from '../rules/engine/engine.ts'
import { RULES } from '../rules/index.ts'
import type { MerchantEvent, TerminalTransaction } from '../schemas/types.generated.ts'
import { HistorySimulator } from '../simulator/history.ts'
import { type PopulationSpec, population } from '../simulator/population.ts'

const TENTHS = 10
const POPULATION = process.env.BENCH_POPULATION ?? 'A'
const overrides: Partial<PopulationSpec> = {}
if (process.env.BENCH_DAYS !== undefined) overrides.days = Number(process.env.BENCH_DAYS)
if (process.env.BENCH_MERCHANTS !== undefined) overrides.merchants = Number(process.env.BENCH_MERCHANTS)
const spec = population(POPULATION, overrides)

// Events in delivery order, as the topics would hold them.
const events: ({ txn: TerminalTransaction } | { merchant: MerchantEvent })[] = []
for (const e of new HistorySimulator(spec).events())
  events.push(e.topic === 'transactions' ? { txn: e.value } : { merchant: e.value })
const transactions = events.reduce((n, e) => n + ('txn' in e ? 1 : 0), 0)
const offset = `${spec.timeZoneOffsetHours >= 0 ? '+' : '-'}${String(Math.abs(spec.timeZoneOffsetHours)).padStart(2, '0')}:00`

let tenth = 0
const timings = new Map<string, { seconds: number; n: number }[]>()
const engine = createEngine(buildRulesConfig({}, RULES), {
  timeZoneOf: () => offset,
  allowedLatenessMs: 6 * 3_600_000,
  ruleTiming: (ruleId, seconds) => {
    let perTenth = timings.get(ruleId)
    if (perTenth === undefined) {
      perTenth = Array.from({ length: TENTHS }, () => ({ seconds: 0, n: 0 }))
      timings.set(ruleId, perTenth)
    }
    const t = perTenth[tenth] as { seconds: number; n: number }
    t.seconds += seconds
    t.n++
  },
})

const cpuPerTenth: number[] = []
let seen = 0
let cpu0 = process.cpuUsage()
for (const e of events) {
  if ('merchant' in e) {
    engine.onMerchantEvent(e.merchant)
    continue
  }
  engine.onTransaction(e.txn)
  seen++
  if (seen >= ((tenth + 1) * transactions) / TENTHS && tenth < TENTHS) {
    const used = process.cpuUsage(cpu0)
    cpuPerTenth.push((used.user + used.system) / (transactions / TENTHS))
    cpu0 = process.cpuUsage()
    tenth = Math.min(tenth + 1, TENTHS - 1)
  }
}

console.log(
  `population ${POPULATION}: ${transactions.toLocaleString('en-US')} transactions of ${spec.merchants} merchants over ${spec.days} days; each rule timed on one evaluation in ${TIMING_SAMPLE_EVERY}\n`,
)
console.log(
  `| Rule, mean µs per timed evaluation | ${Array.from({ length: TENTHS }, (_, k) => `${k + 1}`).join(' | ')} | Last / first |`,
)
console.log(`|---|${'---|'.repeat(TENTHS)}---|`)
const rows = [...timings].map(([id, perTenth]) => {
  const means = perTenth.map((t) => (t.n === 0 ? Number.NaN : (1e6 * t.seconds) / t.n))
  return { id, means, total: means.reduce((a, b) => a + (Number.isNaN(b) ? 0 : b), 0) }
})
for (const r of rows.sort((a, b) => b.total - a.total))
  console.log(
    `| ${r.id} | ${r.means.map((m) => m.toFixed(2)).join(' | ')} | ${((r.means.at(-1) ?? Number.NaN) / (r.means[0] ?? Number.NaN)).toFixed(2)} |`,
  )
console.log(
  `| the engine, CPU-µs per transaction | ${cpuPerTenth.map((c) => c.toFixed(1)).join(' | ')} | ${((cpuPerTenth.at(-1) ?? Number.NaN) / (cpuPerTenth[0] ?? Number.NaN)).toFixed(2)} |`,
)
