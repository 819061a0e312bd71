import { calibratedBound, describeBound, marginParam, quantileParam } from './engine/calibration.ts'
import { int, num } from './engine/params.ts'
import { defineRule } from './engine/types.ts'
import { appendZeros, doubles, NO_DAY, roomAfter, roomAfterCut, type SampleRing } from './engine/window.ts'

/**
 * Issuer-BIN concentration: card farmers apply for many credit cards at the one issuer with the laxest
 * limits, so a cash-out merchant's volume comes mostly from one BIN, over many cards. A BIN is issuer
 * and product: a shop next to a bank branch whose customers mostly hold that bank's cards sees one
 * *debit* BIN dominate, so the dominant BIN must also be mostly credit (cash-out needs credit).
 *
 * Memory is what shapes this rule: a busy shop sees dozens of BINs a day. Volume per BIN is kept in
 * five-day buckets (the window is the current bucket and the five before it: 26 to 30 days), and
 * distinct cards per BIN are estimated with a 64-bit linear-counting bitmap per bucket and BIN, since
 * exact counts would need every card token of the window.
 *
 * Calibration: the share must exceed the fence of its peers' and of the acquirer's distribution of the
 * largest BIN's share (the 0.75 quantile plus three times its distance from the median) and a floor of
 * 50%: a city where one bank issues most cards raises the fence for every merchant in it.
 */
const BUCKET_DAYS = 5
const BUCKETS = 6
const WINDOW_DAYS = BUCKET_DAYS * BUCKETS
/** BINs tracked per merchant over the window; volume of further BINs is pooled and never dominant. */
const MAX_BINS = 64
/** The code of the pool (see binCode): no BIN has it. */
const POOLED = 0
const BITS = 64

/**
 * The window is kept in two flat arrays per merchant: a slot per BIN with its totals over the window's
 * buckets, and a row per BIN and bucket with sales, in the order they were first used. A map of BINs
 * per bucket and a map of totals were some ten cold objects per sale with sparse traffic, and an array
 * per BIN one per BIN whenever the window moved; here a move walks two arrays. Totals drop to zero
 * exactly when the BIN's last bucket leaves, since amounts are positive (the schema's contract for
 * amount_minor) and integers: such a slot is dropped when the window moves.
 *
 * A slot holds its BIN and its total, looked up by a scan rather than a map: a merchant has a few
 * dozen BINs at most, and a Map costs some 180 bytes empty (an array of BINs beside one of totals was
 * two arrays and two stores per merchant).
 * A BIN is kept as a small integer (binCode), not as the event's string: a scan of a busy merchant's
 * 64 strings compared their characters (decoded strings are not interned), and the strings outlived
 * their events in the state; a small integer is compared at once and lives in the array itself.
 * A move of the window closes the gaps of the slots it empties, keeping their order, so a new BIN is
 * always appended and slot order is order of entry (what the map's iteration order was: the first of
 * equal BINs stays the largest).
 */
/**
 * A slot: the BIN (its binCode) and its amount in the window. Its credit amount is counted from its rows
 * when evaluate needs it (only for the largest BIN, over its share threshold), and its rows are found by
 * a scan: a credit total and a hint to the latest row were two more numbers per BIN and merchant.
 */
const T_BIN = 0
const T_AMOUNT = 1
const SLOT = 2
/**
 * A row: its key (the bucket times KEY_SPAN, plus CREDIT_ROW for credit sales, plus the BIN's slot) and
 * its sales, in one number (`key + sales * SALES_UNIT`: a column of its own was a sixth of the rows),
 * the amount, and the card bitmap. A BIN's credit and other sales of a bucket are rows apart, so a
 * row's credit amount is all of its amount or none: a BIN is one issuer's product, nearly always all
 * credit or all debit, and a credit column was a fifth of every row.
 */
