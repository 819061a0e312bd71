import { int, num } from './engine/params.ts'
import { defineRule } from './engine/types.ts'
import { NO_DAY, type SampleRing, type SparseColumns } from './engine/window.ts'

/**
 * The playbook tells operators to leave "at least 5 minutes" between two swipes of one card, and they
 * keep to it like a timer: the gaps between a card's swipes at one merchant bunch just above the pause.
 * Real customers who come back do so after a coffee, a meal or a day, at gaps that scatter.
 *
 * Two legs, each able to fire. The day leg: most of a day's gaps (10 or more) in the band. The month
 * leg: most of 30 days' gaps (12 or more, from 6 or more card-days) in the band: an operator who runs a
 * card pair or two a day, beside an honest shop front, never reaches ten gaps in a day, but keeps the
 * same pause every time, and a month of it shows. A car dealer taking a deposit in two swipes, or a
 * regular who comes back for something forgotten, leaves a gap now and then, at no fixed pause.
 */
const MINUTE_MS = 60_000
/** The month leg's window, local days. */
const WINDOW_DAYS = 30
/** Today and yesterday: yesterday still takes late events, and a rule of the day needs no more. */
const KEPT_DAYS = 2
/** Swipes kept per card and day; a card swiped more often is repeated_card's business, not a gap pattern. */
const MAX_SWIPES = 32

/** Columns of a day: gaps between repeat swipes, those in the band, cards swiped more than once. */
const GAPS = 0
const IN_BAND = 1
const CARDS = 2

interface State {
  /**
   * The three counters per day, over 30 days: the day leg reads today's, the month leg sums them. Zero
   * on most merchants' days (a card swiped twice in a day on sales of 200 or more is rare), so a sparse
   * view, with entries only for the days that have gaps.
   */
  gapMonth: SparseColumns
  /**
   * Per card, its days in one flat array of blocks: the day, the number of swipes, then their event
   * times, sorted so that a late swipe splits the gap it falls in. One array per card instead of an
   * object and an array per card and day: most cards of a merchant are seen once. The map is made at
   * the first such swipe: an empty map is some 180 bytes.
   */
  gapCards: Map<string, number[]> | null
  gapPrunedDay: number
  gapSamples: SampleRing
}

function inBand(gap: number, lo: number, hi: number): number {
  return gap >= lo && gap <= hi ? 1 : 0
}

function prune(state: State, wd: number): void {
  state.gapPrunedDay = wd
  // Compacted in place: this runs on every new day of a merchant, and a copy per card was garbage.
  const cards = state.gapCards
  if (cards === null) return
  for (const [token, blocks] of cards) {
    let kept = 0
    for (let r = 0; r < blocks.length; ) {
      const size = (blocks[r + 1] ?? 0) + 2
      if ((blocks[r] ?? 0) > wd - KEPT_DAYS) {
        if (kept !== r) for (let i = 0; i < size; i++) blocks[kept + i] = blocks[r + i] ?? 0
        kept += size
      }
      r += size
    }
    if (kept === 0) cards.delete(token)
    else blocks.length = kept
  }
}

