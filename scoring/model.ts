import { createHash } from 'node:crypto'
import type { RuleCategory } from '../rules/engine/types.ts'
import type { AlertReason, RiskAlert, RiskLevel } from '../schemas/types.generated.ts'

/**
 * The scoring model, pure: rule hits in, two scores per merchant (fraud, compliance) with a level, a
 * breakdown and the alert decisions out. No I/O and no clock: "now" is the merchant's event-time
 * watermark (the newest detection time among its hits), so replaying the same hits gives the same
 * scores, the same alerts and the same alert ids.
 */

export const LEVELS: readonly RiskLevel[] = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL']
export const CATEGORIES: readonly RuleCategory[] = ['fraud', 'compliance']

export function levelRank(level: RiskLevel): number {
  return LEVELS.indexOf(level)
}

/** How one rule scores: what the configuration (scoring section) resolved for it. */
export interface RuleScoring {
  readonly category: RuleCategory
  readonly family: string
  /** Points a fresh hit adds. */
  readonly points: number
  /** A strong rule counts alone; a weak one only when hits of another family are live too. */
  readonly strong: boolean
  /** Regulation makes the follow-up mandatory: a hit opens a case by itself. */
  readonly mandatoryCase: boolean
}

export interface ScoringModel {
  /** Short hash of the scoring section, for the logs and the score rows' provenance. */
  readonly hash: string
  readonly rules: ReadonlyMap<string, RuleScoring>
  /** Half-life of each rule family's points, ms. */
  readonly halfLifeMs: ReadonlyMap<string, number>
  /** Lowest score of each level above LOW. */
  readonly levels: { readonly medium: number; readonly high: number; readonly critical: number }
  /** Distinct live families needed before weak rules count. */
  readonly weakMinFamilies: number
  /** A hit whose decayed points fall below this is forgotten (and no longer makes a family live). */
  readonly minLivePoints: number
  readonly alerts: {
    /** Levels below this never alert. */
    readonly minLevel: RiskLevel
    /** After an alert, re-entering a level not above the last alerted one, or a new family at the same level, waits this long. */
    readonly cooldownMs: number
    /** Reasons carried in an alert, strongest first. */
    readonly maxReasons: number
  }
  readonly cases: {
    /** After a mandatory case for a merchant and rule, the next one waits this long. */
    readonly reopenAfterMs: number
  }
}

/** A rule hit as the scorer keeps it: the newest version of each hit id. */
export interface ScoredHit {
  hitId: string
  ruleId: string
  ruleVersion: number
  observed: number
  threshold: number
  windowStart: number
  windowEnd: number
  sampleTxnIds: string[]
  detail: string
  /** Event time of the hit's latest update; its points decay from here. */
  detectedAt: number
}

export interface Contribution {
  readonly hit: ScoredHit
  readonly family: string
  readonly strong: boolean
  /** Points of a fresh hit. */
  readonly points: number
  /** Points after decay. */
  readonly decayed: number
  /**
   * False for a weak rule without a second live family, and for every hit of a rule but its strongest:
   * shown in the breakdown, adds nothing.
   */
  readonly counted: boolean
}

export interface CategoryScore {
  readonly category: RuleCategory
  /** 0-100, the rounded sum of counted decayed points, capped. */
  readonly score: number
  readonly level: RiskLevel
  /** Counted contributions first, each group strongest first. */
  readonly contributions: readonly Contribution[]
  /** Families of the counted contributions, sorted. */
  readonly families: readonly string[]
}

export function levelOf(model: ScoringModel, score: number): RiskLevel {
  const { medium, high, critical } = model.levels
  if (score >= critical) return 'CRITICAL'
  if (score >= high) return 'HIGH'
  if (score >= medium) return 'MEDIUM'
  return 'LOW'
}

export function decayedPoints(points: number, halfLifeMs: number, ageMs: number): number {
  return points * 2 ** (-Math.max(0, ageMs) / halfLifeMs)
}

