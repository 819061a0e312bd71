import { int, num } from './engine/params.ts'
import { defineRule, type MerchantProfile } from './engine/types.ts'
import { type DayColumns, Recent, type ShortDays } from './engine/window.ts'

/**
 * Terminal relocation: a device taken away from its registered address (to a cash-out shop, or lent to
 * another business) reports position fixes far from the merchant's registered location. One fix is
 * not enough: GPS cold starts and cell-tower fallbacks produce the odd wild fix, so the rule needs
 * several far fixes in one local day and reports the distance that several of them exceed.
 *
 * One such day is not enough either, unless it is in another city: honest merchants take a terminal to
 * a trade fair, a market trader sells at another market on some days, a delivery terminal goes where
 * the customer is. A terminal that moved is away on most of the days it is used. So a day far away
 * counts when it is at least `otherCityKm` away, or when the terminal was far on at least
 * `minFarDays` of the last `sustainDays` days and on at least half of the merchant's days with sales
 * in them. (Measured: an independently written generator's honest merchants had single days 10 to 14
 * km away, market stalls and furniture stores among them; every relocation of four populations is
 * away for days, or in another city.)
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

/** Columns of a day: the registered location the distances were measured against, the fixes. */
const REF_LAT = 0
const REF_LON = 1
const FIXES = 2
const FAR_FIXES = 3
const WIDTH = 4
const KEPT_DAYS = 2
/** The longest sustain window (`sustainDays`' maximum): the view of days with sales spans it. */
const SUSTAIN_DAYS = 7

/**
 * What a day with far fixes also keeps; most days have none, so it is created on the first. The
 * largest distances were columns of every day's row (nine numbers, in every merchant's ShortDays, zero
 * on nearly every day).
 */
interface Far {
  terminals: Set<string>
  samples: Recent<string>
  /** The day's largest far distances, descending, at most TOP. */
  top: number[]
}

interface Fix {
  day: number
  lat: number
  lon: number
  txnId: string
  terminalId: string
}

/** The days far away against one registered location: made at the first such day (few merchants have one). */
interface Moves {
  lat: number
  lon: number
  /** Local days on which far fixes reached the count floor, ascending, at most MOVE_DAYS. */
  days: number[]
}
const MOVE_DAYS = 31

interface State {
  relocDays: ShortDays
  /** The merchant's days with sales over the sustain window (a view of the shared rows, no cells of its own). */
  relocWeek: DayColumns
  relocMoves: Moves | null
  /** Far fixes' details by day, made at the first far fix: an empty map is some 180 bytes. */
  relocFar: Map<number, Far> | null
  /** Fixes that came before the registered address, made at the first (most merchants have an address). */
  relocPending: Fix[] | null
}

function record(
  state: State,
  dayNo: number,
  lat: number,
  lon: number,
  txnId: string,
  terminalId: string,
  lat0: number,
  lon0: number,
  maxKm: number,
  minFarFixes: number,
): void {
  const days = state.relocDays
  const day = days.at(dayNo)
  if (day < 0) return
  // A new registered address restarts the day: fixes measured against the old one prove nothing now.
  // (A fresh row reads 0, 0: restarting it changes nothing, so no row needs another mark of "new".)
  if (days.get(day, REF_LAT) !== lat0 || days.get(day, REF_LON) !== lon0) {
    days.set(day, FIXES, 0)
    days.set(day, FAR_FIXES, 0)
    state.relocFar?.delete(dayNo)
    days.set(day, REF_LAT, lat0)
    days.set(day, REF_LON, lon0)
  }
  days.add(day, FIXES, 1)
  const km = haversineKm(lat0, lon0, lat, lon)
  if (km <= maxKm) return
  days.add(day, FAR_FIXES, 1)
  if (days.get(day, FAR_FIXES) === minFarFixes) noteMove(state, dayNo, lat0, lon0)
  let byDay = state.relocFar
  if (byDay === null) {
    byDay = new Map()
    state.relocFar = byDay
  }
  let far = byDay.get(dayNo)
  if (far === undefined) {
    // The details follow the table's rows: those of days it dropped go with them.
    for (const d of byDay.keys()) if (d <= days.latest - KEPT_DAYS) byDay.delete(d)
    far = { terminals: new Set(), samples: new Recent<string>(5), top: [] }
    byDay.set(dayNo, far)
  }
  if (far.terminals.size < TOP) far.terminals.add(terminalId)
  far.samples.push(txnId)
  const top = far.top
  const length = top.length
  if (length === TOP && km <= (top[TOP - 1] ?? 0)) return
  let i = length < TOP ? length : TOP - 1
  if (length < TOP) top.push(0)
  while (i > 0 && (top[i - 1] ?? 0) < km) {
    top[i] = top[i - 1] ?? 0
    i--
  }
  top[i] = km
}

/** Notes `day` as a day far away from (lat0, lon0); a new registered location starts the list again. */
function noteMove(state: State, day: number, lat0: number, lon0: number): void {
  let moves = state.relocMoves
  if (moves === null || moves.lat !== lat0 || moves.lon !== lon0) {
    moves = { lat: lat0, lon: lon0, days: [] }
    state.relocMoves = moves
  }
  const days = moves.days
  if (days.includes(day)) return
  days.push(day)
  // Late fixes may note an earlier day after a later one.
  days.sort((a, b) => a - b)
  if (days.length > MOVE_DAYS) days.shift()
}

