import { int } from './engine/params.ts'
import { defineRule } from './engine/types.ts'

/**
 * Terminal sharing, as one merchant's events show it: sales reported for this merchant on a terminal
 * that is not bound to it (never bound, or already unbound). That is a device lent by, or borrowed
 * from, another business, which regulation forbids.
 *
 * Per merchant only: the other half, one terminal bound to several merchants at once, needs state keyed
 * by terminal across merchants, which the per-merchant engine does not have yet. A merchant whose
 * bindings were never seen (no TERMINAL_BOUND event) stays silent: every terminal would look foreign.
 *
 * The rule opens a case by itself, so a sale counts only once its local day is over (`settleDays`): a
 * lifecycle feed that runs hours behind the sales (an honest terminal swap keyed in after the new
 * device's first sales) would otherwise put the merchant in the queue until the hit decays.
 */
const WINDOW_DAYS = 30
const MINUTE_MS = 60_000
/** Bounds of the per-merchant state: binding events per terminal, terminals, foreign sales kept. */
const MAX_BINDINGS = 8
const MAX_TERMINALS = 64
const MAX_FOREIGN_TERMINALS = 16
const MAX_FOREIGN_TXNS = 32

interface Foreign {
  /** Event times and ids of the sales not covered by a binding, at most MAX_FOREIGN_TXNS (newest kept). */
  times: number[]
  ids: string[]
}

/**
 * The binding events, grouped by terminal (groups in order of the terminal's first event, as a map's
 * keys were; each in event-time order), as pairs in two flat arrays: terminal and event id in `sharingKeys`,
 * time and 1 (bound) or 0 (unbound) in `sharingMarks`. A map of arrays of objects was some 400 bytes for a
 * merchant with one terminal; binding events are rare, so the arrays are copied at their exact size
 * on each one, and a sale scans them (a merchant has a few terminals).
 */
interface State {
  sharingKeys: string[]
  sharingMarks: number[]
  /** Made at the first foreign sale: an empty map is some 180 bytes, and most merchants have none. */
  sharingForeign: Map<string, Foreign> | null
  /** Entries in `sharingForeign`: a cheap exit for the merchants with none. */
  sharingForeignCount: number
}

const NONE: string[] = []
const NO_MARKS: number[] = []

/** The first event of `terminal` (a pair index), or -1. */
function groupOf(keys: readonly string[], terminal: string): number {
  for (let k = 0; k < keys.length; k += 2) if (keys[k] === terminal) return k / 2
  return -1
}

/** The end of the group that starts at pair `g`. */
function groupEnd(keys: readonly string[], g: number): number {
  const terminal = keys[2 * g]
  let e = g + 1
  while (2 * e < keys.length && keys[2 * e] === terminal) e++
  return e
}

/** `cells` with `a`, `b` put at pair `i`: a new array of exact size. */
function withPair<T>(cells: readonly T[], i: number, a: T, b: T): T[] {
  return cells.slice(0, 2 * i).concat([a, b], cells.slice(2 * i))
}

/** `cells` without pairs [from, to): a new array of exact size. */
function withoutPairs<T>(cells: readonly T[], from: number, to: number): T[] {
  return cells.slice(0, 2 * from).concat(cells.slice(2 * to))
}

/** Whether a sale at `t` falls in a binding of the terminal, give or take the grace either side. */
function covered(state: State, terminal: string, t: number, graceMs: number): boolean {
  const keys = state.sharingKeys
  const g = groupOf(keys, terminal)
  if (g < 0) return false
  const marks = state.sharingMarks
  let last = -1
  for (let e = g; 2 * e < keys.length && keys[2 * e] === terminal; e++) {
    if ((marks[2 * e] ?? 0) > t) break
    last = e
  }
  if (last < 0) {
    // Installed and tested a little before the binding's paperwork time.
    return marks[2 * g + 1] === 1 && (marks[2 * g] ?? 0) - t <= graceMs
  }
  // The last sales of a terminal being retrieved come a little after its unbinding.
  return marks[2 * last + 1] === 1 || t - (marks[2 * last] ?? 0) <= graceMs
}

function removeCovered(state: State, terminal: string, graceMs: number): void {
  const f = state.sharingForeign?.get(terminal)
  if (f === undefined) return
  for (let i = f.times.length - 1; i >= 0; i--) {
    if (covered(state, terminal, f.times[i] ?? 0, graceMs)) {
      f.times.splice(i, 1)
      f.ids.splice(i, 1)
      state.sharingForeignCount--
    }
  }
  if (f.times.length === 0) state.sharingForeign?.delete(terminal)
}

