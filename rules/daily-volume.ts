import { int, num } from './engine/params.ts'
import { defineRule } from './engine/types.ts'

/**
 * Daily volume: approved sales amount of one local calendar day against three bars, each able to fire:
 * an absolute cap, the merchant's own 90-day median day, and its peers' days (median + k·MAD). The
 * relative bars are what keep a busy supermarket quiet: high volume is normal for it and for its kind.
 * Days kept just under the cap day after day are structuring's to catch, not this rule's.
 *
 * The day evaluated is the day of the latest transaction, not the watermark's, so a late event that
 * pushes yesterday over a bar reports yesterday.
 */
const DAY_MS = 86_400_000
// Days a late event can still land in; the engine's allowed lateness is far below this.
const RING_DAYS = 7

/** Columns of a day: approved sales amount and count; each day also keeps its last five sale ids. */
const VOLUME = 0
const SALES = 1

type Bar = { threshold: number; text: string }

export const dailyVolume = defineRule({
  id: 'daily_volume',
  version: 1,
  category: 'fraud',
  family: 'volume',
  description:
    'Approved volume of a local calendar day above an absolute cap, above a multiple of the ' +
    "merchant's 90-day median day, or above its peers' days (median + k·MAD); the relative bars stay " +
    'silent while the baseline or the cohort is unknown or too thin.',
  whitelistable: true,
  retentionDays: RING_DAYS,
  clock: 'day',
  params: {
    capMajor: num({
      default: 300_000,
      min: 1,
      description: 'Absolute cap on approved volume per local day, major units.',
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
    peerMadMultiple: num({
      default: 6,
      min: 0,
      description:
        "Fires when the day's volume exceeds the peers' median day + this many MADs (a single day varies " +
        'more than a 30-day average, so the bar is higher than high_ticket’s).',
    }),
    minPeers: int({
      default: 20,
      min: 1,
      description: 'Merchants needed in the cohort before the peer bar applies.',
    }),
    minRelativeVolumeMajor: num({
      default: 10_000,
      min: 0,
      description:
        'The relative bars stay silent below this day volume, major units: seven times a stall’s usual ' +
        'takings moves no cash worth a review.',
    }),
  },
  createState: (sales) => ({
    days: sales.columns(RING_DAYS, 2, 5),
    lastDay: Number.NaN,
    minorPerMajor: 100,
  }),
  onTransaction(state, txn) {
    if (!txn.approved || !txn.sale) return false
    const days = state.days
    const day = days.at(txn.localDay)
    if (day < 0) return false
    days.add(day, VOLUME, txn.amount_minor)
    days.add(day, SALES, 1)
    days.pushSample(day, txn.txn_id)
    state.lastDay = txn.localDay
    state.minorPerMajor = txn.minorPerMajor
  },
  evaluate(state, ctx) {
    const p = ctx.params
    const dayNo = state.lastDay
    const days = state.days
    const day = days.peek(dayNo)
    if (day < 0) return null
    const unit = state.minorPerMajor
    const v = days.get(day, VOLUME)
    // Infinity where a bar does not apply, so the hot path (nothing fires) allocates nothing.
    const cap = p.capMajor * unit
    let baseBar = Number.POSITIVE_INFINITY
    let peerBar = Number.POSITIVE_INFINITY
    const base = ctx.baseline
    const peer = ctx.peers?.dailyVolume
    if (v >= p.minRelativeVolumeMajor * unit) {
      if (base !== null && base.activeDays >= p.minBaselineDays && base.dailyVolumeMedian > 0)
        baseBar = p.baselineMultiple * base.dailyVolumeMedian
      if (peer !== undefined && peer.n >= p.minPeers) peerBar = peer.median + p.peerMadMultiple * peer.mad
    }
    if (v <= cap && v <= baseBar && v <= peerBar) return null

    const decimals = Math.round(Math.log10(unit))
    const major = (minor: number) => (minor / unit).toFixed(decimals)
    const fired: Bar[] = []
    if (v > cap) fired.push({ threshold: cap, text: `above the absolute cap of ${major(cap)}` })
    if (v > baseBar && base !== null)
      fired.push({
        threshold: baseBar,
        text:
          `${(v / base.dailyVolumeMedian).toFixed(1)}× its own 90-day median day of ` +
          `${major(base.dailyVolumeMedian)} (bar ${p.baselineMultiple}×, ${base.activeDays} active days)`,
      })
    if (v > peerBar && peer !== undefined)
      fired.push({
        threshold: peerBar,
        text:
          `above its ${peer.n} peers' median day of ${major(peer.median)} + ` +
          `${p.peerMadMultiple} MAD (${major(peerBar)})`,
      })
    // All bars share the observed volume, so the lowest bar crossed is the one crossed by the widest
    // margin: it gives the threshold, and the detail names the others.
    fired.sort((a, b) => a.threshold - b.threshold)
    const [top, ...others] = fired
    if (top === undefined) return null
    const date = new Date(dayNo * DAY_MS).toISOString().slice(0, 10)
    return {
      observed: v,
      threshold: top.threshold,
      windowStart: ctx.dayStart(dayNo),
      windowEnd: ctx.dayStart(dayNo + 1),
      sampleTxnIds: days.samples(day),
      detail:
        `Approved volume on ${date} was ${major(v)} over ${days.get(day, SALES)} sales, ${top.text}` +
        `${others.length > 0 ? `; also ${others.map((b) => b.text).join('; ')}` : ''}.`,
    }
  },
})
