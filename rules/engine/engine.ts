import { hash } from 'node:crypto'
import { minorPerMajor } from '../../lib/currency.ts'
import { utcOffsetMs } from '../../lib/local-time.ts'
import type { MerchantEvent, TerminalTransaction } from '../../schemas/types.generated.ts'
import { entryOf, findingKey, isSame, keySpan, remember, textHash } from './last-findings.ts'
import type { ParamSpecs, ParamValues } from './params.ts'
import type { OverrideLayers } from './registry.ts'
import type {
  Finding,
  MerchantBaseline,
  MerchantProfile,
  PeerStats,
  References,
  RuleCategory,
  RuleContext,
  RuleDefinition,
  RuleTxn,
} from './types.ts'
import {
  DayColumns,
  doubles,
  SaleDays,
  SaleLayout,
  SampleLayout,
  SampleRing,
  Samples,
  ShortDays,
} from './window.ts'

const DAY_MS = 86_400_000
const MAX_REMEMBERED_HITS = 64

/** What the engine needs to know of a rule besides its functions. */
export interface RuleMeta {
  readonly id: string
  readonly version: number
  readonly category: RuleCategory
  readonly family: string
  readonly description: string
  readonly calibration: string
  readonly whitelistable: boolean
  readonly retentionDays: number
}

export type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** The catalogue fields of a rule definition (per-merchant or cross-merchant), as the engines expose them. */
export function ruleMeta(rule: Omit<RuleMeta, 'calibration'> & { readonly calibration?: string }): RuleMeta {
  const { id, version, category, family, description, calibration, whitelistable, retentionDays } = rule
  return {
    id,
    version,
    category,
    family,
    description,
    calibration: calibration ?? '',
    whitelistable,
    retentionDays,
  }
}

/**
 * A rule bound to its parameter resolver, with its types closed over so rules can sit side by side.
 * The engine keeps all the rule states of a merchant in one record and calls these with it: one object
 * per merchant and rule (an instance holding the state, parameters and skip mark) was one more cold
 * object to reach per rule and event, and with sparse traffic every one of them is a cache miss.
 */
export interface CompiledRule {
  readonly meta: RuleMeta
  /** True for clock 'day': its evaluation reads only the local day of the watermark. */
  readonly byDay: boolean
  createState(sales: SaleDays, samples: Samples): RuleState
  /** The rule's validated parameters for a merchant's acquirer and MCC (cached by the resolver). */
  paramsFor(acquirerId: string, mcc: string | null): RuleParams
  /**
   * The rule's own functions, called by the engine without a wrapper (a call more per rule and event
   * that no call site could inline: the wrappers of all rules were one function). `onTransaction`
   * returns false when the transaction left the state as it was; anything else when it may have changed.
   */
  onTransaction(state: RuleState, txn: RuleTxn, ctx: EngineContext): unknown
  onMerchantEvent(state: RuleState, event: MerchantEvent, ctx: EngineContext): void
  evaluate(state: RuleState, ctx: EngineContext): Finding | null
  /** Switches to new parameters (a configuration reload); merchants keep their state. */
  retune?(layers: OverrideLayers): void
}

/**
 * What the engine holds for a rule without knowing its type: the state a rule's `createState` made (its
 * fields, in the merchant's record of every rule's fields: see RuleEngine's `#newRecord`) and
 * the parameters its resolver returned. Branded so that only compileRule makes and opens them.
 */
declare const opaque: unique symbol
export type RuleState = { readonly [opaque]: 'state' }
export type RuleParams = { readonly [opaque]: 'params' }

/** The context every rule call gets: one object, refilled per event, its `params` swapped per rule. */
export type EngineContext = Mutable<RuleContext<RuleParams>>

/** Parameters of a rule for a merchant's acquirer and MCC, already validated. */
export type ParamsFor<PS extends ParamSpecs> = (acquirerId: string, mcc: string | null) => ParamValues<PS>

export function compileRule<PS extends ParamSpecs, S extends object>(
  rule: RuleDefinition<PS, S>,
  paramsFor: ParamsFor<PS>,
): CompiledRule {
  // The engine stores states and parameters untyped, side by side for all rules; these are the only
  // places they are made and opened, each with the types of this one rule. The casts are sound because
  // an engine passes a rule only the states it created and the parameters it resolved (see RuleEngine).
  const onTransaction = rule.onTransaction
  const onMerchantEvent = rule.onMerchantEvent
  return {
    meta: ruleMeta(rule),
    byDay: rule.clock === 'day',
    createState: (sales, samples) => rule.createState(sales, samples) as unknown as RuleState,
    paramsFor: (acquirerId, mcc) => paramsFor(acquirerId, mcc) as unknown as RuleParams,
    onTransaction:
      onTransaction === undefined ? () => false : (onTransaction as unknown as CompiledRule['onTransaction']),
    onMerchantEvent:
      onMerchantEvent === undefined
        ? () => {}
        : (onMerchantEvent as unknown as CompiledRule['onMerchantEvent']),
    evaluate: rule.evaluate as unknown as CompiledRule['evaluate'],
  }
}

