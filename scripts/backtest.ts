/**
 * `npm run backtest -- (--population A [--population B ...] [--days N] [--merchants N] [--late L]
 *    | --events events.jsonl[.gz] --labels labels.json
 *    | --topic <transactions topic> [--merchant-events-topic <t>] [--brokers host:port,...]
 *      [--from <offset|ISO time>] [--to <offset|ISO time>] --labels labels.json)
 *    [--config rules.json] [--compare other.json] [--top-k 50] [--json out.json] [--no-store]`
 *
 * Replays a labelled stream through the rule engines and the scoring model in process (backtest/) and
 * prints precision, recall, top-k precision and alerts per day, per rule and overall, with --compare
 * for two configurations side by side, then issue 13's acceptance figures (recall, precision of the top
 * 100 by fraud score, legitimate and look-alike merchants flagged, the queue day by day) for every
 * population and configuration side by side. The stream is simulated in process for each --population
 * (simulator/population.ts; --days and --merchants override the presets, --late their late delivery),
 * or a file written by `npm run simulate`, or a range of Kafka topics (backtest/topic.ts). Peers and
 * baselines come from a temporary chDB store the events are loaded into, refreshed at every local day
 * boundary; --no-store skips it (absolute thresholds only). RULES_MIN_COHORT and
 * RULES_ALLOWED_LATENESS_MS are read from the environment like the service does.
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { codecFor, toolKafka } from '../app/clients.ts'
import { localDateOf, type MerchantResult } from '../backtest/metrics.ts'
import { compareQueues, readServiceQueue } from '../backtest/queue.ts'
import { type AcceptanceColumn, formatAcceptance, formatReport } from '../backtest/report.ts'
import { type BacktestResult, readLabels, runBacktest } from '../backtest/run.ts'
import { parseBound, type RangeBound, readTopicRange, type TopicReadStats } from '../backtest/topic.ts'
import { loadConfig } from '../config/load.ts'
import { createLogger } from '../lib/logger.ts'
import { loadRulesConfig, type RulesConfig } from '../rules/engine/config.ts'
import { ENTITY_RULES } from '../rules/entity/index.ts'
import { RULES } from '../rules/index.ts'
import { HistorySimulator, type SimEvent } from '../simulator/history.ts'
import type { LabelsFile } from '../simulator/labels.ts'
import { DEFAULT_LATE, deliverLate, parseLate } from '../simulator/late.ts'
import { POPULATIONS, type PopulationSpec, population } from '../simulator/population.ts'
import { readEventsFile } from '../simulator/stream.ts'

const usage = `usage: npm run backtest -- (--population ${Object.keys(POPULATIONS).join('|')} [--population ...] [--days N] [--merchants N] [--late L]
    | --events events.jsonl[.gz] --labels labels.json
    | --topic <transactions topic> [--merchant-events-topic <topic>] [--brokers host:port,...]
      [--from <offset|ISO time>] [--to <offset|ISO time>] --labels labels.json)
    [--config rules.json] [--compare other.json] [--top-k 50] [--json out.json] [--no-store]

  --population   simulate this population in process (repeat for several, reported side by side)
  --days, --merchants, --late   override the populations' measured days, size and late delivery
  --events       a file written by npm run simulate       --labels   its labels file
  --topic        replay a range of Kafka topics instead
  --config       the rules file to measure (default: every default)
  --compare      a second rules file, measured on the same pass
  --top-k        k of the per-rule precision at k        --json     write every figure here
  --no-store     no chDB store: no peers or baselines (absolute thresholds only)
  --trace M      print every hit and score change of merchant M as it happens (repeatable)
  --service-queue URL   also read the running service's queue over its API (key in API_KEY) and
                 compare it with the backtest's queue at the end of the stream (one source only)`

function fail(message: string): never {
  process.stderr.write(`${message}\n${usage}\n`)
  process.exit(2)
}

function parse() {
  return parseArgs({
    options: {
      help: { type: 'boolean', short: 'h', default: false },
      population: { type: 'string', multiple: true },
      days: { type: 'string' },
      merchants: { type: 'string' },
      late: { type: 'string', default: DEFAULT_LATE },
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
      trace: { type: 'string', multiple: true },
      'service-queue': { type: 'string' },
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
if (values.help) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}
const populations = values.population ?? []
const given = [populations.length > 0, values.events !== undefined, values.topic !== undefined]
if (given.filter(Boolean).length !== 1) fail('give one of --population, --events FILE or --topic NAME')
if (populations.length === 0 && values.labels === undefined)
  fail('--labels is required with --events and --topic')
if (populations.length > 0 && values.labels !== undefined) fail('--labels goes with --events or --topic')
if (
  values.topic === undefined &&
  [values['merchant-events-topic'], values.brokers, values.from, values.to].some((v) => v !== undefined)
)
  fail('--merchant-events-topic, --brokers, --from and --to go with --topic')
if (populations.length === 0 && [values.days, values.merchants].some((v) => v !== undefined))
  fail('--days and --merchants go with --population')
if (values['service-queue'] !== undefined && (populations.length > 1 || process.env.API_KEY === undefined))
  fail('--service-queue compares one stream, with the API key in API_KEY')
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

/** One stream to replay: a simulated population, a file or a topic range, with its labels. */
interface Source {
  name: string
  labels: LabelsFile
  events: AsyncIterable<SimEvent> | Iterable<SimEvent>
  stats: TopicReadStats
}
const late = attempt(() => parseLate(values.late))
const overrides: Partial<PopulationSpec> = {}
const positive = (name: string, text: string, min: number) => {
  const n = Number(text)
  if (!Number.isInteger(n) || n < min) fail(`--${name}: expected an integer >= ${min}`)
  return n
}
if (values.days !== undefined) overrides.days = positive('days', values.days, 1)
if (values.merchants !== undefined) overrides.merchants = positive('merchants', values.merchants, 300)

