import { describe, expect, it } from 'vitest'
import { dailyVolume } from '../../../rules/daily-volume.ts'
import { tailBound } from '../../../rules/engine/calibration.ts'
import { structuring } from '../../../rules/structuring.ts'
import { dist, local, measures, range, runRule, tx } from '../../helpers/rules.ts'

const DAY_MS = 86_400_000
const Y = 100 // fen per yuan

/** Approved sales on one local day, one a minute from 10:00; amounts in major units (CNY). */
function sales(date: string, amounts: readonly number[], start = '10') {
  return amounts.map((a, i) =>
    tx(local(date, `${start}:${String(i).padStart(2, '0')}`), { amount_minor: a * Y }),
  )
}

const times = <T>(n: number, v: T): T[] => Array.from({ length: n }, () => v)

// Peers trading 30,000 to 70,000 a day: a fence of about 60,000 × (60,000 / 50,000)³ ≈ 103,000.
const traders = measures({ dailyVolume: dist(range(30_000 * Y, 70_000 * Y)) })
const fence = tailBound(traders.dailyVolume, { quantile: 0.75, margin: 3, scale: 'log' })
// Peers trading 150,000 to 200,000 a day: a fence of about 230,600.
const large = measures({ dailyVolume: dist(range(150_000 * Y, 200_000 * Y)) })

describe('daily_volume', () => {
  it.each([
    {
      bar: 'its own 90-day baseline',
      opts: { baseline: { dailyVolumeMedian: 20_000 * Y, activeDays: 60 }, peers: large },
      n: 5,
      volume: 5 * 30_000,
      threshold: 6 * 20_000 * Y,
      text: '7.5× its own 90-day median day of 20000.00',
    },
    {
      bar: 'its peers',
      opts: { peers: traders },
      n: 4,
      volume: 4 * 30_000,
      threshold: fence,
      text: `above its 50 peers' fence ${(fence / Y).toFixed(2)}`,
    },
  ])('fires on a day above $bar and says which bar', (c) => {
    const { last } = runRule(dailyVolume, sales('2026-03-10', times(c.n, c.volume / c.n)), c.opts)
    expect(last?.observed).toBe(c.volume * Y)
    expect(last?.threshold).toBeCloseTo(c.threshold, 0)
    expect(last?.basis).toBe('peers')
    expect(last?.detail).toContain(c.text)
    expect(last?.detail).not.toContain('also')
    expect(last?.windowStart).toBe(local('2026-03-10', '00:00'))
    expect(last?.windowEnd).toBe(local('2026-03-11', '00:00'))
    expect(last?.sampleTxnIds).toHaveLength(Math.min(c.n, 5))
  })

  it('reports the lowest bar crossed and names the other', () => {
    const { last } = runRule(dailyVolume, sales('2026-03-10', times(8, 50_000)), {
      baseline: { dailyVolumeMedian: 20_000 * Y, activeDays: 60 },
      peers: traders,
    })
    expect(last?.observed).toBe(400_000 * Y)
    expect(last?.threshold).toBeCloseTo(fence, 0)
    expect(last?.detail).toMatch(/peers' fence .*; also 20\.0× its own 90-day/)
  })

  it('stays silent for a busy supermarket trading like its history and peers', () => {
    const supermarket = {
      baseline: { dailyVolumeMedian: 400_000 * Y, activeDays: 90 },
      peers: measures({ dailyVolume: dist(range(300_000 * Y, 600_000 * Y)) }),
    }
    expect(runRule(dailyVolume, sales('2026-03-10', times(42, 10_000)), supermarket).hits).toEqual([])
  })

  it.each([
    {
      name: 'baseline from too few active days, and no population yet',
      opts: { baseline: { dailyVolumeMedian: 2_000 * Y, activeDays: 19 }, population: null },
    },
    { name: 'no baseline of any kind (a new deployment)', opts: { population: null } },
    {
      name: 'day under the 10,000 floor',
      opts: { baseline: { dailyVolumeMedian: 500 * Y, activeDays: 60 } },
      amount: 9_000,
    },
  ])('respects the floors: $name', (c) => {
    const { hits } = runRule(dailyVolume, sales('2026-03-10', times(3, (c.amount ?? 90_000) / 3)), c.opts)
    expect(hits).toEqual([])
  })

  it('leaves days bunched just under the cap to structuring, which catches them', () => {
    const events = [0, 1, 2, 3, 4].flatMap((d) =>
      sales(new Date(Date.UTC(2026, 2, 1 + d)).toISOString().slice(0, 10), times(15, 19_200)),
    )
    const bigPeers = measures({ dailyVolume: dist(range(250_000 * Y, 320_000 * Y)) })
    expect(runRule(dailyVolume, events, { peers: bigPeers }).hits).toEqual([])
    const s = runRule(structuring, events).last
    expect(s?.observed).toBe(5)
    expect(s?.threshold).toBe(5)
  })

  it('counts per local calendar day (UTC+8), not per UTC day', () => {
    // 23:30 and 00:30 local are the same UTC day but two local days: 200,000 each, under the fence.
    const events = [
      ...sales('2026-03-10', times(4, 50_000), '23'),
      ...sales('2026-03-11', times(4, 50_000), '00'),
    ]
    expect(runRule(dailyVolume, events, { peers: large }).hits).toEqual([])
    expect(runRule(dailyVolume, sales('2026-03-10', times(8, 50_000)), { peers: large }).last?.observed).toBe(
      400_000 * Y,
    )
  })

  it('reports the day a late event pushed over the fence, not the watermark day', () => {
    const events = [
      ...sales('2026-03-10', times(4, 50_000)),
      ...sales('2026-03-11', [120]),
      // Happened on 03-10, arrives after 03-11 began: 03-10 closes at 270,000.
      tx(local('2026-03-10', '22:00'), { amount_minor: 70_000 * Y }),
    ]
    const { last, hits } = runRule(dailyVolume, events, { allowedLatenessMs: DAY_MS, peers: large })
    expect(hits).toHaveLength(1)
    expect(last?.observed).toBe(270_000 * Y)
    expect(last?.windowStart).toBe(local('2026-03-10', '00:00'))
    expect(last?.detail).toContain('2026-03-10')
  })

  it('counts only approved sales', () => {
    const events = [
      ...sales('2026-03-10', times(4, 50_000)),
      tx(local('2026-03-10', '12:00'), { amount_minor: 90_000 * Y, response_code: '51' }),
      tx(local('2026-03-10', '12:01'), { amount_minor: 90_000 * Y, txn_type: 'REFUND' }),
    ]
    expect(runRule(dailyVolume, events, { peers: large }).hits).toEqual([])
  })
})
