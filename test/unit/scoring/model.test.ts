import { describe, expect, it } from 'vitest'
import { buildRulesConfig } from '../../../rules/engine/config.ts'
import { ENTITY_RULES } from '../../../rules/entity/index.ts'
import { RULES } from '../../../rules/index.ts'
import { DEFAULT_RULE_SCORING } from '../../../scoring/config.ts'
import {
  alertIdOf,
  applyHit,
  decayedPoints,
  emptyMerchantState,
  type IncomingHit,
  levelOf,
  type MerchantScoreState,
  type Outcome,
  rescore,
  type ScoringModel,
  scoreCategory,
} from '../../../scoring/model.ts'

const DAY = 86_400_000
const HOUR = 3_600_000
const T0 = Date.UTC(2026, 10, 1)

function modelOf(scoring: unknown = {}): ScoringModel {
  return buildRulesConfig({ scoring }, RULES, 'test', ENTITY_RULES).scoring
}

let seq = 0
function hit(ruleId: string, detectedAt: number, over: Partial<IncomingHit> = {}): IncomingHit {
  seq++
  return {
    hitId: `${ruleId}-${seq}`,
    acquirerId: 'acq-a',
    merchantId: 'm-1',
    ruleId,
    ruleVersion: 1,
    observed: 0.9,
    threshold: 0.5,
    windowStart: detectedAt - DAY,
    windowEnd: detectedAt,
    sampleTxnIds: [`t-${seq}`],
    detail: `${ruleId} fired`,
    detectedAt,
    ...over,
  }
}

function fresh(): MerchantScoreState {
  return emptyMerchantState('acq-a', 'm-1')
}

describe('decay', () => {
  it('halves the points every half-life and never grows them for future hits', () => {
    expect(decayedPoints(60, 7 * DAY, 0)).toBe(60)
    expect(decayedPoints(60, 7 * DAY, 7 * DAY)).toBeCloseTo(30, 10)
    expect(decayedPoints(60, 7 * DAY, 14 * DAY)).toBeCloseTo(15, 10)
    expect(decayedPoints(60, 7 * DAY, -DAY)).toBe(60)
  })

  it('uses the half-life of the rule family: velocity fades in days, lifecycle in months', () => {
    const model = modelOf()
    const velocity = scoreCategory(model, [hit('repeated_card', T0)], 'fraud', T0 + 7 * DAY)
    expect(velocity.score).toBe(30)
    const lifecycle = scoreCategory(model, [hit('terminal_sharing', T0)], 'compliance', T0 + 7 * DAY)
    expect(lifecycle.score).toBe(Math.round(60 * 2 ** (-7 / 90)))
  })

  it('forgets hits whose points decayed below the live floor', () => {
    const model = modelOf()
    const state = fresh()
    applyHit(model, state, hit('repeated_card', T0))
    expect(Object.keys(state.hits)).toHaveLength(1)
    const outcome: Outcome = { changed: false, scores: [], alerts: [], cases: [] }
    // 60 points fall below 0.5 after log2(120) ≈ 6.9 half-lives of 7 days.
    rescore(model, state, T0 + 49 * DAY, outcome)
    expect(Object.keys(state.hits)).toHaveLength(0)
    expect(state.fraud.score).toBe(0)
    expect(state.fraud.level).toBe('LOW')
    expect(outcome.alerts).toHaveLength(0)
  })
})

