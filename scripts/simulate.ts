/**
 * `npm run simulate -- [--population A|B] [--seed N] [--days N] [--history-days N] [--merchants N]
 *    [--start YYYY-MM-DD] [--late 0.015@1m-30m,0.003@1h-24h] (--out events.jsonl[.gz] | --kafka
 *    [--rate R | --as-fast-as-possible]) [--labels labels.json]`
 * `npm run simulate -- --events events.jsonl[.gz] --kafka [--rate R | --as-fast-as-possible]`
 *
 * Generates a labelled history (simulator/history.ts) of one population (simulator/population.ts: A,
 * the reference month, or B, deliberately unlike it): legitimate merchants, cash-out merchants using
 * the evasion playbook, compliance breaches and the legitimate look-alikes. Writes the events as JSON
 * lines in event-time order, or produces them to the service's topics as framed Avro (configuration
 * from the environment as `npm start` reads it; the local broker when KAFKA_BROKERS is unset). The
 * labels (one per merchant) go to --labels. Progress goes to stderr. --seed, --merchants, --days,
 * --history-days and --start override the preset; --history-days (0 by default: a new deployment's
 * empty store) adds traffic before --start that a backtest replays without measuring. --late delivers a
 * seeded share of the transactions late (simulator/late.ts), in the file and on the topics alike.
 * --events produces a file of events instead (one of simulator/independent/'s months, say), in its
 * order, each event as ingest validates it: the running service scores what a backtest of the file does.
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { codecFor, toolKafka } from '../app/clients.ts'
import { loadConfig } from '../config/load.ts'
import { ensureTopics } from '../kafka/topics.ts'
import { createLogger } from '../lib/logger.ts'
import { HistorySimulator } from '../simulator/history.ts'
import { DEFAULT_LATE, deliverLate, type LateClass, parseLate } from '../simulator/late.ts'
import { POPULATIONS, type PopulationSpec, population } from '../simulator/population.ts'
import {
  type Progress,
  produceEvents,
  type ReadStats,
  readEventsFile,
  writeEventsFile,
} from '../simulator/stream.ts'

const usage = `usage: npm run simulate -- [--population ${Object.keys(POPULATIONS).join('|')}] [--seed N] [--days N] [--history-days N]
    [--merchants N] [--start YYYY-MM-DD] [--late ${DEFAULT_LATE} | --late 0]
    (--out events.jsonl[.gz] | --kafka [--rate R | --as-fast-as-possible]) [--labels labels.json]
       npm run simulate -- --events events.jsonl[.gz] --kafka [--rate R | --as-fast-as-possible]

  --population      the preset (default A); the options below override its values
  --seed            seed of every draw                      --merchants  merchants (at least 300)
  --days            measured days from --start              --start      first measured local day (UTC+8)
  --history-days    days of traffic before --start (default 0: the store starts empty)
  --late            late delivery classes, share@min-max, or 0 for none
  --out FILE        JSON lines (.gz compresses)             --kafka      produce to the service's topics
  --rate R          events per second when producing        --labels     write the labels file here
  --events FILE     produce this file's events (as written by --out) instead of simulating`

function fail(message: string): never {
  process.stderr.write(`${message}\n${usage}\n`)
  process.exit(2)
}

function parse() {
  return parseArgs({
    options: {
      help: { type: 'boolean', short: 'h', default: false },
      population: { type: 'string', default: 'A' },
      seed: { type: 'string' },
      days: { type: 'string' },
      'history-days': { type: 'string' },
      merchants: { type: 'string' },
      start: { type: 'string' },
      late: { type: 'string', default: DEFAULT_LATE },
      out: { type: 'string' },
      labels: { type: 'string' },
      kafka: { type: 'boolean', default: false },
      rate: { type: 'string' },
      'as-fast-as-possible': { type: 'boolean', default: false },
      events: { type: 'string' },
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
const int = (name: string, text: string, min: number, max: number): number => {
  const n = Number(text)
  if (!Number.isInteger(n) || n < min || n > max) fail(`--${name}: expected an integer in [${min}, ${max}]`)
  return n
}
const overrides: Partial<PopulationSpec> = {}
if (values.seed !== undefined) overrides.seed = int('seed', values.seed, 0, 2 ** 31 - 1)
if (values.days !== undefined) overrides.days = int('days', values.days, 1, 400)
if (values['history-days'] !== undefined)
  overrides.historyDays = int('history-days', values['history-days'], 0, 400)
if (values.merchants !== undefined) overrides.merchants = int('merchants', values.merchants, 300, 1_000_000)
if (values.start !== undefined) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(values.start)) fail('--start: expected YYYY-MM-DD')
  const start = Date.parse(`${values.start}T00:00:00+08:00`)
  if (!Number.isFinite(start)) fail('--start: not a date')
  overrides.start = start
}
if ((values.out === undefined) === !values.kafka) fail('give either --out FILE or --kafka')
if (values.events !== undefined && values.labels !== undefined)
  fail('--labels: a file of events has its labels already')
if (values.rate !== undefined && values['as-fast-as-possible'])
  fail('--rate and --as-fast-as-possible exclude each other')
const rate = values.rate === undefined ? null : int('rate', values.rate, 1, 10_000_000)
if (!values.kafka && (rate !== null || values['as-fast-as-possible']))
  fail('--rate and --as-fast-as-possible go with --kafka')

let spec: PopulationSpec
try {
  spec = population(values.population, overrides)
} catch (e) {
  fail(e instanceof Error ? e.message : String(e))
}
const { seed, merchants, days, historyDays, start } = spec

let late: LateClass[]
try {
  late = parseLate(values.late)
} catch (e) {
  fail(e instanceof Error ? e.message : String(e))
}

let sim: HistorySimulator
try {
  sim = new HistorySimulator(spec)
} catch (e) {
  fail(e instanceof Error ? e.message : String(e))
}
if (values.labels !== undefined) writeFileSync(values.labels, `${JSON.stringify(sim.labels, null, 1)}\n`)

const began = Date.now()
let lastReport = 0
const progress: Progress = (done, eventTime) => {
  const t = Date.now()
  if (t - lastReport < 2000) return
  lastReport = t
  const day = Math.floor((eventTime - start) / 86_400_000) + 1 + historyDays
  const perSecond = Math.round(done / ((t - began) / 1000))
  // A file's days are its own, not the preset's.
  const where =
    values.events === undefined
      ? `day ${Math.max(0, day)} of ${historyDays + days}`
      : new Date(eventTime).toISOString().slice(0, 10)
  process.stderr.write(
    `  ${done.toLocaleString('en')} events, ${where}, ${perSecond.toLocaleString('en')}/s\n`,
  )
}

let written: number
if (values.out !== undefined) {
  written = await writeEventsFile(values.out, deliverLate(sim.events(), late, seed), progress)
} else {
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig({ env: process.env })
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e))
  }
  const log = createLogger(process.env.LOG_LEVEL ?? 'warn', process.stderr)
  const kafka = toolKafka(config, log)
  const codec = codecFor(config)
  const topics = { transactions: config.topics.transactions, merchantEvents: config.topics.merchantEvents }
  await ensureTopics(kafka, [topics.transactions, topics.merchantEvents], {
    partitions: config.kafka.topicPartitions,
    replicationFactor: config.kafka.replicationFactor,
  })
  const stats: ReadStats = { read: 0, rejected: 0, problems: [] }
  const events =
    values.events === undefined ? deliverLate(sim.events(), late, seed) : readEventsFile(values.events, stats)
  written = await produceEvents(kafka, codec, events, { topics, ratePerSecond: rate, progress })
  if (values.events !== undefined) {
    process.stderr.write(
      `${written.toLocaleString('en')} events of ${values.events} produced in ${((Date.now() - began) / 1000).toFixed(1)} s; ${stats.rejected} lines not valid${stats.problems.length > 0 ? ` (${stats.problems.join('; ')})` : ''}\n`,
    )
    process.exit(0)
  }
}
const counts = new Map<string, number>()
for (const l of sim.labels.merchants) counts.set(l.label, (counts.get(l.label) ?? 0) + 1)
process.stderr.write(
  `${written.toLocaleString('en')} events of ${merchants} merchants over ${historyDays} + ${days} days in ${((Date.now() - began) / 1000).toFixed(1)} s (${[...counts].map(([k, v]) => `${v} ${k}`).join(', ')})\n`,
)
