import { calibratedBound, describeBound, marginParam, quantileParam } from './engine/calibration.ts'
import { int, num } from './engine/params.ts'
import { defineRule } from './engine/types.ts'
import type { SampleRing } from './engine/window.ts'

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
const POOLED = '*'
const BITS = 64

/**
 * One BIN's window: its totals over the window's buckets, then a row per bucket in which it had sales
 * (in the order the buckets were first used), all numbers of one array. A map of BINs per bucket and a
 * map of totals were some ten cold objects per sale with sparse traffic; this is one look-up and one
 * array. Totals drop to zero exactly when the BIN's last bucket leaves, since amounts are positive
 * (the schema's contract for amount_minor) and integers.
 */
type BinEntry = number[]
const AMOUNT = 0
const CREDIT = 1
const ROWS = 2
/** A row: the bucket, its amount, credit amount and sales, and the card bitmap (bits 0–31, 32–63). */
const R_BUCKET = 0
const R_AMOUNT = 1
const R_CREDIT = 2
const R_COUNT = 3
const R_LO = 4
const R_HI = 5
const ROW = 6

/** A new entry with one zeroed row for `bucket`, holding doubles from the start (see window.ts). */
function newEntry(bucket: number): BinEntry {
  const e = [0.5, 0, bucket, 0, 0, 0, 0, 0]
  e[AMOUNT] = 0
  return e
}

/** Start of `bucket`'s row in `e`, appended (zeroed) when the BIN had no sale in it yet. */
function rowOf(e: BinEntry, bucket: number): number {
  for (let o = e.length - ROW; o >= ROWS; o -= ROW) if (e[o + R_BUCKET] === bucket) return o
  const o = e.length
  e.push(bucket, 0, 0, 0, 0, 0)
  return o
}

