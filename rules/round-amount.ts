import { calibratedBound, describeBound, marginParam, quantileParam } from './engine/calibration.ts'
import { int, num } from './engine/params.ts'
import { keepNow, NOT_SUMMED, summedAgain } from './engine/totals.ts'
import { defineRule } from './engine/types.ts'

/**
 * Round sums: a purchase that never happened gets a made-up amount, and made-up amounts are exact
 * round thousands ("swipe 10,000") or at least whole units ("never use cents"), while real baskets
 * add up to odd units and cents. Two legs, each able to fire:
 * - round: share of large sales that are exact round thousands;
 * - whole: share of sales with no minor part, which catches the evader who swipes 9,950.00.
 * Calibration: each share must exceed the fence of its peers' and of the acquirer's distribution of the
 * same share (the 0.75 quantile plus three times its distance from the median) and a floor (30% round,
 * 50% whole-unit: "never uses cents" means most sales, not a few more than the cohort). A car dealer
 * taking round deposits like other car dealers stays silent; a grocery whose large sales are round
 * thousands does not. Without any baseline the floors alone decide, and scoring counts such a hit only
 * beside calibrated evidence.
 */
const WINDOW_DAYS = 30
/** The window's totals, kept as engine/totals.ts says. Small integers, stored unboxed. */
interface RoundTotals {
  to: number
  latest: number
  large: number
  round: number
  minorSales: number
  whole: number
}

/** Where a merchant whose totals are not kept is counted (evaluations run one at a time). */
const SCRATCH: RoundTotals = { to: 0, latest: 0, large: 0, round: 0, minorSales: 0, whole: 0 }

/** Columns of a day: approved sales at or above the large-amount floor. */
const LARGE = 0
/** Of those, exact round thousands. */
const ROUND = 1
/**
 * Approved sales in a currency without a minor unit (the whole-unit share means nothing in JPY): the
 * sales with one are the day's sales (counted by the engine, see SaleDays) less these, so the columns
 * are zero on most days and need no room on them (a sparse view).
 */
const NO_MINOR_SALES = 2
/** Of the sales in a currency with a minor unit, whole-unit amounts. */
const WHOLE = 3

