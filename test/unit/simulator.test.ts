import { describe, expect, it } from 'vitest'
import { EVERY_ACQUIRER, validateMerchantEvent, validateTransaction } from '../../ingest/validate.ts'
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
    const txns = Array.from({ length: 20_000 }, () => sim.next(NOW))
    const grocery = txns.filter((t) => t.mcc === '5411')
    const cars = txns.filter((t) => t.mcc === '5511')
    const wholeShare = (ts: typeof txns) => ts.filter((t) => t.amount_minor % 100 === 0).length / ts.length
    expect(grocery.length).toBeGreaterThan(1000)
    expect(wholeShare(grocery)).toBeLessThan(0.05)
    expect(cars.length).toBeGreaterThan(50)
    const median = (ts: typeof txns) =>
      [...ts.map((t) => t.amount_minor)].sort((x, y) => x - y)[ts.length >> 1] ?? 0
    expect(median(cars)).toBeGreaterThan(100 * median(grocery))
    // Unique transaction ids.
    expect(new Set(txns.map((t) => t.txn_id)).size).toBe(txns.length)
  })
})
