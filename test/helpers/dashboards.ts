import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DEPLOY_DIR } from './prometheus.ts'

export const DASHBOARDS_DIR = join(DEPLOY_DIR, 'grafana', 'dashboards')

export interface DashboardQuery {
  dashboard: string
  panel: string
  refId: string
  datasource: { type: string; uid: string }
  /** PromQL, for the Prometheus data source. */
  expr?: string
  /** SQL, for the ClickHouse data source. */
  rawSql?: string
}

export interface Dashboard {
  file: string
  uid: string
  title: string
  panels: { id: number; type: string; title: string; datasource: unknown; targets: unknown[] }[]
}

function obj(x: unknown): Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) ? Object.fromEntries(Object.entries(x)) : {}
}

function str(x: unknown): string {
  return typeof x === 'string' ? x : ''
}

/** Every dashboard JSON of deploy/grafana/dashboards, parsed (a syntax error throws with the file name). */
export function dashboards(): Dashboard[] {
  return readdirSync(DASHBOARDS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      let json: unknown
      try {
        json = JSON.parse(readFileSync(join(DASHBOARDS_DIR, file), 'utf8'))
      } catch (e) {
        throw new Error(`${file}: ${e instanceof Error ? e.message : String(e)}`)
      }
      const d = obj(json)
      const panels = Array.isArray(d.panels) ? d.panels : []
      return {
        file,
        uid: str(d.uid),
        title: str(d.title),
        panels: panels.map((p) => {
          const panel = obj(p)
          return {
            id: typeof panel.id === 'number' ? panel.id : Number.NaN,
            type: str(panel.type),
            title: str(panel.title),
            datasource: panel.datasource,
            targets: Array.isArray(panel.targets) ? panel.targets : [],
          }
        }),
      }
    })
}

/** Every query of every panel (rows have none), with the data source it names. */
export function dashboardQueries(): DashboardQuery[] {
  const out: DashboardQuery[] = []
  for (const d of dashboards()) {
    for (const p of d.panels) {
      if (p.type === 'row') continue
      for (const t of p.targets) {
        const target = obj(t)
        const ds = obj(target.datasource)
        const q: DashboardQuery = {
          dashboard: d.file,
          panel: p.title,
          refId: str(target.refId),
          datasource: { type: str(ds.type), uid: str(ds.uid) },
        }
        if (typeof target.expr === 'string') q.expr = target.expr
        if (typeof target.rawSql === 'string') q.rawSql = target.rawSql
        out.push(q)
      }
    }
  }
  return out
}

/** Grafana's range variables, given values a Prometheus with a 1 s scrape interval can answer. */
export function promqlForTest(expr: string): string {
  const out = expr
    .replaceAll('$__rate_interval', '30s')
    .replaceAll('$__range', '5m')
    .replaceAll('$__interval', '5s')
  if (out.includes('$')) throw new Error(`unknown Grafana variable in ${expr}`)
  return out
}

/**
 * The ClickHouse plugin's macros replaced by what the plugin sends for a time range, so the SQL can run
 * on chDB: `$__timeFilter(c)` becomes a range condition on `c`, `$__timeInterval(c)` a bucket of `c`.
 */
export function sqlForTest(sql: string, fromMs: number, toMs: number): string {
  const from = Math.floor(fromMs / 1000)
  const to = Math.ceil(toMs / 1000)
  const out = sql
    .replace(/\$__timeFilter\(([^)]+)\)/g, `$1 >= toDateTime(${from}) AND $1 <= toDateTime(${to})`)
    .replace(/\$__timeInterval\(([^)]+)\)/g, 'toStartOfInterval(toDateTime($1), INTERVAL 60 second)')
  if (out.includes('$')) throw new Error(`unknown Grafana macro in ${sql}`)
  return out
}
