import { describe, expect, it } from 'vitest'
import { repeatedCard } from '../../../rules/repeated-card.ts'
import type { TerminalTransaction } from '../../../schemas/types.generated.ts'
import { local, runRule, tx } from '../../helpers/rules.ts'

const at = (date: string, minute: number) =>
  local(date, `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`)

/** One approved sale of `card`, amount in CNY major units. */
const swipe = (date: string, minute: number, card: string, amount: number) =>
  tx(at(date, minute), { card_token: card, amount_minor: Math.round(amount * 100) })

/** Ordinary customers on one day: distinct cards, one purchase each, from 08:00. */
function walkIns(date: string, n: number, amount: (i: number) => number): TerminalTransaction[] {
  return Array.from({ length: n }, (_, i) => swipe(date, 8 * 60 + i, `walk-${date}-${i}`, amount(i)))
}

const WEEK = [
  '2026-03-09',
  '2026-03-10',
  '2026-03-11',
  '2026-03-12',
  '2026-03-13',
  '2026-03-14',
  '2026-03-15',
]

describe('repeated_card', () => {
  it('fires when cards take more than two large swipes a day', () => {
    const events = [
      // The day before, each card's first visit.
      ...['c1', 'c2'].map((c, k) => swipe('2026-03-09', 14 * 60 + k, c, 8_000)),
      ...walkIns('2026-03-10', 10, () => 2_000),
      ...['c1', 'c2'].flatMap((c, k) =>
        [0, 10, 20].map((m) => swipe('2026-03-10', 14 * 60 + m + k, c, 8_000 + m)),
      ),
    ]
    const { last } = runRule(repeatedCard, events)
    const flagged = 2 * (8_000 + 8_000 + 8_010 + 8_020)
    expect(last?.observed).toBeCloseTo(flagged / (flagged + 20_000), 6)
    expect(last?.threshold).toBe(0.3)
    expect(last?.detail).toMatch(
      /^2 cards swiped repeatedly .*\(2 over 2 a day, 0 with.*; 2 seen on more than one day\)/,
    )
    expect(last?.windowStart).toBe(local('2026-03-04', '00:00'))
    expect(last?.windowEnd).toBe(local('2026-03-11', '00:00'))
    expect(last?.sampleTxnIds.length).toBe(2)
  })

  it.each([
    { type: 'DEBIT', fires: false },
    { type: 'PREPAID', fires: false },
    { type: 'UNKNOWN', fires: true },
    { type: 'CREDIT', fires: true },
  ] as const)('counts a $type card swiped all day: $fires (cash-out draws on credit)', ({ type, fires }) => {
    // A fleet's fuel card at a truck stop: one card for each of the fleet's trucks, day after day.
    const fleet = (date: string) =>
      [0, 90, 180, 270].map((m, k) => ({
        ...swipe(date, 9 * 60 + m, 'fleet', 1_200 + 37 * k),
        card_type: type,
      }))
    const events = ['2026-03-09', '2026-03-10']
      .flatMap((date) => [
        ...walkIns(date, 4, () => 400),
        ...fleet(date),
        ...fleet(date).map((t) => ({ ...t, card_token: 'fleet-2', txn_id: `${t.txn_id}-2` })),
      ])
      .sort((a, b) => a.event_time - b.event_time)
    expect(runRule(repeatedCard, events).last !== null).toBe(fires)
    // Every card counts when the parameter says so.
    const all = runRule(repeatedCard, events, { params: { creditCardsOnly: false } })
    expect(all.last?.detail).toMatch(/^2 cards swiped repeatedly/)
  })

  it.each([
    { buyers: 4, back: 0, fires: false },
    { buyers: 5, back: 0, fires: true },
    { buyers: 2, back: 1, fires: true },
  ])(
    'customers paying one large bill in three swipes, each on one day: $buyers buyers, $back back another day: fires=$fires',
    ({ buyers, back, fires }) => {
      // A car dealer's week: a few walk-in payments, and buyers whose cards cap a swipe at 50,000.
      const events = WEEK.flatMap((date, d) => [
        ...walkIns(date, 2, (i) => 3_000 + i * 1_250),
        ...(d < buyers ? [0, 3, 7].map((m) => swipe(date, 11 * 60 + m, `buyer-${d}`, 50_000)) : []),
        ...(d === 6 && back > 0 ? [swipe(date, 16 * 60, 'buyer-0', 20_000)] : []),
      ])
      const { last } = runRule(repeatedCard, events)
      expect(last === null ? null : last.detail.match(/^\d+ cards/)?.[0]).toBe(
        fires ? `${buyers} cards` : null,
      )
    },
  )

  it.each([
    { amounts: [5_000, 5_000, 5_000], fires: true },
    { amounts: [5_000, 5_000, 5_100], fires: false },
  ])('with a daily cap of 5, fires on three swipes of one amount only: $amounts', ({ amounts, fires }) => {
    const events = [
      swipe('2026-03-09', 12 * 60, 'c1', 1_200),
      ...walkIns('2026-03-10', 10, () => 1_500),
      ...['c1', 'c2'].flatMap((c, k) =>
        amounts.map((a, j) => swipe('2026-03-10', 14 * 60 + j * 10 + k, c, a)),
      ),
    ]
    const { last } = runRule(repeatedCard, events, { params: { maxSwipesPerDay: 5 } })
    if (fires) expect(last?.detail).toContain('2 with 3+ of one amount a day')
    else expect(last).toBeNull()
  })

  it.each([
    { days: 4, fires: true },
    { days: 3, fires: false },
  ])('catches the evasion: twice a day, 6 minutes apart, on $days of 7 days', ({ days, fires }) => {
    const cards = ['c1', 'c2', 'c3', 'c4', 'c5']
    const events = WEEK.flatMap((date, d) => [
      ...walkIns(date, 5, (i) => 300 + i * 37),
      ...(d < days
        ? cards.flatMap((c, k) => [
            swipe(date, 15 * 60 + k * 15, c, 9_800),
            swipe(date, 15 * 60 + k * 15 + 6, c, 9_900),
          ])
        : []),
    ])
    const { last } = runRule(repeatedCard, events)
    if (!fires) {
      expect(last).toBeNull()
      return
    }
    expect(last?.detail).toMatch(
      /^5 cards .*\(0 over 2 a day, 0 with 3\+ of one amount a day, 5 back with 2\+ swipes on 4\+ of 7 days; 5 seen on more than one day\)/,
    )
    expect(last?.observed).toBeGreaterThan(0.9)
  })

  it('stays silent for a market stall with daily regulars buying small, varied amounts (look-alike)', () => {
    const regulars = Array.from({ length: 40 }, (_, i) => `reg-${i}`)
    const events = WEEK.flatMap((date) => [
      ...regulars.map((c, i) => swipe(date, 7 * 60 + i, c, 12.5 + i * 1.37)),
      // A quarter of them come back in the evening too: twice a day, every day.
      ...regulars.filter((_, i) => i % 4 === 0).map((c, i) => swipe(date, 18 * 60 + i, c, 8.8 + i * 0.51)),
    ])
    expect(runRule(repeatedCard, events).last).toBeNull()
    // Only the amount floor keeps them out: counting every purchase, the evening regulars would fire.
    expect(
      runRule(repeatedCard, events, { params: { minAmount: 0, minVolumeShare: 0.1 } }).last?.detail,
    ).toMatch(/^10 cards/)
  })

  it('stays silent when repeated cards carry a small share of a large volume', () => {
    const events = [
      ...walkIns('2026-03-10', 40, () => 20_000),
      ...['c1', 'c2'].flatMap((c, k) =>
        [0, 10, 20].map((m) => swipe('2026-03-10', 14 * 60 + m + k, c, 3_000)),
      ),
    ]
    expect(runRule(repeatedCard, events).last).toBeNull()
    expect(
      runRule(repeatedCard, events, { params: { minVolumeShare: 0.01, minOneDayCards: 2 } }).last?.observed,
    ).toBeCloseTo(18_000 / 818_000, 6)
  })

  it.each([
    { name: 'one repeated card (card floor 2)', cards: ['c1'], walk: 10 },
    { name: 'nine sales in the week (sales floor 10)', cards: ['c1', 'c2'], walk: 3 },
  ])('stays silent under the count floor: $name', ({ cards, walk }) => {
    const events = [
      ...walkIns('2026-03-10', walk, () => 1_000),
      ...cards.flatMap((c, k) => [0, 10, 20].map((m) => swipe('2026-03-10', 14 * 60 + m + k, c, 8_000))),
    ]
    expect(runRule(repeatedCard, events).last).toBeNull()
  })

  it('counts a late swipe in its own day', () => {
    const events = [
      ...walkIns('2026-03-10', 10, () => 1_000),
      ...['c1', 'c2'].flatMap((c, k) => [
        swipe('2026-03-10', 600 + k, c, 7_000),
        swipe('2026-03-10', 610 + k, c, 7_000),
      ]),
      ...['c1', 'c2'].map((c, k) => swipe('2026-03-11', 20 + k, c, 7_000)),
      // Authorised at 23:55 on the 10th, arriving after the 11th's swipes: the third swipe of the 10th.
      ...['c1', 'c2'].map((c, k) => swipe('2026-03-10', 23 * 60 + 55 + k, c, 7_500)),
    ]
    const { last } = runRule(repeatedCard, events)
    expect(last?.detail).toMatch(/^2 cards swiped repeatedly .*\(2 over 2 a day/)
    expect(last?.windowEnd).toBe(local('2026-03-12', '00:00'))
  })

  it('forgets return days that left the 7-day window', () => {
    const cards = ['c1', 'c2', 'c3']
    const twice = (date: string) =>
      cards.flatMap((c, k) => [swipe(date, 600 + k * 10, c, 6_000), swipe(date, 606 + k * 10, c, 6_000)])
    // Days 1, 2, 3 and 9: on day 9 the window is days 3..9, so only two return days remain.
    const stale = ['2026-03-01', '2026-03-02', '2026-03-03', '2026-03-09'].flatMap((d) => [
      ...walkIns(d, 3, () => 500),
      ...twice(d),
    ])
    const hits = runRule(repeatedCard, stale).hits
    expect(hits.every((h) => h.finding.windowEnd < local('2026-03-09', '00:00'))).toBe(true)
    const fresh = ['2026-03-03', '2026-03-04', '2026-03-05', '2026-03-09'].flatMap((d) => [
      ...walkIns(d, 3, () => 500),
      ...twice(d),
    ])
    expect(runRule(repeatedCard, fresh).last?.windowEnd).toBe(local('2026-03-10', '00:00'))
  })
})
