import type { MerchantEvent } from '../schemas/types.generated.ts'
import { type FieldChange, keepChange, realChanges } from './engine/changes.ts'
import { int, num } from './engine/params.ts'
import { defineRule, type Finding, type RuleContext } from './engine/types.ts'
import type { DayColumns } from './engine/window.ts'

/**
 * MCC jumping: a merchant submits transactions under a category other than the one it registered,
 * usually a cheaper one (a jeweller posting as a supermarket or a charity) so that the merchant
 * discount fee on each swipe is lower, which is what makes cash-out through it affordable. Any submission into a cheaper fee
 * tier fires; other mismatches (same tier, or dearer) fire only above a share of the volume, since
 * terminals keep an old MCC for a while after a legitimate re-registration.
 *
 * A re-registration (MCC_CHANGED) is not a breach of the new registration by the sales made under the
 * old one: sales under an earlier registered MCC until `graceDays` after that registration ended were
 * the registration then, or a terminal not yet updated (measured: an independently written generator's
 * three honest re-registrations each opened a compliance case, their sales before the change taken as
 * cheaper-tier submissions against the new MCC). Every earlier registration counts (version 4): with
 * only the last one remembered, a merchant registered X, then Y, then Z within a month had its sales
 * under X, made while X was its registration, reported as submissions under an MCC other than Z.
 *
 * MCC jumping done on paper: a merchant that re-registers its MCC again and again (a restaurant
 * registered as a variety store, then as services, then as a department store) moves between fee tiers
 * and between the cohorts its sales are compared with, with no sale ever submitted under another MCC
 * than the registered one. A correction or an honest change of trade is one re-registration; the rule
 * also fires on `minRegistrationChanges` (2) within `registrationWindowDays` (90), the count
 * settlement_churn uses for the account.
 *
 * The tiers follow the shape of the Chinese 2016 card-fee schedule: public-welfare categories free,
 * "essential" categories discounted, everything else standard. The rates are parameters.
 */
const PUBLIC_MCCS = new Set([
  '8062', // hospitals
  '8211', // elementary and secondary schools
  '8220', // colleges and universities
  '8398', // charitable and social service organisations
  '9211', // court costs
  '9222', // fines
  '9311', // tax payments
  '9399', // government services
])
const ESSENTIAL_MCCS = new Set([
  '5411', // grocery stores and supermarkets
  '5300', // wholesale clubs
  '4900', // utilities
  '4111', // commuter transport
  '4131', // bus lines
  '5541', // service stations
  '5542', // automated fuel dispensers
])

const WINDOW_DAYS = 30
const DAY_MS = 86_400_000
/** The widest re-registration window, days. */
const MAX_REGISTRATION_DAYS = 90
/** Registration events kept per merchant, oldest dropped first; far above any sane change rate. */
const MAX_REGISTRATIONS = 16
/** Distinct submitted MCCs tallied per day; more go to an overflow entry (counted as a plain mismatch). */
const MAX_MCCS_PER_DAY = 8
const OVERFLOW = '*'

/**
 * What a day's mismatches come to, measured against the registered MCC in `State.mccRef`: a row of
 * `State.mccMismatches` per day that has one (rare), the day first. A day's sales and amount, all MCCs,
 * are the shared row's (counted by the engine, see SaleDays): every approved sale the view accepts is
 * measured, so they were the same two numbers. The seven measures in every day's shared row, five
 * of them zeros on the days without a mismatch, were a quarter of the rows' width.
 */
const M_DAY = 0
const CHEAPER_COUNT = 1
const CHEAPER_AMOUNT = 2
/** Fee the registered category would have charged on the cheaper-mismatched amount, minus the fee paid. */
const FEE_AVOIDED = 3
const OTHER_COUNT = 4
const OTHER_AMOUNT = 5
const M_ROW = 6
/**
 * The view's column in the shared rows: the day's approved sales by submitted MCC, the raw material
 * to measure when the registered MCC changes: how many MCCs, and a tally (MCC id, count, amount) for
 * each, in order of first submission. The first tally's MCC is in the row, its count and amount are
 * the day's sales and amount less the other tallies'; a day's further tallies (rare) are in
 * `State.mccMore`. Every sale the view accepts is in exactly one tally, and the view is as wide as the
 * rows, so the difference is exact (amounts are integers). The number of tallies (at most
 * MAX_MCCS_PER_DAY + 1, the overflow's) and the first one's MCC share the column, as
 * `tallies + TALLY_SPAN * first MCC id`: a column of every day's row of every merchant.
 */
