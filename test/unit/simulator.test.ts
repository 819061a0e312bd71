import { describe, expect, it } from 'vitest'
import { validateMerchantEvent, validateTransaction } from '../../ingest/validate.ts'
import { TrafficSimulator } from '../../simulator/generator.ts'

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

  it('produces only events that pass ingest validation', () => {
    const sim = new TrafficSimulator({ seed: 1, merchants: 100, runId: 'v' })
    const opts = { now: NOW, maxFutureSkewMs: 0 }
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
