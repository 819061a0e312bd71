import { describe, expect, it } from 'vitest'
import { tailBound } from '../../../rules/engine/calibration.ts'
import { nightShare } from '../../../rules/night-share.ts'
import type { TerminalTransaction } from '../../../schemas/types.generated.ts'
import { dist, local, measures, range, runRule, tx } from '../../helpers/rules.ts'

/** `n` approved sales of 500.00 at local `time`, one per day going back from 2026-03-20. */
function sales(n: number, time: string, extra: Partial<TerminalTransaction> = {}): TerminalTransaction[] {
  return Array.from({ length: n }, (_, i) => {
    const date = new Date(Date.UTC(2026, 2, 20 - (i % 25))).toISOString().slice(0, 10)
    return tx(local(date, time), { amount_minor: 50_000, ...extra })
  })
}

/** In event-time order: the engine drops events later than its allowed lateness. */
const timeline = (...groups: TerminalTransaction[][]) =>
  groups.flat().sort((a, b) => a.event_time - b.event_time)

/** A merchant with `day` daytime and `night` night sales of equal amounts. */
const mix = (day: number, night: number) => timeline(sales(day, '14:00'), sales(night, '02:30'))

const shops = measures({ nightShare: dist(range(0, 0.04)) })
const bars = measures({ nightShare: dist(range(0.25, 0.45)) })
const fence = (d: ReturnType<typeof dist>) => tailBound(d, { quantile: 0.75, margin: 3, scale: 'linear' })

