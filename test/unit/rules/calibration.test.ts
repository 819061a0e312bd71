import { describe, expect, it } from 'vitest'
import { binConcentration } from '../../../rules/bin-concentration.ts'
import { cardRecurrence } from '../../../rules/card-recurrence.ts'
import { creditDebitMix } from '../../../rules/credit-debit-mix.ts'
import { dailyVolume } from '../../../rules/daily-volume.ts'
import { calibratedBound, quantileOf, tailBound } from '../../../rules/engine/calibration.ts'
import { buildRulesConfig } from '../../../rules/engine/config.ts'
import type { ParamSpecs } from '../../../rules/engine/params.ts'
import type { Finding, PeerStats, RuleDefinition } from '../../../rules/engine/types.ts'
import { ENTITY_RULES } from '../../../rules/entity/index.ts'
import { highTicket } from '../../../rules/high-ticket.ts'
import { RULES } from '../../../rules/index.ts'
import { newMerchantRamp } from '../../../rules/new-merchant-ramp.ts'
import { nightShare } from '../../../rules/night-share.ts'
import { roundAmount } from '../../../rules/round-amount.ts'
import type { TerminalTransaction } from '../../../schemas/types.generated.ts'
import { type ScoredHit, scoreCategory } from '../../../scoring/model.ts'
import { dist, local, measures, range, runRule, tx } from '../../helpers/rules.ts'

const Y = 100
const DAY = 86_400_000

/** `n` approved sales on `date` from 10:00, a minute apart, amounts (major units) from `amount(i)`. */
function sales(
  date: string,
  n: number,
  amount: (i: number) => number,
  over: (i: number) => Partial<TerminalTransaction> = () => ({}),
): TerminalTransaction[] {
  return Array.from({ length: n }, (_, i) =>
    tx(local(date, '10:00') + i * 60_000, { amount_minor: Math.round(amount(i) * Y), ...over(i) }),
  )
}

/** The same sales spread over `days` days ending on `last`. */
function days(last: string, count: number, perDay: (date: string, d: number) => TerminalTransaction[]) {
  const end = Date.parse(`${last}T00:00:00Z`)
  const out: TerminalTransaction[] = []
  for (let d = count - 1; d >= 0; d--)
    out.push(...perDay(new Date(end - d * DAY).toISOString().slice(0, 10), d))
  return out
}

const onboarded = (date: string) => ({
  merchant: {
    event_id: `on-${date}`,
    event_time: local(date, '09:00'),
    acquirer_id: 'acq-1',
    merchant_id: 'mer-42',
    terminal_id: null,
    kind: 'ONBOARDED' as const,
    registered_mcc: '5411',
    merchant_name: null,
    latitude: null,
    longitude: null,
    settlement_account_token: null,
  },
})

type Traffic = Parameters<typeof runRule>[1]
type Options = Parameters<typeof runRule>[2]

/**
 * A calibrated rule's row: a look-alike's own traffic, its trade's distribution of the measure (the
 * cohort it sits at the level of), and an ordinary cohort it stands far above.
 */
function row<PS extends ParamSpecs, S extends object>(c: {
  rule: RuleDefinition<PS, S>
  shape: string
  events: Traffic
  own: Partial<PeerStats>
  ordinary: Partial<PeerStats>
}) {
  return {
    id: c.rule.id,
    family: c.rule.family,
    shape: c.shape,
    own: c.own,
    ordinary: c.ordinary,
    run: (opts: Options) => runRule(c.rule, c.events, opts),
  }
}

