import type { Basis, RuleCategory } from '../../schemas/stages.ts'
import type { MerchantEvent, TerminalTransaction } from '../../schemas/types.generated.ts'
import type { ParamSpecs, ParamValues } from './params.ts'
import type { SaleDays, Samples } from './window.ts'

export type { Basis, RuleCategory }

/**
 * A transaction as rules see it: the validated event plus values the engine derives once per event,
 * so no rule computes time zones or currency exponents itself.
 */
export interface RuleTxn extends TerminalTransaction {
  /** Days since 1970-01-01 in the merchant's local time zone. */
  readonly localDay: number
  /** Hour 0–23 in the merchant's local time zone. */
  readonly localHour: number
  /** Minor units per major unit of the currency (100 for CNY, 1 for JPY). */
  readonly minorPerMajor: number
  /** Approved (response code 00). */
  readonly approved: boolean
  /** A sale: PURCHASE or PREAUTH_COMPLETION. */
  readonly sale: boolean
}

/** What the engine knows of the merchant from lifecycle events. */
export interface MerchantProfile {
  registeredMcc: string | null
  latitude: number | null
  longitude: number | null
  onboardedAt: number | null
  settlementAccount: string | null
}

/**
 * The distribution of one measure over a set of merchants (a cohort, or an acquirer's whole portfolio):
 * its quantiles at QUANTILE_GRID (rules/engine/calibration.ts), the merchants behind it and the local
 * days of data it rests on. A new deployment's first distributions rest on a day or two.
 */
export interface Distribution {
  readonly n: number
  readonly days: number
  /** Values at the levels of QUANTILE_GRID, ascending. */
  readonly q: readonly number[]
}

/**
 * The measures the relative rules compare, over 30 days, as distributions across merchants: of the
 * merchant's peers (same acquirer, registered MCC and region) or of the acquirer's whole population.
 * Refreshed periodically from ClickHouse (rules/baselines.ts). Comparing with peers is what separates
 * look-alikes from abuse: a car dealer's large credit tickets are normal among car dealers.
 */
export interface PeerStats {
  /** Credit share of approved sales amount. */
  readonly creditShare: Distribution
  /** Average ticket, minor units. */
  readonly avgTicket: Distribution
  /** Share of approved amount between 00:00 and 05:00 local. */
  readonly nightShare: Distribution
  /** Approved amount per active day, minor units. */
  readonly dailyVolume: Distribution
  /** Share of sales of 1,000 major units or more that are exact round thousands. */
  readonly roundShare: Distribution
  /** Share of sales in whole units (no minor part), in currencies that have one. */
  readonly wholeUnitShare: Distribution
  /** Share of approved amount (with a known BIN) from the merchant's largest BIN. */
  readonly topBinShare: Distribution
}

/** What the engine is given for a merchant: its cohort and its acquirer's population, either may be unknown. */
export interface References {
  readonly cohort: PeerStats | null
  readonly population: PeerStats | null
}

/** The merchant's own history, refreshed periodically from ClickHouse aggregates. */
export interface MerchantBaseline {
  /** Median approved amount per active day over the last 90 days, minor units. */
  readonly dailyVolumeMedian: number
  /** Active days behind that median. */
  readonly activeDays: number
}

export interface RuleContext<P> {
  readonly params: P
  readonly profile: Readonly<MerchantProfile>
  /**
   * The merchant's cohort, or null while unknown or too thin (fewer merchants than the cohort minimum,
   * or fewer days of data than the calibration needs).
   */
  readonly peers: PeerStats | null
  /** The acquirer's population, or null while it rests on too few merchants or days (a new deployment). */
  readonly population: PeerStats | null
  /** The merchant's own history, or null for a merchant without one yet. */
  readonly baseline: MerchantBaseline | null
  /**
   * The merchant's event-time clock: the latest event time seen for it. Windows end here, not at the
   * time of the event being applied, which may be late.
   */
  readonly watermark: number
  /** Local day of the watermark. */
  readonly watermarkDay: number
  /** Milliseconds of the merchant's local day `d` start, UTC (for reporting window bounds). */
  readonly dayStart: (day: number) => number
  /** The merchant's local day holding UTC ms `time` (as a transaction's `localDay` is counted). */
  readonly dayOf: (time: number) => number
}

