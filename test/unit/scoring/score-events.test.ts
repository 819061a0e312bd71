import { describe, expect, it } from 'vitest'
import { buildRulesConfig } from '../../../rules/engine/config.ts'
import { ENTITY_RULES } from '../../../rules/entity/index.ts'
import { RULES } from '../../../rules/index.ts'
import type { IncomingHit } from '../../../scoring/model.ts'
import { scoreCategory } from '../../../scoring/model.ts'
import { BREAKDOWN_MAX, scoreChangeOf } from '../../../scoring/score-events.ts'

const DAY = 86_400_000
const T0 = Date.UTC(2026, 10, 1)
const model = buildRulesConfig({}, RULES, 'test', ENTITY_RULES).scoring

function hit(ruleId: string, n: number): IncomingHit {
  return {
    hitId: `${ruleId}-${n}`,
    acquirerId: 'acq-a',
    merchantId: 'm-1',
    ruleId,
    ruleVersion: 2,
    observed: 0.9,
    threshold: 0.5,
    windowStart: T0 - (n + 1) * DAY,
    windowEnd: T0 - n * DAY,
    sampleTxnIds: ['t-1', 't-2', 't-3'],
    detail: `${ruleId} fired with a long explanation`,
    detectedAt: T0 - n * 3_600_000,
    basis: 'peers',
  }
}

describe('scoreChangeOf', () => {
  it("writes each hit's part in the score and refers to the hit for its evidence", () => {
    const result = scoreCategory(model, [hit('structuring', 0), hit('round_amount', 1)], 'fraud', T0)
    const change = scoreChangeOf(result, T0)
    expect(change.score).toBe(result.score)
    expect(change.hit_count).toBe(2)
    const breakdown = JSON.parse(change.breakdown) as Record<string, unknown>[]
    expect(breakdown[0]).toEqual({
      hit_id: 'structuring-0',
      rule_id: 'structuring',
      rule_version: 2,
      family: result.contributions[0]?.family,
      strong: true,
      counted: true,
      points: result.contributions[0]?.points,
      decayed_points: Math.round((result.contributions[0]?.decayed ?? 0) * 100) / 100,
      window_start: T0 - DAY,
      window_end: T0,
      detected_at: T0,
      basis: 'peers',
    })
    // The evidence is the hit's, stored once in rule_hits: not copied into every score change.
    for (const entry of breakdown)
      for (const field of ['observed', 'threshold', 'sample_txn_ids', 'detail'])
        expect(entry).not.toHaveProperty(field)
  })

  it('lists at most BREAKDOWN_MAX hits, counted first, and counts them all in hit_count', () => {
    const hits = Array.from({ length: BREAKDOWN_MAX + 6 }, (_, i) =>
      hit(i % 2 === 0 ? 'round_amount' : 'structuring', i),
    )
    const result = scoreCategory(model, hits, 'fraud', T0)
    const change = scoreChangeOf(result, T0)
    const breakdown = JSON.parse(change.breakdown) as { counted: boolean }[]
    expect(breakdown).toHaveLength(BREAKDOWN_MAX)
    expect(change.hit_count).toBe(BREAKDOWN_MAX + 6)
    expect(breakdown[0]?.counted).toBe(true)
  })
})
