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

type BaseContext = Omit<RuleContext<never>, 'params'>

interface RuleInstance {
  onTransaction(txn: RuleTxn, ctx: BaseContext, acquirerId: string, mcc: string | null): void
  onMerchantEvent(event: MerchantEvent, ctx: BaseContext, acquirerId: string, mcc: string | null): void
  evaluate(ctx: BaseContext, acquirerId: string, mcc: string | null): Finding | null
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
): CompiledRule {
  const { id, version, category, family, description, whitelistable, retentionDays } = rule
  return {
    meta: { id, version, category, family, description, whitelistable, retentionDays },
    createInstance() {
      const state = rule.createState()
      return {
        onTransaction(txn, ctx, acquirerId, mcc) {
          rule.onTransaction?.(state, txn, { ...ctx, params: paramsFor(acquirerId, mcc) })
        },
        onMerchantEvent(event, ctx, acquirerId, mcc) {
          rule.onMerchantEvent?.(state, event, { ...ctx, params: paramsFor(acquirerId, mcc) })
        },
        evaluate(ctx, acquirerId, mcc) {
          return rule.evaluate(state, { ...ctx, params: paramsFor(acquirerId, mcc) })
        },
      }
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
  peersOf: (acquirerId: string, mcc: string | null) => PeerStats | null
  /** A merchant's own history; null when it has none yet. */
  baselineOf: (acquirerId: string, merchantId: string) => MerchantBaseline | null
}

interface MerchantEntry {
  acquirerId: string
  merchantId: string
  profile: MerchantProfile
  watermark: number
  instances: RuleInstance[]
  /** Last finding per rule by hit id, so an unchanged finding is not written again. */
  lastFinding: Map<string, string>
}

export interface EngineStats {
  events: number
  tooLate: number
  hits: number
  merchants: number
}

/**
 * The rule engine for the merchants of the partitions an instance owns. Pure and synchronous: events
 * in, hit updates out; the caller stores hits and owns I/O. State is per merchant, with each rule's own
 * state inside; a merchant idle for longer than the widest rule window is dropped by `evict`.
 */
export class RuleEngine {
  readonly stats: EngineStats = { events: 0, tooLate: 0, hits: 0, merchants: 0 }
  readonly #merchants = new Map<string, MerchantEntry>()
  #opts: EngineOptions
  readonly #retentionMs: number

  constructor(opts: EngineOptions) {
    const ids = new Set<string>()
    for (const r of opts.rules) {
      if (ids.has(r.meta.id)) throw new Error(`duplicate rule id ${r.meta.id}`)
      ids.add(r.meta.id)
    }
    this.#opts = opts
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
    if (layersOf !== undefined) {
      for (const rule of this.#opts.rules) {
        const layers = layersOf(rule.meta.id)
        if (layers !== undefined) rule.retune?.(layers)
      }
    }
    this.#opts = { ...this.#opts, ...rest }
  }

  get merchantCount(): number {
    return this.#merchants.size
  }

  onTransaction(txn: TerminalTransaction): HitUpdate[] {
    const m = this.#entry(txn.acquirer_id, txn.merchant_id)
    this.stats.events++
    if (txn.event_time < m.watermark - this.#opts.allowedLatenessMs) {
      this.stats.tooLate++
      return []
    }
    if (txn.event_time > m.watermark) m.watermark = txn.event_time
    const tz = this.#opts.timeZoneOf(m.acquirerId)
    const local = txn.event_time + utcOffsetMs(txn.event_time, tz)
    const view: RuleTxn = {
      ...txn,
      localDay: Math.floor(local / DAY_MS),
      localHour: Math.floor((local - Math.floor(local / DAY_MS) * DAY_MS) / 3_600_000),
      minorPerMajor: minorPerMajor(txn.currency),
      approved: txn.response_code === '00',
      sale: txn.txn_type === 'PURCHASE' || txn.txn_type === 'PREAUTH_COMPLETION',
    }
    const ctx = this.#context(m, tz)
    const mcc = m.profile.registeredMcc ?? txn.mcc
    for (const inst of m.instances) inst.onTransaction(view, ctx, m.acquirerId, mcc)
    return this.#evaluate(m, ctx, mcc)
  }

  onMerchantEvent(event: MerchantEvent): HitUpdate[] {
    const m = this.#entry(event.acquirer_id, event.merchant_id)
    this.stats.events++
    const p = m.profile
    // Lifecycle facts are kept whatever their lateness: a late onboarding is still the onboarding.
    if (event.registered_mcc !== null) p.registeredMcc = event.registered_mcc
    if (event.latitude !== null && event.longitude !== null) {
      p.latitude = event.latitude
      p.longitude = event.longitude
    }
    if (event.settlement_account_token !== null) p.settlementAccount = event.settlement_account_token
    if (event.kind === 'ONBOARDED' && (p.onboardedAt === null || event.event_time < p.onboardedAt)) {
      p.onboardedAt = event.event_time
    }
    if (event.event_time > m.watermark) m.watermark = event.event_time
    const tz = this.#opts.timeZoneOf(m.acquirerId)
    const ctx = this.#context(m, tz)
    for (const inst of m.instances) inst.onMerchantEvent(event, ctx, m.acquirerId, p.registeredMcc)
    return this.#evaluate(m, ctx, p.registeredMcc)
  }

  /** Drops the merchants `which` selects (partitions this instance no longer owns); returns how many. */
  drop(which: (acquirerId: string, merchantId: string) => boolean): number {
    let dropped = 0
    for (const [key, m] of this.#merchants) {
      if (which(m.acquirerId, m.merchantId)) {
        this.#merchants.delete(key)
        dropped++
      }
    }
    this.stats.merchants = this.#merchants.size
    return dropped
  }

  /** The widest rule window, in days: how much history a rebuild must replay. */
  get retentionDays(): number {
    return this.#retentionMs / DAY_MS
  }

  /** Drops merchants with no event within the widest rule window before `now` (event time). */
  evict(now: number): number {
    let dropped = 0
    for (const [key, m] of this.#merchants) {
      if (m.watermark < now - this.#retentionMs) {
        this.#merchants.delete(key)
        dropped++
      }
    }
    this.stats.merchants = this.#merchants.size
    return dropped
  }

  #entry(acquirerId: string, merchantId: string): MerchantEntry {
    const key = `${acquirerId}\u0000${merchantId}`
    let m = this.#merchants.get(key)
    if (m === undefined) {
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
        watermark: Number.NEGATIVE_INFINITY,
        instances: this.#opts.rules.map((r) => r.createInstance()),
        lastFinding: new Map(),
      }
      this.#merchants.set(key, m)
      this.stats.merchants = this.#merchants.size
    }
    return m
  }

  #context(m: MerchantEntry, tz: string): BaseContext {
    const watermarkDay =
      m.watermark === Number.NEGATIVE_INFINITY
        ? 0
        : Math.floor((m.watermark + utcOffsetMs(m.watermark, tz)) / DAY_MS)
    const mcc = m.profile.registeredMcc
    return {
      profile: m.profile,
      peers: this.#opts.peersOf(m.acquirerId, mcc),
      baseline: this.#opts.baselineOf(m.acquirerId, m.merchantId),
      watermark: m.watermark,
      watermarkDay,
      dayStart: (day) => {
        const guess = day * DAY_MS
        return guess - utcOffsetMs(guess, tz)
      },
    }
  }

  #evaluate(m: MerchantEntry, ctx: BaseContext, mcc: string | null): HitUpdate[] {
    const out: HitUpdate[] = []
    this.#opts.rules.forEach((rule, i) => {
      const inst = m.instances[i]
      if (inst === undefined) return
      const finding = inst.evaluate(ctx, m.acquirerId, mcc)
      if (finding === null) return
      const meta = rule.meta
      if (meta.whitelistable && this.#opts.isWhitelisted(m.acquirerId, m.merchantId, meta.id, m.watermark))
        return
      const hitId = createHash('sha256')
        .update(`${m.acquirerId}\u0000${m.merchantId}\u0000${meta.id}\u0000${finding.windowStart}`)
        .digest('hex')
        .slice(0, 32)
      const signature = `${finding.observed}|${finding.threshold}|${finding.windowEnd}|${this.#opts.configHash}`
      if (m.lastFinding.get(hitId) === signature) return
      m.lastFinding.delete(hitId)
      m.lastFinding.set(hitId, signature)
      // Old windows stop firing; keep only the most recently updated hits (Map keeps insertion order).
      if (m.lastFinding.size > MAX_REMEMBERED_HITS) {
        const oldest = m.lastFinding.keys().next()
        if (oldest.done !== true) m.lastFinding.delete(oldest.value)
      }
      this.stats.hits++
      out.push({
        hitId,
        acquirerId: m.acquirerId,
        merchantId: m.merchantId,
        ruleId: meta.id,
        ruleVersion: meta.version,
        category: meta.category,
        finding,
        detectedAt: m.watermark,
        configHash: this.#opts.configHash,
      })
    })
    return out
  }
}
