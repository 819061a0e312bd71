import { calibratedBound, describeBound, marginParam, quantileParam } from './engine/calibration.ts'
import { int, num } from './engine/params.ts'
import { keepNow, NOT_SUMMED, summedAgain } from './engine/totals.ts'
import { defineRule } from './engine/types.ts'

/**
 * High ticket: cash-out swipes are far larger than what the merchant's kind of business sells, so its
 * 30-day average ticket stands out from peers of the same MCC. A jeweller is compared with jewellers, so
 * high tickets that are normal for the trade stay silent.
 *
 * Calibration: the average must exceed, on a log scale, the fence of its peers' distribution of
 * average tickets (the acquirer's where the cohort is thin): the 0.75 quantile times its ratio to the
 * median to the fourth power, about ten times a grocery's typical ticket; and a floor of 500 major
 * units (a merchant selling cheaper moves no cash worth catching), over 30 sales. A small shop's few
 * large tickets swing its average, so the fence stands well clear of the cohort.
 */
const WINDOW_DAYS = 30
/** The window's approved sales and their amount, kept as engine/totals.ts says. */
interface TicketTotals {
  to: number
  latest: number
  sales: number
  amount: number
}

/** Where a merchant whose totals are not kept is counted (evaluations run one at a time). */
const SCRATCH: TicketTotals = { to: 0, latest: 0, sales: 0, amount: 0 }

export const highTicket = defineRule({
  id: 'high_ticket',
  version: 2,
  category: 'fraud',
  family: 'amount',
  description:
    "30-day average approved ticket beyond the distribution of its peers (or of the acquirer's merchants) of average tickets (log scale) and a floor.",
  calibration:
    "The 30-day average ticket must exceed the fence of its peer cohort's distribution of average tickets (log scale: the 0.75 quantile times its ratio to the median to the fourth power; the acquirer's population where the cohort is thin, then provisional) and 500, over 30 sales: a small shop's few large tickets swing its average, so the fence stands well clear of the cohort.",
  whitelistable: true,
  retentionDays: WINDOW_DAYS,
  clock: 'day',
  params: {
    floorMajor: num({
      default: 500,
      min: 0,
      description: 'Average ticket, major units, the rule never fires at or below.',
    }),
    quantile: quantileParam(0.75),
    margin: marginParam(4, 'log'),
    minSales: int({
      default: 30,
      min: 1,
      description: 'Count floor: approved sales in the window before the average counts.',
    }),
  },
  createState: (sales, samples) => ({
    ticketDays: sales.columns(WINDOW_DAYS, 0),
    ticketSamples: samples.ring(5),
    ticketMinorPerMajor: 100,
    // The window's sales and amount once kept, a mark of the sums made until then (engine/totals.ts).
    ticketTotals: NOT_SUMMED as number | TicketTotals,
  }),
  onTransaction(state, txn, ctx) {
    if (!txn.approved || !txn.sale) return false
    const day = state.ticketDays.at(txn.localDay)
    if (day < 0) return false
    // The day's sales and amount are counted by the engine (SaleDays); the totals count them too when
    // the day is in their window.
    const t = state.ticketTotals
    if (typeof t === 'object' && txn.localDay <= t.to && txn.localDay > t.to - WINDOW_DAYS) {
      t.sales++
      t.amount += txn.amount_minor
    }
    state.ticketMinorPerMajor = txn.minorPerMajor
    // The tickets that pull the average up are the ones to show.
    if (txn.amount_minor >= ctx.params.floorMajor * txn.minorPerMajor) state.ticketSamples.push(txn.txn_id)
  },
  evaluate(state, ctx) {
    const p = ctx.params
    // Fewer sales in all the merchant's rows than the count floor: the window has fewer still.
    if (state.ticketDays.keptSales < p.minSales) return null
    const to = ctx.watermarkDay
    const from = to - WINDOW_DAYS + 1
    const days = state.ticketDays
    let t = state.ticketTotals
    if (typeof t !== 'object' || t.to !== to || t.latest !== days.latest) {
      // Counted again, into the kept totals or, until they are kept, into the scratch totals.
      const n = typeof t === 'object' ? t : SCRATCH
      n.to = to
      n.latest = days.latest
      n.sales = 0
      n.amount = 0
      // Stored days only, oldest first: most merchants are active on few of the window's days.
      for (let o = days.first(from, to); o >= 0; o = days.next(o, to)) {
        n.sales += days.sales(o)
        n.amount += days.amount(o)
      }
      if (typeof t !== 'object') state.ticketTotals = keepNow(t, to) ? { ...n } : summedAgain(t, to)
      t = n
    }
    const { sales, amount } = t
    if (sales < p.minSales) return null
    const avg = amount / sales
    const unit = state.ticketMinorPerMajor
    const floor = p.floorMajor * unit
    const bound = calibratedBound(
      floor,
      { quantile: p.quantile, margin: p.margin, scale: 'log' },
      ctx.peers?.avgTicket,
      ctx.population?.avgTicket,
    )
    if (avg <= bound.threshold) return null
    const decimals = Math.round(Math.log10(unit))
    const major = (minor: number) => (minor / unit).toFixed(decimals)
    return {
      observed: avg,
      threshold: bound.threshold,
      windowStart: ctx.dayStart(from),
      windowEnd: ctx.dayStart(to + 1),
      sampleTxnIds: state.ticketSamples.toArray(),
      detail: `In 30 days the average of ${sales} approved sales was ${major(avg)}, above ${describeBound(bound, floor, major)}.`,
      basis: bound.basis,
    }
  },
})