const TALLIES = 0
const TALLY_SPAN = 16
const WIDTH = 1
/** Fields of a tally. */
const ID = 0
const TALLY_COUNT = 1
const TALLY_AMOUNT = 2
const TALLY = 3

/**
 * MCC strings as small numbers, so a day's tallies fit in its table row. Ingest admits four-digit MCCs
 * only, so the table holds at most 10,001 entries whatever the traffic.
 */
const MCC_IDS = new Map<string, number>()
const MCC_NAMES: string[] = []

function mccId(mcc: string): number {
  let id = MCC_IDS.get(mcc)
  if (id === undefined) {
    id = MCC_NAMES.length
    MCC_NAMES.push(mcc)
    MCC_IDS.set(mcc, id)
  }
  return id
}

interface State {
  mccDays: DayColumns
  /** The tallies after the first of the days that have more than one, by day; made at the first (rare). */
  mccMore: Map<number, number[]> | null
  /** Rows of `M_ROW` numbers of the days with a mismatch, oldest first; made at the first (rare). */
  mccMismatches: number[] | null
  /** The registered MCC the day counters were measured against. */
  mccRef: string | null
  /**
   * The parameters whose rates the counters were measured with, so a reload of parameters with other
   * rates re-measures: the resolver's object (a reload makes new ones, never changes one), not three
   * copies of its rates (boxed doubles in every merchant's record, 24 bytes each); null before any.
   */
  mccRates: Rates | null
  /**
   * The MCCs registered before the current one, each with the local day its registration ended (the
   * change's own day), oldest first; those whose grace ended before the window go. Made at the first
   * re-registration (rare).
   */
  mccPrevious: { readonly mcc: string; readonly day: number }[] | null
  /**
   * Re-registrations (MCC_CHANGED) within the widest window (engine/changes.ts), made at the first: the
   * MCC registered before it, then each change. Null for the merchants that never re-register.
   */
  mccRegistrations: FieldChange[] | null
}

interface Rates {
  readonly feeStandardBp: number
  readonly feeEssentialBp: number
  readonly feePublicBp: number
  readonly graceDays: number
}

/** The rule's parameters (see `params` below). */
interface MccParams extends Rates {
  readonly minCheaperTxns: number
  readonly otherShareThreshold: number
  readonly minOtherTxns: number
  readonly minTxns: number
  readonly minRegistrationChanges: number
  readonly registrationWindowDays: number
}

/**
 * Whether sales under `mcc` on `dayNo` breach the registration `ref`: not when `mcc` was registered
 * before and the day is within `graceDays` after that registration ended (see the file comment on
 * re-registrations). Every earlier registration counts, not only the last: a merchant re-registered
 * twice in a month made its first weeks' sales under its first MCC, which was its registration then.
 */
function mismatched(state: State, dayNo: number, mcc: string, ref: string, r: Rates): boolean {
  if (mcc === ref) return false
  const previous = state.mccPrevious
  if (previous === null) return true
  for (const p of previous) if (p.mcc === mcc && dayNo <= p.day + r.graceDays) return false
  return true
}

function feeBp(mcc: string, r: Rates): number {
  if (PUBLIC_MCCS.has(mcc)) return r.feePublicBp
  if (ESSENTIAL_MCCS.has(mcc)) return r.feeEssentialBp
  return r.feeStandardBp
}

/** How many tallies the day at `o` has. */
function talliesOf(days: DayColumns, o: number): number {
  return days.get(o, TALLIES) % TALLY_SPAN
}

