import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../lib/logger.ts'
import { buildRulesConfig } from '../../rules/engine/config.ts'
import { ENTITY_RULES } from '../../rules/entity/index.ts'
import { RULES } from '../../rules/index.ts'
import type { ScoreEvent } from '../../schemas/types.generated.ts'
import { CapacityCalibration } from '../../scoring/capacity.ts'
import { levelOf, levelsOf } from '../../scoring/model.ts'
import { scoreChangeOf } from '../../scoring/score-events.ts'
import { openStore, type Store } from '../../store/client.ts'
import { writeScores } from '../../store/scores.ts'

const DAY = 86_400_000
const T0 = Date.UTC(2026, 10, 10)

/** A score row of merchant `m` at `at` with `score` points (its level at the configured thresholds). */
function row(acquirerId: string, m: string, at: number, score: number): ScoreEvent {
  const model = buildRulesConfig({}, RULES, 'test', ENTITY_RULES).scoring
  const result = {
    category: 'fraud' as const,
    score,
    level: levelOf(model, score),
    contributions: [],
    families: [],
  }
  return {
    acquirer_id: acquirerId,
    merchant_id: m,
    scores: [scoreChangeOf(result, at)],
    alerts: [],
    cases: [],
  }
}

describe('review capacity from the score history', () => {
  let store: Store
  let dir: string

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'capacity-'))
    store = await openStore({ database: 'capacity_test', chdbPath: join(dir, 'chdb') })
    const rows = [
      // acq-busy: 30 merchants reached MEDIUM over the last five days, peaks 40 to 98.
      ...Array.from({ length: 30 }, (_, i) => row('acq-busy', `b${i}`, T0 - (i % 5) * DAY, 40 + 2 * i)),
      // An old hand: first at MEDIUM twenty days ago, so not a new entrant now, however high.
      row('acq-busy', 'old', T0 - 20 * DAY, 50),
      row('acq-busy', 'old', T0, 99),
      // Scores under MEDIUM are no entrants.
      ...Array.from({ length: 10 }, (_, i) => row('acq-busy', `low${i}`, T0 - DAY, 20)),
      // acq-quiet: three entrants, well within its capacity.
      ...[70, 50, 35].map((score, i) => row('acq-quiet', `q${i}`, T0 - i * DAY, score)),
    ]
    await writeScores(store, rows, Date.now())
  })

  afterAll(async () => {
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('raises MEDIUM for an acquirer whose new merchants outnumber its analysts, and only for it', async () => {
    const model = buildRulesConfig(
      { scoring: { capacity: { newPerDay: 2, days: 7 } } },
      RULES,
      'test',
      ENTITY_RULES,
    ).scoring
    const capacity = new CapacityCalibration({ store, logger: createLogger('silent') })
    expect(capacity.apply(model)).toBe(model)
    await capacity.refresh(model)
    // Fourteen fit in seven days at two a day: MEDIUM rises to the 14th highest peak (98 … 72).
    const busy = levelsOf(capacity.apply(model), 'acq-busy')
    expect(busy).toEqual({ medium: 72, high: 99, critical: 100 })
    expect(levelsOf(capacity.apply(model), 'acq-quiet')).toEqual(model.levels)
    // The same object while nothing changed, so the stage reads one model per refresh.
    expect(capacity.apply(model)).toBe(capacity.apply(model))
  })

  it('takes a per-acquirer capacity from the scoring section', async () => {
    const model = buildRulesConfig(
      { scoring: { capacity: { newPerDay: 2, days: 7, acquirers: { 'acq-busy': 10 } } } },
      RULES,
      'test',
      ENTITY_RULES,
    ).scoring
    const capacity = new CapacityCalibration({ store, logger: createLogger('silent') })
    await capacity.refresh(model)
    expect(capacity.levels.size).toBe(0)
  })
})
