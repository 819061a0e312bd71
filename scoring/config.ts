import { createHash } from 'node:crypto'
import type { RuleCategory } from '../schemas/stages.ts'
import type { RiskLevel } from '../schemas/types.generated.ts'
import { LEVELS, type RuleScoring, type ScoringModel } from './model.ts'

const DAY_MS = 86_400_000
const HOUR_MS = 3_600_000

/** What the scoring configuration needs to know of a rule: from its declaration. */
export interface ScoredRuleMeta {
  readonly id: string
  readonly category: RuleCategory
  readonly family: string
}

interface RuleDefault {
  points: number
  strong: boolean
  mandatoryCase?: boolean
}

/**
 * Default points per rule. Strong rules are the specific fingerprints of cash-out or a breach: one of
 * them reaches HIGH (60) alone. Weak ones are patterns that legitimate merchants also show (round
 * amounts at a car dealer, night trade at a bar, credit-heavy jewellers): they count only together
 * with a second, independent family. Every registered rule must have an entry (a test checks), so a
 * new rule cannot be left unscored by accident.
 */
export const DEFAULT_RULE_SCORING: Readonly<Record<string, RuleDefault>> = {
  // Fraud: the evasion playbook's own traces.
  structuring: { points: 60, strong: true },
  repeated_card: { points: 60, strong: true },
  swipe_gap: { points: 60, strong: true },
  decline_ratio: { points: 60, strong: true },
  // Fraud: patterns legitimate merchants can share with cash-out.
  credit_debit_mix: { points: 35, strong: false },
  card_ring: { points: 35, strong: false },
  card_recurrence: { points: 35, strong: false },
  near_round_amount: { points: 35, strong: false },
  round_amount: { points: 30, strong: false },
  daily_volume: { points: 35, strong: false },
  high_ticket: { points: 25, strong: false },
  night_share: { points: 20, strong: false },
  new_merchant_ramp: { points: 25, strong: false },
  bin_concentration: { points: 25, strong: false },
  // Compliance: breaches regulation wants followed up whatever the score.
  relocation: { points: 60, strong: true, mandatoryCase: true },
  mcc_mismatch: { points: 60, strong: true, mandatoryCase: true },
  terminal_sharing: { points: 60, strong: true, mandatoryCase: true },
  shared_terminal: { points: 60, strong: true, mandatoryCase: true },
  settlement_churn: { points: 45, strong: true },
  shared_settlement_account: { points: 45, strong: true },
}

/**
 * New merchants at MEDIUM or above a day an acquirer's analysts can review, unless the configuration
 * says otherwise: the level thresholds rise when more arrive (levelsForCapacity).
 */
export const DEFAULT_CAPACITY_PER_DAY = 20

/** Half-lives per rule family: days for velocity patterns, months for lifecycle events. */
export const DEFAULT_HALF_LIFE_DAYS: Readonly<Record<string, number>> = {
  velocity: 7,
  amount: 14,
  volume: 7,
  cards: 30,
  network: 30,
  location: 30,
  lifecycle: 90,
}

type Obj = { readonly [key: string]: unknown }
function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Reads a number at `path` within [min, max]; pushes a problem and returns the default otherwise. */
function num(
  block: Obj,
  key: string,
  path: string,
  def: number,
  problems: string[],
  range: { min: number; max: number; integer?: boolean },
): number {
  const v = block[key]
  if (v === undefined) return def
  if (typeof v !== 'number' || !Number.isFinite(v) || (range.integer === true && !Number.isInteger(v))) {
    problems.push(`${path}.${key}: expected ${range.integer === true ? 'an integer' : 'a number'}`)
    return def
  }
  if (v < range.min || v > range.max) {
    problems.push(`${path}.${key}: ${v} is outside [${range.min}, ${range.max}]`)
    return def
  }
  return v
}

function unknownKeys(block: Obj, path: string, allowed: readonly string[], problems: string[]): void {
  for (const key of Object.keys(block))
    if (!allowed.includes(key)) problems.push(`${path}.${key}: unknown key (expected ${allowed.join(', ')})`)
}

function section(root: Obj, key: string, path: string, problems: string[]): Obj {
  const v = root[key]
  if (v === undefined) return {}
  if (!isObj(v)) {
    problems.push(`${path}.${key}: expected an object`)
    return {}
  }
  return v
}

/**
 * Validates the `scoring` section of the rules configuration file and resolves it against the rules'
 * declarations (category and family). Problems are pushed with the path of the bad key, like the rest
 * of the file. Shape (every key optional):
 *   { "levels": { "medium", "high", "critical" },
 *     "halfLifeDays": { "<family>": days },
 *     "weakMinFamilies": n, "minLivePoints": p, "corroborationShare": s,
 *     "rules": { "<rule>": { "points", "strong", "mandatoryCase" } },
 *     "alerts": { "minLevel", "cooldownHours", "maxReasons" },
 *     "cases": { "reopenAfterDays" },
 *     "capacity": { "newPerDay", "days", "acquirers": { "<acquirer>": newPerDay } },
 *     "decayTickMinutes": m }
 */