/** A rule hit to store: the same hit id for the same merchant, rule and window, so updates replace. */
export interface HitUpdate {
  hitId: string
  acquirerId: string
  merchantId: string
  ruleId: string
  ruleVersion: number
  category: RuleCategory
  finding: Finding
  /** Event time at which the rule fired (the merchant's watermark). */
  detectedAt: number
  configHash: string
}

export interface EngineOptions {
  rules: readonly CompiledRule[]
  timeZoneOf: (acquirerId: string) => string
  /** Events older than the merchant's watermark by more than this do not change rule state. */
  allowedLatenessMs: number
  /** True when a whitelist entry silences this rule for this merchant at this time. */
  isWhitelisted: (acquirerId: string, merchantId: string, ruleId: string, at: number) => boolean
  configHash: string
  /**
   * The references of a merchant: its cohort (acquirer, registered MCC, and its registered location for
   * the region) and its acquirer's population; null when neither is known.
   */
  peersOf: (
    acquirerId: string,
    mcc: string | null,
    latitude: number | null,
    longitude: number | null,
  ) => References | null
  /**
   * What a distribution must rest on before a rule may compare with it; below, the rule sees none
   * (rules/engine/calibration.ts). The defaults are CALIBRATION_DEFAULTS.
   */
  calibration?: Calibration
  /** A merchant's own history; null when it has none yet. */
  baselineOf: (acquirerId: string, merchantId: string) => MerchantBaseline | null
  /**
   * Told how long each rule's evaluation took, in seconds, on one event in `TIMING_SAMPLE_EVERY`: timing
   * every call would cost more than most rules do.
   */
  ruleTiming?: (ruleId: string, seconds: number) => void
}

/** The minima of the rules file's `calibration` section. */
export interface Calibration {
  /** Merchants (with enough sales) the acquirer-wide distribution needs. */
  readonly minPopulation: number
  /** Local days of data a distribution needs, cohort and population alike. */
  readonly minDays: number
}

/** A merchant's settlement account, when it was set, and its registered MCC (RuleEngine.accountOf). */
export interface AccountState {
  readonly account: string | null
  /** Event time of the event that set the account; -Infinity when none did. */
  readonly since: number
  readonly mcc: string | null
}

export const CALIBRATION_DEFAULTS: Calibration = { minPopulation: 30, minDays: 7 }

/** The distributions a merchant's rules may compare with, under the calibration minima. */
export function adequate(
  refs: References | null,
  c: Calibration,
): { peers: PeerStats | null; population: PeerStats | null } {
  const enough = (s: PeerStats | null, merchants: number): PeerStats | null =>
    s !== null && s.creditShare.n >= merchants && s.creditShare.days >= c.minDays ? s : null
  const population = enough(refs?.population ?? null, c.minPopulation)
  // The cohort's size was checked where it was computed (RULES_MIN_COHORT); a cohort of a population
  // the calibration does not trust yet is no better than it.
  return { peers: population === null ? null : enough(refs?.cohort ?? null, 1), population }
}

/** One event in this many has each rule's evaluation timed (when `ruleTiming` is set). */
export const TIMING_SAMPLE_EVERY = 256

/**
 * The parameters of every rule for one acquirer and MCC, resolved once and shared by the merchants
 * that have them: looking them up per rule and event meant reading a field of one cold object per rule.
 */
interface ParamSet {
  readonly acquirerId: string
  readonly mcc: string | null
  /** The engine's parameter generation they were resolved at; a reload makes them stale. */
  readonly generation: number
  /** By rule index. */
  readonly values: readonly RuleParams[]
}

/** Where each is in a merchant's `marks`. */
const MARKS = {
  watermark: 0,
  /**
   * Where the sweeps' clock (`#swept`) stood at the first eviction sweep after this merchant's latest
   * event: what idleness is measured from, with the watermark. A lifecycle feed replayed at a new
   * deployment brings onboardings years old; by their own time such merchants would look idle, and
   * lose their bindings, MCC and address, before their first sale arrives.
   */
  touched: 1,
  /** Event time of the lifecycle event that set each profile field. */
  mccSince: 2,
  locationSince: 3,
  accountSince: 4,
  /**
   * From here, by rule index: the stamp of the rule's clock at which its last evaluation found nothing,
   * with the parameters it still has; -1 when it found something, or its parameters changed since.
   */
  silentAt: 5,
} as const
const WATERMARK = MARKS.watermark
const SILENT_AT = MARKS.silentAt
/** Before any time: what every time of a new merchant is. */
const NEVER = Number.NEGATIVE_INFINITY

