import { createHash } from 'node:crypto'
import { minorPerMajor } from '../../lib/currency.ts'
import { utcOffsetMs } from '../../lib/local-time.ts'
import type { MerchantEvent, TerminalTransaction } from '../../schemas/types.generated.ts'
import type { ParamSpecs, ParamValues } from './params.ts'
import type { OverrideLayers } from './registry.ts'
import type {
  Finding,
  MerchantBaseline,
  MerchantProfile,
  PeerStats,
  RuleCategory,
  RuleContext,
  RuleDefinition,
  RuleTxn,
} from './types.ts'

const DAY_MS = 86_400_000
const MAX_REMEMBERED_HITS = 64

/** What the engine needs to know of a rule besides its functions. */
export interface RuleMeta {
  readonly id: string
  readonly version: number
  readonly category: RuleCategory
  readonly family: string
  readonly description: string
  readonly whitelistable: boolean
  readonly retentionDays: number
}

export type Mutable<T> = { -readonly [K in keyof T]: T[K] }
type MutableContext<P> = Mutable<RuleContext<P>>
type BaseContext = Omit<MutableContext<never>, 'params'>

/**
 * Where a merchant's context stands: `day` changes with the local day of the watermark and with
 * anything else in the context (profile, peers, baseline), `time` with those and every move of the
 * watermark. A rule whose last evaluation found nothing need not be evaluated again while the stamp
 * of its clock and its state stay the same.
 */
interface Stamps {
  day: number
  time: number
}

interface RuleInstance {
  /** False when the transaction left the rule's state as it was. */
  onTransaction(
    txn: RuleTxn,
    ctx: BaseContext,
    stamps: Stamps,
    acquirerId: string,
    mcc: string | null,
  ): boolean
  onMerchantEvent(
    event: MerchantEvent,
    ctx: BaseContext,
    stamps: Stamps,
    acquirerId: string,
    mcc: string | null,
  ): void
  /** The rule's finding; undefined when the evaluation was skipped as described above (nothing found). */
  evaluate(
    ctx: BaseContext,
    stamps: Stamps,
    acquirerId: string,
    mcc: string | null,
    changed: boolean,
  ): Finding | null | undefined
}

/** A rule bound to its parameter resolver, with its types closed over so rules can sit side by side. */
export interface CompiledRule {
  readonly meta: RuleMeta
  createInstance(): RuleInstance
  /** Switches to new parameters (a configuration reload); instances keep their state. */
  retune?(layers: OverrideLayers): void
}

/** Parameters of a rule for a merchant's acquirer and MCC, already validated. */
export type ParamsFor<PS extends ParamSpecs> = (acquirerId: string, mcc: string | null) => ParamValues<PS>

