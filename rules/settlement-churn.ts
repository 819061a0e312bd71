import { type FieldChange, keepChange, realChanges } from './engine/changes.ts'
import { int } from './engine/params.ts'
import { defineRule } from './engine/types.ts'

/**
 * Settlement-account churn: cash-out operators move the bound settlement account between mule accounts
 * so that no account accumulates enough to be noticed. Counts changes of the account within 90 days.
 *
 * Per merchant only: the catalogue's other half, one account shared by three or more merchants, needs
 * state keyed by account across merchants, which the per-merchant engine does not have yet.
 */
const DAY_MS = 86_400_000
const MAX_WINDOW_DAYS = 90
/** Account-setting events kept per merchant, oldest dropped first; far above any sane change rate. */
const MAX_EVENTS = 16

interface State {
  /** Account-setting events (engine/changes.ts); null until the first. */
  churnEvents: FieldChange[] | null
  /** How many of `churnEvents` are changes: a cheap exit for the merchants that never churn. */
  churnChanges: number
}

export const settlementChurn = defineRule({
  id: 'settlement_churn',
  version: 1,
  category: 'compliance',
  family: 'lifecycle',
  description:
    'Changes of the bound settlement account within 90 days (per merchant; accounts shared across merchants are not covered yet).',
  calibration:
    "Counts changes of the merchant's own settlement account (2 or more in 90 days): a lifecycle fact, compared with nothing.",
  whitelistable: false,
  retentionDays: MAX_WINDOW_DAYS,
  params: {
    minChanges: int({
      default: 2,
      min: 1,
      max: MAX_EVENTS - 1,
      description: 'Settlement account changes within the window that fire the rule.',
    }),
    windowDays: int({
      default: 90,
      min: 1,
      max: MAX_WINDOW_DAYS,
      description: 'Window, days of event time ending at the latest event of the merchant.',
    }),
  },
  createState: (): State => ({ churnEvents: null, churnChanges: 0 }),
  onMerchantEvent(state, event, ctx) {
    const account = event.settlement_account_token
    if (account === null) return
    if (event.kind !== 'SETTLEMENT_ACCOUNT_CHANGED' && event.kind !== 'ONBOARDED') return
    const kept = keepChange(
      state.churnEvents,
      state.churnChanges,
      {
        id: event.event_id,
        time: event.event_time,
        value: account,
        change: event.kind === 'SETTLEMENT_ACCOUNT_CHANGED',
      },
      // Events older than the widest window cannot count any more; beyond that, keep the newest.
      ctx.watermark - MAX_WINDOW_DAYS * DAY_MS,
      MAX_EVENTS,
    )
    state.churnEvents = kept.list
    state.churnChanges = kept.changes
  },
  evaluate(state, ctx) {
    const p = ctx.params
    if (state.churnChanges < p.minChanges) return null
    // A "change" to the account already bound (a re-confirmation, a replayed form) changes nothing.
    const changes = realChanges(state.churnEvents, ctx.watermark - p.windowDays * DAY_MS)
    const counted = changes.length
    const first = changes[0]?.time ?? 0
    const ids = changes.map((e) => e.id)
    const accounts = new Set(changes.map((e) => e.value))
    if (counted < p.minChanges) return null
    return {
      observed: counted,
      threshold: p.minChanges,
      // Anchored on the first counted change, so the hit is updated, not repeated, as the watermark moves.
      windowStart: first,
      windowEnd: first + p.windowDays * DAY_MS,
      // Lifecycle evidence: these are the ids of the SETTLEMENT_ACCOUNT_CHANGED events.
      sampleTxnIds: ids.slice(-5),
      detail:
        `The settlement account changed ${counted} times within ${p.windowDays} days ` +
        `(${accounts.size} distinct new accounts, first change on ${new Date(first).toISOString().slice(0, 10)}).`,
    }
  },
})
