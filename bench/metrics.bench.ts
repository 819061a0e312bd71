/**
 * Metrics benchmark: what the instrumentation adds to ingest per event, and what a scrape costs.
 * No broker, no store: only the code the consumer runs per committed part (TopicInstruments.part with
 * a part of new events, as in ingest) and the registry's text exposition at a realistic size.
 *
 *   npm run bench:metrics
 *   BENCH_PART=5000 npm run bench:metrics
 */
import { TopicInstruments } from '../ingest/instruments.ts'
import { createMetrics, storeObserver } from '../metrics/metrics.ts'
import { RULES } from '../rules/index.ts'
import { TrafficSimulator } from '../simulator/generator.ts'

const PART = Number(process.env.BENCH_PART ?? 500)
const EVENTS = Number(process.env.BENCH_EVENTS ?? 5_000_000)
const PARTITIONS = 12

const metrics = createMetrics()
const txns = new TopicInstruments(metrics, 'pos.transactions')
new TopicInstruments(metrics, 'pos.merchant-events')
const observer = storeObserver(metrics)
const sim = new TrafficSimulator({ seed: 1, merchants: 1000, runId: 'bench' })
const start = Date.UTC(2026, 10, 1)
const items = Array.from({ length: PART }, (_, i) => sim.next(start + i * 10))
const fresh = { kind: 'transactions' as const, items }
const now = start + PART * 10 + 2_000

const parts = Math.ceil(EVENTS / PART)
// Warm-up, so the JIT has compiled the path before the clock runs.
for (let i = 0; i < 1000; i++) {
  txns.part({
    partition: i % PARTITIONS,
    messages: PART,
    stored: PART,
    duplicates: 0,
    rejectedCodes: [],
    lag: 0,
    seconds: 0.01,
    fresh,
    now,
  })
}
const t0 = performance.now()
for (let i = 0; i < parts; i++) {
  txns.part({
    partition: i % PARTITIONS,
    messages: PART,
    stored: PART - 1,
    duplicates: 1,
    rejectedCodes: i % 100 === 0 ? ['RISK_ERR_INVALID_FIELD'] : [],
    lag: i % 1000,
    seconds: 0.01,
    fresh,
    now,
  })
  observer.inserted('transactions', 0.004)
}
const ms = performance.now() - t0
const perEventNs = (ms * 1e6) / (parts * PART)

// A registry the size of a running service: 12 partitions, every rule, every level and category.
for (const { meta: rule } of RULES) {
  metrics.risk.ruleHits.labels(rule.id, rule.category).inc()
  metrics.risk.ruleEvaluation.labels(rule.id).observe(0.0002)
}
for (const level of ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL']) {
  for (const category of ['fraud', 'compliance']) {
    metrics.risk.alerts.labels(level, category).inc()
    metrics.risk.merchantsByLevel.labels(level, category).set(10)
  }
}
let body = ''
const s0 = performance.now()
const scrapes = 200
for (let i = 0; i < scrapes; i++) body = await metrics.registry.metrics()
const scrapeMs = (performance.now() - s0) / scrapes
const series = body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length

console.log(
  JSON.stringify({
    partSize: PART,
    events: parts * PART,
    instrumentationNsPerEvent: Number(perEventNs.toFixed(1)),
    instrumentationEventsPerSecond: Math.round(1e9 / perEventNs),
    scrapeMs: Number(scrapeMs.toFixed(2)),
    scrapeBytes: body.length,
    series,
  }),
)
