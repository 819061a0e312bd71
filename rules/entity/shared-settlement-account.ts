import { int } from '../engine/params.ts'
import { defineEntityRule } from './engine.ts'
import { type SpreadState, spreadFinding } from './spread.ts'

const MAX_WINDOW_DAYS = 90

/**
 * One settlement account collecting the settlements of several merchants: the cross-merchant half of
 * settlement_churn (a mule account behind a ring of shell merchants). Two measures, each able to fire:
 * - bound now to merchants of several trades (registered MCCs), however long ago each was bound: an
 *   account bound at onboarding years ago is shared today. Branches of one chain settle to their
 *   owner's account and share a trade, so merchants are counted by MCC;
 * - bound to several merchants within 90 days, whatever became of the bindings since.
 * A merchant re-confirming or re-binding its own account is one merchant, however many events it sends;
 * a merchant that moved to another account or closed is no longer bound (rules/entity/activity.ts).
 * Regulatory: not whitelistable, like settlement_churn.
 */
export const sharedSettlementAccount = defineEntityRule({
  id: 'shared_settlement_account',
  version: 2,
  category: 'compliance',
  family: 'lifecycle',
  kind: 'account',
  description:
    'One settlement account token bound now to merchants of several registered MCCs, or bound to several merchants within 90 days.',
  calibration:
    'Counts merchants, compared with nothing (a lifecycle fact): bound to the account now, whenever they were bound, of 3 or more registered MCCs (a chain of one trade settles to its owner); or 3 or more bound to it within 90 days.',
  whitelistable: false,
  retentionDays: MAX_WINDOW_DAYS,
  params: {
    minMerchants: int({
      default: 3,
      min: 2,
      max: 64,
      description: 'Distinct merchants bound to the account within the window that fire the rule.',
    }),
    windowDays: int({
      default: 90,
      min: 1,
      max: MAX_WINDOW_DAYS,
      description: 'Window, days of event time ending at the latest event of the account.',
    }),
    minTrades: int({
      default: 3,
      min: 2,
      max: 64,
      description:
        'Registered MCCs among the merchants bound to the account now that fire the rule, however long ago they were bound (branches of one trade count once).',
    }),
  },
  createState: (): SpreadState => ({ anchor: null, standing: false }),
  evaluate: (state, entity, p, clock) =>
    spreadFinding(state, entity, clock, p, {
      standing: (count, trades, others) =>
        `One settlement account is bound now to ${count} merchants of ${trades} different registered MCCs: ` +
        `this merchant and ${others} other merchant(s).`,
      window: (count, others) =>
        `One settlement account was bound to ${count} merchants within ${p.windowDays} days: ` +
        `this merchant and ${others} other merchant(s).`,
    }),
})
