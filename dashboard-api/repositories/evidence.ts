import { minorPerMajor } from '../../lib/currency.ts'
import { defaults } from '../../rules/engine/params.ts'
import { nearRoundAmount } from '../../rules/near-round-amount.ts'
import { structuring } from '../../rules/structuring.ts'
import type { Store } from '../../store/client.ts'
import type { CardPattern, EvidenceReply, LifecycleReply } from '../schemas.ts'
import { chTime, iso, isoOrNull, type Params, select } from '../sql.ts'

/**
 * What the console's charts draw, computed where the data is. Every query names the acquirer and
 * the merchant (the leading columns of the sort keys), except the peers' (a bounded sample of the
 * same acquirer's merchants of the same registered MCC) and the cards' other merchants (the
 * acquirer's transactions in the window, by card).
 *
 * Limits and tolerances are the rules' defaults: the API does not load the rules file, and the
 * pictures show where the playbook's limits sit, which per-acquirer overrides rarely move.
 */
const STRUCTURING = defaults(structuring.params)
const NEAR_ROUND = defaults(nearRoundAmount.params)
/** Peers compared with: enough for a stable median per day, few enough to read in milliseconds. */
const MAX_PEERS = 200
/** Amount histogram: bins per decade of major units, on a log scale (1 to 10^7 major units). */
const BINS_PER_DECADE = 8
/** Days back in which a card's other merchants are looked for. */
const OTHERS_DAYS = 30
const DAY_MS = 86_400_000
const DECADES = 7

export interface EvidenceWindow {
  readonly acquirer: string
  readonly merchant: string
  /** Local days, inclusive. */
  readonly from: string
  readonly to: string
  readonly timeZone: string
}

/**
 * The merchant's main currency in the window (most approved sales; the first by name on a tie) and
 * the median of its days with approved volume in that currency: one read of merchant_daily for both.
 */
async function dailyFiguresOf(
  store: Store,
  w: EvidenceWindow,
): Promise<{ currency: string | null; median: number | null }> {
  const rows = await select<{ currency: string; med: number | null }>(
    store,
    `SELECT currency, if(countIf(v > 0) = 0, NULL, toFloat64(quantileExactIf(0.5)(v, v > 0))) AS med
     FROM (
       SELECT local_date, currency, sum(approved_sales) AS n, sum(approved_amount_minor) AS v
       FROM {db:Identifier}.merchant_daily
       WHERE acquirer_id = {a:String} AND merchant_id = {m:String}
         AND local_date >= {from:Date} AND local_date <= {to:Date}
       GROUP BY local_date, currency)
     GROUP BY currency ORDER BY sum(n) DESC, currency LIMIT 1`,
    { a: w.acquirer, m: w.merchant, from: w.from, to: w.to },
  )
  const r = rows[0]
  return { currency: r?.currency ?? null, median: r?.med ?? null }
}

async function registeredOf(
  store: Store,
  w: EvidenceWindow,
): Promise<{ mcc: string | null; lat: number | null; lon: number | null }> {
  const rows = await select<{ mcc: string | null; lat: number | null; lon: number | null }>(
    store,
    `SELECT argMaxMerge(registered_mcc) AS mcc, argMaxMerge(latitude) AS lat, argMaxMerge(longitude) AS lon
     FROM {db:Identifier}.merchant_profile WHERE acquirer_id = {a:String} AND merchant_id = {m:String}`,
    { a: w.acquirer, m: w.merchant },
  )
  return rows[0] ?? { mcc: null, lat: null, lon: null }
}

/**
 * Up to MAX_PEERS other merchants of the acquirer registered under the same MCC: the first found in
 * the lifecycle events that registered it. Merging every profile of a large acquirer to filter on the
 * current MCC took most of a second with 250,000 merchants; a plain filter with a LIMIT stops reading
 * as soon as it has enough. A peer that moved to another MCC since may stay in the sample, and the
 * merchant itself is one of the cohort when it was found among the first.
 */
