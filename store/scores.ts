import type { RiskAlert, ScoreEvent } from '../schemas/types.generated.ts'
import type { Store } from './client.ts'
import { insertRows } from './json-rows.ts'
import { dateTime64 } from './transactions.ts'

/**
 * Writes what the scoring stage decided for merchants (score events, decoded by the sink stage): the
 * latest score table and its history, one row per merchant, category and event. Both collapse a
 * rewrite of the same key, so a replay writes nothing twice. Throws RISK_ERR_STORE_WRITE (retriable).
 */
export async function writeScores(store: Store, events: readonly ScoreEvent[], now: number): Promise<void> {
  const rows = events.flatMap((e) =>
    e.scores.map((s) => ({
      acquirer_id: e.acquirer_id,
      merchant_id: e.merchant_id,
      category: s.category,
      score: s.score,
      level: s.level,
      breakdown: s.breakdown,
      scored_at: dateTime64(s.scored_at),
      written_at: dateTime64(now),
      hit_count: s.hit_count,
      families: s.families,
    })),
  )
  if (rows.length === 0) return
  await Promise.all([
    insertRows(store, 'merchant_scores', rows),
    // The history keeps score and level over time (its chart), not the breakdown (0007).
    insertRows(
      store,
      'score_history',
      rows.map(({ hit_count: _h, families: _f, breakdown: _b, ...row }) => row),
    ),
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
export async function openCases(store: Store, events: readonly ScoreEvent[]): Promise<void> {
  const rows = events.flatMap((e) =>
    e.cases.map((c) => ({
      acquirer_id: e.acquirer_id,
      case_id: c.case_id,
      merchant_id: e.merchant_id,
      status: 'open',
      assignee: '',
      decision: '',
      actions: [],
      opened_by: 'system',
      opened_reason: c.reason,
      opened_at: dateTime64(c.opened_at),
      updated_at: dateTime64(c.opened_at),
      version: 1,
    })),
  )
  await insertRows(store, 'cases', rows)
}
