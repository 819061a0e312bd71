/**
 * Late delivery: terminals batch, go offline and upload later, so production traffic reaches the
 * acquirer partly out of event-time order. This stage takes a stream in event-time order and holds back
 * a seeded fraction of its transactions, each by a delay drawn from its class, handing every event out
 * in delivery order. It draws from its own generator, so the events themselves and the labels are the
 * same whatever the lateness; only the order (and the `deliveredAt` of the late ones) changes.
 */
import { prng } from './generator.ts'
import type { SimEvent } from './history.ts'

const MINUTE_MS = 60_000
const HOUR_MS = 3_600_000
/** Mixed into the seed so the lateness draws never repeat the history's own draws. */
export const LATE_SALT = 0x1a7e_d1e5

/** One class of late events: this share of the transactions, each late by a log-uniform delay in [minMs, maxMs]. */
export interface LateClass {
  share: number
  minMs: number
  maxMs: number
}

/**
 * The default: 1.5% of transactions a few minutes late (a terminal's batch upload), 0.3% hours late (a
 * terminal offline until the next day); 0.13% of transactions thus come later than the engine's default
 * allowed lateness of 6 hours, and change only the stored daily aggregates.
 */
export const DEFAULT_LATE = '0.015@1m-30m,0.003@1h-24h'

/** Where an event belongs in the delivered stream: when it reached the acquirer, then its event time and id. */
export function deliveryTime(e: SimEvent): number {
  return e.deliveredAt ?? e.value.event_time
}

function idOf(e: SimEvent): string {
  return e.topic === 'transactions' ? e.value.txn_id : e.value.event_id
}

/**
 * The order of a delivered stream (and of a simulated file): delivery time, then event time, then id.
 * On-time events have no `deliveredAt` and sort by event time and id, the order of the history itself.
 */
export function deliveryOrder(a: SimEvent, b: SimEvent): number {
  const da = deliveryTime(a)
  const db = deliveryTime(b)
  if (da !== db) return da - db
  const ta = a.value.event_time
  const tb = b.value.event_time
  if (ta !== tb) return ta - tb
  const ia = idOf(a)
  const ib = idOf(b)
  return ia < ib ? -1 : ia > ib ? 1 : 0
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/
const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: MINUTE_MS,
  h: HOUR_MS,
  d: 24 * HOUR_MS,
}

function parseDuration(text: string): number | null {
  const m = DURATION.exec(text)
  if (m === null) return null
  const ms = Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? Number.NaN)
  return Number.isFinite(ms) ? Math.round(ms) : null
}

/**
 * Parses `--late`: `0` or `off` for none, else comma-separated classes `<share>@<min>-<max>`, the share a
 * fraction of the transactions (or a percentage with `%`), the delays durations with a unit (ms, s, m,
 * h, d). Throws an Error naming the fault.
 */
export function parseLate(text: string): LateClass[] {
  const t = text.trim()
  if (t === '0' || t === 'off' || t === 'none') return []
  const classes = t.split(',').map((part) => {
    const m = /^([\d.]+)(%?)@([^-]+)-(.+)$/.exec(part.trim())
    if (m === null) throw new Error(`--late: "${part}" is not <share>@<min>-<max> (e.g. 0.015@1m-30m)`)
    const share = Number(m[1]) / (m[2] === '%' ? 100 : 1)
    const minMs = parseDuration(m[3] ?? '')
    const maxMs = parseDuration(m[4] ?? '')
    if (!Number.isFinite(share) || share < 0 || share > 1)
      throw new Error(`--late: share ${m[1]}${m[2]} is not in [0, 1]`)
    if (minMs === null || maxMs === null || minMs < 1 || maxMs < minMs)
      throw new Error(`--late: "${part}": delays need a unit (ms, s, m, h, d), 0 < min <= max`)
    return { share, minMs, maxMs }
  })
  if (classes.reduce((s, c) => s + c.share, 0) > 1)
    throw new Error('--late: the shares add up to more than 1')
  return classes
}

/**
 * Hands the events out in delivery order: each transaction is, with its class's share, delivered late
 * by a log-uniform delay of the class (more short delays than long ones, as uploads are); lifecycle
 * events come from the acquirer's own systems and stay on time. The input must be in event-time order
 * (as HistorySimulator.events() is); late events are held back until the stream reaches their delivery
 * time, so memory holds only the late ones in flight. Without classes the stream passes unchanged.
 */
export function* deliverLate(
  events: Iterable<SimEvent>,
  classes: readonly LateClass[],
  seed: number,
): Generator<SimEvent> {
  if (classes.every((c) => c.share === 0)) {
    yield* events
    return
  }
  const rand = prng((seed ^ LATE_SALT) >>> 0)
  // Late events waiting for their delivery time, latest first: the next one out is at the end.
  const held: SimEvent[] = []
  for (const e of events) {
    // Everything still to come is delivered at or after e's event time: what is due before it goes first.
    for (let next = held.at(-1); next !== undefined && deliveryOrder(next, e) < 0; next = held.at(-1)) {
      held.pop()
      yield next
    }
    const delay = e.topic === 'transactions' ? drawDelay(classes, rand) : 0
    if (delay === 0) {
      yield e
      continue
    }
    const late: SimEvent = { ...e, deliveredAt: e.value.event_time + delay }
    // Binary search for its place among the held events (descending delivery order).
    let lo = 0
    let hi = held.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const h = held[mid]
      if (h !== undefined && deliveryOrder(h, late) > 0) lo = mid + 1
      else hi = mid
    }
    held.splice(lo, 0, late)
  }
  for (let next = held.pop(); next !== undefined; next = held.pop()) yield next
}

/** 0 for an on-time event, else a delay of the class the draw falls in. */
/** A transaction's lateness: 0 (on time), or a log-uniform delay of the class the first draw falls in. */
export function drawDelay(classes: readonly LateClass[], rand: () => number): number {
  const u = rand()
  let acc = 0
  for (const c of classes) {
    acc += c.share
    if (u < acc) {
      const v = rand()
      return Math.round(c.minMs * (c.maxMs / c.minMs) ** v)
    }
  }
  return 0
}
