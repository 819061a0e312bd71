import { int } from '../engine/params.ts'
import { defineEntityRule, type EntityFinding, type EntityView, ongoingWindowEnd } from './engine.ts'

const MINUTE_MS = 60_000
const RETENTION_DAYS = 90

interface Episode {
  start: number
  /** Exclusive; +Infinity while the overlap lasts. */
  end: number
  members: Map<string, string[]>
  peak: number
}

/**
 * The periods, by event time, in which at least `min` merchants had the terminal bound at once. Each
 * merchant's binding runs from a TERMINAL_BOUND to its next TERMINAL_UNBOUND. Computed from the
 * binding events by event time, not arrival: merchant events of different merchants come through
 * different ingest partitions, so an unbinding may arrive after the next merchant's binding.
 */
function overlaps(entity: EntityView, min: number): Episode[] {
  const points: { at: number; delta: 1 | -1; merchant: string; id: string }[] = []
  for (const [merchant, list] of entity.bindings) {
    let open: string | null = null
    for (const b of list) {
      if (b.bound && open === null) {
        open = b.id
        points.push({ at: b.at, delta: 1, merchant, id: b.id })
      } else if (!b.bound && open !== null) {
        open = null
        points.push({ at: b.at, delta: -1, merchant, id: b.id })
      }
    }
  }
  // Ends before starts at the same instant: unbind-then-bind in the same millisecond is a clean handover.
  points.sort((a, b) => a.at - b.at || a.delta - b.delta || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const active = new Map<string, string>()
  const out: Episode[] = []
  let current: Episode | null = null
  for (const p of points) {
    if (p.delta === 1) active.set(p.merchant, p.id)
    else active.delete(p.merchant)
    if (current === null && active.size >= min) {
      current = { start: p.at, end: Number.POSITIVE_INFINITY, members: new Map(), peak: 0 }
      out.push(current)
    }
    if (current === null) continue
    if (active.size < min) {
      current.end = p.at
      current = null
      continue
    }
    current.peak = Math.max(current.peak, active.size)
    for (const [m, id] of active) if (!current.members.has(m)) current.members.set(m, [id])
  }
  return out
}

function day(t: number): string {
  return new Date(t).toISOString().slice(0, 16).replace('T', ' ')
}

/**
 * One terminal bound to more than one merchant at the same time: the cross-merchant half of
 * terminal_sharing (per merchant, that rule sees sales on terminals not bound to it).
 *
 * A handover whose unbinding is recorded a little after the next binding (paperwork) is not sharing:
 * an overlap counts once it has lasted `graceMinutes` of event time. An ongoing overlap is therefore
 * judged against the engine's clock (the latest event time on any entity), as terminals' own events are
 * rare, and while it lasts its finding is `ongoing`: a fresh version each UTC day of the clock, as for an
 * account shared now (spread.ts). Bindings that ended before the retention are forgotten, since a
 * rebuild replays only that far; one that still holds is kept however old.
 */
export const sharedTerminal = defineEntityRule({
  id: 'shared_terminal',
  version: 2,
  category: 'compliance',
  family: 'lifecycle',
  kind: 'terminal',
  description:
    'One terminal bound to more than one merchant at the same time (bindings of the last 90 days).',
  calibration:
    'Counts the merchants bound to one terminal at the same time: a lifecycle fact, compared with nothing. Opens a case by itself.',
  whitelistable: true,
  retentionDays: RETENTION_DAYS,
  params: {
    minMerchants: int({
      default: 2,
      min: 2,
      max: 64,
      description: 'Merchants the terminal is bound to at the same time that fire the rule.',
    }),
    graceMinutes: int({
      default: 60,
      min: 0,
      max: 7 * 24 * 60,
      description: 'An overlap shorter than this is a handover (unbinding recorded late), not sharing.',
    }),
  },
  createState: () => ({}),
  evaluate(_state, entity, p, clock): EntityFinding | null {
    const graceMs = p.graceMinutes * MINUTE_MS
    const now = Math.max(clock, entity.watermark)
    const episodes = overlaps(entity, p.minMerchants)
    for (let i = episodes.length - 1; i >= 0; i--) {
      const e = episodes[i]
      if (e === undefined || Math.min(e.end, now) - e.start < graceMs) continue
      const ongoing = e.end === Number.POSITIVE_INFINITY
      const count = e.members.size
      return {
        observed: e.peak,
        threshold: p.minMerchants,
        windowStart: e.start,
        // A terminal still shared is a state that holds now: its window ends with the clock's UTC day
        // and the engine publishes it afresh each day, so its points do not decay while it lasts.
        windowEnd: ongoing ? ongoingWindowEnd(now) : e.end,
        ongoing,
        merchants: e.members,
        detail: (others) =>
          `The terminal was bound to this merchant and ${others} other merchant(s) at the same time ` +
          (ongoing
            ? `since ${day(e.start)} UTC, still bound.`
            : `from ${day(e.start)} to ${day(e.end)} UTC.`) +
          (count > e.peak ? ` At most ${e.peak} at once.` : ''),
      }
    }
    return null
  },
})
