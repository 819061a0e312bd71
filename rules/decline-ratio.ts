import { int, num } from './engine/params.ts'
import { defineRule } from './engine/types.ts'
import type { SampleRing, ShortDays } from './engine/window.ts'

/**
 * Card testing: a terminal used to try many stolen or generated cards shows a high share of declined
 * attempts across many distinct cards in one local day. Technical declines (issuer unavailable, system
 * malfunction) are not counted: an outage declines every customer and is no one's fraud.
 */
const TECHNICAL_DECLINES = new Set(['91', '96', '68'])

/** Columns of a day: attempts and declines. */
const ATTEMPTS = 0
const DECLINES = 1
const KEPT_DAYS = 2

interface State {
  declineDays: ShortDays
  /**
   * Distinct declined cards of the days in the table, created on a day's first decline: most days have
   * none, and a set per day and merchant was most of this rule's memory. The map itself is made at the
   * first decline: an empty map is some 180 bytes, and most merchants decline little.
   */
  declineCards: Map<number, Set<string>> | null
  declineSamples: SampleRing
}

export const declineRatio = defineRule({
  id: 'decline_ratio',
  version: 1,
  category: 'fraud',
  family: 'velocity',
  description: 'Share of declined attempts in a local day, across many distinct cards (card testing).',
  calibration:
    'Compares with nothing: over 30% of 20 or more attempts in a day declined, across 5 or more cards, is card testing in any trade (an ordinary shop declines a few percent); technical declines are left out. Strong.',
  whitelistable: true,
  retentionDays: 2,
  clock: 'day',
  params: {
    threshold: num({
      default: 0.3,
      min: 0,
      max: 1,
      description: 'Declined / attempted above which the rule fires.',
    }),
    minAttempts: int({
      default: 20,
      min: 1,
      description: 'Count floor: attempts in the day before the ratio counts.',
    }),
    minDeclinedCards: int({
      default: 5,
      min: 1,
      description: 'Distinct declined cards needed: one customer retrying one card is not card testing.',
    }),
  },
  createState: (sales, samples): State => ({
    declineDays: sales.short(KEPT_DAYS, 2),
    declineCards: null,
    declineSamples: samples.ring(5),
  }),
  onTransaction(state, txn) {
    if (TECHNICAL_DECLINES.has(txn.response_code)) return false
    const days = state.declineDays
    const day = days.at(txn.localDay)
    if (day < 0) return false
    days.add(day, ATTEMPTS, 1)
    if (!txn.approved) {
      days.add(day, DECLINES, 1)
      let declined = state.declineCards
      if (declined === null) {
        declined = new Map()
        state.declineCards = declined
      }
      // The sets follow the table's rows: those of days it dropped go with them.
      for (const d of declined.keys()) if (d <= days.latest - KEPT_DAYS) declined.delete(d)
      let cards = declined.get(txn.localDay)
      if (cards === undefined) {
        cards = new Set()
        declined.set(txn.localDay, cards)
      }
      cards.add(txn.card_token)
      state.declineSamples.push(txn.txn_id)
    }
  },
  evaluate(state, ctx) {
    const p = ctx.params
    const days = state.declineDays
    const day = days.peek(ctx.watermarkDay)
    if (day < 0) return null
    const attempts = days.get(day, ATTEMPTS)
    const declines = days.get(day, DECLINES)
    const cards = state.declineCards?.get(ctx.watermarkDay)?.size ?? 0
    if (attempts < p.minAttempts || cards < p.minDeclinedCards) return null
    const ratio = declines / attempts
    if (ratio <= p.threshold) return null
    return {
      observed: ratio,
      threshold: p.threshold,
      windowStart: ctx.dayStart(ctx.watermarkDay),
      windowEnd: ctx.dayStart(ctx.watermarkDay + 1),
      sampleTxnIds: state.declineSamples.toArray(),
      detail: `${declines} of ${attempts} attempts declined today across ${cards} cards`,
    }
  },
})
