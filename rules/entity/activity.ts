import { keyPartition } from '../../kafka/partitioner.ts'
import { minorPerMajor } from '../../lib/currency.ts'
import type { StoredBatch } from '../../schemas/stages.ts'
import type { MerchantEvent, TerminalTransaction } from '../../schemas/types.generated.ts'
import type { AccountState, HitUpdate, RuleEngine } from '../engine/engine.ts'

/**
 * Cards, settlement accounts and terminals come from ingest; `link` records are derived by the entity
 * stage itself from card state (rules/entity/card-ring.ts) and keyed by the merchant they describe.
 */
export type EntityKind = 'card' | 'account' | 'terminal' | 'link'

/**
 * One merchant's contact with an entity that several merchants can share (a card, a settlement account,
 * a terminal), as carried on the internal entity-activity topic. `id` is the id of the source event
 * (txn_id or event_id): the entity stage de-duplicates by it and shows it as sample evidence.
 */
export interface ActivityRecord {
  readonly id: string
  readonly kind: EntityKind
  /** Card token, settlement account token or terminal id. */
  readonly key: string
  readonly acquirerId: string
  readonly merchantId: string
  /** Event time of the source event, UTC ms. */
  readonly at: number
  /**
   * Terminals: bound (TERMINAL_BOUND) or unbound (TERMINAL_UNBOUND). Accounts: bound by the event that
   * set it, unbound when the merchant moved to another account or closed (absent on records of earlier
   * versions, which only bound).
   */
  readonly bound?: boolean
  /** Accounts only: the merchant's registered MCC, when known (a chain's branches share their trade). */
  readonly mcc?: string
  /** Cards only: the sale's amount in major units (a card's large purchases are what rings share). */
  readonly amount?: number
  /**
   * Links only: the card both merchants share (its token), the other merchant if any, and the sale the
   * link was derived from (sample evidence).
   */
  readonly card?: string
  readonly partner?: string
  readonly source?: string
}

/**
 * The Kafka key of a record: one entity of one acquirer is on one partition, so its state lives on one
 * instance. The acquirer is part of it because entities never cross acquirers (one acquirer must never
 * see another's data, and a card at two acquirers' merchants is not this rule's business).
 */
export function entityKeyOf(r: Pick<ActivityRecord, 'acquirerId' | 'kind' | 'key'>): string {
  return `${r.acquirerId}\u0000${r.kind}\u0000${r.key}`
}

export function encodeActivity(r: ActivityRecord): Buffer {
  return Buffer.from(activityJson(r))
}

function activityJson(r: ActivityRecord): string {
  const body: Record<string, string | number | boolean> = {
    id: r.id,
    kind: r.kind,
    key: r.key,
    acquirerId: r.acquirerId,
    merchantId: r.merchantId,
    at: r.at,
  }
  if (r.bound !== undefined) body.bound = r.bound
  if (r.mcc !== undefined) body.mcc = r.mcc
  if (r.amount !== undefined) body.amount = r.amount
  if (r.card !== undefined) body.card = r.card
  if (r.partner !== undefined) body.partner = r.partner
  if (r.source !== undefined) body.source = r.source
  return JSON.stringify(body)
}

export type DecodedActivity = { ok: true; record: ActivityRecord } | { ok: false; problem: string }

function isKind(v: unknown): v is EntityKind {
  return v === 'card' || v === 'account' || v === 'terminal' || v === 'link'
}

function text(o: Readonly<Record<string, unknown>>, field: string): string | null {
  const v = o[field]
  return typeof v === 'string' && v.length > 0 ? v : null
}

/**
 * Decodes and validates a record. We write this topic ourselves, so a bad record means a bug or a
 * foreign producer: the stage skips and counts it rather than dead-lettering it.
 */
export function decodeActivity(value: Buffer | null): DecodedActivity {
  if (value === null || value.length === 0) return { ok: false, problem: 'empty value' }
  let raw: unknown
  try {
    raw = JSON.parse(value.toString('utf8'))
  } catch {
    return { ok: false, problem: 'not JSON' }
  }
  return checkActivity(raw)
}

