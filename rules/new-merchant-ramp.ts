import { int, num } from './engine/params.ts'
import { defineRule, type RuleContext } from './engine/types.ts'
import type { DayColumns, SampleRing } from './engine/window.ts'

/**
 * New-merchant ramp: a shell merchant signed up for cash-out runs at full volume within weeks, while a
 * real new business builds up its custom slowly. Within its first `rampDays`, the merchant's volume per
 * active day is compared with the top of its cohort (established peers of the same MCC and region); a
 * newcomer out-trading nearly all of them is the signal.
 */
const DAY_MS = 86_400_000
const WINDOW_DAYS = 30

/** Columns of a day: approved sales and their amount. */
const COUNT = 0
const AMOUNT = 1

interface State {
  days: DayColumns
  samples: SampleRing
  minorPerMajor: number
  /** The onboarding time and its local day, cached: converting time zones is not free. */
  onboardedAt: number | null
  onboardDay: number
}

/** The local day holding `t`, from the engine's day starts (correct across DST changes). */
function localDayOf(t: number, dayStart: (day: number) => number): number {
  let d = Math.floor(t / DAY_MS)
  while (dayStart(d) > t) d--
  while (dayStart(d + 1) <= t) d++
  return d
}

function syncOnboarding(state: State, ctx: RuleContext<unknown>): boolean {
  const at = ctx.profile.onboardedAt
  if (at === state.onboardedAt) return false
  state.onboardedAt = at
  if (at !== null) state.onboardDay = localDayOf(at, ctx.dayStart)
  return true
}

export const newMerchantRamp = defineRule({
  id: 'new_merchant_ramp',
  version: 1,
  category: 'fraud',
  family: 'volume',
  description:
    'A merchant in its first months whose volume per active day is at the top of its cohort (30 days).',
  whitelistable: true,
  retentionDays: WINDOW_DAYS,
  params: {
    rampDays: int({
      default: 90,
      min: 1,
      description: 'Days after onboarding during which the merchant counts as new.',
    }),
    madK: num({
      default: 3,
      min: 0,
      description: 'Fires above the peer median plus this many median absolute deviations of daily volume.',
    }),
    minMultipleOfMedian: num({
      default: 2,
      min: 1,
      description:
        'And above this multiple of the peer median: a cohort with no spread must not make any excess fire.',
    }),
    minPeers: int({ default: 20, min: 1, description: 'Merchants in the cohort before peers are trusted.' }),
    absoluteDaily: num({
      default: 100_000,
      min: 0,
      description:
        'Volume per active day, major units, above which a new merchant fires when peers are unknown.',
    }),
    minActiveDays: int({
      default: 5,
      min: 1,
      description: 'Count floor: days with approved sales in the window.',
    }),
    minTxns: int({ default: 20, min: 1, description: 'Count floor: approved sales in the window.' }),
  },
  createState: (sales, samples): State => ({
    days: sales.columns(WINDOW_DAYS, 2),
    samples: samples.ring(5),
    minorPerMajor: 100,
    onboardedAt: null,
    onboardDay: 0,
  }),
  onTransaction(state, txn, ctx) {
    const synced = syncOnboarding(state, ctx)
    if (!txn.approved || !txn.sale) return synced
    const day = state.days.at(txn.localDay)
    if (day < 0) return synced
    state.days.add(day, COUNT, 1)
    state.days.add(day, AMOUNT, txn.amount_minor)
    state.minorPerMajor = txn.minorPerMajor
    state.samples.push(txn.txn_id)
  },
  onMerchantEvent(state, _event, ctx) {
    syncOnboarding(state, ctx)
  },
  evaluate(state, ctx) {
    const p = ctx.params
    const onboardedAt = state.onboardedAt
    // Most merchants are old: leave before touching the window.
    if (onboardedAt === null || ctx.watermark - onboardedAt > p.rampDays * DAY_MS) return null
    const from = Math.max(ctx.watermarkDay - WINDOW_DAYS + 1, state.onboardDay)
    let count = 0
    let amount = 0
    let activeDays = 0
    const days = state.days
    const to = ctx.watermarkDay
    for (let o = days.first(from, to); o >= 0; o = days.next(o, to)) {
      if (days.get(o, COUNT) === 0) continue
      activeDays++
      count += days.get(o, COUNT)
      amount += days.get(o, AMOUNT)
    }
    if (activeDays < p.minActiveDays || count < p.minTxns) return null
    const perDay = amount / activeDays
    const peer = ctx.peers?.dailyVolume
    const usePeers = peer !== undefined && peer.n >= p.minPeers
    const threshold = usePeers
      ? Math.max(peer.median + p.madK * peer.mad, p.minMultipleOfMedian * peer.median)
      : p.absoluteDaily * state.minorPerMajor
    if (perDay <= threshold) return null
    const major = (minor: number) => Math.round(minor / state.minorPerMajor).toLocaleString('en-US')
    const age = Math.floor((ctx.watermark - onboardedAt) / DAY_MS)
    const against = usePeers
      ? `the top of ${peer.n} peers (median ${major(peer.median)})`
      : 'the absolute threshold (peers unknown)'
    return {
      observed: perDay,
      threshold,
      windowStart: ctx.dayStart(from),
      windowEnd: ctx.dayStart(ctx.watermarkDay + 1),
      sampleTxnIds: state.samples.toArray(),
      detail:
        `Onboarded ${age} days ago, the merchant took ${major(perDay)} per active day over ${activeDays} days ` +
        `(${count} sales), above ${major(threshold)} from ${against}.`,
    }
  },
})
