/**
 * `npm run backtest -- (--events events.jsonl[.gz] | --topic <transactions topic> [--merchant-events-topic <t>]
 *    [--brokers host:port,...] [--from <offset|ISO time>] [--to <offset|ISO time>]) --labels labels.json
 *    [--config rules.json] [--compare other.json] [--top-k 50] [--json out.json] [--no-store]`
 *
 * Replays a labelled stream through the rule engines and the scoring model in process (backtest/) and
 * prints precision, recall, top-k precision and alerts per day, per rule and overall, with --compare
 * for two configurations side by side. The stream is a file written by `npm run simulate`, or a range
 * of Kafka topics (backtest/topic.ts: every partition from --from to --to, at most to its high-water
 * mark at start; without --brokers the configured KAFKA_BROKERS, or the local broker). Peers and
 * baselines come from a temporary chDB store the events are loaded into, refreshed at every local day
 * boundary; --no-store skips it (absolute thresholds only). RULES_MIN_COHORT and
 * RULES_ALLOWED_LATENESS_MS are read from the environment like the service does.
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { codecFor, toolKafka } from '../app/clients.ts'
import { formatReport } from '../backtest/report.ts'
import { type BacktestResult, readLabels, runBacktest } from '../backtest/run.ts'
import { parseBound, type RangeBound, readTopicRange, type TopicReadStats } from '../backtest/topic.ts'
import { loadConfig } from '../config/load.ts'
import { createLogger } from '../lib/logger.ts'
import { loadRulesConfig, type RulesConfig } from '../rules/engine/config.ts'
import { ENTITY_RULES } from '../rules/entity/index.ts'
import { RULES } from '../rules/index.ts'
import type { SimEvent } from '../simulator/history.ts'
import { readEventsFile } from '../simulator/stream.ts'

const usage = `usage: npm run backtest -- (--events events.jsonl[.gz] | --topic <transactions topic>
    [--merchant-events-topic <topic>] [--brokers host:port,...] [--from <offset|ISO time>] [--to <offset|ISO time>])
    --labels labels.json [--config rules.json] [--compare other.json] [--top-k 50] [--json out.json] [--no-store]`

function fail(message: string): never {
  process.stderr.write(`${message}\n${usage}\n`)
  process.exit(2)
}

function parse() {
  return parseArgs({
    options: {
      events: { type: 'string' },
      topic: { type: 'string' },
      'merchant-events-topic': { type: 'string' },
      brokers: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      labels: { type: 'string' },
      config: { type: 'string' },
      compare: { type: 'string' },
      'top-k': { type: 'string', default: '50' },
      json: { type: 'string' },
      'no-store': { type: 'boolean', default: false },
    },
  })
}
let parsed: ReturnType<typeof parse>
try {
  parsed = parse()
} catch (e) {
  fail(e instanceof Error ? e.message : String(e))
}
const { values } = parsed
if (values.labels === undefined) fail('--labels is required')
if ((values.events === undefined) === (values.topic === undefined))
  fail('give either --events FILE or --topic NAME')
if (
  values.events !== undefined &&
  [values['merchant-events-topic'], values.brokers, values.from, values.to].some((v) => v !== undefined)
)
  fail('--merchant-events-topic, --brokers, --from and --to go with --topic')
const topK = Number(values['top-k'])
if (!Number.isInteger(topK) || topK < 1) fail('--top-k: expected a positive integer')

const attempt = <T>(f: () => T): T => {
  try {
    return f()
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e))
  }
}
const service = attempt(() => loadConfig({ env: process.env }))
const labels = attempt(() => readLabels(values.labels ?? ''))
const configs: { name: string; config: RulesConfig }[] = [
  {
    name: values.config === undefined ? 'default' : 'A',
    config: attempt(() => loadRulesConfig(values.config ?? null, RULES, ENTITY_RULES)),
  },
]
if (values.compare !== undefined) {
  configs.push({
    name: 'B',
    config: attempt(() => loadRulesConfig(values.compare ?? null, RULES, ENTITY_RULES)),
  })
  if (configs[0]?.name === 'default') configs[0].name = 'A'
}

const bound = (name: 'from' | 'to'): RangeBound | null => {
  const text = values[name]
  return text === undefined ? null : attempt(() => parseBound(text))
}
const stats: TopicReadStats = { read: 0, rejected: 0, problems: [], ranges: [] }
let events: AsyncIterable<SimEvent>
if (values.events !== undefined) events = readEventsFile(values.events, stats)
else {
  const brokers = values.brokers?.split(',').map((b) => b.trim())
  if (brokers?.some((b) => !/^[^:\s]+:\d+$/.test(b))) fail('--brokers: expected host:port[,host:port...]')
  const config = brokers === undefined ? service : { ...service, kafka: { ...service.kafka, brokers } }
  const kafka = toolKafka(config, createLogger(process.env.LOG_LEVEL ?? 'warn', process.stderr))
  const topic = values.topic ?? ''
  const lifecycle = values['merchant-events-topic'] ?? service.topics.merchantEvents
  events = readTopicRange(
    kafka,
    codecFor(service),
    {
      transactions: topic,
      merchantEvents: lifecycle === '' ? null : lifecycle,
      from: bound('from'),
      to: bound('to'),
    },
    stats,
  )
}
const began = Date.now()
let result: BacktestResult
try {
  result = await runBacktest({
    labels,
    events,
    configs,
    topK,
    withStore: !values['no-store'],
    minCohort: service.rules.minCohort,
    allowedLatenessMs: service.rules.allowedLatenessMs,
    progress: (localDay, events) => {
      const s = (Date.now() - began) / 1000
      const day = `${new Date(localDay * 86_400_000).toISOString().slice(0, 10)}${localDay * 86_400_000 < labels.start ? ' (history)' : ''}`
      process.stderr.write(
        `  day ${day} replayed, ${events.toLocaleString('en')} events, ${Math.round(events / s).toLocaleString('en')}/s\n`,
      )
    },
  })
} catch (e) {
  // Kafka and topic faults (a missing topic, an unreachable broker) end the run with their reason.
  process.stderr.write(`backtest failed: ${e instanceof Error ? e.message : String(e)}\n`)
  process.exit(1)
}

for (const c of configs)
  process.stdout.write(
    `${c.name}: ${values[c.name === 'B' ? 'compare' : 'config'] ?? 'defaults'} (config hash ${c.config.hash})\n`,
  )
process.stdout.write(formatReport(result.metrics.map((m) => ({ name: m.name, metrics: m.metrics }))))
const r = result.replay
process.stderr.write(
  `${r.events.toLocaleString('en')} events (${r.transactions.toLocaleString('en')} transactions) over ${r.days} days in ${result.seconds.toFixed(1)} s; ` +
    `${stats.rejected} rejected${stats.problems.length > 0 ? ` (${stats.problems.join('; ')})` : ''}; ` +
    (values.topic === undefined
      ? ''
      : `read ${stats.read.toLocaleString('en')} records of ${stats.ranges.length} partitions (${stats.ranges.map((p) => `${p.topic}[${p.partition}] ${p.start}-${p.end}`).join(', ')}); `) +
    `baselines refreshed ${r.baselineRefreshes} times${values['no-store'] ? ' (no store: absolute thresholds only)' : ' from chDB'}\n`,
)
if (values.json !== undefined) {
  const out = {
    events: values.events ?? null,
    topic:
      values.topic === undefined
        ? null
        : {
            records: stats.read,
            ranges: stats.ranges,
          },
    labels: values.labels,
    seed: labels.seed,
    replay: {
      events: r.events,
      transactions: r.transactions,
      days: r.days,
      rejected: stats.rejected,
      seconds: result.seconds,
      peers: values['no-store'] ? 'none' : 'chdb-daily',
    },
    configs: result.metrics.map((m) => ({
      name: m.name,
      hash: m.hash,
      alerts: m.alerts,
      hitUpdates: m.hitUpdates,
      ...m.metrics,
    })),
  }
  writeFileSync(values.json, `${JSON.stringify(out, null, 1)}\n`)
}
