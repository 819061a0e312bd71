import type { Store } from '../../store/client.ts'
import { type CursorKey, num, str } from '../cursor.ts'
import type { QueueItem } from '../schemas.ts'
import { chTime, type Params, select } from '../sql.ts'
import { latestCases } from './cases.ts'
import { scoreFields } from './merchants.ts'

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
 * The WHERE parts of a queue query: `key` on what never changes between versions of a row (acquirer,
 * category, and the merchant's hits and cases), `version` on what does (scored_at).
 */
function conditions(f: QueueScope): { key: string[]; version: string[]; params: Params } {
  const key: string[] = []
  const version: string[] = []
  const params: Params = {}
  // The same acquirer filter goes into every subquery, so none reads another acquirer's rows; with
  // one acquirer, the merchant alone identifies the row, and a set of merchants is cheaper to build.
  const acq = f.acquirer === null ? '' : 'acquirer_id = {acquirer:String} AND'
  const who = f.acquirer === null ? '(acquirer_id, merchant_id)' : 'merchant_id'
  if (f.acquirer !== null) {
    key.push('acquirer_id = {acquirer:String}')
    params.acquirer = f.acquirer
  }
  if (f.category !== undefined) {
    key.push('category = {category:String}')
    params.category = f.category
  }
  if (f.from !== undefined) {
    version.push("scored_at >= {from:DateTime64(3, 'UTC')}")
    params.from = chTime(f.from)
  }
  if (f.to !== undefined) {
    version.push("scored_at < {to:DateTime64(3, 'UTC')}")
    params.to = chTime(f.to)
  }
  if (f.rule !== undefined) {
    const window = `${f.from === undefined ? '' : "AND window_end >= {from:DateTime64(3, 'UTC')}"} ${
      f.to === undefined ? '' : "AND window_start < {to:DateTime64(3, 'UTC')}"
    }`
    key.push(
      `${who} IN (SELECT ${who} FROM {db:Identifier}.rule_hits WHERE ${acq} rule_id = {rule:String} ${window})`,
    )
    params.rule = f.rule
  }
  if (f.caseStatus === 'none') {
    key.push(`${who} NOT IN (SELECT ${who} FROM {db:Identifier}.cases WHERE ${acq} 1)`)
  } else if (f.caseStatus !== undefined) {
    key.push(
      `${who} IN (
        SELECT ${who} FROM (
          SELECT acquirer_id, merchant_id, argMax(status, (opened_at, case_id)) AS newest_status
          FROM (SELECT acquirer_id, merchant_id, status, opened_at, case_id FROM {db:Identifier}.cases FINAL
                WHERE ${acq} 1)
          GROUP BY acquirer_id, merchant_id
        ) WHERE newest_status = {caseStatus:String})`,
    )
    params.caseStatus = f.caseStatus
  }
  return { key, version, params }
}

/**
 * The set of a subquery is only used to filter rows here; letting the planner also analyse the key
 * with it (the default) cost more than the read it could save (measured: 44 ms against 23 ms of CPU
 * for a rule held by 125,000 merchants).
 */
const SUBQUERY_SETTINGS = 'SETTINGS use_index_for_in_with_subqueries = 0'

interface Candidate {
  acquirer_id: string
  merchant_id: string
  category: string
  score: number
}

/**
 * Candidates read in the first round: the page and a few more. A score that fell (decay does that
 * every day) leaves its old, higher version at the top of the projection until the part holding it is
 * merged with its replacement, and then a second round reads more; reading twice the page every time
 * cost more than those second rounds (checking a candidate is most of a page's cost).
 */
const firstRound = (limit: number) => limit + 16
const MAX_ROUND = 5000

const keyOf = (r: { acquirer_id: string; merchant_id: string; category: string }) =>
  `${r.acquirer_id}\u0000${r.merchant_id}\u0000${r.category}`

/**
 * A page of the queue, as `merchant_scores FINAL` filtered and sorted would give it, without merging
 * the portfolio. Candidates come in queue order from the `by_level` projection of merchant_scores
 * (0006), which holds every version a part still has, newest or not; a candidate is kept when the
 * newest version of its row (`merchant_scores FINAL`, read for the candidates' merchants only) has the
 * same score and passes the filters. The newest version of every row that belongs on the page is a
 * candidate itself (it passes the same filters), so nothing is missed; a replaced version is dropped;
 * and a row met twice (two versions with the same score) is kept once. When replaced versions leave
 * the page short, the next candidates after the last one read are taken, four times as many.
 */
export async function queuePage(
  store: Store,
  f: QueueFilter,
): Promise<{ items: QueueItem[]; last: CursorKey | null }> {
  const { key, version, params } = conditions(f)
  const where = [...key, ...version, 'level IN {levels:Array(String)}']
  params.levels = f.levels
  const rows: Row[] = []
  const seen = new Set<string>()
  let after: CursorKey | undefined = f.after
  let size = firstRound(f.limit)
  while (rows.length < f.limit) {
    const cursor: string[] = []
    const p: Params = { ...params, size }
    if (after !== undefined) {
      cursor.push(
        `(score < {cScore:UInt8} OR (score = {cScore:UInt8} AND
          (acquirer_id, merchant_id, category) > ({cAcq:String}, {cMer:String}, {cCat:String})))`,
      )
      p.cScore = num(after, 0)
      p.cAcq = str(after, 1)
      p.cMer = str(after, 2)
      p.cCat = str(after, 3)
    }
    const candidates = await select<Candidate>(
      store,
      `SELECT acquirer_id, merchant_id, category, score FROM {db:Identifier}.merchant_scores
       WHERE ${[...where, ...cursor].join(' AND ')}
       ORDER BY score DESC, acquirer_id, merchant_id, category
       LIMIT {size:UInt32}
       ${SUBQUERY_SETTINGS}`,
      p,
    )
    const newest = await newestOf(store, candidates, [...version, 'level IN {levels:Array(String)}'], params)
    for (const c of candidates) {
      const k = keyOf(c)
      const row = newest.get(k)
      if (row === undefined || Number(row.score) !== Number(c.score) || seen.has(k)) continue
      seen.add(k)
      rows.push(row)
      if (rows.length === f.limit) break
    }
    const last = candidates.at(-1)
    if (candidates.length < size || last === undefined) break
    after = [Number(last.score), last.acquirer_id, last.merchant_id, last.category]
    size = Math.min(size * 4, MAX_ROUND)
  }
  const labels = await labelsOf(store, rows)
  const lastRow = rows.at(-1)
  return {
    items: rows.map((r) => toItem(r, labels)),
    last:
      lastRow === undefined
        ? null
        : [Number(lastRow.score), lastRow.acquirer_id, lastRow.merchant_id, lastRow.category],
  }
}

/** The newest version of the candidates' rows that passes `where`, by row. */
async function newestOf(
  store: Store,
  candidates: readonly Candidate[],
  where: readonly string[],
  params: Params,
): Promise<Map<string, Row>> {
  if (candidates.length === 0) return new Map()
  const found = await select<Row>(
    store,
    `SELECT acquirer_id, merchant_id, category, score, level, hit_count, families, scored_at
     FROM (
       SELECT acquirer_id, merchant_id, category, score, level, hit_count, families, scored_at
       FROM {db:Identifier}.merchant_scores FINAL
       WHERE acquirer_id IN {cAcquirers:Array(String)} AND merchant_id IN {cMerchants:Array(String)}
     )
     WHERE ${where.join(' AND ')}`,
    {
      ...params,
      cAcquirers: [...new Set(candidates.map((c) => c.acquirer_id))],
      cMerchants: [...new Set(candidates.map((c) => c.merchant_id))],
    },
  )
  return new Map(found.map((r) => [keyOf(r), r]))
}

/**
 * How many rows of the queue are at each level, under the same filters as the page. Counting takes
 * the newest version of every row in scope, LOW ones included, so unlike the page this merges the
 * acquirer's portfolio.
 */
export async function queueCounts(store: Store, f: QueueScope): Promise<Record<string, number>> {
  const { key, version, params } = conditions(f)
  const rows = await select<{ level: string; n: number }>(
    store,
    `SELECT level, toUInt32(count()) AS n
     FROM (
       SELECT acquirer_id, merchant_id, category, level, scored_at
       FROM {db:Identifier}.merchant_scores FINAL
       ${key.length > 0 ? `WHERE ${key.join(' AND ')}` : ''}
     )
     ${version.length > 0 ? `WHERE ${version.join(' AND ')}` : ''}
     GROUP BY level
     ${SUBQUERY_SETTINGS}`,
    params,
  )
  return Object.fromEntries(rows.map((r) => [r.level, Number(r.n)]))
}

const merchantOf = (r: { acquirer_id: string; merchant_id: string }) =>
  `${r.acquirer_id}\u0000${r.merchant_id}`

/** What a queue row shows of its merchant besides its score: name, registered MCC, newest case. */
interface Labels {
  readonly names: ReadonlyMap<string, { name: string | null; mcc: string | null }>
  readonly cases: ReadonlyMap<string, QueueItem['case']>
}

/** The labels of the merchants of `rows`: names and cases, every acquirer's, read at once. */
async function labelsOf(
  store: Store,
  rows: readonly { acquirer_id: string; merchant_id: string }[],
): Promise<Labels> {
  const byAcquirer = new Map<string, Set<string>>()
  for (const r of rows)
    byAcquirer.set(r.acquirer_id, (byAcquirer.get(r.acquirer_id) ?? new Set()).add(r.merchant_id))
  const names = new Map<string, { name: string | null; mcc: string | null }>()
  const cases = new Map<string, QueueItem['case']>()
  await Promise.all(
    [...byAcquirer].flatMap(([acquirer, set]) => {
      const merchants = [...set]
      return [
        select<{ merchant_id: string; p_name: string | null; p_mcc: string | null }>(
          store,
          `SELECT merchant_id, argMaxMerge(merchant_name) AS p_name, argMaxMerge(registered_mcc) AS p_mcc
           FROM {db:Identifier}.merchant_names
           WHERE acquirer_id = {acquirer:String} AND merchant_id IN {merchants:Array(String)}
           GROUP BY merchant_id`,
          { acquirer, merchants },
        ).then((found) => {
          for (const n of found)
            names.set(`${acquirer}\u0000${n.merchant_id}`, { name: n.p_name, mcc: n.p_mcc })
        }),
        latestCases(store, acquirer, merchants).then((found) => {
          for (const [m, c] of found) {
            cases.set(`${acquirer}\u0000${m}`, {
              case_id: c.case_id,
              status: c.status,
              assignee: c.assignee,
              version: c.version,
            })
          }
        }),
      ]
    }),
  )
  return { names, cases }
}

function toItem(r: Row, labels: Labels): QueueItem {
  const key = merchantOf(r)
  const n = labels.names.get(key)
  return {
    acquirer_id: r.acquirer_id,
    merchant_id: r.merchant_id,
    merchant_name: n?.name ?? null,
    registered_mcc: n?.mcc ?? null,
    ...scoreFields(r),
    case: labels.cases.get(key) ?? null,
  }
}
