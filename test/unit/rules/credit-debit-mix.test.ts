import { describe, expect, it } from 'vitest'
import { creditDebitMix } from '../../../rules/credit-debit-mix.ts'
import type { TerminalTransaction } from '../../../schemas/types.generated.ts'
import { dist, local, measures, range, runRule, tx } from '../../helpers/rules.ts'

type Kind = 'CREDIT' | 'DEBIT'

/** `n` approved sales on one local day, one a minute from 09:00, amounts in CNY major units. */
function sales(date: string, n: number, kind: Kind, amount: (i: number) => number): TerminalTransaction[] {
  return Array.from({ length: n }, (_, i) => {
    const minute = 9 * 60 + i
    const hhmm = `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`
    return tx(local(date, hhmm), {
      card_type: kind,
      card_token: `${kind}-${date}-${i}`,
      amount_minor: Math.round(amount(i) * 100),
    })
  })
}

/**
 * Debit first, then credit: the credit share only rises along the sequence, so a rule silent at the end
 * was silent all along (the harness reports the last hit ever emitted, not the final state).
 */
function mix(date: string, credit: number, debit: number, creditTicket: number, debitTicket: number) {
  return [
    ...sales(date, debit, 'DEBIT', () => debitTicket),
    ...sales(date, credit, 'CREDIT', () => creditTicket),
  ]
}

/** The playbook's mix: 160 debit swipes of about 500 (±4%), then 12 large credit swipes, share 0.75. */
const playbook = [
  ...sales('2026-03-10', 160, 'DEBIT', (i) => 480 + (i % 5) * 10),
  ...sales('2026-03-11', 12, 'CREDIT', (i) => 19_000 + (i % 3) * 1_000),
]

// An acquirer of ordinary shops: credit shares from 0.25 to 0.55, so a fence of 0.7 (Q75 0.475 plus
// three times its distance from the median of 0.4).
const shops = measures({ creditShare: dist(range(0.25, 0.55)) }, 400)
// Credit-heavy merchants everywhere (a fence of 0.975): the share leg stays out of the way of the mix leg.
const heavy = measures({ creditShare: dist(range(0.6, 0.9)) }, 400)
const quiet = { peers: heavy, population: heavy }

