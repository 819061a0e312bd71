/**
 * The backtest's tables on stdout: per rule and overall for every configuration side by side, then per
 * scenario (how many of its merchants were alerted, which rules hit them, which expected rules missed).
 */
import {
  type Acceptance,
  type Metrics,
  type Mistake,
  negativeInflow,
  type Rates,
  type Share,
} from './metrics.ts'
import type { QueueDay } from './replay.ts'

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

/** One column of the side-by-side acceptance table: a population under a configuration. */
export interface AcceptanceColumn {
  name: string
  acceptance: Acceptance
  queue: readonly QueueDay[]
}

const frac = (s: Share) => (s.rate === null ? '–' : `${pct(s.rate)} (${s.count}/${s.merchants})`)

/**
 * Issue 13's acceptance figures, populations (and configurations) side by side: a change that helps one
 * and hurts the other shows on one line.
 */
export function formatAcceptance(columns: readonly AcceptanceColumn[]): string {
  if (columns.length === 0) return ''
  const header = ['measure', ...columns.map((c) => c.name)]
  const first = columns[0]?.acceptance
  const rows: string[][] = []
  const row = (name: string, cell: (a: Acceptance, q: readonly QueueDay[]) => string) =>
    rows.push([name, ...columns.map((c) => cell(c.acceptance, c.queue))])
  for (const [i, check] of (first?.checks ?? []).entries()) {
    const target =
      check.name.includes('recall') || check.name.includes('precision')
        ? `>= ${pct(check.target)}`
        : `<= ${pct(check.target)}`
    row(`${check.name} (${target})`, (a) => {
      const c = a.checks[i]
      return c === undefined ? '–' : `${pct(c.value)} ${c.pass ? 'ok' : 'MISS'}`
    })
  }
  row('cash-out at fraud >= MEDIUM', (a) => frac(a.cashOut))
  row('card testers at fraud >= MEDIUM', (a) => frac(a.cardTesting))
  row('compliance at >= MEDIUM (detectable)', (a) => frac(a.compliance))
  row(
    'compliance, no trace of its own (lenders)',
    (a) => `${a.compliance.caughtUndetectable}/${a.compliance.undetectable}`,
  )
  row('legitimate at >= MEDIUM', (a) => frac(a.legit))
  row('fraud among the top 100 by fraud score', (a) => `${a.fraudAtK.positives}/${a.fraudAtK.ranked}`)
  row('end of month: cash-out at fraud >= MEDIUM', (a) => frac(a.end.cashOut))
  row('end of month: legitimate at >= MEDIUM', (a) => frac(a.end.legit))
  row('end of month: look-alikes at >= MEDIUM', (a) => frac(a.end.lookalike))
  row('end of month: compliance at compliance >= MEDIUM', (a) => frac(a.end.compliance))
  row('queue: merchants entering per day (mean)', (_a, q) =>
    q.length === 0 ? '–' : (q.reduce((s, d) => s + d.entered, 0) / q.length).toFixed(1),
  )
  row('queue: at MEDIUM+ after day 1 / 3 / 7', (_a, q) =>
    [q[0], q[2], q[6]].map((d) => (d === undefined ? '–' : String(d.queue))).join(' / '),
  )
  row('queue: at MEDIUM+ at the end', (_a, q) => String(q.at(-1)?.queue ?? '–'))
  row('queue: legitimate or look-alike entering per day, days 1-30 / after', (a, q) => {
    const f = negativeInflow(
      a.falsePositives,
      q.map((d) => d.date),
    )
    const n = (x: number | null) => (x === null ? '–' : x.toFixed(2))
    return `${n(f.first)} / ${n(f.after)}`
  })
  const kinds = [...new Set(columns.flatMap((c) => c.acceptance.lookalikes.map((x) => x.kind)))].sort()
  for (const kind of kinds)
    row(`look-alike ${kind} at >= MEDIUM`, (a) => {
      const k = a.lookalikes.find((x) => x.kind === kind)
      return k === undefined ? '–' : frac(k)
    })
  const lines = [table(header, rows), '']
  for (const c of columns) {
    const list = (m: readonly Mistake[]) =>
      m
        .map(
          (x) =>
            `${x.merchant_id} ${x.scenario} ${x.max_score}${x.first_alerted === null ? '' : ` from ${x.first_alerted}`} [${x.rules.join(', ')}]`,
        )
        .join('; ') || 'none'
    lines.push(`${c.name}: flagged legitimate or look-alike: ${list(c.acceptance.falsePositives)}`)
    lines.push(`${c.name}: missed: ${list(c.acceptance.missed)}`)
  }
  return `${lines.join('\n')}\n`
}
