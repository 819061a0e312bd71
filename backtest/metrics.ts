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
  /** What each of them was calibrated on (peers, population, none), '-' for rules that compare with nothing. */
  bases?: Record<string, string>
}

/** What one merchant went through in a replay (merchants no rule hit are absent). */
export interface MerchantResult {
  acquirer_id: string
  merchant_id: string
  rules: string[]
  /** Highest score, fraud or compliance, the merchant reached. */
  max_score: number
  max_level: RiskLevel | null
  /** Highest fraud score reached in the measured days: the order of the fraud queue. */
  max_fraud: number
  /** At the alerts' minimum level (MEDIUM) or above in the measured days, per category. */
  fraud_alerted: boolean
  compliance_alerted: boolean
  /** Local day (days since 1970) the merchant first stood at MEDIUM or above in the measured days. */
  first_alerted_day: number | null
  /** Levels at the end of the replay, decayed to its last event: the queue an analyst opens then. */
  end_fraud: RiskLevel | null
  end_compliance: RiskLevel | null
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

/** What issue 13 asks of the default configuration on every population. */
export const TARGETS = {
  cashOutRecall: 0.95,
  fraudPrecisionAt100: 0.95,
  legitRate: 0.005,
  lookalikeRate: 0.01,
  complianceRecall: 0.95,
} as const

export interface Share {
  merchants: number
  count: number
  /** null when there are no merchants. */
  rate: number | null
}

export interface Acceptance {
  /** Cash-out merchants (fraud but card testing) at fraud MEDIUM or above in the measured days. */
  cashOut: Share
  cardTesting: Share
  /**
   * Compliance merchants at compliance MEDIUM or above, over those whose own events can show the breach
   * (labels that expect a rule); `undetectable` counts the others (a terminal's lender).
   */
  compliance: Share & { undetectable: number; caughtUndetectable: number }
  /** Legitimate (plain) merchants at MEDIUM or above in either category. */
  legit: Share
  /** Each look-alike kind at MEDIUM or above in either category. */
  lookalikes: ({ kind: string } & Share)[]
  /** Fraud-labelled merchants among the k highest by fraud score. */
  fraudAtK: { k: number; ranked: number; positives: number; precision: number | null }
  /** The same, at the end of the replay (decayed levels): who sits in the queue then. */
  end: { cashOut: Share; legit: Share; lookalike: Share; compliance: Share }
  /** Each target and whether it holds. */
  checks: { name: string; value: number | null; target: number; pass: boolean }[]
  /** Legitimate and look-alike merchants at MEDIUM or above: the rules of their alerts, their peak. */
  falsePositives: Mistake[]
  /** Cash-out, card-testing and detectable compliance merchants never at MEDIUM in their category. */
  missed: Mistake[]
}

export interface Mistake {
  merchant_id: string
  scenario: string
  max_score: number
  /**
   * Local date (YYYY-MM-DD) it first stood at MEDIUM or above (either category) in the measured days;
   * null if never. A false positive's date says whether it came with the first weeks' learning or
   * later, from a service that has run for a while (see `negativeInflow`).
   */
  first_alerted: string | null
  /** The rules among its alerts' reasons (false positives) or every rule that hit it (missed). */
  rules: string[]
}

/** A local day number (days since 1970) as YYYY-MM-DD. */
export function localDateOf(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10)
}

/**
 * Legitimate and look-alike merchants entering the queue per day, over the first `span` measured days
 * and over the days after them (null where there are none): the second figure is what a service that
 * has run for a while adds to the analysts' queue each day, which a month's total hides. `dates` are the
 * measured local days in order (the replay's queue days).
 */
export function negativeInflow(
  falsePositives: readonly Mistake[],
  dates: readonly string[],
  span = 30,
): { first: number | null; after: number | null } {
  const cut = dates[span]
  const firstDays = Math.min(span, dates.length)
  const afterDays = Math.max(0, dates.length - span)
  let first = 0
  let after = 0
  for (const m of falsePositives) {
    if (m.first_alerted === null) continue
    if (cut !== undefined && m.first_alerted >= cut) after++
    else first++
  }
  return {
    first: firstDays === 0 ? null : first / firstDays,
    after: afterDays === 0 ? null : after / afterDays,
  }
}

function firstAlerted(r: MerchantResult | undefined): string | null {
  const day = r?.first_alerted_day ?? null
  return day === null ? null : localDateOf(day)
}

const atLeastMedium = (l: RiskLevel | null) => l === 'MEDIUM' || l === 'HIGH' || l === 'CRITICAL'

function share(merchants: number, count: number): Share {
  return { merchants, count, rate: merchants === 0 ? null : count / merchants }
}