describe('combination', () => {
  const model = modelOf()

  it('lets a strong rule reach HIGH alone', () => {
    const r = scoreCategory(model, [hit('structuring', T0)], 'fraud', T0)
    expect(r.score).toBe(60)
    expect(r.level).toBe('HIGH')
  })

  it('shows a lone weak rule in the breakdown but counts it for nothing', () => {
    const r = scoreCategory(model, [hit('round_amount', T0)], 'fraud', T0)
    expect(r.score).toBe(0)
    expect(r.level).toBe('LOW')
    expect(r.contributions).toHaveLength(1)
    expect(r.contributions[0]?.counted).toBe(false)
  })

  it('counts weak rules of two independent families together', () => {
    const r = scoreCategory(model, [hit('round_amount', T0), hit('credit_debit_mix', T0)], 'fraud', T0)
    expect(r.score).toBe(65)
    expect(r.level).toBe('HIGH')
    expect(r.families).toEqual(['amount', 'cards'])
  })

  it('does not combine two weak rules of the same family', () => {
    const r = scoreCategory(model, [hit('round_amount', T0), hit('near_round_amount', T0)], 'fraud', T0)
    expect(r.score).toBe(0)
  })

  it('follows a configured weakMinFamilies', () => {
    const one = modelOf({ weakMinFamilies: 1 })
    expect(scoreCategory(one, [hit('round_amount', T0)], 'fraud', T0).score).toBe(30)
  })

  it('keeps fraud and compliance apart', () => {
    const hits = [hit('structuring', T0), hit('relocation', T0)]
    expect(scoreCategory(model, hits, 'fraud', T0).contributions.map((c) => c.hit.ruleId)).toEqual([
      'structuring',
    ])
    expect(scoreCategory(model, hits, 'compliance', T0).contributions.map((c) => c.hit.ruleId)).toEqual([
      'relocation',
    ])
  })

  it('caps the score at 100', () => {
    const hits = [hit('structuring', T0), hit('repeated_card', T0), hit('swipe_gap', T0)]
    expect(scoreCategory(model, hits, 'fraud', T0).score).toBe(100)
  })

  it('has a breakdown whose counted decayed points sum to the score, strongest first', () => {
    const hits = [
      hit('round_amount', T0 - 3 * DAY),
      hit('credit_debit_mix', T0 - DAY),
      hit('night_share', T0),
    ]
    const r = scoreCategory(model, hits, 'fraud', T0)
    const counted = r.contributions.filter((c) => c.counted)
    expect(counted).toHaveLength(3)
    expect(Math.round(counted.reduce((s, c) => s + c.decayed, 0))).toBe(r.score)
    const decayed = counted.map((c) => c.decayed)
    expect(decayed).toEqual([...decayed].sort((a, b) => b - a))
    expect(r.contributions[0]?.hit.ruleId).toBe('credit_debit_mix')
  })
})

describe('levels', () => {
  it('cuts at the configured scores', () => {
    const model = modelOf({ levels: { medium: 25, high: 50, critical: 75 } })
    expect([0, 24, 25, 49, 50, 74, 75, 100].map((s) => levelOf(model, s))).toEqual([
      'LOW',
      'LOW',
      'MEDIUM',
      'MEDIUM',
      'HIGH',
      'HIGH',
      'CRITICAL',
      'CRITICAL',
    ])
  })

  it('defaults to 30 / 60 / 85', () => {
    const model = modelOf()
    expect([29, 30, 59, 60, 84, 85].map((s) => levelOf(model, s))).toEqual([
      'LOW',
      'MEDIUM',
      'MEDIUM',
      'HIGH',
      'HIGH',
      'CRITICAL',
    ])
  })
})