export const terminalSharing = defineRule({
  id: 'terminal_sharing',
  version: 1,
  category: 'compliance',
  family: 'lifecycle',
  description:
    'Sales on a terminal not bound to the merchant, never or no longer (30 days; terminals bound to several merchants are not covered yet).',
  calibration:
    'Compares with the terminal bindings: sales on a terminal not bound to the merchant, counted once their local day is over (a binding keyed in late the same day covers them first). Opens a case by itself.',
  whitelistable: true,
  retentionDays: WINDOW_DAYS,
  clock: 'day',
  params: {
    minForeignTxns: int({
      default: 3,
      min: 1,
      max: MAX_FOREIGN_TXNS,
      description: 'Count floor: sales on unbound terminals in 30 days that fire the rule.',
    }),
    graceMinutes: int({
      default: 60,
      min: 0,
      description:
        'Sales this close before a binding or after an unbinding still count as bound (installation, retrieval).',
    }),
    settleDays: int({
      default: 1,
      min: 0,
      max: 7,
      description:
        "Sales of the merchant's latest this many local days are not counted yet: a binding keyed in hours after the first sales on a new terminal (the lifecycle feed behind the sales) covers them before they count. 0 counts at once.",
    }),
  },
  createState: (): State => ({
    sharingKeys: NONE,
    sharingMarks: NO_MARKS,
    sharingForeign: null,
    sharingForeignCount: 0,
  }),
  onTransaction(state, txn, ctx) {
    // Bindings unknown: nothing to judge against, and no memory spent on merchants without a lifecycle feed.
    if (state.sharingKeys.length === 0) return false
    const graceMs = ctx.params.graceMinutes * MINUTE_MS
    if (covered(state, txn.terminal_id, txn.event_time, graceMs)) return false
    let foreign = state.sharingForeign
    if (foreign === null) {
      foreign = new Map()
      state.sharingForeign = foreign
    }
    let f = foreign.get(txn.terminal_id)
    if (f === undefined) {
      if (foreign.size >= MAX_FOREIGN_TERMINALS) return false
      f = { times: [], ids: [] }
      foreign.set(txn.terminal_id, f)
    }
    if (f.times.length >= MAX_FOREIGN_TXNS) {
      // Keep the newest: drop the oldest by event time (late sales make arrival order unreliable).
      let oldest = 0
      for (let i = 1; i < f.times.length; i++) if ((f.times[i] ?? 0) < (f.times[oldest] ?? 0)) oldest = i
      if ((f.times[oldest] ?? 0) >= txn.event_time) return false
      f.times.splice(oldest, 1)
      f.ids.splice(oldest, 1)
      state.sharingForeignCount--
    }
    f.times.push(txn.event_time)
    f.ids.push(txn.txn_id)
    state.sharingForeignCount++
  },
  onMerchantEvent(state, event, ctx) {
    const terminal = event.terminal_id
    if (terminal === null || (event.kind !== 'TERMINAL_BOUND' && event.kind !== 'TERMINAL_UNBOUND')) return
    let g = groupOf(state.sharingKeys, terminal)
    let end: number
    if (g < 0) {
      let terminals = 0
      for (let k = 0; k < state.sharingKeys.length; k += 2)
        if (k === 0 || state.sharingKeys[k] !== state.sharingKeys[k - 2]) terminals++
      if (terminals >= MAX_TERMINALS) {
        // Forget the terminal seen first (what a map's first key was).
        const stalest = groupEnd(state.sharingKeys, 0)
        state.sharingKeys = withoutPairs(state.sharingKeys, 0, stalest)
        state.sharingMarks = withoutPairs(state.sharingMarks, 0, stalest)
      }
      g = state.sharingKeys.length / 2
      end = g
    } else {
      end = groupEnd(state.sharingKeys, g)
      for (let e = g; e < end; e++) if (state.sharingKeys[2 * e + 1] === event.event_id) return
    }
    const time = event.event_time
    let i = end
    while (i > g && (state.sharingMarks[2 * (i - 1)] ?? 0) > time) i--
    state.sharingKeys = withPair(state.sharingKeys, i, terminal, event.event_id)
    state.sharingMarks = withPair(state.sharingMarks, i, time, event.kind === 'TERMINAL_BOUND' ? 1 : 0)
    if (end + 1 - g > MAX_BINDINGS) {
      state.sharingKeys = withoutPairs(state.sharingKeys, g, g + 1)
      state.sharingMarks = withoutPairs(state.sharingMarks, g, g + 1)
    }
    // A late binding covers sales already counted as foreign. (A late unbinding cannot flag sales
    // already judged bound: they were not kept.)
    removeCovered(state, terminal, ctx.params.graceMinutes * MINUTE_MS)
  },
  evaluate(state, ctx) {
    const p = ctx.params
    const foreign = state.sharingForeign
    if (state.sharingKeys.length === 0 || foreign === null || state.sharingForeignCount < p.minForeignTxns)
      return null
    const from = ctx.watermarkDay - WINDOW_DAYS + 1
    const windowStart = ctx.dayStart(from)
    const settled = ctx.dayStart(ctx.watermarkDay - p.settleDays + 1)
    let count = 0
    let neverBound = 0
    let unbound = 0
    const samples: string[] = []
    for (const [terminal, f] of foreign) {
      let n = 0
      f.times.forEach((t, i) => {
        if (t < windowStart || t >= settled) return
        n++
        const id = f.ids[i]
        if (id !== undefined && samples.length < 5) samples.push(id)
      })
      if (n === 0) continue
      count += n
      if (groupOf(state.sharingKeys, terminal) >= 0) unbound++
      else neverBound++
    }
    if (count < p.minForeignTxns) return null
    return {
      observed: count,
      threshold: p.minForeignTxns,
      windowStart,
      windowEnd: ctx.dayStart(ctx.watermarkDay + 1),
      sampleTxnIds: samples,
      detail:
        `${count} sales in 30 days were made on terminals not bound to the merchant: ` +
        `${neverBound} terminal(s) never bound to it, ${unbound} used outside their binding.`,
    }
  },
})