/** The acceptance figures of issue 13 for one run (see TARGETS). */
export function computeAcceptance(
  labels: readonly MerchantLabel[],
  results: readonly MerchantResult[],
  k = 100,
): Acceptance {
  const resultOf = new Map(results.map((r) => [keyOf(r), r]))
  const of = (l: MerchantLabel) => resultOf.get(keyOf(l))
  const flagged = (l: MerchantLabel) => {
    const r = of(l)
    return r !== undefined && (r.fraud_alerted || r.compliance_alerted)
  }
  const endFlagged = (l: MerchantLabel) => {
    const r = of(l)
    return r !== undefined && (atLeastMedium(r.end_fraud) || atLeastMedium(r.end_compliance))
  }
  const cashOut = labels.filter((l) => l.label === 'fraud' && l.scenario !== 'card_testing')
  const testers = labels.filter((l) => l.scenario === 'card_testing')
  const compliance = labels.filter((l) => l.label === 'compliance')
  const detectable = compliance.filter((l) => l.expected_rules.length > 0)
  const hidden = compliance.filter((l) => l.expected_rules.length === 0)
  const legit = labels.filter((l) => l.label === 'legit')
  const lookalike = labels.filter((l) => l.label === 'lookalike')
  const fraudCaught = (l: MerchantLabel) => of(l)?.fraud_alerted === true
  const complianceCaught = (l: MerchantLabel) => of(l)?.compliance_alerted === true
  const kinds = [...new Set(lookalike.map((l) => l.scenario))].sort()
  const fraud = new Set(labels.filter((l) => l.label === 'fraud').map(keyOf))
  const ranked = [...results]
    .filter((r) => r.max_fraud > 0)
    .sort(
      (a, b) =>
        b.max_fraud - a.max_fraud ||
        (a.merchant_id < b.merchant_id ? -1 : a.merchant_id > b.merchant_id ? 1 : 0),
    )
    .slice(0, k)
  const positives = ranked.filter((r) => fraud.has(keyOf(r))).length
  const acceptance: Acceptance = {
    cashOut: share(cashOut.length, cashOut.filter(fraudCaught).length),
    cardTesting: share(testers.length, testers.filter(fraudCaught).length),
    compliance: {
      ...share(detectable.length, detectable.filter(complianceCaught).length),
      undetectable: hidden.length,
      caughtUndetectable: hidden.filter(complianceCaught).length,
    },
    legit: share(legit.length, legit.filter(flagged).length),
    lookalikes: kinds.map((kind) => {
      const members = lookalike.filter((l) => l.scenario === kind)
      return { kind, ...share(members.length, members.filter(flagged).length) }
    }),
    fraudAtK: {
      k,
      ranked: ranked.length,
      positives,
      precision: ranked.length === 0 ? null : positives / ranked.length,
    },
    end: {
      cashOut: share(cashOut.length, cashOut.filter((l) => atLeastMedium(of(l)?.end_fraud ?? null)).length),
      legit: share(legit.length, legit.filter(endFlagged).length),
      lookalike: share(lookalike.length, lookalike.filter(endFlagged).length),
      compliance: share(
        detectable.length,
        detectable.filter((l) => atLeastMedium(of(l)?.end_compliance ?? null)).length,
      ),
    },
    checks: [],
    falsePositives: [...legit, ...lookalike].filter(flagged).map((l) => ({
      merchant_id: l.merchant_id,
      scenario: l.scenario,
      max_score: of(l)?.max_score ?? 0,
      first_alerted: firstAlerted(of(l)),
      rules: [
        ...new Set((of(l)?.alerts ?? []).flatMap((a) => a.rules.map((r) => `${r}(${a.bases?.[r] ?? '-'})`))),
      ].sort(),
    })),
    missed: [
      ...[...cashOut, ...testers].filter((l) => !fraudCaught(l)),
      ...detectable.filter((l) => !complianceCaught(l)),
    ].map((l) => ({
      merchant_id: l.merchant_id,
      scenario: l.scenario,
      max_score: of(l)?.max_score ?? 0,
      first_alerted: firstAlerted(of(l)),
      rules: [...(of(l)?.rules ?? [])].sort(),
    })),
  }
  const worstKind = Math.max(0, ...acceptance.lookalikes.map((x) => x.rate ?? 0))
  const check = (name: string, value: number | null, target: number, atLeast: boolean) => ({
    name,
    value,
    target,
    pass: value !== null && (atLeast ? value >= target : value <= target),
  })
  acceptance.checks = [
    check('cash-out recall (fraud >= MEDIUM)', acceptance.cashOut.rate, TARGETS.cashOutRecall, true),
    check(
      `fraud precision of the top ${k}`,
      acceptance.fraudAtK.precision,
      TARGETS.fraudPrecisionAt100,
      true,
    ),
    check('legitimate at >= MEDIUM', acceptance.legit.rate, TARGETS.legitRate, false),
    check('worst look-alike kind at >= MEDIUM', worstKind, TARGETS.lookalikeRate, false),
    check(
      'compliance recall (compliance >= MEDIUM)',
      acceptance.compliance.rate,
      TARGETS.complianceRecall,
      true,
    ),
  ]
  return acceptance
}
