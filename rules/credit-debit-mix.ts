import { bool, int, num } from './engine/params.ts'
import { defineRule } from './engine/types.ts'
import { DayRing, Recent } from './engine/window.ts'

/**
 * Credit-card cash-out needs credit cards: a merchant whose approved sales are almost all credit stands
 * out, unless its peers (car dealers, jewellers) look the same. The playbook answers with a 4:1 mix of
 * small, uniform debit swipes; that mix leaves an asymmetry real shops do not show: debit tickets all of
 * one size while credit tickets are many times larger.
 */
const WINDOW_DAYS = 30

interface Totals {
  /** Approved sales, every card type: the denominator of the credit share, as the peers measure it. */
  salesAmount: number
  salesCount: number
  creditAmount: number
  creditCount: number
  /** Credit amounts in major units, for a ticket ratio in the same units as the debit moments. */
  creditSum: number
  debitCount: number
  /** Debit amounts in major units: keeps the sum of squares within exact double range. */
  debitSum: number
  debitSumSq: number
}

function zero(): Totals {
  return {
    salesAmount: 0,
    salesCount: 0,
    creditAmount: 0,
    creditCount: 0,
    creditSum: 0,
    debitCount: 0,
    debitSum: 0,
    debitSumSq: 0,
  }
}

function copy(into: Totals, from: Readonly<Totals>): void {
  into.salesAmount = from.salesAmount
  into.salesCount = from.salesCount
  into.creditAmount = from.creditAmount
  into.creditCount = from.creditCount
  into.creditSum = from.creditSum
  into.debitCount = from.debitCount
  into.debitSum = from.debitSum
  into.debitSumSq = from.debitSumSq
}

const ZERO: Readonly<Totals> = zero()

function add(into: Totals, from: Totals): void {
  into.salesAmount += from.salesAmount
  into.salesCount += from.salesCount
  into.creditAmount += from.creditAmount
  into.creditCount += from.creditCount
  into.creditSum += from.creditSum
  into.debitCount += from.debitCount
  into.debitSum += from.debitSum
  into.debitSumSq += from.debitSumSq
}

interface State {
  days: DayRing<Totals>
  /**
   * The window's days before `pastDay`, summed once per day change: evaluate then adds only the
   * current day, so the 30-day window costs O(1) per event instead of 30 bucket reads.
   */
  past: Totals
  pastDay: number
  credit: Recent<string>
  debit: Recent<string>
  /** Reused by evaluate so the hot path allocates nothing. */
  scratch: Totals
}