/**
 * A merchant's state: flat fields and one array per concern, indexed by rule, so that an event reads
 * a few cache lines of the merchant before the rules' own state (objects per rule, or the context and
 * stamps as objects of their own, were each one more cold line per event with sparse traffic).
 */
interface MerchantEntry {
  readonly acquirerId: string
  readonly merchantId: string
  readonly profile: MerchantProfile
  /** The time zone at creation, for `dayStart`. */
  readonly timeZone: string
  /**
   * The merchant's times and marks, unboxed in one array of doubles (see MARKS): time fields of the
   * entry were each a boxed double, 16 bytes and, for the watermark, one more cold read per event;
   * this array is read on every event anyway, for the marks.
   */
  readonly marks: number[]
  /** An event arrived since the last sweep: the next one stamps `touched`. */
  fresh: boolean
  /** Every rule's state, its fields side by side in one record (see `#newRecord`). */
  readonly record: RuleState
  /** Day rows of the approved sales, shared by the rules that took columns in them. */
  readonly sales: SaleDays
  /** Sample-id rings of all rules. */
  readonly samples: Samples
  params: ParamSet | null
  /**
   * The last finding written per rule and window (see last-findings.ts), so an unchanged finding is not
   * written again; made at the first hit.
   */
  lastFinding: number[] | null
  /**
   * The watermark moved since the rules' context last saw it: a flag, not the watermark it saw (a
   * boxed double, one more cold read and write per event).
   */
  moved: boolean
  /** The watermark's local day, peers and baseline as the rules' context last saw them. */
  watermarkDay: number
  peers: PeerStats | null
  population: PeerStats | null
  baseline: MerchantBaseline | null
  /** The reference generation peers and baseline were looked up at; -1 when stale. */
  referencesSeen: number
  /**
   * Where the merchant's context stands: `stampDay` changes with the local day of the watermark and
   * with anything else in the context (profile, peers, baseline), `stampTime` with those and every move
   * of the watermark. A rule whose last evaluation found nothing need not be evaluated again while the
   * stamp of its clock and its state stay the same.
   */
  stampDay: number
  stampTime: number
}

export interface EngineStats {
  events: number
  tooLate: number
  hits: number
  merchants: number
  /** Rule evaluations run, and those skipped because neither the rule's state nor its context changed. */
  evaluations: number
  skippedEvaluations: number
}

/**
 * The rule engine for the merchants of the partitions an instance owns. Pure and synchronous: events
 * in, hit updates out; the caller stores hits and owns I/O. State is per merchant, with each rule's own
 * state inside; a merchant idle for longer than the widest rule window is dropped by `evict`.
 */
export class RuleEngine {
  readonly stats: EngineStats = {
    events: 0,
    tooLate: 0,
    hits: 0,
    merchants: 0,
    evaluations: 0,
    skippedEvaluations: 0,
  }
  readonly #merchants = new Map<string, Map<string, MerchantEntry>>()
  /** One view for every transaction, refilled per event: copying each event was a large part of the cost. */
  readonly #view: Mutable<RuleTxn> = fillView(emptyView(), EMPTY_TXN, 0)
  /**
   * One context for every rule call, refilled per event with the merchant's fields, its `params`
   * swapped per rule. Calls never overlap and rules keep no context, so one serves all.
   */
  readonly #ctx: EngineContext
  #count = 0
  /** The latest event time of a transaction the rules took (ms), across merchants. */
  #latest = Number.NEGATIVE_INFINITY
  /** The stream's progress as the eviction sweeps saw it (ms, each step at most a day), and the last sweep's `now`. */
  #swept = 0
  #sweptAt: number | null = null
  /** Which rules the current event changed; events are handled one at a time, so one array serves all. */
  readonly #changed: boolean[]
  /** Bumped when peers or baselines are refreshed; merchants compare it with what they looked up. */
  #references = 0
  /** Bumped by a reload of parameters; merchants compare it with their ParamSet's. */
  #generation = 0
  readonly #paramSets = new Map<string, ParamSet>()
  /** `dayStart` per time zone: a closure per merchant was memory for nothing. */
  readonly #dayStarts = new Map<string, (day: number) => number>()
  /** `dayOf` per time zone, likewise. */
  readonly #dayOfs = new Map<string, (time: number) => number>()
  /** The layout of every merchant's SaleDays, and whose rows the rules' views read (see SaleLayout). */
  readonly #layout = new SaleLayout()
  /** The same for the rules' sample rings (see SampleLayout). */
  readonly #sampleLayout = new SampleLayout()
  /** A new merchant's marks: its times before any event, every rule not silent (copied per merchant). */
  readonly #marks: number[]
  /** Events evaluated, for sampling the rule timings. */
  #sampled = 0
  #opts: EngineOptions
  readonly #rules: readonly CompiledRule[]
  readonly #retentionMs: number
  /** The fields of every rule's state, cloned for each new merchant (see `#newRecord`). */
  readonly #template: Template
  /** The span of the last findings' keys: a power of two above every rule's index. */
  readonly #keySpan: number
  /** Small ids of the configuration hashes seen, for the last findings (which hold numbers only). */
  readonly #configIds = new Map<string, number>()
  /** Orders the updates of the last findings (see last-findings.ts). */
  #findingSeq = 0

