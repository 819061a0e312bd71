import type { ScoreChange } from '../schemas/types.generated.ts'
import type { CategoryScore, Contribution } from './model.ts'

/**
 * The most hits a stored breakdown lists: the counted ones first, then the strongest of the others.
 * A merchant can hold hundreds of live hits; writing them all on every change made scoring's cost
 * grow with the square of a merchant's history. `hit_count` still says how many there are.
 */
export const BREAKDOWN_MAX = 24

/**
 * The breakdown of a score as stored (JSON): counted hits first, then the strongest uncounted, bounded.
 * Each entry is the hit's part in the score (its rule, family, points before and after decay, window)
 * and refers to the hit by `hit_id` for its evidence: observed value, threshold, sample transactions
 * and detail are the hit's own, stored once in `rule_hits`, and the API joins them back. Carrying them
 * here wrote them again at every score change of the merchant: 540 bytes an entry, most of a score
 * event, which grew with the merchant's live hits.
 */
export function breakdownOf(contributions: readonly Contribution[]): object[] {
  return contributions.slice(0, BREAKDOWN_MAX).map((c) => ({
    hit_id: c.hit.hitId,
    rule_id: c.hit.ruleId,
    rule_version: c.hit.ruleVersion,
    family: c.family,
    strong: c.strong,
    counted: c.counted,
    points: c.points,
    decayed_points: Math.round(c.decayed * 100) / 100,
    window_start: c.hit.windowStart,
    window_end: c.hit.windowEnd,
    detected_at: c.hit.detectedAt,
    basis: c.hit.basis ?? null,
  }))
}

/** A category's score as the score event carries it to the sink. */
export function scoreChangeOf(result: CategoryScore, at: number): ScoreChange {
  return {
    category: result.category,
    score: result.score,
    level: result.level,
    hit_count: result.contributions.length,
    families: [...result.families],
    breakdown: JSON.stringify(breakdownOf(result.contributions)),
    scored_at: at,
  }
}