/** Offset of the mismatch row of `dayNo`, made when new; the rows of days the view dropped go. */
function mismatchRow(state: State, dayNo: number): number {
  let rows = state.mccMismatches
  if (rows === null) {
    rows = []
    state.mccMismatches = rows
  }
  let o = rows.length - M_ROW
  while (o >= 0 && (rows[o + M_DAY] ?? 0) > dayNo) o -= M_ROW
  if (o >= 0 && rows[o + M_DAY] === dayNo) return o
  const oldest = state.mccDays.latest - state.mccDays.size
  let drop = 0
  while (drop < rows.length && (rows[drop + M_DAY] ?? 0) <= oldest) drop += M_ROW
  if (drop > 0) {
    rows.splice(0, drop)
    o -= drop
  }
  const row = o + M_ROW
  rows.splice(row, 0, dayNo, 0, 0, 0, 0, 0)
  return row
}

/**
 * Measures `count` sales of `amount` of the day `dayNo`, submitted under `mcc`, against `ref`; true
 * when they are a mismatch.
 */
function measure(
  state: State,
  dayNo: number,
  mcc: string,
  count: number,
  amount: number,
  ref: string,
  r: Rates,
): boolean {
  if (!mismatched(state, dayNo, mcc, ref, r)) return false
  const o = mismatchRow(state, dayNo)
  const rows = state.mccMismatches ?? []
  const gap = mcc === OVERFLOW ? 0 : feeBp(ref, r) - feeBp(mcc, r)
  if (gap > 0) {
    rows[o + CHEAPER_COUNT] = (rows[o + CHEAPER_COUNT] ?? 0) + count
    rows[o + CHEAPER_AMOUNT] = (rows[o + CHEAPER_AMOUNT] ?? 0) + amount
    rows[o + FEE_AVOIDED] = (rows[o + FEE_AVOIDED] ?? 0) + (amount * gap) / 10_000
  } else {
    rows[o + OTHER_COUNT] = (rows[o + OTHER_COUNT] ?? 0) + count
    rows[o + OTHER_AMOUNT] = (rows[o + OTHER_AMOUNT] ?? 0) + amount
  }
  return true
}

/** Re-measures every stored day against the current registered MCC and rates (rare: on a change). */
function remeasure(state: State, ref: string, r: Rates, today: number): void {
  state.mccRef = ref
  state.mccRates = r
  // Days before those re-measured are in no window the rule will evaluate again.
  state.mccMismatches = null
  const days = state.mccDays
  for (let o = days.first(today - WINDOW_DAYS, today); o >= 0; o = days.next(o, today)) {
    days.clearSamples(o)
    const n = talliesOf(days, o)
    const dayNo = days.dayOf(o)
    for (let k = 0; k < n; k++) {
      const mcc = MCC_NAMES[tally(state, o, dayNo, k, ID)] ?? OVERFLOW
      const count = tally(state, o, dayNo, k, TALLY_COUNT)
      measure(state, dayNo, mcc, count, tally(state, o, dayNo, k, TALLY_AMOUNT), ref, r)
    }
  }
}

/** Re-measures when the registered MCC or the rates changed; true when it did. */
function sync(state: State, ref: string | null, r: Rates, today: number, changeDay: number = today): boolean {
  if (ref === null) return false
  const seen = state.mccRates
  if (
    ref === state.mccRef &&
    seen !== null &&
    r.feeStandardBp === seen.feeStandardBp &&
    r.feeEssentialBp === seen.feeEssentialBp &&
    r.feePublicBp === seen.feePublicBp &&
    r.graceDays === seen.graceDays
  )
    return false
  const prev = state.mccRef
  if (prev !== null && prev !== ref) keepPrevious(state, prev, changeDay, r, today)
  remeasure(state, ref, r, today)
  return true
}

/**
 * Keeps the MCC whose registration ended on `day`; drops those whose grace ended before the window, the
 * oldest beyond MAX_REGISTRATIONS.
 */
function keepPrevious(state: State, mcc: string, day: number, r: Rates, today: number): void {
  const kept = (state.mccPrevious ?? []).filter((p) => p.day + r.graceDays >= today - WINDOW_DAYS)
  kept.push({ mcc, day })
  if (kept.length > MAX_REGISTRATIONS) kept.shift()
  state.mccPrevious = kept
}

/** Field `field` of the `k`th tally of the day `dayNo` at offset `o`. */
function tally(state: State, o: number, dayNo: number, k: number, field: number): number {
  const more = state.mccMore?.get(dayNo)
  if (k > 0) return more?.[(k - 1) * TALLY + field] ?? 0
  const days = state.mccDays
  if (field === ID) return Math.floor(days.get(o, TALLIES) / TALLY_SPAN)
  let v = field === TALLY_COUNT ? days.sales(o) : days.amount(o)
  if (more !== undefined) for (let i = field; i < more.length; i += TALLY) v -= more[i] ?? 0
  return v
}