interface State {
  /** BINs with sales in the window's buckets [from, bucket of the watermark], in order of entry. */
  bins: Map<string, BinEntry>
  amount: number
  count: number
  from: number
  top: string | null
  /** The entry of `top` in `bins` (fixed while it is there): one map look-up less per sale. */
  topBin: BinEntry | null
  /** Recent sales as two rings pushed together (same capacity, so they stay aligned): no object per sale. */
  sampleBins: SampleRing
  sampleTxnIds: SampleRing
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
 * BINs left without sales leave the map. The largest BIN is found in the same pass, in map order (the
 * first of equals wins), so each entry is read once.
 */
function advance(state: State, to: number): boolean {
  const newFrom = to - BUCKETS + 1
  if (newFrom <= state.from) return false
  const moved = newFrom - state.from
  state.from = newFrom
  state.top = null
  state.topBin = null
  // Every row is older than a window that moved past all of them.
  if (moved > BUCKETS) {
    state.bins.clear()
    state.amount = 0
    state.count = 0
    return true
  }
  let best = 0
  state.bins.forEach((e, bin) => {
    let kept = ROWS
    for (let o = ROWS; o < e.length; o += ROW) {
      if ((e[o + R_BUCKET] ?? 0) < newFrom) {
        const amount = e[o + R_AMOUNT] ?? 0
        e[AMOUNT] = (e[AMOUNT] ?? 0) - amount
        e[CREDIT] = (e[CREDIT] ?? 0) - (e[o + R_CREDIT] ?? 0)
        state.amount -= amount
        state.count -= e[o + R_COUNT] ?? 0
      } else {
        if (kept !== o) e.copyWithin(kept, o, o + ROW)
        kept += ROW
      }
    }
    e.length = kept
    const amount = e[AMOUNT] ?? 0
    if (amount <= 0) state.bins.delete(bin)
    else if (bin !== POOLED && amount > best) {
      best = amount
      state.top = bin
      state.topBin = e
    }
  })
  return true
}

const SAMPLES = 32

/** The last five sampled transaction ids of `bin`, oldest first. */
function sampleOf(state: State, bin: string): string[] {
  const bins = state.sampleBins.toArray()
  const ids = state.sampleTxnIds.toArray()
  const out: string[] = []
  for (let i = 0; i < bins.length; i++) {
    const id = ids[i]
    if (bins[i] === bin && id !== undefined) out.push(id)
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
    bins: new Map(),
    amount: 0,
    count: 0,
    from: Number.NEGATIVE_INFINITY,
    top: null,
    topBin: null,
    sampleBins: samples.ring(SAMPLES),
    sampleTxnIds: samples.ring(SAMPLES),
  }),
  onTransaction(state, txn, ctx) {
    const moved = advance(state, Math.floor(ctx.watermarkDay / BUCKET_DAYS))
    const bucket = Math.floor(txn.localDay / BUCKET_DAYS)
    if (!txn.approved || !txn.sale || txn.card_bin === null || bucket < state.from) return moved
    let bin = txn.card_bin
    let e = state.bins.get(bin)
    if (e === undefined) {
      if (state.bins.size >= MAX_BINS) bin = POOLED
      e = state.bins.get(bin)
      if (e === undefined) {
        e = newEntry(bucket)
        state.bins.set(bin, e)
      }
    }
    const o = rowOf(e, bucket)
    const amount = txn.amount_minor
    const credit = txn.card_type === 'CREDIT' ? amount : 0
    const bit = cardBit(txn.card_token)
    if (bit < 32) e[o + R_LO] = (e[o + R_LO] ?? 0) | (1 << bit)
    else e[o + R_HI] = (e[o + R_HI] ?? 0) | (1 << (bit - 32))
    e[o + R_AMOUNT] = (e[o + R_AMOUNT] ?? 0) + amount
    e[o + R_CREDIT] = (e[o + R_CREDIT] ?? 0) + credit
    e[o + R_COUNT] = (e[o + R_COUNT] ?? 0) + 1
    const total = (e[AMOUNT] ?? 0) + amount
    e[AMOUNT] = total
    e[CREDIT] = (e[CREDIT] ?? 0) + credit
    state.amount += amount
    state.count++
    const top = state.topBin
    if (bin !== POOLED && (top === null || total > (top[AMOUNT] ?? 0))) {
      state.top = bin
      state.topBin = e
    }
    state.sampleBins.push(bin)
    state.sampleTxnIds.push(txn.txn_id)
  },
  onMerchantEvent(state, _event, ctx) {
    advance(state, Math.floor(ctx.watermarkDay / BUCKET_DAYS))
  },
  evaluate(state, ctx) {
    const p = ctx.params
    if (state.count < p.minTxns || state.top === null || state.amount <= 0) return null
    const bin = state.top
    const e = state.topBin
    if (e === null) return null
    const amount = e[AMOUNT] ?? 0
    const credit = e[CREDIT] ?? 0
    const share = amount / state.amount
    const bound = calibratedBound(
      p.floor,
      { quantile: p.quantile, margin: p.margin, scale: 'linear' },
      ctx.peers?.topBinShare,
      ctx.population?.topBinShare,
    )
    if (share <= bound.threshold || credit / amount < p.minCreditShare) return null
    const to = Math.floor(ctx.watermarkDay / BUCKET_DAYS)
    let lo = 0
    let hi = 0
    for (let o = ROWS; o < e.length; o += ROW) {
      const b = e[o + R_BUCKET] ?? 0
      if (b < state.from || b > to) continue
      lo |= e[o + R_LO] ?? 0
      hi |= e[o + R_HI] ?? 0
    }
    const cards = estimateCards(popcount(lo) + popcount(hi))
    if (cards < p.minCards) return null
    return {
      observed: share,
      threshold: bound.threshold,
      windowStart: ctx.dayStart(state.from * BUCKET_DAYS),
      windowEnd: ctx.dayStart(ctx.watermarkDay + 1),
      sampleTxnIds: sampleOf(state, bin),
      detail:
        `${(100 * share).toFixed(1)}% of approved volume since ${new Date(ctx.dayStart(state.from * BUCKET_DAYS) + 43_200_000).toISOString().slice(0, 10)} came from BIN ${bin} ` +
        `(${(100 * (credit / amount)).toFixed(0)}% credit) on about ${Number.isFinite(cards) ? Math.round(cards) : 'over 250'} distinct cards, ` +
        `above ${describeBound(bound, p.floor, (x) => `${(100 * x).toFixed(1)}%`)}.`,
      basis: bound.basis,
    }
  },
})
