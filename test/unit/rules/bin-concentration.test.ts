import { describe, expect, it } from 'vitest'
import { binCode, binConcentration } from '../../../rules/bin-concentration.ts'
import type { TerminalTransaction } from '../../../schemas/types.generated.ts'
import { prng } from '../../../simulator/generator.ts'
import { local, runRule, tx } from '../../helpers/rules.ts'

/** `n` approved sales of 2,000.00, a few a day from `start`; `make(i)` sets the card fields of the i-th. */
function sales(n: number, make: (i: number) => Partial<TerminalTransaction>, start = '2026-03-01') {
  const first = Date.parse(`${start}T00:00:00Z`)
  return Array.from({ length: n }, (_, i) => {
    const date = new Date(first + Math.floor(i / 4) * 86_400_000).toISOString().slice(0, 10)
    return tx(local(date, `1${i % 4}:00`), { amount_minor: 200_000, card_type: 'CREDIT', ...make(i) })
  })
}

/** Two sales in three on BIN 622202 (credit, many cards), the rest on assorted BINs. */
const farm = (type: 'CREDIT' | 'DEBIT' = 'CREDIT', cards = 40) =>
  sales(45, (i) =>
    i % 3 === 2
      ? { card_bin: `4${String(100_000 + i)}`, card_token: `other-${i}` }
      : { card_bin: '622202', card_token: `farm-${i % cards}`, card_type: type },
  )

