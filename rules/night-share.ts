import { calibratedBound, describeBound, marginParam, quantileParam } from './engine/calibration.ts'
import { int, num } from './engine/params.ts'
import { defineRule } from './engine/types.ts'
import { type DayColumns, NO_DAY, type SampleRing } from './engine/window.ts'

/**
 * Night-time volume: cash-out swipes are often run after hours, when no real customer is in the shop.
 * Bars, hotels and 24-hour stores trade at night too, so the share is compared with the merchant's
 * peers (same MCC and region) and with the acquirer's population: it must exceed the fence of both
 * distributions (the 0.75 quantile plus three times its distance from the median) and a floor of 15%.
 * Most shops never trade at night, so for them the floor decides; among bars the fence does. Without
 * any baseline the floor alone decides, and scoring counts such a hit only beside calibrated evidence.
 */
const WINDOW_DAYS = 30

/**
 * The window's running total: approved sales and amount (a day's are counted by the engine, see
 * SaleDays), and those at night (a day's are this rule's columns, NIGHT_COUNT and NIGHT_AMOUNT).
 */
const COUNT = 0
const AMOUNT = 1
const NIGHT_COUNT = 2
const NIGHT_AMOUNT = 3
const WIDTH = 4
/** The rule's columns of a day. */
const DAY_NIGHT_COUNT = 0
const DAY_NIGHT_AMOUNT = 1

interface State {
  nightDays: DayColumns
  /**
   * Sums over the window's days [from, watermark day], kept as events arrive and days leave, so evaluate
   * is O(1). All counts and amounts are integers (minor units), so adding and subtracting is exact.
   * Made at the first count: most merchants never have enough sales for one.
   */
  nightTotal: number[] | null
  nightFrom: number
  /**
   * Whether `nightTotal` holds the sums of the window starting at `nightFrom`: a window is counted when
   * evaluate first needs it, not when it moves, and never while all the merchant's rows hold fewer
   * sales than the count floor (most merchants, most days). The sums are integers: counted late,
   * they are the same.
   */
  nightCounted: boolean
  nightSamples: SampleRing
}

/** Moves the window to end at `watermarkDay`; its total is to be counted again (see `countWindow`). */
function advance(state: State, watermarkDay: number): boolean {
  const from = watermarkDay - WINDOW_DAYS + 1
  if (from <= state.nightFrom) return false
  state.nightFrom = from
  state.nightCounted = false
  return true
}

/**
 * Counts the total from the days of the window [nightFrom, watermarkDay]. Not by subtracting the days
 * that leave: after a merchant was idle for longer than the table holds, those rows are gone and could
 * not be subtracted, and the total kept them (40 old night sales made one daytime sale 70 days later
 * "97.6% at night"). At most once per merchant and day, over at most 30 rows.
 */
function countWindow(state: State, watermarkDay: number): void {
  const from = state.nightFrom
  const days = state.nightDays
  let count = 0
  let amount = 0
  let nightCount = 0
  let nightAmount = 0
  for (let o = days.first(from, watermarkDay); o >= 0; o = days.next(o, watermarkDay)) {
    count += days.sales(o)
    amount += days.amount(o)
    nightCount += days.get(o, DAY_NIGHT_COUNT)
    nightAmount += days.get(o, DAY_NIGHT_AMOUNT)
  }
  const t = state.nightTotal ?? new Array<number>(WIDTH).fill(0)
  state.nightTotal = t
  t[COUNT] = count
  t[AMOUNT] = amount
  t[NIGHT_COUNT] = nightCount
  t[NIGHT_AMOUNT] = nightAmount
  state.nightCounted = true
}