describe('night_share', () => {
  it('fires on night volume far above that of peers', () => {
    const { last } = runRule(nightShare, mix(30, 15), { peers: shops })
    expect(last?.observed).toBeCloseTo(15 / 45, 6)
    // The shops' fence is below the 15% floor of the threshold.
    expect(fence(shops.nightShare)).toBeLessThan(0.15)
    expect(last?.threshold).toBe(0.15)
    expect(last?.basis).toBe('peers')
    expect(last?.sampleTxnIds.length).toBe(5)
    expect(last?.windowEnd).toBe(local('2026-03-21', '00:00'))
    expect(last?.windowStart).toBe(local('2026-02-19', '00:00'))
    expect(last?.detail).toContain('15 of 45 sales')
  })

  it("uses the peers' fence when that is above the floor", () => {
    const cohort = measures({ nightShare: dist(range(0.05, 0.15)) })
    const { last } = runRule(nightShare, mix(20, 20), { peers: cohort })
    expect(fence(cohort.nightShare)).toBeGreaterThan(0.15)
    expect(last?.threshold).toBeCloseTo(fence(cohort.nightShare), 6)
  })

  it.each([
    ['a bar trading at night like its peers (look-alike)', mix(30, 20), bars],
    ['a shop with a few late sales', mix(40, 5), shops],
    ['a shop at 11% night volume: above its peers but under the floor of the threshold', mix(80, 10), shops],
  ])('stays silent for %s', (_name, events, cohort) => {
    expect(runRule(nightShare, events, { peers: cohort }).last).toBeNull()
  })

  it('fires at 11% night volume once the floor of the threshold is lowered', () => {
    const { last } = runRule(nightShare, mix(80, 10), { peers: shops, params: { floor: 0.05 } })
    expect(last?.threshold).toBeCloseTo(Math.max(0.05, fence(shops.nightShare)), 6)
    expect(last?.observed).toBeCloseTo(10 / 90, 6)
  })

  it('still fires for a merchant among night traders when nearly all its volume is at night', () => {
    // Among bars trading from 60% to 95% at night, the fence would pass 100%: it is capped at 90%.
    const allNight = measures({ nightShare: dist(range(0.6, 0.95)) })
    const { last } = runRule(nightShare, mix(2, 40), { peers: allNight })
    expect(fence(allNight.nightShare)).toBeGreaterThan(1)
    expect(last?.threshold).toBe(0.9)
    expect(last?.detail).toContain('capped at 90.0%')
    expect(last?.observed).toBeCloseTo(40 / 42, 6)
  })

  it('with no baseline at all, the floor decides and the finding says so', () => {
    const { last } = runRule(nightShare, mix(30, 15), { peers: null, population: null })
    expect(last?.threshold).toBe(0.15)
    expect(last?.basis).toBe('none')
    expect(last?.detail).toContain('no baseline yet')
  })

  it('needs the count floors: a handful of night sales is no pattern', () => {
    expect(runRule(nightShare, mix(0, 9), { peers: shops }).last).toBeNull()
    expect(runRule(nightShare, mix(15, 12), { peers: shops }).last).toBeNull()
    expect(runRule(nightShare, mix(15, 12), { peers: shops, params: { minTxns: 20 } }).last).not.toBeNull()
  })

  it('counts the window when it reaches the count floor as it would have counted it all along', () => {
    // Under 30 sales the window is not counted; late sales of past days come, then the 30th sale.
    const early = timeline(sales(12, '14:00'), sales(9, '02:30'))
    const late = [
      tx(local('2026-03-03', '01:00'), { amount_minor: 70_000 }),
      tx(local('2026-03-04', '15:00'), { amount_minor: 30_000 }),
    ]
    const more = sales(7, '02:30').map((t) => ({ ...t, event_time: t.event_time + 2 * 86_400_000 }))
    const events = [...early, ...late, ...more]
    const opts = { peers: shops, allowedLatenessMs: 30 * 86_400_000 }
    const floor30 = runRule(nightShare, events, opts).last
    const floor1 = runRule(nightShare, events, { ...opts, params: { minTxns: 1 } }).last
    expect(floor30?.detail).toContain('(17 of 30 sales)')
    expect(floor30).toEqual(floor1)
  })

  it('uses local time: 02:30 local is 18:30 UTC the day before, 02:30 UTC is daytime locally', () => {
    const at = (iso: string) => tx(Date.parse(iso), { amount_minor: 50_000 })
    const localNight = Array.from({ length: 15 }, (_, i) =>
      at(`2026-03-${String(i + 1).padStart(2, '0')}T18:30:00Z`),
    )
    const utcNight = Array.from({ length: 15 }, (_, i) =>
      at(`2026-03-${String(i + 1).padStart(2, '0')}T02:30:00Z`),
    )
    const day = sales(30, '14:00')
    expect(runRule(nightShare, timeline(localNight, day), { peers: shops }).last?.observed).toBeCloseTo(
      1 / 3,
      6,
    )
    expect(runRule(nightShare, timeline(utcNight, day), { peers: shops }).last).toBeNull()
  })

  it('counts 04:59 as night and 05:00 as morning', () => {
    expect(
      runRule(nightShare, timeline(sales(20, '14:00'), sales(20, '04:59')), { peers: shops }).last,
    ).not.toBeNull()
    expect(
      runRule(nightShare, timeline(sales(20, '14:00'), sales(20, '05:00')), { peers: shops }).last,
    ).toBeNull()
  })

  it('ignores declined night attempts and refunds', () => {
    const events = timeline(
      sales(30, '14:00'),
      sales(15, '02:00', { response_code: '05' }),
      sales(15, '03:00', { txn_type: 'REFUND' }),
    )
    expect(runRule(nightShare, events, { peers: shops }).last).toBeNull()
  })

  it('forgets night sales older than 30 days', () => {
    const old = Array.from({ length: 20 }, (_, i) =>
      tx(local('2026-01-10', `02:${String(i).padStart(2, '0')}`)),
    )
    const { hits } = runRule(nightShare, [...old, ...sales(30, '14:00')], { peers: shops })
    expect(hits).toEqual([])
  })

  it('forgets the night sales of a merchant idle for longer than the table holds', () => {
    // 40 night sales on one day, then nothing for 70 days, then daytime trade: the old sales must not
    // come back as part of the new window's total (they once made one sale "97.6% at night").
    const old = Array.from({ length: 40 }, (_, i) =>
      tx(local('2026-01-01', `02:${String(i).padStart(2, '0')}`)),
    )
    const later = Array.from({ length: 35 }, (_, i) => {
      const date = new Date(Date.UTC(2026, 2, 12 + (i % 20))).toISOString().slice(0, 10)
      return tx(local(date, '14:00'), { amount_minor: 50_000 })
    })
    const lowFloor = { minTxns: 1, minNightTxns: 1 }
    const { hits } = runRule(nightShare, timeline(old, later), { peers: shops, params: lowFloor })
    // The 40 old sales fire on their own day; nothing after the gap does.
    expect(hits.length).toBeGreaterThan(0)
    expect(hits.every((h) => h.finding.windowEnd <= local('2026-01-02', '00:00'))).toBe(true)
  })
})