describe('alerts', () => {
  const model = modelOf()

  it('alerts when a merchant enters a level, with the reasons strongest first', () => {
    const state = fresh()
    const o = applyHit(model, state, hit('structuring', T0))
    expect(o.alerts).toHaveLength(1)
    const a = o.alerts[0]?.alert
    expect(a?.level).toBe('HIGH')
    expect(a?.category).toBe('FRAUD')
    expect(a?.previous_level).toBeNull()
    expect(a?.score).toBe(60)
    expect(a?.created_at).toBe(T0)
    expect(a?.reasons.map((r) => r.rule_id)).toEqual(['structuring'])
    expect(a?.reasons[0]?.sample_txn_ids).toHaveLength(1)
  })

  it('does not alert below the minimum level', () => {
    const state = fresh()
    // 20 points of night share plus 25 of high ticket: 45, MEDIUM; with minLevel HIGH no alert.
    const strict = modelOf({ alerts: { minLevel: 'HIGH' } })
    expect(applyHit(strict, state, hit('night_share', T0)).alerts).toHaveLength(0)
    const o = applyHit(strict, state, hit('high_ticket', T0))
    expect(state.fraud.level).toBe('MEDIUM')
    expect(o.alerts).toHaveLength(0)
  })

  it('does not repeat for the same hit updated, nor for a duplicate', () => {
    const state = fresh()
    const h = hit('structuring', T0)
    expect(applyHit(model, state, h).alerts).toHaveLength(1)
    const dup = applyHit(model, state, h)
    expect(dup.changed).toBe(false)
    expect(dup.alerts).toHaveLength(0)
    expect(applyHit(model, state, { ...h, detectedAt: T0 + HOUR, observed: 0.95 }).alerts).toHaveLength(0)
  })

  it('alerts on a rise, even inside the cool-down', () => {
    const state = fresh()
    applyHit(model, state, hit('structuring', T0))
    const o = applyHit(model, state, hit('repeated_card', T0 + HOUR))
    expect(o.alerts).toHaveLength(1)
    expect(o.alerts[0]?.alert.level).toBe('CRITICAL')
    expect(o.alerts[0]?.alert.previous_level).toBe('HIGH')
  })

  it('alerts on a new family at the same level only after the cool-down', () => {
    const m = modelOf({
      rules: { structuring: { points: 40 }, swipe_gap: { points: 10 }, decline_ratio: { points: 10 } },
    })
    const state = fresh()
    expect(applyHit(m, state, hit('structuring', T0)).alerts).toHaveLength(1) // MEDIUM, amount
    // A velocity rule at the same level within 24 h: held back.
    expect(applyHit(m, state, hit('swipe_gap', T0 + HOUR)).alerts).toHaveLength(0)
    expect(state.fraud.level).toBe('MEDIUM')
    // Another new hit of the same (velocity) family after the cool-down is news: velocity was not alerted.
    const later = applyHit(m, state, hit('decline_ratio', T0 + 25 * HOUR))
    expect(state.fraud.level).toBe('MEDIUM')
    expect(later.alerts).toHaveLength(1)
    expect(later.alerts[0]?.families).toEqual(['amount', 'velocity'])
  })

  it('holds back re-entering a level inside the cool-down, and alerts after it', () => {
    const m = modelOf({ alerts: { cooldownHours: 24 * 30 } })
    const state = fresh()
    applyHit(m, state, hit('repeated_card', T0)) // HIGH
    // 14 days later the velocity hit has decayed to 15: LOW. (A compliance hit moves the merchant's time.)
    applyHit(m, state, hit('relocation', T0 + 14 * DAY))
    expect(state.fraud.level).toBe('LOW')
    // Back to HIGH on day 15, inside the 30-day cool-down: no alert.
    expect(applyHit(m, state, hit('repeated_card', T0 + 15 * DAY)).alerts).toHaveLength(0)
    expect(state.fraud.level).toBe('HIGH')
    // Down again, and back on day 60, after the cool-down: an alert.
    applyHit(m, state, hit('relocation', T0 + 45 * DAY))
    expect(state.fraud.level).toBe('LOW')
    const back = applyHit(m, state, hit('repeated_card', T0 + 60 * DAY))
    expect(back.alerts.map((a) => a.alert.level)).toEqual(['HIGH'])
    expect(back.alerts[0]?.alert.previous_level).toBe('LOW')
  })

  it('gives the same alert id to the same situation, whatever the order of the hits', () => {
    const a = alertIdOf('acq-a', 'm-1', 'fraud', 'HIGH', ['h1', 'h2'])
    expect(alertIdOf('acq-a', 'm-1', 'fraud', 'HIGH', ['h2', 'h1'])).toBe(a)
    expect(alertIdOf('acq-b', 'm-1', 'fraud', 'HIGH', ['h1', 'h2'])).not.toBe(a)
    expect(alertIdOf('acq-a', 'm-1', 'fraud', 'CRITICAL', ['h1', 'h2'])).not.toBe(a)

    const h1 = hit('structuring', T0)
    const first = applyHit(model, fresh(), h1).alerts[0]?.alert.alert_id
    const again = applyHit(model, fresh(), h1).alerts[0]?.alert.alert_id
    expect(first).toBeDefined()
    expect(again).toBe(first)
  })

  it('replays to the same alerts and state', () => {
    const hits = [
      hit('round_amount', T0),
      hit('credit_debit_mix', T0 + HOUR),
      hit('structuring', T0 + 2 * HOUR),
      hit('relocation', T0 + 3 * HOUR),
    ]
    const run = () => {
      const s = fresh()
      const ids = hits.flatMap((h) => applyHit(model, s, h).alerts.map((a) => a.alert.alert_id))
      return { ids, state: JSON.stringify(s) }
    }
    const one = run()
    expect(one.ids.length).toBeGreaterThanOrEqual(2)
    expect(run()).toEqual(one)
  })
})

