import { int, num } from './engine/params.ts'
import { defineRule } from './engine/types.ts'
import { NO_DAY, type SampleRing, type ShortDays } from './engine/window.ts'

/**
 * Cash-out cards come back month after month, each soon after its statement date, so the cash stays
 * interest-free until the next bill; the playbook moves a card on after two months, so a card may show
 * up only twice. What it cannot hide is that most of the merchant's money comes from cards that return
 * with a large monthly amount. A grocery's loyal customers return too, but with small purchases: only
 * large swipes make a card present in a month.
 *
 * The window is the current calendar month and the three before it (about 120 days, up to 123):
 * recurrence is defined on calendar months, so month buckets keep the window exact.
 *
 * Calibration: none yet. No population distribution of recurring volume is kept (it needs months of
 * card history per merchant that the daily aggregates do not hold), so the share is compared with an
 * absolute threshold and the finding says so (basis `absolute`): scoring counts it only beside calibrated,
 * independent evidence, never alone and never as the second half of a pair of uncalibrated hits. A
 * wholesaler whose business customers come back every month thus cannot be flagged by it.
 */
const WINDOW_MONTHS = 4
const DAY_MS = 86_400_000

/**
 * A card: whether it recurs and its volume in the window, then its months, sorted by month, at most the
 * window's: each the month, its volume in minor units (for the share of the merchant's volume), in
 * major units (for the monthly amount that makes the card present), and its first and last day. One
 * array of unboxed doubles: an object per card and per month, with an array between them, was some
 * 270 bytes per card.
 */
type Card = number[]
const C_RECURRING = 0
const C_VOLUME = 1
const C_MONTHS = 2
const M_MONTH = 0
const M_VOLUME = 1
const M_MAJOR = 2
const M_FIRST_DAY = 3
const M_LAST_DAY = 4
const MONTH = 5

/** Start of `month` in `card`, or -1. */
function monthAt(card: Card, month: number): number {
  for (let o = C_MONTHS; o < card.length; o += MONTH) if (card[o + M_MONTH] === month) return o
  return -1
}

/** A card of one month: a literal holding a double, so its store is of unboxed doubles, of its size. */
function newCard(month: number, day: number): Card {
  const card = [0.5, 0, month, 0, 0, day, day]
  card[C_RECURRING] = 0
  return card
}

/** Columns of the merchant's month totals: approved sales amount and count. */
const VOLUME = 0
const SALES = 1

interface State {
  /** Merchant totals by calendar month: the ring is indexed by month number instead of day. */
  recurTotals: ShortDays
  /** Only cards with a large swipe in the window; a grocery's customers never allocate one. */
  /** Made at the first such swipe: an empty map is some 180 bytes. */
  recurCards: Map<string, Card> | null
  recurAggMonth: number
  recurCardCount: number
  recurVolume: number
  /** One-entry cache of day → month: nearly every event falls on the day of the one before. */
  recurCachedDay: number
  recurCachedMonth: number
  recurSamples: SampleRing
}

interface Params {
  readonly minMonthlyAmount: number
  readonly maxCycleDays: number
}

/** Months since 1970-01 of a local day number. */
function monthOf(state: State, day: number): number {
  if (day !== state.recurCachedDay) {
    const d = new Date(day * DAY_MS)
    state.recurCachedDay = day
    state.recurCachedMonth = d.getUTCFullYear() * 12 + d.getUTCMonth()
  }
  return state.recurCachedMonth
}

function firstDayOf(month: number): number {
  return Date.UTC(Math.floor(month / 12), month % 12, 1) / DAY_MS
}

function assess(card: Card, from: number, p: Params): void {
  let volume = 0
  let recurring = false
  let prev = -1
  for (let o = C_MONTHS; o < card.length; o += MONTH) {
    const month = card[o + M_MONTH] ?? 0
    if (month < from) continue
    volume += card[o + M_VOLUME] ?? 0
    if ((card[o + M_MAJOR] ?? 0) < p.minMonthlyAmount) continue
    // Consecutive calendar months, or a statement cycle that skipped a short month (Jan 31 → Mar 1).
    if (
      prev >= 0 &&
      (month - (card[prev + M_MONTH] ?? 0) === 1 ||
        (card[o + M_FIRST_DAY] ?? 0) - (card[prev + M_LAST_DAY] ?? 0) <= p.maxCycleDays)
    )
      recurring = true
    prev = o
  }
  card[C_RECURRING] = recurring ? 1 : 0
  card[C_VOLUME] = volume
}

function count(state: State, card: Card, sign: 1 | -1): void {
  if (card[C_RECURRING] !== 1) return
  state.recurCardCount += sign
  state.recurVolume += sign * (card[C_VOLUME] ?? 0)
}

/**
 * Once per merchant and month: only cards with a month leaving the window change, so the others are
 * skipped without allocating. Volumes are integer minor units, so adding and removing stays exact.
 */
function rebuild(state: State, wm: number, p: Params): void {
  const from = wm - WINDOW_MONTHS + 1
  state.recurAggMonth = wm
  const cards = state.recurCards
  if (cards === null) return
  for (const [token, card] of cards) {
    // Months are sorted: the first is the oldest.
    if (card.length <= C_MONTHS || (card[C_MONTHS + M_MONTH] ?? 0) >= from) continue
    count(state, card, -1)
    let kept = C_MONTHS
    for (let o = C_MONTHS; o < card.length; o += MONTH) {
      if ((card[o + M_MONTH] ?? 0) < from) continue
      if (kept !== o) card.copyWithin(kept, o, o + MONTH)
      kept += MONTH
    }
    card.length = kept
    if (kept === C_MONTHS) {
      cards.delete(token)
      continue
    }
    assess(card, from, p)
    count(state, card, 1)
  }
}