/** Days far away from (lat, lon) in [from, to]. */
function movesIn(moves: Moves | null, lat: number, lon: number, from: number, to: number): number {
  if (moves === null || moves.lat !== lat || moves.lon !== lon) return 0
  let n = 0
  for (const d of moves.days) if (d >= from && d <= to) n++
  return n
}

function flushPending(state: State, p: Readonly<MerchantProfile>, maxKm: number, minFarFixes: number): void {
  const pending = state.relocPending
  if (pending === null || pending.length === 0 || p.latitude === null || p.longitude === null) return
  for (const f of pending)
    record(state, f.day, f.lat, f.lon, f.txnId, f.terminalId, p.latitude, p.longitude, maxKm, minFarFixes)
  state.relocPending = null
}

export const relocation = defineRule({
  id: 'relocation',
  version: 2,
  category: 'compliance',
  family: 'location',
  description:
    'Several position fixes in one local day far from the registered location, on most days the terminal is used or in another city: the terminal is used elsewhere.',
  calibration:
    'Compares with the registered location: regulation defines the breach (a terminal used 10 km or more away). A day away counts when it is in another city, or when the terminal is away on most of its days; a single day at a fair or another market does not. Opens a review case by itself.',
  whitelistable: false,
  retentionDays: SUSTAIN_DAYS,
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
    otherCityKm: num({
      default: 50,
      min: 1,
      description:
        'A day whose far fixes are all at least this far away (another city) fires by itself; nearer, the terminal must be away for days.',
    }),
    minFarDays: int({
      default: 2,
      min: 1,
      max: 7,
      description:
        'Days with far fixes, within the last `sustainDays` and on at least half of the days with sales in them, before a nearer day away fires.',
    }),
    sustainDays: int({
      default: 7,
      min: 1,
      max: 7,
      description: 'The window, in local days up to today, over which days away are counted.',
    }),
  },
  createState: (sales): State => ({
    relocDays: sales.short(KEPT_DAYS, WIDTH),
    relocWeek: sales.columns(SUSTAIN_DAYS, 0),
    relocMoves: null,
    relocFar: null,
    relocPending: null,
  }),
  onTransaction(state, txn, ctx) {
    const { latitude: lat, longitude: lon } = txn
    // (0, 0) is what a receiver without a fix reports on many terminals, not a place in the Gulf of Guinea.
    if (lat === null || lon === null || (lat === 0 && lon === 0)) return false
    const p = ctx.profile
    if (p.latitude === null || p.longitude === null) {
      let pending = state.relocPending
      if (pending === null) {
        pending = []
        state.relocPending = pending
      }
      if (pending.length === PENDING) pending.shift()
      pending.push({ day: txn.localDay, lat, lon, txnId: txn.txn_id, terminalId: txn.terminal_id })
      return
    }
    const { maxDistanceKm: maxKm, minFarFixes } = ctx.params
    flushPending(state, p, maxKm, minFarFixes)
    record(
      state,
      txn.localDay,
      lat,
      lon,
      txn.txn_id,
      txn.terminal_id,
      p.latitude,
      p.longitude,
      maxKm,
      minFarFixes,
    )
  },
  onMerchantEvent(state, _event, ctx) {
    flushPending(state, ctx.profile, ctx.params.maxDistanceKm, ctx.params.minFarFixes)
  },
  evaluate(state, ctx) {
    const p = ctx.params
    const { latitude, longitude } = ctx.profile
    const days = state.relocDays
    const day = days.peek(ctx.watermarkDay)
    if (day < 0 || days.get(day, REF_LAT) !== latitude || days.get(day, REF_LON) !== longitude) return null
    const farFixes = days.get(day, FAR_FIXES)
    if (farFixes < p.minFarFixes) return null
    // A day with far fixes has its Far (made at the first, dropped with its row or a new address).
    const far = state.relocFar?.get(ctx.watermarkDay)
    const top = far?.top ?? []
    // The distance that `minFarFixes` fixes all exceed: robust to the one wild fix that the maximum is not.
    const observed = top[Math.min(p.minFarFixes, top.length) - 1] ?? 0
    const farthest = top[0] ?? 0
    const today = ctx.watermarkDay
    const from = today - p.sustainDays + 1
    const away = movesIn(state.relocMoves, latitude ?? 0, longitude ?? 0, from, today)
    let open = 0
    const week = state.relocWeek
    for (let o = week.first(from, today); o >= 0; o = week.next(o, today)) if (week.sales(o) > 0) open++
    const otherCity = observed >= p.otherCityKm
    if (!otherCity && (away < p.minFarDays || away * 2 < open)) return null
    const why = otherCity
      ? `at least ${p.otherCityKm} km away (another city)`
      : `away on ${away} of the last ${p.sustainDays} days, which had sales on ${open}`
    return {
      observed,
      threshold: p.maxDistanceKm,
      windowStart: ctx.dayStart(ctx.watermarkDay),
      windowEnd: ctx.dayStart(ctx.watermarkDay + 1),
      sampleTxnIds: far?.samples.toArray() ?? [],
      detail:
        `${farFixes} of ${days.get(day, FIXES)} position fixes today on ${far?.terminals.size ?? 0} terminal(s) were more than ` +
        `${p.maxDistanceKm} km from the registered location; ${p.minFarFixes} of them at least ` +
        `${observed.toFixed(1)} km away, the farthest ${farthest.toFixed(1)} km; ${why}.`,
    }
  },
})
