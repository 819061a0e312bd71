import { calibratedBound, describeBound, marginParam, quantileParam } from './engine/calibration.ts'
import { int, num } from './engine/params.ts'
import { defineRule } from './engine/types.ts'
import { DayRing, type SampleRing } from './engine/window.ts'

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

interface DayBin {
  /** Its key in the bucket's map. */
  readonly bin: string
  amount: number
  credit: number
  count: number
  /** Card bitmap, bits 0–31 and 32–63. */
  lo: number
  hi: number
}

/** A five-day bucket. */
interface Day {
  bins: Map<string, DayBin>
}

interface WindowBin {
  /** Its key in `State.bins`, so the totals can be walked without an entry array per bin. */
  readonly bin: string
  amount: number
  credit: number
}

interface State {
  days: DayRing<Day>
  /** Totals over the window's buckets [from, bucket of the watermark], kept as buckets enter and leave. */
  bins: Map<string, WindowBin>
  amount: number
  count: number
  from: number
  top: string | null
  /** The entry of `top` in `bins` (fixed while it is there): one map look-up less per sale. */
  topBin: WindowBin | null
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

function findTop(state: State): void {
  let top: WindowBin | null = null
  let best = 0
  for (const b of state.bins.values()) {
    if (b.bin !== POOLED && b.amount > best) {
      best = b.amount
      top = b
    }
  }
  state.top = top?.bin ?? null
  state.topBin = top
}

/** Moves the window to end at bucket `to`: the buckets that left it are subtracted, once. */
function advance(state: State, to: number): boolean {
  const newFrom = to - BUCKETS + 1
  if (newFrom <= state.from) return false
  if (newFrom - state.from > state.days.size) {
    state.bins.clear()
    state.amount = 0
    state.count = 0
  } else {
    state.days.forEach(state.from, newFrom - 1, (day) => {
      for (const d of day.bins.values()) {
        const bin = d.bin
        const w = state.bins.get(bin)
        if (w === undefined) continue
        w.amount -= d.amount
        w.credit -= d.credit
        state.amount -= d.amount
        state.count -= d.count
        if (w.amount <= 0) state.bins.delete(bin)
      }
    })
  }
  state.from = newFrom
  findTop(state)
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
    // One bucket more than the window, so a bucket leaving it can still be read and subtracted.
    days: new DayRing<Day>(BUCKETS + 1, () => ({ bins: new Map() })),
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
    const day = state.days.at(bucket)
    if (day === undefined) return moved
    let bin = txn.card_bin
    let w = state.bins.get(bin)
    if (w === undefined) {
      if (state.bins.size >= MAX_BINS) bin = POOLED
      w = state.bins.get(bin)
      if (w === undefined) {
        w = { bin, amount: 0, credit: 0 }
        state.bins.set(bin, w)
      }
    }
    // The day's entry uses the window's key, so that the day subtracts exactly what it added.
    let d = day.bins.get(bin)
    if (d === undefined) {
      d = { bin, amount: 0, credit: 0, count: 0, lo: 0, hi: 0 }
      day.bins.set(bin, d)
    }
    const credit = txn.card_type === 'CREDIT' ? txn.amount_minor : 0
    const bit = cardBit(txn.card_token)
    if (bit < 32) d.lo |= 1 << bit
    else d.hi |= 1 << (bit - 32)
    d.amount += txn.amount_minor
    d.credit += credit
    d.count++
    w.amount += txn.amount_minor
    w.credit += credit
    state.amount += txn.amount_minor
    state.count++
    const top = state.topBin
    if (bin !== POOLED && (top === null || w.amount > top.amount)) {
      state.top = bin
      state.topBin = w
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
    const w = state.bins.get(bin)
    if (w === undefined) return null
    const share = w.amount / state.amount
    const bound = calibratedBound(
      p.floor,
      { quantile: p.quantile, margin: p.margin, scale: 'linear' },
      ctx.peers?.topBinShare,
      ctx.population?.topBinShare,
    )
    if (share <= bound.threshold || w.credit / w.amount < p.minCreditShare) return null
    let lo = 0
    let hi = 0
    state.days.forEach(state.from, Math.floor(ctx.watermarkDay / BUCKET_DAYS), (day) => {
      const d = day.bins.get(bin)
      if (d === undefined) return
      lo |= d.lo
      hi |= d.hi
    })
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
        `(${(100 * (w.credit / w.amount)).toFixed(0)}% credit) on about ${Number.isFinite(cards) ? Math.round(cards) : 'over 250'} distinct cards, ` +
        `above ${describeBound(bound, p.floor, (x) => `${(100 * x).toFixed(1)}%`)}.`,
      basis: bound.basis,
    }
  },
})
