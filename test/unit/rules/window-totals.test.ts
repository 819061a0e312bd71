import { describe, expect, it } from 'vitest'
import type { ParamSpecs } from '../../../rules/engine/params.ts'
import { KEEP_AFTER, keepNow, NOT_SUMMED, summedAgain } from '../../../rules/engine/totals.ts'
import type { RuleDefinition } from '../../../rules/engine/types.ts'
import { highTicket } from '../../../rules/high-ticket.ts'
import { roundAmount } from '../../../rules/round-amount.ts'
import { structuring } from '../../../rules/structuring.ts'
import type { TerminalTransaction } from '../../../schemas/types.generated.ts'
import { type Event, runRule, tx } from '../../helpers/rules.ts'

/**
 * round_amount, structuring and high_ticket keep their window's totals between evaluations and count
 * each new sale into them instead of reading every stored day again. At every evaluation, the rule
 * below evaluates with the totals it kept, then marks them stale and evaluates again, which reads every
 * stored day as they all did before: the totals and the findings must be the same, whatever the order
 * of days, late sales, currencies and parameter reloads.
 */
function checked<PS extends ParamSpecs, S extends object>(
  rule: RuleDefinition<PS, S>,
  totalsField: string,
  totals: readonly string[],
  mismatches: string[],
  seen: { kept: number },
): RuleDefinition<PS, S> {
  // The totals once kept; until then a number, the mark of the sums made (rules/engine/totals.ts).
  const kept = (state: S) => {
    const t = (state as Record<string, unknown>)[totalsField]
    return typeof t === 'object' ? (t as Record<string, unknown>) : null
  }
  const pick = (state: S) => {
    const t = kept(state)
    return t === null ? null : totals.map((f) => t[f])
  }
  return {
    ...rule,
    evaluate(state, ctx) {
      const found = rule.evaluate(state, ctx)
      const keptTotals = pick(state)
      if (keptTotals !== null) seen.kept++
      // Totals made for another day: the evaluation counts every stored day again.
      const t = kept(state)
      if (t !== null) t.to = -1
      const recounted = rule.evaluate(state, ctx)
      const readTotals = pick(state)
      if (keptTotals !== null && JSON.stringify(keptTotals) !== JSON.stringify(readTotals))
        mismatches.push(`totals ${JSON.stringify(keptTotals)} kept, ${JSON.stringify(readTotals)} read`)
      if (JSON.stringify(found) !== JSON.stringify(recounted))
        mismatches.push(`finding ${JSON.stringify(found)} kept, ${JSON.stringify(recounted)} read`)
      return recounted
    },
  }
}