describe('credit_debit_mix', () => {
  it.each([
    { credit: 51, debit: 9, share: 0.85 },
    { credit: 57, debit: 3, share: 0.95 },
  ])('fires on credit share $share beyond the population and peers', ({ credit, debit, share }) => {
    const { last } = runRule(creditDebitMix, mix('2026-03-10', credit, debit, 1_000, 1_000), {
      peers: shops,
      population: shops,
    })
    expect(last?.observed).toBeCloseTo(share, 6)
    expect(last?.threshold).toBeCloseTo(0.7, 1)
    expect(last?.basis).toBe('peers')
    expect(last?.detail).toContain('60 approved sales')
    expect(last?.windowStart).toBe(local('2026-02-09', '00:00'))
    expect(last?.windowEnd).toBe(local('2026-03-11', '00:00'))
    expect(last?.sampleTxnIds.length).toBe(5)
  })

  it('stays silent at a credit share of 0.75 with ordinary, varied debit tickets', () => {
    const events = [
      ...sales('2026-03-09', 20, 'DEBIT', (i) => 200 + i * 40),
      ...sales('2026-03-10', 40, 'CREDIT', () => 1_000),
    ]
    expect(runRule(creditDebitMix, events, quiet).last).toBeNull()
  })

  it('catches the evasive 4:1 mix below the share fence: small uniform debit beside large credit', () => {
    const { last } = runRule(creditDebitMix, playbook, quiet)
    expect(last?.observed).toBeCloseTo(240_000 / (240_000 + 80_000), 3)
    expect(last?.threshold).toBe(0.6)
    expect(last?.detail).toMatch(/40\.\d× the mean debit ticket 500/)
    expect(last?.detail).toContain('over 160 debit sales')
    expect(last?.sampleTxnIds.length).toBe(5)
  })

  it.each([
    { name: 'the mix check is off', params: { mixEnabled: false } },
    { name: 'debit tickets must be more uniform', params: { mixMaxDebitCv: 0.01 } },
    { name: 'credit tickets must be 50× debit', params: { mixMinTicketRatio: 50 } },
    { name: 'the debit floor is above 160', params: { mixMinDebit: 161 } },
  ])('stays silent on the evasive mix when $name', ({ params }) => {
    expect(runRule(creditDebitMix, playbook, { params, ...quiet }).last).toBeNull()
  })

  it('stays silent for a car dealer whose credit share is high like its peers (look-alike)', () => {
    const dealer = [
      // Down payments on debit: large and varied, not a uniform filler.
      ...sales('2026-03-09', 10, 'DEBIT', (i) => 5_000 + i * 6_000),
      ...sales('2026-03-10', 45, 'CREDIT', (i) => 30_000 + i * 1_500),
    ]
    const dealers = measures({ creditShare: dist(range(0.8, 0.97)) })
    expect(runRule(creditDebitMix, dealer, { peers: dealers, population: shops }).last).toBeNull()
    // The peers are what silence it: with no cohort, the acquirer's shops make it stand out.
    const alone = runRule(creditDebitMix, dealer, { population: shops }).last
    expect(alone?.observed).toBeCloseTo(2_835_000 / 3_155_000, 6)
    expect(alone?.basis).toBe('population')
    expect(alone?.detail).toContain('peer cohort too thin')
  })

  it('fires above a cohort whose share is far lower, naming its fence', () => {
    const grocers = measures({ creditShare: dist(range(0.2, 0.5)) })
    const { last } = runRule(creditDebitMix, mix('2026-03-10', 51, 9, 1_000, 1_000), {
      peers: grocers,
      population: shops,
    })
    expect(last?.observed).toBeCloseTo(0.85, 6)
    // The cohort sets the fence; the acquirer's population is not consulted beside it.
    expect(last?.detail).toMatch(/its 50 peers' fence \d+\.\d% and the floor 60\.0%\.$/)
  })

  it.each([
    { n: 49, fires: false },
    { n: 50, fires: true },
  ])('needs $n sales to pass the count floor of 50: fires=$fires', ({ n, fires }) => {
    const { last } = runRule(
      creditDebitMix,
      sales('2026-03-10', n, 'CREDIT', () => 5_000),
    )
    expect(last === null ? null : last.observed).toBe(fires ? 1 : null)
  })

  it('drops days that leave the 30-day window', () => {
    // Debit on 03-01 dilutes the share until 03-31, when 03-01 leaves the window [03-02, 03-31].
    const inside = runRule(
      creditDebitMix,
      [
        ...sales('2026-03-02', 20, 'DEBIT', (i) => 1_000 + i * 300),
        ...sales('2026-03-31', 50, 'CREDIT', () => 1_000),
      ],
      { peers: shops, population: shops },
    )
    expect(inside.last).toBeNull()
    const outside = runRule(
      creditDebitMix,
      [
        ...sales('2026-03-01', 20, 'DEBIT', (i) => 1_000 + i * 300),
        ...sales('2026-03-31', 50, 'CREDIT', () => 1_000),
      ],
      { peers: shops, population: shops },
    )
    expect(outside.last?.observed).toBe(1)
    expect(outside.last?.windowStart).toBe(local('2026-03-02', '00:00'))
  })

  it('counts a late event in its own day inside the window', () => {
    const onTime = mix('2026-03-20', 57, 3, 1_000, 1_000)
    // A debit sale of 03-05 arrives after the 03-20 traffic: it lowers the window's share.
    const late = tx(local('2026-03-05', '15:00'), { card_type: 'DEBIT', amount_minor: 1_000_00 })
    const { last } = runRule(creditDebitMix, [...onTime, late], { allowedLatenessMs: 30 * 86_400_000 })
    expect(last?.observed).toBeCloseTo(57 / 61, 6)
    expect(last?.detail).toContain('61 approved sales')
  })

  it('counts late sales that come while the window is under the count floor as if it had been counted', () => {
    // Under 50 sales the rule does not count its window; late sales of past days then come, and the
    // 50th sale makes it count: the same finding as with a floor that had it counted all along.
    const events = [
      ...sales('2026-03-05', 20, 'DEBIT', (i) => 480.37 + i * 3.11),
      ...sales('2026-03-06', 4, 'CREDIT', (i) => 19_000.13 + i * 7.7),
      ...sales('2026-03-10', 5, 'CREDIT', (i) => 21_000.29 + i),
      tx(local('2026-03-06', '15:00'), { card_type: 'DEBIT', amount_minor: 49_913 }),
      tx(local('2026-03-05', '16:00'), { card_type: 'CREDIT', amount_minor: 2_100_007 }),
      ...sales('2026-03-10', 21, 'CREDIT', (i) => 20_000.41 + i * 13.3),
    ]
    const opts = { ...quiet, allowedLatenessMs: 10 * 86_400_000 }
    const floor50 = runRule(creditDebitMix, events, opts).last
    const floor1 = runRule(creditDebitMix, events, { ...opts, params: { minSales: 1 } }).last
    expect(floor50?.detail).toContain('52 approved sales')
    expect(floor50).toEqual(floor1)
  })

  it('ignores declines, refunds and a day already out of the ring', () => {
    const events = [
      ...mix('2026-03-20', 51, 9, 1_000, 1_000),
      tx(local('2026-03-20', '18:00'), { card_type: 'DEBIT', amount_minor: 90_000_00, response_code: '05' }),
      tx(local('2026-03-20', '18:01'), { card_type: 'DEBIT', amount_minor: 90_000_00, txn_type: 'REFUND' }),
      tx(local('2026-02-01', '18:02'), { card_type: 'DEBIT', amount_minor: 90_000_00 }),
    ]
    const { last } = runRule(creditDebitMix, events, { allowedLatenessMs: 60 * 86_400_000 })
    expect(last?.observed).toBeCloseTo(0.85, 6)
  })
})
