import type { Hit } from '../../dashboard-api/schemas.ts'
import { money } from './dom.ts'
import { RULE_BY_ID } from './rules.ts'

/** How a rule's observed value and threshold read: a share, a count, an amount or a distance. */
const KIND: Record<string, 'share' | 'count' | 'amount' | 'km' | 'ratio'> = {
  credit_debit_mix: 'share',
  round_amount: 'share',
  near_round_amount: 'share',
  structuring: 'share',
  card_recurrence: 'share',
  bin_concentration: 'share',
  decline_ratio: 'share',
  night_share: 'share',
  daily_volume: 'amount',
  new_merchant_ramp: 'amount',
  high_ticket: 'amount',
  relocation: 'km',
  repeated_card: 'share',
  swipe_gap: 'share',
  mcc_mismatch: 'share',
  settlement_churn: 'count',
  terminal_sharing: 'count',
  card_ring: 'share',
  shared_settlement_account: 'count',
  shared_terminal: 'count',
}

/**
 * A hit's number as its rule means it; amounts come in minor units. A rule of shares with a leg that
 * counts (structuring's days under the daily limit, mcc_mismatch's re-registrations) says so by its
 * threshold: a count floor is a whole number of at least 1, a share's threshold is below 1 (a share
 * never exceeds 1).
 */
export function figure(ruleId: string, v: number, currency: string | null, threshold: number): string {
  const kind = KIND[ruleId]
  switch (kind === 'share' && Number.isInteger(threshold) && threshold >= 1 ? 'count' : kind) {
    case 'share':
      return `${(v * 100).toFixed(1)}%`
    case 'ratio':
      return `${v.toFixed(2)}×`
    case 'km':
      return `${v.toFixed(1)} km`
    case 'amount':
      return money(v, currency)
    default:
      return v.toLocaleString('en-US', { maximumFractionDigits: 2 })
  }
}

function day(iso: string): string {
  return iso.slice(0, 10)
}

/** One hit in words: what the rule measures, what was observed against which threshold, over when. */
export function explainHit(hit: Hit, currency: string | null): string {
  const rule = RULE_BY_ID.get(hit.rule_id)
  const what = rule?.description ?? hit.rule_id
  const span =
    day(hit.window_start) === day(hit.window_end) ||
    Date.parse(hit.window_end) - Date.parse(hit.window_start) <= 86_400_000
      ? `on ${day(hit.window_start)}`
      : `from ${day(hit.window_start)} to ${day(hit.window_end)}`
  const observed = figure(hit.rule_id, hit.observed, currency, hit.threshold)
  const threshold = figure(hit.rule_id, hit.threshold, currency, hit.threshold)
  return `${what} Observed ${observed} against a threshold of ${threshold}, ${span}.`
}