export const cardRecurrence = defineRule({
  id: 'card_recurrence',
  version: 1,
  category: 'fraud',
  family: 'cards',
  description:
    "Share of the merchant's approved sales amount over about 120 days (four calendar months) from cards that return with a large amount in consecutive months or on a roughly monthly cycle.",
  calibration:
    'An absolute threshold by design (basis absolute): no population measure of recurring volume is kept, so its hits count only beside calibrated evidence of another family.',
  whitelistable: true,
  retentionDays: 123,
  clock: 'day',
  params: {
    minShare: num({
      default: 0.5,
      min: 0,
      max: 1,
      description: 'Share of approved sales amount from recurring cards above which the rule fires.',
    }),
    minAmount: num({
      default: 1_000,
      min: 0,
      description:
        'Only approved sales of at least this amount (major units) count toward a card’s presence.',
    }),
    minMonthlyAmount: num({
      default: 5_000,
      min: 0,
      description:
        'A card is present in a month when its large swipes there add up to this amount (major units); loyal shoppers’ small baskets never do.',
    }),
    maxCycleDays: int({
      default: 35,
      min: 0,
      description:
        'Two months with presence that are not consecutive still recur when the visits are at most this many days apart (a statement cycle across a short month); 0 turns it off.',
    }),
    minRecurringCards: int({
      default: 3,
      min: 1,
      description: 'Count floor: recurring cards needed before the share counts.',
    }),
    minSales: int({
      default: 20,
      min: 1,
      description: 'Count floor: approved sales in the window before the share counts.',
    }),
  },
  createState: (sales, samples): State => ({
    recurTotals: sales.short(WINDOW_MONTHS, 2),
    recurCards: null,
    recurAggMonth: NO_DAY,
    recurCardCount: 0,
    recurVolume: 0,
    recurCachedDay: NO_DAY,
    recurCachedMonth: 0,
    recurSamples: samples.ring(5),
  }),
  onTransaction(state, txn, ctx) {
    if (!txn.approved || !txn.sale) return false
    const month = monthOf(state, txn.localDay)
    const bucket = state.recurTotals.at(month)
    if (bucket < 0) return false
    state.recurTotals.add(bucket, VOLUME, txn.amount_minor)
    state.recurTotals.add(bucket, SALES, 1)
    const p = ctx.params
    const major = txn.amount_minor / txn.minorPerMajor
    if (major < p.minAmount) return
    const wm = monthOf(state, ctx.watermarkDay)
    if (state.recurAggMonth !== wm) rebuild(state, wm, p)
    const from = wm - WINDOW_MONTHS + 1
    if (month < from) return

    let cards = state.recurCards
    if (cards === null) {
      cards = new Map()
      state.recurCards = cards
    }
    let card = cards.get(txn.card_token)
    let o: number
    if (card === undefined) {
      // An array of exactly its month: most cards have one.
      card = newCard(month, txn.localDay)
      cards.set(txn.card_token, card)
      o = C_MONTHS
    } else {
      o = monthAt(card, month)
      if (o < 0) {
        // Late events may add an earlier month: it goes in its place, since assess walks the months in
        // order.
        o = card.length
        while (o > C_MONTHS && (card[o - MONTH + M_MONTH] ?? 0) > month) o -= MONTH
        const end = card.length
        card.push(0, 0, 0, 0, 0)
        if (o < end) card.copyWithin(o + MONTH, o, end)
        card[o + M_MONTH] = month
        card[o + M_VOLUME] = 0
        card[o + M_MAJOR] = 0
        card[o + M_FIRST_DAY] = txn.localDay
        card[o + M_LAST_DAY] = txn.localDay
      }
    }
    card[o + M_VOLUME] = (card[o + M_VOLUME] ?? 0) + txn.amount_minor
    card[o + M_MAJOR] = (card[o + M_MAJOR] ?? 0) + major
    if (txn.localDay < (card[o + M_FIRST_DAY] ?? 0)) card[o + M_FIRST_DAY] = txn.localDay
    if (txn.localDay > (card[o + M_LAST_DAY] ?? 0)) card[o + M_LAST_DAY] = txn.localDay

    count(state, card, -1)
    assess(card, from, p)
    count(state, card, 1)
    if (card[C_RECURRING] === 1) state.recurSamples.push(txn.txn_id)
  },
  evaluate(state, ctx) {
    const p = ctx.params
    const wm = monthOf(state, ctx.watermarkDay)
    if (state.recurAggMonth !== wm) rebuild(state, wm, p)
    if (state.recurCardCount < p.minRecurringCards) return null
    const from = wm - WINDOW_MONTHS + 1
    let volume = 0
    let sales = 0
    const totals = state.recurTotals
    for (let o = totals.first(from, wm); o >= 0; o = totals.next(o, wm)) {
      volume += totals.get(o, VOLUME)
      sales += totals.get(o, SALES)
    }
    if (sales < p.minSales || volume <= 0) return null
    const share = state.recurVolume / volume
    if (share <= p.minShare) return null
    const start = firstDayOf(from)
    return {
      observed: share,
      threshold: p.minShare,
      windowStart: ctx.dayStart(start),
      windowEnd: ctx.dayStart(ctx.watermarkDay + 1),
      sampleTxnIds: state.recurSamples.toArray(),
      basis: 'absolute',
      detail: `${state.recurCardCount} cards that came back with at least ${p.minMonthlyAmount} a month in consecutive months (or within ${p.maxCycleDays} days) carried ${(share * 100).toFixed(1)}% of the approved sales amount of ${sales} sales since ${new Date(start * DAY_MS).toISOString().slice(0, 10)}.`,
    }
  },
})
