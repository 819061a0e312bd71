import { describe, expect, it } from 'vitest'
import { tailBound } from '../../../rules/engine/calibration.ts'
import { highTicket } from '../../../rules/high-ticket.ts'
import type { CardType } from '../../../schemas/types.generated.ts'
import { dist, local, measures, range, runRule, tx } from '../../helpers/rules.ts'

const Y = 100 // fen per yuan

/**
 * Approved sales on one local day, one a minute from 10:00; amounts in major units (CNY), on credit
 * cards unless `card` says otherwise.
 */
function sales(date: string, amounts: readonly number[], card: CardType = 'CREDIT', from = 10) {
  return amounts.map((a, i) =>
    tx(local(date, `${from}:${String(i % 60).padStart(2, '0')}`) + Math.floor(i / 60) * 3_600_000, {
      amount_minor: Math.round(a * Y),
      card_type: card,
    }),
  )
}

const times = <T>(n: number, v: T): T[] => Array.from({ length: n }, () => v)

// A grocery cohort: average tickets from 60 to 200.
const grocers = measures({ avgTicket: dist(range(60 * Y, 200 * Y)) })
const fence = tailBound(grocers.avgTicket, { quantile: 0.75, margin: 3, scale: 'log' })

// Fuel stations of a city: average tickets from 200 to 600.
const stations = measures({ avgTicket: dist(range(200 * Y, 600 * Y)) })
/** A truck stop's day: walk-in drivers on credit cards, and fleets' trucks filling up on fuel cards. */
const truckStop = (fleetCard: CardType) => [
  ...sales('2026-03-10', times(40, 380)),
  ...sales('2026-03-10', times(60, 2_400), fleetCard, 14),
]

describe('high_ticket', () => {
  it('fires when the average ticket is far above peers of the same MCC', () => {
    const { last } = runRule(highTicket, sales('2026-03-10', times(30, 2_000)), { peers: grocers })
    expect(last?.observed).toBe(2_000 * Y)
    // The peers' fence or the floor, whichever is higher: the population (car dealers too) is not consulted.
    expect(last?.threshold).toBeCloseTo(Math.max(500 * Y, fence), 6)
    expect(last?.basis).toBe('peers')
    expect(last?.sampleTxnIds).toHaveLength(5)
    expect(last?.windowStart).toBe(local('2026-02-09', '00:00'))
    expect(last?.windowEnd).toBe(local('2026-03-11', '00:00'))
    expect(last?.detail).toContain('average of 30 approved sales was 2000.00, above its 50 peers')
  })

  it('is not fooled by swipes kept under 50,000 and diluted with small sales', () => {
    const small = Array.from({ length: 200 }, (_, i) => 50 + (i % 40) * 5.5)
    const { last } = runRule(highTicket, sales('2026-03-10', [...small, ...times(20, 49_500)]), {
      peers: grocers,
    })
    const avg = (small.reduce((a, b) => a + b, 0) + 20 * 49_500) / 220
    expect(last?.observed).toBeCloseTo(avg * Y, 6)
  })

  it.each([
    {
      name: 'a jeweller among jewellers',
      peers: measures({ avgTicket: dist(range(6_000 * Y, 30_000 * Y)) }),
      fires: false,
    },
    { name: 'the same tickets at a grocery', peers: grocers, fires: true },
  ])('compares with the trade: $name', (c) => {
    const tickets = Array.from({ length: 30 }, (_, i) => 12_000 + (i % 10) * 1_200 + 0.5)
    expect(runRule(highTicket, sales('2026-03-10', tickets), { peers: c.peers }).last !== null).toBe(c.fires)
  })

  it('without peers, compares with the population only and says the cohort is thin', () => {
    const { last } = runRule(highTicket, sales('2026-03-10', times(30, 20_000)))
    expect(last?.basis).toBe('population')
    expect(last?.detail).toContain('peer cohort too thin')
  })

  it.each([
    { n: 29, fires: false },
    { n: 30, fires: true },
  ])('needs 30 approved sales before the average counts ($n)', (c) => {
    const { last } = runRule(highTicket, sales('2026-03-10', times(c.n, 2_000)), { peers: grocers })
    expect(last?.observed ?? null).toBe(c.fires ? 2_000 * Y : null)
  })

  it('counts a late sale in the window and drops days older than 30', () => {
    const late = runRule(
      highTicket,
      [...sales('2026-03-10', times(29, 2_000)), ...sales('2026-03-09', [2_000])],
      { peers: grocers, allowedLatenessMs: 2 * 86_400_000 },
    )
    expect(late.last?.observed).toBe(2_000 * Y)

    const old = runRule(
      highTicket,
      [...sales('2026-03-01', times(30, 2_000)), ...sales('2026-03-31', times(30, 150))],
      { peers: grocers },
    )
    expect(old.hits.length).toBeGreaterThan(0)
    expect(old.hits.every((h) => h.finding.windowEnd <= local('2026-03-02', '00:00'))).toBe(true)
  })

  it.each([
    { fleetCard: 'DEBIT' as const, fires: false },
    { fleetCard: 'PREPAID' as const, fires: false },
    { fleetCard: 'CREDIT' as const, fires: true },
    { fleetCard: 'UNKNOWN' as const, fires: true },
  ])('needs the high average carried by credit: a truck stop whose fleets pay by $fleetCard card', (c) => {
    const { hits, last } = runRule(highTicket, truckStop(c.fleetCard), { peers: stations })
    // Every ticket's average is far above other stations' either way; the walk-in drivers' 380 on
    // credit cards alone is not.
    if (c.fires) {
      expect(last?.observed).toBeCloseTo(((40 * 380 + 60 * 2_400) / 100) * Y, 6)
      expect(last?.detail).toContain('that of its 100 credit-card sales, 1592.00, too.')
    } else expect(hits).toEqual([])
  })

  it.each([
    { credit: 0, fires: false },
    { credit: 9, fires: false },
    { credit: 10, fires: true },
  ])('needs 10 credit sales to carry the average: $credit of 30 large tickets on credit cards', (c) => {
    const events = [
      ...sales('2026-03-10', times(c.credit, 2_000)),
      ...sales('2026-03-10', times(30 - c.credit, 2_000), 'DEBIT', 14),
    ]
    expect(runRule(highTicket, events, { peers: grocers }).last !== null).toBe(c.fires)
  })

  it('with creditCarried off, every ticket decides, as before', () => {
    const { last } = runRule(highTicket, truckStop('DEBIT'), {
      peers: stations,
      params: { creditCarried: false },
    })
    expect(last?.observed).toBeCloseTo(((40 * 380 + 60 * 2_400) / 100) * Y, 6)
    expect(last?.threshold).toBeCloseTo(
      tailBound(stations.avgTicket, { quantile: 0.75, margin: 4, scale: 'log' }),
      6,
    )
    expect(last?.detail).not.toContain('credit')
  })

  it('counts only approved sales', () => {
    const events = [
      ...sales('2026-03-10', times(30, 150)),
      ...times(20, 0).map((_, i) =>
        tx(local('2026-03-10', `11:${String(i).padStart(2, '0')}`), {
          amount_minor: 40_000 * Y,
          response_code: '05',
        }),
      ),
    ]
    expect(runRule(highTicket, events, { peers: grocers }).hits).toEqual([])
  })
})