export const nightShare = defineRule({
  id: 'night_share',
  version: 2,
  category: 'fraud',
  family: 'velocity',
  description:
    "Share of approved volume between 00:00 and 05:00 local time, beyond the distribution of its peers (or of the acquirer's merchants) and a floor (30 days).",
  calibration:
    "The night share must exceed the fence of its peer cohort's distribution (the 0.75 quantile plus three times its distance from the median; the acquirer's population where the cohort is thin, then provisional), capped at 90%, and a floor of 15%, over 30 sales with 10 at night.",
  whitelistable: true,
  retentionDays: WINDOW_DAYS,
  clock: 'day',
  params: {
    floor: num({
      default: 0.15,
      min: 0,
      max: 1,
      description: 'Night share the rule never fires at or below, however day-bound the peers.',
    }),
    quantile: quantileParam(0.75),
    margin: marginParam(3, 'linear'),
    maxShare: num({
      default: 0.9,
      min: 0,
      max: 1,
      description:
        'The threshold never rises above this share, so a merchant among night traders can still fire when nearly all its volume is at night.',
    }),
    nightEndHour: int({
      default: 5,
      min: 1,
      max: 12,
      description: 'Night is from 00:00 local up to this hour (exclusive).',
    }),
    minTxns: int({ default: 30, min: 1, description: 'Count floor: approved sales in 30 days.' }),
    minNightTxns: int({ default: 10, min: 1, description: 'Count floor: approved night sales in 30 days.' }),
  },
  createState: (sales, samples): State => ({
    nightDays: sales.sparseColumns(WINDOW_DAYS, 2),
    nightTotal: null,
    nightFrom: NO_DAY,
    nightCounted: false,
    nightSamples: samples.ring(5),
  }),
  onTransaction(state, txn, ctx) {
    const moved = advance(state, ctx.watermarkDay)
    if (!txn.approved || !txn.sale) return moved
    const days = state.nightDays
    const day = days.at(txn.localDay)
    if (day < 0) return moved
    const night = txn.localHour < ctx.params.nightEndHour
    const amount = txn.amount_minor
    if (night) {
      days.add(day, DAY_NIGHT_COUNT, 1)
      days.add(day, DAY_NIGHT_AMOUNT, amount)
    }
    // A late event of a day before the window is in no window the rule will evaluate; a window not
    // counted yet will be counted from the rows, which have the sale.
    const t = state.nightTotal
    if (state.nightCounted && t !== null && txn.localDay >= state.nightFrom) {
      t[COUNT] = (t[COUNT] ?? 0) + 1
      t[AMOUNT] = (t[AMOUNT] ?? 0) + amount
      if (night) {
        t[NIGHT_COUNT] = (t[NIGHT_COUNT] ?? 0) + 1
        t[NIGHT_AMOUNT] = (t[NIGHT_AMOUNT] ?? 0) + amount
      }
    }
    if (night) state.nightSamples.push(txn.txn_id)
  },
  evaluate(state, ctx) {
    const p = ctx.params
    advance(state, ctx.watermarkDay)
    if (!state.nightCounted) {
      // Fewer sales in all the rows than the count floor: the window has fewer still.
      if (state.nightDays.keptSales < p.minTxns) return null
      countWindow(state, ctx.watermarkDay)
    }
    const from = state.nightFrom
    const t = state.nightTotal
    // Counted above (a window counted has its total).
    if (t === null) return null
    const count = t[COUNT] ?? 0
    const amount = t[AMOUNT] ?? 0
    const nightCount = t[NIGHT_COUNT] ?? 0
    const nightAmount = t[NIGHT_AMOUNT] ?? 0
    if (count < p.minTxns || nightCount < p.minNightTxns || amount <= 0) return null
    const share = nightAmount / amount
    const bound = calibratedBound(
      p.floor,
      { quantile: p.quantile, margin: p.margin, scale: 'linear' },
      ctx.peers?.nightShare,
      ctx.population?.nightShare,
    )
    const threshold = Math.max(p.floor, Math.min(p.maxShare, bound.threshold))
    if (share <= threshold) return null
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`
    return {
      observed: share,
      threshold,
      windowStart: ctx.dayStart(from),
      windowEnd: ctx.dayStart(ctx.watermarkDay + 1),
      sampleTxnIds: state.nightSamples.toArray(),
      detail:
        `${pct(share)} of approved volume in 30 days (${nightCount} of ${count} sales) was taken ` +
        `between 00:00 and ${String(p.nightEndHour).padStart(2, '0')}:00 local, above ${describeBound(bound, p.floor, pct)}` +
        `${threshold < bound.threshold ? ` (capped at ${pct(threshold)})` : ''}.`,
      basis: bound.basis,
    }
  },
})
