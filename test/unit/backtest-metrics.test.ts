import { describe, expect, it } from 'vitest'
import {
  computeAcceptance,
  computeMetrics,
  type MerchantResult,
  negativeInflow,
} from '../../backtest/metrics.ts'
import { formatAcceptance, formatReport } from '../../backtest/report.ts'
import type { MerchantLabel } from '../../simulator/labels.ts'

const label = (
  id: string,
  kind: MerchantLabel['label'],
  scenario: string,
  expected: string[] = [],
): MerchantLabel => ({
  merchant_id: id,
  acquirer_id: 'acq',
  label: kind,
  scenario,
  tactics: [],
  expected_rules: expected,
})

// Six merchants: three positives (A, B, C), a look-alike (D) and two legitimate ones (E, F).
const labels = [
  label('A', 'fraud', 'structuring', ['structuring', 'credit_debit_mix']),
  label('B', 'fraud', 'ring', ['card_ring']),
  label('C', 'compliance', 'relocation', ['relocation']),
  label('D', 'lookalike', 'car_dealer'),
  label('E', 'legit', 'legit'),
  label('F', 'legit', 'legit'),
]

const result = (id: string, rules: string[], max: number, alerts: string[][]): MerchantResult => ({
  acquirer_id: 'acq',
  merchant_id: id,
  rules,
  max_score: max,
  max_level: null,
  max_fraud: max,
  fraud_alerted: alerts.length > 0,
  compliance_alerted: false,
  first_alerted_day: alerts.length > 0 ? 0 : null,
  end_fraud: null,
  end_compliance: null,
  alerted: alerts.length > 0,
  alerts: alerts.map((r, i) => ({ at: i, category: 'fraud', level: 'HIGH', rules: r })),
})

const results = [
  result('A', ['structuring', 'credit_debit_mix'], 100, [
    ['structuring'],
    ['structuring', 'credit_debit_mix'],
  ]),
  result('B', ['credit_debit_mix'], 20, []),
  result('C', ['relocation'], 60, [['relocation']]),
  result('D', ['credit_debit_mix', 'round_amount'], 65, [['credit_debit_mix', 'round_amount']]),
  result('E', ['round_amount'], 0, []),
]

const RULES = ['structuring', 'credit_debit_mix', 'round_amount', 'card_ring', 'relocation']
const m = computeMetrics(labels, results, { topK: 2, days: 2, ruleIds: RULES })
const rule = (id: string) => m.rules.find((r) => r.rule === id)