/** A random generator with a seed, so that a failure can be replayed. */
function mulberry32(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

const DAY_MS = 86_400_000
const START = Date.parse('2026-03-01T02:00:00Z')

/**
 * Seventy days of one merchant's sales, a few a day, each day's mostly in order and some late by up
 * to five hours (inside the engine's lateness); amounts near the thresholds these rules care about:
 * round thousands, large tickets, swipes near a 50,000 single limit and days near a 300,000 daily
 * one. A stretch in yen, one with a declined or refunded transaction, and reloads of the parameters.
 */
function traffic(seed: number, reloads: readonly Readonly<Record<string, unknown>>[]): Event[] {
  const rnd = mulberry32(seed)
  const out: Event[] = []
  const amounts = [
    () => 1_000 * (1 + Math.floor(rnd() * 20)),
    () => 1_000 * (1 + Math.floor(rnd() * 20)) + Math.floor(rnd() * 100) / 100,
    () => 45_000 + Math.floor(rnd() * 5_000),
    () => 25_000 + Math.floor(rnd() * 20_000),
    () => 20 + Math.floor(rnd() * 50_000) / 100,
    () => 100_000 + Math.floor(rnd() * 200_000),
  ]
  let reload = 0
  for (let day = 0; day < 70; day++) {
    // Some days have no sales: the window's days are not every day.
    if (rnd() < 0.15) continue
    const yen = day >= 40 && day < 46
    const n = 1 + Math.floor(rnd() * 12)
    // A day closing near the 300,000 daily limit, mostly just under it: the day leg's days, which move
    // from considered to the band to over the limit as their sales come.
    const limitDay = !yen && rnd() < 0.35 ? 265_000 + Math.floor(rnd() * 38_000) : null
    for (let i = 0; i < n; i++) {
      const late = rnd() < 0.15 ? Math.floor(rnd() * 5 * 3_600_000) : 0
      const at = START + day * DAY_MS + i * 20 * 60_000 - late
      const major =
        limitDay !== null
          ? limitDay / n
          : ((amounts[Math.floor(rnd() * amounts.length)] ?? amounts[0])?.() ?? 1_000)
      const overrides: Partial<TerminalTransaction> = yen
        ? { currency: 'JPY', amount_minor: Math.round(major) }
        : { amount_minor: Math.round(major * 100) }
      if (rnd() < 0.05) overrides.response_code = '51'
      if (rnd() < 0.03) overrides.txn_type = 'REFUND'
      out.push({ txn: tx(at, overrides) })
    }
    if (day % 23 === 22 && reload < reloads.length) out.push({ reload: reloads[reload++] ?? {} })
  }
  return out
}

const cases = [
  {
    rule: roundAmount,
    totalsField: 'roundTotals',
    totals: ['large', 'round', 'minorSales', 'whole'],
    reloads: [{ largeAmountMajor: 5_000 }, { largeAmountMajor: 1_000 }],
  },
  {
    rule: structuring,
    totalsField: 'structTotals',
    totals: ['considered', 'band', 'consideredDays', 'bandDays', 'overDays'],
    reloads: [{ dailyLimitMajor: 200_000 }, { bandFrom: 0.8, dailyLimitMajor: 300_000 }],
  },
  {
    rule: highTicket,
    totalsField: 'ticketTotals',
    totals: ['sales', 'amount'],
    reloads: [{ floorMajor: 2_000 }, { minSales: 10 }],
  },
] as const

describe('window totals kept between evaluations', () => {
  for (const { rule, totalsField, totals, reloads } of cases)
    it(`${rule.id}: the same totals and findings as reading every stored day`, () => {
      const mismatches: string[] = []
      let fired = 0
      let dayLeg = 0
      const seen = { kept: 0 }
      for (let seed = 1; seed <= 40; seed++) {
        const { hits } = runRule(
          checked(
            rule as unknown as RuleDefinition<ParamSpecs, object>,
            totalsField,
            totals,
            mismatches,
            seen,
          ),
          traffic(seed, reloads),
          {
            params: { minSales: 5, minLargeSales: 5, minSwipes: 5 },
          },
        )
        expect(mismatches.slice(0, 3), `seed ${seed}`).toEqual([])
        fired += hits.filter((h) => h.finding !== null).length
        dayLeg += hits.filter((h) => h.finding?.detail.includes('closed in') === true).length
      }
      // The traffic makes each rule fire (structuring on its day leg too), or equal findings would only
      // show that both stay silent.
      expect(fired).toBeGreaterThan(0)
      // And most evaluations read the kept totals: a merchant selling a few times a day keeps them.
      expect(seen.kept).toBeGreaterThan(1_000)
      if (rule === structuring) expect(dayLeg).toBeGreaterThan(0)
    })
})

describe('the mark of sums made before totals are kept', () => {
  it(`keeps the totals at the ${KEEP_AFTER}th sum of one watermark day, and starts again on a new day`, () => {
    const day = 20_500
    let mark = NOT_SUMMED
    const kept: boolean[] = []
    for (let i = 0; i < KEEP_AFTER; i++) {
      kept.push(keepNow(mark, day))
      mark = summedAgain(mark, day)
    }
    expect(kept).toEqual([...Array.from({ length: KEEP_AFTER - 1 }, () => false), true])
    // A new day: its first sum is not kept, whatever the last day's count.
    expect(keepNow(mark, day + 1)).toBe(false)
    expect(keepNow(summedAgain(mark, day + 1), day + 1)).toBe(KEEP_AFTER <= 2)
    // Many sums of one day stay that day's mark.
    let m = NOT_SUMMED
    for (let i = 0; i < 50; i++) m = summedAgain(m, day)
    expect(keepNow(m, day)).toBe(true)
    expect(keepNow(m, day - 1)).toBe(false)
  })
})
