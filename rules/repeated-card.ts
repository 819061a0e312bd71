import { bool, int, num } from './engine/params.ts'
import { defineRule } from './engine/types.ts'
import { type DayColumns, NO_DAY, type SampleRing } from './engine/window.ts'

/**
 * Cash-out runs the same few credit cards through the same terminal again and again. The playbook caps
 * it at two swipes a day, so the rule also counts the days a card comes back within a week. Only large
 * swipes count, and the rule fires on the share of volume those cards carry: a market stall's regulars
 * come back every day too, but with small purchases that are a sliver of nothing.
 *
 * Only credit cards count (and cards of unknown type): cash-out turns credit into cash, and a debit or
 * prepaid card swiped again and again spends what is on it. A fleet's fuel card at a truck stop is
 * swiped for each of its trucks, many times a day, with large amounts; most fleet cards are debit or
 * prepaid. (Measured: an independently written month's truck stops were 3 of its 4 look-alikes flagged
 * by this rule; their repeated cards' large swipes were 39-73% credit, every cash-out merchant's of the
 * five populations 100%.)
 *
 * A customer who pays a car or a deposit in three swipes, because a card's single swipe is capped, is
 * swiped repeatedly too, but on one day, and does not come back; the operator's cards do. So repeated
 * cards that were all seen on a single day of the week count only when there are many of them
 * (`minOneDayCards`); one that came back on another day is enough for the usual floor.
 */
const WINDOW_DAYS = 7
/** Distinct amounts kept per card and day; a card with more distinct large amounts already trips the daily count. */
const MAX_AMOUNTS = 8

const DAILY = 1
const SAME_AMOUNT = 2
const RETURNING = 4
const FLAGS = DAILY | SAME_AMOUNT | RETURNING
/** Not a reason to flag: the card's large sales fall on more than one day of the window. */
const BACK = 8

interface CardDay {
  day: number
  swipes: number
  volume: number
  amounts: number[]
  counts: number[]
}

interface Card {
  days: CardDay[]
  /** What this card adds to the merchant's aggregate, as of the aggregate's day. */
  reasons: number
  volume: number
}

interface State {
  repeatTotals: DayColumns
  /** Only cards with a large swipe in the window: small everyday purchases never allocate a record. */
  /** Made at the first such swipe: an empty map is some 180 bytes. */
  repeatCards: Map<string, Card> | null
  /** The window the aggregate below describes; rebuilt (and cards pruned) when the day moves. */
  repeatAggDay: number
  repeatFlaggedCards: number
  repeatFlaggedVolume: number
  /** Flagged cards by reason (a card may have several): fields, not an array of three, per merchant. */
  repeatDaily: number
  repeatSameAmount: number
  repeatReturning: number
  /** Flagged cards whose large sales fall on more than one day of the window. */
  repeatBack: number
  repeatSamples: SampleRing
}

interface Params {
  readonly maxSwipesPerDay: number
  readonly sameAmountPerDay: number
  readonly minSwipesPerReturnDay: number
  readonly minReturnDays: number
}

function assess(card: Card, from: number, p: Params): void {
  let reasons = 0
  let volume = 0
  let returnDays = 0
  let days = 0
  for (const d of card.days) {
    if (d.day < from) continue
    days++
    volume += d.volume
    if (d.swipes > p.maxSwipesPerDay) reasons |= DAILY
    if (d.swipes >= p.minSwipesPerReturnDay) returnDays++
    for (const c of d.counts) if (c >= p.sameAmountPerDay) reasons |= SAME_AMOUNT
  }
  if (returnDays >= p.minReturnDays) reasons |= RETURNING
  if (days > 1) reasons |= BACK
  card.reasons = reasons
  card.volume = volume
}

function count(state: State, card: Card, sign: 1 | -1): void {
  if ((card.reasons & FLAGS) === 0) return
  state.repeatFlaggedCards += sign
  state.repeatFlaggedVolume += sign * card.volume
  if ((card.reasons & DAILY) !== 0) state.repeatDaily += sign
  if ((card.reasons & SAME_AMOUNT) !== 0) state.repeatSameAmount += sign
  if ((card.reasons & RETURNING) !== 0) state.repeatReturning += sign
  if ((card.reasons & BACK) !== 0) state.repeatBack += sign
}