describe('bin_concentration', () => {
  it('fires when two thirds of the volume comes from one credit BIN over many cards', () => {
    const { last } = runRule(binConcentration, farm())
    expect(last?.observed).toBeCloseTo(2 / 3, 6)
    expect(last?.threshold).toBe(0.5)
    expect(last?.sampleTxnIds.length).toBe(5)
    expect(last?.detail).toContain('BIN 622202 (100% credit)')
    expect(last?.windowEnd).toBe(local('2026-03-13', '00:00'))
  })

  it.each([
    ["a shop by a bank branch whose customers pay with that bank's debit cards (look-alike)", farm('DEBIT')],
    ['one loyal customer with two cards of the same BIN', farm('CREDIT', 2)],
    [
      'an ordinary spread of BINs',
      sales(45, (i) => ({ card_bin: `62${String(1000 + (i % 15))}`, card_token: `c-${i}` })),
    ],
    [
      'a dominant BIN just under half of the volume',
      sales(39, (i) =>
        i % 2 === 1
          ? { card_bin: '622202', card_token: `farm-${i}` }
          : { card_bin: `4${String(100_000 + i)}`, card_token: `other-${i}` },
      ),
    ],
    ['an acquirer that does not share BINs', farm().map((t) => ({ ...t, card_bin: null }))],
  ])('stays silent for %s', (_name, events) => {
    expect(runRule(binConcentration, events).last).toBeNull()
  })

  it('keeps a BIN as a small integer that tells apart leading zeros and lengths, and pools what is not one', () => {
    const bins = ['622202', '0622202', '00622202', '062220', '12345678', '000000']
    const codes = bins.map(binCode)
    expect(new Set(codes).size).toBe(bins.length)
    for (const c of codes) expect(Number.isSafeInteger(c) && c > 0 && c < 2 ** 30).toBe(true)
    // Validation lets only 6 to 8 digits through; anything else would be pooled (code 0), never dominant.
    for (const odd of ['', '62220a', '123456789', '６２２２０２']) expect(binCode(odd)).toBe(0)
  })

  it('reports a dominant BIN with a leading zero as it came', () => {
    const events = sales(45, (i) =>
      i % 3 === 2
        ? { card_bin: `4${String(100_000 + i)}`, card_token: `other-${i}` }
        : { card_bin: '062220', card_token: `farm-${i % 40}` },
    )
    expect(runRule(binConcentration, events).last?.detail).toContain('BIN 062220 (100% credit)')
  })

  it('needs the count floor of sales', () => {
    const few = sales(15, (i) => ({ card_bin: '622202', card_token: `farm-${i}` }))
    expect(runRule(binConcentration, few).last).toBeNull()
    expect(runRule(binConcentration, few, { params: { minTxns: 15 } }).last?.observed).toBe(1)
  })

  it('takes back the sales of the buckets that leave the window, however many a bucket had', () => {
    // 200 sales of one BIN in one bucket (a row's sales beyond 2^5: its key and sales share a number),
    // then, after the window moved past them, 19 and then 20 sales: the count floor of 20 sees those only.
    const busy = Array.from({ length: 200 }, (_, i) =>
      tx(local('2026-03-01', '10:00') + i * 60_000, {
        amount_minor: 200_000,
        card_type: 'CREDIT',
        card_bin: '622202',
        card_token: `old-${i % 40}`,
      }),
    )
    const later = sales(20, (i) => ({ card_bin: '622202', card_token: `farm-${i}` }), '2026-04-20')
    const fired = (events: readonly TerminalTransaction[]) =>
      runRule(binConcentration, events).hits.filter((h) => h.finding.windowEnd > local('2026-04-01', '00:00'))
    expect(runRule(binConcentration, busy).last?.observed).toBe(1)
    expect(fired([...busy, ...later.slice(0, 19)])).toEqual([])
    expect(fired([...busy, ...later]).at(-1)?.finding.observed).toBe(1)
  })

  it('ignores declined attempts (card testing is another rule) and refunds', () => {
    const events = farm().map((t, i): TerminalTransaction => {
      if (t.card_bin !== '622202') return t
      return i % 2 === 0 ? { ...t, response_code: '51' } : { ...t, txn_type: 'REFUND' }
    })
    expect(runRule(binConcentration, events).last).toBeNull()
  })

  it('lets old concentrated volume leave the window', () => {
    const old = farm()
    const fresh = sales(
      60,
      (i) => ({ card_bin: `62${String(1000 + (i % 15))}`, card_token: `c-${i}` }),
      '2026-04-20',
    )
    const { hits } = runRule(binConcentration, [...old, ...fresh])
    expect(hits.length).toBeGreaterThan(0)
    expect(hits.every((h) => h.finding.windowEnd <= local('2026-03-13', '00:00'))).toBe(true)
  })

  it('applies the count floor to the window only: sales that left it do not count', () => {
    const old = sales(24, (i) => ({ card_bin: `62${String(1000 + i)}`, card_token: `c-${i}` }))
    const fresh = sales(16, (i) => ({ card_bin: '622202', card_token: `farm-${i}` }), '2026-04-05')
    expect(runRule(binConcentration, [...old, ...fresh]).hits).toEqual([])
  })

  it('counts a sale that arrives late but inside the window', () => {
    const events = farm()
    const late = events.splice(10, 1)
    const { last } = runRule(binConcentration, [...events, ...late], { allowedLatenessMs: 30 * 86_400_000 })
    expect(last?.observed).toBeCloseTo(2 / 3, 6)
  })

  it('keeps a bounded number of BINs: a flood of one-off BINs is pooled, the dominant BIN still counts', () => {
    const flood = farm().flatMap((t, i) => [
      tx(t.event_time + 1_800_000, {
        card_bin: `5${String(100_000 + 2 * i)}`,
        card_token: `o-${i}`,
        amount_minor: 100,
      }),
      tx(t.event_time + 2_400_000, {
        card_bin: `5${String(100_001 + 2 * i)}`,
        card_token: `p-${i}`,
        amount_minor: 100,
      }),
    ])
    const events = [...farm(), ...flood].sort((a, b) => a.event_time - b.event_time)
    const { last } = runRule(binConcentration, events)
    expect(last?.detail).toContain('BIN 622202')
    expect(last?.observed).toBeCloseTo((30 * 200_000) / (45 * 200_000 + 90 * 100), 6)
  })

  it('keeps the window a recount of its sales would find, with late sales, gaps and BINs that leave and return', () => {
    // Sales of 12 BINs, a few hours apart with pauses of up to 40 days (the window moves by more than
    // its six buckets), some up to 35 days late (into older buckets, or before the window), some
    // declined, refunded or without a BIN. The rule fires on any window with a sale at these parameters,
    // so after each event its finding must be what a recount of the sales in the window gives.
    const DAY = 86_400_000
    const rand = prng(7)
    const events: TerminalTransaction[] = []
    let clock = local('2026-03-01', '09:00')
    for (let i = 0; i < 260; i++) {
      clock += rand() < 0.04 ? Math.floor(rand() * 40 * DAY) : Math.floor(rand() * 20 * 3_600_000)
      const r = rand()
      events.push(
        tx(rand() < 0.15 ? clock - Math.floor(rand() * 35 * DAY) : clock, {
          card_bin: r < 0.08 ? null : `62${2200 + Math.floor(rand() * 12)}`,
          card_token: `c-${Math.floor(rand() * 30)}`,
          card_type: rand() < 0.6 ? 'CREDIT' : 'DEBIT',
          amount_minor: 1 + Math.floor(rand() * 1_000_000),
          response_code: r > 0.95 ? '51' : '00',
          txn_type: r > 0.9 && r <= 0.95 ? 'REFUND' : 'PURCHASE',
        }),
      )
    }
    const params = { floor: 0, minCards: 1, minTxns: 1, minCreditShare: 0 }
    const allowedLatenessMs = 40 * DAY
    const bucketOf = (t: number) => Math.floor(Math.floor((t + 8 * 3_600_000) / DAY) / 5)
    // The sales the rule counted: on time for the engine and not before the window when they came.
    const counted: TerminalTransaction[] = []
    let watermark = Number.NEGATIVE_INFINITY
    let checked = 0
    for (let k = 0; k < events.length; k++) {
      const t = events[k]
      if (t === undefined || t.event_time < watermark - allowedLatenessMs) continue
      watermark = Math.max(watermark, t.event_time)
      const from = bucketOf(watermark) - 5
      const sale = t.response_code === '00' && t.txn_type === 'PURCHASE' && t.card_bin !== null
      if (sale && bucketOf(t.event_time) >= from) counted.push(t)
      const window = counted.filter((s) => bucketOf(s.event_time) >= from)
      if (window.length === 0) continue
      const byBin = new Map<string, { amount: number; credit: number }>()
      for (const s of window) {
        const b = byBin.get(s.card_bin ?? '') ?? { amount: 0, credit: 0 }
        b.amount += s.amount_minor
        if (s.card_type === 'CREDIT') b.credit += s.amount_minor
        byBin.set(s.card_bin ?? '', b)
      }
      const [bin, top] = [...byBin].reduce((a, b) => (b[1].amount > a[1].amount ? b : a))
      const total = window.reduce((n, s) => n + s.amount_minor, 0)
      const { last } = runRule(binConcentration, events.slice(0, k + 1), {
        params,
        allowedLatenessMs,
        population: null,
      })
      expect(last?.observed).toBe(top.amount / total)
      expect(last?.windowStart).toBe(Date.parse('1970-01-01T00:00:00+08:00') + from * 5 * DAY)
      expect(last?.detail).toContain(`BIN ${bin} (${(100 * (top.credit / top.amount)).toFixed(0)}% credit)`)
      checked++
    }
    expect(checked).toBeGreaterThan(200)
  })

  it('keeps BINs in order of entry when one leaves the window and returns: the first of equals stays the largest', () => {
    const DAY = 86_400_000
    // Noon of local day 5b + d (UTC+8): b is the rule's five-day bucket.
    const at = (b: number, d: number) => Date.parse('1970-01-01T12:00:00+08:00') + (5 * b + d) * DAY
    const sale = (time: number, card_bin: string, amount_minor: number) =>
      tx(time, { card_bin, amount_minor, card_token: `c-${card_bin}`, card_type: 'CREDIT' })
    const b = 4102
    const events = [
      sale(at(b, 0), '411111', 100),
      sale(at(b + 1, 0), '422222', 100),
      // The window moves past bucket b: 411111 leaves and its slot goes.
      sale(at(b + 6, 0), '433333', 300),
      // 411111 returns, after 433333, with as much.
      sale(at(b + 6, 1), '411111', 300),
      // The window moves past bucket b + 1: 422222 leaves, 433333 and 411111 are equal.
      sale(at(b + 7, 0), '444444', 1),
    ]
    const params = { floor: 0, minCards: 1, minTxns: 1, minCreditShare: 0 }
    const { last } = runRule(binConcentration, events, { params, population: null })
    expect(last?.detail).toContain('BIN 433333 (100% credit)')
    expect(last?.observed).toBe(300 / 601)
    expect(last?.windowStart).toBe(at(b + 2, 0) - DAY / 2)
  })
})
