/**
 * Rule engine benchmark, in process on one core: simulated transactions of many merchants over 30
 * days of event time go through the engine with every registered rule. Prints events per second,
 * retained heap per merchant and per active (merchant, card, terminal) triple.
 *
 * The events reach the engine as the rules worker gets them: Avro-decoded from bytes, each with fresh
 * strings of its own. What the engine keeps of them (transaction ids as samples, card tokens as keys)
 * is its memory and is counted: the events are decoded before the loop and dropped after it, and the
 * retained heap is measured against the heap before they were decoded.
 *
 *   npm run bench:engine
 *   BENCH_ENGINE_EVENTS=2000000 BENCH_ENGINE_MERCHANTS=100000 npm run bench:engine
 *   BENCH_ENGINE_RULES=credit_debit_mix,round_amount npm run bench:engine   (only those rules)
 */
import { cpus } from 'node:os'
import { PerformanceObserver } from 'node:perf_hooks'
import { compileSchema } from '../kafka/codec.ts'
import { buildRulesConfig, createEngine } from '../rules/engine/config.ts'
import { RULES } from '../rules/index.ts'
import { bundledSchema, loadSchemaFile, MERCHANT_EVENT, TERMINAL_TRANSACTION } from '../schemas/contract.ts'
import type { MerchantEvent, TerminalTransaction } from '../schemas/types.generated.ts'
import { TrafficSimulator } from '../simulator/generator.ts'

const N = Number(process.env.BENCH_ENGINE_EVENTS ?? 1_000_000)
const MERCHANTS = Number(process.env.BENCH_ENGINE_MERCHANTS ?? 20_000)
const DAYS = 30

function heapAfterGc(): number {
  // Run with --expose-gc (the npm script does) so that retained memory is measured, not garbage.
  globalThis.gc?.()
  globalThis.gc?.()
  // Typed arrays keep their data outside the JS heap (arrayBuffers): counted too, or memory kept in
  // them would look free.
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

const sim = new TrafficSimulator({ seed: 11, merchants: MERCHANTS, runId: 'engine-bench' })
const start = Date.UTC(2026, 9, 1)
const step = (DAYS * 86_400_000) / N
const triples = new Set<string>()
// The simulator's events, Avro-encoded into one buffer (`ends[i]` is where event i ends), written in
// place rather than as a million small Buffers.
const avro = compileSchema(loadSchemaFile(bundledSchema(TERMINAL_TRANSACTION).file))
let wire = Buffer.alloc(N * 160)
const ends = new Float64Array(N)
let length = 0
for (let i = 0; i < N; i++) {
  const t = sim.next(start + Math.floor(i * step))
  triples.add(`${t.merchant_id}|${t.card_token}|${t.terminal_id}`)
  let end = avro.encode(t, wire, length)
  while (end < 0) {
    // Too small: avsc answers with minus the room it lacked.
    const grown = Buffer.alloc(Math.max(2 * wire.length, length - end))
    wire.copy(grown, 0, 0, length)
    wire = grown
    end = avro.encode(t, wire, length)
  }
  length = end
  ends[i] = length
}
// The merchants' lifecycle events (onboarding, terminal bindings), encoded the same way.
const merchantAvro = compileSchema(loadSchemaFile(bundledSchema(MERCHANT_EVENT).file))
const lifecycle = sim.lifecycle(start).map((e) => merchantAvro.toBuffer(e))

// BENCH_ENGINE_RULES=a,b runs only those rules, to see what each one costs.
const only = process.env.BENCH_ENGINE_RULES?.split(',')
const registry = only === undefined ? RULES : RULES.filter((r) => only.includes(r.meta.id))
if (registry.length === 0) throw new Error(`no rule matches BENCH_ENGINE_RULES=${only?.join(',')}`)
const config = buildRulesConfig({}, registry)
// Settle the garbage of generating the events before the baseline, or the "retained" figure is off.
heapAfterGc()
await new Promise((r) => setTimeout(r, 100))
const heapBefore = heapAfterGc()
// Decoded before the loop, so decoding is not timed; dropped after it, so that what the engine keeps of
// them counts and the rest does not.
let events: TerminalTransaction[] = new Array(N)
for (let i = 0; i < N; i++) {
  const record: unknown = avro.fromBuffer(wire.subarray(i === 0 ? 0 : (ends[i - 1] ?? 0), ends[i]))
  // A plain object, as the codec hands on (avsc's record is an instance of its own class).
  events[i] = { ...(record as TerminalTransaction) }
}
const engine = createEngine(config, {
  timeZoneOf: () => '+08:00',
  allowedLatenessMs: 6 * 3_600_000,
})
for (const bytes of lifecycle)
  engine.onMerchantEvent({ ...(merchantAvro.fromBuffer(bytes) as MerchantEvent) })

// Garbage-collection pauses during the loop, to tell collection apart from the engine's own work.
let gcMs = 0
let loop = { from: Number.POSITIVE_INFINITY, to: Number.POSITIVE_INFINITY }
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (e.startTime >= loop.from && e.startTime < loop.to) gcMs += e.duration
})
gcObserver.observe({ entryTypes: ['gc'] })

