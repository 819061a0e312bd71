/**
 * One backtest: the labels, a stream of events, one or more rule configurations; a temporary chDB store
 * for the peers and baselines; the replay; the metrics. Used by scripts/backtest.ts and the tests.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RiskError } from '../lib/errors.ts'
import { utcOffsetMs } from '../lib/local-time.ts'
import { createLogger } from '../lib/logger.ts'
import { Baselines } from '../rules/baselines.ts'
import type { RulesConfig } from '../rules/engine/config.ts'
import { ENTITY_RULES } from '../rules/entity/index.ts'
import { RULES } from '../rules/index.ts'
import type { SimEvent } from '../simulator/history.ts'
import type { LabelsFile, MerchantLabel } from '../simulator/labels.ts'
import { openStore } from '../store/client.ts'
import {
  type Acceptance,
  computeAcceptance,
  computeMetrics,
  type MerchantResult,
  type Metrics,
} from './metrics.ts'
import { type QueueDay, type ReplayResult, replay } from './replay.ts'

export interface BacktestOptions {
  labels: LabelsFile
  events: AsyncIterable<SimEvent> | Iterable<SimEvent>
  configs: readonly { name: string; config: RulesConfig }[]
  topK: number
  /** Load the events into a temporary chDB store for peers and baselines (as production); false: none. */
  withStore: boolean
  /** Merchants with enough sales a cohort needs before its spreads are used (RULES_MIN_COHORT). */
  minCohort: number
  allowedLatenessMs: number
  progress?: (day: number, events: number) => void
  /** Merchants whose hits and scores are told as they happen (scripts/backtest.ts --trace). */
  trace?: { merchants: ReadonlySet<string>; onTrace: (line: string) => void }
}

export interface BacktestResult {
  replay: ReplayResult
  metrics: {
    name: string
    hash: string
    metrics: Metrics
    acceptance: Acceptance
    queue: QueueDay[]
    /** What each merchant went through (merchants no rule hit are absent). */
    merchants: MerchantResult[]
    alerts: number
    hitUpdates: number
  }[]
  seconds: number
}

export async function runBacktest(opts: BacktestOptions): Promise<BacktestResult> {
  const started = performance.now()
  const tz = opts.labels.timeZone
  const dir = opts.withStore ? mkdtempSync(join(tmpdir(), 'backtest-')) : null
  const store = dir === null ? null : await openStore({ database: 'backtest', chdbPath: join(dir, 'chdb') })
  try {
    const reference =
      store === null
        ? null
        : {
            store,
            baselines: new Baselines({ store, logger: createLogger('silent'), minCohort: opts.minCohort }),
          }
    const result = await replay(opts.events, {
      configs: opts.configs,
      timeZoneOf: () => tz,
      dayOffsetMs: utcOffsetMs(opts.labels.start, tz),
      allowedLatenessMs: opts.allowedLatenessMs,
      entitySweepMs: 3_600_000,
      measureFrom: opts.labels.start,
      reference,
      ...(opts.progress === undefined ? {} : { progress: opts.progress }),
      ...(opts.trace === undefined ? {} : { trace: opts.trace }),
    })
    const ruleIds = [...RULES.map((r) => r.meta.id), ...ENTITY_RULES.map((r) => r.id)]
    return {
      replay: result,
      metrics: result.runs.map((run) => ({
        name: run.name,
        hash: run.hash,
        alerts: run.alerts,
        hitUpdates: run.hitUpdates,
        metrics: computeMetrics(opts.labels.merchants, run.merchants, {
          topK: opts.topK,
          days: result.days,
          ruleIds,
        }),
        acceptance: computeAcceptance(opts.labels.merchants, run.merchants),
        queue: run.queue,
        merchants: run.merchants,
      })),
      seconds: (performance.now() - started) / 1000,
    }
  } finally {
    await store?.close()
    if (dir !== null) rmSync(dir, { recursive: true, force: true })
  }
}

/** Reads and checks a labels file (as written by `npm run simulate -- --labels`). */
export function readLabels(path: string): LabelsFile {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    throw new RiskError(
      'RISK_ERR_CONFIG',
      `cannot read labels ${path}: ${e instanceof Error ? e.message : String(e)}`,
    )
  }
  const bad = (why: string) => new RiskError('RISK_ERR_CONFIG', `labels ${path}: ${why}`)
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('expected a JSON object')
  const o: Readonly<Record<string, unknown>> = Object.fromEntries(Object.entries(raw))
  const { seed, start, days, timeZone, merchants, population } = o
  const historyDays = o.historyDays ?? 0
  if (typeof historyDays !== 'number') throw bad('historyDays must be a number')
  if (typeof seed !== 'number' || typeof start !== 'number' || typeof days !== 'number')
    throw bad('seed, start and days must be numbers')
  if (typeof timeZone !== 'string') throw bad('timeZone must be a string')
  if (!Array.isArray(merchants)) throw bad('merchants must be a list')
  const labels: MerchantLabel[] = merchants.map((m: unknown, i) => {
    if (typeof m !== 'object' || m === null) throw bad(`merchants[${i}]: expected an object`)
    const x: Readonly<Record<string, unknown>> = Object.fromEntries(Object.entries(m))
    const label = x.label
    if (label !== 'fraud' && label !== 'compliance' && label !== 'lookalike' && label !== 'legit')
      throw bad(`merchants[${i}].label: expected fraud, compliance, lookalike or legit`)
    const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string')
    if (
      typeof x.merchant_id !== 'string' ||
      typeof x.acquirer_id !== 'string' ||
      typeof x.scenario !== 'string'
    )
      throw bad(`merchants[${i}]: merchant_id, acquirer_id and scenario must be strings`)
    const ts = x.tactics
    const expected = x.expected_rules
    // Descriptive only: a labels file from elsewhere names its own tactics (see MerchantLabel).
    if (!strings(ts) || !Array.isArray(ts)) throw bad(`merchants[${i}].tactics: expected strings`)
    if (!strings(expected) || !Array.isArray(expected))
      throw bad(`merchants[${i}].expected_rules: expected strings`)
    return {
      merchant_id: x.merchant_id,
      acquirer_id: x.acquirer_id,
      label,
      scenario: x.scenario,
      tactics: ts.map(String),
      expected_rules: expected.map(String),
    }
  })
  return {
    ...(typeof population === 'string' ? { population } : {}),
    seed,
    start,
    days,
    historyDays,
    timeZone,
    merchants: labels,
  }
}