describe('backtest metrics on a hand-made set', () => {
  it('overall: alerted merchants against the fraud and compliance labels', () => {
    expect(m.positives).toBe(3)
    // Alerted: A, C, D; positives among them: A, C.
    expect(m.overall).toMatchObject({ flagged: 3, truePositives: 2, expected: 3, caught: 2, rankedAtK: 2 })
    expect(m.overall.precision).toBeCloseTo(2 / 3, 10)
    expect(m.overall.recall).toBeCloseTo(2 / 3, 10)
    // By score: A 100, D 65, C 60; the top two hold one positive.
    expect(m.overall.precisionAtK).toBe(0.5)
    // Four alerts over two days.
    expect(m.overall.alertsPerDay).toBe(2)
  })

  it('per rule: precision over the merchants it hit, recall over those that expect it', () => {
    expect(rule('structuring')).toMatchObject({
      flagged: 1,
      precision: 1,
      recall: 1,
      precisionAtK: 1,
      alertsPerDay: 1,
    })
    const cdm = rule('credit_debit_mix')
    expect(cdm?.precision).toBeCloseTo(2 / 3, 10)
    // Only A expects it, and it hit A; its top two by score are A and D.
    expect(cdm).toMatchObject({
      flagged: 3,
      expected: 1,
      caught: 1,
      recall: 1,
      precisionAtK: 0.5,
      alertsPerDay: 1,
    })
    // E never scored, so only D is ranked.
    expect(rule('round_amount')).toMatchObject({
      flagged: 2,
      precision: 0,
      recall: null,
      precisionAtK: 0,
      rankedAtK: 1,
      alertsPerDay: 0.5,
    })
    expect(rule('card_ring')).toMatchObject({
      flagged: 0,
      precision: null,
      expected: 1,
      caught: 0,
      recall: 0,
      precisionAtK: null,
    })
    expect(rule('relocation')).toMatchObject({ flagged: 1, precision: 1, recall: 1, alertsPerDay: 0.5 })
  })

  it('per scenario: alerted merchants, the rules that hit them and the expected ones that missed', () => {
    expect(m.scenarios.map((s) => s.scenario)).toEqual([
      'ring',
      'structuring',
      'relocation',
      'car_dealer',
      'legit',
    ])
    const ring = m.scenarios[0]
    expect(ring).toMatchObject({ merchants: 1, alerted: 0, missed: [{ rule: 'card_ring', merchants: 1 }] })
    expect(ring?.rulesHit).toEqual([{ rule: 'credit_debit_mix', merchants: 1 }])
    expect(m.scenarios[4]).toMatchObject({
      merchants: 2,
      alerted: 0,
      rulesHit: [{ rule: 'round_amount', merchants: 1 }],
    })
  })

  it('ranks ties by merchant id and prints both configurations side by side', () => {
    const tie = computeMetrics(labels, [result('E', ['x'], 50, []), result('A', ['x'], 50, [])], {
      topK: 1,
      days: 1,
      ruleIds: [],
    })
    // A (positive) sorts before E at the same score.
    expect(tie.rules.find((r) => r.rule === 'x')?.precisionAtK).toBe(1)
    const text = formatReport([
      { name: 'A', metrics: m },
      { name: 'B', metrics: tie },
    ])
    expect(text).toContain('precision A')
    expect(text).toContain('precision B')
    expect(text).toMatch(
      /\| ALERTED \(MEDIUM\+\) +\| +3 \| +66\.7% \| +66\.7% \(2\/3\) \| +50\.0% \| +2\.00 \|/,
    )
  })
})

describe('false positives by the day they entered the queue', () => {
  const DAY = 20_000 // 2024-10-04, a local day number
  const dated = (id: string, day: number | null): MerchantResult => ({
    ...result(id, ['round_amount'], 60, day === null ? [] : [['round_amount']]),
    first_alerted_day: day,
  })
  const many = [
    label('D', 'lookalike', 'car_dealer'),
    label('E', 'legit', 'legit'),
    label('F', 'legit', 'legit'),
    label('G', 'legit', 'legit'),
  ]
  // D on the first day, E on day 30, F on day 31 and G on day 40 of 40.
  const acc = computeAcceptance(many, [
    dated('D', DAY),
    dated('E', DAY + 29),
    dated('F', DAY + 30),
    dated('G', DAY + 39),
  ])
  const dates = Array.from({ length: 40 }, (_, i) =>
    new Date((DAY + i) * 86_400_000).toISOString().slice(0, 10),
  )

  it('dates each false positive and splits the inflow at day 30', () => {
    // Legitimate merchants first, then look-alikes.
    expect(acc.falsePositives.map((f) => [f.merchant_id, f.first_alerted])).toEqual([
      ['E', '2024-11-02'],
      ['F', '2024-11-03'],
      ['G', '2024-11-12'],
      ['D', '2024-10-04'],
    ])
    // Two in the first 30 days, two in the 10 after.
    expect(negativeInflow(acc.falsePositives, dates)).toEqual({ first: 2 / 30, after: 2 / 10 })
    // A month-long run has no "after".
    expect(negativeInflow(acc.falsePositives, dates.slice(0, 30))).toEqual({ first: 4 / 30, after: null })
  })

  it('prints the split and the dates in the acceptance table', () => {
    const queue = dates.map((date) => ({ date, entered: 0, queue: 0 }))
    const text = formatAcceptance([{ name: 'X', acceptance: acc, queue }])
    expect(text).toMatch(/entering per day, days 1-30 \/ after +\| +0\.07 \/ 0\.20 \|/)
    expect(text).toContain('G legit 60 from 2024-11-12 [round_amount(-)]')
  })
})
