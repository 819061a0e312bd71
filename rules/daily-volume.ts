import { calibratedBound, describeBound, marginParam, quantileParam } from './engine/calibration.ts'
import { int, num } from './engine/params.ts'
import { defineRule } from './engine/types.ts'
import { NO_DAY } from './engine/window.ts'

/**
 * Daily volume: approved sales amount of one local calendar day against two bars, each able to fire:
 * the merchant's own 90-day median day times a multiple, and the fence of its peers' and its acquirer's
 * distribution of volume per active day (on a log scale: the 0.75 quantile times its ratio to the
 * median, cubed). Both need a floor of 10,000 major units: seven times a stall's usual takings moves no
 * cash worth a review. A busy supermarket is quiet because high volume is normal for it and its kind.
 * Days kept just under the playbook's 300,000 cap day after day are structuring's to catch; a day over
 * it is not by itself a sign of anything but size.
 *
 * The day evaluated is the day of the latest transaction, not the watermark's, so a late event that
 * pushes yesterday over a bar reports yesterday.
 */
const DAY_MS = 86_400_000
// Days a late event can still land in; the engine's allowed lateness is far below this.
const RING_DAYS = 7

// A day's approved sales and amount are counted by the engine (SaleDays); each day here keeps its last
// five sale ids.

type Bar = { threshold: number; text: string }

export const dailyVolume = defineRule({
  id: 'daily_volume',
  version: 2,
  category: 'fraud',
  family: 'volume',
  description:
    "Approved volume of a local calendar day above a multiple of the merchant's 90-day median day, or " +
    "beyond the distribution of its peers (or of the acquirer's merchants) of volume per active day; both above a floor.",
  calibration:
    "A day must exceed the fence of its peer cohort's distribution of volume per active day (log scale: the 0.75 quantile times its ratio to the median, cubed; the acquirer's population where the cohort is thin, then provisional), or six times the merchant's own 90-day median day (20 active days); and 10,000 either way. Silent without a baseline: volume says nothing by itself.",
  whitelistable: true,
  retentionDays: RING_DAYS,
  clock: 'day',
  params: {
    floorMajor: num({
      default: 10_000,
      min: 0,
      description: 'Day volume, major units, at or below which neither bar fires.',
    }),
    baselineMultiple: num({
      default: 6,
      min: 1,
      description: "Fires when the day's volume exceeds this multiple of the merchant's 90-day median day.",
    }),
    minBaselineDays: int({
      default: 20,
      min: 1,
      description: 'Count floor: active days behind the 90-day median before the baseline bar applies.',
    }),
    quantile: quantileParam(0.75),
    margin: marginParam(3, 'log'),
  },
  createState: (sales) => ({
    volumeDays: sales.columns(RING_DAYS, 0, 5),
    volumeLastDay: NO_DAY,
    volumeMinorPerMajor: 100,
  }),
  onTransaction(state, txn) {
    if (!txn.approved || !txn.sale) return false
    const days = state.volumeDays
    const day = days.at(txn.localDay)
    if (day < 0) return false
    days.pushSample(day, txn.txn_id)
    state.volumeLastDay = txn.localDay
    state.volumeMinorPerMajor = txn.minorPerMajor
  },
  evaluate(state, ctx) {
    const p = ctx.params
    const dayNo = state.volumeLastDay
    const days = state.volumeDays
    const day = days.peek(dayNo)
    if (day < 0) return null
    const unit = state.volumeMinorPerMajor
    const v = days.amount(day)
    const floor = p.floorMajor * unit
    if (v <= floor) return null
    const base = ctx.baseline
    const baseBar =
      base !== null && base.activeDays >= p.minBaselineDays && base.dailyVolumeMedian > 0
        ? p.baselineMultiple * base.dailyVolumeMedian
        : Number.POSITIVE_INFINITY
    const bound = calibratedBound(
      floor,
      { quantile: p.quantile, margin: p.margin, scale: 'log' },
      ctx.peers?.dailyVolume,
      ctx.population?.dailyVolume,
    )
    // Without a cohort or population the floor alone is no bar: volume says nothing by itself.
    const peerBar = bound.basis === 'none' ? Number.POSITIVE_INFINITY : bound.threshold
    if (v <= baseBar && v <= peerBar) return null

    const decimals = Math.round(Math.log10(unit))
    const major = (minor: number) => (minor / unit).toFixed(decimals)
    const fired: Bar[] = []
    if (v > baseBar && base !== null)
      fired.push({
        threshold: baseBar,
        text:
          `${(v / base.dailyVolumeMedian).toFixed(1)}× its own 90-day median day of ` +
          `${major(base.dailyVolumeMedian)} (bar ${p.baselineMultiple}×, ${base.activeDays} active days)`,
      })
    if (v > peerBar) fired.push({ threshold: peerBar, text: `above ${describeBound(bound, floor, major)}` })
    // Both bars share the observed volume, so the lowest bar crossed is the one crossed by the widest
    // margin: it gives the threshold, and the detail names the other.
    fired.sort((a, b) => a.threshold - b.threshold)
    const [top, ...others] = fired
    if (top === undefined) return null
    // A day far above the merchant's own median is news for a shop of steady takings, not for one of
    // lumpy ones (a hospital's bills): it is as calibrated as the peer comparison beside it.
    const basis = bound.basis
    const date = new Date(dayNo * DAY_MS).toISOString().slice(0, 10)
    return {
      observed: v,
      threshold: top.threshold,
      windowStart: ctx.dayStart(dayNo),
      windowEnd: ctx.dayStart(dayNo + 1),
      sampleTxnIds: days.samples(day),
      detail:
        `Approved volume on ${date} was ${major(v)} over ${days.sales(day)} sales, ${top.text}` +
        `${others.length > 0 ? `; also ${others.map((b) => b.text).join('; ')}` : ''}.`,
      basis,
    }
  },
})