/**
 * The records of a message of the topic: one record (a JSON object, as derived links and earlier
 * versions publish them), or a batch of a part's records for one partition (a JSON array, as the rules
 * stage publishes them). Each element is checked on its own; a bad one does not spoil the others.
 */
export function decodeActivities(value: Buffer | null): DecodedActivity[] {
  if (value === null || value.length === 0) return [{ ok: false, problem: 'empty value' }]
  let raw: unknown
  try {
    raw = JSON.parse(value.toString('utf8'))
  } catch {
    return [{ ok: false, problem: 'not JSON' }]
  }
  return Array.isArray(raw) ? raw.map(checkActivity) : [checkActivity(raw)]
}

/** Records of one partition as one message (see decodeActivities). */
export function encodeActivities(records: readonly ActivityRecord[]): Buffer {
  return Buffer.from(`[${records.map(activityJson).join(',')}]`)
}

/**
 * The partition of the entity-activity topic a record belongs on, among `partitions`: the producer's
 * default partitioner on the record's key (entityKeyOf), so records published in batches, one-by-one or
 * seeded from the store (the entity stage's standing bindings) agree.
 */
export function entityPartitioner(partitions: number): (key: string) => number {
  return (key) => keyPartition(key, partitions)
}

/** A parsed JSON object, read in place (a copy per record was most of this decode's cost). */
function isJsonObject(raw: unknown): raw is Readonly<Record<string, unknown>> {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw)
}

function checkActivity(raw: unknown): DecodedActivity {
  if (!isJsonObject(raw)) return { ok: false, problem: 'not a JSON object' }
  const o = raw
  const id = text(o, 'id')
  const key = text(o, 'key')
  const acquirerId = text(o, 'acquirerId')
  const merchantId = text(o, 'merchantId')
  if (id === null || key === null || acquirerId === null || merchantId === null)
    return { ok: false, problem: 'id, key, acquirerId and merchantId must be non-empty strings' }
  const kind = o.kind
  if (!isKind(kind)) return { ok: false, problem: `unknown kind ${JSON.stringify(kind)}` }
  const at = o.at
  if (typeof at !== 'number' || !Number.isSafeInteger(at))
    return { ok: false, problem: 'at must be epoch ms' }
  const bound = o.bound
  if (kind === 'terminal') {
    if (typeof bound !== 'boolean') return { ok: false, problem: 'a terminal record needs bound' }
    return { ok: true, record: { id, kind, key, acquirerId, merchantId, at, bound } }
  }
  if (kind === 'account') {
    if (bound !== undefined && typeof bound !== 'boolean')
      return { ok: false, problem: 'bound must be a boolean' }
    const mcc = o.mcc
    if (mcc !== undefined && (typeof mcc !== 'string' || mcc.length === 0))
      return { ok: false, problem: 'mcc must be a non-empty string' }
    return {
      ok: true,
      record: {
        id,
        kind,
        key,
        acquirerId,
        merchantId,
        at,
        ...(bound === undefined ? {} : { bound }),
        ...(mcc === undefined ? {} : { mcc }),
      },
    }
  }
  if (bound !== undefined) return { ok: false, problem: `a ${kind} record has no bound` }
  if (kind === 'link') {
    const card = text(o, 'card')
    const source = text(o, 'source')
    if (card === null || source === null)
      return { ok: false, problem: 'a link record needs a card and a source' }
    const link = { id, kind, key, acquirerId, merchantId, at, card, source }
    const partner = o.partner
    if (partner === undefined) return { ok: true, record: link }
    if (typeof partner !== 'string' || partner.length === 0)
      return { ok: false, problem: 'partner must be a non-empty string' }
    return { ok: true, record: { ...link, partner } }
  }
  const amount = o.amount
  if (kind === 'card' && amount !== undefined) {
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0)
      return { ok: false, problem: 'amount must be a non-negative number' }
    return { ok: true, record: { id, kind, key, acquirerId, merchantId, at, amount } }
  }
  return { ok: true, record: { id, kind, key, acquirerId, merchantId, at } }
}

/**
 * The activity records of events the store accepted as new: approved sales touch a card; events that
 * set the settlement account touch an account; binding events touch a terminal.
 */