  constructor(opts: EngineOptions) {
    const ids = new Set<string>()
    for (const r of opts.rules) {
      if (ids.has(r.meta.id)) throw new Error(`duplicate rule id ${r.meta.id}`)
      ids.add(r.meta.id)
    }
    this.#opts = opts
    this.#rules = opts.rules
    this.#keySpan = keySpan(opts.rules.length)
    this.#changed = opts.rules.map(() => true)
    // A literal of doubles, then pushes: an array of unboxed doubles, copied by slice at its length.
    const marks = [NEVER, NEVER, NEVER, NEVER, NEVER]
    for (let i = 0; i < opts.rules.length; i++) marks.push(-1)
    this.#marks = marks
    this.#retentionMs = Math.max(1, ...opts.rules.map((r) => r.meta.retentionDays)) * DAY_MS
    // Made from states of its own, not a merchant's: the template keeps what its fields point to.
    const sales = new SaleDays(this.#layout)
    const samples = new Samples(this.#sampleLayout)
    this.#template = templateOf(
      opts.rules,
      opts.rules.map((r) => r.createState(sales, samples)),
    )
    this.#ctx = {
      params: NO_PARAMS,
      profile: EMPTY_PROFILE,
      peers: null,
      population: null,
      baseline: null,
      watermark: Number.NEGATIVE_INFINITY,
      watermarkDay: 0,
      dayStart: (day) => day * DAY_MS,
      dayOf: (time) => Math.floor(time / DAY_MS),
    }
  }

  /**
   * Applies a reloaded configuration (SIGHUP): new parameters per rule, whitelist and config hash.
   * Rule state is kept, so windows continue; findings are re-evaluated with the new parameters on the
   * merchant's next event.
   */
  reconfigure(
    opts: Partial<Pick<EngineOptions, 'isWhitelisted' | 'configHash' | 'peersOf' | 'baselineOf'>> & {
      layersOf?: (ruleId: string) => OverrideLayers | undefined
    },
  ): void {
    const { layersOf, ...rest } = opts
    if (rest.peersOf !== undefined || rest.baselineOf !== undefined) this.#references++
    if (layersOf !== undefined) {
      for (const rule of this.#rules) {
        const layers = layersOf(rule.meta.id)
        if (layers !== undefined) rule.retune?.(layers)
      }
      this.#generation++
      this.#paramSets.clear()
    }
    this.#opts = { ...this.#opts, ...rest }
  }

  get merchantCount(): number {
    return this.#count
  }

  /**
   * The latest event time of any transaction the rules took (ms; -Infinity before the first): how far
   * the stream has come in event time, which is what the references are refreshed against (a replayed
   * month passes its days in seconds of wall time).
   */
  get latestEventTime(): number {
    return this.#latest
  }

  /** The peers and baselines behind `peersOf` / `baselineOf` were refreshed: look them up again. */
  referencesChanged(): void {
    this.#references++
  }

  onTransaction(txn: TerminalTransaction): readonly HitUpdate[] {
    const m = this.#entry(txn.acquirer_id, txn.merchant_id)
    this.stats.events++
    const marks = m.marks
    const watermark = marks[WATERMARK] ?? NEVER
    if (txn.event_time < watermark - this.#opts.allowedLatenessMs) {
      this.stats.tooLate++
      return NO_HITS
    }
    if (txn.event_time > watermark) {
      marks[WATERMARK] = txn.event_time
      m.moved = true
    }
    if (txn.event_time > this.#latest) this.#latest = txn.event_time
    m.fresh = true
    const tz = this.#opts.timeZoneOf(m.acquirerId)
    const local = txn.event_time + utcOffsetMs(txn.event_time, tz)
    const view = fillView(this.#view, txn, local)
    // The rules' day columns read this merchant's rows; the day's row is made and the sale counted in it
    // before any rule looks.
    this.#layout.current = m.sales
    this.#sampleLayout.current = m.samples
    if (view.approved && view.sale && m.sales.used) m.sales.record(view.localDay, view.amount_minor)
    const ctx = this.#context(m, tz)
    const params = this.#paramsOf(m, m.profile.registeredMcc ?? txn.mcc)
    const rules = this.#rules
    const record = m.record
    const changed = this.#changed
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]
      const p = params[i]
      if (rule === undefined || p === undefined) continue
      ctx.params = p
      changed[i] = rule.onTransaction(record, view, ctx) !== false
    }
    return this.#evaluate(m, ctx, params, changed)
  }

