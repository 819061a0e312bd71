/**
 * The rules worker's work per event on one thread, away from Kafka and the store: a population's month
 * (simulator/population.ts, the month bench's events) encoded as the topics hold it (Confluent-framed
 * Avro), cut into parts of one topic and one partition as the rules stage reads them, and applied with
 * `RulesCore.apply` (decode, validation, de-duplication, the engine, the entity activity, the hits'
 * encoding). The same events also go through the engine alone, already decoded: what the core adds to
 * the engine is the difference. CPU per transaction, the median of BENCH_PASSES passes (each on a new
 * core and engine), and both figures' ratio; this is the figure behind the month bench's
 * `WorkerThread` line, without the machine's other threads moving it.
 *
 *   npm run bench:rules-core
 *   BENCH_POPULATION=B BENCH_PASSES=5 npm run bench:rules-core
 *   BENCH_DAYS=10 BENCH_MERCHANTS=500 npm run bench:rules-core   (a smaller month)
 */
import { EventCodec } from '../kafka/codec.ts'
import { murmur2 } from '../kafka/partitioner.ts'
import { RulesCore } from '../rules/core.ts'
import { buildRulesConfig, createEngine } from '../rules/engine/config.ts'
import type { RuleEngine } from '../rules/engine/engine.ts'
import { activityWanted } from '../rules/entity/engine.ts'
import { ENTITY_RULES } from '../rules/entity/index.ts'
import { RULES } from '../rules/index.ts'
import { MERCHANT_EVENT, TERMINAL_TRANSACTION } from '../schemas/contract.ts'
import type { MerchantEvent, TerminalTransaction } from '../schemas/types.generated.ts'
import { HistorySimulator } from '../simulator/history.ts'
import { type PopulationSpec, population } from '../simulator/population.ts'

const POPULATION = process.env.BENCH_POPULATION ?? 'A'
const PASSES = Number(process.env.BENCH_PASSES ?? 3)
/** The rules stage's part size (RULES_MAX_BATCH's default) and the topics' partition count. */
const PART = Number(process.env.BENCH_PART ?? 2_000)
const PARTITIONS = 6
const LATENESS_MS = 21_600_000
const ACTIVITY_PARTITIONS = 6

const overrides: Partial<PopulationSpec> = {}
if (process.env.BENCH_DAYS !== undefined) overrides.days = Number(process.env.BENCH_DAYS)
if (process.env.BENCH_MERCHANTS !== undefined) overrides.merchants = Number(process.env.BENCH_MERCHANTS)
const spec = population(POPULATION, overrides)
const offset = `${spec.timeZoneOffsetHours >= 0 ? '+' : '-'}${String(Math.abs(spec.timeZoneOffsetHours)).padStart(2, '0')}:00`
const codec = new EventCodec({})

type Decoded = { txn: TerminalTransaction } | { merchant: MerchantEvent }
interface Part {
  transactions: boolean
  partition: number
  values: Buffer[]
  stamps: number[]
}

// Delivery order, as the topics hold it; parts are what a partition of one topic gives at a time.
const decoded: Decoded[] = []
const parts: Part[] = []
const open = new Map<string, Part>()
let transactions = 0
for (const e of new HistorySimulator(spec).events()) {
  const isTxns = e.topic === 'transactions'
  const v = e.value
  decoded.push(isTxns ? { txn: e.value } : { merchant: e.value })
  if (isTxns) transactions++
  const partition = (murmur2(v.merchant_id) & 0x7fffffff) % PARTITIONS
  const key = `${isTxns}/${partition}`
  let part = open.get(key)
  if (part === undefined) {
    part = { transactions: isTxns, partition, values: [], stamps: [] }
    open.set(key, part)
    parts.push(part)
  }
  part.values.push(await codec.encode(isTxns ? TERMINAL_TRANSACTION : MERCHANT_EVENT, v, 'avro'))
  // The Kafka timestamp validation measures the future skew against: here the event's own time.
  part.stamps.push(v.event_time)
  if (part.values.length >= PART) open.delete(key)
}
const known = new Set(decoded.map((d) => ('txn' in d ? d.txn.acquirer_id : d.merchant.acquirer_id)))

const config = buildRulesConfig({}, RULES, 'bench', ENTITY_RULES)

function engine(): RuleEngine {
  return createEngine(config, {
    timeZoneOf: () => offset,
    allowedLatenessMs: LATENESS_MS,
  })
}

const cpuOf = (from: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(from)
  return u.user + u.system
}

async function corePass(): Promise<{ micros: number; hits: number; activity: number }> {
  const core = new RulesCore({
    engine: engine(),
    codec,
    acquirers: { isKnown: (id) => known.has(id) },
    maxFutureSkewMs: 300_000,
    allowedLatenessMs: LATENESS_MS,
    // As the rules worker: only what the cross-merchant rules can use is published.
    wantsActivity: activityWanted(config.entityRules),
  })
  for (let p = 0; p < PARTITIONS; p++) core.load(p)
  let hits = 0
  let activity = 0
  let invalid = 0
  const from = process.cpuUsage()
  for (const part of parts) {
    const applied = await core.apply(part.partition, { ...part, activityPartitions: ACTIVITY_PARTITIONS })
    hits += applied.hits.length
    invalid += applied.invalid
    for (const a of applied.activity) activity += a.records
  }
  const micros = cpuOf(from)
  if (invalid > 0) throw new Error(`${invalid} events refused: the bench's events must all be valid`)
  return { micros, hits, activity }
}

function enginePass(): { micros: number; updates: number } {
  const e = engine()
  let updates = 0
  const from = process.cpuUsage()
  for (const d of decoded)
    updates += ('txn' in d ? e.onTransaction(d.txn) : e.onMerchantEvent(d.merchant)).length
  return { micros: cpuOf(from), updates }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN
const core: number[] = []
const alone: number[] = []
let last = { hits: 0, activity: 0, updates: 0 }
for (let i = 0; i < PASSES; i++) {
  const c = await corePass()
  const a = enginePass()
  core.push(c.micros / transactions)
  alone.push(a.micros / transactions)
  last = { hits: c.hits, activity: c.activity, updates: a.updates }
}
const fmt = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(', ')
console.log(
  `population ${POPULATION}: ${transactions.toLocaleString('en-US')} transactions and ${(decoded.length - transactions).toLocaleString('en-US')} lifecycle events, ${parts.length.toLocaleString('en-US')} parts of at most ${PART} in ${PARTITIONS} partitions`,
)
console.log(`RulesCore.apply, CPU-µs per transaction: ${fmt(core)} (median ${median(core).toFixed(2)})`)
console.log(`the engine alone, CPU-µs per transaction: ${fmt(alone)} (median ${median(alone).toFixed(2)})`)
console.log(
  `what the core adds to the engine: ${(median(core) - median(alone)).toFixed(2)} µs per transaction (core / engine ${(median(core) / median(alone)).toFixed(2)})`,
)
console.log(
  `last pass: ${last.hits.toLocaleString('en-US')} hit updates published (the engine alone made ${last.updates.toLocaleString('en-US')}), ${last.activity.toLocaleString('en-US')} activity records`,
)
