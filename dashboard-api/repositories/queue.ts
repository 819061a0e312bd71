import type { Store } from '../../store/client.ts'
import { type CursorKey, num, str } from '../cursor.ts'
import type { QueueItem } from '../schemas.ts'
import { chTime, iso, type Params, select } from '../sql.ts'
import { latestCases } from './cases.ts'

/**
 * The flagged-merchant queue: one row per merchant and score category (fraud and compliance are
 * reviewed for different reasons), highest score first. The sort key (score desc, acquirer, merchant,
 * category) is unique, so the cursor is exact: flagged merchants that arrive between two pages land
 * before or after the cursor, and none is shown twice or skipped. A merchant whose score changes
 * between two pages moves in the order like any live ranking.
 */
export interface QueueFilter {
  /** null: every acquirer (an all-acquirer key that asked for none). */
  readonly acquirer: string | null
  readonly levels: readonly string[]
  readonly category?: string
  readonly rule?: string
  /** Status of the merchant's newest case; `none`: never had a case. */
  readonly caseStatus?: string
  readonly from?: number
  readonly to?: number
  readonly limit: number
  /** [score, acquirer_id, merchant_id, category] of the last row of the previous page. */
  readonly after?: CursorKey
}

interface Row {
  acquirer_id: string
  merchant_id: string
  category: string
  score: number
  level: string
  hit_count: number
  families: string[]
  scored_at: string
}

/** The filters every view of the queue shares (the page and the counts per level). */
export type QueueScope = Omit<QueueFilter, 'levels' | 'limit' | 'after'>

/**
 * The WHERE parts of a queue query: `inner` on the raw rows before FINAL (key columns only), `outer`
 * on the merged rows.
 */
function conditions(f: QueueScope): { inner: string[]; outer: string[]; params: Params } {
  const inner: string[] = []
  const outer: string[] = []
  const params: Params = {}
  // The same acquirer filter goes into every subquery, so none reads another acquirer's rows.
  const acq = f.acquirer === null ? '' : 'acquirer_id = {acquirer:String} AND'
  if (f.acquirer !== null) {
    inner.push('acquirer_id = {acquirer:String}')
    params.acquirer = f.acquirer
  }
  if (f.category !== undefined) {
    inner.push('category = {category:String}')
    params.category = f.category
  }
  // Score, level and time change between versions of a row, so they are filtered after FINAL.
  if (f.from !== undefined) {
    outer.push("scored_at >= {from:DateTime64(3, 'UTC')}")
    params.from = chTime(f.from)
  }
  if (f.to !== undefined) {
    outer.push("scored_at < {to:DateTime64(3, 'UTC')}")
    params.to = chTime(f.to)
  }
  if (f.rule !== undefined) {
    const window = `${f.from === undefined ? '' : "AND window_end >= {from:DateTime64(3, 'UTC')}"} ${
      f.to === undefined ? '' : "AND window_start < {to:DateTime64(3, 'UTC')}"
    }`
    outer.push(
      `(acquirer_id, merchant_id) IN (SELECT acquirer_id, merchant_id FROM {db:Identifier}.rule_hits
        WHERE ${acq} rule_id = {rule:String} ${window})`,
    )
    params.rule = f.rule
  }
  if (f.caseStatus === 'none') {
    outer.push(
      `(acquirer_id, merchant_id) NOT IN (SELECT acquirer_id, merchant_id FROM {db:Identifier}.cases
        WHERE ${acq} 1)`,
    )
  } else if (f.caseStatus !== undefined) {
    outer.push(
      `(acquirer_id, merchant_id) IN (
        SELECT acquirer_id, merchant_id FROM (
          SELECT acquirer_id, merchant_id, argMax(status, (opened_at, case_id)) AS newest_status
          FROM (SELECT acquirer_id, merchant_id, status, opened_at, case_id FROM {db:Identifier}.cases FINAL
                WHERE ${acq} 1)
          GROUP BY acquirer_id, merchant_id
        ) WHERE newest_status = {caseStatus:String})`,
    )
    params.caseStatus = f.caseStatus
  }
  return { inner, outer, params }
}