const sources: Source[] = []
const emptyStats = (): TopicReadStats => ({ read: 0, rejected: 0, problems: [], ranges: [] })
for (const name of populations) {
  const spec = attempt(() => population(name, overrides))
  const sim = attempt(() => new HistorySimulator(spec))
  sources.push({
    name,
    labels: sim.labels,
    events: deliverLate(sim.events(), late, spec.seed),
    stats: emptyStats(),
  })
}
if (values.events !== undefined) {
  const stats = emptyStats()
  const labels = attempt(() => readLabels(values.labels ?? ''))
  sources.push({
    name: labels.population ?? 'file',
    labels,
    events: readEventsFile(values.events, stats),
    stats,
  })
} else if (values.topic !== undefined) {
  const stats = emptyStats()
  const labels = attempt(() => readLabels(values.labels ?? ''))
  const brokers = values.brokers?.split(',').map((b) => b.trim())
  if (brokers?.some((b) => !/^[^:\s]+:\d+$/.test(b))) fail('--brokers: expected host:port[,host:port...]')
  const config = brokers === undefined ? service : { ...service, kafka: { ...service.kafka, brokers } }
  const kafka = toolKafka(config, createLogger(process.env.LOG_LEVEL ?? 'warn', process.stderr))
  const topic = values.topic ?? ''
  const lifecycle = values['merchant-events-topic'] ?? service.topics.merchantEvents
  const events = readTopicRange(
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
  sources.push({ name: labels.population ?? 'topic', labels, events, stats })
}

const columns: AcceptanceColumn[] = []
/** The last source's merchants under the first configuration, for --service-queue. */
let lastMerchants: MerchantResult[] = []
const json: object[] = []
for (const source of sources) {
  const { labels, stats } = source
  const began = Date.now()
  let result: BacktestResult
  try {
    result = await runBacktest({
      labels,
      events: source.events,
      configs,
      topK,
      withStore: !values['no-store'],
      minCohort: service.rules.minCohort,
      allowedLatenessMs: service.rules.allowedLatenessMs,
      ...(values.trace === undefined
        ? {}
        : {
            trace: {
              merchants: new Set(values.trace),
              onTrace: (line: string) => process.stderr.write(`  trace ${line}\n`),
            },
          }),
      progress: (localDay, events) => {
        const s = (Date.now() - began) / 1000
        const day = `${localDateOf(localDay)}${localDay * 86_400_000 < labels.start ? ' (history)' : ''}`
        process.stderr.write(
          `  ${source.name}: day ${day} replayed, ${events.toLocaleString('en')} events, ${Math.round(events / s).toLocaleString('en')}/s\n`,
        )
      },
    })
  } catch (e) {
    // Kafka and topic faults (a missing topic, an unreachable broker) end the run with their reason.
    process.stderr.write(`backtest failed: ${e instanceof Error ? e.message : String(e)}\n`)
    process.exit(1)
  }

  process.stdout.write(`\n## ${source.name} (seed ${labels.seed})\n\n`)
  for (const c of configs)
    process.stdout.write(
      `${c.name}: ${values[c.name === 'B' ? 'compare' : 'config'] ?? 'defaults'} (config hash ${c.config.hash})\n`,
    )
  process.stdout.write(formatReport(result.metrics.map((m) => ({ name: m.name, metrics: m.metrics }))))
  lastMerchants = result.metrics[0]?.merchants ?? []
  for (const m of result.metrics)
    columns.push({
      name: configs.length > 1 ? `${source.name} ${m.name}` : source.name,
      acceptance: m.acceptance,
      queue: m.queue,
    })
  const r = result.replay
  process.stderr.write(
    `${source.name}: ${r.events.toLocaleString('en')} events (${r.transactions.toLocaleString('en')} transactions) over ${r.days} days in ${result.seconds.toFixed(1)} s; ` +
      `${stats.rejected} rejected${stats.problems.length > 0 ? ` (${stats.problems.join('; ')})` : ''}; ` +
      (values.topic === undefined
        ? ''
        : `read ${stats.read.toLocaleString('en')} records of ${stats.ranges.length} partitions (${stats.ranges.map((p) => `${p.topic}[${p.partition}] ${p.start}-${p.end}`).join(', ')}); `) +
      `baselines refreshed ${r.baselineRefreshes} times${values['no-store'] ? ' (no store: absolute thresholds only)' : ' from chDB'}\n`,
  )
  json.push({
    source: source.name,
    events: values.events ?? null,
    topic: values.topic === undefined ? null : { records: stats.read, ranges: stats.ranges },
    labels: values.labels ?? null,
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
      acceptance: m.acceptance,
      queue: m.queue,
      ...m.metrics,
      // The queue at the end (decayed levels), to compare with the service's over the API.
      endQueue: m.merchants
        .filter((r) =>
          [r.end_fraud, r.end_compliance].some((l) => l === 'MEDIUM' || l === 'HIGH' || l === 'CRITICAL'),
        )
        .map((r) => ({
          acquirer_id: r.acquirer_id,
          merchant_id: r.merchant_id,
          fraud: r.end_fraud,
          compliance: r.end_compliance,
        })),
    })),
  })
}