  onMerchantEvent(event: MerchantEvent): readonly HitUpdate[] {
    const m = this.#entry(event.acquirer_id, event.merchant_id)
    this.stats.events++
    const p = m.profile
    // The MCC or location may change: the cohort is looked up again on this event.
    m.referencesSeen = -1
    const t = event.event_time
    // Lifecycle facts are kept whatever their lateness (a late onboarding is still the onboarding), but
    // each field takes a value only from an event at least as recent as the one that set it: a late
    // event must not overwrite a newer MCC, address or account.
    const marks = m.marks
    if (event.registered_mcc !== null && t >= (marks[MARKS.mccSince] ?? NEVER)) {
      p.registeredMcc = event.registered_mcc
      marks[MARKS.mccSince] = t
    }
    if (event.latitude !== null && event.longitude !== null && t >= (marks[MARKS.locationSince] ?? NEVER)) {
      p.latitude = event.latitude
      p.longitude = event.longitude
      marks[MARKS.locationSince] = t
    }
    if (event.settlement_account_token !== null && t >= (marks[MARKS.accountSince] ?? NEVER)) {
      p.settlementAccount = event.settlement_account_token
      marks[MARKS.accountSince] = t
    }
    if (event.kind === 'ONBOARDED' && (p.onboardedAt === null || event.event_time < p.onboardedAt)) {
      p.onboardedAt = event.event_time
    }
    if (event.event_time > (marks[WATERMARK] ?? NEVER)) {
      marks[WATERMARK] = event.event_time
      m.moved = true
    }
    m.fresh = true
    const tz = this.#opts.timeZoneOf(m.acquirerId)
    const ctx = this.#context(m, tz)
    this.#layout.current = m.sales
    this.#sampleLayout.current = m.samples
    const params = this.#paramsOf(m, p.registeredMcc)
    const rules = this.#rules
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]
      const rp = params[i]
      if (rule === undefined || rp === undefined) continue
      ctx.params = rp
      rule.onMerchantEvent(m.record, event, ctx)
    }
    // A lifecycle event may change any rule's state or context: every rule is evaluated.
    this.#changed.fill(true)
    return this.#evaluate(m, ctx, params, this.#changed)
  }

  /** Drops the merchants `which` selects (partitions this instance no longer owns); returns how many. */
  drop(which: (acquirerId: string, merchantId: string) => boolean): number {
    return this.#dropWhere((m) => which(m.acquirerId, m.merchantId))
  }

  /** Whether the engine holds state for this merchant. */
  has(acquirerId: string, merchantId: string): boolean {
    return this.#merchants.get(acquirerId)?.has(merchantId) ?? false
  }

  /**
   * The merchant's settlement account as the engine knows it: the token, the event time of the event
   * that set it, and the registered MCC; null when the engine holds no state for the merchant. Read
   * before and after a lifecycle event, it says which account the event made the merchant leave
   * (rules/entity/activity.ts, applyMerchantEvent).
   */
  accountOf(acquirerId: string, merchantId: string): AccountState | null {
    const m = this.#merchants.get(acquirerId)?.get(merchantId)
    if (m === undefined) return null
    return {
      account: m.profile.settlementAccount,
      since: m.marks[MARKS.accountSince] ?? NEVER,
      mcc: m.profile.registeredMcc,
    }
  }

  /** The widest rule window, in days: how much history a rebuild must replay. */
  get retentionDays(): number {
    return this.#retentionMs / DAY_MS
  }

  /**
   * Drops merchants idle for longer than the widest rule window at `now` (event time): their own latest
   * event is older than the window, and the stream has moved on by the window since they last had one.
   * The stream's progress is counted sweep by sweep, each step at most a day: the stream's first
   * events may be years old (a lifecycle feed read from its start at a new deployment) and its next
   * ones today's, and that jump is not time in which the merchants stayed silent. The same events and
   * sweeps drop the same merchants.
   */
  evict(now: number): number {
    if (this.#sweptAt !== null && now > this.#sweptAt) this.#swept += Math.min(now - this.#sweptAt, DAY_MS)
    if (this.#sweptAt === null || now > this.#sweptAt) this.#sweptAt = now
    const swept = this.#swept
    const horizon = now - this.#retentionMs
    return this.#dropWhere((m) => {
      if (m.fresh) {
        m.marks[MARKS.touched] = swept
        m.fresh = false
      }
      const marks = m.marks
      return (
        (marks[WATERMARK] ?? NEVER) < horizon && swept - (marks[MARKS.touched] ?? NEVER) > this.#retentionMs
      )
    })
  }

  #dropWhere(which: (m: MerchantEntry) => boolean): number {
    let dropped = 0
    for (const [acquirerId, byMerchant] of this.#merchants) {
      for (const [merchantId, m] of byMerchant) {
        if (which(m)) {
          byMerchant.delete(merchantId)
          dropped++
        }
      }
      if (byMerchant.size === 0) this.#merchants.delete(acquirerId)
    }
    this.#count -= dropped
    this.stats.merchants = this.#count
    return dropped
  }

  #entry(acquirerId: string, merchantId: string): MerchantEntry {
    let byMerchant = this.#merchants.get(acquirerId)
    if (byMerchant === undefined) {
      byMerchant = new Map()
      this.#merchants.set(acquirerId, byMerchant)
    }
    let m = byMerchant.get(merchantId)
    if (m === undefined) {
      const sales = new SaleDays(this.#layout)
      const samples = new Samples(this.#sampleLayout)
      const record = this.#newRecord(sales, samples)
      m = {
        acquirerId,
        merchantId,
        profile: {
          registeredMcc: null,
          latitude: null,
          longitude: null,
          onboardedAt: null,
          settlementAccount: null,
        },
        timeZone: this.#opts.timeZoneOf(acquirerId),
        // A copy of the engine's, of exact size and already of doubles.
        marks: this.#marks.slice(),
        fresh: true,
        record,
        sales,
        samples,
        params: null,
        lastFinding: null,
        moved: false,
        watermarkDay: 0,
        peers: null,
        population: null,
        baseline: null,
        referencesSeen: -1,
        stampDay: 0,
        stampTime: 0,
      }
      byMerchant.set(merchantId, m)
      this.#count++
      this.stats.merchants = this.#count
    }
    return m
  }

  /**
   * A new merchant's rule states, in one record: each rule's `createState` makes its fields, copied
   * into a clone of the engine's template record (the same fields, so every merchant's record has one
   * hidden class). A state object per rule was 17 objects to reach per event, each one a cache miss
   * with sparse traffic, and a header and an array slot each. Rules therefore keep fields of distinct
   * names (checked when the engine is made). The fields that hold the rules' day columns and rings,
   * the same objects for every merchant (see SaleLayout), are on the records' prototype instead.
   */
  #newRecord(sales: SaleDays, samples: Samples): RuleState {
    const template = this.#template
    const record = { ...template.record }
    // A spread makes an object of the standard prototype; the transition to the template's is cached.
    Object.setPrototypeOf(record, template.shared)
    this.#rules.forEach((rule, i) => {
      const state = rule.createState(sales, samples)
      for (const key of template.own[i] ?? []) Reflect.set(record, key, Reflect.get(state, key))
    })
    return record
  }

  /**
   * The rules' parameters for the merchant and `mcc`. A rule whose parameters are not the ones it was
   * last evaluated with loses its "silent" mark: the same state may now fire.
   */
  #paramsOf(m: MerchantEntry, mcc: string | null): readonly RuleParams[] {
    const current = m.params
    if (current !== null && current.mcc === mcc && current.generation === this.#generation)
      return current.values
    const key = `${m.acquirerId}\u0000${mcc ?? '\u0001'}`
    let next = this.#paramSets.get(key)
    if (next === undefined) {
      const { acquirerId } = m
      next = {
        acquirerId,
        mcc,
        generation: this.#generation,
        values: this.#rules.map((r) => r.paramsFor(acquirerId, mcc)),
      }
      this.#paramSets.set(key, next)
    }
    const marks = m.marks
    for (let i = 0; i < next.values.length; i++) {
      if (current === null || current.values[i] !== next.values[i]) marks[SILENT_AT + i] = -1
    }
    m.params = next
    return next.values
  }

  /** Brings the shared context to the merchant, its watermark and current peers and baseline. */
  #context(m: MerchantEntry, tz: string): EngineContext {
    if (m.moved) {
      m.moved = false
      m.stampTime++
      const watermark = m.marks[WATERMARK] ?? NEVER
      const day = Math.floor((watermark + utcOffsetMs(watermark, tz)) / DAY_MS)
      if (day !== m.watermarkDay) {
        m.watermarkDay = day
        m.stampDay++
      }
    }
    // Peers and baseline change only when the merchant's profile changes or the references are
    // refreshed, not per event: looked up again only then.
    if (m.referencesSeen !== this.#references) {
      const p = m.profile
      const refs = adequate(
        this.#opts.peersOf(m.acquirerId, p.registeredMcc, p.latitude, p.longitude),
        this.#opts.calibration ?? CALIBRATION_DEFAULTS,
      )
      m.peers = refs.peers
      m.population = refs.population
      m.baseline = this.#opts.baselineOf(m.acquirerId, m.merchantId)
      m.referencesSeen = this.#references
      // The profile (an object updated in place) may also have changed: merchant events come here.
      m.stampDay++
      m.stampTime++
    }
    const ctx = this.#ctx
    ctx.profile = m.profile
    ctx.peers = m.peers
    ctx.population = m.population
    ctx.baseline = m.baseline
    ctx.watermark = m.marks[WATERMARK] ?? NEVER
    ctx.watermarkDay = m.watermarkDay
    ctx.dayStart = this.#dayStartOf(m.timeZone)
    ctx.dayOf = this.#dayOfIn(m.timeZone)
    return ctx
  }

  #dayOfIn(tz: string): (time: number) => number {
    let fn = this.#dayOfs.get(tz)
    if (fn === undefined) {
      fn = (time) => Math.floor((time + utcOffsetMs(time, tz)) / DAY_MS)
      this.#dayOfs.set(tz, fn)
    }
    return fn
  }

  #dayStartOf(tz: string): (day: number) => number {
    let fn = this.#dayStarts.get(tz)
    if (fn === undefined) {
      fn = (day) => {
        const guess = day * DAY_MS
        return guess - utcOffsetMs(guess, tz)
      }
      this.#dayStarts.set(tz, fn)
    }
    return fn
  }

  /** The id of the current configuration hash (the same hash, the same id, for the engine's life). */
  #configId(): number {
    const hash = this.#opts.configHash
    let id = this.#configIds.get(hash)
    if (id === undefined) {
      id = this.#configIds.size
      this.#configIds.set(hash, id)
    }
    return id
  }

  #evaluate(
    m: MerchantEntry,
    ctx: EngineContext,
    params: readonly RuleParams[],
    changed: readonly boolean[],
  ): readonly HitUpdate[] {
    let out: HitUpdate[] | null = null
    const rules = this.#rules
    const timing = this.#opts.ruleTiming
    const timed = timing !== undefined && this.#sampled++ % TIMING_SAMPLE_EVERY === 0
    const marks = m.marks
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]
      const p = params[i]
      if (rule === undefined || p === undefined) continue
      const started = timed ? performance.now() : 0
      const at = rule.byDay ? m.stampDay : m.stampTime
      // Same state, same parameters, same context: a pure evaluate would find nothing again.
      if (changed[i] === false && marks[SILENT_AT + i] === at) {
        this.stats.skippedEvaluations++
        // Timed too: the metric covers every rule on a sampled event, skipped or not.
        if (timed) timing?.(rule.meta.id, (performance.now() - started) / 1000)
        continue
      }
      ctx.params = p
      const finding = rule.evaluate(m.record, ctx)
      if (timed) timing?.(rule.meta.id, (performance.now() - started) / 1000)
      marks[SILENT_AT + i] = finding === null ? at : -1
      this.stats.evaluations++
      if (finding === null) continue
      const meta = rule.meta
      const watermark = marks[WATERMARK] ?? NEVER
      if (meta.whitelistable && this.#opts.isWhitelisted(m.acquirerId, m.merchantId, meta.id, watermark))
        continue
      // Compared before the hit's id is hashed or its update made: a rule that keeps firing with the
      // same evidence is the common case, and writes nothing. Field by field, not as one text: a rule
      // that keeps firing mostly finds new numbers (an average moves with every sale).
      const key = findingKey(i, finding.windowStart, this.#keySpan)
      if (key !== null) {
        const detail = textHash(finding.detail)
        const config = this.#configId()
        m.lastFinding ??= doubles()
        const at = entryOf(m.lastFinding, key)
        if (
          at >= 0 &&
          isSame(m.lastFinding, at, finding.observed, finding.threshold, finding.windowEnd, detail, config)
        )
          continue
        // Old windows stop firing; only the most recently updated hits are kept (see last-findings.ts).
        remember(
          m.lastFinding,
          at,
          key,
          finding.observed,
          finding.threshold,
          finding.windowEnd,
          detail,
          config,
          this.#findingSeq++,
          MAX_REMEMBERED_HITS,
        )
      }
      this.stats.hits++
      out ??= []
      out.push({
        hitId: hitIdOf(m.acquirerId, m.merchantId, meta.id, finding.windowStart),
        acquirerId: m.acquirerId,
        merchantId: m.merchantId,
        ruleId: meta.id,
        ruleVersion: meta.version,
        category: meta.category,
        finding,
        detectedAt: watermark,
        configHash: this.#opts.configHash,
      })
    }
    return out ?? NO_HITS
  }
}

