import { compileRule, type HitUpdate, RuleEngine } from '../../rules/engine/engine.ts'
import { defaults, type ParamSpecs, type ParamValues } from '../../rules/engine/params.ts'
import type {
  Finding,
  MerchantBaseline,
  PeerStats,
  RuleDefinition,
  Spread,
} from '../../rules/engine/types.ts'
import type { MerchantEvent, TerminalTransaction } from '../../schemas/types.generated.ts'
import { sampleTxn } from './events.ts'

export type Event = { txn: TerminalTransaction } | { merchant: MerchantEvent }

export interface RunOptions<PS extends ParamSpecs> {
  params?: Partial<ParamValues<PS>>
  peers?: PeerStats | null
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
export function runRule<PS extends ParamSpecs, S>(
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
    peersOf: () => opts.peers ?? null,
    baselineOf: () => opts.baseline ?? null,
  })
  const hits: HitUpdate[] = []
  for (const e of events) {
    if ('txn' in e) hits.push(...engine.onTransaction(e.txn))
    else if ('merchant' in e) hits.push(...engine.onMerchantEvent(e.merchant))
    else hits.push(...engine.onTransaction(e))
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

export function spread(median: number, mad: number, n = 50): Spread {
  return { median, mad, n }
}

/** Peers with unremarkable values; override the measure a test is about. */
export function peers(overrides: Partial<PeerStats> = {}): PeerStats {
  return {
    creditShare: spread(0.4, 0.1),
    avgTicket: spread(20_000, 8_000),
    nightShare: spread(0.02, 0.02),
    dailyVolume: spread(500_000, 200_000),
    roundShare: spread(0.05, 0.05),
    wholeUnitShare: spread(0.1, 0.05),
    ...overrides,
  }
}
