import { describe, expect, it } from 'vitest'
import { declineRatio } from '../../../rules/decline-ratio.ts'
import { local, runRule, tx } from '../../helpers/rules.ts'

/** `n` attempts on one local day, about `declined` of them declined (spread evenly) on `cards` cards. */
function day(n: number, declined: number, opts: { cards?: number; code?: string; date?: string } = {}) {
  return Array.from({ length: n }, (_, i) =>
    tx(local(opts.date ?? '2026-03-10', `10:${String(i % 60).padStart(2, '0')}`), {
      card_token: `card-${i % (opts.cards ?? n)}`,
      response_code: i % Math.round(n / declined) === 0 ? (opts.code ?? '05') : '00',
    }),
  )
}

describe('decline_ratio', () => {
  it('fires on many declines across many cards (card testing)', () => {
    const { last } = runRule(declineRatio, day(40, 20))
    expect(last?.observed).toBeCloseTo(0.5, 1)
    expect(last?.threshold).toBe(0.3)
    expect(last?.sampleTxnIds.length).toBe(5)
    expect(last?.windowEnd).toBe((last?.windowStart ?? 0) + 86_400_000)
    expect(last?.windowStart).toBe(local('2026-03-10', '00:00'))
  })

  it('stays silent under the count floor, however high the ratio', () => {
    expect(runRule(declineRatio, day(19, 19)).last).toBeNull()
  })

  it('stays silent for one customer retrying the same card (look-alike)', () => {
    expect(runRule(declineRatio, day(30, 15, { cards: 2 })).last).toBeNull()
  })

  it('stays silent during an issuer outage (technical declines are not counted)', () => {
    expect(runRule(declineRatio, day(60, 50, { code: '91' })).last).toBeNull()
  })

  it('counts per local day: declines of yesterday do not add to today', () => {
    const events = [...day(30, 8, { date: '2026-03-09' }), ...day(30, 8, { date: '2026-03-10' })]
    expect(runRule(declineRatio, events).last).toBeNull()
  })

  it('updates the same hit while the day goes on instead of adding hits', () => {
    const { hits } = runRule(declineRatio, day(60, 40))
    expect(new Set(hits.map((h) => h.hitId)).size).toBe(1)
    expect(hits.length).toBeGreaterThan(1)
  })
})