export function buildScoringModel(
  raw: unknown,
  metas: readonly ScoredRuleMeta[],
  problems: string[],
): ScoringModel {
  const path = 'scoring'
  const root: Obj = raw === undefined ? {} : isObj(raw) ? raw : {}
  if (raw !== undefined && !isObj(raw)) problems.push(`${path}: expected an object`)
  unknownKeys(
    root,
    path,
    [
      'levels',
      'halfLifeDays',
      'weakMinFamilies',
      'minLivePoints',
      'corroborationShare',
      'rules',
      'alerts',
      'cases',
      'capacity',
      'decayTickMinutes',
    ],
    problems,
  )

  const lv = section(root, 'levels', path, problems)
  unknownKeys(lv, `${path}.levels`, ['medium', 'high', 'critical'], problems)
  const levels = {
    medium: num(lv, 'medium', `${path}.levels`, 30, problems, { min: 1, max: 100 }),
    high: num(lv, 'high', `${path}.levels`, 60, problems, { min: 1, max: 100 }),
    critical: num(lv, 'critical', `${path}.levels`, 85, problems, { min: 1, max: 100 }),
  }
  if (!(levels.medium < levels.high && levels.high < levels.critical))
    problems.push(`${path}.levels: expected medium < high < critical`)

  const families = new Set(metas.map((m) => m.family))
  const hl = section(root, 'halfLifeDays', path, problems)
  const halfLifeMs = new Map<string, number>()
  for (const key of Object.keys(hl))
    if (!families.has(key))
      problems.push(
        `${path}.halfLifeDays.${key}: unknown rule family (expected ${[...families].sort().join(', ')})`,
      )
  for (const family of families) {
    const days = num(hl, family, `${path}.halfLifeDays`, DEFAULT_HALF_LIFE_DAYS[family] ?? 30, problems, {
      min: 0.01,
      max: 3650,
    })
    halfLifeMs.set(family, days * DAY_MS)
  }

  const byId = new Map(metas.map((m) => [m.id, m]))
  const rulesBlock = section(root, 'rules', path, problems)
  for (const key of Object.keys(rulesBlock))
    if (!byId.has(key)) problems.push(`${path}.rules.${key}: unknown rule`)
  const rules = new Map<string, RuleScoring>()
  for (const meta of metas) {
    const rpath = `${path}.rules.${meta.id}`
    const def = DEFAULT_RULE_SCORING[meta.id] ?? { points: 25, strong: false }
    const block = rulesBlock[meta.id]
    const o: Obj = isObj(block) ? block : {}
    if (block !== undefined && !isObj(block)) problems.push(`${rpath}: expected an object`)
    unknownKeys(o, rpath, ['points', 'strong', 'mandatoryCase'], problems)
    const flag = (key: string, d: boolean): boolean => {
      const v = o[key]
      if (v === undefined) return d
      if (typeof v !== 'boolean') {
        problems.push(`${rpath}.${key}: expected true or false`)
        return d
      }
      return v
    }
    const mandatoryCase = flag('mandatoryCase', def.mandatoryCase ?? false)
    if (mandatoryCase && meta.category !== 'compliance')
      problems.push(`${rpath}.mandatoryCase: only compliance rules open cases by themselves`)
    rules.set(meta.id, {
      category: meta.category,
      family: meta.family,
      points: num(o, 'points', rpath, def.points, problems, { min: 0, max: 100 }),
      strong: flag('strong', def.strong),
      mandatoryCase,
    })
  }

  const al = section(root, 'alerts', path, problems)
  unknownKeys(al, `${path}.alerts`, ['minLevel', 'cooldownHours', 'maxReasons'], problems)
  let minLevel: RiskLevel = 'MEDIUM'
  const ml = al.minLevel
  if (ml !== undefined) {
    const found = LEVELS.find((l) => l === ml)
    if (found === undefined) problems.push(`${path}.alerts.minLevel: expected one of ${LEVELS.join(', ')}`)
    else minLevel = found
  }
  const cs = section(root, 'cases', path, problems)
  unknownKeys(cs, `${path}.cases`, ['reopenAfterDays'], problems)

  const cap = section(root, 'capacity', path, problems)
  unknownKeys(cap, `${path}.capacity`, ['newPerDay', 'days', 'acquirers'], problems)
  const perAcquirer = section(cap, 'acquirers', `${path}.capacity`, problems)
  const byAcquirer = new Map<string, number>()
  for (const acq of Object.keys(perAcquirer))
    byAcquirer.set(
      acq,
      num(perAcquirer, acq, `${path}.capacity.acquirers`, DEFAULT_CAPACITY_PER_DAY, problems, {
        min: 1,
        max: 100_000,
      }),
    )

  return {
    hash: createHash('sha256')
      .update(JSON.stringify(canonical(root)))
      .digest('hex')
      .slice(0, 16),
    rules,
    halfLifeMs,
    levels,
    weakMinFamilies: num(root, 'weakMinFamilies', path, 2, problems, { min: 1, max: 10, integer: true }),
    minLivePoints: num(root, 'minLivePoints', path, 0.5, problems, { min: 0.01, max: 100 }),
    corroborationShare: num(root, 'corroborationShare', path, 0.5, problems, { min: 0, max: 1 }),
    alerts: {
      minLevel,
      cooldownMs:
        num(al, 'cooldownHours', `${path}.alerts`, 24, problems, { min: 0, max: 24 * 365 }) * HOUR_MS,
      maxReasons: num(al, 'maxReasons', `${path}.alerts`, 10, problems, { min: 1, max: 50, integer: true }),
    },
    cases: {
      reopenAfterMs:
        num(cs, 'reopenAfterDays', `${path}.cases`, 30, problems, { min: 0, max: 3650 }) * DAY_MS,
    },
    levelsByAcquirer: new Map(),
    capacity: {
      perDay: num(cap, 'newPerDay', `${path}.capacity`, DEFAULT_CAPACITY_PER_DAY, problems, {
        min: 1,
        max: 100_000,
      }),
      days: num(cap, 'days', `${path}.capacity`, 7, problems, { min: 1, max: 90, integer: true }),
      byAcquirer,
    },
    decayTickMs:
      num(root, 'decayTickMinutes', path, 60, problems, { min: 1, max: 24 * 60, integer: true }) * 60_000,
  }
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical)
  if (isObj(v))
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical(v[k])]),
    )
  return v
}
