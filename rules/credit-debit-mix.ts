import { calibratedBound, describeBound, marginParam, quantileParam } from './engine/calibration.ts'
import { bool, int, num } from './engine/params.ts'
import { defineRule } from './engine/types.ts'
import { type DayColumns, NO_DAY, type SampleRing } from './engine/window.ts'

/**
 * Credit-card cash-out needs credit cards: a merchant whose approved sales are almost all credit stands
 * out, unless its peers (car dealers, jewellers) look the same. The playbook answers with a 4:1 mix of
 * small, uniform debit swipes; that mix leaves an asymmetry real shops do not show: debit tickets all of
 * one size while credit tickets are many times larger.
 *
 * Calibration: the credit share must exceed the fence of its peers' and of the acquirer's distribution
 * of credit shares (rules/engine/calibration.ts: the 0.75 quantile plus three times its distance from the
 * median) and the floor of 0.6; a cohort of jewellers puts the fence above 0.9, a cohort of groceries
 * near 0.7. A share of amount swings with a few large tickets, so the count floor is 50 sales. The mix leg compares with nothing: uniform small debit beside large credit is the
 * playbook's own trace, not a trait of any trade.
 */
const WINDOW_DAYS = 30

/**
 * Counters of a day, columns of a DayColumns row (the day's sales and their amount are counted by the
 * engine, see SaleDays), and of the cached window before today, which also sums those two.
 */
const CREDIT_AMOUNT = 0
const CREDIT_COUNT = 1
/** Credit amounts in major units, for a ticket ratio in the same units as the debit moments. */
const CREDIT_SUM = 2
const DEBIT_COUNT = 3
/** Debit amounts in major units: keeps the sum of squares within exact double range. */
const DEBIT_SUM = 4
const DEBIT_SUM_SQ = 5
const WIDTH = 6
/** In the cache only. */
const SALES_AMOUNT = 6
const SALES_COUNT = 7
const PAST_WIDTH = 8

interface State {
  /** Approved sales by day; the sales columns cover every card type, as the peers measure them. */
  mixDays: DayColumns
  /**
   * The window's days before `mixPastDay`, summed once per day change: evaluate then adds only the
   * current day, so the 30-day window costs O(1) per event instead of 30 row reads. Made at the first
   * count: most merchants never have enough sales for one.
   */
  mixPast: number[] | null
  mixPastDay: number
  /**
   * The day whose first evaluation left `mixPast` uncounted (too few sales in all the rows for the count
   * floor): it is counted when first needed, as of that evaluation (see `countPast`).
   */
  mixSkippedDay: number
  mixCredit: SampleRing
  mixDebit: SampleRing
}

/** Adds one approved sale to counters laid out as a DayColumns row, starting at `at`. */
function record(cells: number[], at: number, amountMinor: number, major: number, cardType: string): void {
  cells[at + SALES_AMOUNT] = (cells[at + SALES_AMOUNT] ?? 0) + amountMinor
  cells[at + SALES_COUNT] = (cells[at + SALES_COUNT] ?? 0) + 1
  if (cardType === 'CREDIT') {
    cells[at + CREDIT_AMOUNT] = (cells[at + CREDIT_AMOUNT] ?? 0) + amountMinor
    cells[at + CREDIT_COUNT] = (cells[at + CREDIT_COUNT] ?? 0) + 1
    cells[at + CREDIT_SUM] = (cells[at + CREDIT_SUM] ?? 0) + major
  } else if (cardType === 'DEBIT') {
    cells[at + DEBIT_COUNT] = (cells[at + DEBIT_COUNT] ?? 0) + 1
    cells[at + DEBIT_SUM] = (cells[at + DEBIT_SUM] ?? 0) + major
    cells[at + DEBIT_SUM_SQ] = (cells[at + DEBIT_SUM_SQ] ?? 0) + major * major
  }
}

function recordDay(t: DayColumns, o: number, amountMinor: number, major: number, cardType: string): void {
  if (cardType === 'CREDIT') {
    t.add(o, CREDIT_AMOUNT, amountMinor)
    t.add(o, CREDIT_COUNT, 1)
    t.add(o, CREDIT_SUM, major)
  } else if (cardType === 'DEBIT') {
    t.add(o, DEBIT_COUNT, 1)
    t.add(o, DEBIT_SUM, major)
    t.add(o, DEBIT_SUM_SQ, major * major)
  }
}