/** Adds to a tally after the first: the first's count and amount are the rest of the day's. */
function addToTally(state: State, dayNo: number, k: number, field: number, v: number): void {
  if (k === 0) return
  const more = state.mccMore?.get(dayNo)
  const i = (k - 1) * TALLY + field
  if (more !== undefined) more[i] = (more[i] ?? 0) + v
}

/** Starts the `k`th tally of a day (k is the day's number of tallies so far). */
function newTally(state: State, o: number, dayNo: number, k: number, id: number): void {
  state.mccDays.add(o, TALLIES, k === 0 ? 1 + TALLY_SPAN * id : 1)
  if (k === 0) return
  let byDay = state.mccMore
  if (byDay === null) {
    byDay = new Map()
    state.mccMore = byDay
  }
  let more = byDay.get(dayNo)
  if (more === undefined) {
    // The tallies follow the table's rows: those of days it dropped go with them.
    for (const d of byDay.keys()) if (d <= state.mccDays.latest - state.mccDays.size) byDay.delete(d)
    more = []
    byDay.set(dayNo, more)
  }
  more.push(id, 0, 0)
}

/** Which tally of the day holds `id`, or -1. */
function tallyOf(state: State, o: number, dayNo: number, id: number): number {
  const n = talliesOf(state.mccDays, o)
  for (let k = 0; k < n; k++) if (tally(state, o, dayNo, k, ID) === id) return k
  return -1
}

/** Bounds and sample ids of a firing window [from, to]: built only when the rule fires. */
function windowOf(state: State, from: number, to: number, dayStart: (day: number) => number) {
  const samples: string[] = []
  const days = state.mccDays
  const rows = state.mccMismatches ?? []
  for (let o = 0; o < rows.length; o += M_ROW) {
    const dayNo = rows[o + M_DAY] ?? 0
    if (dayNo < from || dayNo > to) continue
    if ((rows[o + CHEAPER_COUNT] ?? 0) + (rows[o + OTHER_COUNT] ?? 0) === 0) continue
    const day = days.at(dayNo)
    if (day >= 0) samples.push(...days.samples(day))
  }
  return { windowStart: dayStart(from), windowEnd: dayStart(to + 1), sampleTxnIds: samples.slice(-5) }
}

