import { int, num } from './engine/params.ts'
import { defineRule } from './engine/types.ts'
import { DayTable, type SampleRing } from './engine/window.ts'

/**
 * Near-round sums: the playbook says "never swipe exact round sums; do 9,950 or 10,150 instead of
 * 10,000", which leaves large amounts just off a round thousand.
 *
 * A band of ±2% of the amount widens with the amount: ±100 around 5,000 but ±400 around 20,000, and
 * from 25,000 up it covers every amount. So the share alone would fire on any shop with large random
 * tickets. The rule also asks for a lift over chance: the share amounts spread evenly across each
 * thousand would give (each amount adds its band width / 1,000 to that expectation). An evader sits at
 * 2–3× chance; a shop with random cents sits at 1×, whatever its ticket size. And since every merchant
 * is a test, the count must also stand `minZ` standard deviations above chance (a binomial z-score):
 * among a thousand shops, some with twenty large sales land half of them near a thousand by luck.
 *
 * Calibration: none needed. The measure is compared with what chance gives for the merchant's own
 * amounts, which is the population that matters for a price's last digits; the rule is weak.
 *
 * Price-list endings just under a thousand (9,999, 1,999.99) are psychological pricing, not cash-out:
 * they stay in the denominator but never count as near-round. A ring swiping 9,999.00 again and again
 * still shows in round_amount's whole-unit share.
 */
const WINDOW_DAYS = 30

/** Columns of a day: approved sales at or above the minimum amount. */
const COUNTED = 0
/** Of those, within the band around a round thousand but not exact. */
const NEAR = 1
/** Sum over counted sales of the chance each had to fall in its band. */
const EXPECTED = 2

export const nearRoundAmount = defineRule({
  id: 'near_round_amount',
  version: 2,
  category: 'fraud',
  family: 'amount',
  description:
    'Over 30 days: share of approved sales ≥ 5,000 that lie within ±2% of a round thousand without ' +
    'being exact (9,950, 10,150), when that share is also well above what evenly spread amounts give.',
  calibration:
    "Compares with chance, for the merchant's own amounts: the near-round share must exceed 0.4 and 1.5 times what evenly spread amounts give, and the count must stand 4 standard deviations above chance, over 20 or more sales of 5,000 or more.",
  whitelistable: true,
  retentionDays: WINDOW_DAYS,
  clock: 'day',
  params: {
    minAmountMajor: num({
      default: 5_000,
      min: 1_000,
      description: 'Sales at or above this amount (major units) are counted.',
    }),
    tolerance: num({
      default: 0.02,
      min: 0,
      max: 0.5,
      description: 'Half-width of the band around a round thousand, as a share of that round thousand.',
    }),
    shareThreshold: num({
      default: 0.4,
      min: 0,
      max: 1,
      description: 'Share of counted sales in the band above which the rule fires.',
    }),
    minLift: num({
      default: 1.5,
      min: 1,
      description:
        'The share must also exceed this multiple of the share evenly spread amounts would give, so ' +
        'that wide bands on large tickets do not fire by chance.',
    }),
    minSales: int({
      default: 20,
      min: 1,
      description: 'Count floor: counted sales in the window before the share counts.',
    }),
    minZ: num({
      default: 4,
      min: 0,
      description:
        'The near-round count must also be this many standard deviations above what evenly spread amounts give (a binomial z-score): a shop with twenty large sales lands half of them near a thousand by chance now and then, an evader every time.',
    }),
    psychBelowMajor: num({
      default: 1,
      min: 0,
      description:
        'Amounts at most this many major units below a round thousand (9,999, 9,999.99) are price-list ' +
        'endings and never count as near-round; 0 disables.',
    }),
  },
  createState: (_sales, samples): { nearDays: DayTable | null; nearSamples: SampleRing } => ({
    // Made at the merchant's first large sale: most merchants have none, and a table is some 100 bytes.
    nearDays: null,
    nearSamples: samples.ring(5),
  }),
  onTransaction(state, txn, ctx) {
    if (!txn.approved || !txn.sale) return false
    const p = ctx.params
    const unit = txn.minorPerMajor
    const amount = txn.amount_minor
    if (amount < p.minAmountMajor * unit) return false
    state.nearDays ??= new DayTable(WINDOW_DAYS, 3)
    const days = state.nearDays
    const day = days.at(txn.localDay)
    if (day < 0) return false
    const thousand = 1_000 * unit
    const roundK = Math.round(amount / thousand) * thousand
    const band = p.tolerance * roundK
    const psych = p.psychBelowMajor * unit
    days.add(day, COUNTED, 1)
    // Chance of landing in the band for an amount spread evenly over its thousand, less the excluded
    // price-list endings; capped at 1 where the band covers the whole thousand.
    days.add(day, EXPECTED, Math.max(0, Math.min(2 * band, thousand) - Math.min(psych, band)) / thousand)
    const off = amount - roundK
    if (off === 0 || Math.abs(off) > band || (off < 0 && -off <= psych)) return
    days.add(day, NEAR, 1)
    state.nearSamples.push(txn.txn_id)
  },
  evaluate(state, ctx) {
    const p = ctx.params
    const to = ctx.watermarkDay
    const from = to - WINDOW_DAYS + 1
    let counted = 0
    let near = 0
    let expected = 0
    // Stored days only, oldest first: most merchants are active on few of the window's days.
    const days = state.nearDays
    if (days === null) return null
    for (let o = days.first(from, to); o >= 0; o = days.next(o, to)) {
      counted += days.get(o, COUNTED)
      near += days.get(o, NEAR)
      expected += days.get(o, EXPECTED)
    }
    if (counted < p.minSales) return null
    const share = near / counted
    const chance = expected / counted
    const threshold = Math.max(p.shareThreshold, p.minLift * chance)
    if (share <= threshold) return null
    // Each merchant is a test: across a portfolio, chance alone makes some shops' few large sales look
    // bunched. The count must stand out from chance by minZ standard deviations.
    const sd = Math.sqrt(counted * chance * (1 - chance))
    const z = sd > 0 ? (near - expected) / sd : Number.POSITIVE_INFINITY
    if (z <= p.minZ) return null
    return {
      observed: share,
      threshold,
      windowStart: ctx.dayStart(from),
      windowEnd: ctx.dayStart(to + 1),
      sampleTxnIds: state.nearSamples.toArray(),
      detail:
        `In 30 days, ${near} of ${counted} sales of ${p.minAmountMajor} or more lie within ` +
        `±${(p.tolerance * 100).toFixed(1)}% of a round thousand without being exact ` +
        `(${pct(share)} > ${pct(threshold)}; evenly spread amounts would give ${pct(chance)}, ` +
        `${Number.isFinite(z) ? z.toFixed(1) : 'infinitely many'} standard deviations below this count).`,
    }
  },
})

function pct(share: number): string {
  return `${(share * 100).toFixed(1)}%`
}