/** Counts the cache of the window's days before `wd` from the rows. */
function countPast(state: State, wd: number): number[] {
  const days = state.mixDays
  // Refilled in place: the cache is private to this state, so no new object per day change.
  const past = state.mixPast ?? new Array<number>(PAST_WIDTH)
  state.mixPast = past
  past.fill(0)
  const to = wd - 1
  for (let o = days.first(wd - WINDOW_DAYS + 1, to); o >= 0; o = days.next(o, to)) {
    past[SALES_AMOUNT] = (past[SALES_AMOUNT] ?? 0) + days.amount(o)
    past[SALES_COUNT] = (past[SALES_COUNT] ?? 0) + days.sales(o)
    for (let c = 0; c < WIDTH; c++) past[c] = (past[c] ?? 0) + days.get(o, c)
  }
  state.mixPastDay = wd
  return past
}

/** Counter `c` over the window: the cached past days plus today (at offset `today`, -1 when none). */
function windowSum(past: readonly number[], days: DayColumns, today: number, c: number): number {
  return today < 0 ? (past[c] ?? 0) : (past[c] ?? 0) + days.get(today, c)
}

/** The window's approved sales (`amount` false) or their amount: the cached past days plus today. */
function windowSales(past: readonly number[], days: DayColumns, today: number, amount: boolean): number {
  const c = amount ? SALES_AMOUNT : SALES_COUNT
  if (today < 0) return past[c] ?? 0
  return (past[c] ?? 0) + (amount ? days.amount(today) : days.sales(today))
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`

export const creditDebitMix = defineRule({
  id: 'credit_debit_mix',
  version: 2,
  category: 'fraud',
  family: 'cards',
  description:
    "Credit share of approved sales amount over 30 days, beyond the distribution of its peers (or of the acquirer's merchants) and a floor; or a moderate credit share with small, uniform debit tickets beside large credit tickets (a 4:1 mix made to hide cash-out).",
  calibration:
    "Share leg: the credit share must exceed the fence of its peer cohort's distribution of credit shares (the 0.75 quantile plus three times its distance from the median; the acquirer's population where the cohort is thin, then provisional) and a floor of 0.6, over 50 sales. Mix leg: compares with nothing: small, uniform debit tickets beside credit tickets five times larger are the playbook's trace, not a trade's.",
  whitelistable: true,
  retentionDays: WINDOW_DAYS,
  clock: 'day',
  params: {
    floor: num({
      default: 0.6,
      min: 0,
      max: 1,
      description:
        'Credit share of approved sales amount the share leg never fires at or below, however credit-light the peers.',
    }),
    quantile: quantileParam(0.75),
    margin: marginParam(3, 'linear'),
    minSales: int({
      default: 50,
      min: 1,
      description: 'Count floor: approved sales in the 30 days before any share counts.',
    }),
    mixEnabled: bool({
      default: true,
      description: 'Also look for the evasive mix: moderate credit share, small uniform debit, large credit.',
    }),
    mixMinShare: num({
      default: 0.6,
      min: 0,
      max: 1,
      description: 'Credit share above which the mix asymmetry is examined.',
    }),
    mixMinTicketRatio: num({
      default: 5,
      min: 1,
      description: 'Mean credit ticket / mean debit ticket above which credit tickets count as much larger.',
    }),
    mixMaxDebitCv: num({
      default: 0.25,
      min: 0,
      description: 'Coefficient of variation of debit tickets below which they count as uniform.',
    }),
    mixMinDebit: int({
      default: 10,
      min: 2,
      description: 'Count floor: debit sales in the 30 days before their uniformity counts.',
    }),
    mixMinCredit: int({
      default: 10,
      min: 1,
      description: 'Count floor: credit sales in the 30 days before the ticket ratio counts.',
    }),
  },
  createState: (sales, samples): State => ({
    mixDays: sales.columns(WINDOW_DAYS, WIDTH),
    mixPast: null,
    mixPastDay: NO_DAY,
    mixSkippedDay: NO_DAY,
    mixCredit: samples.ring(5),
    mixDebit: samples.ring(5),
  }),
  onTransaction(state, txn, ctx) {
    if (!txn.approved || !txn.sale) return false
    const o = state.mixDays.at(txn.localDay)
    if (o < 0) return false
    const major = txn.amount_minor / txn.minorPerMajor
    const wd = ctx.watermarkDay
    const late = txn.localDay < wd && txn.localDay > wd - WINDOW_DAYS
    if (late && state.mixSkippedDay === wd && state.mixPastDay !== wd) {
      // The cache as this day's first evaluation would have counted it, the sums of floats in the same
      // order: the rows' past days changed since only by late sales, and this is the first. The engine
      // has counted this sale's count and amount in its row already (integers: exact to take back).
      const past = countPast(state, wd)
      past[SALES_AMOUNT] = (past[SALES_AMOUNT] ?? 0) - txn.amount_minor
      past[SALES_COUNT] = (past[SALES_COUNT] ?? 0) - 1
    }
    recordDay(state.mixDays, o, txn.amount_minor, major, txn.card_type)
    // A late event of a past day inside the window must also reach the cached sum of past days.
    if (late && state.mixPastDay === wd && state.mixPast !== null)
      record(state.mixPast, 0, txn.amount_minor, major, txn.card_type)
    if (txn.card_type === 'CREDIT') state.mixCredit.push(txn.txn_id)
    else if (txn.card_type === 'DEBIT') state.mixDebit.push(txn.txn_id)
  },
  evaluate(state, ctx) {
    const p = ctx.params
    const wd = ctx.watermarkDay
    const days = state.mixDays
    let past = state.mixPast
    if (state.mixPastDay !== wd || past === null) {
      // Fewer sales in all the rows than the count floor (most merchants, most days): the window has
      // fewer still, and counting it was a tenth of the engine's time.
      if (days.keptSales < p.minSales) {
        state.mixSkippedDay = wd
        return null
      }
      past = countPast(state, wd)
    }
    // The window: the cached past plus today, added in the same order as before the table.
    const today = days.peek(wd)
    const salesCount = windowSales(past, days, today, false)
    const salesAmount = windowSales(past, days, today, true)
    if (salesCount < p.minSales || salesAmount <= 0) return null
    const creditAmount = windowSum(past, days, today, CREDIT_AMOUNT)
    const share = creditAmount / salesAmount

    const bound = calibratedBound(
      p.floor,
      { quantile: p.quantile, margin: p.margin, scale: 'linear' },
      ctx.peers?.creditShare,
      ctx.population?.creditShare,
    )
    if (share > bound.threshold) {
      const sales = `${salesCount} approved sales in ${WINDOW_DAYS} days`
      return {
        observed: share,
        threshold: bound.threshold,
        windowStart: ctx.dayStart(wd - WINDOW_DAYS + 1),
        windowEnd: ctx.dayStart(wd + 1),
        sampleTxnIds: state.mixCredit.toArray(),
        detail: `Credit was ${pct(share)} of approved sales amount over ${sales}, above ${describeBound(bound, p.floor, pct)}.`,
        basis: bound.basis,
      }
    }

    if (!p.mixEnabled || share <= p.mixMinShare) return null
    const debitCount = windowSum(past, days, today, DEBIT_COUNT)
    const creditCount = windowSum(past, days, today, CREDIT_COUNT)
    if (debitCount < p.mixMinDebit || creditCount < p.mixMinCredit) return null
    const debitMean = windowSum(past, days, today, DEBIT_SUM) / debitCount
    if (debitMean <= 0) return null
    const variance = Math.max(
      0,
      windowSum(past, days, today, DEBIT_SUM_SQ) / debitCount - debitMean * debitMean,
    )
    const debitCv = Math.sqrt(variance) / debitMean
    const creditMean = windowSum(past, days, today, CREDIT_SUM) / creditCount
    const ratio = creditMean / debitMean
    if (ratio <= p.mixMinTicketRatio || debitCv >= p.mixMaxDebitCv) return null
    const sales = `${salesCount} approved sales in ${WINDOW_DAYS} days`
    return {
      observed: share,
      threshold: p.mixMinShare,
      windowStart: ctx.dayStart(wd - WINDOW_DAYS + 1),
      windowEnd: ctx.dayStart(wd + 1),
      sampleTxnIds: [...state.mixCredit.toArray().slice(-3), ...state.mixDebit.toArray().slice(-2)],
      detail: `Credit was ${pct(share)} of approved sales amount over ${sales}, with mean credit ticket ${creditMean.toFixed(0)} ${ratio.toFixed(1)}× the mean debit ticket ${debitMean.toFixed(0)} and debit tickets uniform (CV ${debitCv.toFixed(2)} over ${debitCount} debit sales), the 4:1 mix that hides cash-out.`,
    }
  },
})