export const mccMismatch = defineRule({
  id: 'mcc_mismatch',
  version: 4,
  category: 'compliance',
  family: 'lifecycle',
  description:
    'Approved sales submitted under an MCC other than the registered one: any into a cheaper fee tier, or a share of volume under other MCCs (30 days); or the registered MCC itself changed twice or more within 90 days.',
  calibration:
    'Compares with the registered MCC: any sale into a cheaper fee tier, or a share of volume under other MCCs; and counts re-registrations (2 in 90 days, as settlement_churn counts account changes). Regulatory; opens a case by itself.',
  whitelistable: false,
  retentionDays: MAX_REGISTRATION_DAYS,
  clock: 'day',
  params: {
    graceDays: int({
      default: 7,
      min: 0,
      max: 30,
      description:
        'Days after a re-registration (MCC_CHANGED) up to which sales under the MCC registered before it are not mismatches: the registration then, or a terminal not yet updated.',
    }),
    minCheaperTxns: int({
      default: 1,
      min: 1,
      description:
        'Approved sales submitted into a cheaper fee tier, in 30 days, that fire the rule ("any" by default).',
    }),
    otherShareThreshold: num({
      default: 0.2,
      min: 0,
      max: 1,
      description:
        'Share of approved volume submitted under another MCC of the same or a dearer tier above which the rule fires.',
    }),
    minOtherTxns: int({
      default: 5,
      min: 1,
      description: 'Count floor for the share: mismatched approved sales in 30 days.',
    }),
    minTxns: int({
      default: 20,
      min: 1,
      description: 'Count floor for the share: approved sales in 30 days.',
    }),
    minRegistrationChanges: int({
      default: 2,
      min: 1,
      max: MAX_REGISTRATIONS - 1,
      description:
        'Changes of the registered MCC (MCC_CHANGED to another MCC) within the re-registration window that fire the rule: one is a correction or a change of trade.',
    }),
    registrationWindowDays: int({
      default: 90,
      min: 1,
      max: MAX_REGISTRATION_DAYS,
      description: 'Re-registration window, days of event time ending at the latest event of the merchant.',
    }),
    feeStandardBp: num({
      default: 60,
      min: 0,
      description: 'Merchant discount rate of standard categories, basis points.',
    }),
    feeEssentialBp: num({
      default: 38,
      min: 0,
      description: 'Rate of essential categories (supermarkets, utilities, fuel, transport), basis points.',
    }),
    feePublicBp: num({
      default: 0,
      min: 0,
      description:
        'Rate of public-welfare categories (hospitals, schools, charities, government), basis points.',
    }),
  },
  createState: (sales): State => ({
    mccDays: sales.columns(WINDOW_DAYS + 1, WIDTH, 5),
    mccMore: null,
    mccMismatches: null,
    mccRef: null,
    mccRates: null,
    mccPrevious: null,
    mccRegistrations: null,
  }),
  onTransaction(state, txn, ctx) {
    if (!txn.approved || !txn.sale) return false
    const days = state.mccDays
    const day = days.at(txn.localDay)
    if (day < 0) return false
    const dayNo = txn.localDay
    let mcc = txn.mcc
    let k = tallyOf(state, day, dayNo, mccId(mcc))
    if (k < 0) {
      const n = talliesOf(days, day)
      if (n >= MAX_MCCS_PER_DAY) {
        mcc = OVERFLOW
        k = tallyOf(state, day, dayNo, mccId(mcc))
      }
      if (k < 0) {
        k = n
        newTally(state, day, dayNo, k, mccId(mcc))
      }
    }
    addToTally(state, dayNo, k, TALLY_COUNT, 1)
    addToTally(state, dayNo, k, TALLY_AMOUNT, txn.amount_minor)
    const ref = ctx.profile.registeredMcc
    // A re-measure reads the day's tallies, which already hold this sale: it is then measured with them.
    const counted =
      sync(state, ref, ctx.params, ctx.watermarkDay) &&
      dayNo >= ctx.watermarkDay - WINDOW_DAYS &&
      dayNo <= ctx.watermarkDay
    if (
      ref !== null &&
      (counted
        ? mismatched(state, dayNo, mcc, ref, ctx.params)
        : measure(state, dayNo, mcc, 1, txn.amount_minor, ref, ctx.params))
    )
      days.pushSample(day, txn.txn_id)
  },
  onMerchantEvent(state, event, ctx) {
    if (event.kind === 'MCC_CHANGED' && event.registered_mcc !== null)
      keepRegistration(state, event, ctx.watermark)
    // The change's own local day, not the clock's: a rebuild replays in event-time order, the live
    // stream in arrival order, and both must give the re-registration the same grace.
    sync(state, ctx.profile.registeredMcc, ctx.params, ctx.watermarkDay, ctx.dayOf(event.event_time))
  },
  evaluate(state, ctx) {
    return submissions(state, ctx) ?? reRegistrations(state, ctx.params, ctx.watermark)
  },
})

