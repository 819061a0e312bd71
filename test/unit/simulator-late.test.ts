import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { DEFAULT_START, HistorySimulator, type SimEvent } from '../../simulator/history.ts'
import { DEFAULT_LATE, deliverLate, deliveryOrder, parseLate } from '../../simulator/late.ts'

const MINUTE = 60_000
const HOUR = 3_600_000
const options = { seed: 13, merchants: 300, days: 10, start: DEFAULT_START }
const idOf = (e: SimEvent) => (e.topic === 'transactions' ? e.value.txn_id : e.value.event_id)

function delivered(late: string, seed = options.seed): SimEvent[] {
  return [...deliverLate(new HistorySimulator(options).events(), parseLate(late), seed)]
}

function digest(events: readonly SimEvent[]): string {
  const h = createHash('sha256')
  for (const e of events) h.update(JSON.stringify(e))
  return h.digest('hex')
}

const onTime = [...new HistorySimulator(options).events()]
const txns = onTime.filter((e) => e.topic === 'transactions').length
// Large shares so that the counts below are far from noise (about 40,000 transactions).
const spec = '0.05@1m-30m,0.02@1h-24h'
const stream = delivered(spec)

describe('late delivery', () => {
  it('is deterministic: same seed, same stream; another seed, other late events', () => {
    expect(digest(delivered(spec))).toBe(digest(stream))
    const other = delivered(spec, options.seed + 1)
    expect(digest(other)).not.toBe(digest(stream))
    // The events themselves come from the history, not from the lateness draws.
    expect(new Set(other.map(idOf))).toEqual(new Set(stream.map(idOf)))
  })

  it('delivers every event once, unchanged, in delivery order', () => {
    expect(stream).toHaveLength(onTime.length)
    const byId = new Map(onTime.map((e) => [idOf(e), e]))
    for (const e of stream) expect(e.value).toEqual(byId.get(idOf(e))?.value)
    expect(new Set(stream.map(idOf)).size).toBe(onTime.length)
    for (let i = 1; i < stream.length; i++) {
      const [a, b] = [stream[i - 1], stream[i]]
      if (a !== undefined && b !== undefined) expect(deliveryOrder(a, b)).toBeLessThan(0)
    }
    // Out of event-time order: some events come after later ones.
    let behind = 0
    let latest = 0
    for (const e of stream) {
      if (e.value.event_time < latest) behind++
      latest = Math.max(latest, e.value.event_time)
    }
    expect(behind).toBeGreaterThan(txns * 0.05)
  })

  it('delays the configured share of transactions by the configured delays, lifecycle events never', () => {
    const late = stream.filter((e) => e.deliveredAt !== undefined)
    expect(late.every((e) => e.topic === 'transactions')).toBe(true)
    const delays = late.map((e) => (e.deliveredAt ?? 0) - e.value.event_time)
    const minutes = delays.filter((d) => d >= MINUTE && d <= 30 * MINUTE)
    const hours = delays.filter((d) => d >= HOUR && d <= 24 * HOUR)
    // Every delay falls in one of the two classes.
    expect(minutes.length + hours.length).toBe(late.length)
    // Binomial spread at these counts is about 0.1 and 0.07 points: 0.6 points is far out.
    expect(minutes.length / txns).toBeGreaterThan(0.044)
    expect(minutes.length / txns).toBeLessThan(0.056)
    expect(hours.length / txns).toBeGreaterThan(0.014)
    expect(hours.length / txns).toBeLessThan(0.026)
    // Log-uniform in [1 h, 24 h]: the median near sqrt(24) h, and some beyond the engine's default 6 h.
    const sorted = [...hours].sort((a, b) => a - b)
    const median = sorted[Math.floor(sorted.length / 2)] ?? 0
    expect(median).toBeGreaterThan(3.5 * HOUR)
    expect(median).toBeLessThan(6.5 * HOUR)
    expect(hours.filter((d) => d > 6 * HOUR).length / hours.length).toBeGreaterThan(0.3)
  })

  it('leaves the labels alone', () => {
    const sim = new HistorySimulator(options)
    const before = JSON.stringify(sim.labels)
    const n = [...deliverLate(sim.events(), parseLate(spec), options.seed)].length
    expect(n).toBe(onTime.length)
    expect(JSON.stringify(sim.labels)).toBe(before)
    expect(sim.labels).toEqual(new HistorySimulator(options).labels)
  })

  it('passes the stream through unchanged without late classes', () => {
    const none = delivered('0')
    expect(none.every((e) => e.deliveredAt === undefined)).toBe(true)
    expect(digest(none)).toBe(digest(onTime))
  })

  it('has a small default: 1.5% minutes late, 0.3% hours late, some beyond 6 hours', () => {
    expect(parseLate(DEFAULT_LATE)).toEqual([
      { share: 0.015, minMs: MINUTE, maxMs: 30 * MINUTE },
      { share: 0.003, minMs: HOUR, maxMs: 24 * HOUR },
    ])
    const late = delivered(DEFAULT_LATE).filter((e) => e.deliveredAt !== undefined)
    expect(late.length / txns).toBeGreaterThan(0.014)
    expect(late.length / txns).toBeLessThan(0.022)
    expect(late.some((e) => (e.deliveredAt ?? 0) - e.value.event_time > 6 * HOUR)).toBe(true)
  })

  it.each([
    ['1.5%@90s-2h', [{ share: 0.015, minMs: 90_000, maxMs: 2 * HOUR }]],
    ['off', []],
    ['0.1@500ms-1d', [{ share: 0.1, minMs: 500, maxMs: 86_400_000 }]],
  ])('parses --late %s', (text, classes) => {
    expect(parseLate(text)).toEqual(classes)
  })

  it.each([
    ['0.5@1m', /share/],
    ['2@1m-2m', /not in \[0, 1\]/],
    ['0.1@5-10', /unit/],
    ['0.1@10m-1m', /min <= max/],
    ['0.6@1m-2m,0.6@1h-2h', /more than 1/],
  ])('rejects --late %s', (text, message) => {
    expect(() => parseLate(text)).toThrow(message)
  })
})
