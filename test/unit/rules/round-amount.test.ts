import { describe, expect, it } from 'vitest'
import { roundAmount } from '../../../rules/round-amount.ts'
import { dist, local, measures, range, runRule, tx } from '../../helpers/rules.ts'

const DAY_MS = 86_400_000

/** Approved sales on one local day, one a minute from 10:00; amounts in major units (CNY). */
function sales(date: string, amounts: readonly number[], overrides: Parameters<typeof tx>[1] = {}) {
  return amounts.map((a, i) =>
    tx(local(date, `10:${String(i % 60).padStart(2, '0')}`) + Math.floor(i / 60) * 3_600_000, {
      amount_minor: Math.round(a * 100),
      ...overrides,
    }),
  )
}

const times = <T>(n: number, v: T): T[] => Array.from({ length: n }, () => v)

describe('round_amount', () => {
  it('fires on exact round thousands among large sales, with the window and samples', () => {
    const { last } = runRule(roundAmount, sales('2026-03-10', [...times(12, 10_000), ...times(12, 3_456.78)]))
    expect(last?.observed).toBe(0.5)
    expect(last?.threshold).toBe(0.3)
    expect(last?.sampleTxnIds).toHaveLength(5)
    expect(last?.windowStart).toBe(local('2026-02-09', '00:00'))
    expect(last?.windowEnd).toBe(local('2026-03-11', '00:00'))
    expect(last?.detail).toContain('12 of 24 large sales are exact round thousands')
  })

  it.each([
    { name: 'no baseline yet: the floor', peers: null, population: null, basis: 'none' },
    // Peers whose sales mostly have cents: their fence is under the floor of 0.5.
    { name: 'peers known: far above the cohort', peers: measures(), population: measures(), basis: 'peers' },
  ])('catches the evasion "never swipe round sums, never use cents" ($name)', (c) => {
    const evader = sales('2026-03-10', times(10, [9_950, 10_150, 4_730]).flat())
    const { last } = runRule(roundAmount, evader, { peers: c.peers, population: c.population })
    expect(last?.observed).toBe(1)
    expect(last?.threshold).toBe(0.5)
    expect(last?.basis).toBe(c.basis)
    expect(last?.detail).toContain('30 of 30 sales have no cents')
  })

  it('reports the round leg and names the whole-unit leg when both fire', () => {
    const { last } = runRule(roundAmount, sales('2026-03-10', [...times(30, 20_000), 3_456.78]))
    expect(last?.observed).toBeCloseTo(30 / 31, 9)
    expect(last?.threshold).toBe(0.3)
    expect(last?.detail).toMatch(
      /30 of 31 large sales are exact round thousands .*; also 30 of 31 sales have no cents/,
    )
  })

  it.each([
    {
      name: 'car dealer among car dealers',
      peers: measures({ roundShare: dist(range(0.4, 0.9)), wholeUnitShare: dist(range(0.85, 1)) }),
      fires: false,
    },
    // The same payments at a merchant whose peers do not take round sums.
    { name: 'the same payments at an ordinary shop', peers: measures(), fires: true },
  ])('compares round credit payments with peers: $name', (c) => {
    const dealer = sales('2026-03-10', [...times(20, 50_000), ...times(10, 12_000)], { card_type: 'CREDIT' })
    const { last } = runRule(roundAmount, dealer, { peers: c.peers })
    expect(last !== null).toBe(c.fires)
  })

  it('stays silent for a grocery whose totals have cents', () => {
    const amounts = Array.from(
      { length: 300 },
      (_, i) => 1_000 + ((i * 7_919) % 9_000) + ((i * 37) % 100) / 100,
    )
    expect(runRule(roundAmount, sales('2026-03-10', amounts)).last).toBeNull()
  })

  it.each([
    { large: 19, fires: false },
    { large: 20, fires: true },
  ])('needs $large large sales before the round share counts (floor 20)', (c) => {
    const { last } = runRule(roundAmount, sales('2026-03-10', times(c.large, 5_000)), {
      params: { minSales: 1_000 },
    })
    expect(last?.observed ?? null).toBe(c.fires ? 1 : null)
  })

  it.each([
    { n: 29, fires: false },
    { n: 30, fires: true },
  ])('needs $n sales before the whole-unit share counts (floor 30)', (c) => {
    const { last } = runRule(roundAmount, sales('2026-03-10', times(c.n, 9_950)))
    expect(last?.observed ?? null).toBe(c.fires ? 1 : null)
  })

  it('does not read the whole-unit share in a currency without cents (JPY)', () => {
    const yen = Array.from({ length: 40 }, (_, i) =>
      tx(local('2026-03-10', `10:${String(i).padStart(2, '0')}`), {
        amount_minor: 12_345 + i,
        currency: 'JPY',
      }),
    )
    expect(runRule(roundAmount, yen).last).toBeNull()
    // The same amounts in yuan have no fen: the whole leg fires.
    expect(
      runRule(
        roundAmount,
        sales(
          '2026-03-10',
          yen.map((t) => t.amount_minor),
        ),
      ).last?.observed,
    ).toBe(1)
  })

  it('takes the whole-unit share among the sales in a currency with cents only, whatever else the days hold', () => {
    // 30 whole-yuan sales and 10 in yen, the yen ones on the same days: 30 of 30, not 30 of 40.
    const yuan = sales('2026-03-10', times(30, 9_950))
    const yen = yuan.slice(0, 10).map((t) => ({ ...t, txn_id: `${t.txn_id}-jpy`, currency: 'JPY' }))
    const { last } = runRule(roundAmount, [...yen, ...yuan])
    expect(last?.observed).toBe(1)
    expect(last?.detail).toContain('30 of 30 sales have no cents')
  })

  it('counts only approved sales', () => {
    const declined = sales('2026-03-10', times(20, 10_000), { response_code: '05' })
    const refunds = sales('2026-03-10', times(20, 10_000), { txn_type: 'REFUND' })
    const ok = sales('2026-03-10', times(20, 3_456.78))
    expect(runRule(roundAmount, [...declined, ...refunds, ...ok]).last).toBeNull()
  })

  it('drops days older than 30 from the window', () => {
    const events = [...sales('2026-03-01', times(20, 10_000)), ...sales('2026-03-31', times(20, 3_456.78))]
    const { hits } = runRule(roundAmount, events)
    // Fired while 03-01 was in the window; the first event of 03-31 pushed it out.
    expect(hits.length).toBeGreaterThan(0)
    expect(hits.every((h) => h.finding.windowEnd <= local('2026-03-02', '00:00'))).toBe(true)
  })

  it('counts a late event in its own day, inside the window', () => {
    const events = [
      ...sales('2026-03-10', times(13, 3_456.78)),
      // Arrive after the 03-10 sales but happened on 03-09.
      ...sales('2026-03-09', times(7, 10_000)),
    ]
    const { last } = runRule(roundAmount, events, { allowedLatenessMs: 2 * DAY_MS })
    expect(last?.observed).toBeCloseTo(7 / 20, 9)
    expect(last?.windowEnd).toBe(local('2026-03-11', '00:00'))
  })
})
