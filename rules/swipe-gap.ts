import { int, num } from './engine/params.ts'
import { defineRule } from './engine/types.ts'
import { DayTable, Recent } from './engine/window.ts'

/**
 * The playbook tells operators to leave "at least 5 minutes" between two swipes of one card, and they
 * keep to it like a timer: the gaps between a card's swipes at one merchant bunch just above the pause.
 * Real customers who come back do so after a coffee, a meal or a day, at gaps that scatter.
 */
const MINUTE_MS = 60_000
/** Today and yesterday: yesterday still takes late events, and a rule of the day needs no more. */
const KEPT_DAYS = 2
/** Swipes kept per card and day; a card swiped more often is repeated_card's business, not a gap pattern. */
const MAX_SWIPES = 32

/** Columns of a day: gaps between repeat swipes, those in the band, cards swiped more than once. */
const GAPS = 0
const IN_BAND = 1
const CARDS = 2

interface CardDay {
  day: number
  /** Event times of the card's swipes that day, sorted, so a late swipe splits the gap it falls in. */
  times: number[]
}

interface State {
  days: DayTable
  cards: Map<string, CardDay[]>
  prunedDay: number
  samples: Recent<string>
}

function inBand(gap: number, lo: number, hi: number): number {
  return gap >= lo && gap <= hi ? 1 : 0
}

function prune(state: State, wd: number): void {
  state.prunedDay = wd
  // Compacted in place: this runs on every new day of a merchant, and a copy per card was garbage.
  for (const [token, slots] of state.cards) {
    let kept = 0
    for (const s of slots) if (s.day > wd - KEPT_DAYS) slots[kept++] = s
    if (kept === 0) state.cards.delete(token)
    else slots.length = kept
  }
}

export const swipeGap = defineRule({
  id: 'swipe_gap',
  version: 1,
  category: 'fraud',
  family: 'velocity',
  description:
    'Share of gaps between consecutive swipes of one card at the merchant, in a local day, that fall in a narrow band just above the playbook pause (5–10 minutes).',
  whitelistable: true,
  retentionDays: KEPT_DAYS,
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
      description: 'Share of the day’s gaps inside the band above which the rule fires (most gaps).',
    }),
    minGaps: int({
      default: 10,
      min: 1,
      description: 'Count floor: gaps observed in the day before the share counts.',
    }),
    minAmount: num({
      default: 200,
      min: 0,
      description:
        'Only approved sales of at least this amount (major units) are tracked: cash-out swipes are large, and a coffee costs no memory.',
    }),
  },
  createState: (): State => ({
    days: new DayTable(KEPT_DAYS, 3),
    cards: new Map(),
    prunedDay: Number.NaN,
    samples: new Recent<string>(5),
  }),
  onTransaction(state, txn, ctx) {
    const p = ctx.params
    if (!txn.approved || !txn.sale || txn.amount_minor < p.minAmount * txn.minorPerMajor) return false
    const days = state.days
    const bucket = days.at(txn.localDay)
    if (bucket < 0) return false
    if (state.prunedDay !== ctx.watermarkDay) prune(state, ctx.watermarkDay)

    let slots = state.cards.get(txn.card_token)
    if (slots === undefined) {
      slots = []
      state.cards.set(txn.card_token, slots)
    }
    let slot: CardDay | undefined
    for (const s of slots) {
      if (s.day === txn.localDay) {
        slot = s
        break
      }
    }
    if (slot === undefined) {
      slot = { day: txn.localDay, times: [] }
      slots.push(slot)
    }
    const times = slot.times
    if (times.length >= MAX_SWIPES) return
    if (times.length === 1) days.add(bucket, CARDS, 1)

    const t = txn.event_time
    let k = times.length
    while (k > 0 && (times[k - 1] ?? t) > t) k--
    const prev = times[k - 1]
    const next = times[k]
    const lo = p.minGapMin * MINUTE_MS
    const hi = p.maxGapMin * MINUTE_MS
    // A late swipe between two others replaces the gap it falls in with two shorter ones.
    if (prev !== undefined && next !== undefined) {
      days.add(bucket, GAPS, -1)
      days.add(bucket, IN_BAND, -inBand(next - prev, lo, hi))
    }
    let hit = 0
    if (prev !== undefined) {
      days.add(bucket, GAPS, 1)
      hit += inBand(t - prev, lo, hi)
    }
    if (next !== undefined) {
      days.add(bucket, GAPS, 1)
      hit += inBand(next - t, lo, hi)
    }
    days.add(bucket, IN_BAND, hit)
    times.splice(k, 0, t)
    if (hit > 0) state.samples.push(txn.txn_id)
  },
  evaluate(state, ctx) {
    const p = ctx.params
    const wd = ctx.watermarkDay
    const days = state.days
    const day = days.peek(wd)
    if (day < 0) return null
    const gaps = days.get(day, GAPS)
    const inBandGaps = days.get(day, IN_BAND)
    if (gaps < p.minGaps) return null
    const share = inBandGaps / gaps
    if (share <= p.minShare) return null
    return {
      observed: share,
      threshold: p.minShare,
      windowStart: ctx.dayStart(wd),
      windowEnd: ctx.dayStart(wd + 1),
      sampleTxnIds: state.samples.toArray(),
      detail: `${inBandGaps} of ${gaps} gaps between repeat swipes of ${days.get(day, CARDS)} cards today fell between ${p.minGapMin} and ${p.maxGapMin} minutes (${(share * 100).toFixed(1)}%), a timed pause rather than customers coming back.`,
    }
  },
})
