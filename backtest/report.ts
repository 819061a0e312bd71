/**
 * The backtest's tables on stdout: per rule and overall for every configuration side by side, then per
 * scenario (how many of its merchants were alerted, which rules hit them, which expected rules missed).
 */
import type { Metrics, Rates } from './metrics.ts'

export interface NamedMetrics {
  name: string
  metrics: Metrics
}

const pct = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(1)}%`)

function table(header: readonly string[], rows: readonly (readonly string[])[], leftColumns = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (i < leftColumns ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`
  const rule = `|${widths.map((w, i) => (i < leftColumns ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`
  return [line(header), rule, ...rows.map(line)].join('\n')
}

function cells(r: Rates): string[] {
  return [
    String(r.flagged),
    pct(r.precision),
    r.expected === 0 ? '–' : `${pct(r.recall)} (${r.caught}/${r.expected})`,
    r.rankedAtK === 0 ? '–' : pct(r.precisionAtK),
    r.alertsPerDay.toFixed(2),
  ]
}

export function formatReport(runs: readonly NamedMetrics[]): string {
  const first = runs[0]
  if (first === undefined) return ''
  const k = first.metrics.topK
  const multi = runs.length > 1
  const suffix = (name: string) => (multi ? ` ${name}` : '')
  const header = [
    'rule',
    ...runs.flatMap((r) =>
      ['flagged', 'precision', 'recall', `P@${k}`, 'alerts/day'].map((h) => `${h}${suffix(r.name)}`),
    ),
  ]
  const ruleIds = [...new Set(runs.flatMap((r) => r.metrics.rules.map((x) => x.rule)))]
  const rows: string[][] = [
    ['ALERTED (MEDIUM+)', ...runs.flatMap((r) => cells(r.metrics.overall))],
    ...ruleIds.map((id) => [
      id,
      ...runs.flatMap((r) => {
        const found = r.metrics.rules.find((x) => x.rule === id)
        return found === undefined ? ['0', '–', '–', '–', '0.00'] : cells(found)
      }),
    ]),
  ]
  const m = first.metrics
  const out = [
    `${m.merchants} merchants (${m.positives} fraud or compliance), ${m.days} days, top-k = ${k}`,
    '',
    table(header, rows),
    '',
    'flagged: merchants the rule hit (ALERTED: merchants in alert at MEDIUM or above); precision: share of',
    'them labelled fraud or compliance; recall: merchants expecting the rule that it hit (ALERTED: positives',
    `alerted); P@${k}: positives among the ${k} highest-scored of them; alerts/day: alerts (with the rule among the reasons).`,
    '',
  ]
  const scenarioHeader = [
    'scenario',
    'label',
    'merchants',
    ...runs.map((r) => `alerted${suffix(r.name)}`),
    'rules hit (merchants)',
    'expected rules missed (merchants)',
  ]
  const scenarioRows = m.scenarios.map((s) => [
    s.scenario,
    s.label,
    String(s.merchants),
    ...runs.map((r) => String(r.metrics.scenarios.find((x) => x.scenario === s.scenario)?.alerted ?? 0)),
    s.rulesHit.map((x) => `${x.rule} ${x.merchants}`).join(', ') || '–',
    s.missed.map((x) => `${x.rule} ${x.merchants}`).join(', ') || '–',
  ])
  out.push(
    `Per scenario${multi ? ` (rules hit and missed: ${first.name})` : ''}:`,
    '',
    table(scenarioHeader, scenarioRows, 2),
  )
  return `${out.join('\n')}\n`
}