export function activitiesOf(batch: StoredBatch): ActivityRecord[] {
  const out: ActivityRecord[] = []
  if (batch.kind === 'transactions') {
    for (const t of batch.items) {
      const r = cardActivityOf(t)
      if (r !== null) out.push(r)
    }
    return out
  }
  for (const e of batch.items) out.push(...merchantEventActivities(e, null, null))
  return out
}

/** A transaction's activity record: its card's, for an approved sale; null for any other. */
export function cardActivityOf(t: TerminalTransaction): ActivityRecord | null {
  // Declines are card testing, not spending: a tester's card at many merchants is decline_ratio's.
  if (t.response_code !== '00') return null
  if (t.txn_type !== 'PURCHASE' && t.txn_type !== 'PREAUTH_COMPLETION') return null
  return {
    id: t.txn_id,
    kind: 'card',
    key: t.card_token,
    acquirerId: t.acquirer_id,
    merchantId: t.merchant_id,
    at: t.event_time,
    amount: t.amount_minor / minorPerMajor(t.currency),
  }
}

/**
 * Applies a lifecycle event to the rule engine, and returns the engine's hits and the event's activity
 * records: the account it made the merchant leave included, read from the engine before and after.
 * The rules stage and the backtest both go through here.
 */
export function applyMerchantEvent(
  engine: Pick<RuleEngine, 'accountOf' | 'onMerchantEvent'>,
  e: MerchantEvent,
): { hits: readonly HitUpdate[]; records: ActivityRecord[] } {
  const before = engine.accountOf(e.acquirer_id, e.merchant_id)
  const hits = engine.onMerchantEvent(e)
  return { hits, records: merchantEventActivities(e, before, engine.accountOf(e.acquirer_id, e.merchant_id)) }
}

/**
 * The activity records of a lifecycle event. `before` and `after` are the merchant's account as the
 * rule engine knew it before and after applying the event (RuleEngine.accountOf), null where unknown:
 * with them, the merchant's leaving an account is a record too (unbound), so the account's entity
 * knows who is still bound to it, however long ago they were bound.
 * - An event that sets an account binds the merchant to it; if it replaces another account, the
 *   merchant leaves that one at the event's time. A late event (older than the one that set the
 *   current account) binds the merchant to its account and leaves it when the current one was set.
 * - CLOSED leaves the current account.
 * - TERMINAL_BOUND and TERMINAL_UNBOUND bind and unbind the terminal.
 */
export function merchantEventActivities(
  e: MerchantEvent,
  before: AccountState | null,
  after: AccountState | null,
): ActivityRecord[] {
  const out: ActivityRecord[] = []
  const base = { id: e.event_id, acquirerId: e.acquirer_id, merchantId: e.merchant_id, at: e.event_time }
  const mcc = after?.mcc ?? e.registered_mcc
  const token = e.settlement_account_token
  if (token !== null && (e.kind === 'ONBOARDED' || e.kind === 'SETTLEMENT_ACCOUNT_CHANGED')) {
    out.push({ ...base, kind: 'account', key: token, bound: true, ...(mcc === null ? {} : { mcc }) })
    const previous = before?.account ?? null
    if (before !== null && previous !== null && previous !== token && e.event_time >= before.since) {
      out.push({ ...base, kind: 'account', key: previous, bound: false })
    } else if (
      after !== null &&
      after.account !== null &&
      after.account !== token &&
      e.event_time < after.since
    ) {
      out.push({
        ...base,
        id: `${e.event_id}~left`,
        at: after.since,
        kind: 'account',
        key: token,
        bound: false,
      })
    }
  }
  if (e.kind === 'CLOSED' && after !== null && after.account !== null && e.event_time >= after.since) {
    out.push({ ...base, kind: 'account', key: after.account, bound: false })
  }
  if (e.terminal_id !== null && (e.kind === 'TERMINAL_BOUND' || e.kind === 'TERMINAL_UNBOUND')) {
    out.push({ ...base, kind: 'terminal', key: e.terminal_id, bound: e.kind === 'TERMINAL_BOUND' })
  }
  return out
}
