import { describe, expect, it } from 'vitest'
import { swipeGap } from '../../../rules/swipe-gap.ts'
import type { TerminalTransaction } from '../../../schemas/types.generated.ts'
import { local, runRule, tx } from '../../helpers/rules.ts'

const MIN = 60_000

/** One approved sale of `card` at `minutes` after local midnight of `date` (fractions allowed). */
const swipe = (date: string, minutes: number, card: string, amount = 9_800) =>
  tx(local(date, '00:00') + Math.round(minutes * MIN), { card_token: card, amount_minor: amount * 100 })

/** `cards` cards, each swiped at `start + k*20` and again `gaps[k]` minutes later, in time order. */
function pairs(date: string, start: number, gaps: readonly number[], amount = 9_800): TerminalTransaction[] {
  return gaps
    .flatMap((g, k) => [
      swipe(date, start + k * 20, `card-${k}`, amount),
      swipe(date, start + k * 20 + g, `card-${k}`, amount),
    ])
    .sort((a, b) => a.event_time - b.event_time)
}

describe('swipe_gap', () => {
  it.each([
    { gap: 5, fires: true },
    { gap: 6.5, fires: true },
    { gap: 10, fires: true },
    { gap: 4.5, fires: false },
    { gap: 11, fires: false },
    { gap: 60, fires: false },
  ])('twelve cards each swiped twice $gap minutes apart: fires=$fires', ({ gap, fires }) => {
    const { last } = runRule(swipeGap, pairs('2026-03-10', 600, Array(12).fill(gap)))
    expect(last === null ? null : last.observed).toBe(fires ? 1 : null)
    if (fires) {
      expect(last?.threshold).toBe(0.5)
      expect(last?.detail).toMatch(/^12 of 12 gaps between repeat swipes of 12 cards today/)
      expect(last?.windowStart).toBe(local('2026-03-10', '00:00'))
      expect(last?.windowEnd).toBe(local('2026-03-11', '00:00'))
      expect(last?.sampleTxnIds.length).toBe(5)
    }
  })

  it('catches the playbook: at most twice a day, at least 5 minutes apart, among ordinary repeat customers', () => {
    const timed = [5.2, 5.5, 6, 6.1, 5.8, 7, 5.4, 6.6, 8, 5.9, 6.3, 5.1]
    const regulars = [45, 95, 140, 230]
    const events = [...pairs('2026-03-10', 540, timed), ...pairs('2026-03-10', 900, regulars).map(rename)]
    const { last } = runRule(swipeGap, events)
    expect(last?.observed).toBeCloseTo(12 / 16, 6)
    expect(last?.detail).toContain('12 of 16 gaps')
  })

  it.each([
    { name: 'coffee twice, an hour apart', gaps: Array(20).fill(60), params: {} },
    { name: 'coffee twice, counting small amounts too', gaps: Array(20).fill(60), params: { minAmount: 0 } },
    { name: 'a bar tab with scattered gaps', gaps: [3, 17, 41, 8, 26, 2, 55, 12, 33, 6, 19, 72], params: {} },
  ])('stays silent for $name (look-alike)', ({ gaps, params }) => {
    expect(runRule(swipeGap, pairs('2026-03-10', 600, gaps, 350), { params }).last).toBeNull()
  })

  it('does not track small purchases at all', () => {
    expect(runRule(swipeGap, pairs('2026-03-10', 600, Array(12).fill(6), 38)).last).toBeNull()
    expect(
      runRule(swipeGap, pairs('2026-03-10', 600, Array(12).fill(6), 38), { params: { minAmount: 0 } }).last
        ?.observed,
    ).toBe(1)
  })

  it.each([
    { cards: 9, fires: false },
    { cards: 10, fires: true },
  ])('needs the floor of 10 gaps: $cards gaps, fires=$fires', ({ cards, fires }) => {
    const { last } = runRule(swipeGap, pairs('2026-03-10', 600, Array(cards).fill(6)))
    expect(last === null ? null : last.detail).toBe(
      fires
        ? `10 of 10 gaps between repeat swipes of 10 cards today fell between 5 and 10 minutes (100.0%), a timed pause rather than customers coming back.`
        : null,
    )
  })

  it('splits the gap a late swipe falls into', () => {
    // 10:00 and 10:12 (one gap of 12, outside the band), then a late 10:06: two gaps of 6.
    const cards = Array.from({ length: 10 }, (_, k) => `late-${k}`)
    const events = [
      ...cards.flatMap((c, k) => [
        swipe('2026-03-10', 600 + k * 20, c),
        swipe('2026-03-10', 612 + k * 20, c),
      ]),
      ...cards.map((c, k) => swipe('2026-03-10', 606 + k * 20, c)),
    ]
    const { last } = runRule(swipeGap, events, { allowedLatenessMs: 6 * 3_600_000 })
    expect(last?.observed).toBe(1)
    expect(last?.detail).toContain('20 of 20 gaps between repeat swipes of 10 cards')
  })

  it("counts a late swipe in its own day, not in today's", () => {
    const first = Array.from({ length: 12 }, (_, k) => swipe('2026-03-10', 23 * 60 + 30 + k, `c${k}`))
    const second = Array.from({ length: 12 }, (_, k) => swipe('2026-03-10', 23 * 60 + 36 + k, `c${k}`))
    const today = swipe('2026-03-11', 20, 'someone')
    const dayLegOnly = { params: { minWindowGaps: 1_000 } }
    // The gaps of the 10th, completed after midnight, belong to the 10th: the 11th shows none.
    expect(runRule(swipeGap, [...first, today, ...second], dayLegOnly).last).toBeNull()
    // The same swipes with the 10th still the current day fire on the 10th.
    expect(runRule(swipeGap, [...first, ...second], dayLegOnly).last?.windowStart).toBe(
      local('2026-03-10', '00:00'),
    )
    // The month leg counts them in the 10th too, inside its 30 days ending on the 11th.
    const month = runRule(swipeGap, [...first, today, ...second]).last
    expect(month?.windowStart).toBe(local('2026-02-10', '00:00'))
    expect(month?.windowEnd).toBe(local('2026-03-12', '00:00'))
    expect(month?.detail).toMatch(/^12 of 12 gaps between repeat swipes of a card on 12 card-days in 30 days/)
  })

  describe('the month leg', () => {
    /** One card swiped twice, `gap` minutes apart, on each of `n` days from day `from` of March (or on); a new card each day. */
    const daily = (n: number, gap: number, from = 1, card = 'op') =>
      Array.from({ length: n }, (_, d) =>
        pairs(marchDay(from + d), 14 * 60, [gap]).map((t) => ({
          ...t,
          card_token: `${card}-${from + d}`,
          txn_id: `${t.txn_id}-${card}${from + d}`,
        })),
      ).flat()

    it.each([
      { days: 11, fires: false },
      { days: 12, fires: true },
    ])('catches a pair a day at the pause over $days days: fires=$fires', ({ days, fires }) => {
      const { last } = runRule(swipeGap, daily(days, 6))
      expect(last === null ? null : last.detail).toBe(
        fires
          ? '12 of 12 gaps between repeat swipes of a card on 12 card-days in 30 days fell between 5 and 10 minutes (100.0%): the same timed pause, a few times a day, rather than customers coming back.'
          : null,
      )
      if (fires) {
        expect(last?.windowStart).toBe(local('2026-02-11', '00:00'))
        expect(last?.windowEnd).toBe(local('2026-03-13', '00:00'))
      }
    })

    it('needs most of the gaps in the band: customers coming back at scattered gaps dilute it', () => {
      const scattered = [2, 25, 48, 90, 3, 140, 31, 12, 65, 1, 200, 44]
      // Each day's regular comes back in the morning, before the afternoon's timed pair.
      const regulars = scattered.flatMap((g, d) =>
        daily(1, g, d + 1, 'regular').map((t) => ({ ...t, event_time: t.event_time - 4 * 3_600_000 })),
      )
      const events = [...daily(12, 6), ...regulars].sort((a, b) => a.event_time - b.event_time)
      // 12 in the band of 24 gaps: not more than half, at any moment.
      expect(runRule(swipeGap, events).hits).toEqual([])
      // Without the first day's regular, 12 of 23.
      const fewer = events.filter((t) => t.card_token !== 'regular-1')
      expect(runRule(swipeGap, fewer).last?.observed).toBeCloseTo(12 / 23, 9)
    })

    it('stays silent for a car dealer whose customers pay a deposit in two swipes a few minutes apart', () => {
      const swipes = Array.from({ length: 20 }, (_, d) => daily(1, 2 + (d % 3), d + 1, 'buyer')).flat()
      expect(
        runRule(
          swipeGap,
          swipes.map((t) => ({ ...t, amount_minor: 2_000_000 })),
        ).last,
      ).toBeNull()
    })

    it('needs six card-days: one card paying in timed instalments on two days is not a pattern', () => {
      const instalments = ['2026-03-02', '2026-03-03'].flatMap((date) =>
        Array.from({ length: 7 }, (_, k) => swipe(date, 600 + k * 6, 'one-card')),
      )
      // 12 gaps, all at 6 minutes, from 2 card-days; six a day is below the day leg's floor too.
      expect(runRule(swipeGap, instalments).last).toBeNull()
      expect(runRule(swipeGap, instalments, { params: { minWindowCards: 2 } }).last?.detail).toContain(
        '12 of 12 gaps between repeat swipes of a card on 2 card-days',
      )
    })

    it('forgets the gaps of days that left the 30 days', () => {
      const { hits } = runRule(swipeGap, [...daily(12, 6), ...daily(11, 6, 32)])
      // Fired on 12 March; on 1–11 April the window starts on 2–12 March, after fewer of March's pairs
      // each day, and holds 12 gaps again only if it kept days it should have dropped.
      expect(hits.map((h) => h.finding?.windowEnd)).toEqual([local('2026-03-13', '00:00')])
    })
  })
})

/** The local date of day `n` of March 2026, counting on into April (32 is 1 April). */
function marchDay(n: number): string {
  return new Date(Date.UTC(2026, 2, n)).toISOString().slice(0, 10)
}

let renamed = 0
/** Gives a pair's card a name of its own so two groups of pairs never share a card. */
function rename(t: TerminalTransaction): TerminalTransaction {
  renamed++
  return { ...t, card_token: `regular-${t.card_token}`, txn_id: `${t.txn_id}-r${renamed}` }
}