const CASES = [
  row({
    rule: creditDebitMix,
    shape: 'a car dealer, 93% credit',
    events: [
      ...sales(
        '2026-03-09',
        10,
        (i) => 5_000 + i * 600,
        () => ({ card_type: 'DEBIT' }),
      ),
      ...sales(
        '2026-03-10',
        45,
        (i) => 12_000 + i * 700,
        () => ({ card_type: 'CREDIT' }),
      ),
    ],
    own: { creditShare: dist(range(0.75, 0.95)) },
    ordinary: { creditShare: dist(range(0.25, 0.55)) },
  }),
  row({
    rule: highTicket,
    shape: 'a jeweller, 15,000 a ticket',
    events: sales('2026-03-10', 30, (i) => 12_000 + (i % 10) * 600 + 0.5),
    own: { avgTicket: dist(range(8_000 * Y, 25_000 * Y)) },
    ordinary: { avgTicket: dist(range(60 * Y, 200 * Y)) },
  }),
  row({
    rule: nightShare,
    shape: 'a bar, 40% of its volume after midnight',
    events: days('2026-03-10', 10, (date) => [
      ...sales(date, 3, () => 200).map((t, i) => ({ ...t, event_time: local(date, '01:00') + i * 60_000 })),
      ...sales(date, 5, () => 180).map((t, i) => ({ ...t, event_time: local(date, '21:00') + i * 60_000 })),
    ]),
    own: { nightShare: dist(range(0.25, 0.5)) },
    ordinary: { nightShare: dist(range(0, 0.03)) },
  }),
  row({
    rule: dailyVolume,
    shape: 'a wholesaler, 400,000 in a day',
    events: sales('2026-03-10', 25, () => 16_000),
    own: { dailyVolume: dist(range(150_000 * Y, 700_000 * Y)) },
    ordinary: { dailyVolume: dist(range(2_000 * Y, 10_000 * Y)) },
  }),
  row({
    rule: roundAmount,
    shape: 'a school, fees in round thousands',
    events: sales('2026-03-10', 20, (i) => (8 + (i % 5)) * 1_000),
    own: { roundShare: dist(range(0.6, 0.98)) },
    ordinary: { roundShare: dist(range(0, 0.1)) },
  }),
  row({
    rule: newMerchantRamp,
    shape: 'a new hotel, 40,000 a day',
    events: [onboarded('2026-03-01'), ...days('2026-03-10', 8, (date) => sales(date, 50, () => 800))],
    own: { dailyVolume: dist(range(10_000 * Y, 90_000 * Y)) },
    ordinary: { dailyVolume: dist(range(2_000 * Y, 10_000 * Y)) },
  }),
  row({
    rule: binConcentration,
    shape: "a shop beside a bank's branch, 70% on one credit BIN",
    events: days('2026-03-10', 5, (date, d) =>
      sales(
        date,
        10,
        () => 300,
        (i) => ({
          card_bin: i < 7 ? '622848' : `40${d}${i}00`,
          card_token: `c-${d}-${i}`,
          card_type: 'CREDIT',
        }),
      ),
    ),
    own: { topBinShare: dist(range(0.45, 0.9)) },
    ordinary: { topBinShare: dist(range(0.05, 0.2)) },
  }),
]

const model = buildRulesConfig({}, RULES, 'test', ENTITY_RULES).scoring

function scored(ruleId: string, f: Finding): ScoredHit {
  return {
    hitId: `${ruleId}-hit`,
    ruleId,
    ruleVersion: 1,
    observed: f.observed,
    threshold: f.threshold,
    windowStart: f.windowStart,
    windowEnd: f.windowEnd,
    sampleTxnIds: f.sampleTxnIds,
    detail: f.detail,
    detectedAt: f.windowEnd,
    ...(f.basis === undefined ? {} : { basis: f.basis }),
  }
}

