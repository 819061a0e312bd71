import { CURRENCY_EXPONENTS } from '../lib/currency.ts'
import { asRiskError } from '../lib/errors.ts'
import { utcOffsetMs } from '../lib/local-time.ts'
import type { Logger } from '../lib/logger.ts'
import type { Store } from '../store/client.ts'
import { QUANTILE_GRID } from './engine/calibration.ts'
import type { Distribution, MerchantBaseline, PeerStats, References } from './engine/types.ts'

export interface BaselineOptions {
  store: Store
  logger: Logger
  /**
   * Merchants (with enough sales) a cohort needs before its distribution is published; a regional cohort
   * needs twice as many, else the MCC-wide one stands in. Thinner cohorts leave the rules with the
   * acquirer's population alone.
   */
  minCohort: number
}

/**
 * How far the rules have come in event time, for a refresh that must not look past it: each acquirer's
 * windows then end on the last local day the rules have finished (the day before that of `latest`),
 * as they would had the baselines been refreshed at that day's close, however far ahead the store is.
 */
export interface AsOf {
  /** The latest event time the rules have taken (ms). */
  readonly latest: number
  readonly timeZoneOf: (acquirerId: string) => string
}

const DAY_MS = 86_400_000

/** Sales a merchant needs in the 30 days before its measures count in any distribution. */
export const MIN_MEASURED_SALES = 20

/**
 * The distributions the relative rules calibrate against, and merchants' own history, computed in
 * ClickHouse and kept in memory for the rule engine. Refreshed periodically (the caller's timer): these
 * are slow-moving references, and an hour-old quantile is as good as a live one.
 *
 * Per acquirer, each merchant's 30-day measures (credit share, average ticket, night share, volume per
 * active day, round share of large sales, whole-unit share, share of the largest BIN; merchants with at
 * least 20 sales) are
 * summarised as quantiles at QUANTILE_GRID three ways: over the acquirer's whole population, over its
 * merchants of one registered MCC in one region, and over its merchants of one MCC anywhere (the
 * stand-in where a region is thin). Each distribution carries the merchants and the local days of data
 * it rests on, so the engine can hold a new deployment's first days back (rules/engine/engine.ts,
 * `adequate`). Windows end at the latest local day in the table, not at the clock, or, given an `AsOf`,
 * at each acquirer's last local day the rules have finished if that is earlier: a replayed or simulated
 * history gets the baselines it would have had, and `stale` says when the stream's event time has
 * moved past them (a month replayed in minutes passes a day every few seconds). The region is the
 * 1-degree cell of the registered location (see regionOf).
 */
export class Baselines {
  readonly #opts: BaselineOptions
  /** Replaced whole by each refresh, never changed in place. */
  #tables: BaselineSnapshot
  /** Per acquirer, the local day (days since the epoch) the last refresh's windows ended on. */
  #lastDays = new Map<string, number>()
  refreshedAt: number | null = null

  constructor(opts: BaselineOptions) {
    this.#opts = opts
    this.#tables = emptyBaselines(opts.minCohort)
  }