const R_KEY = 0
const R_AMOUNT = 1
/** Card bits 0–31 and 32–63. */
const R_LO = 2
const R_HI = 3
const ROW = 4
/** Above any slot (at most MAX_BINS + 1 of them, the pooled one included); a power of 2. */
const SLOT_SPAN = 128
/** The part of a key that marks a row of credit sales. */
const CREDIT_ROW = SLOT_SPAN
/** Above any slot and the credit mark; a power of 2. */
const KEY_SPAN = 2 * SLOT_SPAN
/**
 * Above any key (buckets of local days from 1970 to the year 5000, times KEY_SPAN); a power of 2, so
 * a row's key and slot are bit masks of its first number, exact below 2^53 (ToInt32 keeps the low bits).
 * A day before 1970 (a negative key) never reaches a rule: every path into the engine (ingest's and the
 * rules stage's validation, the backtest's, the simulator's) refuses an event_time before 2000
 * (MIN_EVENT_TIME, schemas/validate.ts).
 */
const SALES_UNIT = 2 ** 26

/** The key of a row's first number. */
function keyOf(packed: number): number {
  return packed & (SALES_UNIT - 1)
}

/** The slot of a row's first number. */
function slotOfRow(packed: number): number {
  return packed & (SLOT_SPAN - 1)
}

/** Whether a row's first number is a row of credit sales. */
function isCreditRow(packed: number): boolean {
  return (packed & CREDIT_ROW) !== 0
}
/** New slot of each old one while the window moves (-1: dropped); one for all merchants, never reentered. */
const renumbered = new Int16Array(SLOT_SPAN)

interface State {
  /**
   * The slots of the BINs with sales in the window's buckets [from, bucket of the watermark], in order
   * of entry.
   */
  binSlots: number[]
  binRows: number[]
  /**
   * What the stores of `binSlots` and `binRows` have room for (see appendZeros): a push reserves 17
   * slots at its first, and most merchants have a few BINs in the window.
   */
  binSlotsRoom: number
  binRowsRoom: number
  binAmount: number
  binCount: number
  binFrom: number
  /** The slot of the largest BIN (fixed while it is there); -1 with none. */
  binTopSlot: number
  /**
   * The last SAMPLES sales as pairs of BIN and transaction id, pushed two at a time into one ring of
   * twice that, so pairs stay aligned: no object per sale, and one ring counter instead of two.
   */
  binSamples: SampleRing
}

/**
 * A BIN's code: a 1 followed by its digits (so a leading zero counts), a small integer. Validation lets
 * only 6 to 8 digits through (schemas/validate.ts); anything else would be pooled, never dominant.
 */
export function binCode(bin: string): number {
  const n = bin.length
  if (n === 0 || n > 8) return POOLED
  let code = 1
  for (let i = 0; i < n; i++) {
    const digit = bin.charCodeAt(i) - 48
    if (digit < 0 || digit > 9) return POOLED
    code = code * 10 + digit
  }
  return code
}

/** The BIN of a code that is not the pool's. */
function binOf(code: number): string {
  return String(code).slice(1)
}

/** The slot of `bin` (a code), or -1. */
function slotOf(slots: readonly number[], bin: number): number {
  for (let t = T_BIN; t < slots.length; t += SLOT) if (slots[t] === bin) return t / SLOT
  return -1
}

/** A new slot for `bin` (a code), after the others. */
function newSlot(state: State, bin: number): number {
  let slots = state.binSlots
  const t = slots.length
  const grown = appendZeros(slots, SLOT, state.binSlotsRoom)
  if (grown !== slots) {
    state.binSlots = grown
    state.binSlotsRoom = roomAfter(grown.length, SLOT)
    slots = grown
  }
  slots[t + T_BIN] = bin
  return t / SLOT
}

/**
 * Start of the row of `slot` and `bucket` (its credit sales' row when `credit`), made (zeroed) when the
 * BIN had no such sale in that bucket yet (`fresh`: a new slot, which has no row). Rows are kept in
 * order of bucket: a row is appended, or, for a late sale in an earlier bucket than the last row's,
 * inserted after that bucket's rows and before the later buckets'. So the scan from the end stops at
 * the first row of an earlier bucket, where a BIN's first sale in a bucket scanned every row of the
 * window before.
 */
