import { describe, expect, it } from 'vitest'
import { structuring } from '../../../rules/structuring.ts'
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

/** 2026-03-01 plus `n` days, as a date string. */
function date(n: number): string {
  return new Date(Date.UTC(2026, 2, 1 + n)).toISOString().slice(0, 10)
}

/** `days` days from 2026-03-01, each closing at `total` with 20,000-ish swipes (under the 25,000 considered). */
function dayTotals(totals: readonly number[]) {
  return totals.flatMap((total, d) => {
    const n = Math.ceil(total / 20_000)
    return sales(date(d), times(n, total / n))
  })
}

describe('structuring', () => {
  it('catches swipes bunched just under the 50,000 single limit', () => {
    const amounts = Array.from({ length: 20 }, (_, i) => 45_500 + i * 200)
    // 20 in the band: the floor is 20 considered swipes.
    const { last } = runRule(structuring, sales('2026-03-10', amounts))
    expect(last?.observed).toBe(1)
    expect(last?.threshold).toBe(0.3)
    expect(last?.sampleTxnIds).toHaveLength(5)
    expect(last?.windowStart).toBe(local('2026-02-09', '00:00'))
    expect(last?.windowEnd).toBe(local('2026-03-11', '00:00'))
  })

  it('is not diluted by small everyday sales around the structured swipes', () => {
    const small = Array.from({ length: 300 }, (_, i) => 20 + (i % 80) * 3.17)
    // One ordinary large ticket last, so the final update carries new numbers.
    const { last } = runRule(structuring, sales('2026-03-10', [...small, ...times(24, 49_800), 30_000]))
    expect(last?.observed).toBeCloseTo(24 / 25, 9)
    expect(last?.detail).toContain('24 of 25 swipes of 25000 or more are in [45000, 50000)')
  })

  it.each([
    { over: 0, fires: true },
    { over: 2, fires: true },
    { over: 8, fires: false },
  ])(
    "a car dealer's down payments of 49,999 beside $over cars paid over the limit: fires=$fires",
    ({ over, fires }) => {
      // Cars paid in full, 10 other large tickets, then 20 down payments capped under the limit. (A hit
      // stays what it was when found, so the cars come first: the rule must never fire.)
      const events = [
        ...sales(date(0), times(over, 72_000)),
        ...sales(date(1), times(10, 31_500)),
        ...sales(date(2), times(20, 49_999)),
        ...sales(date(3), [28_800]),
      ]
      const { last } = runRule(structuring, events)
      expect(last === null ? null : last.detail).toBe(
        fires
          ? `In 30 days, 20 of ${31 + over} swipes of 25000 or more are in [45000, 50000) (${((20 / (31 + over)) * 100).toFixed(1)}% > 30.0%) and ${over} over it.`
          : null,
      )
    },
  )

  it('catches daily totals kept just under the 300,000 daily limit, day after day', () => {
    const { last } = runRule(structuring, dayTotals([285_000, 292_000, 278_000, 296_000, 283_000]))
    expect(last?.observed).toBe(5)
    expect(last?.threshold).toBe(5)
    expect(last?.detail).toContain('5 of 5 days of 150000 or more closed in [270000, 300000)')
  })

  it('fires on the day leg with five band days of one sale each, its floor', () => {
    const { last } = runRule(
      structuring,
      [0, 1, 2, 3, 4].flatMap((d) => sales(date(d), [285_000])),
    )
    expect(last?.detail).toContain('5 of 5 days')
  })

  it('reports the swipe leg and names the day leg when both fire', () => {
    const { last } = runRule(structuring, [
      ...[0, 1, 2, 3, 4].flatMap((d) => sales(date(d), times(6, 47_500))),
      ...sales(date(5), [12_345.67]),
    ])
    expect(last?.observed).toBe(1)
    expect(last?.detail).toMatch(/30 of 30 swipes .*; also 5 of 5 days/)
  })

  it('stays silent for an electronics store whose tickets spread over all ranges', () => {
    let x = 7
    const next = () => {
      x = (x * 1_103_515_245 + 12_345) % 2_147_483_648
      return x / 2_147_483_648
    }
    // 30 days of 8–16 tickets anywhere from 500 to 60,000, with cents.
    const events = Array.from({ length: 30 }, (_, d) =>
      sales(
        date(d),
        Array.from(
          { length: 8 + Math.floor(next() * 9) },
          () => Math.round((500 + next() * 59_500) * 100) / 100,
        ),
      ),
    ).flat()
    const { hits, engine } = runRule(structuring, events)
    expect(engine.stats.events).toBeGreaterThan(240)
    // Silent at every point of the month, not only at the end.
    expect(hits).toEqual([])
  })

  it('stays silent for a business hovering around the daily limit, over it as often as under', () => {
    const totals = [
      285_000, 320_000, 292_000, 310_000, 278_000, 335_000, 296_000, 305_000, 283_000, 315_000, 240_000,
    ]
    expect(runRule(structuring, dayTotals(totals)).hits).toEqual([])
    // The same five in-band days without the days over the limit are structuring.
    const under = [285_000, 292_000, 278_000, 296_000, 283_000]
    expect(runRule(structuring, dayTotals(under)).last?.observed).toBe(5)
  })

  it.each([
    { n: 19, observed: null },
    { n: 20, observed: 1 },
  ])('needs 20 considered swipes before the swipe share counts ($n)', (c) => {
    const { last } = runRule(structuring, sales('2026-03-10', times(c.n, 48_000)))
    expect(last?.observed ?? null).toBe(c.observed)
  })

  it.each([
    { totals: [285_000, 292_000, 278_000, 296_000], observed: null },
    { totals: [285_000, 292_000, 278_000, 296_000, 283_000], observed: 5 },
  ])('needs 5 days in the band before the day leg fires ($totals.length days)', (c) => {
    expect(runRule(structuring, dayTotals(c.totals)).last?.observed ?? null).toBe(c.observed)
  })

  it('counts a late sale in the day it happened, moving that day into the band', () => {
    const events = [
      ...dayTotals([285_000, 292_000, 278_000, 296_000, 260_000]),
      ...sales(date(5), [1_234.56]),
      // Happened on day 4 (260,000 so far), arrives after day 5 started.
      ...sales(date(4), [15_000]),
    ]
    const { last } = runRule(structuring, events, { allowedLatenessMs: 2 * DAY_MS })
    expect(last?.observed).toBe(5)
  })

  it('takes a day out of the band when a late sale pushes it over the limit', () => {
    const events = [
      ...dayTotals([285_000, 292_000, 278_000, 281_000, 276_000, 290_000]),
      ...sales(date(6), [1_234.56]),
      ...sales(date(5), [24_000]),
    ]
    const { hits } = runRule(structuring, events, { allowedLatenessMs: 2 * DAY_MS })
    expect(hits.some((h) => h.finding.observed === 6)).toBe(true)
    expect(hits.at(-1)?.finding.observed).toBe(5)
    expect(hits.at(-1)?.finding.detail).toContain(
      '5 of 6 days of 150000 or more closed in [270000, 300000) (83.3% > 50.0%) and 1 over it',
    )
  })

  it('counts only approved sales', () => {
    const declined = times(20, 49_000).map((_, i) =>
      tx(local('2026-03-10', `11:${String(i).padStart(2, '0')}`), {
        amount_minor: 4_900_000,
        response_code: '51',
      }),
    )
    expect(runRule(structuring, declined).last).toBeNull()
  })
})
