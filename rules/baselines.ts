import { asRiskError } from '../lib/errors.ts'
import type { Logger } from '../lib/logger.ts'
import type { Store } from '../store/client.ts'
import type { MerchantBaseline, PeerStats, Spread } from './engine/types.ts'

export interface BaselineOptions {
  store: Store
  logger: Logger
  /** Merchants in a cohort below which its spread is not published (the rules then use absolute thresholds). */
  minCohort: number
}

/**
 * Peer cohorts and merchants' own history, computed in ClickHouse from `merchant_daily` and kept in
 * memory for the rule engine. Refreshed periodically (the caller's timer): these are slow-moving
 * references, and an hour-old median is as good as a live one.
 *
 * Windows end at the latest local day in the table, not at the clock, so a replayed or simulated
 * history gets the baselines it would have had. Cohorts are acquirer × registered MCC × region, with an
 * MCC-wide cohort as the fallback where a region is too thin; the region is the 1-degree cell of the
 * registered location (see regionOf). Spreads are the median and half the interquartile range, which
 * equals the median absolute deviation for normal data and resists outliers the same way.
 */
export class Baselines {
  readonly #opts: BaselineOptions
  #peers = new Map<string, PeerStats>()
  #own = new Map<string, MerchantBaseline>()
  refreshedAt: number | null = null

  constructor(opts: BaselineOptions) {
    this.#opts = opts
  }

  /**
   * The merchant's cohort: same acquirer and registered MCC in the same region when that cohort is large
   * enough, else the same acquirer and MCC anywhere. Null when neither is.
   */
  peersOf(
    acquirerId: string,
    mcc: string | null,
    latitude: number | null,
    longitude: number | null,
  ): PeerStats | null {
    if (mcc === null) return null
    const region = regionOf(latitude, longitude)
    const regional = region === '' ? undefined : this.#peers.get(`${acquirerId}\u0000${mcc}\u0000${region}`)
    return regional ?? this.#peers.get(`${acquirerId}\u0000${mcc}\u0000`) ?? null
  }

  baselineOf(acquirerId: string, merchantId: string): MerchantBaseline | null {
    return this.#own.get(`${acquirerId}\u0000${merchantId}`) ?? null
  }

  get cohorts(): number {
    return this.#peers.size
  }

  get merchants(): number {
    return this.#own.size
  }

