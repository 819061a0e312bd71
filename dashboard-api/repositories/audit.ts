import { randomUUID } from 'node:crypto'
import type { Store } from '../../store/client.ts'
import type { Principal } from '../auth.ts'
import { type CursorKey, num, str } from '../cursor.ts'
import type { AuditEvent } from '../schemas.ts'
import { chTime, insertRows, iso, type Params, select } from '../sql.ts'

/**
 * The append-only audit log. Every change an analyst makes goes through `appendAudit` before the
 * change itself is written: should the second write fail, the log shows an attempted change, which a
 * reviewer can check, rather than the table showing a change nobody can account for.
 */
export interface AuditInput {
  readonly acquirerId: string
  readonly actor: Principal
  readonly action: string
  readonly entityType: 'case' | 'whitelist' | 'api_key' | 'acquirer'
  readonly entityId: string
  readonly merchantId: string
  readonly before: unknown
  readonly after: unknown
  readonly requestId: string
  readonly at: number
}

export async function appendAudit(store: Store, e: AuditInput): Promise<void> {
  await insertRows(store, 'audit_log', [
    {
      acquirer_id: e.acquirerId,
      at: chTime(e.at),
      audit_id: randomUUID(),
      actor_key_id: e.actor.keyId,
      actor_name: e.actor.name,
      actor_role: e.actor.role,
      action: e.action,
      entity_type: e.entityType,
      entity_id: e.entityId,
      merchant_id: e.merchantId,
      before: e.before === null ? '' : JSON.stringify(e.before),
      after: e.after === null ? '' : JSON.stringify(e.after),
      request_id: e.requestId,
    },
  ])
}

export interface AuditFilter {
  /** null: every acquirer (an all-acquirer key that did not ask for one). */
  readonly acquirer: string | null
  readonly actor?: string
  readonly entityType?: string
  readonly entityId?: string
  readonly merchant?: string
  readonly from?: number
  readonly to?: number
  readonly limit: number
  /** [at (epoch ms), audit_id] of the last row of the previous page. */
  readonly after?: CursorKey
}

interface Row {
  audit_id: string
  acquirer_id: string
  at: string
  at_ms: number
  actor_key_id: string
  actor_name: string
  actor_role: string
  action: string
  entity_type: string
  entity_id: string
  merchant_id: string
  before: string
  after: string
  request_id: string
}

/** Newest first; the sort key (at, audit_id) is unique, so the cursor neither skips nor repeats. */
export async function listAudit(
  store: Store,
  f: AuditFilter,
): Promise<{ items: AuditEvent[]; last: CursorKey | null }> {
  const where: string[] = []
  const params: Params = { limit: f.limit }
  if (f.acquirer !== null) {
    where.push('acquirer_id = {acquirer:String}')
    params.acquirer = f.acquirer
  }
  if (f.actor !== undefined) {
    where.push('actor_key_id = {actor:String}')
    params.actor = f.actor
  }
  if (f.entityType !== undefined) {
    where.push('entity_type = {entityType:String}')
    params.entityType = f.entityType
  }
  if (f.entityId !== undefined) {
    where.push('entity_id = {entityId:String}')
    params.entityId = f.entityId
  }
  if (f.merchant !== undefined) {
    where.push('merchant_id = {merchant:String}')
    params.merchant = f.merchant
  }
  if (f.from !== undefined) {
    where.push("at >= {from:DateTime64(3, 'UTC')}")
    params.from = chTime(f.from)
  }
  if (f.to !== undefined) {
    where.push("at < {to:DateTime64(3, 'UTC')}")
    params.to = chTime(f.to)
  }
  if (f.after !== undefined) {
    where.push(
      "(at < {cAt:DateTime64(3, 'UTC')} OR (at = {cAt:DateTime64(3, 'UTC')} AND audit_id < {cId:String}))",
    )
    params.cAt = chTime(num(f.after, 0))
    params.cId = str(f.after, 1)
  }
  const rows = await select<Row>(
    store,
    `SELECT audit_id, acquirer_id, at, toFloat64(toUnixTimestamp64Milli(at)) AS at_ms,
            actor_key_id, actor_name, actor_role, action, entity_type, entity_id, merchant_id, before, after, request_id
     FROM {db:Identifier}.audit_log
     ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY at DESC, audit_id DESC
     LIMIT {limit:UInt32}`,
    params,
  )
  const items = rows.map((r) => ({
    audit_id: r.audit_id,
    acquirer_id: r.acquirer_id,
    at: iso(r.at),
    actor_key_id: r.actor_key_id,
    actor_name: r.actor_name,
    actor_role: r.actor_role,
    action: r.action,
    entity_type: r.entity_type,
    entity_id: r.entity_id,
    merchant_id: r.merchant_id,
    before: r.before === '' ? null : JSON.parse(r.before),
    after: r.after === '' ? null : JSON.parse(r.after),
    request_id: r.request_id,
  }))
  const lastRow = rows.at(-1)
  return { items, last: lastRow === undefined ? null : [lastRow.at_ms, lastRow.audit_id] }
}