/** The submissions legs: sales under a cheaper MCC, or a share of volume under other MCCs (30 days). */
function submissions(state: State, ctx: RuleContext<MccParams>): Finding | null {
  const p = ctx.params
  const ref = ctx.profile.registeredMcc
  if (ref === null || ref !== state.mccRef) return null
  // No mismatch kept: neither leg can reach its count floor (at least one mismatched sale each).
  if (state.mccMismatches === null) return null
  const from = ctx.watermarkDay - WINDOW_DAYS + 1
  // Sums only: samples, bounds and text are built once the rule fires, not on every event.
  const t = {
    count: 0,
    amount: 0,
    cheaperCount: 0,
    cheaperAmount: 0,
    feeAvoided: 0,
    otherCount: 0,
    otherAmount: 0,
  }
  const days = state.mccDays
  const to = ctx.watermarkDay
  for (let o = days.first(from, to); o >= 0; o = days.next(o, to)) {
    t.count += days.sales(o)
    t.amount += days.amount(o)
  }
  const rows = state.mccMismatches
  if (rows !== null) {
    for (let o = 0; o < rows.length; o += M_ROW) {
      const dayNo = rows[o + M_DAY] ?? 0
      if (dayNo < from || dayNo > to) continue
      t.cheaperCount += rows[o + CHEAPER_COUNT] ?? 0
      t.cheaperAmount += rows[o + CHEAPER_AMOUNT] ?? 0
      t.feeAvoided += rows[o + FEE_AVOIDED] ?? 0
      t.otherCount += rows[o + OTHER_COUNT] ?? 0
      t.otherAmount += rows[o + OTHER_AMOUNT] ?? 0
    }
  }
  const { otherCount, otherAmount } = t
  const feeDue = (t.amount * feeBp(ref, p)) / 10_000
  if (t.cheaperCount >= p.minCheaperTxns && feeDue > 0) {
    // Mismatched volume weighted by the fee gap: the share of the fee due on all the window's sales
    // (at the registered category's rate) that the jumps avoided.
    const observed = t.feeAvoided / feeDue
    return {
      observed,
      threshold: 0,
      ...windowOf(state, from, ctx.watermarkDay, ctx.dayStart),
      detail:
        `${t.cheaperCount} approved sales (${((100 * t.cheaperAmount) / t.amount).toFixed(1)}% of volume) in 30 days ` +
        `were submitted under cheaper MCCs than the registered ${ref}, avoiding ${(100 * observed).toFixed(1)}% ` +
        `of the fee due (${Math.round(t.feeAvoided)} minor units).`,
    }
  }
  if (t.count < p.minTxns || otherCount < p.minOtherTxns) return null
  const share = otherAmount / t.amount
  if (share <= p.otherShareThreshold) return null
  return {
    observed: share,
    threshold: p.otherShareThreshold,
    ...windowOf(state, from, ctx.watermarkDay, ctx.dayStart),
    detail:
      `${otherCount} of ${t.count} approved sales in 30 days (${(100 * share).toFixed(1)}% of volume) were ` +
      `submitted under MCCs other than the registered ${ref}.`,
  }
}

/**
 * Keeps a re-registration. The first one also keeps the MCC registered before it (the counters' own,
 * not yet re-measured: this runs before `sync`), at the same time, so that a change event repeating
 * the MCC already registered does not count.
 */
function keepRegistration(state: State, event: MerchantEvent, watermark: number): void {
  const horizon = watermark - MAX_REGISTRATION_DAYS * DAY_MS
  const time = event.event_time
  let list = state.mccRegistrations
  if (list === null && state.mccRef !== null) {
    const before = { id: `${event.event_id}/before`, time, value: state.mccRef, change: false }
    list = keepChange(null, 0, before, horizon, MAX_REGISTRATIONS).list
  }
  const change = { id: event.event_id, time, value: event.registered_mcc ?? '', change: true }
  // The list is null for the merchants that never re-register: that is the cheap exit, not a count.
  state.mccRegistrations = keepChange(list, 0, change, horizon, MAX_REGISTRATIONS).list
}

/** The re-registration leg: the registered MCC changed `minRegistrationChanges` times within the window. */
function reRegistrations(state: State, p: MccParams, watermark: number): Finding | null {
  if (state.mccRegistrations === null) return null
  const changes = realChanges(state.mccRegistrations, watermark - p.registrationWindowDays * DAY_MS)
  const first = changes[0]
  if (first === undefined || changes.length < p.minRegistrationChanges) return null
  return {
    observed: changes.length,
    threshold: p.minRegistrationChanges,
    // Anchored on the first counted change, so the hit is updated, not repeated, as the watermark moves.
    windowStart: first.time,
    windowEnd: first.time + p.registrationWindowDays * DAY_MS,
    // Lifecycle evidence: the ids of the MCC_CHANGED events.
    sampleTxnIds: changes.slice(-5).map((e) => e.id),
    detail:
      `The registered MCC changed ${changes.length} times within ${p.registrationWindowDays} days ` +
      `(to ${changes.map((e) => e.value).join(', then ')}; first change on ${new Date(first.time).toISOString().slice(0, 10)}), ` +
      'with no sale needed under another MCC.',
  }
}
