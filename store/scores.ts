import type { RiskAlert } from '../schemas/types.generated.ts'
import type { CaseRequest, CategoryScore, Contribution } from '../scoring/model.ts'
import type { Store } from './client.ts'
import { insertRows } from './json-rows.ts'
import { dateTime64 } from './transactions.ts'

/** One change of a merchant's score, as the scoring stage hands it to the store. */
export interface ScoreRow {
  acquirerId: string
  merchantId: string
  result: CategoryScore
  /** Event time of the scoring (the merchant's watermark). */
  at: number
}

/** The breakdown of a score as stored (JSON): every contributing hit, counted ones first. */
export function breakdownOf(contributions: readonly Contribution[]): object[] {
  return contributions.map((c) => ({
    hit_id: c.hit.hitId,
    rule_id: c.hit.ruleId,
    rule_version: c.hit.ruleVersion,
    family: c.family,
    strong: c.strong,
    counted: c.counted,
    points: c.points,
    decayed_points: Math.round(c.decayed * 100) / 100,
    observed: c.hit.observed,
    threshold: c.hit.threshold,
    window_start: c.hit.windowStart,
    window_end: c.hit.windowEnd,
    detected_at: c.hit.detectedAt,
    sample_txn_ids: c.hit.sampleTxnIds,
    detail: c.hit.detail,
  }))
}

/**
 * Writes score changes: the latest score table and the history. Both collapse a rewrite of the same
 * key, so a replay writes nothing twice. Throws RISK_ERR_STORE_WRITE (retriable).
 */
export async function writeScores(store: Store, scores: readonly ScoreRow[], now: number): Promise<void> {
  if (scores.length === 0) return
  const common = scores.map((s) => ({
    acquirer_id: s.acquirerId,
    merchant_id: s.merchantId,
    category: s.result.category,
    score: s.result.score,
    level: s.result.level,
    breakdown: JSON.stringify(breakdownOf(s.result.contributions)),
    scored_at: dateTime64(s.at),
    written_at: dateTime64(now),
  }))
  await Promise.all([
    insertRows(
      store,
      'merchant_scores',
      common.map((row, i) => ({
        ...row,
        hit_count: scores[i]?.result.contributions.length ?? 0,
        families: scores[i]?.result.families ?? [],
      })),
    ),
    insertRows(store, 'score_history', common),
  ])
}

/** Writes published alerts, once per alert_id. Throws RISK_ERR_STORE_WRITE (retriable). */
export async function writeAlerts(
  store: Store,
  alerts: readonly { alert: RiskAlert; topic: string; families: readonly string[] }[],
  now: number,
): Promise<void> {
  await insertRows(
    store,
    'alerts',
    alerts.map(({ alert, topic, families }) => ({
      acquirer_id: alert.acquirer_id,
      alert_id: alert.alert_id,
      merchant_id: alert.merchant_id,
      category: alert.category.toLowerCase(),
      level: alert.level,
      previous_level: alert.previous_level,
      score: alert.score,
      families,
      rule_ids: [...new Set(alert.reasons.map((r) => r.rule_id))],
      reasons: JSON.stringify(alert.reasons),
      topic,
      created_at: dateTime64(alert.created_at),
      written_at: dateTime64(now),
    })),
  )
}

/**
 * Opens the cases that mandatory compliance rules ask for, as version 1 rows. The case id comes from
 * the hit, so a replay writes the same row; and an analyst's later versions of the case outrank it.
 */
export async function openCases(store: Store, cases: readonly CaseRequest[]): Promise<void> {
  await insertRows(
    store,
    'cases',
    cases.map((c) => ({
      acquirer_id: c.acquirerId,
      case_id: c.caseId,
      merchant_id: c.merchantId,
      status: 'open',
      assignee: '',
      decision: '',
      actions: [],
      opened_by: 'system',
      opened_reason: c.reason,
      opened_at: dateTime64(c.at),
      updated_at: dateTime64(c.at),
      version: 1,
    })),
  )
}