export function compileRule<PS extends ParamSpecs, S>(
  rule: RuleDefinition<PS, S>,
  paramsFor: ParamsFor<PS>,
): CompiledRule & { readonly invalidate: () => void } {
  const { id, version, category, family, description, whitelistable, retentionDays } = rule
  // Bumped by a reload, so instances re-resolve their parameters on their next event.
  let generation = 0
  // One context per rule, shared by all merchants and refilled on every call: a context per merchant
  // and rule was a large part of the engine's memory, and calls never overlap (rules keep no context).
  let shared: MutableContext<ParamValues<PS>> | null = null
  // The merchant context and its time stamp the shared context was last filled from: consecutive
  // calls for one event (a transaction, then the evaluation) then only swap the parameters.
  let filledFrom: BaseContext | null = null
  let filledAt = -1
  const contextFor = (
    params: ParamValues<PS>,
    base: BaseContext,
    stamps: Stamps,
  ): MutableContext<ParamValues<PS>> => {
    if (shared === null) {
      shared = { ...base, params }
      filledFrom = base
      filledAt = stamps.time
      return shared
    }
    shared.params = params
    if (filledFrom === base && filledAt === stamps.time) return shared
    filledFrom = base
    filledAt = stamps.time
    shared.profile = base.profile
    shared.peers = base.peers
    shared.baseline = base.baseline
    shared.watermark = base.watermark
    shared.watermarkDay = base.watermarkDay
    shared.dayStart = base.dayStart
    return shared
  }
  // A class, not closures: one small object per merchant and rule instead of a context and four
  // closures (measured with bench/engine.bench.ts).
  const byDay = rule.clock === 'day'
  class Instance implements RuleInstance {
    readonly #state: S
    #params: ParamValues<PS> | null = null
    #mcc: string | null = null
    #generation = -1
    /**
     * The stamp of the rule's clock at which its last evaluation found nothing, with the parameters it
     * still has; -1 when it found something, or the parameters changed since.
     */
    #silentAt = -1

    constructor(state: S) {
      this.#state = state
    }

    #paramsFor(acquirerId: string, mcc: string | null): ParamValues<PS> {
      let params = this.#params
      if (params === null || this.#mcc !== mcc || this.#generation !== generation) {
        params = paramsFor(acquirerId, mcc)
        if (params !== this.#params) this.#silentAt = -1
        this.#params = params
        this.#mcc = mcc
        this.#generation = generation
      }
      return params
    }

    onTransaction(
      txn: RuleTxn,
      base: BaseContext,
      stamps: Stamps,
      acquirerId: string,
      mcc: string | null,
    ): boolean {
      if (rule.onTransaction === undefined) return false
      const params = this.#paramsFor(acquirerId, mcc)
      return rule.onTransaction(this.#state, txn, contextFor(params, base, stamps)) !== false
    }

    onMerchantEvent(
      event: MerchantEvent,
      base: BaseContext,
      stamps: Stamps,
      acquirerId: string,
      mcc: string | null,
    ): void {
      if (rule.onMerchantEvent !== undefined) {
        const params = this.#paramsFor(acquirerId, mcc)
        rule.onMerchantEvent(this.#state, event, contextFor(params, base, stamps))
      }
    }

    evaluate(
      base: BaseContext,
      stamps: Stamps,
      acquirerId: string,
      mcc: string | null,
      changed: boolean,
    ): Finding | null | undefined {
      const params = this.#paramsFor(acquirerId, mcc)
      const at = byDay ? stamps.day : stamps.time
      // Same state, same parameters, same context: a pure evaluate would find nothing again.
      if (!changed && this.#silentAt === at) return undefined
      const finding = rule.evaluate(this.#state, contextFor(params, base, stamps))
      this.#silentAt = finding === null ? at : -1
      return finding
    }
  }
  return {
    meta: { id, version, category, family, description, whitelistable, retentionDays },
    invalidate: () => {
      generation++
    },
    createInstance() {
      return new Instance(rule.createState())
    },
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
  /** The cohort of a merchant (by acquirer and MCC); null when unknown. */
  /** The cohort of a merchant (acquirer, registered MCC, and its registered location for the region). */
  peersOf: (
    acquirerId: string,
    mcc: string | null,
    latitude: number | null,
    longitude: number | null,
  ) => PeerStats | null
  /** A merchant's own history; null when it has none yet. */
  baselineOf: (acquirerId: string, merchantId: string) => MerchantBaseline | null
  /**
   * Told how long each rule's evaluation took, in seconds, on one event in `TIMING_SAMPLE_EVERY`: timing
   * every call would cost more than most rules do.
   */
  ruleTiming?: (ruleId: string, seconds: number) => void
}

/** One event in this many has each rule's evaluation timed (when `ruleTiming` is set). */
export const TIMING_SAMPLE_EVERY = 256

interface MerchantEntry {
  acquirerId: string
  merchantId: string
  profile: MerchantProfile
  watermark: number
  instances: RuleInstance[]
  /** Last finding per rule by hit id, so an unchanged finding is not written again. */
  lastFinding: Map<string, string>
  /** The merchant's rule context, updated in place on every event. */
  ctx: BaseContext
  /** Event time of the lifecycle event that set each profile field. */
  profileTimes: { mcc: number; location: number; account: number }
  /** The reference generation the context's peers and baseline were looked up at; -1 when stale. */
  referencesSeen: number
  stamps: Stamps
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
  #count = 0
  /** Which rules the current event changed; events are handled one at a time, so one array serves all. */
  readonly #changed: boolean[]
  /** Bumped when peers or baselines are refreshed; merchants compare it with what they looked up. */
  #references = 0
  /** Events evaluated, for sampling the rule timings. */
  #sampled = 0
  #opts: EngineOptions
  readonly #retentionMs: number

  constructor(opts: EngineOptions) {
    const ids = new Set<string>()
    for (const r of opts.rules) {
      if (ids.has(r.meta.id)) throw new Error(`duplicate rule id ${r.meta.id}`)
      ids.add(r.meta.id)
    }
    this.#opts = opts
    this.#changed = opts.rules.map(() => true)
    this.#retentionMs = Math.max(1, ...opts.rules.map((r) => r.meta.retentionDays)) * DAY_MS
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
      for (const rule of this.#opts.rules) {
        const layers = layersOf(rule.meta.id)
        if (layers !== undefined) rule.retune?.(layers)
      }
    }
    this.#opts = { ...this.#opts, ...rest }
  }

  get merchantCount(): number {
    return this.#count
  }

  /** The peers and baselines behind `peersOf` / `baselineOf` were refreshed: look them up again. */
  referencesChanged(): void {
    this.#references++
  }

  onTransaction(txn: TerminalTransaction): readonly HitUpdate[] {
    const m = this.#entry(txn.acquirer_id, txn.merchant_id)
    this.stats.events++
    if (txn.event_time < m.watermark - this.#opts.allowedLatenessMs) {
      this.stats.tooLate++
      return NO_HITS
    }
    if (txn.event_time > m.watermark) m.watermark = txn.event_time
    const tz = this.#opts.timeZoneOf(m.acquirerId)
    const local = txn.event_time + utcOffsetMs(txn.event_time, tz)
    const view = fillView(this.#view, txn, local)
    const ctx = this.#context(m, tz)
    const mcc = m.profile.registeredMcc ?? txn.mcc
    const instances = m.instances
    const changed = this.#changed
    for (let i = 0; i < instances.length; i++) {
      const inst = instances[i]
      changed[i] = inst?.onTransaction(view, ctx, m.stamps, m.acquirerId, mcc) ?? false
    }
    return this.#evaluate(m, ctx, mcc, changed)
  }

  onMerchantEvent(event: MerchantEvent): readonly HitUpdate[] {
    const m = this.#entry(event.acquirer_id, event.merchant_id)
    this.stats.events++
    const p = m.profile
    // The MCC or location may change: the cohort is looked up again on this event.
    m.referencesSeen = -1
    const t = event.event_time
    const since = m.profileTimes
    // Lifecycle facts are kept whatever their lateness (a late onboarding is still the onboarding), but
    // each field takes a value only from an event at least as recent as the one that set it: a late
    // event must not overwrite a newer MCC, address or account.
    if (event.registered_mcc !== null && t >= since.mcc) {
      p.registeredMcc = event.registered_mcc
      since.mcc = t
    }
    if (event.latitude !== null && event.longitude !== null && t >= since.location) {
      p.latitude = event.latitude
      p.longitude = event.longitude
      since.location = t
    }
    if (event.settlement_account_token !== null && t >= since.account) {
      p.settlementAccount = event.settlement_account_token
      since.account = t
    }
    if (event.kind === 'ONBOARDED' && (p.onboardedAt === null || event.event_time < p.onboardedAt)) {
      p.onboardedAt = event.event_time
    }
    if (event.event_time > m.watermark) m.watermark = event.event_time
    const tz = this.#opts.timeZoneOf(m.acquirerId)
    const ctx = this.#context(m, tz)
    for (const inst of m.instances) inst.onMerchantEvent(event, ctx, m.stamps, m.acquirerId, p.registeredMcc)
    // A lifecycle event may change any rule's state or context: every rule is evaluated.
    this.#changed.fill(true)
    return this.#evaluate(m, ctx, p.registeredMcc, this.#changed)
  }

  /** Drops the merchants `which` selects (partitions this instance no longer owns); returns how many. */
  drop(which: (acquirerId: string, merchantId: string) => boolean): number {
    return this.#dropWhere((m) => which(m.acquirerId, m.merchantId))
  }

  /** Whether the engine holds state for this merchant. */
  has(acquirerId: string, merchantId: string): boolean {
    return this.#merchants.get(acquirerId)?.has(merchantId) ?? false
  }

  /** The widest rule window, in days: how much history a rebuild must replay. */
  get retentionDays(): number {
    return this.#retentionMs / DAY_MS
  }

  /** Drops merchants with no event within the widest rule window before `now` (event time). */
  evict(now: number): number {
    return this.#dropWhere((m) => m.watermark < now - this.#retentionMs)
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
      const tz = this.#opts.timeZoneOf(acquirerId)
      const profile: MerchantProfile = {
        registeredMcc: null,
        latitude: null,
        longitude: null,
        onboardedAt: null,
        settlementAccount: null,
      }
      m = {
        acquirerId,
        merchantId,
        profile,
        watermark: Number.NEGATIVE_INFINITY,
        instances: this.#opts.rules.map((r) => r.createInstance()),
        lastFinding: new Map(),
        referencesSeen: -1,
        stamps: { day: 0, time: 0 },
        profileTimes: {
          mcc: Number.NEGATIVE_INFINITY,
          location: Number.NEGATIVE_INFINITY,
          account: Number.NEGATIVE_INFINITY,
        },
        ctx: {
          profile,
          peers: null,
          baseline: null,
          watermark: Number.NEGATIVE_INFINITY,
          watermarkDay: 0,
          dayStart: (day) => {
            const guess = day * DAY_MS
            return guess - utcOffsetMs(guess, tz)
          },
        },
      }
      byMerchant.set(merchantId, m)
      this.#count++
      this.stats.merchants = this.#count
    }
    return m
  }

  /** Brings the merchant's context up to its watermark and current peers and baseline. */
  #context(m: MerchantEntry, tz: string): BaseContext {
    const ctx = m.ctx
    const stamps = m.stamps
    if (ctx.watermark !== m.watermark) {
      ctx.watermark = m.watermark
      stamps.time++
      const day = Math.floor((m.watermark + utcOffsetMs(m.watermark, tz)) / DAY_MS)
      if (day !== ctx.watermarkDay) {
        ctx.watermarkDay = day
        stamps.day++
      }
    }
    // Peers and baseline change only when the merchant's profile changes or the references are
    // refreshed, not per event: looked up again only then.
    if (m.referencesSeen !== this.#references) {
      const p = m.profile
      ctx.peers = this.#opts.peersOf(m.acquirerId, p.registeredMcc, p.latitude, p.longitude)
      ctx.baseline = this.#opts.baselineOf(m.acquirerId, m.merchantId)
      m.referencesSeen = this.#references
      // The profile (an object updated in place) may also have changed: merchant events come here.
      stamps.day++
      stamps.time++
    }
    return ctx
  }

  #evaluate(
    m: MerchantEntry,
    ctx: BaseContext,
    mcc: string | null,
    changed: readonly boolean[],
  ): readonly HitUpdate[] {
    let out: HitUpdate[] | null = null
    const rules = this.#opts.rules
    const timing = this.#opts.ruleTiming
    const timed = timing !== undefined && this.#sampled++ % TIMING_SAMPLE_EVERY === 0
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]
      const inst = m.instances[i]
      if (rule === undefined || inst === undefined) continue
      const started = timed ? performance.now() : 0
      const finding = inst.evaluate(ctx, m.stamps, m.acquirerId, mcc, changed[i] !== false)
      if (timed) timing?.(rule.meta.id, (performance.now() - started) / 1000)
      if (finding === undefined) {
        this.stats.skippedEvaluations++
        continue
      }
      this.stats.evaluations++
      if (finding === null) continue
      const meta = rule.meta
      if (meta.whitelistable && this.#opts.isWhitelisted(m.acquirerId, m.merchantId, meta.id, m.watermark))
        continue
      // Compared before anything is hashed or allocated: a rule that keeps firing with the same
      // evidence is the common case, and writes nothing.
      const key = `${meta.id}\u0000${finding.windowStart}`
      const signature = `${finding.observed}|${finding.threshold}|${finding.windowEnd}|${finding.detail}|${this.#opts.configHash}`
      if (m.lastFinding.get(key) === signature) continue
      m.lastFinding.delete(key)
      m.lastFinding.set(key, signature)
      // Old windows stop firing; keep only the most recently updated hits (Map keeps insertion order).
      if (m.lastFinding.size > MAX_REMEMBERED_HITS) {
        const oldest = m.lastFinding.keys().next()
        if (oldest.done !== true) m.lastFinding.delete(oldest.value)
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
        detectedAt: m.watermark,
        configHash: this.#opts.configHash,
      })
    }
    return out ?? NO_HITS
  }
}

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
  return createHash('sha256')
    .update(`${acquirerId}\u0000${merchantId}\u0000${ruleId}\u0000${windowStart}`)
    .digest('hex')
    .slice(0, 32)
}