  /** Recomputes both maps; the old ones stay in use until the new ones are complete. */
  async refresh(now: number): Promise<void> {
    const { store } = this.#opts
    try {
      const own = new Map<string, MerchantBaseline>()
      const ownRows = await (
        await store.client.query({
          query: OWN_SQL,
          query_params: { db: store.database },
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
      const peerRows = await (
        await store.client.query({
          query: PEERS_SQL,
          query_params: { db: store.database, minCohort: this.#opts.minCohort },
          format: 'JSONEachRow',
        })
      ).json<PeerRow>()
      for (const r of peerRows) {
        const n = Number(r.n)
        const spread = (q: readonly number[]): Spread => ({
          median: Number(q[1]),
          mad: (Number(q[2]) - Number(q[0])) / 2,
          n,
        })
        peers.set(`${r.acquirer_id}\u0000${r.mcc}\u0000${r.region}`, {
          creditShare: spread(r.credit_share),
          avgTicket: spread(r.avg_ticket),
          nightShare: spread(r.night_share),
          dailyVolume: spread(r.daily_volume),
          roundShare: spread(r.round_share),
          wholeUnitShare: spread(r.whole_unit_share),
        })
      }
      this.#own = own
      this.#peers = peers
      this.refreshedAt = now
      this.#opts.logger.info({ cohorts: peers.size, merchants: own.size }, 'rule baselines refreshed')
    } catch (e) {
      throw asRiskError(e, 'RISK_ERR_STORE_QUERY', 'cannot refresh rule baselines')
    }
  }
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

interface PeerRow {
  acquirer_id: string
  mcc: string
  /** '' for the MCC-wide cohort. */
  region: string
  n: number
  credit_share: number[]
  avg_ticket: number[]
  night_share: number[]
  daily_volume: number[]
  round_share: number[]
  whole_unit_share: number[]
}

// Median approved volume per active day over the last 90 local days, per merchant.
const OWN_SQL = `
WITH (SELECT max(local_date) FROM {db:Identifier}.merchant_daily) AS last_day
SELECT acquirer_id, merchant_id, toFloat64(quantileExact(0.5)(amount)) AS median, toUInt32(count()) AS days
FROM (
  SELECT acquirer_id, merchant_id, local_date, sum(approved_amount_minor) AS amount
  FROM {db:Identifier}.merchant_daily_v
  WHERE local_date > last_day - 90
  GROUP BY acquirer_id, merchant_id, local_date
  HAVING amount > 0
)
GROUP BY acquirer_id, merchant_id`

// Each merchant's 30-day measures, then per acquirer and registered MCC the quartiles of each measure
// (q25, median, q75) across the merchants with enough sales to have a meaningful ratio.
// round_share is over all sales, not only those of 1,000 major units or more as the rule measures it:
// merchant_daily has no count of large sales yet. For the cohorts where it matters (car dealers,
// jewellers: nearly every sale is large) the two agree; for small-ticket cohorts both are near zero.
const QUARTILES = `
  toUInt32(count()) AS n,
  quantilesExact(0.25, 0.5, 0.75)(credit_share) AS credit_share,
  quantilesExact(0.25, 0.5, 0.75)(avg_ticket) AS avg_ticket,
  quantilesExact(0.25, 0.5, 0.75)(night_share) AS night_share,
  quantilesExact(0.25, 0.5, 0.75)(daily_volume) AS daily_volume,
  quantilesExact(0.25, 0.5, 0.75)(round_share) AS round_share,
  quantilesExact(0.25, 0.5, 0.75)(whole_unit_share) AS whole_unit_share`

// Each cohort twice: per region, and MCC-wide (region '') as the fallback for thin regions.
const PEERS_SQL = `
WITH
  (SELECT max(local_date) FROM {db:Identifier}.merchant_daily) AS last_day,
  measured AS (
    SELECT
      m.acquirer_id AS acquirer_id,
      p.registered_mcc AS mcc,
      if(p.latitude IS NULL OR p.longitude IS NULL, '',
         concat(toString(toInt32(floor(p.latitude))), ':', toString(toInt32(floor(p.longitude))))) AS region,
      m.credit_share AS credit_share, m.avg_ticket AS avg_ticket, m.night_share AS night_share,
      m.daily_volume AS daily_volume, m.round_share AS round_share, m.whole_unit_share AS whole_unit_share
    FROM (
      SELECT
        acquirer_id,
        merchant_id,
        toFloat64(sum(credit_amount_minor)) / sum(approved_amount_minor) AS credit_share,
        toFloat64(sum(approved_amount_minor)) / sum(approved_sales) AS avg_ticket,
        toFloat64(sum(night_amount_minor)) / sum(approved_amount_minor) AS night_share,
        toFloat64(sum(approved_amount_minor)) / countIf(approved_sales > 0) AS daily_volume,
        toFloat64(sum(round_thousand_sales)) / sum(approved_sales) AS round_share,
        toFloat64(sum(whole_unit_sales)) / sum(approved_sales) AS whole_unit_share
      FROM {db:Identifier}.merchant_daily_v
      WHERE local_date > last_day - 30
      GROUP BY acquirer_id, merchant_id
      HAVING sum(approved_sales) >= 20
    ) AS m
    INNER JOIN {db:Identifier}.merchant_profile_v AS p
      ON p.acquirer_id = m.acquirer_id AND p.merchant_id = m.merchant_id
    WHERE p.registered_mcc IS NOT NULL
  )
SELECT acquirer_id, mcc, region, ${QUARTILES}
FROM measured WHERE region != '' GROUP BY acquirer_id, mcc, region HAVING n >= {minCohort:UInt32}
UNION ALL
SELECT acquirer_id, mcc, '' AS region, ${QUARTILES}
FROM measured GROUP BY acquirer_id, mcc HAVING n >= {minCohort:UInt32}`
