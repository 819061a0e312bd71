import { describe, expect, it } from 'vitest'
import { binConcentration } from '../../../rules/bin-concentration.ts'
import type { TerminalTransaction } from '../../../schemas/types.generated.ts'
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

  it('needs the count floor of sales', () => {
    const few = sales(15, (i) => ({ card_bin: '622202', card_token: `farm-${i}` }))
    expect(runRule(binConcentration, few).last).toBeNull()
    expect(runRule(binConcentration, few, { params: { minTxns: 15 } }).last?.observed).toBe(1)
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
})