export async function queuePage(
  store: Store,
  f: QueueFilter,
): Promise<{ items: QueueItem[]; last: CursorKey | null }> {
  const { inner, outer, params } = conditions(f)
  outer.push('level IN {levels:Array(String)}')
  params.levels = f.levels
  params.limit = f.limit
  if (f.after !== undefined) {
    outer.push(
      `(score < {cScore:UInt8} OR (score = {cScore:UInt8} AND
        (acquirer_id, merchant_id, category) > ({cAcq:String}, {cMer:String}, {cCat:String})))`,
    )
    params.cScore = num(f.after, 0)
    params.cAcq = str(f.after, 1)
    params.cMer = str(f.after, 2)
    params.cCat = str(f.after, 3)
  }
  const rows = await select<Row>(
    store,
    `SELECT acquirer_id, merchant_id, category, score, level, hit_count, families, scored_at
     FROM (
       SELECT acquirer_id, merchant_id, category, score, level, hit_count, families, scored_at
       FROM {db:Identifier}.merchant_scores FINAL
       ${inner.length > 0 ? `WHERE ${inner.join(' AND ')}` : ''}
     )
     WHERE ${outer.join(' AND ')}
     ORDER BY score DESC, acquirer_id, merchant_id, category
     LIMIT {limit:UInt32}`,
    params,
  )
  const items = await enrich(store, rows)
  const lastRow = rows.at(-1)
  return {
    items,
    last:
      lastRow === undefined
        ? null
        : [Number(lastRow.score), lastRow.acquirer_id, lastRow.merchant_id, lastRow.category],
  }
}

/** How many rows of the queue are at each level, under the same filters as the page. */
export async function queueCounts(store: Store, f: QueueScope): Promise<Record<string, number>> {
  const { inner, outer, params } = conditions(f)
  const rows = await select<{ level: string; n: number }>(
    store,
    `SELECT level, toUInt32(count()) AS n
     FROM (
       SELECT acquirer_id, merchant_id, category, level, scored_at
       FROM {db:Identifier}.merchant_scores FINAL
       ${inner.length > 0 ? `WHERE ${inner.join(' AND ')}` : ''}
     )
     ${outer.length > 0 ? `WHERE ${outer.join(' AND ')}` : ''}
     GROUP BY level`,
    params,
  )
  return Object.fromEntries(rows.map((r) => [r.level, Number(r.n)]))
}

/** Adds the merchant's name, registered MCC and newest case to a page of queue rows. */
async function enrich(store: Store, rows: readonly Row[]): Promise<QueueItem[]> {
  const byAcquirer = new Map<string, string[]>()
  for (const r of rows)
    byAcquirer.set(r.acquirer_id, [...(byAcquirer.get(r.acquirer_id) ?? []), r.merchant_id])
  const profiles = new Map<string, { name: string | null; mcc: string | null }>()
  const cases = new Map<string, QueueItem['case']>()
  for (const [acquirer, merchants] of byAcquirer) {
    const unique = [...new Set(merchants)]
    const found = await select<{ merchant_id: string; p_name: string | null; p_mcc: string | null }>(
      store,
      `SELECT merchant_id, argMaxMerge(merchant_name) AS p_name, argMaxMerge(registered_mcc) AS p_mcc
       FROM {db:Identifier}.merchant_profile
       WHERE acquirer_id = {acquirer:String} AND merchant_id IN {merchants:Array(String)}
       GROUP BY merchant_id`,
      { acquirer, merchants: unique },
    )
    for (const p of found) profiles.set(`${acquirer}\u0000${p.merchant_id}`, { name: p.p_name, mcc: p.p_mcc })
    for (const [m, c] of await latestCases(store, acquirer, unique)) {
      cases.set(`${acquirer}\u0000${m}`, {
        case_id: c.case_id,
        status: c.status,
        assignee: c.assignee,
        version: c.version,
      })
    }
  }
  return rows.map((r) => {
    const key = `${r.acquirer_id}\u0000${r.merchant_id}`
    const p = profiles.get(key)
    return {
      acquirer_id: r.acquirer_id,
      merchant_id: r.merchant_id,
      merchant_name: p?.name ?? null,
      registered_mcc: p?.mcc ?? null,
      category: r.category,
      score: Number(r.score),
      level: r.level,
      hit_count: Number(r.hit_count),
      families: r.families,
      scored_at: iso(r.scored_at),
      case: cases.get(key) ?? null,
    }
  })
}