function record(t: Totals, amountMinor: number, major: number, cardType: string): void {
  t.salesAmount += amountMinor
  t.salesCount++
  if (cardType === 'CREDIT') {
    t.creditAmount += amountMinor
    t.creditCount++
    t.creditSum += major
  } else if (cardType === 'DEBIT') {
    t.debitCount++
    t.debitSum += major
    t.debitSumSq += major * major
  }
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`

export const creditDebitMix = defineRule({
  id: 'credit_debit_mix',
  version: 1,
  category: 'fraud',
  family: 'cards',
  description:
    'Credit share of approved sales amount over 30 days, above thresholds and above peers; or a moderate credit share with small, uniform debit tickets beside large credit tickets (a 4:1 mix made to hide cash-out).',
  whitelistable: true,
  retentionDays: WINDOW_DAYS,
  params: {
    mediumShare: num({
      default: 0.8,
      min: 0,
      max: 1,
      description: 'Credit share of approved sales amount above which the rule fires (medium).',
    }),
    highShare: num({
      default: 0.9,
      min: 0,
      max: 1,
      description: 'Credit share above which the finding reports the high threshold.',
    }),
    minSales: int({
      default: 30,
      min: 1,
      description: 'Count floor: approved sales in the 30 days before any share counts.',
    }),
    peerK: num({
      default: 3,
      min: 0,
      description:
        'With known peers, the credit share must also exceed the peer median + peerK × MAD (a car dealer whose share is like its peers stays silent).',
    }),
    peerMinMad: num({
      default: 0.02,
      min: 0,
      max: 1,
      description:
        'Smallest MAD used in the peer bound, so a cohort that happens to agree exactly does not make any tiny excess fire.',
    }),
    minPeerCohort: int({
      default: 20,
      min: 1,
      description: 'Peers are compared only when the cohort has at least this many merchants.',
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
  createState: (): State => ({
    days: new DayRing<Totals>(WINDOW_DAYS, zero, (b) => copy(b, ZERO)),
    past: zero(),
    pastDay: Number.NaN,
    credit: new Recent<string>(5),
    debit: new Recent<string>(5),
    scratch: zero(),
  }),
  onTransaction(state, txn, ctx) {
    if (!txn.approved || !txn.sale) return
    const day = state.days.at(txn.localDay)
    if (day === undefined) return
    const major = txn.amount_minor / txn.minorPerMajor
    record(day, txn.amount_minor, major, txn.card_type)
    // A late event of a past day inside the window must also reach the cached sum of past days.
    const wd = ctx.watermarkDay
    if (state.pastDay === wd && txn.localDay < wd && txn.localDay > wd - WINDOW_DAYS)
      record(state.past, txn.amount_minor, major, txn.card_type)
    if (txn.card_type === 'CREDIT') state.credit.push(txn.txn_id)
    else if (txn.card_type === 'DEBIT') state.debit.push(txn.txn_id)
  },
  evaluate(state, ctx) {
    const p = ctx.params
    const wd = ctx.watermarkDay
    if (state.pastDay !== wd) {
      // Refilled in place: the cache is private to this state, so no new object per day change.
      const past = state.past
      copy(past, ZERO)
      state.days.forEach(wd - WINDOW_DAYS + 1, wd - 1, (b) => add(past, b))
      state.pastDay = wd
    }
    const t = state.scratch
    copy(t, state.past)
    const today = state.days.peek(wd)
    if (today !== undefined) add(t, today)
    if (t.salesCount < p.minSales || t.salesAmount <= 0) return null
    const share = t.creditAmount / t.salesAmount

    const cohort = ctx.peers?.creditShare
    const peerBound =
      cohort !== undefined && cohort.n >= p.minPeerCohort
        ? cohort.median + p.peerK * Math.max(cohort.mad, p.peerMinMad)
        : null
    if (share > p.mediumShare && (peerBound === null || share > peerBound)) {
      const high = share > p.highShare
      const threshold = high ? p.highShare : p.mediumShare
      const peerText = peerBound === null ? 'no peer cohort to compare' : `peer bound ${pct(peerBound)}`
      const sales = `${t.salesCount} approved sales in ${WINDOW_DAYS} days`
      return {
        observed: share,
        threshold,
        windowStart: ctx.dayStart(wd - WINDOW_DAYS + 1),
        windowEnd: ctx.dayStart(wd + 1),
        sampleTxnIds: state.credit.toArray(),
        detail: `Credit was ${pct(share)} of approved sales amount over ${sales}, above the ${high ? 'high' : 'medium'} threshold ${pct(threshold)} (${peerText}).`,
      }
    }

    if (!p.mixEnabled || share <= p.mixMinShare) return null
    if (t.debitCount < p.mixMinDebit || t.creditCount < p.mixMinCredit) return null
    const debitMean = t.debitSum / t.debitCount
    if (debitMean <= 0) return null
    const variance = Math.max(0, t.debitSumSq / t.debitCount - debitMean * debitMean)
    const debitCv = Math.sqrt(variance) / debitMean
    const creditMean = t.creditSum / t.creditCount
    const ratio = creditMean / debitMean
    if (ratio <= p.mixMinTicketRatio || debitCv >= p.mixMaxDebitCv) return null
    const sales = `${t.salesCount} approved sales in ${WINDOW_DAYS} days`
    return {
      observed: share,
      threshold: p.mixMinShare,
      windowStart: ctx.dayStart(wd - WINDOW_DAYS + 1),
      windowEnd: ctx.dayStart(wd + 1),
      sampleTxnIds: [...state.credit.toArray().slice(-3), ...state.debit.toArray().slice(-2)],
      detail: `Credit was ${pct(share)} of approved sales amount over ${sales}, with mean credit ticket ${creditMean.toFixed(0)} ${ratio.toFixed(1)}× the mean debit ticket ${debitMean.toFixed(0)} and debit tickets uniform (CV ${debitCv.toFixed(2)} over ${t.debitCount} debit sales), the 4:1 mix that hides cash-out.`,
    }
  },
})
