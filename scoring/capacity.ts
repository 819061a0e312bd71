import { asRiskError, isRiskError } from '../lib/errors.ts'
import type { Logger } from '../lib/logger.ts'
import type { Store } from '../store/client.ts'
import { capacityOf, type Levels, levelsForCapacity, type ScoringModel, withLevels } from './model.ts'

export interface CapacityOptions {
  store: Store
  logger: Logger
}

/**
 * Keeps each acquirer's queue within its review capacity (the scoring section's `capacity`): from the
 * stored score history, the merchants that first reached MEDIUM (at the configured thresholds) within
 * the capacity's days and the peak score each reached since; when there are more than the analysts can
 * take, levelsForCapacity raises the thresholds so that about `newPerDay` a day enter, the highest
 * scores first. The levels only ever rise above the configured ones. Periods are event time (the
 * history's latest score), like every other clock of the pipeline, so a replayed month calibrates as it
 * would have live.
 *
 * The scoring stage reads its model per batch; `apply` gives it the configured model with the current
 * levels, so a reload of the rules file keeps the calibration and the next refresh follows the new one.
 */
export class CapacityCalibration {
  readonly #opts: CapacityOptions
  #levels: ReadonlyMap<string, Levels> = new Map()
  #applied: { model: ScoringModel; levels: ReadonlyMap<string, Levels>; result: ScoringModel } | null = null
  #timer: NodeJS.Timeout | null = null

  constructor(opts: CapacityOptions) {
    this.#opts = opts
  }

  /** The calibrated levels, by acquirer (only those that differ from the configured ones). */
  get levels(): ReadonlyMap<string, Levels> {
    return this.#levels
  }

  /** `model` with the calibrated levels; the same object while neither changed. */
  apply(model: ScoringModel): ScoringModel {
    const a = this.#applied
    if (a !== null && a.model === model && a.levels === this.#levels) return a.result
    const result = this.#levels.size === 0 ? model : withLevels(model, this.#levels)
    this.#applied = { model, levels: this.#levels, result }
    return result
  }

  /** Recomputes the levels from the score history under `model`'s capacities and configured levels. */
  async refresh(model: ScoringModel): Promise<void> {
    const { store } = this.#opts
    let rows: { acquirer_id: string; peak: number }[]
    try {
      rows = await (
        await store.client.query({
          query: ENTRANTS_SQL,
          query_params: { db: store.database, medium: model.levels.medium, days: model.capacity.days },
          format: 'JSONEachRow',
        })
      ).json()
    } catch (e) {
      throw asRiskError(e, 'RISK_ERR_STORE_QUERY', 'cannot read the score history for the review capacity')
    }
    const peaks = new Map<string, number[]>()
    for (const r of rows) peaks.set(r.acquirer_id, [...(peaks.get(r.acquirer_id) ?? []), Number(r.peak)])
    const levels = new Map<string, Levels>()
    for (const [acquirerId, list] of peaks) {
      const l = levelsForCapacity(model.levels, list, capacityOf(model, acquirerId), model.capacity.days)
      if (l !== model.levels) levels.set(acquirerId, l)
    }
    this.#levels = levels
    if (levels.size > 0)
      this.#opts.logger.info({ levels: Object.fromEntries(levels) }, 'levels raised to fit review capacity')
  }

  /** Refreshes every `everyMs` (and once now) until stop; a failed refresh keeps the levels it had. */
  start(everyMs: number, model: () => ScoringModel): void {
    const run = () => {
      this.refresh(model()).catch((e: unknown) => {
        this.#opts.logger.warn(
          isRiskError(e) ? e.toLog() : { error: String(e) },
          'review capacity not refreshed',
        )
      })
    }
    run()
    this.#timer = setInterval(run, everyMs)
    this.#timer.unref()
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
  }
}

// Merchants whose first score at MEDIUM or above (either category) within the last 90 days of the
// history falls within the capacity's days, with their peak score since.
const ENTRANTS_SQL = `
WITH (SELECT max(scored_at) FROM {db:Identifier}.score_history) AS latest
SELECT acquirer_id, merchant_id, max(score) AS peak
FROM {db:Identifier}.score_history
WHERE score >= {medium:Float64} AND scored_at > latest - toIntervalDay(90)
GROUP BY acquirer_id, merchant_id
HAVING min(scored_at) > latest - toIntervalDay({days:UInt32})`