process.stdout.write(`\n## Acceptance (issue 13), side by side\n\n${formatAcceptance(columns)}`)
const serviceUrl = values['service-queue']
if (serviceUrl !== undefined) {
  const queue = await readServiceQueue(serviceUrl, process.env.API_KEY ?? '')
  const labels = sources[0]?.labels.merchants ?? []
  const agreement = compareQueues(queue, lastMerchants)
  const kind = new Map(labels.map((l) => [`${l.acquirer_id}/${l.merchant_id}`, l]))
  const count = (pred: (label: string, scenario: string, category: string) => boolean) =>
    new Set(
      queue
        .filter((e) => {
          const l = kind.get(`${e.acquirer_id}/${e.merchant_id}`)
          return l !== undefined && pred(l.label, l.scenario, e.category)
        })
        .map((e) => e.merchant_id),
    ).size
  const of = (label: string) => labels.filter((l) => l.label === label).length
  const cashOut = labels.filter((l) => l.label === 'fraud' && l.scenario !== 'card_testing').length
  process.stdout.write(
    `\n## The service's queue (GET /v1/queue at ${serviceUrl})\n\n` +
      `${queue.length} rows at MEDIUM or above. Against the backtest's queue at the end of the stream: ` +
      `${agreement.both} merchant-category pairs in both (${agreement.sameLevel} at the same level), ` +
      `${agreement.serviceOnly.length} in the service's only [${agreement.serviceOnly.join(', ')}], ` +
      `${agreement.backtestOnly.length} in the backtest's only [${agreement.backtestOnly.join(', ')}].\n` +
      `In the service's queue: cash-out at fraud ${count((l, s, c) => l === 'fraud' && s !== 'card_testing' && c === 'fraud')}/${cashOut}, ` +
      `compliance ${count((l, _s, c) => l === 'compliance' && c === 'compliance')}/${of('compliance')}, ` +
      `legitimate ${count((l) => l === 'legit')}/${of('legit')}, look-alikes ${count((l) => l === 'lookalike')}/${of('lookalike')}.\n`,
  )
}
if (values.json !== undefined)
  writeFileSync(values.json, `${JSON.stringify(json.length === 1 ? json[0] : { runs: json }, null, 1)}\n`)
