import { describe, expect, it } from 'vitest'
import { buildRulesConfig } from '../../../rules/engine/config.ts'
import { ENTITY_RULES } from '../../../rules/entity/index.ts'
import { RULES } from '../../../rules/index.ts'
import { DEFAULT_RULE_SCORING } from '../../../scoring/config.ts'
import {
  advanceClock,
  alertIdOf,
  applyHit,
  decayedPoints,
  decayTo,
  emptyMerchantState,
  type IncomingHit,
  levelOf,
  levelsForCapacity,
  type MerchantScoreState,
  newDecayClock,
  type Outcome,
  rescore,
  type ScoringModel,
  scoreCategory,
  withLevels,
} from '../../../scoring/model.ts'
import { jsonWithMaps } from '../../helpers/json.ts'

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
    const ids = [...state.hits.keys()]
    expect(ids).toHaveLength(1)
    const outcome: Outcome = { changed: false, scores: [], alerts: [], cases: [], forgotten: [] }
    // 60 points fall below 0.5 after log2(120) ≈ 6.9 half-lives of 7 days.
    rescore(model, state, T0 + 49 * DAY, outcome)
    expect([...state.hits.keys()]).toHaveLength(0)
    // The changelog deletes the forgotten hit's record by this id.
    expect(outcome.forgotten).toEqual(ids)
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

  it('pairs only hits that keep half their points (corroborationShare), any live hit with 0', () => {
    // credit_debit_mix (cards, 30-day half-life) 40 days old keeps 35 × 2^(-4/3) ≈ 13.9 of its 35
    // points (40%); high_ticket is fresh. With a share of 0, any live hit corroborates.
    const any = modelOf({ corroborationShare: 0 })
    const hits = [hit('credit_debit_mix', T0 - 40 * DAY), hit('high_ticket', T0)]
    expect(scoreCategory(any, hits, 'fraud', T0).score).toBe(39)
    const half = model
    expect(half.corroborationShare).toBe(0.5)
    const r = scoreCategory(half, hits, 'fraud', T0)
    expect(r.score).toBe(0)
    expect(r.contributions.map((c) => c.counted)).toEqual([false, false])
    // At 20 days it keeps 63%: a pair again.
    const recent = [hit('credit_debit_mix', T0 - 20 * DAY), hit('high_ticket', T0)]
    expect(scoreCategory(half, recent, 'fraud', T0).score).toBe(47)
    // A faded strong hit still counts alone, but no longer makes a weak one count; nor anchors a
    // provisional one.
    const strong = [hit('repeated_card', T0 - 10 * DAY), hit('round_amount', T0)]
    expect(scoreCategory(any, strong, 'fraud', T0).score).toBe(Math.round(60 * 2 ** (-10 / 7) + 30))
    expect(scoreCategory(half, strong, 'fraud', T0).score).toBe(Math.round(60 * 2 ** (-10 / 7)))
    const anchor = [
      hit('daily_volume', T0 - 10 * DAY, { basis: 'peers' }),
      hit('round_amount', T0, { basis: 'population' }),
    ]
    expect(scoreCategory(any, anchor, 'fraud', T0).score).toBe(Math.round(35 * 2 ** (-10 / 7) + 30))
    expect(scoreCategory(half, anchor, 'fraud', T0).score).toBe(0)
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
      return { ids, state: jsonWithMaps(s) }
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
    [{ corroborationShare: 1.5 }, 'scoring.corroborationShare: 1.5 is outside [0, 1]'],
    [{ capacity: { newPerDay: 0 } }, 'scoring.capacity.newPerDay: 0 is outside [1, 100000]'],
    [{ capacity: { acquirers: { 'acq-x': 'many' } } }, 'scoring.capacity.acquirers.acq-x: expected a number'],
    [{ capacity: { perWeek: 3 } }, 'scoring.capacity.perWeek: unknown key'],
    [{ decayTickMinutes: 0 }, 'scoring.decayTickMinutes: 0 is outside [1, 1440]'],
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

describe('calibration basis', () => {
  const model = modelOf()
  const at = T0 + HOUR

  it.each([
    {
      name: 'two weak hits compared with peers make a pair',
      hits: [hit('credit_debit_mix', T0, { basis: 'peers' }), hit('high_ticket', T0, { basis: 'peers' })],
      score: 60,
    },
    {
      name: 'two weak hits compared with the population only (a thin cohort) do not',
      hits: [
        hit('credit_debit_mix', T0, { basis: 'population' }),
        hit('high_ticket', T0, { basis: 'population' }),
      ],
      score: 0,
    },
    {
      name: 'nor two hits on absolute floors (no baseline yet)',
      hits: [hit('credit_debit_mix', T0, { basis: 'none' }), hit('round_amount', T0, { basis: 'none' })],
      score: 0,
    },
    {
      name: 'an uncalibrated hit counts beside calibrated evidence of another family',
      hits: [
        hit('credit_debit_mix', T0, { basis: 'peers' }),
        hit('high_ticket', T0, { basis: 'population' }),
      ],
      score: 60,
    },
    {
      name: 'but not beside calibrated evidence of its own family',
      hits: [
        hit('credit_debit_mix', T0, { basis: 'peers' }),
        hit('card_recurrence', T0, { basis: 'absolute' }),
      ],
      score: 0,
    },
    {
      name: 'an uncalibrated hit counts beside a strong rule of another family',
      hits: [hit('structuring', T0), hit('credit_debit_mix', T0, { basis: 'population' })],
      score: 95,
    },
    {
      name: 'a hit on floors alone (no baseline yet) never counts, not even beside a strong rule',
      hits: [hit('structuring', T0), hit('credit_debit_mix', T0, { basis: 'none' })],
      score: 60,
    },
    {
      name: 'a hit on an absolute threshold by design counts beside calibrated evidence',
      hits: [hit('high_ticket', T0, { basis: 'peers' }), hit('card_recurrence', T0, { basis: 'absolute' })],
      score: 60,
    },
    {
      name: 'a weak rule that compares with nothing (a playbook trace) counts as calibrated',
      hits: [hit('near_round_amount', T0), hit('credit_debit_mix', T0, { basis: 'population' })],
      score: 70,
    },
  ])('$name', ({ hits, score }) => {
    const r = scoreCategory(model, hits, 'fraud', at)
    expect(r.score).toBe(score)
    const provisional = r.contributions.filter((c) => c.provisional).map((c) => c.hit.ruleId)
    expect(provisional).toEqual(
      hits
        .filter((h) => h.basis === 'population' || h.basis === 'absolute' || h.basis === 'none')
        .map((h) => h.ruleId),
    )
  })
})

describe('decay on the clock', () => {
  const model = modelOf()

  /** Hits of one merchant and pings of others on one partition, in topic order, with decay passes. */
  function replay(hits: readonly IncomingHit[]) {
    const states = new Map<string, MerchantScoreState>()
    const clock = newDecayClock()
    const log: string[] = []
    for (const h of hits) {
      const tick = advanceClock(clock, h.detectedAt, model.decayTickMs)
      if (tick !== null)
        for (const st of states.values())
          for (const s of decayTo(model, st, tick).scores)
            log.push(`${st.merchantId} ${tick} ${s.result.category} ${s.result.score} ${s.result.level}`)
      let st = states.get(h.merchantId)
      if (st === undefined) {
        st = emptyMerchantState(h.acquirerId, h.merchantId)
        states.set(h.merchantId, st)
      }
      const out = applyHit(model, st, h)
      for (const s of out.scores)
        log.push(`${h.merchantId} ${h.detectedAt} ${s.result.category} ${s.result.score} ${s.result.level}`)
      for (const a of out.alerts) log.push(`alert ${a.alert.alert_id} ${a.alert.level}`)
    }
    return { states, log }
  }

  // m-1 goes HIGH on a strong velocity hit; another merchant's hits move the partition's clock on.
  const traffic = [
    hit('repeated_card', T0),
    ...Array.from({ length: 10 }, (_, d) => hit('round_amount', T0 + (d + 1) * DAY, { merchantId: 'm-2' })),
  ]

  it('brings a merchant flagged HIGH down to LOW after its family half-life, with no hit of its own', () => {
    const { states, log } = replay(traffic)
    expect(log[0]).toMatch(/^m-1 \d+ fraud 60 HIGH$/)
    const m1 = states.get('m-1')
    // Ten days on, velocity points (half-life 7 days) are 60 · 2^(-10/7) ≈ 22: LOW.
    expect(m1?.fraud.level).toBe('LOW')
    expect(m1?.fraud.score).toBe(Math.round(60 * 2 ** (-10 / 7)))
    // It went through MEDIUM on the way, by decay alone, at an hour boundary.
    const steps = log.filter((l) => l.startsWith('m-1 ')).map((l) => l.split(' ').at(-1))
    expect(steps).toContain('MEDIUM')
    expect(steps.at(-1)).toBe('LOW')
    expect(log.some((l) => l.startsWith('alert') && l.endsWith('MEDIUM'))).toBe(false)
  })

  it('gives the same scores, at the same times, on a replay', () => {
    expect(replay(traffic).log).toEqual(replay(traffic).log)
    expect(jsonWithMaps([...replay(traffic).states])).toEqual(jsonWithMaps([...replay(traffic).states]))
  })

  it('passes ticks at whole multiples of event time, once each, never backwards', () => {
    const clock = newDecayClock()
    expect(advanceClock(clock, T0 + 30 * 60_000, HOUR)).toBeNull()
    expect(advanceClock(clock, T0 + 50 * 60_000, HOUR)).toBeNull()
    expect(advanceClock(clock, T0 + 3 * HOUR + 1, HOUR)).toBe(T0 + 3 * HOUR)
    // A late hit does not move the clock back, nor pass a tick again.
    expect(advanceClock(clock, T0 + HOUR, HOUR)).toBeNull()
    expect(advanceClock(clock, T0 + 3 * HOUR + 5, HOUR)).toBeNull()
    expect(clock.watermark).toBe(T0 + 3 * HOUR + 5)
  })

  it('leaves a merchant whose own clock is ahead alone', () => {
    const st = fresh()
    applyHit(model, st, hit('repeated_card', T0 + DAY))
    expect(decayTo(model, st, T0).changed).toBe(false)
    expect(st.fraud.score).toBe(60)
  })
})

describe('alert ids', () => {
  const model = modelOf()

  it('names one escalation: falling and climbing again on the same hits gives a new id', () => {
    const st = fresh()
    const h = hit('structuring', T0)
    const first = applyHit(model, st, h).alerts.map((a) => a.alert)
    expect(first.map((a) => a.level)).toEqual(['HIGH'])
    // Ten days with no hit: amount points (half-life 14 days) fall to MEDIUM.
    decayTo(model, st, T0 + 10 * DAY)
    expect(st.fraud.level).toBe('MEDIUM')
    // The same hit, updated (the pattern came back): HIGH again, on the same hit ids.
    const second = applyHit(model, st, { ...h, detectedAt: T0 + 10 * DAY }).alerts.map((a) => a.alert)
    expect(second.map((a) => a.level)).toEqual(['HIGH'])
    expect(second[0]?.alert_id).not.toBe(first[0]?.alert_id)
    expect(st.fraud.escalations).toBe(2)
  })

  it('stays the same escalation on a replay, and reads states written before the counter existed', () => {
    const h = hit('structuring', T0)
    const run = () => {
      const st = fresh()
      const ids = [
        applyHit(model, st, h),
        decayTo(model, st, T0 + 10 * DAY),
        applyHit(model, st, { ...h, detectedAt: T0 + 10 * DAY }),
      ].flatMap((o) => o.alerts.map((a) => a.alert.alert_id))
      return ids
    }
    expect(run()).toEqual(run())
    const old = fresh()
    delete old.fraud.escalations
    const id = applyHit(model, old, hit('structuring', T0, { hitId: 'x' })).alerts[0]?.alert.alert_id
    expect(id).toBe(alertIdOf('acq-a', 'm-1', 'fraud', 'HIGH', ['x'], 0))
  })
})

describe('review capacity', () => {
  const levels = { medium: 30, high: 60, critical: 85 }

  it.each([
    {
      name: 'a queue within capacity keeps the configured levels',
      entrants: [95, 70, 40, 35],
      perDay: 1,
      days: 7,
      medium: 30,
    },
    {
      name: 'an overflowing queue raises MEDIUM to the last score that fits',
      entrants: [99, 90, 80, 70, 60, 50, 45, 40, 35, 31],
      perDay: 1,
      days: 5,
      medium: 60,
    },
  ])('$name', ({ entrants, perDay, days, medium }) => {
    const l = levelsForCapacity(levels, entrants, perDay, days)
    expect(l.medium).toBe(medium)
    expect(l.high - l.medium).toBeGreaterThanOrEqual(30)
    expect(l.critical).toBeGreaterThan(l.high)
    expect(l.critical).toBeLessThanOrEqual(100)
  })

  it('never goes past 100, and keeps the levels in order', () => {
    const l = levelsForCapacity(
      levels,
      Array.from({ length: 50 }, () => 100),
      1,
      7,
    )
    expect(l).toEqual({ medium: 98, high: 99, critical: 100 })
  })

  it('applies per acquirer: the calibrated levels decide the level of a score', () => {
    const model = withLevels(modelOf(), new Map([['acq-a', { medium: 60, high: 80, critical: 95 }]]))
    expect(levelOf(model, 45, 'acq-a')).toBe('LOW')
    expect(levelOf(model, 45, 'acq-b')).toBe('MEDIUM')
    const r = scoreCategory(model, [hit('structuring', T0)], 'fraud', T0, 'acq-a')
    expect(r.level).toBe('MEDIUM')
  })

  it('reads the capacity per acquirer from the scoring section', () => {
    const model = modelOf({ capacity: { newPerDay: 12, days: 3, acquirers: { 'acq-b': 4 } } })
    expect(model.capacity).toEqual({ perDay: 12, days: 3, byAcquirer: new Map([['acq-b', 4]]) })
    expect(modelOf().capacity.perDay).toBe(20)
  })
})