/** What a rule reports when it fires: the evidence an analyst needs. */
export interface Finding {
  /** The measured value (a share, a count, an amount in minor units, a distance in km). */
  observed: number
  /** The threshold it crossed. */
  threshold: number
  /** The window the rule looked at, UTC ms, end exclusive. */
  windowStart: number
  windowEnd: number
  /** A few transaction ids that show the pattern. */
  sampleTxnIds: string[]
  /** One sentence for the analyst: what was seen, in numbers. */
  detail: string
  /** What a relative threshold was calibrated on; absent for findings that compare with nothing. */
  basis?: Basis
}

/**
 * A rule: one file in rules/, registered in rules/index.ts. `S` is the rule's own per-merchant state;
 * the engine creates one per merchant and hands it back on every event. The functions are pure: no
 * I/O and no clock; time comes from the event and the context.
 */
export interface RuleDefinition<PS extends ParamSpecs, S extends object> {
  readonly id: string
  /** Bumped when the logic changes, recorded on every hit. */
  readonly version: number
  readonly category: RuleCategory
  /** Rule family for scoring (decay half-life): velocity patterns decay in days, lifecycle in months. */
  readonly family: 'velocity' | 'amount' | 'volume' | 'cards' | 'network' | 'location' | 'lifecycle'
  readonly description: string
  /**
   * What the rule compares its measure with, and why (the population and peer fences of
   * rules/engine/calibration.ts, a fixed threshold the playbook or regulation sets, or chance): the
   * rules reference prints it under the rule. Every registered rule has one (a test checks).
   */
  readonly calibration?: string
  /** Relocation, MCC mismatch and settlement churn are regulatory: no whitelist can silence them. */
  readonly whitelistable: boolean
  readonly params: PS
  /** Days of history the rule's state must keep; the engine keeps state for the widest. */
  readonly retentionDays: number
  /**
   * What of the merchant's clock `evaluate` reads: 'day' when only `ctx.watermarkDay`, so its finding
   * cannot change while the watermark moves within a local day; 'time' (the default) when it also
   * reads `ctx.watermark`. With 'day', the engine skips evaluating the rule on events that changed
   * neither its state nor anything else it reads (see `onTransaction`).
   */
  readonly clock?: 'day' | 'time'
  /**
   * A new merchant's state. `sales` are the merchant's day rows of approved sales, shared by the rules:
   * a rule that keeps counters per local day of exactly its approved sales takes its columns there
   * (`sales.columns(size, width)`) instead of a DayTable of its own; see SaleDays. `samples` are the
   * merchant's sample-id rings, one array for all rules: a rule takes its rings with
   * `samples.ring(capacity)` instead of a Recent of its own.
   *
   * The engine keeps one record per merchant with the fields of every rule's state, and hands it to
   * each rule as its state: field names must be distinct across rules (each rule's start with its
   * short name; an engine with two rules sharing one refuses to start), and a rule reads and writes
   * only its own fields. Fields holding the day columns, short day rings and sample rings taken here
   * are on the record's prototype (they are the same for every merchant): never assign them.
   */
  createState(sales: SaleDays, samples: Samples): S
  /**
   * Applies a transaction to the state. Returns false when the transaction changed nothing `evaluate`
   * reads (a declined sale for a rule about approved sales, a card's first swipe of the day for a rule
   * about the gaps between swipes): then, if the rule's last evaluation found nothing and its context
   * did not change, the engine does not evaluate it again, since a pure `evaluate` would find nothing
   * again. Any other return value means what `evaluate` reads may have changed.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a rule that never reports "unchanged" returns nothing.
  onTransaction?(state: S, txn: RuleTxn, ctx: RuleContext<ParamValues<PS>>): boolean | void
  onMerchantEvent?(state: S, event: MerchantEvent, ctx: RuleContext<ParamValues<PS>>): void
  /**
   * Returns a finding when the rule fires. Called after every event of the merchant, except the skips
   * described at `onTransaction`; a pure function of the state and the context.
   */
  evaluate(state: S, ctx: RuleContext<ParamValues<PS>>): Finding | null
}

/** Keeps a rule's parameter and state types linked where the registry stores rules side by side. */
export function defineRule<PS extends ParamSpecs, S extends object>(
  rule: RuleDefinition<PS, S>,
): RuleDefinition<PS, S> {
  return rule
}
