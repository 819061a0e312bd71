import { int, num } from './engine/params.ts'
import { defineRule } from './engine/types.ts'

/**
 * High ticket: cash-out swipes are far larger than what the merchant's kind of business sells, so its
 * 30-day average ticket stands out from peers of the same MCC (robust z-score on median and MAD, which
 * a few cash-out merchants in the cohort cannot drag). A jeweller is compared with jewellers, so high
 * tickets that are normal for the trade stay silent. Without a cohort there is nothing to compare with
 * and the rule stays silent: an absolute bar would only flag the trades that sell expensive things.
 */
const WINDOW_DAYS = 30
const MAD_TO_SIGMA = 1.4826

/** Columns of a day: approved sales and their amount. */
const SALES = 0
const AMOUNT = 1

export const highTicket = defineRule({
  id: 'high_ticket',
  version: 1,
  category: 'fraud',
  family: 'amount',
  description:
    '30-day average approved ticket against peers of the same MCC: robust z = (avg − median) / ' +
    '(1.4826 · MAD). Silent while the peers are unknown, too few, or all alike (MAD 0).',
  whitelistable: true,
  retentionDays: WINDOW_DAYS,
  clock: 'day',
  params: {
    zThreshold: num({
      default: 3,
      min: 0,
      description: 'Robust z-score of the average ticket above which the rule fires.',
    }),
    minSales: int({
      default: 20,
      min: 1,
      description: 'Count floor: approved sales in the window before the average counts.',
    }),
    minPeers: int({
      default: 20,
      min: 2,
      description: 'Merchants needed in the cohort before a comparison means anything.',
    }),
  },
  createState: (sales, samples) => ({
    days: sales.columns(WINDOW_DAYS, 2),
    samples: samples.ring(5),
    minorPerMajor: 100,
  }),
  onTransaction(state, txn, ctx) {
    if (!txn.approved || !txn.sale) return false
    const day = state.days.at(txn.localDay)
    if (day < 0) return false
    state.days.add(day, SALES, 1)
    state.days.add(day, AMOUNT, txn.amount_minor)
    state.minorPerMajor = txn.minorPerMajor
    // The tickets that pull the average up are the ones to show.
    const peer = ctx.peers?.avgTicket
    if (peer !== undefined && txn.amount_minor > peer.median) state.samples.push(txn.txn_id)
  },
  evaluate(state, ctx) {
    const p = ctx.params
    const peer = ctx.peers?.avgTicket
    if (peer === undefined || peer.n < p.minPeers || peer.mad <= 0) return null
    const to = ctx.watermarkDay
    const from = to - WINDOW_DAYS + 1
    let sales = 0
    let amount = 0
    // Stored days only, oldest first: most merchants are active on few of the window's days.
    const days = state.days
    for (let o = days.first(from, to); o >= 0; o = days.next(o, to)) {
      sales += days.get(o, SALES)
      amount += days.get(o, AMOUNT)
    }
    if (sales < p.minSales) return null
    const avg = amount / sales
    const z = (avg - peer.median) / (MAD_TO_SIGMA * peer.mad)
    if (z <= p.zThreshold) return null
    const unit = state.minorPerMajor
    const decimals = Math.round(Math.log10(unit))
    const major = (minor: number) => (minor / unit).toFixed(decimals)
    return {
      observed: z,
      threshold: p.zThreshold,
      windowStart: ctx.dayStart(from),
      windowEnd: ctx.dayStart(to + 1),
      sampleTxnIds: state.samples.toArray(),
      detail:
        `In 30 days the average of ${sales} approved sales was ${major(avg)}, against a median of ` +
        `${major(peer.median)} (MAD ${major(peer.mad)}) across ${peer.n} peers of the same MCC: ` +
        `robust z ${z.toFixed(1)} > ${p.zThreshold}.`,
    }
  },
})