/** Scores one category of a merchant at event time `now` from its live hits. */
export function scoreCategory(
  model: ScoringModel,
  hits: Iterable<ScoredHit>,
  category: RuleCategory,
  now: number,
): CategoryScore {
  const raw: Omit<Contribution, 'counted'>[] = []
  const liveFamilies = new Set<string>()
  for (const hit of hits) {
    const rule = model.rules.get(hit.ruleId)
    if (rule === undefined || rule.category !== category) continue
    const halfLife = model.halfLifeMs.get(rule.family) ?? Number.POSITIVE_INFINITY
    const decayed = decayedPoints(rule.points, halfLife, now - hit.detectedAt)
    if (decayed < model.minLivePoints) continue
    liveFamilies.add(rule.family)
    raw.push({ hit, family: rule.family, strong: rule.strong, points: rule.points, decayed })
  }
  const combined = liveFamilies.size >= model.weakMinFamilies
  // One rule counts once: a rolling-window rule reports the same pattern for each day's window, which
  // is one piece of evidence, not one per day. Its strongest live hit counts; the others are shown.
  const best = new Map<string, number>()
  for (const c of raw) best.set(c.hit.ruleId, Math.max(best.get(c.hit.ruleId) ?? 0, c.decayed))
  const contributions: Contribution[] = []
  for (const c of raw) {
    const top = best.get(c.hit.ruleId) === c.decayed
    // Equal strongest hits of one rule (same points, same time): only the first is counted.
    if (top) best.set(c.hit.ruleId, Number.POSITIVE_INFINITY)
    contributions.push({ ...c, counted: top && (c.strong || combined) })
  }
  contributions.sort(
    (a, b) =>
      Number(b.counted) - Number(a.counted) ||
      b.decayed - a.decayed ||
      (a.hit.hitId < b.hit.hitId ? -1 : a.hit.hitId > b.hit.hitId ? 1 : 0),
  )
  let sum = 0
  const families = new Set<string>()
  for (const c of contributions) {
    if (!c.counted) continue
    sum += c.decayed
    families.add(c.family)
  }
  const score = Math.min(100, Math.round(sum))
  return { category, score, level: levelOf(model, score), contributions, families: [...families].sort() }
}

/** What the scorer remembers of one category between hits. */
export interface CategoryState {
  /** Level at the last scoring; null before the first hit of this category. */
  level: RiskLevel | null
  /** Score written last, so that an unchanged score writes no row. */
  score: number | null
  lastAlertAt: number | null
  lastAlertLevel: RiskLevel | null
  /** Families behind the last alert: a new one at the same level is news. */
  alertedFamilies: string[]
}

export function emptyCategoryState(): CategoryState {
  return { level: null, score: null, lastAlertAt: null, lastAlertLevel: null, alertedFamilies: [] }
}

/**
 * Whether this scoring escalates: the merchant enters a level (at or above the alert minimum), rises
 * above the level it had, or a new rule family fires at the same level. The cool-down holds back
 * repeats: a new family at the same level, or re-entering a level no higher than the last alerted one.
 * A rise above the last alerted level is never held back: an escalation must not wait.
 */
export function shouldAlert(
  model: ScoringModel,
  state: CategoryState,
  result: CategoryScore,
  now: number,
): boolean {
  const rank = levelRank(result.level)
  if (rank < levelRank(model.alerts.minLevel)) return false
  const previous = state.level === null ? -1 : levelRank(state.level)
  const inCooldown = state.lastAlertAt !== null && now - state.lastAlertAt < model.alerts.cooldownMs
  const aboveLastAlert = state.lastAlertLevel === null || rank > levelRank(state.lastAlertLevel)
  if (rank > previous) return aboveLastAlert || !inCooldown
  if (rank < previous) return false
  const alerted = new Set(state.alertedFamilies)
  return !inCooldown && result.families.some((f) => !alerted.has(f))
}

