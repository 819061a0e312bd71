import { int } from '../engine/params.ts'
import { defineEntityRule } from './engine.ts'
import { type SpreadState, spreadFinding } from './spread.ts'

const MAX_WINDOW_DAYS = 90

/**
 * One settlement account bound to several merchants: the cross-merchant half of settlement_churn (a
 * mule account collecting the settlements of a ring of shell merchants). A merchant re-confirming or
 * re-binding its own account is one merchant, however many events it sends. Regulatory: not
 * whitelistable, like settlement_churn.
 */
export const sharedSettlementAccount = defineEntityRule({
  id: 'shared_settlement_account',
  version: 1,
  category: 'compliance',
  family: 'lifecycle',
  kind: 'account',
  description: 'One settlement account token bound to several merchants within 90 days.',
  calibration:
    'Counts the merchants bound to one account (3 or more in 90 days): a lifecycle fact, compared with nothing.',
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
      description: 'Window, days of event time ending at the latest binding of the account.',
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
        `One settlement account was bound to ${count} merchants within ${p.windowDays} days: ` +
        `this merchant and ${others} other merchant(s).`,
    ),
})
