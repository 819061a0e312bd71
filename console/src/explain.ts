import type { Hit } from '../../dashboard-api/schemas.ts'
import { money } from './dom.ts'
import { RULE_BY_ID } from './rules.ts'

/** How a rule's observed value and threshold read: a share, a count, an amount or a distance. */
const KIND: Record<string, 'share' | 'count' | 'amount' | 'km' | 'ratio' | 'z'> = {
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
  high_ticket: 'z',
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

/** A hit's number as its rule means it; amounts come in minor units. */
export function figure(ruleId: string, v: number, currency: string | null): string {
  switch (KIND[ruleId]) {
    case 'share':
      // structuring reports a share of swipes, or a count of days just under the daily limit.
      return v <= 1 ? `${(v * 100).toFixed(1)}%` : v.toLocaleString('en-US')
    case 'ratio':
      return `${v.toFixed(2)}×`
    case 'km':
      return `${v.toFixed(1)} km`
    case 'z':
      return `z ${v.toFixed(2)}`
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
  const observed = figure(hit.rule_id, hit.observed, currency)
  const threshold = figure(hit.rule_id, hit.threshold, currency)
  return `${what} Observed ${observed} against a threshold of ${threshold}, ${span}.`
}
