import { int } from '../engine/params.ts'
import { defineEntityRule } from './engine.ts'
import { type SpreadState, spreadFinding } from './spread.ts'

const MAX_WINDOW_DAYS = 14

/**
 * One card used at several merchants of the same acquirer within days: a card farmer moving between
 * sibling terminals (the playbook's "move to another terminal") rather than a cardholder shopping, who
 * rarely pays at three different POS merchants of one acquirer in a week. Approved sales only.
 */
export const cardSpread = defineEntityRule({
  id: 'card_spread',
  version: 1,
  category: 'fraud',
  family: 'cards',
  kind: 'card',
  description: 'One card used for approved sales at several merchants of the same acquirer within 7 days.',
  whitelistable: true,
  retentionDays: MAX_WINDOW_DAYS,
  params: {
    minMerchants: int({
      default: 3,
      min: 2,
      max: 64,
      description:
        'Count floor: distinct merchants of the acquirer where the card was used that fire the rule.',
    }),
    windowDays: int({
      default: 7,
      min: 1,
      max: MAX_WINDOW_DAYS,
      description: 'Window, days of event time ending at the latest use of the card.',
    }),
  },
  createState: (): SpreadState => ({ anchor: null }),
  evaluate: (state, entity, p) =>
    spreadFinding(
      state,
      entity,
      p.windowDays,
      p.minMerchants,
      (count, others) =>
        `One card was used at ${count} merchants of the acquirer within ${p.windowDays} days: ` +
        `this merchant and ${others} other merchant(s).`,
    ),
})