/**
 * A clone of `record` with prototype `shared` is a new merchant's record; `own[i]` are the names of
 * rule i's fields in it, each filled from the rule's fresh state.
 */
interface Template {
  readonly record: RuleState
  readonly shared: object
  readonly own: readonly (readonly string[])[]
}

/**
 * One record with the fields of every rule's state, made by spreading them in rule order (an object
 * given its fields one by one, or by Object.assign, has them in a dictionary past a dozen, each read
 * a hash lookup). Two rules keeping a field of the same name would share it: refused. The fields that
 * hold a layout's views and rings go to the prototype: a pointer per merchant to the same object was
 * some 230 bytes per merchant, and reads of a prototype's constant fields touch no merchant memory.
 */
function templateOf(rules: readonly CompiledRule[], states: readonly RuleState[]): Template {
  const owners = new Map<string, string>()
  const shared = {}
  let record: RuleState = { ...NO_STATE }
  const own = states.map((state, i) => {
    const id = rules[i]?.meta.id ?? '?'
    const keys: string[] = []
    for (const key of Object.keys(state)) {
      const other = owners.get(key)
      if (other !== undefined)
        throw new Error(
          `rules ${other} and ${id} both keep a state field '${key}': state fields must have distinct names`,
        )
      owners.set(key, id)
      const value: unknown = Reflect.get(state, key)
      // The same object for every merchant of the engine (see SaleLayout): a field of the prototype.
      if (value instanceof DayColumns || value instanceof ShortDays || value instanceof SampleRing)
        Reflect.set(shared, key, value)
      else {
        keys.push(key)
        record = { ...record, [key]: value }
      }
    }
    return keys
  })
  Object.setPrototypeOf(record, shared)
  return { record, shared, own }
}

