import { describe, expect, it } from 'vitest'
import { EVERY_ACQUIRER, validateMerchantEvent, validateTransaction } from '../../schemas/validate.ts'
import { TrafficSimulator } from '../../simulator/generator.ts'
import { parseLate } from '../../simulator/late.ts'

const NOW = Date.UTC(2026, 10, 22, 4, 0, 0)

describe('traffic simulator', () => {
  it('gives the same events for the same seed and run id', () => {
    const a = new TrafficSimulator({ seed: 7, merchants: 50, runId: 'r' })
    const b = new TrafficSimulator({ seed: 7, merchants: 50, runId: 'r' })
    const c = new TrafficSimulator({ seed: 8, merchants: 50, runId: 'r' })
    const take = (s: TrafficSimulator) => Array.from({ length: 200 }, () => s.next(NOW))
    const ta = take(a)
    expect(take(b)).toEqual(ta)
    expect(take(c)).not.toEqual(ta)
    expect(a.lifecycle(NOW)).toEqual(b.lifecycle(NOW))
  })

  it('delivers a seeded share of transactions late, leaving the traffic itself unchanged', () => {
    const late = parseLate('0.05@1m-30m,0.01@1h-24h')
    const onTime = new TrafficSimulator({ seed: 7, merchants: 50, runId: 'r' })
    const withLate = new TrafficSimulator({ seed: 7, merchants: 50, runId: 'r', late })
    const again = new TrafficSimulator({ seed: 7, merchants: 50, runId: 'r', late })
    const n = 20_000
    const a = Array.from({ length: n }, () => onTime.next(NOW))
    const b = Array.from({ length: n }, () => withLate.next(NOW))
    expect(Array.from({ length: n }, () => again.next(NOW))).toEqual(b)
    // Everything but the event time is the same transaction.
    expect(b.map((t) => ({ ...t, event_time: NOW }))).toEqual(a)
    const delays = b.map((t) => NOW - t.event_time)
    const minutes = delays.filter((d) => d >= 60_000 && d <= 30 * 60_000).length
    const hours = delays.filter((d) => d >= 3_600_000 && d <= 86_400_000).length
    expect(minutes + hours + delays.filter((d) => d === 0).length).toBe(n)
    expect(minutes / n).toBeGreaterThan(0.04)
    expect(minutes / n).toBeLessThan(0.06)
    expect(hours / n).toBeGreaterThan(0.006)
    expect(hours / n).toBeLessThan(0.014)
  })

  it('produces only events that pass ingest validation', () => {
    const sim = new TrafficSimulator({ seed: 1, merchants: 100, runId: 'v' })
    const opts = { now: NOW, maxFutureSkewMs: 0, isKnownAcquirer: EVERY_ACQUIRER }
    for (const e of sim.lifecycle(NOW)) expect(validateMerchantEvent(e, opts).ok).toBe(true)
    for (let i = 0; i < 2000; i++) {
      const r = validateTransaction(sim.next(NOW), opts)
      expect(r.ok ? '' : r.error.message).toBe('')
    }
  })

  it('prices with cents where shops have them, and differs by category', () => {
    const sim = new TrafficSimulator({ seed: 3, merchants: 300, runId: 'p' })
    const txns = Array.from({ length: 60_000 }, () => sim.next(NOW))
    const grocery = txns.filter((t) => t.mcc === '5411')
    const cars = txns.filter((t) => t.mcc === '5511')
    const wholeShare = (ts: typeof txns) => ts.filter((t) => t.amount_minor % 100 === 0).length / ts.length
    expect(grocery.length).toBeGreaterThan(1000)
    expect(wholeShare(grocery)).toBeLessThan(0.05)
    // Car dealers sell a couple of cars a day where a grocery sells dozens of baskets.
    expect(cars.length).toBeGreaterThan(10)
    expect(cars.length).toBeLessThan(grocery.length / 5)
    const median = (ts: typeof txns) =>
      [...ts.map((t) => t.amount_minor)].sort((x, y) => x - y)[ts.length >> 1] ?? 0
    expect(median(cars)).toBeGreaterThan(100 * median(grocery))
    // Unique transaction ids.
    expect(new Set(txns.map((t) => t.txn_id)).size).toBe(txns.length)
  })

  it('continues after a restart instead of replaying: the same merchants, other sales', () => {
    const before = new TrafficSimulator({ seed: 7, merchants: 200, runId: '7-run1' })
    const after = new TrafficSimulator({ seed: 7, merchants: 200, runId: '7-run2' })
    expect(after.lifecycle(NOW)).toEqual(before.lifecycle(NOW))
    const pairs = (s: TrafficSimulator) =>
      Array.from({ length: 5_000 }, (_, i) => {
        const t = s.next(NOW + i * 20)
        return `${t.merchant_id}|${t.card_token}|${t.amount_minor}`
      })
    const a = pairs(before)
    const b = new Set(pairs(after))
    // Almost nothing of the first run's sales comes back: regulars now and then, never the sequence.
    expect(a.filter((p) => b.has(p)).length).toBeLessThan(50)
  })

  it('brings a card back to a shop within 10 minutes only by coincidence, however fast the traffic', () => {
    const sim = new TrafficSimulator({ seed: 5, merchants: 200, runId: 'fast' })
    // An hour at 50 sales a second: 180,000 sales over 200 shops.
    const last = new Map<string, number>()
    let soon = 0
    for (let s = 0; s < 3_600; s++)
      for (let k = 0; k < 50; k++) {
        const t = sim.next(NOW + s * 1000)
        const key = `${t.merchant_id}|${t.card_token}`
        const prev = last.get(key)
        if (prev !== undefined && t.event_time - prev < 10 * 60_000) soon++
        last.set(key, t.event_time)
      }
    // A million cards a city: two draws of one card at one busy shop within minutes happen, rarely. A
    // regular returns at most once in 20 hours, so none of these is a regular's pattern.
    expect(soon).toBeLessThan(180_000 / 1_000)
    // And cards shop around: many are seen at two or more shops within the hour.
    const shops = new Map<string, Set<string>>()
    for (const key of last.keys()) {
      const [m = '', c = ''] = key.split('|')
      shops.set(c, (shops.get(c) ?? new Set()).add(m))
    }
    expect([...shops.values()].filter((s) => s.size >= 2).length).toBeGreaterThan(100)
  })
})
