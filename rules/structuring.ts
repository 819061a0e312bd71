import { int, num } from './engine/params.ts'
import { keepNow, NOT_SUMMED, summedAgain } from './engine/totals.ts'
import { defineRule } from './engine/types.ts'

/**
 * Structuring: the playbook says "keep single swipes under 50,000 and daily volume under 300,000",
 * which leaves swipes bunched just under the single limit and daily totals bunched just under the
 * daily limit, day after day. Two legs, each able to fire.
 *
 * Both shares are taken among the large ones only (swipes, days at or above `consideredFrom` × the
 * limit): small everyday sales say nothing about where large amounts are placed, and counting them
 * would let a shop front dilute the pattern. Both legs also look past the limit: a real business
 * trading near the limit goes over it about as often as it closes just under (a car dealer's down
 * payments of 49,999 beside cars paid at 72,000 and 140,000), while an evader almost never does.
 */
const WINDOW_DAYS = 30
/**
 * The window's counts, kept as engine/totals.ts says; since a day's class depends on the
 * daily limit, also for the parameters and currency they were made with (a reload makes new
 * parameters, never changes them).
 */
interface StructTotals {
  to: number
  latest: number
  params: object
  unit: number
  considered: number
  band: number
  over: number
  consideredDays: number
  bandDays: number
  overDays: number
}

/** Where a merchant whose counts are not kept is counted (evaluations run one at a time). */
const SCRATCH: StructTotals = {
  to: 0,
  latest: 0,
  params: {},
  unit: 0,
  considered: 0,
  band: 0,
  over: 0,
  consideredDays: 0,
  bandDays: 0,
  overDays: 0,
}

/** Columns of a day: approved sales at or above consideredFrom × the single limit. */
const CONSIDERED = 0
/** Of those, in [bandFrom, 1) × the single limit. The day's approved amount is counted by the engine (SaleDays). */
const BAND = 1
/** Of those, at or over the single limit. */
const OVER_LIMIT = 2