describe('calibrated rules against the population they see', () => {
  it.each(CASES)('$id stays silent for $shape among its peers', (c) => {
    const peers: PeerStats = measures(c.own)
    const { hits } = c.run({ peers, population: measures(c.ordinary, 400) })
    expect(hits).toEqual([])
  })

  it.each(CASES)('$id fires on the same shape ($shape) far above its peers, saying so', (c) => {
    const { last } = c.run({ peers: measures(c.ordinary), population: measures(c.ordinary, 400) })
    expect(last?.basis).toBe('peers')
    expect(last?.detail).toMatch(/peers' fence/)
    expect(last?.observed).toBeGreaterThan(last?.threshold ?? Number.POSITIVE_INFINITY)
  })

  it.each(CASES)('$id with no baseline yet cannot reach HIGH alone, nor with another such hit', (c) => {
    const { last } = c.run({ peers: null, population: null })
    // With no baseline the floor alone decides, and the hit says it had nothing to compare with
    // (daily_volume keeps silent: volume says nothing by itself).
    expect(last === null ? 'silent' : last.basis).toBe(c.id === 'daily_volume' ? 'silent' : 'none')
    const hits = last === null ? [] : [scored(c.id, last)]
    const alone = scoreCategory(model, hits, 'fraud', local('2026-03-11', '00:00'))
    expect(alone.level).toBe('LOW')
    expect(alone.score).toBe(0)
    // Beside an uncalibrated hit of another family (a thin cohort's high ticket): still nothing.
    const other = c.family === 'amount' ? 'credit_debit_mix' : 'high_ticket'
    const pair = scoreCategory(
      model,
      [...hits, { ...scored(other, { ...FINDING }), hitId: 'other', basis: 'population' }],
      'fraud',
      local('2026-03-11', '00:00'),
    )
    expect(pair.level).toBe('LOW')
  })

  it('holds a cohort back until the population rests on enough merchants and days', () => {
    const c = CASES[1]
    const o = c?.ordinary ?? {}
    const thin = { peers: measures(o), population: measures(o, 400, 3) }
    expect(c?.run(thin).last?.basis).toBe('none')
    const few = { peers: measures(o), population: measures(o, 12) }
    expect(c?.run(few).last?.basis).toBe('none')
    const enough = { peers: measures(o), population: measures(o, 30, 7) }
    expect(c?.run(enough).last?.basis).toBe('peers')
    // The calibration section moves the bar.
    const strict = { ...enough, calibration: { minPopulation: 31, minDays: 7 } }
    expect(c?.run(strict).last?.basis).toBe('none')
  })

  it('compares with the population alone when the cohort is too thin, and says so', () => {
    const c = CASES[0]
    const { last } = c?.run({ peers: null, population: measures(c?.ordinary ?? {}, 400) }) ?? {}
    expect(last?.basis).toBe('population')
    expect(last?.detail).toContain('peer cohort too thin')
  })

  it('card_recurrence has no population measure: its hits are never calibrated', () => {
    // Five cards back with 6,000 in October and November: 100% of the volume recurs.
    const events = [0, 1].flatMap((m) =>
      Array.from({ length: 25 }, (_, i) =>
        tx(local(m === 0 ? '2026-10-20' : '2026-11-18', '11:00') + i * 60_000, {
          card_token: `farm-${i % 5}`,
          amount_minor: 6_000 * Y,
        }),
      ),
    )
    const { last } = runRule(cardRecurrence, events, { peers: measures(), population: measures({}, 400) })
    expect(last?.basis).toBe('absolute')
    const level = scoreCategory(
      model,
      [scored('card_recurrence', last ?? FINDING)],
      'fraud',
      local('2026-11-19'),
    )
    expect(level.level).toBe('LOW')
  })
})

const FINDING: Finding = {
  observed: 1,
  threshold: 0.5,
  windowStart: local('2026-03-01'),
  windowEnd: local('2026-03-10'),
  sampleTxnIds: [],
  detail: 'x',
}

describe('the fence', () => {
  const shares = dist(range(0.2, 0.6, 101))

  it('interpolates quantiles on the published grid', () => {
    expect(quantileOf(shares, 0.5)).toBeCloseTo(0.4, 2)
    expect(quantileOf(shares, 0.75)).toBeCloseTo(0.5, 2)
    expect(quantileOf(shares, 0.8)).toBeCloseTo((0.5 + 0.56) / 2 + (0.56 - 0.5) * 0.1, 1)
  })

  it.each([
    { scale: 'linear' as const, margin: 2, expected: 0.5 + 2 * 0.1 },
    { scale: 'linear' as const, margin: 0, expected: 0.5 },
    { scale: 'log' as const, margin: 3, expected: 0.5 * (0.5 / 0.4) ** 3 },
  ])('is Q(q) widened by the spread above the median ($scale, margin $margin)', (c) => {
    expect(tailBound(shares, { quantile: 0.75, margin: c.margin, scale: c.scale })).toBeCloseTo(c.expected, 2)
  })

  it('is at least the floor, and names its basis', () => {
    const tail = { quantile: 0.75, margin: 2, scale: 'linear' as const }
    expect(calibratedBound(0.9, tail, shares, shares)).toMatchObject({ threshold: 0.9, basis: 'peers' })
    expect(calibratedBound(0.1, tail, undefined, shares)).toMatchObject({ basis: 'population' })
    expect(calibratedBound(0.1, tail, undefined, undefined)).toMatchObject({ threshold: 0.1, basis: 'none' })
    // A cohort, where there is one, replaces the population: a grocery is not compared with car dealers.
    const high = dist(range(0.6, 0.9, 101))
    expect(calibratedBound(0, tail, shares, high)).toMatchObject({ basis: 'peers', population: null })
    expect(calibratedBound(0, tail, shares, high).threshold).toBeCloseTo(0.7, 1)
    expect(calibratedBound(0, tail, undefined, high).threshold).toBeCloseTo(0.82 + 2 * 0.07, 1)
  })
})

describe('the catalogue', () => {
  it('explains the calibration of every registered rule (printed in rules/README.md)', () => {
    const entity = buildRulesConfig({}, RULES, 'test', ENTITY_RULES).entityRules
    const missing = [...RULES.map((r) => r.meta), ...entity.map((r) => r.meta)]
      .filter((m) => m.calibration.length < 40)
      .map((m) => m.id)
    expect(missing).toEqual([])
  })
})