export const roundAmount = defineRule({
  id: 'round_amount',
  version: 2,
  category: 'fraud',
  family: 'amount',
  description:
    'Over 30 days: share of large approved sales that are exact round thousands, and share of ' +
    "whole-unit sales (no cents); each beyond the distribution of its peers (or of the acquirer's merchants) and a floor.",
  calibration:
    "Each share must exceed the fence of its peer cohort's distribution of the same share (the 0.75 quantile plus three times its distance from the median; the acquirer's population where the cohort is thin, then provisional) and a floor: 30% round thousands among 20 or more large sales, 50% whole units among 30 or more sales.",
  whitelistable: true,
  retentionDays: WINDOW_DAYS,
  clock: 'day',
  params: {
    largeAmountMajor: num({
      default: 1_000,
      min: 1,
      description: 'Sales at or above this amount (major units) are "large" for the round share.',
    }),
    roundShareFloor: num({
      default: 0.3,
      min: 0,
      max: 1,
      description:
        'Share of large sales that are exact round thousands the round leg never fires at or below.',
    }),
    minLargeSales: int({
      default: 20,
      min: 1,
      description:
        'Count floor: large sales in the window before either leg counts (a merchant without large ' +
        'tickets moves no cash worth catching).',
    }),
    wholeShareFloor: num({
      default: 0.5,
      min: 0,
      max: 1,
      description:
        'Share of whole-unit sales the whole leg never fires at or below, however uniform the peers: ' +
        '"never uses cents" means most sales, not a few more than the cohort.',
    }),
    minSales: int({
      default: 30,
      min: 1,
      description:
        'Count floor: approved sales (in a currency with a minor unit) before the whole share counts.',
    }),
    quantile: quantileParam(0.75),
    margin: marginParam(3, 'linear'),
  },
  createState: (sales, samples) => ({
    roundDays: sales.sparseColumns(WINDOW_DAYS, 4),
    roundSamples: samples.ring(5),
    roundWholeSamples: samples.ring(5),
    // The window's totals once kept, a mark of the sums made until then (engine/totals.ts).
    roundTotals: NOT_SUMMED as number | RoundTotals,
  }),
  onTransaction(state, txn, ctx) {
    if (!txn.approved || !txn.sale) return false
    const days = state.roundDays
    const day = days.at(txn.localDay)
    if (day < 0) return false
    const unit = txn.minorPerMajor
    const amount = txn.amount_minor
    const isLarge = amount >= ctx.params.largeAmountMajor * unit
    // In the kept totals' window: counted there too (a day after it or before it is read at the next count).
    const t = state.roundTotals
    const counted =
      typeof t === 'object' && txn.localDay <= t.to && txn.localDay > t.to - WINDOW_DAYS ? t : null
    if (isLarge) {
      days.add(day, LARGE, 1)
      if (counted !== null) counted.large++
      if (amount % (1_000 * unit) === 0) {
        days.add(day, ROUND, 1)
        if (counted !== null) counted.round++
        state.roundSamples.push(txn.txn_id)
      }
    }
    if (unit <= 1) days.add(day, NO_MINOR_SALES, 1)
    else {
      // The engine counted the sale in the day's row (see evaluate's minorSales).
      if (counted !== null) counted.minorSales++
      if (amount % unit === 0) {
        days.add(day, WHOLE, 1)
        if (counted !== null) counted.whole++
        // Large whole-unit amounts are the ones an analyst wants to look at, not a 15.00 coffee.
        if (isLarge) state.roundWholeSamples.push(txn.txn_id)
      }
    }
  },
  evaluate(state, ctx) {
    const p = ctx.params
    // Fewer sales in all the merchant's rows than the floor of large ones: nothing to count.
    if (state.roundDays.keptSales < p.minLargeSales) return null
    const to = ctx.watermarkDay
    const from = to - WINDOW_DAYS + 1
    const days = state.roundDays
    let t = state.roundTotals
    if (typeof t !== 'object' || t.to !== to || t.latest !== days.latest) {
      // Counted again, into the kept totals or, until they are kept, into the scratch totals.
      const n = typeof t === 'object' ? t : SCRATCH
      n.to = to
      n.latest = days.latest
      n.large = 0
      n.round = 0
      n.minorSales = 0
      n.whole = 0
      // Stored days only, oldest first: most merchants are active on few of the window's days.
      for (let o = days.first(from, to); o >= 0; o = days.next(o, to)) {
        n.large += days.get(o, LARGE)
        n.round += days.get(o, ROUND)
        // Every approved sale of a day this view reads reached the rule (a day it refuses stays refused).
        n.minorSales += days.sales(o) - days.get(o, NO_MINOR_SALES)
        n.whole += days.get(o, WHOLE)
      }
      if (typeof t !== 'object') state.roundTotals = keepNow(t, to) ? { ...n } : summedAgain(t, to)
      t = n
    }
    const { large, round, minorSales, whole } = t
    if (large < p.minLargeSales) return null

    const tail = { quantile: p.quantile, margin: p.margin, scale: 'linear' } as const
    const roundShare = round / large
    const roundBound = calibratedBound(
      p.roundShareFloor,
      tail,
      ctx.peers?.roundShare,
      ctx.population?.roundShare,
    )
    const roundFires = roundShare > roundBound.threshold

    const wholeShare = minorSales > 0 ? whole / minorSales : 0
    const wholeBound = calibratedBound(
      p.wholeShareFloor,
      tail,
      ctx.peers?.wholeUnitShare,
      ctx.population?.wholeUnitShare,
    )
    const wholeFires = minorSales >= p.minSales && wholeShare > wholeBound.threshold

    if (!roundFires && !wholeFires) return null
    const roundText = `${round} of ${large} large sales are exact round thousands (${pct(roundShare)}, above ${describeBound(roundBound, p.roundShareFloor, pct)})`
    const wholeText = `${whole} of ${minorSales} sales have no cents (${pct(wholeShare)}, above ${describeBound(wholeBound, p.wholeShareFloor, pct)})`
    // The round leg is reported first when both fire: it is the more specific evidence.
    const [observed, threshold, samples, detail, basis] = roundFires
      ? [
          roundShare,
          roundBound.threshold,
          state.roundSamples,
          wholeFires ? `${roundText}; also ${wholeText}` : roundText,
          roundBound.basis,
        ]
      : [wholeShare, wholeBound.threshold, state.roundWholeSamples, wholeText, wholeBound.basis]
    return {
      observed,
      threshold,
      windowStart: ctx.dayStart(from),
      windowEnd: ctx.dayStart(to + 1),
      sampleTxnIds: samples.toArray(),
      detail: `In 30 days, ${detail}.`,
      basis,
    }
  },
})

function pct(share: number): string {
  return `${(share * 100).toFixed(1)}%`
}