export const structuring = defineRule({
  id: 'structuring',
  version: 2,
  category: 'fraud',
  family: 'amount',
  description:
    'Over 30 days: share of large swipes just under the single-swipe limit, and days whose approved ' +
    'volume lands just under the daily limit (amounts kept under the limits on purpose).',
  calibration:
    'Compares with the limits the playbook names (50,000 a swipe, 300,000 a day): 30% of the swipes of 25,000 or more just under the single limit (20 such swipes), or 5 or more days just under the daily limit that are most of the large days; either with swipes or days over the limit rare. Strong.',
  whitelistable: true,
  retentionDays: WINDOW_DAYS,
  clock: 'day',
  params: {
    singleLimitMajor: num({
      default: 50_000,
      min: 1,
      description: 'Single-swipe limit the evaders stay under, major units.',
    }),
    dailyLimitMajor: num({
      default: 300_000,
      min: 1,
      description: 'Daily volume limit the evaders stay under, major units.',
    }),
    bandFrom: num({
      default: 0.9,
      min: 0,
      max: 1,
      description: 'The band just under a limit starts at this share of it and ends at the limit (excluded).',
    }),
    consideredFrom: num({
      default: 0.5,
      min: 0,
      max: 1,
      description:
        'Swipes and days at or above this share of their limit make the denominators of both shares ' +
        '(0 counts every sale and every active day).',
    }),
    swipeShareThreshold: num({
      default: 0.3,
      min: 0,
      max: 1,
      description: 'Share of considered swipes in the band above which the swipe leg fires.',
    }),
    minSwipes: int({
      default: 20,
      min: 1,
      description: 'Count floor: considered swipes in the window before the swipe share counts.',
    }),
    minBandDays: int({
      default: 5,
      min: 1,
      description: 'Days with volume in the band needed for the day leg to fire.',
    }),
    dayShareThreshold: num({
      default: 0.5,
      min: 0,
      max: 1,
      description:
        'Share of considered days in the band above which the day leg fires (a business whose large ' +
        'days are mostly elsewhere is not aiming at the band).',
    }),
    underShareThreshold: num({
      default: 0.8,
      min: 0,
      max: 1,
      description:
        'Of the swipes (days) that reach the band, the share that stay under the limit must exceed this ' +
        'for the swipe (day) leg to fire: a business trading around the limit also goes over it.',
    }),
  },
  createState: (sales, samples) => ({
    structDays: sales.sparseColumns(WINDOW_DAYS, 3),
    structBandSamples: samples.ring(5),
    structSaleSamples: samples.ring(5),
    // Limits are in major units; evaluate sees no transaction, so it uses the last one's currency.
    structMinorPerMajor: 100,
    // The window's counts once kept, a mark of the counts made until then (engine/totals.ts).
    structTotals: NOT_SUMMED as number | StructTotals,
  }),
  onTransaction(state, txn, ctx) {
    if (!txn.approved || !txn.sale) return false
    const days = state.structDays
    const day = days.at(txn.localDay)
    if (day < 0) return false
    const p = ctx.params
    const limit = p.singleLimitMajor * txn.minorPerMajor
    const amount = txn.amount_minor
    state.structMinorPerMajor = txn.minorPerMajor
    state.structSaleSamples.push(txn.txn_id)
    const kept = state.structTotals
    let counted =
      typeof kept === 'object' && txn.localDay <= kept.to && txn.localDay > kept.to - WINDOW_DAYS
        ? kept
        : null
    if (counted !== null && (p !== counted.params || txn.minorPerMajor !== counted.unit)) {
      // Counted with other limits: counted again at the next evaluation, whatever currency comes next.
      counted.to = NOT_SUMMED
      counted = null
    }
    if (counted !== null) {
      // The engine added the sale to the day's volume: the day moves from the class of the volume before
      // it to the class of the volume after.
      const dailyLimit = p.dailyLimitMajor * txn.minorPerMajor
      const after = days.amount(day)
      const before = dayClass(after - amount, dailyLimit, p)
      const now = dayClass(after, dailyLimit, p)
      if (before !== now) {
        if (before !== NOT_CONSIDERED) counted.consideredDays--
        if (before === OVER) counted.overDays--
        else if (before === IN_BAND) counted.bandDays--
        if (now !== NOT_CONSIDERED) counted.consideredDays++
        if (now === OVER) counted.overDays++
        else if (now === IN_BAND) counted.bandDays++
      }
    }
    if (amount < p.consideredFrom * limit) return
    days.add(day, CONSIDERED, 1)
    if (counted !== null) counted.considered++
    if (amount >= limit) {
      days.add(day, OVER_LIMIT, 1)
      if (counted !== null) counted.over++
    } else if (amount >= p.bandFrom * limit) {
      days.add(day, BAND, 1)
      if (counted !== null) counted.band++
      state.structBandSamples.push(txn.txn_id)
    }
  },
  evaluate(state, ctx) {
    const p = ctx.params
    // Neither leg can reach its floor with fewer sales in all the merchant's rows (a band day has one).
    const kept = state.structDays.keptSales
    if (kept < p.minSwipes && kept < p.minBandDays) return null
    const to = ctx.watermarkDay
    const from = to - WINDOW_DAYS + 1
    const dailyLimit = p.dailyLimitMajor * state.structMinorPerMajor
    const dayBandFrom = p.bandFrom * dailyLimit
    const dayConsideredFrom = p.consideredFrom * dailyLimit
    const days = state.structDays
    let t = state.structTotals
    if (
      typeof t !== 'object' ||
      t.to !== to ||
      t.latest !== days.latest ||
      t.params !== p ||
      t.unit !== state.structMinorPerMajor
    ) {
      // Counted again, into the kept counts or, until they are kept, into the scratch counts.
      const n = typeof t === 'object' ? t : SCRATCH
      n.to = to
      n.latest = days.latest
      n.params = p
      n.unit = state.structMinorPerMajor
      n.considered = 0
      n.band = 0
      n.over = 0
      n.consideredDays = 0
      n.bandDays = 0
      n.overDays = 0
      // Stored days only, oldest first: most merchants are active on few of the window's days.
      for (let o = days.first(from, to); o >= 0; o = days.next(o, to)) {
        n.considered += days.get(o, CONSIDERED)
        n.band += days.get(o, BAND)
        n.over += days.get(o, OVER_LIMIT)
        // A day's class follows its volume: a day that goes over the limit later (or gets a late event)
        // moves out of the band by itself.
        const c = dayClass(days.amount(o), dailyLimit, p)
        if (c !== NOT_CONSIDERED) n.consideredDays++
        if (c === OVER) n.overDays++
        else if (c === IN_BAND) n.bandDays++
      }
      if (typeof t !== 'object') state.structTotals = keepNow(t, to) ? { ...n } : summedAgain(t, to)
      t = n
    }
    const { considered, band, over, consideredDays, bandDays, overDays } = t
    const swipeShare = considered > 0 ? band / considered : 0
    const swipeUnder = band > 0 ? band / (band + over) : 0
    const swipeFires =
      considered >= p.minSwipes && swipeShare > p.swipeShareThreshold && swipeUnder > p.underShareThreshold
    const dayShare = consideredDays > 0 ? bandDays / consideredDays : 0
    const underShare = bandDays > 0 ? bandDays / (bandDays + overDays) : 0
    const dayFires =
      bandDays >= p.minBandDays && dayShare > p.dayShareThreshold && underShare > p.underShareThreshold
    if (!swipeFires && !dayFires) return null

    const unit = state.structMinorPerMajor
    const swipeText =
      `${band} of ${considered} swipes of ${p.consideredFrom * p.singleLimitMajor} or more are in ` +
      `[${p.bandFrom * p.singleLimitMajor}, ${p.singleLimitMajor}) (${pct(swipeShare)} > ${pct(p.swipeShareThreshold)}) ` +
      `and ${over} over it`
    const dayText =
      `${bandDays} of ${consideredDays} days of ${(dayConsideredFrom / unit).toFixed(0)} or more closed in ` +
      `[${(dayBandFrom / unit).toFixed(0)}, ${p.dailyLimitMajor}) (${pct(dayShare)} > ${pct(p.dayShareThreshold)}) ` +
      `and ${overDays} over it`
    const window = { windowStart: ctx.dayStart(from), windowEnd: ctx.dayStart(to + 1) }
    // The swipe leg is reported first when both fire; the detail names the other.
    if (swipeFires)
      return {
        observed: swipeShare,
        threshold: p.swipeShareThreshold,
        ...window,
        sampleTxnIds: state.structBandSamples.toArray(),
        detail: `In 30 days, ${swipeText}${dayFires ? `; also ${dayText}` : ''}.`,
      }
    // The catalogue's measure for this leg is a number of days; the share is the look-alike guard.
    return {
      observed: bandDays,
      threshold: p.minBandDays,
      ...window,
      sampleTxnIds: state.structSaleSamples.toArray(),
      detail: `In 30 days, ${dayText}.`,
    }
  },
})

/** A day's class by its volume of approved sales: under the considered floor, considered, in the band, over. */
const NOT_CONSIDERED = 0
const CONSIDERED_ONLY = 1
const IN_BAND = 2
const OVER = 3

function dayClass(
  volume: number,
  dailyLimit: number,
  p: { readonly bandFrom: number; readonly consideredFrom: number },
): number {
  if (volume <= 0 || volume < p.consideredFrom * dailyLimit) return NOT_CONSIDERED
  if (volume >= dailyLimit) return OVER
  return volume >= p.bandFrom * dailyLimit ? IN_BAND : CONSIDERED_ONLY
}

function pct(share: number): string {
  return `${(share * 100).toFixed(1)}%`
}