let hits = 0
const t0 = performance.now()
const cpu0 = process.cpuUsage()
for (const t of events) hits += engine.onTransaction(t).length
const cpu = process.cpuUsage(cpu0)
const t1 = performance.now()
const seconds = (t1 - t0) / 1000
loop = { from: t0, to: t1 }
// GC entries are delivered asynchronously, after the loop: counted by their start time.
await new Promise((r) => setTimeout(r, 50))
gcObserver.disconnect()
// CPU time of this process during the loop (GC included): unlike wall time, it does not grow when other
// processes share the cores, so it is the fairer "one core" figure on a busy machine.
const cpuSeconds = (cpu.user + cpu.system) / 1e6
if (events.length !== N) throw new Error('events lost')
events = []
await new Promise((r) => setTimeout(r, 100))
const retained = heapAfterGc() - heapBefore
// Keeps what was in the baseline alive until after the measurement (the encoded events, their ends,
// the simulator): V8 frees a top-level value after its last use, and each one freed during the loop
// was subtracted from the engine's memory (8 MB for `ends`, some 22 MB for the simulator).
if (wire.length < length || ends.length !== N || lifecycle.length === 0 || !(sim instanceof TrafficSimulator))
  throw new Error('encoded events lost')

console.log(
  JSON.stringify(
    {
      date: new Date().toISOString().slice(0, 10),
      machine: `${cpus()[0]?.model ?? 'unknown CPU'}, one core (Node is single-threaded), Node ${process.version}`,
      rules: registry.map((r) => r.meta.id),
      events: N,
      merchants: engine.merchantCount,
      eventTimeDays: DAYS,
      eventsPerSecond: Math.round(N / seconds),
      eventsPerCpuSecond: Math.round(N / cpuSeconds),
      cpuMicrosecondsPerEvent: Number(((cpuSeconds * 1e6) / N).toFixed(2)),
      // Share of the loop's CPU time spent in garbage-collection pauses.
      gcShareOfCpu: Number((gcMs / 1000 / cpuSeconds).toFixed(3)),
      hitUpdates: hits,
      // Share of rule evaluations the engine skipped (state and context unchanged since a silent one).
      evaluationsSkipped: Number(
        (
          engine.stats.skippedEvaluations /
          (engine.stats.evaluations + engine.stats.skippedEvaluations)
        ).toFixed(3),
      ),
      retainedHeapMb: Number((retained / 1024 / 1024).toFixed(1)),
      bytesPerMerchant: Math.round(retained / engine.merchantCount),
      merchantCardTerminalTriples: triples.size,
      bytesPerTriple: Math.round(retained / triples.size),
    },
    null,
    2,
  ),
)
