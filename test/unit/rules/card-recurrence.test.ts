import { describe, expect, it } from 'vitest'
import { cardRecurrence } from '../../../rules/card-recurrence.ts'
import type { TerminalTransaction } from '../../../schemas/types.generated.ts'
import { local, runRule, tx } from '../../helpers/rules.ts'

/** One approved sale, amount in CNY major units (cents allowed). */
const sale = (date: string, time: string, card: string, amount: number) =>
  tx(local(date, time), { card_token: card, amount_minor: Math.round(amount * 100) })

/** One-off customers on a day, one sale each from 09:00. */
const walkIns = (date: string, n: number, amount: number) =>
  Array.from({ length: n }, (_, i) =>
    sale(date, `09:${String(i).padStart(2, '0')}`, `once-${date}-${i}`, amount),
  )

const byTime = (events: TerminalTransaction[]) => events.sort((a, b) => a.event_time - b.event_time)
const date = (month: string, day: number) => `2026-${month}-${String(day).padStart(2, '0')}`

describe('card_recurrence', () => {
  it('fires when most volume comes from cards back in consecutive months', () => {
    const cards = ['c1', 'c2', 'c3', 'c4']
    const events = byTime([
      ...walkIns('2026-01-08', 12, 1_000),
      ...walkIns('2026-02-08', 12, 1_000),
      ...cards.flatMap((c, k) => [
        sale(date('01', 10 + k), '14:00', c, 20_000),
        sale(date('02', 10 + k), '14:00', c, 20_000),
      ]),
    ])
    const { last } = runRule(cardRecurrence, events)
    expect(last?.observed).toBeCloseTo(160_000 / 184_000, 6)
    expect(last?.threshold).toBe(0.5)
    expect(last?.detail).toMatch(
      /^4 cards that came back .* carried 87\.0% .* of 32 sales since 2025-11-01\.$/,
    )
    expect(last?.windowStart).toBe(local('2025-11-01', '00:00'))
    expect(last?.windowEnd).toBe(local('2026-02-14', '00:00'))
    expect(last?.sampleTxnIds.length).toBe(4)
  })

  it('catches the playbook: two months per card on its statement date, then a fresh set of cards', () => {
    // Each card shows up only twice, one month apart; every month a new batch starts.
    const batches = [
      { cards: ['a1', 'a2', 'a3'], months: ['01', '02'] },
      { cards: ['b1', 'b2', 'b3'], months: ['02', '03'] },
      { cards: ['d1', 'd2', 'd3'], months: ['03', '04'] },
    ]
    const events = byTime([
      ...['01', '02', '03', '04'].flatMap((m) => walkIns(date(m, 3), 8, 800)),
      ...batches.flatMap(({ cards, months }) =>
        cards.flatMap((c, k) => months.map((m) => sale(date(m, 5 + k * 7), '20:00', c, 18_000 + k * 700))),
      ),
    ])
    const { last } = runRule(cardRecurrence, events)
    expect(last?.detail).toMatch(/^9 cards/)
    expect(last?.observed).toBeGreaterThan(0.9)
    expect(last?.windowStart).toBe(local('2026-01-01', '00:00'))
  })

  it.each([
    { maxCycleDays: 35, fires: true },
    { maxCycleDays: 0, fires: false },
  ])(
    'a statement cycle across February (Jan 30 → Mar 1) recurs when maxCycleDays=$maxCycleDays',
    ({ maxCycleDays, fires }) => {
      const cards = ['c1', 'c2', 'c3']
      const events = byTime([
        ...walkIns('2026-01-05', 20, 500),
        ...cards.map((c) => sale('2026-01-30', '15:00', c, 25_000)),
        ...cards.map((c) => sale('2026-03-01', '15:00', c, 25_000)),
      ])
      const { last } = runRule(cardRecurrence, events, { params: { maxCycleDays } })
      expect(last === null ? null : last.observed).toBe(fires ? 150_000 / 160_000 : null)
    },
  )

  it('stays silent for a grocery whose loyal customers shop every week with cents (look-alike)', () => {
    const loyal = Array.from({ length: 60 }, (_, i) => `loyal-${i}`)
    const events = byTime(
      ['01', '02', '03', '04'].flatMap((m) =>
        [3, 10, 17, 24].flatMap((d) =>
          loyal.map((c, i) =>
            sale(
              date(m, d),
              `${String(8 + (i % 12)).padStart(2, '0')}:${String(i).padStart(2, '0')}`,
              c,
              47.35 + i * 3.11,
            ),
          ),
        ),
      ),
    )
    expect(runRule(cardRecurrence, events).last).toBeNull()
    // What keeps them out is the amount gate: without it every loyal customer recurs.
    const open = runRule(cardRecurrence, events, { params: { minAmount: 0, minMonthlyAmount: 0 } }).last
    expect(open?.observed).toBe(1)
    expect(open?.detail).toMatch(/^60 cards/)
  })

  it('stays silent for a furniture store where a few large buyers come back among many one-off sales', () => {
    const events = byTime([
      ...['01', '02', '03'].flatMap((m) => [5, 12, 19, 26].flatMap((d) => walkIns(date(m, d), 3, 12_000))),
      ...['r1', 'r2', 'r3'].flatMap((c) => [
        sale('2026-01-20', '16:00', c, 8_000),
        sale('2026-02-21', '16:00', c, 9_000),
      ]),
    ])
    const { last } = runRule(cardRecurrence, events)
    expect(last).toBeNull()
    expect(runRule(cardRecurrence, events, { params: { minShare: 0.05 } }).last?.observed).toBeCloseTo(
      51_000 / 483_000,
      6,
    )
  })

  it.each([
    { name: 'two recurring cards (card floor 3)', cards: 2, walk: 20 },
    { name: 'nineteen sales in the window (sales floor 20)', cards: 3, walk: 13 },
  ])('stays silent under the count floor: $name', ({ cards, walk }) => {
    const events = byTime([
      ...walkIns('2026-01-06', walk, 100),
      ...Array.from({ length: cards }, (_, k) => [
        sale('2026-01-15', '14:00', `c${k}`, 30_000),
        sale('2026-02-15', '14:00', `c${k}`, 30_000),
      ]).flat(),
    ])
    expect(runRule(cardRecurrence, events).last).toBeNull()
  })

  it('counts a swipe that arrives late after midnight in the month it was made', () => {
    const cards = ['c1', 'c2', 'c3']
    const events = [
      ...walkIns('2026-01-20', 20, 300),
      sale('2026-02-01', '00:10', 'someone', 300),
      // Authorised at 23:50 on 31 January, delivered after February's first sale.
      ...cards.map((c) => sale('2026-01-31', '23:50', c, 10_000)),
      ...cards.map((c) => sale('2026-02-20', '11:00', c, 10_000)),
    ]
    const { last } = runRule(cardRecurrence, events)
    expect(last?.observed).toBeCloseTo(60_000 / 66_300, 6)
    expect(last?.detail).toMatch(/^3 cards/)
  })

  it("puts a late swipe's earlier month before the card's later one", () => {
    const cards = ['c1', 'c2', 'c3']
    const events = [
      ...walkIns('2026-01-20', 20, 300),
      // Each card's February swipe arrives first, then its swipe of 31 January, late.
      ...cards.map((c, k) => sale('2026-02-01', `00:1${k}`, c, 10_000)),
      ...cards.map((c) => sale('2026-01-31', '23:50', c, 10_000)),
    ]
    const { last } = runRule(cardRecurrence, events)
    expect(last?.observed).toBeCloseTo(60_000 / 66_000, 6)
    expect(last?.detail).toMatch(/^3 cards/)
  })

  it('forgets months that left the window', () => {
    const cards = ['c1', 'c2', 'c3']
    const recurring = cards.flatMap((c) => [
      sale('2026-01-15', '14:00', c, 30_000),
      sale('2026-02-15', '14:00', c, 30_000),
    ])
    const events = byTime([
      ...walkIns('2026-01-05', 20, 100),
      ...recurring,
      ...walkIns('2026-06-02', 30, 100),
    ])
    const { hits } = runRule(cardRecurrence, events)
    expect(hits.length).toBeGreaterThan(0)
    // By June the window is March–June: January and February no longer count.
    expect(hits.every((h) => h.finding.windowStart === local('2025-11-01', '00:00'))).toBe(true)
  })
})
