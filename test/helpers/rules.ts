import { QUANTILE_GRID } from '../../rules/engine/calibration.ts'
import type { Calibration } from '../../rules/engine/engine.ts'
import { compileRule, type HitUpdate, RuleEngine } from '../../rules/engine/engine.ts'
import { defaults, type ParamSpecs, type ParamValues } from '../../rules/engine/params.ts'
import type {
  Distribution,
  Finding,
  MerchantBaseline,
  PeerStats,
  RuleDefinition,
} from '../../rules/engine/types.ts'
import type { MerchantEvent, TerminalTransaction } from '../../schemas/types.generated.ts'
import { sampleTxn } from './events.ts'

/** An event for the engine, or `reload`: new parameter values from here on (a SIGHUP's reconfigure). */
export type Event =
  | { txn: TerminalTransaction }
  | { merchant: MerchantEvent }
  | { reload: Readonly<Record<string, unknown>> }

export interface RunOptions<PS extends ParamSpecs> {
  params?: Partial<ParamValues<PS>>
  /** The merchant's cohort; none by default. */
  peers?: PeerStats | null
  /**
   * The acquirer's population: an unremarkable one of 400 merchants over 30 days by default (so that a
   * cohort given in `peers` is used); null for a new deployment without one.
   */
  population?: PeerStats | null
  calibration?: Calibration
  baseline?: MerchantBaseline | null
  timeZone?: string
  allowedLatenessMs?: number
}

export interface RunResult {
  /** Every hit update the engine emitted, in order. */
  hits: HitUpdate[]
  /** The finding of the last hit update, or null when the rule never fired. */
  last: Finding | null
  engine: RuleEngine
}

/** Runs one rule through the real engine over a sequence of events (a table-driven rule test). */
export function runRule<PS extends ParamSpecs, S extends object>(
  rule: RuleDefinition<PS, S>,
  events: readonly (TerminalTransaction | Event)[],
  opts: RunOptions<PS> = {},
): RunResult {
  const params: ParamValues<PS> = { ...defaults(rule.params), ...opts.params }
  const engine = new RuleEngine({
    rules: [compileRule(rule, () => params)],
    timeZoneOf: () => opts.timeZone ?? '+08:00',
    allowedLatenessMs: opts.allowedLatenessMs ?? 3_600_000,
    isWhitelisted: () => false,
    configHash: 'test',
    peersOf: () => ({
      cohort: opts.peers ?? null,
      population: opts.population === undefined ? measures({}, 400) : opts.population,
    }),
    ...(opts.calibration === undefined ? {} : { calibration: opts.calibration }),
    baselineOf: () => opts.baseline ?? null,
  })
  const hits: HitUpdate[] = []
  for (const e of events) {
    if ('txn' in e) hits.push(...engine.onTransaction(e.txn))
    else if ('merchant' in e) hits.push(...engine.onMerchantEvent(e.merchant))
    else if ('reload' in e) {
      Object.assign(params, e.reload)
      // As a reload does: a new parameter generation, so every merchant resolves its parameters again.
      engine.reconfigure({ layersOf: () => undefined })
    } else hits.push(...engine.onTransaction(e))
  }
  return { hits, last: hits.at(-1)?.finding ?? null, engine }
}

let seq = 0

/** A transaction of merchant `mer-42` at `at` (UTC ms); override any field. */
export function tx(at: number, overrides: Partial<TerminalTransaction> = {}): TerminalTransaction {
  seq++
  return sampleTxn({ txn_id: `t${seq}`, event_time: at, ...overrides })
}

/** UTC ms of a local (UTC+8) date and time, for readable test timelines. */
export function local(date: string, time = '12:00'): number {
  return Date.parse(`${date}T${time}:00+08:00`)
}

/**
 * The distribution of `values` (one per merchant) as the baselines publish it: its quantiles at
 * QUANTILE_GRID (nearest rank, like ClickHouse's quantileExact), over `days` days of data.
 */
export function dist(values: readonly number[], days = 30): Distribution {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
  return { n: sorted.length, days, q: QUANTILE_GRID.map(at) }
}

/** `n` values spread evenly from `low` to `high`: a cohort whose members range over that interval. */
export function range(low: number, high: number, n = 50): number[] {
  return Array.from({ length: n }, (_, i) => low + ((high - low) * i) / Math.max(1, n - 1))
}

/** Measures of `n` unremarkable shops over 30 days; override the measure a test is about. */
export function measures(overrides: Partial<PeerStats> = {}, n = 50, days = 30): PeerStats {
  return {
    creditShare: dist(range(0.25, 0.55, n), days),
    avgTicket: dist(range(8_000, 40_000, n), days),
    nightShare: dist(range(0, 0.03, n), days),
    dailyVolume: dist(range(200_000, 1_000_000, n), days),
    roundShare: dist(range(0, 0.1, n), days),
    wholeUnitShare: dist(range(0.05, 0.2, n), days),
    topBinShare: dist(range(0.05, 0.2, n), days),
    ...overrides,
  }
}

/** Peers with unremarkable values; override the measure a test is about. */
export function peers(overrides: Partial<PeerStats> = {}): PeerStats {
  return measures(overrides)
}
