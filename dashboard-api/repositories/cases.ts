import type { Store } from '../../store/client.ts'
import type { CaseState } from '../case-workflow.ts'
import { isCaseStatus } from '../case-workflow.ts'
import { type CursorKey, num, str } from '../cursor.ts'
import { newId } from '../ids.ts'
import { ACTIONS, type Case, type CaseAction, DECISIONS, type Decision, type Note } from '../schemas.ts'
import { chTime, insertRows, iso, type Params, select } from '../sql.ts'

/**
 * Cases (0003: one row per version, the highest wins, read with FINAL) and their notes (0004).
 * The scorer writes cases too (opened_by 'system'); the API reads them the same way.
 */

interface Row {
  acquirer_id: string
  case_id: string
  merchant_id: string
  status: string
  assignee: string
  decision: string
  actions: string[]
  opened_by: string
  opened_reason: string
  opened_at: string
  opened_ms: number
  updated_at: string
  version: number
}

const COLUMNS = `acquirer_id, case_id, merchant_id, status, assignee, decision, actions, opened_by, opened_reason,
  opened_at, toFloat64(toUnixTimestamp64Milli(opened_at)) AS opened_ms, updated_at, version`

function toCase(r: Row): Case {
  return {
    acquirer_id: r.acquirer_id,
    case_id: r.case_id,
    merchant_id: r.merchant_id,
    status: r.status,
    assignee: r.assignee,
    decision: r.decision === '' ? null : r.decision,
    actions: r.actions,
    opened_by: r.opened_by,
    opened_reason: r.opened_reason,
    opened_at: iso(r.opened_at),
    updated_at: iso(r.updated_at),
    version: Number(r.version),
  }
}

function isDecision(s: string): s is Decision {
  return DECISIONS.some((d) => d === s)
}

function isAction(s: string): s is CaseAction {
  return ACTIONS.some((a) => a === s)
}

/** The workflow's view of a case. A status the workflow does not know (a newer scorer) reads as open. */
export function stateOf(c: Case): CaseState {
  return {
    caseId: c.case_id,
    status: isCaseStatus(c.status) ? c.status : 'open',
    assignee: c.assignee,
    decision: c.decision !== null && isDecision(c.decision) ? c.decision : null,
    actions: c.actions.filter(isAction),
    version: c.version,
  }
}

export async function getCase(store: Store, acquirer: string, caseId: string): Promise<Case | null> {
  const rows = await select<Row>(
    store,
    `SELECT ${COLUMNS} FROM {db:Identifier}.cases FINAL
     WHERE acquirer_id = {acquirer:String} AND case_id = {caseId:String} LIMIT 1`,
    { acquirer, caseId },
  )
  const row = rows[0]
  return row === undefined ? null : toCase(row)
}

/** Cases of one merchant that are not closed, newest first. */
export async function activeCasesOf(store: Store, acquirer: string, merchant: string): Promise<Case[]> {
  const rows = await select<Row>(
    store,
    `SELECT * FROM (
       SELECT ${COLUMNS} FROM {db:Identifier}.cases FINAL
       WHERE acquirer_id = {acquirer:String} AND merchant_id = {merchant:String}
     ) WHERE status != 'closed' ORDER BY opened_ms DESC, case_id DESC`,
    { acquirer, merchant },
  )
  return rows.map(toCase)
}

/**
 * The newest case of each of `merchants` (of one acquirer), for the queue's case column. Merchants
 * without a case are absent from the map.
 */
export async function latestCases(
  store: Store,
  acquirer: string,
  merchants: readonly string[],
): Promise<Map<string, Case>> {
  if (merchants.length === 0) return new Map()
  const rows = await select<Row>(
    store,
    `SELECT ${COLUMNS} FROM {db:Identifier}.cases FINAL
     WHERE acquirer_id = {acquirer:String} AND merchant_id IN {merchants:Array(String)}
     ORDER BY opened_ms DESC, case_id DESC
     LIMIT 1 BY merchant_id`,
    { acquirer, merchants },
  )
  return new Map(rows.map((r) => [r.merchant_id, toCase(r)]))
}

export interface CaseFilter {
  readonly acquirer: string | null
  readonly status?: string
  readonly merchant?: string
  readonly assignee?: string
  readonly limit: number
  /** [opened_at ms, case_id] of the last row of the previous page. */
  readonly after?: CursorKey
}