export const swipeGap = defineRule({
  id: 'swipe_gap',
  version: 2,
  category: 'fraud',
  family: 'velocity',
  description:
    'Share of gaps between consecutive swipes of one card at the merchant, in a local day or over 30 days, that fall in a narrow band just above the playbook pause (5–10 minutes).',
  calibration:
    "Compares with nothing: the playbook's pause (5 to 10 minutes between two swipes of a card) is the measure. It needs, on sales of 200 or more, 10 gaps in a day or 12 gaps from 6 card-days in 30 days, most of them in the band. Strong.",
  whitelistable: true,
  retentionDays: WINDOW_DAYS,
  clock: 'day',
  params: {
    minGapMin: num({
      default: 5,
      min: 0,
      description: 'Lower edge of the suspicious gap band, minutes (inclusive): the playbook pause.',
    }),
    maxGapMin: num({
      default: 10,
      min: 0,
      description: 'Upper edge of the suspicious gap band, minutes (inclusive).',
    }),
    minShare: num({
      default: 0.5,
      min: 0,
      max: 1,
      description:
        'Share of the gaps (of the day, or of the 30 days) inside the band above which the rule fires (most gaps).',
    }),
    minGaps: int({
      default: 10,
      min: 1,
      description: 'Count floor: gaps observed in the day before the share counts.',
    }),
    minWindowGaps: int({
      default: 12,
      min: 1,
      description:
        'Count floor of the month leg: gaps observed in the last 30 days before their share counts.',
    }),
    minWindowCards: int({
      default: 6,
      min: 1,
      description:
        'Count floor of the month leg: card-days with a repeat swipe in the last 30 days (one customer paying in instalments is not a pattern).',
    }),
    minAmount: num({
      default: 200,
      min: 0,
      description:
        'Only approved sales of at least this amount (major units) are tracked: cash-out swipes are large, and a coffee costs no memory.',
    }),
  },
  createState: (sales, samples): State => ({
    gapMonth: sales.sparseColumns(WINDOW_DAYS, 3),
    gapCards: null,
    gapPrunedDay: NO_DAY,
    gapSamples: samples.ring(5),
  }),
  onTransaction(state, txn, ctx) {
    const p = ctx.params
    if (!txn.approved || !txn.sale || txn.amount_minor < p.minAmount * txn.minorPerMajor) return false
    // Today and yesterday only, by the merchant's clock: the cards' swipes are kept for those days.
    if (txn.localDay <= ctx.watermarkDay - KEPT_DAYS) return false
    if (state.gapPrunedDay !== ctx.watermarkDay) prune(state, ctx.watermarkDay)

    let cards = state.gapCards
    if (cards === null) {
      cards = new Map()
      state.gapCards = cards
    }
    const blocks = cards.get(txn.card_token)
    if (blocks === undefined) {
      // A card's first swipe: its day, one swipe and its time, in a store of exactly three numbers (an
      // empty array grown by push reserves 17), and nothing to count yet. Most cards stop there.
      cards.set(txn.card_token, [txn.localDay, 1, txn.event_time])
      return
    }
    let r = 0
    while (r < blocks.length && blocks[r] !== txn.localDay) r += (blocks[r + 1] ?? 0) + 2
    if (r >= blocks.length) {
      r = blocks.length
      blocks.push(txn.localDay, 0)
    }
    const n = blocks[r + 1] ?? 0
    if (n >= MAX_SWIPES) return
    const t = txn.event_time
    const first = r + 2
    let k = n
    while (k > 0 && (blocks[first + k - 1] ?? t) > t) k--
    blocks.splice(first + k, 0, t)
    blocks[r + 1] = n + 1
    // The card's first swipe of the day: no gap, nothing evaluate reads has changed.
    if (n === 0) return false

    const prev = k > 0 ? blocks[first + k - 1] : undefined
    const next = k < n ? blocks[first + k + 1] : undefined
    const lo = p.minGapMin * MINUTE_MS
    const hi = p.maxGapMin * MINUTE_MS
    let gaps = 0
    let hit = 0
    if (prev !== undefined) {
      gaps++
      hit += inBand(t - prev, lo, hi)
    }
    if (next !== undefined) {
      gaps++
      hit += inBand(next - t, lo, hi)
    }
    const sample = hit > 0
    // A late swipe between two others replaces the gap it falls in with two shorter ones.
    if (prev !== undefined && next !== undefined) {
      gaps--
      hit -= inBand(next - prev, lo, hi)
    }
    // The day's entry (the day's row exists: the engine counted the sale in it).
    const month = state.gapMonth
    const row = month.at(txn.localDay)
    if (row >= 0) {
      month.add(row, CARDS, n === 1 ? 1 : 0)
      month.add(row, GAPS, gaps)
      month.add(row, IN_BAND, hit)
    }
    if (sample) state.gapSamples.push(txn.txn_id)
  },
  evaluate(state, ctx) {
    const p = ctx.params
    const wd = ctx.watermarkDay
    // The day leg first: it is the more specific evidence.
    const month = state.gapMonth
    const day = month.peek(wd)
    let gaps = day < 0 ? 0 : month.get(day, GAPS)
    let inBandGaps = day < 0 ? 0 : month.get(day, IN_BAND)
    const today = gaps >= p.minGaps && inBandGaps / gaps > p.minShare
    let cardDays = 0
    if (!today) {
      // The month leg: stored days only, oldest first (a merchant has gaps on few of them).
      gaps = 0
      inBandGaps = 0
      for (let o = month.first(wd - WINDOW_DAYS + 1, wd); o >= 0; o = month.next(o, wd)) {
        gaps += month.get(o, GAPS)
        inBandGaps += month.get(o, IN_BAND)
        cardDays += month.get(o, CARDS)
      }
      if (gaps < p.minWindowGaps || cardDays < p.minWindowCards || inBandGaps / gaps <= p.minShare)
        return null
    }
    const share = inBandGaps / gaps
    const counted = `${inBandGaps} of ${gaps} gaps between repeat swipes`
    const fell = `fell between ${p.minGapMin} and ${p.maxGapMin} minutes (${(share * 100).toFixed(1)}%)`
    return {
      observed: share,
      threshold: p.minShare,
      windowStart: ctx.dayStart(today ? wd : wd - WINDOW_DAYS + 1),
      windowEnd: ctx.dayStart(wd + 1),
      sampleTxnIds: state.gapSamples.toArray(),
      detail: today
        ? `${counted} of ${month.get(day, CARDS)} cards today ${fell}, a timed pause rather than customers coming back.`
        : `${counted} of a card on ${cardDays} card-days in ${WINDOW_DAYS} days ${fell}: the same timed pause, a few times a day, rather than customers coming back.`,
    }
  },
})