async function peersOf(store: Store, w: Pick<EvidenceWindow, 'acquirer'>, mcc: string): Promise<string[]> {
  const rows = await select<{ merchant_id: string }>(
    store,
    `SELECT DISTINCT merchant_id FROM {db:Identifier}.merchant_events
     WHERE acquirer_id = {a:String} AND registered_mcc = {mcc:String}
     LIMIT {n:UInt32}`,
    { a: w.acquirer, mcc, n: MAX_PEERS },
  )
  return rows.map((r) => r.merchant_id)
}

interface PeerFigures {
  readonly merchants: number
  readonly daily: EvidenceReply['peer_daily']
  readonly hours: number[]
}

const NO_PEERS: PeerFigures = { merchants: 0, daily: [], hours: new Array<number>(24).fill(0) }

/** The cohort's median day and hour profile: the same for every merchant of an acquirer and MCC. */
async function peerFiguresOf(
  store: Store,
  p: { a: string; mcc: string; from: string; to: string; cur: string },
): Promise<PeerFigures> {
  const peers = await peersOf(store, { acquirer: p.a }, p.mcc)
  if (peers.length === 0) return NO_PEERS
  const [daily, hours] = await Promise.all([
    select<{ date: string; med: number; n: number }>(
      store,
      `SELECT toString(local_date) AS date, toFloat64(quantileExact(0.5)(v)) AS med, toUInt32(count()) AS n
       FROM (
         SELECT local_date, merchant_id, sum(approved_amount_minor) AS v FROM {db:Identifier}.merchant_daily
         WHERE acquirer_id = {a:String} AND merchant_id IN {peers:Array(String)} AND currency = {cur:String}
           AND local_date >= {from:Date} AND local_date <= {to:Date}
         GROUP BY local_date, merchant_id HAVING v > 0)
       GROUP BY local_date ORDER BY local_date`,
      { ...p, peers },
    ),
    hoursOf(store, { ...p, merchants: peers }),
  ])
  return {
    merchants: peers.length,
    daily: daily.map((r) => ({ date: r.date, median_minor: r.med, merchants: Number(r.n) })),
    hours,
  }
}

/**
 * Peer figures, remembered for PEER_CACHE_MS per acquirer, MCC, window and currency: an analyst going
 * down the queue meets the same cohorts again and again, and a cohort's medians move slowly (the
 * rules' own baselines are refreshed every 15 minutes). A failed computation is not remembered.
 */
const PEER_CACHE_MS = 10 * 60_000
const PEER_CACHE_SIZE = 1000

export class PeerCache {
  readonly #entries = new Map<string, { at: number; value: Promise<PeerFigures> }>()
  readonly #now: () => number

  constructor(now: () => number) {
    this.#now = now
  }