function rowOf(state: State, slot: number, credit: boolean, bucket: number, fresh: boolean): number {
  let rows = state.binRows
  const key = bucket * KEY_SPAN + (credit ? CREDIT_ROW : 0) + slot
  const first = bucket * KEY_SPAN
  const next = first + KEY_SPAN
  // Where a new row goes: after the rows of the buckets up to `bucket`.
  let at = rows.length
  for (let o = rows.length - ROW; o >= 0; o -= ROW) {
    const k = keyOf(rows[o + R_KEY] ?? 0)
    if (k >= next) at = o
    else if (k < first) break
    else if (k === key && !fresh) return o
  }
  const n = rows.length
  const grown = appendZeros(rows, ROW, state.binRowsRoom)
  if (grown !== rows) {
    state.binRows = grown
    state.binRowsRoom = roomAfter(grown.length, ROW)
    rows = grown
  }
  if (at < n) {
    rows.copyWithin(at + ROW, at, n)
    for (let i = at; i < at + ROW; i++) rows[i] = 0
  }
  rows[at + R_KEY] = key
  return at
}

function cardBit(token: string): number {
  // FNV-1a: cheap, and spreads similar tokens over the bitmap.
  let h = 0x811c9dc5
  for (let i = 0; i < token.length; i++) h = Math.imul(h ^ token.charCodeAt(i), 0x01000193)
  return (h >>> 0) % BITS
}

function popcount(x: number): number {
  let v = x >>> 0
  let n = 0
  while (v !== 0) {
    v &= v - 1
    n++
  }
  return n
}

/** Linear-counting estimate of distinct cards from the number of bits set. */
function estimateCards(bitsSet: number): number {
  const zeros = BITS - bitsSet
  return zeros === 0 ? Number.POSITIVE_INFINITY : -BITS * Math.log(zeros / BITS)
}

/**
 * Moves the window to start at bucket `to` − 5: the rows that left it are subtracted, once, and dropped;
 * BINs left without sales lose their slots (the others move up, in order, and their rows follow), and
 * the largest BIN is found again, in order of entry (the first of equals wins).
 */
function advance(state: State, to: number): boolean {
  const newFrom = to - BUCKETS + 1
  if (newFrom <= state.binFrom) return false
  const moved = newFrom - state.binFrom
  state.binFrom = newFrom
  state.binTopSlot = -1
  const rows = state.binRows
  const totals = state.binSlots
  // Every row is older than a window that moved past all of them.
  if (moved > BUCKETS) {
    rows.length = 0
    totals.length = 0
    state.binRowsRoom = 0
    state.binSlotsRoom = 0
    state.binAmount = 0
    state.binCount = 0
    return true
  }
  let kept = 0
  for (let o = 0; o < rows.length; o += ROW) {
    const packed = rows[o + R_KEY] ?? 0
    const bucket = Math.floor(keyOf(packed) / KEY_SPAN)
    const t = slotOfRow(packed) * SLOT
    if (bucket < newFrom) {
      const amount = rows[o + R_AMOUNT] ?? 0
      totals[t + T_AMOUNT] = (totals[t + T_AMOUNT] ?? 0) - amount
      state.binAmount -= amount
      state.binCount -= Math.floor(packed / SALES_UNIT)
    } else {
      if (kept !== o) rows.copyWithin(kept, o, o + ROW)
      kept += ROW
    }
  }
  rows.length = kept
  state.binRowsRoom = roomAfterCut(kept, state.binRowsRoom)
  let best = 0
  let n = 0
  const count = totals.length / SLOT
  for (let slot = 0; slot < count; slot++) {
    const t = slot * SLOT
    const amount = totals[t + T_AMOUNT] ?? 0
    if (amount <= 0) {
      renumbered[slot] = -1
      continue
    }
    renumbered[slot] = n
    const bin = totals[t + T_BIN] ?? POOLED
    if (n !== slot) totals.copyWithin(n * SLOT, t, t + SLOT)
    if (bin !== POOLED && amount > best) {
      best = amount
      state.binTopSlot = n
    }
    n++
  }
  if (n !== count) {
    totals.length = n * SLOT
    state.binSlotsRoom = roomAfterCut(n * SLOT, state.binSlotsRoom)
    for (let o = 0; o < rows.length; o += ROW) {
      const packed = rows[o + R_KEY] ?? 0
      const slot = slotOfRow(packed)
      rows[o + R_KEY] = packed - slot + (renumbered[slot] ?? 0)
    }
  }
  return true
}

