import { calibratedBound, describeBound, marginParam, quantileParam } from './engine/calibration.ts'
import { bool, int, num } from './engine/params.ts'
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
 *
 * The high average must also be carried by credit: the average of the merchant's credit cards' tickets
 * (and those of cards of unknown type) must exceed the same threshold. Cash-out turns credit into cash;
 * a large ticket paid by debit or prepaid card spends the customer's own money. A truck stop's fleets
 * fill up on debit or prepaid fuel cards, several large tickets a card and day, which lifted the
 * station's average above its fuel-station peers' fence (population B: 584-785 against about 380, so
 * the floor of 500 decided); its walk-in drivers' credit tickets average 397-451 (25 truck stops, seeds
 * 7 to 11). Where the credit tickets are the larger ones their average is above the merchant's and the
 * test changes nothing: so at 491 of the 497 cash-out merchants of the five populations we measure
 * with, and the other six are within 10%. It only vetoes, so the rule never fires where it did not.
 * Under 10 credit sales in the window (credit_debit_mix's floor for its ticket ratio) tell nothing: in
 * a truck stop's first days, with a handful of credit sales, a few large walk-in fill-ups put its credit
 * average above the floor, though its month's credit average is 444.
 *
 * Two other designs were measured and dropped: averaging credit tickets alone raised the merchants
 * whose credit tickets are larger than their debit ones, which credit_debit_mix already weighs, and put
 * two more legitimate merchants of population A in the queue on the pair; the credit average against a
 * fence of the peers' credit averages (a distribution of its own from the baselines) vetoed three
 * card-ring cash-out merchants of B among furniture stores, whose credit averages spread wider than
 * their all-card ones, and two of them left the queue.
 */
const WINDOW_DAYS = 30
/** The rule's columns of a day: the approved credit sales and their amount (the engine counts all sales). */
const CREDIT_SALES = 0
const CREDIT_AMOUNT = 1
/** The window's approved sales and amount, and those of credit cards, kept as engine/totals.ts says. */
interface TicketTotals {
  to: number
  latest: number
  sales: number
  amount: number
  creditSales: number
  creditAmount: number
}

/** Where a merchant whose totals are not kept is counted (evaluations run one at a time). */
const SCRATCH: TicketTotals = { to: 0, latest: 0, sales: 0, amount: 0, creditSales: 0, creditAmount: 0 }

export const highTicket = defineRule({
  id: 'high_ticket',
  version: 3,
  category: 'fraud',
  family: 'amount',
  description:
    "30-day average approved ticket, and that of its credit cards too, beyond the distribution of its peers (or of the acquirer's merchants) of average tickets (log scale) and a floor.",
  calibration:
    "The 30-day average ticket must exceed the fence of its peer cohort's distribution of average tickets (log scale: the 0.75 quantile times its ratio to the median to the fourth power; the acquirer's population where the cohort is thin, then provisional) and 500, over 30 sales: a small shop's few large tickets swing its average, so the fence stands well clear of the cohort. The average of its credit cards' tickets (and of cards of unknown type) must exceed that threshold too, over 10 of them: a high average carried by debit or prepaid cards (a fleet's fuel cards) is no credit cash-out.",
  whitelistable: true,
  retentionDays: WINDOW_DAYS,
  clock: 'day',
  params: {
    creditCarried: bool({
      default: true,
      description:
        "Fire only when the average of the credit cards' tickets (and of cards of unknown type) exceeds the threshold too: cash-out draws on credit, and large debit or prepaid tickets (a fleet's fuel cards) spend what is on the card. False: every ticket's average alone decides.",
    }),
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
    minCreditSales: int({
      default: 10,
      min: 1,
      description:
        'Count floor with creditCarried: approved sales on credit cards (or of unknown type) in the window before their average can carry a high one; with fewer the rule does not fire.',
    }),
  },
  createState: (sales, samples) => ({
    // Sparse (an entry per day with a credit sale): in every shared row, the two counters cost 170 bytes
    // a merchant on the engine bench (3,928 -> 4,098), past issue 14's 4 KB; as entries, 133 (4,061).
    ticketDays: sales.sparseColumns(WINDOW_DAYS, 2),
    ticketSamples: samples.ring(5),
    ticketMinorPerMajor: 100,
    // The window's sales and amount once kept, a mark of the sums made until then (engine/totals.ts).
    ticketTotals: NOT_SUMMED as number | TicketTotals,
  }),
  onTransaction(state, txn, ctx) {
    if (!txn.approved || !txn.sale) return false
    const days = state.ticketDays
    const day = days.at(txn.localDay)
    if (day < 0) return false
    // Cash-out draws on credit: a debit or prepaid ticket, however large, spends the customer's own money.
    const credit = txn.card_type !== 'DEBIT' && txn.card_type !== 'PREPAID'
    if (credit) {
      days.add(day, CREDIT_SALES, 1)
      days.add(day, CREDIT_AMOUNT, txn.amount_minor)
    }
    // The day's sales and amount are counted by the engine (SaleDays); the totals count them too when
    // the day is in their window.
    const t = state.ticketTotals
    if (typeof t === 'object' && txn.localDay <= t.to && txn.localDay > t.to - WINDOW_DAYS) {
      t.sales++
      t.amount += txn.amount_minor
      if (credit) {
        t.creditSales++
        t.creditAmount += txn.amount_minor
      }
    }
    state.ticketMinorPerMajor = txn.minorPerMajor
    // The tickets that pull the average up are the ones to show: the credit ones, when they must carry it.
    if (
      txn.amount_minor >= ctx.params.floorMajor * txn.minorPerMajor &&
      (credit || !ctx.params.creditCarried)
    )
      state.ticketSamples.push(txn.txn_id)
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
      n.creditSales = 0
      n.creditAmount = 0
      // Stored days only, oldest first: most merchants are active on few of the window's days.
      for (let o = days.first(from, to); o >= 0; o = days.next(o, to)) {
        n.sales += days.sales(o)
        n.amount += days.amount(o)
        n.creditSales += days.get(o, CREDIT_SALES)
        n.creditAmount += days.get(o, CREDIT_AMOUNT)
      }
      if (typeof t !== 'object') state.ticketTotals = keepNow(t, to) ? { ...n } : summedAgain(t, to)
      t = n
    }
    const { sales, amount, creditSales, creditAmount } = t
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
    // Carried by credit: without the debit and prepaid tickets the average is still beyond the same
    // threshold. Not beyond a fence of the peers' credit averages: those spread wider in some trades
    // (furniture stores), and that fence, the spread to the fourth power, stood a third higher and
    // vetoed card rings there.
    const creditAvg = creditSales === 0 ? 0 : creditAmount / creditSales
    if (p.creditCarried && (creditSales < p.minCreditSales || creditAvg <= bound.threshold)) return null
    const decimals = Math.round(Math.log10(unit))
    const major = (minor: number) => (minor / unit).toFixed(decimals)
    return {
      observed: avg,
      threshold: bound.threshold,
      windowStart: ctx.dayStart(from),
      windowEnd: ctx.dayStart(to + 1),
      sampleTxnIds: state.ticketSamples.toArray(),
      detail:
        `In 30 days the average of ${sales} approved sales was ${major(avg)}, above ${describeBound(bound, floor, major)}` +
        (p.creditCarried ? `; that of its ${creditSales} credit-card sales, ${major(creditAvg)}, too.` : '.'),
      basis: bound.basis,
    }
  },
})