  /**
   * The merchant's references: its cohort (same acquirer and registered MCC in the same region when that
   * cohort has twice the minimum, else the same acquirer and MCC anywhere when it has the minimum) and
   * its acquirer's population. Null when neither is known.
   */
  peersOf(
    acquirerId: string,
    mcc: string | null,
    latitude: number | null,
    longitude: number | null,
  ): References | null {
    return peersIn(this.#tables, acquirerId, mcc, latitude, longitude)
  }

  baselineOf(acquirerId: string, merchantId: string): MerchantBaseline | null {
    return baselineIn(this.#tables, acquirerId, merchantId)
  }

  /**
   * The tables as they are now, for a rule engine on another thread (structured-cloneable). A refresh
   * replaces the maps and never changes them, so a snapshot stays what it was.
   */
  snapshot(): BaselineSnapshot {
    return this.#tables
  }

  get cohorts(): number {
    return this.#tables.peers.size
  }

  get merchants(): number {
    return this.#tables.own.size
  }

  /** Per acquirer, the local day ('YYYY-MM-DD') the last refresh's windows ended on. */
  get lastDays(): ReadonlyMap<string, string> {
    return new Map([...this.#lastDays].map(([a, d]) => [a, isoDay(d)]))
  }

  /**
   * True when a refresh as of `asOf` would end some acquirer's windows later than the last one did:
   * the rules have finished a local day since, or the last refresh found the store short of the day
   * the rules had finished (the sink behind them). Also true before any refresh found data.
   */
  stale(asOf: AsOf): boolean {
    if (!Number.isFinite(asOf.latest)) return false
    if (this.#lastDays.size === 0) return true
    for (const [acquirerId, day] of this.#lastDays) if (finishedDay(asOf, acquirerId) > day) return true
    return false
  }

  /** Recomputes every map; the old ones stay in use until the new ones are complete. */
  async refresh(now: number, asOf?: AsOf): Promise<void> {
    const { store } = this.#opts
    try {
      // Each acquirer's last day: the store's latest local day, or the day the rules finished last.
      const stored = await (
        await store.client.query({
          query: LAST_DAYS_SQL,
          query_params: { db: store.database },
          format: 'JSONEachRow',
        })
      ).json<{ acquirer_id: string; day: number }>()
      if (stored.length === 0) {
        // A new store: nothing to measure yet.
        this.#tables = emptyBaselines(this.#opts.minCohort)
        this.#lastDays = new Map()
        this.refreshedAt = now
        return
      }
      const latestStored = Math.max(...stored.map((r) => Number(r.day)))
      const lastDays = new Map<string, number>()
      for (const r of stored) {
        const finished =
          asOf === undefined || !Number.isFinite(asOf.latest)
            ? latestStored
            : finishedDay(asOf, r.acquirer_id)
        lastDays.set(r.acquirer_id, Math.min(latestStored, finished))
      }
      const ends = {
        acquirers: [...lastDays.keys()],
        lastDays: [...lastDays.values()].map(isoDay),
      }
      const own = new Map<string, MerchantBaseline>()
      const ownRows = await (
        await store.client.query({
          query: OWN_SQL,
          query_params: { db: store.database, ...ends },
          format: 'JSONEachRow',
        })
      ).json<{ acquirer_id: string; merchant_id: string; median: number; days: number }>()
      for (const r of ownRows) {
        own.set(`${r.acquirer_id}\u0000${r.merchant_id}`, {
          dailyVolumeMedian: Number(r.median),
          activeDays: Number(r.days),
        })
      }

      const peers = new Map<string, PeerStats>()
      const population = new Map<string, PeerStats>()
      const currencies = [...CURRENCY_EXPONENTS.entries()]
      const peerRows = await (
        await store.client.query({
          query: PEERS_SQL,
          query_params: {
            db: store.database,
            ...ends,
            minCohort: this.#opts.minCohort,
            minSales: MIN_MEASURED_SALES,
            currencies: currencies.map(([c]) => c),
            units: currencies.map(([, e]) => 10 ** e),
          },
          format: 'JSONEachRow',
        })
      ).json<PeerRow>()
      for (const r of peerRows) {
        const n = Number(r.n)
        const days = Number(r.days)
        const dist = (q: readonly number[]): Distribution => ({ n, days, q: q.map(Number) })
        const stats: PeerStats = {
          creditShare: dist(r.credit_share),
          avgTicket: dist(r.avg_ticket),
          nightShare: dist(r.night_share),
          dailyVolume: dist(r.daily_volume),
          roundShare: dist(r.round_share),
          wholeUnitShare: dist(r.whole_unit_share),
          topBinShare: dist(r.top_bin_share),
        }
        if (r.mcc === '') population.set(r.acquirer_id, stats)
        else peers.set(`${r.acquirer_id}\u0000${r.mcc}\u0000${r.region}`, stats)
      }
      this.#tables = { peers, population, own, minCohort: this.#opts.minCohort }
      this.#lastDays = lastDays
      this.refreshedAt = now
      this.#opts.logger.info(
        {
          cohorts: peers.size,
          acquirers: population.size,
          merchants: own.size,
          through: Object.fromEntries(ends.acquirers.map((a, i) => [a, ends.lastDays[i]])),
        },
        'rule baselines refreshed',
      )
    } catch (e) {
      throw asRiskError(e, 'RISK_ERR_STORE_QUERY', 'cannot refresh rule baselines')
    }
  }
}

/** What Baselines computed, as plain maps (see Baselines.snapshot). */
export interface BaselineSnapshot {
  readonly peers: ReadonlyMap<string, PeerStats>
  readonly population: ReadonlyMap<string, PeerStats>
  readonly own: ReadonlyMap<string, MerchantBaseline>
  readonly minCohort: number
}

/** An empty snapshot: no references yet (the relative rules fall back). */
export function emptyBaselines(minCohort: number): BaselineSnapshot {
  return { peers: new Map(), population: new Map(), own: new Map(), minCohort }
}

/**
 * A merchant's references in a snapshot: its cohort (same acquirer and registered MCC in the same region
 * when that cohort has twice the minimum, else the same acquirer and MCC anywhere when it has the minimum)
 * and its acquirer's population. Null when neither is known.
 */
export function peersIn(
  s: BaselineSnapshot,
  acquirerId: string,
  mcc: string | null,
  latitude: number | null,
  longitude: number | null,
): References | null {
  const population = s.population.get(acquirerId) ?? null
  let cohort: PeerStats | null = null
  if (mcc !== null) {
    const region = regionOf(latitude, longitude)
    const regional = region === '' ? undefined : s.peers.get(`${acquirerId}\u0000${mcc}\u0000${region}`)
    cohort =
      regional !== undefined && regional.creditShare.n >= 2 * s.minCohort
        ? regional
        : (s.peers.get(`${acquirerId}\u0000${mcc}\u0000`) ?? null)
  }
  return population === null && cohort === null ? null : { cohort, population }
}

/** A merchant's own history in a snapshot; null when it has none yet. */
export function baselineIn(
  s: BaselineSnapshot,
  acquirerId: string,
  merchantId: string,
): MerchantBaseline | null {
  return s.own.get(`${acquirerId}\u0000${merchantId}`) ?? null
}

/**
 * The region of a registered location: its 1-degree cell of latitude and longitude (about 100 km), the
 * same key the SQL computes. Merchant profiles carry coordinates, not a city; a cell is a fair stand-in
 * for "the same city" and keeps peers local (prices and night life differ between cities).
 */
export function regionOf(latitude: number | null, longitude: number | null): string {
  if (latitude === null || longitude === null) return ''
  return `${Math.floor(latitude)}:${Math.floor(longitude)}`
}

/** The acquirer's local day (days since the epoch) before the one its latest event falls on. */
function finishedDay(asOf: AsOf, acquirerId: string): number {
  const { latest } = asOf
  return Math.floor((latest + utcOffsetMs(latest, asOf.timeZoneOf(acquirerId))) / DAY_MS) - 1
}

function isoDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10)
}

interface PeerRow {
  acquirer_id: string
  /** '' for the acquirer's whole population. */
  mcc: string
  /** '' for the MCC-wide cohort and the population. */
  region: string
  n: number
  days: number
  credit_share: number[]
  avg_ticket: number[]
  night_share: number[]
  daily_volume: number[]
  round_share: number[]
  whole_unit_share: number[]
  top_bin_share: number[]
}

// Each acquirer's latest stored local day, as days since the epoch.
const LAST_DAYS_SQL = `
SELECT acquirer_id, toUInt32(toRelativeDayNum(max(local_date)) - toRelativeDayNum(toDate('1970-01-01'))) AS day
FROM {db:Identifier}.merchant_daily
GROUP BY acquirer_id`

// The acquirer's last local day of the windows, per row (see Baselines.refresh).
const LAST_DAY = `transform(acquirer_id, {acquirers:Array(String)}, {lastDays:Array(Date)}, toDate('1970-01-01')) AS last_day`

// Median approved volume per active day over the last 90 local days, per merchant.
const OWN_SQL = `
WITH ${LAST_DAY}
SELECT acquirer_id, merchant_id, toFloat64(quantileExact(0.5)(amount)) AS median, toUInt32(count()) AS days
FROM (
  SELECT acquirer_id, merchant_id, local_date, sum(approved_amount_minor) AS amount
  FROM {db:Identifier}.merchant_daily_v
  WHERE local_date > last_day - 90 AND local_date <= last_day
  GROUP BY acquirer_id, merchant_id, local_date
  HAVING amount > 0
)
GROUP BY acquirer_id, merchant_id`

const LEVELS = QUANTILE_GRID.join(', ')
const QUANTILES = `
  toUInt32(count()) AS n,
  any(window_days) AS days,
  quantilesExact(${LEVELS})(credit_share) AS credit_share,
  quantilesExact(${LEVELS})(avg_ticket) AS avg_ticket,
  quantilesExact(${LEVELS})(night_share) AS night_share,
  quantilesExact(${LEVELS})(daily_volume) AS daily_volume,
  quantilesExact(${LEVELS})(round_share) AS round_share,
  quantilesExact(${LEVELS})(whole_unit_share) AS whole_unit_share,
  quantilesExact(${LEVELS})(top_bin_share) AS top_bin_share`

// Each merchant's 30-day measures from the stored transactions, exactly as the rules measure them
// (the round share is over sales of 1,000 major units or more, which the daily aggregates do not
// count), then per acquirer the quantiles of each measure across merchants with enough sales: per
// registered MCC and region, per MCC, and over the whole population (mcc '').
const PEERS_SQL = `
WITH
  ${LAST_DAY},
  windows AS (
    SELECT acquirer_id, toUInt32(uniqExact(local_date)) AS window_days
    FROM {db:Identifier}.merchant_daily
    WHERE local_date > last_day - 30 AND local_date <= last_day
    GROUP BY acquirer_id
  ),
  sales AS (
    SELECT acquirer_id, merchant_id, local_date, local_hour, card_type, card_bin, amount_minor, is_round_thousand,
      is_whole_unit, transform(currency, {currencies:Array(String)}, {units:Array(UInt64)}, toUInt64(100)) AS unit
    FROM {db:Identifier}.transactions
    WHERE local_date > last_day - 30 AND local_date <= last_day AND is_sale AND is_approved
  ),
  merchants AS (
    SELECT
      acquirer_id,
      merchant_id,
      toFloat64(sumIf(amount_minor, card_type = 'CREDIT')) / sum(amount_minor) AS credit_share,
      toFloat64(sum(amount_minor)) / count() AS avg_ticket,
      toFloat64(sumIf(amount_minor, local_hour < 5)) / sum(amount_minor) AS night_share,
      toFloat64(sum(amount_minor)) / uniqExact(local_date) AS daily_volume,
      if(countIf(amount_minor >= 1000 * unit) = 0, 0,
         countIf(amount_minor >= 1000 * unit AND is_round_thousand) / countIf(amount_minor >= 1000 * unit)) AS round_share,
      if(countIf(unit > 1) = 0, 0, countIf(unit > 1 AND is_whole_unit) / countIf(unit > 1)) AS whole_unit_share
    FROM sales
    GROUP BY acquirer_id, merchant_id
    HAVING count() >= {minSales:UInt32} AND sum(amount_minor) > 0
  ),
  bins AS (
    SELECT acquirer_id, merchant_id, if(sum(amount) = 0, 0, max(amount) / sum(amount)) AS top_bin_share
    FROM (
      SELECT acquirer_id, merchant_id, card_bin, toFloat64(sum(amount_minor)) AS amount
      FROM sales WHERE card_bin IS NOT NULL
      GROUP BY acquirer_id, merchant_id, card_bin
    )
    GROUP BY acquirer_id, merchant_id
  ),
  measured AS (
    SELECT
      m.acquirer_id AS acquirer_id,
      p.registered_mcc AS mcc,
      if(p.latitude IS NULL OR p.longitude IS NULL, '',
         concat(toString(toInt32(floor(p.latitude))), ':', toString(toInt32(floor(p.longitude))))) AS region,
      w.window_days AS window_days,
      m.credit_share AS credit_share, m.avg_ticket AS avg_ticket, m.night_share AS night_share,
      m.daily_volume AS daily_volume, m.round_share AS round_share, m.whole_unit_share AS whole_unit_share,
      b.top_bin_share AS top_bin_share
    FROM merchants AS m
    INNER JOIN windows AS w ON w.acquirer_id = m.acquirer_id
    LEFT JOIN bins AS b ON b.acquirer_id = m.acquirer_id AND b.merchant_id = m.merchant_id
    LEFT JOIN {db:Identifier}.merchant_profile_v AS p
      ON p.acquirer_id = m.acquirer_id AND p.merchant_id = m.merchant_id
  )
SELECT acquirer_id, assumeNotNull(mcc) AS mcc, region, ${QUANTILES}
FROM measured WHERE mcc IS NOT NULL AND region != '' GROUP BY acquirer_id, mcc, region HAVING n >= {minCohort:UInt32}
UNION ALL
SELECT acquirer_id, assumeNotNull(mcc) AS mcc, '' AS region, ${QUANTILES}
FROM measured WHERE mcc IS NOT NULL GROUP BY acquirer_id, mcc HAVING n >= {minCohort:UInt32}
UNION ALL
SELECT acquirer_id, '' AS mcc, '' AS region, ${QUANTILES}
FROM measured GROUP BY acquirer_id`