/**
 * Once per merchant and day: only cards with a day leaving the window change, so the others are
 * skipped without allocating. Volumes are integer minor units, so adding and removing stays exact.
 */
function hasDayBefore(card: Card, from: number): boolean {
  for (const d of card.days) if (d.day < from) return true
  return false
}

function rebuild(state: State, wd: number, p: Params): void {
  const from = wd - WINDOW_DAYS + 1
  state.repeatAggDay = wd
  const cards = state.repeatCards
  if (cards === null) return
  for (const [token, card] of cards) {
    if (!hasDayBefore(card, from)) continue
    count(state, card, -1)
    card.days = card.days.filter((d) => d.day >= from)
    if (card.days.length === 0) {
      cards.delete(token)
      continue
    }
    assess(card, from, p)
    count(state, card, 1)
  }
}

export const repeatedCard = defineRule({
  id: 'repeated_card',
  version: 3,
  category: 'fraud',
  family: 'velocity',
  description:
    'Share of 7-day approved volume from credit cards swiped repeatedly with large amounts at the merchant: more than N a day, several of one amount a day, or about twice a day on most days of the week.',
  calibration:
    "Compares with nothing: the playbook fixes the pattern (a card swiped twice a day, day after day). Only sales of 1,000 or more on credit cards (or of unknown type) count, it needs two such cards (one of them seen on two days of the week, else five: a customer paying one bill in several swipes does not come back), and it fires on their share of the merchant's 7-day volume (0.3). Strong.",
  whitelistable: true,
  retentionDays: WINDOW_DAYS,
  clock: 'day',
  params: {
    creditCardsOnly: bool({
      default: true,
      description:
        'Count only credit cards (and cards of unknown type) as repeated: cash-out draws on credit, and a debit or prepaid card (a fleet fuel card) swiped all day spends what is on it. False counts every card.',
    }),
    minAmount: num({
      default: 1_000,
      min: 0,
      description:
        'Only approved sales of at least this amount (major units) count as swipes of a card; regulars buying groceries never do.',
    }),
    maxSwipesPerDay: int({
      default: 2,
      min: 1,
      description: 'A card with more large swipes than this in one local day is repeated.',
    }),
    sameAmountPerDay: int({
      default: 3,
      min: 2,
      description: 'A card with this many large swipes of one exact amount in one local day is repeated.',
    }),
    minSwipesPerReturnDay: int({
      default: 2,
      min: 1,
      description:
        'Large swipes of a card in a day for that day to count as a return day (the playbook allows two).',
    }),
    minReturnDays: int({
      default: 4,
      min: 1,
      max: WINDOW_DAYS,
      description: 'Return days within 7 days that make a card repeated even when it keeps to the daily cap.',
    }),
    minVolumeShare: num({
      default: 0.3,
      min: 0,
      max: 1,
      description:
        "Share of the merchant's 7-day approved sales amount from repeated cards above which the rule fires.",
    }),
    minFlaggedCards: int({
      default: 2,
      min: 1,
      description: 'Count floor: repeated cards needed; one odd customer is not a pattern.',
    }),
    minOneDayCards: int({
      default: 5,
      min: 1,
      description:
        'Count floor when none of the repeated cards came back on another day of the 7: customers paying a large bill in several swipes (a capped card) do so once; an operator reuses cards.',
    }),
    minSales: int({
      default: 10,
      min: 1,
      description: 'Count floor: approved sales in the 7 days before the share counts.',
    }),
  },
  createState: (sales, samples): State => ({
    repeatTotals: sales.columns(WINDOW_DAYS, 0),
    repeatCards: null,
    repeatAggDay: NO_DAY,
    repeatFlaggedCards: 0,
    repeatFlaggedVolume: 0,
    repeatDaily: 0,
    repeatSameAmount: 0,
    repeatReturning: 0,
    repeatBack: 0,
    repeatSamples: samples.ring(5),
  }),
  onTransaction(state, txn, ctx) {
    if (!txn.approved || !txn.sale) return false
    const bucket = state.repeatTotals.at(txn.localDay)
    if (bucket < 0) return false
    // The day's sales and amount are counted by the engine (SaleDays).
    const p = ctx.params
    if (txn.amount_minor < p.minAmount * txn.minorPerMajor) return
    // Cash-out draws on credit: a debit or prepaid card swiped again and again is spending what is on it.
    if (p.creditCardsOnly && (txn.card_type === 'DEBIT' || txn.card_type === 'PREPAID')) return
    const wd = ctx.watermarkDay
    if (state.repeatAggDay !== wd) rebuild(state, wd, p)
    const from = wd - WINDOW_DAYS + 1
    if (txn.localDay < from) return

    let cards = state.repeatCards
    if (cards === null) {
      cards = new Map()
      state.repeatCards = cards
    }
    let card = cards.get(txn.card_token)
    let cd: CardDay | undefined
    if (card === undefined) {
      // Arrays of exactly what they hold (an empty array grown by push reserves 17 slots), its count
      // taken below: most cards have one day and one amount.
      cd = { day: txn.localDay, swipes: 0, volume: 0, amounts: [txn.amount_minor], counts: [0] }
      card = { days: [cd], reasons: 0, volume: 0 }
      cards.set(txn.card_token, card)
    } else cd = card.days.find((d) => d.day === txn.localDay)
    if (cd === undefined) {
      cd = { day: txn.localDay, swipes: 0, volume: 0, amounts: [], counts: [] }
      card.days.push(cd)
    }
    cd.swipes++
    cd.volume += txn.amount_minor
    const i = cd.amounts.indexOf(txn.amount_minor)
    if (i >= 0) cd.counts[i] = (cd.counts[i] ?? 0) + 1
    else if (cd.amounts.length < MAX_AMOUNTS) {
      cd.amounts.push(txn.amount_minor)
      cd.counts.push(1)
    }

    count(state, card, -1)
    assess(card, from, p)
    count(state, card, 1)
    if ((card.reasons & FLAGS) !== 0) state.repeatSamples.push(txn.txn_id)
  },
  evaluate(state, ctx) {
    const p = ctx.params
    const wd = ctx.watermarkDay
    if (state.repeatAggDay !== wd) rebuild(state, wd, p)
    const flagged = state.repeatFlaggedCards
    if (flagged < p.minFlaggedCards) return null
    if (state.repeatBack === 0 && flagged < p.minOneDayCards) return null
    let volume = 0
    let sales = 0
    const totals = state.repeatTotals
    for (let o = totals.first(wd - WINDOW_DAYS + 1, wd); o >= 0; o = totals.next(o, wd)) {
      volume += totals.amount(o)
      sales += totals.sales(o)
    }
    if (sales < p.minSales || volume <= 0) return null
    const share = state.repeatFlaggedVolume / volume
    if (share <= p.minVolumeShare) return null
    const daily = state.repeatDaily
    const same = state.repeatSameAmount
    const returning = state.repeatReturning
    return {
      observed: share,
      threshold: p.minVolumeShare,
      windowStart: ctx.dayStart(wd - WINDOW_DAYS + 1),
      windowEnd: ctx.dayStart(wd + 1),
      sampleTxnIds: state.repeatSamples.toArray(),
      detail: `${flagged} cards swiped repeatedly with large amounts (${daily} over ${p.maxSwipesPerDay} a day, ${same} with ${p.sameAmountPerDay}+ of one amount a day, ${returning} back with ${p.minSwipesPerReturnDay}+ swipes on ${p.minReturnDays}+ of ${WINDOW_DAYS} days; ${state.repeatBack} seen on more than one day) carried ${(share * 100).toFixed(1)}% of the ${sales} approved sales' amount in ${WINDOW_DAYS} days.`,
    }
  },
})