export async function listCases(
  store: Store,
  f: CaseFilter,
): Promise<{ items: Case[]; last: CursorKey | null }> {
  const inner: string[] = []
  const outer: string[] = []
  const params: Params = { limit: f.limit }
  if (f.acquirer !== null) {
    inner.push('acquirer_id = {acquirer:String}')
    params.acquirer = f.acquirer
  }
  if (f.merchant !== undefined) {
    inner.push('merchant_id = {merchant:String}')
    params.merchant = f.merchant
  }
  // Status and assignee change between versions: filter after FINAL picked the current version.
  if (f.status !== undefined) {
    outer.push('status = {status:String}')
    params.status = f.status
  }
  if (f.assignee !== undefined) {
    outer.push('assignee = {assignee:String}')
    params.assignee = f.assignee
  }
  if (f.after !== undefined) {
    outer.push('(opened_ms < {cAt:Float64} OR (opened_ms = {cAt:Float64} AND case_id < {cId:String}))')
    params.cAt = num(f.after, 0)
    params.cId = str(f.after, 1)
  }
  const rows = await select<Row>(
    store,
    `SELECT * FROM (
       SELECT ${COLUMNS} FROM {db:Identifier}.cases FINAL
       ${inner.length > 0 ? `WHERE ${inner.join(' AND ')}` : ''}
     )
     ${outer.length > 0 ? `WHERE ${outer.join(' AND ')}` : ''}
     ORDER BY opened_ms DESC, case_id DESC
     LIMIT {limit:UInt32}`,
    params,
  )
  const lastRow = rows.at(-1)
  return {
    items: rows.map(toCase),
    last: lastRow === undefined ? null : [lastRow.opened_ms, lastRow.case_id],
  }
}

export function newCase(
  acquirer: string,
  merchant: string,
  openedBy: string,
  reason: string,
  assignee: string,
  now: number,
): Case {
  const at = iso(chTime(now))
  return {
    acquirer_id: acquirer,
    case_id: newId('case'),
    merchant_id: merchant,
    status: 'open',
    assignee,
    decision: null,
    actions: [],
    opened_by: openedBy,
    opened_reason: reason,
    opened_at: at,
    updated_at: at,
    version: 1,
  }
}

export async function writeCase(store: Store, c: Case): Promise<void> {
  await insertRows(store, 'cases', [
    {
      acquirer_id: c.acquirer_id,
      case_id: c.case_id,
      merchant_id: c.merchant_id,
      status: c.status,
      assignee: c.assignee,
      decision: c.decision ?? '',
      actions: c.actions,
      opened_by: c.opened_by,
      opened_reason: c.opened_reason,
      opened_at: chTime(Date.parse(c.opened_at)),
      updated_at: chTime(Date.parse(c.updated_at)),
      version: c.version,
    },
  ])
}

interface NoteRow {
  note_id: string
  author_name: string
  body: string
  created_at: string
}

export async function listNotes(store: Store, acquirer: string, caseId: string): Promise<Note[]> {
  const rows = await select<NoteRow>(
    store,
    `SELECT note_id, author_name, body, created_at FROM {db:Identifier}.case_notes
     WHERE acquirer_id = {acquirer:String} AND case_id = {caseId:String}
     ORDER BY created_at, note_id`,
    { acquirer, caseId },
  )
  return rows.map((r) => ({
    note_id: r.note_id,
    author: r.author_name,
    body: r.body,
    created_at: iso(r.created_at),
  }))
}

export async function addNote(
  store: Store,
  acquirer: string,
  caseId: string,
  author: { keyId: string; name: string },
  body: string,
  now: number,
): Promise<Note> {
  const note = { note_id: newId('note'), author: author.name, body, created_at: iso(chTime(now)) }
  await insertRows(store, 'case_notes', [
    {
      acquirer_id: acquirer,
      case_id: caseId,
      created_at: chTime(now),
      note_id: note.note_id,
      author_key_id: author.keyId,
      author_name: author.name,
      body,
    },
  ])
  return note
}

/**
 * Serialises the changes of one case (or the opening of cases on one merchant) inside this process,
 * so that two analysts changing a case at the same moment are checked against the version one after
 * the other: the second sees the first's version and gets a 409 instead of overwriting it.
 */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<void>>()

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve()
    let release = () => {}
    const mine = new Promise<void>((resolve) => {
      release = resolve
    })
    const tail = previous.then(() => mine)
    this.#tails.set(key, tail)
    await previous
    try {
      return await fn()
    } finally {
      release()
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    }
  }
}
