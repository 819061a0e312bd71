/**
 * `npm run backtest -- --events events.jsonl[.gz] --labels labels.json [--config rules.json]
 *    [--compare other.json] [--top-k 50] [--json out.json] [--no-store]`
 *
 * Replays a labelled stream through the rule engines and the scoring model in process (backtest/) and
 * prints precision, recall, top-k precision and alerts per day, per rule and overall, with --compare
 * for two configurations side by side. Peers and baselines come from a temporary chDB store the events
 * are loaded into, refreshed at every local day boundary; --no-store skips it (absolute thresholds only).
 * RULES_MIN_COHORT and RULES_ALLOWED_LATENESS_MS are read from the environment like the service does.
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { formatReport } from '../backtest/report.ts'
import { readLabels, runBacktest } from '../backtest/run.ts'
import { loadConfig } from '../config/load.ts'
import { loadRulesConfig, type RulesConfig } from '../rules/engine/config.ts'
import { ENTITY_RULES } from '../rules/entity/index.ts'
import { RULES } from '../rules/index.ts'
import { type ReadStats, readEventsFile } from '../simulator/stream.ts'

const usage = `usage: npm run backtest -- --events events.jsonl[.gz] --labels labels.json [--config rules.json]
    [--compare other.json] [--top-k 50] [--json out.json] [--no-store]`

function fail(message: string): never {
  process.stderr.write(`${message}\n${usage}\n`)
  process.exit(2)
}

function parse() {
  return parseArgs({
    options: {
      events: { type: 'string' },
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
if (values.events === undefined || values.labels === undefined) fail('--events and --labels are required')
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

const stats: ReadStats = { read: 0, rejected: 0, problems: [] }
const began = Date.now()
const result = await runBacktest({
  labels,
  events: readEventsFile(values.events, stats),
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

for (const c of configs)
  process.stdout.write(
    `${c.name}: ${values[c.name === 'B' ? 'compare' : 'config'] ?? 'defaults'} (config hash ${c.config.hash})\n`,
  )
process.stdout.write(formatReport(result.metrics.map((m) => ({ name: m.name, metrics: m.metrics }))))
const r = result.replay
process.stderr.write(
  `${r.events.toLocaleString('en')} events (${r.transactions.toLocaleString('en')} transactions) over ${r.days} days in ${result.seconds.toFixed(1)} s; ` +
    `${stats.rejected} rejected${stats.problems.length > 0 ? ` (${stats.problems.join('; ')})` : ''}; ` +
    `baselines refreshed ${r.baselineRefreshes} times${values['no-store'] ? ' (no store: absolute thresholds only)' : ' from chDB'}\n`,
)
if (values.json !== undefined) {
  const out = {
    events: values.events,
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
