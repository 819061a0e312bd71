import { calibratedBound, describeBound, marginParam, quantileParam } from './engine/calibration.ts'
import { int, num } from './engine/params.ts'
import { defineRule, type RuleContext } from './engine/types.ts'
import type { DayColumns, SampleRing } from './engine/window.ts'

/**
 * New-merchant ramp: a shell merchant signed up for cash-out runs at full volume within weeks, while a
 * real new business builds up its custom slowly. Within its first `rampDays`, the merchant's volume per
 * active day is compared with the top of its cohort (peers of the same MCC and region) and of the
 * acquirer's population: beyond the fence of both distributions (the 0.9 quantile times its ratio to the
 * median, on a log scale) and a floor of 20,000 major units a day. A newcomer out-trading nearly all of
 * its established peers at once is the signal; a shop opening with a few good days is not.
 */
const DAY_MS = 86_400_000
const WINDOW_DAYS = 30

interface State {
  rampDays: DayColumns
  rampSamples: SampleRing
  rampMinorPerMajor: number
  /** The onboarding time and its local day, cached: converting time zones is not free. */
  rampOnboardedAt: number | null
  rampOnboardDay: number
}

function syncOnboarding(state: State, ctx: RuleContext<unknown>): boolean {
  const at = ctx.profile.onboardedAt
  if (at === state.rampOnboardedAt) return false
  state.rampOnboardedAt = at
  if (at !== null) state.rampOnboardDay = ctx.dayOf(at)
  return true
}

export const newMerchantRamp = defineRule({
  id: 'new_merchant_ramp',
  version: 2,
  category: 'fraud',
  family: 'volume',
  description:
    "A merchant in its first months whose volume per active day is beyond the top of the distribution of its peers (or of the acquirer's merchants) (30 days).",
  calibration:
    "Volume per active day in the first 90 days must exceed the fence of its peer cohort's distribution (log scale: the 0.9 quantile times its ratio to the median; the acquirer's population where the cohort is thin, then provisional) and 20,000, over 5 active days and 20 sales.",
  whitelistable: true,
  retentionDays: WINDOW_DAYS,
  params: {
    rampDays: int({
      default: 90,
      min: 1,
      description: 'Days after onboarding during which the merchant counts as new.',
    }),
    floorMajor: num({
      default: 20_000,
      min: 0,
      description: 'Volume per active day, major units, the rule never fires at or below.',
    }),
    quantile: quantileParam(0.9),
    margin: marginParam(1, 'log'),
    minActiveDays: int({
      default: 5,
      min: 1,
      description: 'Count floor: days with approved sales in the window.',
    }),
    minTxns: int({ default: 20, min: 1, description: 'Count floor: approved sales in the window.' }),
  },
  createState: (sales, samples): State => ({
    rampDays: sales.columns(WINDOW_DAYS, 0),
    rampSamples: samples.ring(5),
    rampMinorPerMajor: 100,
    rampOnboardedAt: null,
    rampOnboardDay: 0,
  }),
  onTransaction(state, txn, ctx) {
    const synced = syncOnboarding(state, ctx)
    if (!txn.approved || !txn.sale) return synced
    const day = state.rampDays.at(txn.localDay)
    if (day < 0) return synced
    // The day's sales and amount are counted by the engine (SaleDays).
    state.rampMinorPerMajor = txn.minorPerMajor
    state.rampSamples.push(txn.txn_id)
  },
  onMerchantEvent(state, _event, ctx) {
    syncOnboarding(state, ctx)
  },
  evaluate(state, ctx) {
    const p = ctx.params
    const onboardedAt = state.rampOnboardedAt
    // Most merchants are old: leave before touching the window.
    if (onboardedAt === null || ctx.watermark - onboardedAt > p.rampDays * DAY_MS) return null
    const from = Math.max(ctx.watermarkDay - WINDOW_DAYS + 1, state.rampOnboardDay)
    let count = 0
    let amount = 0
    let activeDays = 0
    const days = state.rampDays
    const to = ctx.watermarkDay
    for (let o = days.first(from, to); o >= 0; o = days.next(o, to)) {
      const sales = days.sales(o)
      if (sales === 0) continue
      activeDays++
      count += sales
      amount += days.amount(o)
    }
    if (activeDays < p.minActiveDays || count < p.minTxns) return null
    const perDay = amount / activeDays
    const floor = p.floorMajor * state.rampMinorPerMajor
    const bound = calibratedBound(
      floor,
      { quantile: p.quantile, margin: p.margin, scale: 'log' },
      ctx.peers?.dailyVolume,
      ctx.population?.dailyVolume,
    )
    if (perDay <= bound.threshold) return null
    const major = (minor: number) => Math.round(minor / state.rampMinorPerMajor).toLocaleString('en-US')
    const age = Math.floor((ctx.watermark - onboardedAt) / DAY_MS)
    return {
      observed: perDay,
      threshold: bound.threshold,
      windowStart: ctx.dayStart(from),
      windowEnd: ctx.dayStart(ctx.watermarkDay + 1),
      sampleTxnIds: state.rampSamples.toArray(),
      detail:
        `Onboarded ${age} days ago, the merchant took ${major(perDay)} per active day over ${activeDays} days ` +
        `(${count} sales), above ${describeBound(bound, floor, major)}.`,
      basis: bound.basis,
    }
  },
})
