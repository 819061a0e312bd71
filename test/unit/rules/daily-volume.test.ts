import { describe, expect, it } from 'vitest'
import { dailyVolume } from '../../../rules/daily-volume.ts'
import { structuring } from '../../../rules/structuring.ts'
import { local, peers, runRule, spread, tx } from '../../helpers/rules.ts'

const DAY_MS = 86_400_000
const Y = 100 // fen per yuan

/** Approved sales on one local day, one a minute from 10:00; amounts in major units (CNY). */
function sales(date: string, amounts: readonly number[], start = '10') {
  return amounts.map((a, i) =>
    tx(local(date, `${start}:${String(i).padStart(2, '0')}`), { amount_minor: a * Y }),
  )
}

const times = <T>(n: number, v: T): T[] => Array.from({ length: n }, () => v)

describe('daily_volume', () => {
  it.each([
    {
      bar: 'the absolute cap',
      opts: {},
      n: 7,
      volume: 7 * 50_000,
      threshold: 300_000 * Y,
      text: 'above the absolute cap of 300000.00',
    },
    {
      bar: 'its own 90-day baseline',
      opts: { baseline: { dailyVolumeMedian: 20_000 * Y, activeDays: 60 } },
      n: 5,
      volume: 5 * 30_000,
      threshold: 6 * 20_000 * Y,
      text: '7.5× its own 90-day median day of 20000.00',
    },
    {
      bar: 'its peers',
      opts: { peers: peers({ dailyVolume: spread(50_000 * Y, 10_000 * Y) }) },
      n: 4,
      volume: 4 * 30_000,
      threshold: 110_000 * Y,
      text: "above its 50 peers' median day of 50000.00 + 6 MAD (110000.00)",
    },
  ])('fires on a day above $bar and says which bar', (c) => {
    const { last } = runRule(dailyVolume, sales('2026-03-10', times(c.n, c.volume / c.n)), c.opts)
    expect(last?.observed).toBe(c.volume * Y)
    expect(last?.threshold).toBe(c.threshold)
    expect(last?.detail).toContain(c.text)
    expect(last?.detail).not.toContain('also')
    expect(last?.windowStart).toBe(local('2026-03-10', '00:00'))
    expect(last?.windowEnd).toBe(local('2026-03-11', '00:00'))
    expect(last?.sampleTxnIds).toHaveLength(Math.min(c.n, 5))
  })

  it('reports the lowest bar crossed and names the others', () => {
    const { last } = runRule(dailyVolume, sales('2026-03-10', times(8, 50_000)), {
      baseline: { dailyVolumeMedian: 20_000 * Y, activeDays: 60 },
      peers: peers({ dailyVolume: spread(50_000 * Y, 10_000 * Y) }),
    })
    expect(last?.observed).toBe(400_000 * Y)
    expect(last?.threshold).toBe(110_000 * Y)
    expect(last?.detail).toMatch(
      /peers' median day .*; also 20\.0× its own 90-day .*; above the absolute cap/,
    )
  })

  it('stays silent on the relative bars for a busy supermarket trading like its history and peers', () => {
    const supermarket = {
      baseline: { dailyVolumeMedian: 400_000 * Y, activeDays: 90 },
      peers: peers({ dailyVolume: spread(450_000 * Y, 100_000 * Y) }),
    }
    const day = sales('2026-03-10', times(42, 10_000))
    const { last } = runRule(dailyVolume, day, supermarket)
    // Only the absolute cap speaks, and it says so.
    expect(last?.threshold).toBe(300_000 * Y)
    expect(last?.detail).not.toMatch(/median/)
    expect(runRule(dailyVolume, day, { ...supermarket, params: { capMajor: 1_000_000 } }).hits).toEqual([])
  })

  it.each([
    {
      name: 'baseline from too few active days',
      opts: { baseline: { dailyVolumeMedian: 2_000 * Y, activeDays: 19 } },
    },
    { name: 'cohort too small', opts: { peers: peers({ dailyVolume: spread(2_000 * Y, 500 * Y, 19) }) } },
    {
      name: 'day under the 10,000 relative floor',
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
    expect(runRule(dailyVolume, events).hits).toEqual([])
    const s = runRule(structuring, events).last
    expect(s?.observed).toBe(5)
    expect(s?.threshold).toBe(3)
  })

  it('counts per local calendar day (UTC+8), not per UTC day', () => {
    // 23:30 and 00:30 local are the same UTC day but two local days: 200,000 each, under the cap.
    const events = [
      ...sales('2026-03-10', times(4, 50_000), '23'),
      ...sales('2026-03-11', times(4, 50_000), '00'),
    ]
    expect(runRule(dailyVolume, events).hits).toEqual([])
  })

  it('reports the day a late event pushed over the cap, not the watermark day', () => {
    const events = [
      ...sales('2026-03-10', times(5, 50_000)),
      ...sales('2026-03-11', [120]),
      // Happened on 03-10, arrives after 03-11 began: 03-10 closes at 320,000.
      tx(local('2026-03-10', '22:00'), { amount_minor: 70_000 * Y }),
    ]
    const { last, hits } = runRule(dailyVolume, events, { allowedLatenessMs: DAY_MS })
    expect(hits).toHaveLength(1)
    expect(last?.observed).toBe(320_000 * Y)
    expect(last?.windowStart).toBe(local('2026-03-10', '00:00'))
    expect(last?.detail).toContain('2026-03-10')
  })

  it('counts only approved sales', () => {
    const events = [
      ...sales('2026-03-10', times(5, 50_000)),
      tx(local('2026-03-10', '12:00'), { amount_minor: 90_000 * Y, response_code: '51' }),
      tx(local('2026-03-10', '12:01'), { amount_minor: 90_000 * Y, txn_type: 'REFUND' }),
    ]
    expect(runRule(dailyVolume, events).hits).toEqual([])
  })
})
