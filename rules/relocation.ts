import { int, num } from './engine/params.ts'
import { defineRule, type MerchantProfile } from './engine/types.ts'
import { DayRing, Recent } from './engine/window.ts'

/**
 * Terminal relocation: a device taken away from its registered address (to a cash-out shop, or lent to
 * another business) reports position fixes far from the merchant's registered location. One fix is
 * not enough: GPS cold starts and cell-tower fallbacks produce the odd wild fix, so the rule needs
 * several far fixes in one local day and reports the distance that several of them exceed.
 */
const EARTH_RADIUS_KM = 6371.0088
const RAD = Math.PI / 180
/** The far distances kept per day, largest first; `minFarFixes` may not exceed it. */
const TOP = 8
/** Fixes buffered while the registered location is unknown (the onboarding event may come late). */
const PENDING = 16

function haversineKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const dLat = (lat2 - lat1) * RAD
  const dLon = (lon2 - lon1) * RAD
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * RAD) * Math.cos(lat2 * RAD) * Math.sin(dLon / 2) ** 2
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)))
}

interface Day {
  /** The registered location the distances were measured against. */
  refLat: number
  refLon: number
  fixes: number
  farFixes: number
  /** The largest far distances of the day, descending, at most TOP. */
  top: number[]
  terminals: Set<string>
  samples: Recent<string>
}

interface Fix {
  day: number
  lat: number
  lon: number
  txnId: string
  terminalId: string
}

interface State {
  days: DayRing<Day>
  pending: Fix[]
}

function newDay(): Day {
  return {
    refLat: Number.NaN,
    refLon: Number.NaN,
    fixes: 0,
    farFixes: 0,
    top: [],
    terminals: new Set(),
    samples: new Recent<string>(5),
  }
}

/** Clears a day in place: a fresh day (the common case) is left as it is, with nothing allocated. */
function restart(day: Day): void {
  day.fixes = 0
  day.farFixes = 0
  day.top.length = 0
  day.terminals.clear()
  day.samples.clear()
}

function record(state: State, fix: Fix, lat0: number, lon0: number, maxKm: number): void {
  const day = state.days.at(fix.day)
  if (day === undefined) return
  // A new registered address restarts the day: fixes measured against the old one prove nothing now.
  if (day.refLat !== lat0 || day.refLon !== lon0) {
    restart(day)
    day.refLat = lat0
    day.refLon = lon0
  }
  day.fixes++
  const km = haversineKm(lat0, lon0, fix.lat, fix.lon)
  if (km <= maxKm) return
  day.farFixes++
  if (day.terminals.size < TOP) day.terminals.add(fix.terminalId)
  day.samples.push(fix.txnId)
  const top = day.top
  if (top.length === TOP && km <= (top[TOP - 1] ?? 0)) return
  let i = top.length < TOP ? top.length : TOP - 1
  while (i > 0 && (top[i - 1] ?? 0) < km) {
    top[i] = top[i - 1] ?? 0
    i--
  }
  top[i] = km
}

function flushPending(state: State, p: Readonly<MerchantProfile>, maxKm: number): void {
  if (state.pending.length === 0 || p.latitude === null || p.longitude === null) return
  for (const fix of state.pending) record(state, fix, p.latitude, p.longitude, maxKm)
  state.pending.length = 0
}

export const relocation = defineRule({
  id: 'relocation',
  version: 1,
  category: 'compliance',
  family: 'location',
  description:
    'Several position fixes in one local day far from the registered location: the terminal is used elsewhere.',
  whitelistable: false,
  retentionDays: 2,
  clock: 'day',
  params: {
    maxDistanceKm: num({
      default: 10,
      min: 0.5,
      description: 'Distance from the registered location, km, beyond which a fix counts as far.',
    }),
    minFarFixes: int({
      default: 3,
      min: 1,
      max: TOP,
      description:
        'Count floor: far fixes in one local day before the rule fires (one noisy fix is not a move).',
    }),
  },
  createState: (): State => ({
    days: new DayRing<Day>(2, newDay),
    pending: [],
  }),
  onTransaction(state, txn, ctx) {
    const { latitude: lat, longitude: lon } = txn
    // (0, 0) is what a receiver without a fix reports on many terminals, not a place in the Gulf of Guinea.
    if (lat === null || lon === null || (lat === 0 && lon === 0)) return false
    const fix = { day: txn.localDay, lat, lon, txnId: txn.txn_id, terminalId: txn.terminal_id }
    const p = ctx.profile
    if (p.latitude === null || p.longitude === null) {
      if (state.pending.length === PENDING) state.pending.shift()
      state.pending.push(fix)
      return
    }
    flushPending(state, p, ctx.params.maxDistanceKm)
    record(state, fix, p.latitude, p.longitude, ctx.params.maxDistanceKm)
  },
  onMerchantEvent(state, _event, ctx) {
    flushPending(state, ctx.profile, ctx.params.maxDistanceKm)
  },
  evaluate(state, ctx) {
    const p = ctx.params
    const { latitude, longitude } = ctx.profile
    const day = state.days.peek(ctx.watermarkDay)
    if (day === undefined || day.refLat !== latitude || day.refLon !== longitude) return null
    if (day.farFixes < p.minFarFixes) return null
    // The distance that `minFarFixes` fixes all exceed: robust to the one wild fix that the maximum is not.
    const observed = day.top[Math.min(p.minFarFixes, day.top.length) - 1] ?? 0
    const farthest = day.top[0] ?? 0
    return {
      observed,
      threshold: p.maxDistanceKm,
      windowStart: ctx.dayStart(ctx.watermarkDay),
      windowEnd: ctx.dayStart(ctx.watermarkDay + 1),
      sampleTxnIds: day.samples.toArray(),
      detail:
        `${day.farFixes} of ${day.fixes} position fixes today on ${day.terminals.size} terminal(s) were more than ` +
        `${p.maxDistanceKm} km from the registered location; ${p.minFarFixes} of them at least ` +
        `${observed.toFixed(1)} km away, the farthest ${farthest.toFixed(1)} km.`,
    }
  },
})
