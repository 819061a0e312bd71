import { describe, expect, it } from 'vitest'
import { nearRoundAmount } from '../../../rules/near-round-amount.ts'
import { local, runRule, tx } from '../../helpers/rules.ts'

const DAY_MS = 86_400_000

/** Approved sales on one local day, one a minute from 10:00; amounts in major units (CNY). */
function sales(date: string, amounts: readonly number[]) {
  return amounts.map((a, i) =>
    tx(local(date, `10:${String(i % 60).padStart(2, '0')}`) + Math.floor(i / 60) * 3_600_000, {
      amount_minor: Math.round(a * 100),
    }),
  )
}

const times = <T>(n: number, v: T): T[] => Array.from({ length: n }, () => v)

/** Amounts spread evenly over [lo, hi) with random-looking cents (a fixed sequence, so tests repeat). */
function spreadAmounts(n: number, lo: number, hi: number): number[] {
  let x = 12_345
  return Array.from({ length: n }, () => {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648
    return Math.round((lo + (x / 2_147_483_648) * (hi - lo)) * 100) / 100
  })
}

// Chance of an evenly spread amount near 10,000 falling in ±200, less the one-unit price-list band.
const CHANCE_AT_10K = (400 - 1) / 1_000

describe('near_round_amount', () => {
  it('catches the evasion "do 9,950 or 10,150 instead of 10,000"', () => {
    // One ordinary ticket last, so the final update carries new numbers (the engine skips an update whose
    // observed and threshold did not change).
    const amounts = [...times(10, [9_950, 10_150]).flat(), 10_437.21]
    const { last } = runRule(nearRoundAmount, sales('2026-03-10', amounts))
    expect(last?.observed).toBeCloseTo(20 / 21, 9)
    expect(last?.threshold).toBeCloseTo(1.5 * CHANCE_AT_10K, 9)
    expect(last?.sampleTxnIds).toHaveLength(5)
    expect(last?.windowStart).toBe(local('2026-02-09', '00:00'))
    expect(last?.windowEnd).toBe(local('2026-03-11', '00:00'))
    expect(last?.detail).toContain('20 of 21 sales of 5000 or more')
  })

  it('fires with ordinary tickets mixed in, at the absolute 0.4 bar where chance is low', () => {
    // Around 5,000 the band is ±100, so chance is about 0.2 and the absolute 0.4 is the bar; 4,930.50 is
    // under the 5,000 floor and not counted.
    const amounts = [...times(18, 5_080), 4_930.5, ...times(12, 5_437.21)]
    const { last } = runRule(nearRoundAmount, sales('2026-03-10', amounts))
    expect(last?.observed).toBeCloseTo(18 / 30, 9)
    expect(last?.threshold).toBe(0.4)
  })

  it.each([
    { name: 'exact round thousands (round_amount’s)', amounts: times(20, 10_000) },
    { name: 'price-list endings 9,999 and 19,999.99', amounts: times(10, [9_999, 19_999.99]).flat() },
    { name: 'amounts under 5,000 (1,950)', amounts: times(30, 1_950) },
  ])('does not count $name', (c) => {
    expect(runRule(nearRoundAmount, sales('2026-03-10', c.amounts)).last).toBeNull()
  })

  it.each([
    // Around 10,000 the band is ±200, so chance is about 0.4: exactly where the plain 0.4 bar sits.
    { name: '5,000–15,000', lo: 5_000, hi: 15_000 },
    // From 25,000 up ±2% covers the whole thousand: every amount is "near round".
    { name: '25,000–45,000', lo: 25_000, hi: 45_000 },
  ])('stays silent for a shop with random-cent tickets over $name, however many', (c) => {
    const amounts = spreadAmounts(400, c.lo, c.hi)
    // The trap: the share alone is above the 0.4 start for these honest tickets.
    const plain = amounts.filter((a) => {
      const off = a - Math.round(a / 1_000) * 1_000
      return off !== 0 && Math.abs(off) <= 0.02 * (a - off)
    }).length
    expect(plain / amounts.length).toBeGreaterThan(0.4)
    expect(runRule(nearRoundAmount, sales('2026-03-10', amounts)).last).toBeNull()
  })

  it('raises the bar above 0.4 by 1.5 × the chance of the amounts seen', () => {
    // Half the sales near 10,000 (chance 0.4), half ordinary near 5,000 (chance 0.2): bar 1.5 × 0.3.
    const amounts = [...times(60, 10_150), ...times(60, 5_437.21)]
    const { last } = runRule(nearRoundAmount, sales('2026-03-10', amounts))
    const chance = (60 * CHANCE_AT_10K + 60 * ((200 - 1) / 1_000)) / 120
    expect(last?.observed).toBe(0.5)
    expect(last?.threshold).toBeCloseTo(Math.max(0.4, 1.5 * chance), 9)
  })

  it.each([
    // 12 of 20 near 5,000 where chance is 0.2: share 0.6, but 4 in 20 are expected, sd 1.8: z 4.5.
    { near: 12, fires: true },
    // 11 of 20: z 3.9, which chance gives one shop in several thousand: silent.
    { near: 11, fires: false },
  ])('must stand out from chance by 4 standard deviations ($near of 20 near)', (c) => {
    const amounts = [...times(c.near, 5_080), ...times(20 - c.near, 5_437.21)]
    expect(runRule(nearRoundAmount, sales('2026-03-10', amounts)).last !== null).toBe(c.fires)
  })

  it.each([
    { n: 19, fires: false },
    { n: 20, fires: true },
  ])('needs $n counted sales before the share counts (floor 20)', (c) => {
    const { last } = runRule(nearRoundAmount, sales('2026-03-10', times(c.n, 9_950)))
    expect(last?.observed ?? null).toBe(c.fires ? 1 : null)
  })

  it('counts a late event in its own day, inside the window', () => {
    const events = [
      ...sales('2026-03-09', times(19, 10_150)),
      ...sales('2026-03-10', [7_437.21]),
      // Happened on 03-09, arrives after the 03-10 sale.
      ...sales('2026-03-09', [9_950]),
    ]
    const { last } = runRule(nearRoundAmount, events, { allowedLatenessMs: 2 * DAY_MS })
    expect(last?.observed).toBeCloseTo(20 / 21, 9)
    expect(last?.windowEnd).toBe(local('2026-03-11', '00:00'))
  })

  it('drops days older than 30 from the window', () => {
    const events = [...sales('2026-03-01', times(20, 9_950)), ...sales('2026-03-31', times(10, 7_437.21))]
    const { hits } = runRule(nearRoundAmount, events)
    expect(hits.length).toBeGreaterThan(0)
    expect(hits.every((h) => h.finding.windowEnd <= local('2026-03-02', '00:00'))).toBe(true)
  })

  it('samples a late sale 35 days before the latest sale but 4 after the latest large one', () => {
    // The rule's days are those of its large sales: the late one (03-05) is within 30 days of the
    // latest of those (03-01), so its id is a sample, though it counts in no window the rule will read
    // (the merchant's latest sale, a small one, is 04-09). The engine's shared day rows would refuse
    // that day: a move of the rule onto them must keep this (see BENCHMARKS.md, the lean pass, continued).
    const late = tx(local('2026-03-05'), { amount_minor: 995_000, txn_id: 'late' })
    const events = [
      tx(local('2026-03-01'), { amount_minor: 995_000, txn_id: 'first' }),
      tx(local('2026-04-09'), { amount_minor: 1_000 }),
      late,
      tx(local('2026-04-10'), { amount_minor: 1_015_000, txn_id: 'new' }),
    ]
    const params = { minSales: 1, shareThreshold: 0, minLift: 1, minZ: 0 }
    const { last } = runRule(nearRoundAmount, events, { params, allowedLatenessMs: 40 * DAY_MS })
    expect(last?.sampleTxnIds).toEqual(['first', 'late', 'new'])
    expect(last?.detail).toContain('1 of 1 sales')
  })
})
