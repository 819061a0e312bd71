import { type Binding, type EntityFinding, type EntityView, ongoingWindowEnd } from './engine.ts'

const DAY_MS = 86_400_000

/** Per entity: the start of the current firing episode and which measure fired, or null while silent. */
export interface SpreadState {
  anchor: number | null
  standing: boolean
}

/**
 * The measures of shared_settlement_account, from each merchant's binding events on the account:
 * - standing: the merchants whose latest binding event binds (bound now, however long ago), counted
 *   by registered MCC, so that a chain's branches of one trade count once. A merchant whose MCC is
 *   unknown counts as a trade of its own.
 * - window: distinct merchants bound by an event within `windowDays` of the entity's latest event.
 *
 * The window start reported (and hashed into the hit id) is the start of the firing episode: for the
 * standing measure, the latest binding among the merchants counted when it began to fire; for the
 * window, the earliest counted binding then. The standing measure is a state that holds now: its window
 * ends with the engine clock's UTC day and the finding is `ongoing`, so the engine publishes it afresh
 * each day it holds. It is kept while the same measure keeps firing, so a
 * growing finding updates its rows instead of adding one per record. A replay applies the same records
 * in the same partition order and reaches the same anchors.
 */
export function spreadFinding(
  state: SpreadState,
  entity: EntityView,
  clock: number,
  p: { readonly windowDays: number; readonly minMerchants: number; readonly minTrades: number },
  detail: {
    readonly standing: (count: number, trades: number, others: number) => string
    readonly window: (count: number, others: number) => string
  },
): EntityFinding | null {
  const bound = new Map<string, Binding>()
  for (const [m, list] of entity.bindings) {
    const last = list.at(-1)
    if (last?.bound === true) bound.set(m, last)
  }
  const trades = new Set<string>()
  for (const [m, b] of bound) trades.add(b.mcc ?? `\u0000${m}`)
  if (trades.size >= p.minTrades) {
    if (state.anchor === null || !state.standing) {
      let latest = Number.NEGATIVE_INFINITY
      for (const b of bound.values()) if (b.at > latest) latest = b.at
      state.anchor = latest
      state.standing = true
    }
    const count = bound.size
    const kinds = trades.size
    // The state holds today: the window ends with the clock's UTC day, a new hit version each day.
    const now = Math.max(clock, entity.watermark)
    return {
      observed: kinds,
      threshold: p.minTrades,
      windowStart: state.anchor,
      windowEnd: ongoingWindowEnd(now),
      ongoing: true,
      merchants: new Map([...bound].map(([m, b]) => [m, [b.id]])),
      detail: (others) => detail.standing(count, kinds, others),
    }
  }

  const from = entity.watermark - p.windowDays * DAY_MS
  const merchants = new Map<string, readonly string[]>()
  let earliest = Number.POSITIVE_INFINITY
  for (const [m, list] of entity.bindings) {
    for (let i = list.length - 1; i >= 0; i--) {
      const b = list[i]
      if (b === undefined || b.at <= from) break
      if (!b.bound) continue
      merchants.set(m, [b.id])
      if (b.at < earliest) earliest = b.at
      break
    }
  }
  if (merchants.size < p.minMerchants) {
    state.anchor = null
    return null
  }
  if (state.anchor === null || state.standing) {
    state.anchor = earliest
    state.standing = false
  }
  const count = merchants.size
  return {
    observed: count,
    threshold: p.minMerchants,
    windowStart: state.anchor,
    windowEnd: entity.watermark + 1,
    merchants,
    detail: (others) => detail.window(count, others),
  }
}
