import { int, num } from './engine/params.ts'
import { defineRule } from './engine/types.ts'
import { DayRing, Recent } from './engine/window.ts'

/**
 * Night-time volume: cash-out swipes are often run after hours, when no real customer is in the shop.
 * Bars, hotels and 24-hour stores trade at night too, so the share is compared with the merchant's
 * peers (same MCC and region); only without peers does an absolute share decide.
 */
const WINDOW_DAYS = 30

interface Day {
  count: number
  amount: number
  nightCount: number
  nightAmount: number
}

export const nightShare = defineRule({
  id: 'night_share',
  version: 1,
  category: 'fraud',
  family: 'velocity',
  description: 'Share of approved volume between 00:00 and 05:00 local time, against peers (30 days).',
  whitelistable: true,
  retentionDays: WINDOW_DAYS,
  params: {
    peerMultiple: num({
      default: 3,
      min: 1,
      description: 'Fires above this multiple of the peer median night share.',
    }),
    minShare: num({
      default: 0.15,
      min: 0,
      max: 1,
      description:
        'The threshold never falls below this share: peers that never trade at night would otherwise make any night sale fire.',
    }),
    maxShare: num({
      default: 0.9,
      min: 0,
      max: 1,
      description:
        'The threshold never rises above this share, so a merchant among night traders can still fire when nearly all its volume is at night.',
    }),
    absoluteShare: num({
      default: 0.4,
      min: 0,
      max: 1,
      description: 'Threshold when the peers are unknown or too few.',
    }),
    minPeers: int({
      default: 20,
      min: 1,
      description: 'Merchants in the cohort before the peer comparison is trusted.',
    }),
    nightEndHour: int({
      default: 5,
      min: 1,
      max: 12,
      description: 'Night is from 00:00 local up to this hour (exclusive).',
    }),
    minTxns: int({ default: 30, min: 1, description: 'Count floor: approved sales in 30 days.' }),
    minNightTxns: int({ default: 10, min: 1, description: 'Count floor: approved night sales in 30 days.' }),
  },
  createState: () => ({
    days: new DayRing<Day>(WINDOW_DAYS, () => ({ count: 0, amount: 0, nightCount: 0, nightAmount: 0 })),
    samples: new Recent<string>(5),
  }),
  onTransaction(state, txn, ctx) {
    if (!txn.approved || !txn.sale) return
    const day = state.days.at(txn.localDay)
    if (day === undefined) return
    day.count++
    day.amount += txn.amount_minor
    if (txn.localHour < ctx.params.nightEndHour) {
      day.nightCount++
      day.nightAmount += txn.amount_minor
      state.samples.push(txn.txn_id)
    }
  },
  evaluate(state, ctx) {
    const p = ctx.params
    const from = ctx.watermarkDay - WINDOW_DAYS + 1
    let count = 0
    let amount = 0
    let nightCount = 0
    let nightAmount = 0
    state.days.forEach(from, ctx.watermarkDay, (d) => {
      count += d.count
      amount += d.amount
      nightCount += d.nightCount
      nightAmount += d.nightAmount
    })
    if (count < p.minTxns || nightCount < p.minNightTxns || amount <= 0) return null
    const share = nightAmount / amount
    const peer = ctx.peers?.nightShare
    const usePeers = peer !== undefined && peer.n >= p.minPeers
    const threshold = usePeers
      ? Math.min(p.maxShare, Math.max(p.minShare, p.peerMultiple * peer.median))
      : p.absoluteShare
    if (share <= threshold) return null
    const against = usePeers
      ? `the threshold ${(100 * threshold).toFixed(1)}% from ${peer.n} peers with a median of ${(100 * peer.median).toFixed(1)}%`
      : `the absolute threshold ${(100 * threshold).toFixed(1)}% (peers unknown)`
    return {
      observed: share,
      threshold,
      windowStart: ctx.dayStart(from),
      windowEnd: ctx.dayStart(ctx.watermarkDay + 1),
      sampleTxnIds: state.samples.toArray(),
      detail:
        `${(100 * share).toFixed(1)}% of approved volume in 30 days (${nightCount} of ${count} sales) was taken ` +
        `between 00:00 and ${String(p.nightEndHour).padStart(2, '0')}:00 local, above ${against}.`,
    }
  },
})