  get(key: string, make: () => Promise<PeerFigures>): Promise<PeerFigures> {
    const now = this.#now()
    const hit = this.#entries.get(key)
    if (hit !== undefined && now - hit.at < PEER_CACHE_MS) return hit.value
    if (this.#entries.size >= PEER_CACHE_SIZE) this.#entries.clear()
    const value = make()
    this.#entries.set(key, { at: now, value })
    value.catch(() => this.#entries.delete(key))
    return value
  }
}

export async function evidenceOf(
  store: Store,
  w: EvidenceWindow,
  peerCache: PeerCache,
): Promise<EvidenceReply> {
  const [daily, registered] = await Promise.all([dailyFiguresOf(store, w), registeredOf(store, w)])
  const currency = daily.currency
  const unit = minorPerMajor(currency ?? 'CNY')
  const base = { a: w.acquirer, m: w.merchant, from: w.from, to: w.to, cur: currency ?? '' }
  const single = STRUCTURING.singleLimitMajor * unit
  const [own, peer] = await Promise.all([
    ownFiguresOf(store, {
      ...base,
      unit,
      tol: NEAR_ROUND.tolerance,
      nearMin: NEAR_ROUND.minAmountMajor,
      single,
      bandLo: STRUCTURING.bandFrom * single,
      perDecade: BINS_PER_DECADE,
      lastBin: BINS_PER_DECADE * DECADES - 1,
      hasHome: registered.lat !== null && registered.lon !== null,
      lat0: registered.lat ?? 0,
      lon0: registered.lon ?? 0,
    }),
    registered.mcc === null
      ? Promise.resolve(NO_PEERS)
      : peerCache.get([w.acquirer, registered.mcc, w.from, w.to, base.cur].join('\u0000'), () =>
          peerFiguresOf(store, { ...base, mcc: registered.mcc ?? '' }),
        ),
  ])
  const bins = own
    .filter((r) => r.part === 'bin' && Number(r.n) > 0)
    .sort((x, y) => Number(x.bin) - Number(y.bin))
  // A group with positions has both coordinates (a fix is a row with both).
  const fixes = own.filter(
    (r): r is OwnRow & { lat: number; lon: number } =>
      r.part === 'fix' && Number(r.fixes) > 0 && r.lat !== null && r.lon !== null,
  )
  const total = (f: (b: OwnRow) => number) => bins.reduce((sum, b) => sum + Number(f(b)), 0)
  return {
    from: w.from,
    to: w.to,
    time_zone: w.timeZone,
    currency,
    limits: {
      single_minor: single,
      daily_minor: STRUCTURING.dailyLimitMajor * unit,
      near_round_tolerance: NEAR_ROUND.tolerance,
    },
    baseline: {
      own_daily_median_minor: daily.median,
      peer_mcc: registered.mcc,
      peer_merchants: peer.merchants,
    },
    peer_daily: peer.daily,
    amounts: {
      bins: bins.map((b) => ({
        from_minor: Math.round(10 ** (Number(b.bin) / BINS_PER_DECADE) * unit),
        to_minor: Math.round(10 ** ((Number(b.bin) + 1) / BINS_PER_DECADE) * unit),
        count: Number(b.n),
        exact_round: Number(b.exact),
        near_round: Number(b.near),
      })),
      sales: total((b) => b.n),
      exact_round: total((b) => b.exact),
      near_round: total((b) => b.near),
      near_single_limit: total((b) => b.band),
    },
    hours: {
      merchant: hourShares(own.filter((r) => r.part === 'hour').map((r) => ({ h: r.h, n: r.sales }))),
      peers: peer.hours,
    },
    locations: {
      registered:
        registered.lat === null || registered.lon === null
          ? null
          : { latitude: registered.lat, longitude: registered.lon },
      fixes: fixes.map((f) => ({
        terminal_id: f.terminal_id,
        latitude: f.lat,
        longitude: f.lon,
        transactions: Number(f.fixes),
        distance_km: f.km === null ? null : Math.round(f.km * 10) / 10,
        last_seen: iso(f.last),
      })),
    },
  }
}

/** A row of {@link ownFiguresOf}: an amount bin, a local hour, or a terminal's position. */
interface OwnRow {
  part: 'bin' | 'hour' | 'fix'
  bin: number
  h: number
  terminal_id: string
  lat: number | null
  lon: number | null
  /** Approved sales in the main currency (bins), of them exact and near round, and near the limit. */
  n: number
  exact: number
  near: number
  band: number
  /** Approved sales in any currency (hours). */
  sales: number
  /** Transactions with a position (fixes), the last of them, and its distance from home. */
  fixes: number
  last: string
  km: number | null
}

/**
 * The merchant's amount histogram, its sales per local hour and its terminals' positions, from one
 * read of its transactions in the window (three reads took twice the CPU: most of a read of a
 * merchant is finding its rows in every part). Each grouping set counts only the rows its chart is
 * about; the positions keep the 500 most used, as their chart does.
 */
async function ownFiguresOf(store: Store, p: Params): Promise<OwnRow[]> {
  return select<OwnRow>(
    store,
    `SELECT multiIf(grouping(bin) = 0, 'bin', grouping(local_hour) = 0, 'hour', 'fix') AS part,
            bin, local_hour AS h, terminal_id, lat, lon,
            toUInt32(countIf(sale_cur)) AS n, toUInt32(countIf(sale_cur AND is_round_thousand)) AS exact,
            toUInt32(countIf(sale_cur AND ${NEAR_SQL})) AS near,
            toUInt32(countIf(sale_cur AND amount_minor >= {bandLo:Float64} AND amount_minor < {single:Float64})) AS band,
            toUInt32(countIf(sale)) AS sales,
            toUInt32(countIf(fix)) AS fixes, maxIf(event_time, fix) AS last,
            if({hasHome:Bool}, geoDistance(lon, lat, {lon0:Float64}, {lat0:Float64}) / 1000, NULL) AS km
     FROM (
       SELECT amount_minor, is_round_thousand, local_hour, terminal_id, event_time,
              is_sale AND is_approved AS sale, sale AND currency = {cur:String} AS sale_cur,
              latitude IS NOT NULL AND longitude IS NOT NULL AS fix,
              toInt32(least(greatest(floor(log10(amount_minor / {unit:Float64}) * {perDecade:UInt32}), 0),
                            {lastBin:UInt32})) AS bin,
              round(latitude, 3) AS lat, round(longitude, 3) AS lon
       FROM {db:Identifier}.transactions
       PREWHERE acquirer_id = {a:String} AND merchant_id = {m:String}
       WHERE local_date >= {from:Date} AND local_date <= {to:Date})
     GROUP BY GROUPING SETS ((bin), (local_hour), (terminal_id, lat, lon))
     ORDER BY part, fixes DESC, terminal_id, lat, lon
     LIMIT 500 BY part`,
    p,
  )
}

/**
 * Near-round as the near_round_amount rule counts it: at least its minimum amount, within the
 * tolerance of a round thousand, and not exactly one.
 */
const NEAR_SQL = `(amount_minor / {unit:Float64} >= {nearMin:Float64} AND NOT is_round_thousand
  AND abs(amount_minor / {unit:Float64} - round(amount_minor / {unit:Float64} / 1000) * 1000)
      <= {tol:Float64} * round(amount_minor / {unit:Float64} / 1000) * 1000)`

/** Share of approved sales per local hour, over the given merchants. */
async function hoursOf(
  store: Store,
  p: { a: string; merchants: string[]; from: string; to: string },
): Promise<number[]> {
  return hourShares(
    await select<{ h: number; n: number }>(
      store,
      `SELECT local_hour AS h, toUInt32(count()) AS n FROM {db:Identifier}.transactions
       WHERE acquirer_id = {a:String} AND merchant_id IN {merchants:Array(String)} AND is_sale AND is_approved
         AND local_date >= {from:Date} AND local_date <= {to:Date}
       GROUP BY h`,
      p,
    ),
  )
}

/** Counts per local hour as shares of their total, 24 of them. */
function hourShares(rows: readonly { h: number; n: number }[]): number[] {
  const out = new Array<number>(24).fill(0)
  const total = rows.reduce((s, r) => s + Number(r.n), 0)
  if (total === 0) return out
  for (const r of rows) out[Number(r.h)] = Number(r.n) / total
  return out
}

interface CardDayRow {
  card_token: string
  c_type: string
  date: string
  times: number[]
  approved: number
}

/**
 * The cards that keep coming back (most months, then days, then swipes, as /top-cards), with what
 * the playbook leaves in their swipes: how many a day, the gaps between swipes on the same day (the
 * "5 minutes apart" tip), the months they recur in, and the acquirer's other merchants that saw them.
 */
export async function cardPatternsOf(
  store: Store,
  a: string,
  m: string,
  q: { from: number; to: number; limit: number },
): Promise<CardPattern[]> {
  const window = { a, m, from: chTime(q.from), to: chTime(q.to) }
  // One read of the merchant's rows gives both the ranking and the top cards' days: the ranking only
  // needs each card's months, days and swipes, which its day rows hold (two reads cost 37 ms of CPU,
  // this one 27, with 20 parts).
  const days = await select<CardDayRow>(
    store,
    `SELECT card_token, c_type, date, times, approved FROM (
       SELECT card_token, c_type, date, times, approved,
              dense_rank() OVER (ORDER BY months DESC, days DESC, swipes DESC, card_token) AS card_rank
       FROM (
         SELECT card_token, c_type, date, times, approved,
                uniqExact(toStartOfMonth(local_date)) OVER (PARTITION BY card_token) AS months,
                count() OVER (PARTITION BY card_token) AS days,
                sum(length(times)) OVER (PARTITION BY card_token) AS swipes
         FROM (
           SELECT card_token, any(card_type) AS c_type, local_date, toString(local_date) AS date,
                  arraySort(groupArray(toFloat64(toUnixTimestamp64Milli(event_time)))) AS times,
                  toFloat64(sumIf(amount_minor, is_sale AND is_approved)) AS approved
           FROM {db:Identifier}.transactions
           PREWHERE acquirer_id = {a:String} AND merchant_id = {m:String}
           WHERE event_time >= {from:DateTime64(3, 'UTC')} AND event_time < {to:DateTime64(3, 'UTC')}
           GROUP BY card_token, local_date)))
     WHERE card_rank <= {limit:UInt32}
     ORDER BY card_rank, date`,
    { ...window, limit: q.limit },
  )
  const cards = [...new Set(days.map((d) => d.card_token))]
  if (cards.length === 0) return []
  // The acquirer's every transaction in the range is read here (cards are not in the sort key), so the
  // range is a week (the horizon over which shoppers' cards overlap), not the whole window. A bloom-filter index on card_token
  // was tried: it left 13 of 176 granules to read, but checking the filters cost the CPU the skipped
  // reads saved (10.1 against 9.8 ms), and every insert would have paid for it.
  const others = await select<{ card_token: string; n: number; ids: string[] }>(
    store,
    `SELECT card_token, toUInt32(uniqExact(merchant_id)) AS n, groupUniqArray(5)(merchant_id) AS ids
     FROM {db:Identifier}.transactions
     WHERE acquirer_id = {a:String} AND card_token IN {cards:Array(String)} AND merchant_id != {m:String}
       AND event_time >= {othersFrom:DateTime64(3, 'UTC')} AND event_time < {to:DateTime64(3, 'UTC')}
     GROUP BY card_token`,
    { ...window, cards, othersFrom: chTime(Math.max(q.from, q.to - OTHERS_DAYS * DAY_MS)) },
  )
  const otherOf = new Map(others.map((o) => [o.card_token, o]))
  return cards.map((card) => {
    const mine = days.filter((d) => d.card_token === card)
    const gaps: number[] = []
    for (const d of mine) {
      for (let i = 1; i < d.times.length; i++) gaps.push(((d.times[i] ?? 0) - (d.times[i - 1] ?? 0)) / 1000)
    }
    gaps.sort((x, y) => x - y)
    const counts = mine.map((d) => d.times.length)
    const other = otherOf.get(card)
    return {
      card_token: card,
      card_type: mine[0]?.c_type ?? '',
      swipes: counts.reduce((s, n) => s + n, 0),
      active_days: mine.length,
      active_months: new Set(mine.map((d) => d.date.slice(0, 7))).size,
      max_per_day: Math.max(0, ...counts),
      days_over_two: counts.filter((n) => n > 2).length,
      median_gap_s: gaps.length === 0 ? null : (gaps[Math.floor((gaps.length - 1) / 2)] ?? null),
      gaps_5_10_min: gaps.filter((g) => g >= 300 && g <= 600).length,
      gaps: gaps.length,
      approved_amount_minor: mine.reduce((s, d) => s + Number(d.approved), 0),
      other_merchants: Number(other?.n ?? 0),
      other_merchant_ids: [...(other?.ids ?? [])].sort(),
      per_day: mine.map((d) => ({ date: d.date, swipes: d.times.length })),
    }
  })
}

/** Lifecycle events (onboarding, terminal bindings, settlement account and MCC changes), oldest first. */
export async function lifecycleOf(
  store: Store,
  a: string,
  m: string,
  limit: number,
): Promise<LifecycleReply['items']> {
  const rows = await select<{
    event_time: string
    kind: string
    terminal_id: string | null
    registered_mcc: string | null
    settlement_account_token: string | null
  }>(
    store,
    `SELECT event_time, kind, terminal_id, registered_mcc, settlement_account_token FROM (
       SELECT event_time, kind, terminal_id, registered_mcc, settlement_account_token, event_id
       FROM {db:Identifier}.merchant_events FINAL
       WHERE acquirer_id = {a:String} AND merchant_id = {m:String}
       ORDER BY event_time DESC, event_id DESC LIMIT {limit:UInt32})
     ORDER BY event_time, event_id`,
    { a, m, limit },
  )
  return rows.map((r) => ({
    at: isoOrNull(r.event_time) ?? '',
    kind: r.kind,
    terminal_id: r.terminal_id,
    registered_mcc: r.registered_mcc,
    settlement_account_token: r.settlement_account_token,
  }))
}