const SAMPLES = 32
/** What a pooled sale's sample holds for its BIN: no BIN's string. */
const POOLED_SAMPLE = '*'

/**
 * One string per BIN for the samples, shared by every merchant: the event's own string, decoded with
 * it, lived as long as the sample (32 per merchant, some 24 bytes each). Made from the code (the same
 * characters), not kept from an event. Bounded, since BINs come from the events: past the bound a
 * BIN's sample keeps the event's string, as before.
 */
const binTexts = new Map<number, string>()
const MAX_BIN_TEXTS = 1 << 16

/** The BIN of `code` (not the pool's) as one shared string; `text` is the event's, the same characters. */
function binText(code: number, text: string): string {
  const known = binTexts.get(code)
  if (known !== undefined) return known
  if (binTexts.size >= MAX_BIN_TEXTS) return text
  const made = binOf(code)
  binTexts.set(code, made)
  return made
}

/** The last five sampled transaction ids of `bin` (a code), oldest first. */
function sampleOf(state: State, bin: number): string[] {
  const pairs = state.binSamples.toArray()
  const key = binOf(bin)
  const out: string[] = []
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const id = pairs[i + 1]
    if (pairs[i] === key && id !== undefined) out.push(id)
  }
  return out.slice(-5)
}

export const binConcentration = defineRule({
  id: 'bin_concentration',
  version: 2,
  category: 'fraud',
  family: 'cards',
  description:
    "Share of approved volume from one issuer credit BIN, across many cards, beyond the distribution of its peers (or of the acquirer's merchants) and a floor (30 days).",
  calibration:
    "The largest BIN's share must exceed the fence of its peer cohort's distribution of largest-BIN shares (the 0.75 quantile plus three times its distance from the median; the acquirer's population where the cohort is thin, then provisional) and 50%, on 10 or more cards, mostly credit.",
  whitelistable: true,
  retentionDays: WINDOW_DAYS,
  clock: 'day',
  params: {
    floor: num({
      default: 0.5,
      min: 0,
      max: 1,
      description:
        'Share of approved volume (with a known BIN) from one BIN the rule never fires at or below.',
    }),
    quantile: quantileParam(0.75),
    margin: marginParam(3, 'linear'),
    minCards: int({
      default: 10,
      min: 1,
      max: 40,
      description: 'Distinct cards (estimated) on the dominant BIN: one loyal customer is not a card farm.',
    }),
    minTxns: int({
      default: 20,
      min: 1,
      description: 'Count floor: approved sales with a known BIN in 30 days.',
    }),
    minCreditShare: num({
      default: 0.5,
      min: 0,
      max: 1,
      description:
        'Credit share of the dominant BIN volume needed to fire: the neighbour of a bank branch sees its debit BIN.',
    }),
  },
  createState: (_sales, samples): State => ({
    binSlots: doubles(),
    binRows: doubles(),
    binSlotsRoom: 0,
    binRowsRoom: 0,
    binAmount: 0,
    binCount: 0,
    binFrom: NO_DAY,
    binTopSlot: -1,
    binSamples: samples.ring(2 * SAMPLES),
  }),
  onTransaction(state, txn, ctx) {
    const moved = advance(state, Math.floor(ctx.watermarkDay / BUCKET_DAYS))
    const bucket = Math.floor(txn.localDay / BUCKET_DAYS)
    if (!txn.approved || !txn.sale || txn.card_bin === null || bucket < state.binFrom) return moved
    let bin = binCode(txn.card_bin)
    let slot = slotOf(state.binSlots, bin)
    let fresh = false
    if (slot < 0) {
      if (state.binSlots.length >= MAX_BINS * SLOT || bin === POOLED) bin = POOLED
      slot = slotOf(state.binSlots, bin)
      fresh = slot < 0
      if (fresh) slot = newSlot(state, bin)
    }
    const o = rowOf(state, slot, txn.card_type === 'CREDIT', bucket, fresh)
    const rows = state.binRows
    const totals = state.binSlots
    const t = slot * SLOT
    const amount = txn.amount_minor
    const bit = cardBit(txn.card_token)
    if (bit < 32) rows[o + R_LO] = (rows[o + R_LO] ?? 0) | (1 << bit)
    else rows[o + R_HI] = (rows[o + R_HI] ?? 0) | (1 << (bit - 32))
    rows[o + R_AMOUNT] = (rows[o + R_AMOUNT] ?? 0) + amount
    rows[o + R_KEY] = (rows[o + R_KEY] ?? 0) + SALES_UNIT
    const total = (totals[t + T_AMOUNT] ?? 0) + amount
    totals[t + T_AMOUNT] = total
    state.binAmount += amount
    state.binCount++
    const top = state.binTopSlot
    if (bin !== POOLED && (top < 0 || total > (totals[top * SLOT + T_AMOUNT] ?? 0))) state.binTopSlot = slot
    // The sale's BIN (the pool's mark for a pooled sale): a sample names the BIN.
    state.binSamples.push(bin === POOLED ? POOLED_SAMPLE : binText(bin, txn.card_bin))
    state.binSamples.push(txn.txn_id)
  },
  onMerchantEvent(state, _event, ctx) {
    advance(state, Math.floor(ctx.watermarkDay / BUCKET_DAYS))
  },
  evaluate(state, ctx) {
    const p = ctx.params
    const slot = state.binTopSlot
    const bin = slot < 0 ? undefined : state.binSlots[slot * SLOT + T_BIN]
    if (state.binCount < p.minTxns || bin === undefined || state.binAmount <= 0) return null
    const amount = state.binSlots[slot * SLOT + T_AMOUNT] ?? 0
    const share = amount / state.binAmount
    const bound = calibratedBound(
      p.floor,
      { quantile: p.quantile, margin: p.margin, scale: 'linear' },
      ctx.peers?.topBinShare,
      ctx.population?.topBinShare,
    )
    if (share <= bound.threshold) return null
    const rows = state.binRows
    // Every row is in the window (the move of the window dropped the others): integers, in any order.
    let credit = 0
    for (let o = 0; o < rows.length; o += ROW) {
      const packed = rows[o + R_KEY] ?? 0
      if (slotOfRow(packed) === slot && isCreditRow(packed)) credit += rows[o + R_AMOUNT] ?? 0
    }
    if (credit / amount < p.minCreditShare) return null
    const to = Math.floor(ctx.watermarkDay / BUCKET_DAYS)
    let lo = 0
    let hi = 0
    for (let o = 0; o < rows.length; o += ROW) {
      const packed = rows[o + R_KEY] ?? 0
      const b = Math.floor(keyOf(packed) / KEY_SPAN)
      if (slotOfRow(packed) !== slot || b < state.binFrom || b > to) continue
      lo |= rows[o + R_LO] ?? 0
      hi |= rows[o + R_HI] ?? 0
    }
    const cards = estimateCards(popcount(lo) + popcount(hi))
    if (cards < p.minCards) return null
    return {
      observed: share,
      threshold: bound.threshold,
      windowStart: ctx.dayStart(state.binFrom * BUCKET_DAYS),
      windowEnd: ctx.dayStart(ctx.watermarkDay + 1),
      sampleTxnIds: sampleOf(state, bin),
      detail:
        `${(100 * share).toFixed(1)}% of approved volume since ${new Date(ctx.dayStart(state.binFrom * BUCKET_DAYS) + 43_200_000).toISOString().slice(0, 10)} came from BIN ${binOf(bin)} ` +
        `(${(100 * (credit / amount)).toFixed(0)}% credit) on about ${Number.isFinite(cards) ? Math.round(cards) : 'over 250'} distinct cards, ` +
        `above ${describeBound(bound, p.floor, (x) => `${(100 * x).toFixed(1)}%`)}.`,
      basis: bound.basis,
    }
  },
})
