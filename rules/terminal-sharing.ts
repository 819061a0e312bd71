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

interface Binding {
  id: string
  time: number
  bound: boolean
}

interface Foreign {
  /** Event times and ids of the sales not covered by a binding, at most MAX_FOREIGN_TXNS (newest kept). */
  times: number[]
  ids: string[]
}

interface State {
  /** Binding events per terminal, in event-time order. */
  bindings: Map<string, Binding[]>
  /** Made at the first foreign sale: an empty map is some 180 bytes, and most merchants have none. */
  foreign: Map<string, Foreign> | null
  /** Entries in `foreign`: a cheap exit for the merchants with none. */
  foreignCount: number
}

/** Whether a sale at `t` falls in a binding of the terminal, give or take the grace either side. */
function covered(events: readonly Binding[] | undefined, t: number, graceMs: number): boolean {
  if (events === undefined) return false
  let last: Binding | undefined
  for (const e of events) {
    if (e.time > t) break
    last = e
  }
  if (last === undefined) {
    // Installed and tested a little before the binding's paperwork time.
    const first = events[0]
    return first?.bound === true && first.time - t <= graceMs
  }
  // The last sales of a terminal being retrieved come a little after its unbinding.
  return last.bound || t - last.time <= graceMs
}

function removeCovered(state: State, terminal: string, graceMs: number): void {
  const f = state.foreign?.get(terminal)
  if (f === undefined) return
  const events = state.bindings.get(terminal)
  for (let i = f.times.length - 1; i >= 0; i--) {
    if (covered(events, f.times[i] ?? 0, graceMs)) {
      f.times.splice(i, 1)
      f.ids.splice(i, 1)
      state.foreignCount--
    }
  }
  if (f.times.length === 0) state.foreign?.delete(terminal)
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
  createState: (): State => ({ bindings: new Map(), foreign: null, foreignCount: 0 }),
  onTransaction(state, txn, ctx) {
    // Bindings unknown: nothing to judge against, and no memory spent on merchants without a lifecycle feed.
    if (state.bindings.size === 0) return false
    const graceMs = ctx.params.graceMinutes * MINUTE_MS
    if (covered(state.bindings.get(txn.terminal_id), txn.event_time, graceMs)) return false
    let foreign = state.foreign
    if (foreign === null) {
      foreign = new Map()
      state.foreign = foreign
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
      state.foreignCount--
    }
    f.times.push(txn.event_time)
    f.ids.push(txn.txn_id)
    state.foreignCount++
  },
  onMerchantEvent(state, event, ctx) {
    const terminal = event.terminal_id
    if (terminal === null || (event.kind !== 'TERMINAL_BOUND' && event.kind !== 'TERMINAL_UNBOUND')) return
    let events = state.bindings.get(terminal)
    if (events === undefined) {
      if (state.bindings.size >= MAX_TERMINALS) {
        // Forget the terminal whose latest binding event is the oldest (Map order is first insertion).
        const stalest = state.bindings.keys().next()
        if (stalest.done !== true) state.bindings.delete(stalest.value)
      }
      events = []
      state.bindings.set(terminal, events)
    }
    if (events.some((e) => e.id === event.event_id)) return
    const item = { id: event.event_id, time: event.event_time, bound: event.kind === 'TERMINAL_BOUND' }
    let i = events.length
    while (i > 0 && (events[i - 1]?.time ?? 0) > item.time) i--
    events.splice(i, 0, item)
    if (events.length > MAX_BINDINGS) events.shift()
    // A late binding covers sales already counted as foreign. (A late unbinding cannot flag sales
    // already judged bound: they were not kept.)
    removeCovered(state, terminal, ctx.params.graceMinutes * MINUTE_MS)
  },
  evaluate(state, ctx) {
    const p = ctx.params
    const foreign = state.foreign
    if (state.bindings.size === 0 || foreign === null || state.foreignCount < p.minForeignTxns) return null
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
      if (state.bindings.has(terminal)) unbound++
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
