/**
 * Precision, recall and top-k precision of a replay against the labels. Pure: a tiny hand-made set can
 * be checked number by number (test/unit/backtest-metrics.test.ts).
 *
 * Definitions (the report prints them too):
 * - A merchant is *positive* when labelled fraud or compliance; look-alikes and legit ones are negative.
 * - Per rule, a merchant is *flagged* when the rule hit it at least once. Precision = flagged positives /
 *   flagged. Recall = merchants that expect the rule (their label's expected_rules) and were hit by it /
 *   merchants that expect it.
 * - Overall, a merchant is flagged when the scorer alerted on it at MEDIUM or above (either score),
 *   or held it at that level during the measured days after an alert in the warm-up history.
 *   Precision = alerted positives / alerted; recall = alerted positives / positives.
 * - Top-k: the merchants ranked by the highest score they reached (ties by merchant id), positives
 *   among the first k / k (or among all ranked when fewer than k have a score). Per rule, the
 *   ranking is of the merchants that rule hit.
 * - Alerts per day: alerts / replayed days; per rule, alerts whose reasons include the rule.
 */
import type { RiskLevel } from '../schemas/types.generated.ts'
import type { LabelKind, MerchantLabel } from '../simulator/labels.ts'

export interface AlertRecord {
  at: number
  category: 'fraud' | 'compliance'
  level: RiskLevel
  /** Rules among the alert's reasons. */
  rules: string[]
}

/** What one merchant went through in a replay (merchants no rule hit are absent). */
export interface MerchantResult {
  acquirer_id: string
  merchant_id: string
  rules: string[]
  /** Highest score, fraud or compliance, the merchant reached. */
  max_score: number
  max_level: RiskLevel | null
  /**
   * In alert during the measured days: the scorer alerted on it at the alerts' minimum level (MEDIUM)
   * or above then, or had alerted before and its level was still that high then (an analyst's queue
   * does not forget a merchant because its alert came during the warm-up history).
   */
  alerted: boolean
  /** The alerts raised during the measured days. */
  alerts: AlertRecord[]
}

export interface Rates {
  flagged: number
  truePositives: number
  /** null when nothing was flagged. */
  precision: number | null
  /** Denominator of recall. */
  expected: number
  caught: number
  /** null when nothing was expected. */
  recall: number | null
  precisionAtK: number | null
  /** Merchants behind precisionAtK (k, or fewer when fewer were ranked). */
  rankedAtK: number
  alertsPerDay: number
}

export interface ScenarioRow {
  scenario: string
  label: LabelKind
  merchants: number
  alerted: number
  /** Merchants hit by each rule, most first. */
  rulesHit: { rule: string; merchants: number }[]
  /** Of the rules the scenario expects, how many of its merchants each missed. */
  missed: { rule: string; merchants: number }[]
}

export interface Metrics {
  topK: number
  days: number
  merchants: number
  positives: number
  overall: Rates
  rules: ({ rule: string } & Rates)[]
  scenarios: ScenarioRow[]
}

const POSITIVE: ReadonlySet<LabelKind> = new Set(['fraud', 'compliance'])

export function computeMetrics(
  labels: readonly MerchantLabel[],
  results: readonly MerchantResult[],
  opts: { topK: number; days: number; ruleIds: readonly string[] },
): Metrics {
  const labelOf = new Map(labels.map((l) => [keyOf(l), l]))
  const resultOf = new Map(results.map((r) => [keyOf(r), r]))
  const positive = (r: MerchantResult) => POSITIVE.has(labelOf.get(keyOf(r))?.label ?? 'legit')
  const positives = labels.filter((l) => POSITIVE.has(l.label)).length
  const days = Math.max(1, opts.days)
  const alerted = (r: MerchantResult) => r.alerted
  const allAlerts = results.reduce((s, r) => s + r.alerts.length, 0)

  const rates = (
    flagged: readonly MerchantResult[],
    expected: number,
    caught: number,
    alerts: number,
  ): Rates => {
    const tp = flagged.filter(positive).length
    const ranked = [...flagged]
      .filter((r) => r.max_score > 0)
      .sort(
        (a, b) =>
          b.max_score - a.max_score ||
          (a.merchant_id < b.merchant_id ? -1 : a.merchant_id > b.merchant_id ? 1 : 0),
      )
      .slice(0, opts.topK)
    return {
      flagged: flagged.length,
      truePositives: tp,
      precision: flagged.length === 0 ? null : tp / flagged.length,
      expected,
      caught,
      recall: expected === 0 ? null : caught / expected,
      precisionAtK: ranked.length === 0 ? null : ranked.filter(positive).length / ranked.length,
      rankedAtK: ranked.length,
      alertsPerDay: alerts / days,
    }
  }

  const alertedResults = results.filter(alerted)
  const overall = rates(alertedResults, positives, alertedResults.filter(positive).length, allAlerts)
  const ruleIds = [...new Set([...opts.ruleIds, ...results.flatMap((r) => r.rules)])]
  const rules = ruleIds.map((rule) => {
    const hit = results.filter((r) => r.rules.includes(rule))
    const expecting = labels.filter((l) => l.expected_rules.includes(rule))
    const caught = expecting.filter((l) => resultOf.get(keyOf(l))?.rules.includes(rule) === true).length
    const alerts = results.reduce((s, r) => s + r.alerts.filter((a) => a.rules.includes(rule)).length, 0)
    return { rule, ...rates(hit, expecting.length, caught, alerts) }
  })

  const byScenario = new Map<string, MerchantLabel[]>()
  for (const l of labels) byScenario.set(l.scenario, [...(byScenario.get(l.scenario) ?? []), l])
  const order: Record<LabelKind, number> = { fraud: 0, compliance: 1, lookalike: 2, legit: 3 }
  const scenarios = [...byScenario.entries()]
    .map(([scenario, members]): ScenarioRow => {
      const count = new Map<string, number>()
      const missed = new Map<string, number>()
      let alertedCount = 0
      for (const l of members) {
        const r = resultOf.get(keyOf(l))
        if (r !== undefined && alerted(r)) alertedCount++
        for (const rule of r?.rules ?? []) count.set(rule, (count.get(rule) ?? 0) + 1)
        for (const rule of l.expected_rules)
          if (r?.rules.includes(rule) !== true) missed.set(rule, (missed.get(rule) ?? 0) + 1)
      }
      const sorted = (m: Map<string, number>) =>
        [...m.entries()]
          .map(([rule, merchants]) => ({ rule, merchants }))
          .sort((a, b) => b.merchants - a.merchants || (a.rule < b.rule ? -1 : 1))
      return {
        scenario,
        label: members[0]?.label ?? 'legit',
        merchants: members.length,
        alerted: alertedCount,
        rulesHit: sorted(count),
        missed: sorted(missed),
      }
    })
    .sort((a, b) => order[a.label] - order[b.label] || (a.scenario < b.scenario ? -1 : 1))

  return { topK: opts.topK, days, merchants: labels.length, positives, overall, rules, scenarios }
}

function keyOf(x: { acquirer_id: string; merchant_id: string }): string {
  return `${x.acquirer_id}\u0000${x.merchant_id}`
}