/**
 * The alert id: a hash of the merchant, category, level and the hits behind the score, so the same
 * situation always gives the same id whoever computes it, and consumers can de-duplicate on it.
 */
export function alertIdOf(
  acquirerId: string,
  merchantId: string,
  category: RuleCategory,
  level: RiskLevel,
  hitIds: readonly string[],
): string {
  const h = createHash('sha256')
  h.update([acquirerId, merchantId, category, level, [...hitIds].sort().join(',')].join('\u0000'))
  return h.digest('hex').slice(0, 32)
}

export function reasonsOf(result: CategoryScore, maxReasons: number): AlertReason[] {
  return result.contributions
    .filter((c) => c.counted)
    .slice(0, maxReasons)
    .map((c) => ({
      rule_id: c.hit.ruleId,
      rule_version: c.hit.ruleVersion,
      description: c.hit.detail,
      observed: c.hit.observed,
      threshold: c.hit.threshold,
      window_start: c.hit.windowStart,
      window_end: c.hit.windowEnd,
      sample_txn_ids: c.hit.sampleTxnIds,
    }))
}

export function buildAlert(
  model: ScoringModel,
  acquirerId: string,
  merchantId: string,
  previous: RiskLevel | null,
  result: CategoryScore,
  now: number,
): RiskAlert {
  const counted = result.contributions.filter((c) => c.counted).map((c) => c.hit.hitId)
  return {
    alert_id: alertIdOf(acquirerId, merchantId, result.category, result.level, counted),
    created_at: now,
    acquirer_id: acquirerId,
    merchant_id: merchantId,
    category: result.category === 'fraud' ? 'FRAUD' : 'COMPLIANCE',
    level: result.level,
    score: result.score,
    previous_level: previous,
    reasons: reasonsOf(result, model.alerts.maxReasons),
  }
}

/** Everything the scorer keeps of one merchant; serialisable as JSON (the state changelog). */
export interface MerchantScoreState {
  acquirerId: string
  merchantId: string
  /** Newest detection time among the merchant's hits: the scorer's "now" for this merchant. */
  watermark: number
  hits: Record<string, ScoredHit>
  fraud: CategoryState
  compliance: CategoryState
  /** When a mandatory case was last opened, per rule id. */
  casesOpened: Record<string, number>
}

export function emptyMerchantState(acquirerId: string, merchantId: string): MerchantScoreState {
  return {
    acquirerId,
    merchantId,
    watermark: 0,
    hits: {},
    fraud: emptyCategoryState(),
    compliance: emptyCategoryState(),
    casesOpened: {},
  }
}

/** A hit as it reaches the scorer. */
export interface IncomingHit extends ScoredHit {
  acquirerId: string
  merchantId: string
}

export interface ScoreChange {
  readonly result: CategoryScore
  readonly at: number
}

export interface CaseRequest {
  readonly caseId: string
  readonly acquirerId: string
  readonly merchantId: string
  readonly ruleId: string
  readonly reason: string
  readonly at: number
}

export interface AlertOut {
  readonly alert: RiskAlert
  /** Rule families behind the alert (not in the RiskAlert record; stored with it). */
  readonly families: readonly string[]
}

export interface Outcome {
  /** Whether the state changed at all (a duplicate or stale hit changes nothing). */
  changed: boolean
  scores: ScoreChange[]
  alerts: AlertOut[]
  cases: CaseRequest[]
}

export function caseIdOf(acquirerId: string, merchantId: string, ruleId: string, hitId: string): string {
  return createHash('sha256')
    .update(`${acquirerId}\u0000${merchantId}\u0000${ruleId}\u0000${hitId}`)
    .digest('hex')
    .slice(0, 32)
}

/**
 * Applies one hit to a merchant's state (mutating it) and says what follows: score changes to store,
 * alerts to publish, cases to open. A hit the state already holds at the same or a newer version
 * changes nothing, so duplicates on the hits topic (it is written at least once) are harmless.
 */