/** Placeholder parameters of the shared context before its first rule call. */
const NO_PARAMS: RuleParams = Object.freeze({}) as unknown as RuleParams

/** A record with no rule's fields, to spread them into. */
const NO_STATE: RuleState = Object.freeze({}) as unknown as RuleState

const EMPTY_PROFILE: MerchantProfile = Object.freeze({
  registeredMcc: null,
  latitude: null,
  longitude: null,
  onboardedAt: null,
  settlementAccount: null,
})

const NO_HITS: readonly HitUpdate[] = Object.freeze([])

const EMPTY_TXN: TerminalTransaction = {
  txn_id: '',
  event_time: 0,
  acquirer_id: '',
  merchant_id: '',
  terminal_id: '',
  card_token: '',
  card_bin: null,
  card_type: 'UNKNOWN',
  txn_type: 'PURCHASE',
  amount_minor: 0,
  currency: '',
  mcc: '',
  entry_mode: 'UNKNOWN',
  response_code: '',
  latitude: null,
  longitude: null,
}

function emptyView(): Mutable<RuleTxn> {
  return { ...EMPTY_TXN, localDay: 0, localHour: 0, minorPerMajor: 1, approved: false, sale: false }
}

/**
 * Copies a transaction and its derived values into the reused view. Rules get the view only for the
 * duration of a call and keep ids and numbers from it, never the object. Every field of the contract
 * is listed: a test checks the view against the schema so a new field cannot be forgotten here.
 */