describe('mandatory cases', () => {
  const model = modelOf()

  it('opens a case for a mandatory compliance rule, once per reopen period', () => {
    const state = fresh()
    const first = applyHit(model, state, hit('relocation', T0))
    expect(first.cases).toHaveLength(1)
    expect(first.cases[0]?.ruleId).toBe('relocation')
    expect(applyHit(model, state, hit('relocation', T0 + DAY)).cases).toHaveLength(0)
    expect(applyHit(model, state, hit('relocation', T0 + 31 * DAY)).cases).toHaveLength(1)
  })

  it('opens none for rules that do not ask for one, nor for an old replayed hit', () => {
    const state = fresh()
    expect(applyHit(model, state, hit('settlement_churn', T0)).cases).toHaveLength(0)
    applyHit(model, state, hit('structuring', T0 + 400 * DAY))
    expect(applyHit(model, state, hit('relocation', T0)).cases).toHaveLength(0)
  })
})

describe('scoring configuration', () => {
  const problemsOf = (scoring: unknown): string => {
    try {
      buildRulesConfig({ scoring }, RULES, 'rules.json', ENTITY_RULES)
      return ''
    } catch (e) {
      return e instanceof Error ? e.message : String(e)
    }
  }

  it('has a default for every registered rule', () => {
    const ids = [
      ...RULES.map((r) => r.meta.id),
      ...buildRulesConfig({}, RULES, 't', ENTITY_RULES).entityRules.map((r) => r.meta.id),
    ]
    expect(ids.filter((id) => DEFAULT_RULE_SCORING[id] === undefined)).toEqual([])
  })

  it.each([
    [{ levels: { medium: 70, high: 60 } }, 'scoring.levels: expected medium < high < critical'],
    [{ levels: { high: 'x' } }, 'scoring.levels.high: expected a number'],
    [{ rules: { no_such_rule: { points: 1 } } }, 'scoring.rules.no_such_rule: unknown rule'],
    [
      { rules: { structuring: { points: 101 } } },
      'scoring.rules.structuring.points: 101 is outside [0, 100]',
    ],
    [{ rules: { structuring: { weight: 1 } } }, 'scoring.rules.structuring.weight: unknown key'],
    [
      { rules: { structuring: { mandatoryCase: true } } },
      'scoring.rules.structuring.mandatoryCase: only compliance',
    ],
    [{ halfLifeDays: { feelings: 3 } }, 'scoring.halfLifeDays.feelings: unknown rule family'],
    [
      { alerts: { minLevel: 'SEVERE' } },
      'scoring.alerts.minLevel: expected one of LOW, MEDIUM, HIGH, CRITICAL',
    ],
    [{ weakMinFamilies: 1.5 }, 'scoring.weakMinFamilies: expected an integer'],
    [{ colour: 'red' }, 'scoring.colour: unknown key'],
    ['loud', 'scoring: expected an object'],
  ])('rejects %j with the path of the bad key', (scoring, message) => {
    expect(problemsOf(scoring)).toContain(message)
  })

  it('applies overrides', () => {
    const m = modelOf({ rules: { round_amount: { points: 70, strong: true } }, halfLifeDays: { amount: 1 } })
    const r = scoreCategory(m, [hit('round_amount', T0)], 'fraud', T0 + DAY)
    expect(r.score).toBe(35)
  })
})

describe('one rule, many windows', () => {
  it('counts a rule once, by its strongest live hit, and shows the others', () => {
    const model = modelOf()
    const hits = [hit('structuring', T0 - 2 * DAY), hit('structuring', T0 - DAY), hit('structuring', T0)]
    const r = scoreCategory(model, hits, 'fraud', T0)
    expect(r.score).toBe(60)
    expect(r.contributions.map((c) => c.counted)).toEqual([true, false, false])
    expect(r.contributions[0]?.hit.detectedAt).toBe(T0)
  })

  it('still adds different rules', () => {
    const model = modelOf()
    const r = scoreCategory(
      model,
      [hit('structuring', T0), hit('structuring', T0), hit('swipe_gap', T0)],
      'fraud',
      T0,
    )
    expect(r.score).toBe(100)
    expect(r.contributions.filter((c) => c.counted).map((c) => c.hit.ruleId)).toEqual([
      'structuring',
      'swipe_gap',
    ])
  })
})
