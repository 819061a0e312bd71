import { int, num } from './engine/params.ts'
import { defineRule } from './engine/types.ts'
import { DayRing, Recent } from './engine/window.ts'

/**
 * Card testing: a terminal used to try many stolen or generated cards shows a high share of declined
 * attempts across many distinct cards in one local day. Technical declines (issuer unavailable, system
 * malfunction) are not counted: an outage declines every customer and is no one's fraud.
 */
const TECHNICAL_DECLINES = new Set(['91', '96', '68'])

interface Day {
  attempts: number
  declines: number
  declinedCards: Set<string>
}

export const declineRatio = defineRule({
  id: 'decline_ratio',
  version: 1,
  category: 'fraud',
  family: 'velocity',
  description: 'Share of declined attempts in a local day, across many distinct cards (card testing).',
  whitelistable: true,
  retentionDays: 2,
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
  createState: () => ({
    days: new DayRing<Day>(2, () => ({ attempts: 0, declines: 0, declinedCards: new Set<string>() })),
    samples: new Recent<string>(5),
  }),
  onTransaction(state, txn) {
    if (TECHNICAL_DECLINES.has(txn.response_code)) return
    const day = state.days.at(txn.localDay)
    if (day === undefined) return
    day.attempts++
    if (!txn.approved) {
      day.declines++
      day.declinedCards.add(txn.card_token)
      state.samples.push(txn.txn_id)
    }
  },
  evaluate(state, ctx) {
    const p = ctx.params
    const day = state.days.peek(ctx.watermarkDay)
    if (day === undefined || day.attempts < p.minAttempts || day.declinedCards.size < p.minDeclinedCards)
      return null
    const ratio = day.declines / day.attempts
    if (ratio <= p.threshold) return null
    return {
      observed: ratio,
      threshold: p.threshold,
      windowStart: ctx.dayStart(ctx.watermarkDay),
      windowEnd: ctx.dayStart(ctx.watermarkDay + 1),
      sampleTxnIds: state.samples.toArray(),
      detail: `${day.declines} of ${day.attempts} attempts declined today across ${day.declinedCards.size} cards`,
    }
  },
})