export function applyHit(model: ScoringModel, state: MerchantScoreState, hit: IncomingHit): Outcome {
  const outcome: Outcome = { changed: false, scores: [], alerts: [], cases: [] }
  const rule = model.rules.get(hit.ruleId)
  if (rule === undefined) return outcome
  const known = state.hits[hit.hitId]
  if (known !== undefined && known.detectedAt >= hit.detectedAt) return outcome
  outcome.changed = true
  // Only what scoring reads: the incoming record also carries routing and provenance fields, and the
  // state is written to the changelog on every change.
  state.hits[hit.hitId] = {
    hitId: hit.hitId,
    ruleId: hit.ruleId,
    ruleVersion: hit.ruleVersion,
    observed: hit.observed,
    threshold: hit.threshold,
    windowStart: hit.windowStart,
    windowEnd: hit.windowEnd,
    sampleTxnIds: hit.sampleTxnIds,
    detail: hit.detail,
    detectedAt: hit.detectedAt,
  }
  if (hit.detectedAt > state.watermark) state.watermark = hit.detectedAt
  const now = state.watermark

  const halfLife = model.halfLifeMs.get(rule.family) ?? Number.POSITIVE_INFINITY
  // A replay re-sends old hits the state has already forgotten; they must not open a case again.
  const live = decayedPoints(rule.points, halfLife, now - hit.detectedAt) >= model.minLivePoints
  if (rule.mandatoryCase && known === undefined && live) {
    const last = state.casesOpened[hit.ruleId]
    if (last === undefined || now - last >= model.cases.reopenAfterMs) {
      state.casesOpened[hit.ruleId] = now
      outcome.cases.push({
        caseId: caseIdOf(state.acquirerId, state.merchantId, hit.ruleId, hit.hitId),
        acquirerId: state.acquirerId,
        merchantId: state.merchantId,
        ruleId: hit.ruleId,
        reason: `${hit.ruleId}: ${hit.detail}`,
        at: now,
      })
    }
  }

  rescore(model, state, now, outcome, rule.category)
  return outcome
}

/**
 * Scores both categories at `now`, forgets hits that decayed to nothing, and records score changes (a
 * new score, level or breakdown) and alerts in `outcome`. Also used when time alone moved on (decay can only lower a score, so that
 * never alerts, but the stored score and level follow).
 */
export function rescore(
  model: ScoringModel,
  state: MerchantScoreState,
  now: number,
  outcome: Outcome,
  /** The category a new or updated hit belongs to: its breakdown changed even if its score did not. */
  touched: RuleCategory | null = null,
): void {
  for (const category of CATEGORIES) {
    const cat = state[category]
    const result = scoreCategory(model, Object.values(state.hits), category, now)
    if (cat.level === null && result.contributions.length === 0) continue
    if (shouldAlert(model, cat, result, now)) {
      outcome.alerts.push({
        alert: buildAlert(model, state.acquirerId, state.merchantId, cat.level, result, now),
        families: result.families,
      })
      cat.lastAlertAt = now
      cat.lastAlertLevel = result.level
      cat.alertedFamilies = [...result.families]
    }
    if (result.score !== cat.score || result.level !== cat.level || category === touched) {
      outcome.scores.push({ result, at: now })
      outcome.changed = true
    }
    cat.score = result.score
    cat.level = result.level
  }
  for (const [id, hit] of Object.entries(state.hits)) {
    const rule = model.rules.get(hit.ruleId)
    const halfLife = rule === undefined ? 0 : (model.halfLifeMs.get(rule.family) ?? Number.POSITIVE_INFINITY)
    if (
      rule === undefined ||
      decayedPoints(rule.points, halfLife, now - hit.detectedAt) < model.minLivePoints
    ) {
      delete state.hits[id]
      outcome.changed = true
    }
  }
}