export function fillView(
  view: Mutable<RuleTxn>,
  txn: TerminalTransaction,
  localMs: number,
): Mutable<RuleTxn> {
  view.txn_id = txn.txn_id
  view.event_time = txn.event_time
  view.acquirer_id = txn.acquirer_id
  view.merchant_id = txn.merchant_id
  view.terminal_id = txn.terminal_id
  view.card_token = txn.card_token
  view.card_bin = txn.card_bin
  view.card_type = txn.card_type
  view.txn_type = txn.txn_type
  view.amount_minor = txn.amount_minor
  view.currency = txn.currency
  view.mcc = txn.mcc
  view.entry_mode = txn.entry_mode
  view.response_code = txn.response_code
  view.latitude = txn.latitude
  view.longitude = txn.longitude
  const day = Math.floor(localMs / DAY_MS)
  view.localDay = day
  view.localHour = Math.floor((localMs - day * DAY_MS) / 3_600_000)
  view.minorPerMajor = minorPerMajor(txn.currency)
  view.approved = txn.response_code === '00'
  view.sale = txn.txn_type === 'PURCHASE' || txn.txn_type === 'PREAUTH_COMPLETION'
  return view
}

/** The id of a hit: the same for the same merchant, rule and window, so updates replace it. */
export function hitIdOf(acquirerId: string, merchantId: string, ruleId: string, windowStart: number): string {
  // The one-shot hash: createHash made a Hash object per call, twice the cost for a string this short
  // (made at every hit update).
  return hash('sha256', `${acquirerId}\u0000${merchantId}\u0000${ruleId}\u0000${windowStart}`, 'hex').slice(
    0,
    32,
  )
}
