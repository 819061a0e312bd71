import type { Store } from '../../store/client.ts'
import { type CursorKey, num, str } from '../cursor.ts'
import type { DailyRow, Hit, MerchantReply, ScoreNow, TopCard, Transaction } from '../schemas.ts'
import { chTime, iso, isoOrNull, type Params, select } from '../sql.ts'

/**
 * A merchant's evidence. Every query names the acquirer and the merchant, the leading columns of
 * every table's sort key, so a request reads that merchant's granules and nothing else; aggregate
 * tables are merged here with the filter inside (not through the *_v views, which would group first).
 */

const DAY_MS = 86_400_000

/**
 * Whether the acquirer knows the merchant at all: a profile, a score or a transaction. Asked in that
 * order, one table at a time: nearly every merchant has a profile, which answers from a few granules,
 * while asking the three at once read the merchant's granules in every part of transactions too (9.6 ms
 * of CPU against 3.7 for a merchant with a profile, 20 parts of transactions).
 */
export async function merchantExists(store: Store, acquirer: string, merchant: string): Promise<boolean> {
  for (const table of ['merchant_profile', 'merchant_scores', 'transactions']) {
    const rows = await select<{ x: number }>(
      store,
      `SELECT 1 AS x FROM {db:Identifier}.{table:Identifier}
       WHERE acquirer_id = {a:String} AND merchant_id = {m:String} LIMIT 1`,
      { table, a: acquirer, m: merchant },
    )
    if (rows.length > 0) return true
  }
  return false
}

interface ProfileRow {
  n: number
  p_name: string | null
  p_mcc: string | null
  p_lat: number | null
  p_lon: number | null
  p_account: string | null
  p_onboarded: string | null
  p_closed: string | null
  p_changes: number
  p_last: string
}

export async function profileOf(store: Store, a: string, m: string): Promise<MerchantReply['profile']> {
  const rows = await select<ProfileRow>(
    store,
    `SELECT toUInt32(count()) AS n,
            argMaxMerge(merchant_name) AS p_name, argMaxMerge(registered_mcc) AS p_mcc,
            argMaxMerge(latitude) AS p_lat, argMaxMerge(longitude) AS p_lon,
            argMaxMerge(settlement_account_token) AS p_account,
            min(onboarded_at) AS p_onboarded, max(closed_at) AS p_closed,
            toUInt32(sum(settlement_account_changes)) AS p_changes, max(last_event_at) AS p_last
     FROM {db:Identifier}.merchant_profile
     WHERE acquirer_id = {a:String} AND merchant_id = {m:String}`,
    { a, m },
  )
  const r = rows[0]
  if (r === undefined || Number(r.n) === 0) return null
  return {
    name: r.p_name,
    registered_mcc: r.p_mcc,
    latitude: r.p_lat,
    longitude: r.p_lon,
    settlement_account_token: r.p_account,
    onboarded_at: isoOrNull(r.p_onboarded),
    closed_at: isoOrNull(r.p_closed),
    settlement_account_changes: Number(r.p_changes),
    last_event_at: iso(r.p_last),
  }
}

export async function terminalsOf(store: Store, a: string, m: string): Promise<MerchantReply['terminals']> {
  const rows = await select<{ terminal_id: string; is_bound: boolean | number; changed: string }>(
    store,
    `SELECT terminal_id, argMaxMerge(bound) AS is_bound, max(changed_at) AS changed
     FROM {db:Identifier}.terminal_bindings
     WHERE acquirer_id = {a:String} AND merchant_id = {m:String}
     GROUP BY terminal_id ORDER BY terminal_id LIMIT 1000`,
    { a, m },
  )
  return rows.map((r) => ({
    terminal_id: r.terminal_id,
    bound: Boolean(r.is_bound),
    changed_at: iso(r.changed),
  }))
}

export async function terminalsSeenOf(
  store: Store,
  a: string,
  m: string,
  now: number,
): Promise<MerchantReply['terminals_seen']> {
  const rows = await select<{ terminal_id: string; n: number; last_seen: string }>(
    store,
    `SELECT terminal_id, toUInt32(count()) AS n, max(event_time) AS last_seen
     FROM {db:Identifier}.transactions
     WHERE acquirer_id = {a:String} AND merchant_id = {m:String} AND event_time >= {since:DateTime64(3, 'UTC')}
     GROUP BY terminal_id ORDER BY n DESC, terminal_id LIMIT 100`,
    { a, m, since: chTime(now - 30 * DAY_MS) },
  )
  return rows.map((r) => ({
    terminal_id: r.terminal_id,
    transactions: Number(r.n),
    last_seen: iso(r.last_seen),
  }))
}

export async function settlementChangesOf(
  store: Store,
  a: string,
  m: string,
): Promise<MerchantReply['settlement_account_changes']> {
  const rows = await select<{ event_time: string; settlement_account_token: string | null }>(
    store,
    `SELECT event_time, settlement_account_token FROM {db:Identifier}.merchant_events
     WHERE acquirer_id = {a:String} AND merchant_id = {m:String} AND kind = 'SETTLEMENT_ACCOUNT_CHANGED'
     ORDER BY event_time DESC LIMIT 100`,
    { a, m },
  )
  return rows.map((r) => ({ at: iso(r.event_time), account_token: r.settlement_account_token }))
}

interface ScoreRow {
  category: string
  score: number
  level: string
  hit_count: number
  families: string[]
  scored_at: string
  breakdown: string
}

function parseBreakdown(text: string): Record<string, unknown>[] {
  try {
    const v: unknown = JSON.parse(text)
    if (!Array.isArray(v)) return []
    return v.filter(
      (x): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x),
    )
  } catch {
    return []
  }
}

export async function scoresOf(store: Store, a: string, m: string): Promise<ScoreNow[]> {
  const rows = await select<ScoreRow>(
    store,
    `SELECT category, score, level, hit_count, families, scored_at, breakdown
     FROM {db:Identifier}.merchant_scores FINAL
     WHERE acquirer_id = {a:String} AND merchant_id = {m:String}
     ORDER BY category`,
    { a, m },
  )
  const breakdowns = await withEvidence(
    store,
    a,
    m,
    rows.map((r) => parseBreakdown(r.breakdown)),
  )
  return rows.map((r, i) => ({ ...scoreFields(r), breakdown: breakdowns[i] ?? [] }))
}

/** A hit's evidence, as `rule_hits` stores it once per hit. */
interface EvidenceRow {
  hit_id: string
  observed: number
  threshold: number
  sample_txn_ids: string[]
  detail: string
}

/**
 * Puts each breakdown entry's evidence beside it: the scorer stores a hit's part in the score and
 * refers to the hit by id (scoring/score-events.ts), and the observed value, threshold, sample
 * transactions and detail are read here from the hit as `rule_hits` holds it, so the reply explains
 * the score as before. An entry that carries them already (written before) is left as it is; one whose
 * hit is no longer stored (its retention passed) keeps only its part in the score.
 */
async function withEvidence(
  store: Store,
  a: string,
  m: string,
  breakdowns: Record<string, unknown>[][],
): Promise<Record<string, unknown>[][]> {
  const refersTo = (e: Record<string, unknown>): string | null =>
    typeof e.hit_id === 'string' && !('observed' in e) ? e.hit_id : null
  const ids = new Set<string>()
  for (const b of breakdowns)
    for (const e of b) {
      const id = refersTo(e)
      if (id !== null) ids.add(id)
    }
  if (ids.size === 0) return breakdowns
  const rows = await select<EvidenceRow>(
    store,
    `SELECT hit_id, observed, threshold, sample_txn_ids, detail
     FROM {db:Identifier}.rule_hits FINAL
     WHERE acquirer_id = {a:String} AND merchant_id = {m:String} AND hit_id IN {ids:Array(String)}`,
    { a, m, ids: [...ids] },
  )
  const byId = new Map(rows.map((r) => [r.hit_id, r]))
  return breakdowns.map((b) =>
    b.map((e) => {
      const hit = byId.get(refersTo(e) ?? '')
      if (hit === undefined) return e
      const { observed, threshold, sample_txn_ids, detail } = hit
      return { ...e, observed: Number(observed), threshold: Number(threshold), sample_txn_ids, detail }
    }),
  )
}

/** A stored score's fields as the API shows them, in a queue row and in a merchant's scores alike. */
export function scoreFields(r: Omit<ScoreRow, 'breakdown'>): Omit<ScoreNow, 'breakdown'> {
  return {
    category: r.category,
    score: Number(r.score),
    level: r.level,
    hit_count: Number(r.hit_count),
    families: r.families,
    scored_at: iso(r.scored_at),
  }
}

export interface Range {
  readonly from?: number
  readonly to?: number
  readonly limit: number
}

export async function scoreHistoryOf(
  store: Store,
  a: string,
  m: string,
  q: Range & { category?: string },
): Promise<{ category: string; scored_at: string; score: number; level: string }[]> {
  const where = ['acquirer_id = {a:String}', 'merchant_id = {m:String}']
  const params: Params = { a, m, limit: q.limit }
  if (q.category !== undefined) {
    where.push('category = {category:String}')
    params.category = q.category
  }
  timeRange(where, params, 'scored_at', q)
  const rows = await select<{ category: string; scored_at: string; score: number; level: string }>(
    store,
    `SELECT category, scored_at, score, level FROM {db:Identifier}.score_history FINAL
     WHERE ${where.join(' AND ')}
     ORDER BY scored_at DESC, category LIMIT {limit:UInt32}`,
    params,
  )
  return rows.map((r) => ({
    category: r.category,
    scored_at: iso(r.scored_at),
    score: Number(r.score),
    level: r.level,
  }))
}

interface HitRow {
  hit_id: string
  rule_id: string
  rule_version: number
  category: string
  observed: number
  threshold: number
  window_start: string
  window_end: string
  sample_txn_ids: string[]
  detail: string
  config_hash: string
  detected_at: string
}

/** Hits whose window overlaps [from, to), newest detection first. */
export async function hitsOf(
  store: Store,
  a: string,
  m: string,
  q: Range & { rule?: string },
): Promise<Hit[]> {
  const where = ['acquirer_id = {a:String}', 'merchant_id = {m:String}']
  const params: Params = { a, m, limit: q.limit }
  if (q.rule !== undefined) {
    where.push('rule_id = {rule:String}')
    params.rule = q.rule
  }
  if (q.from !== undefined) {
    where.push("window_end >= {from:DateTime64(3, 'UTC')}")
    params.from = chTime(q.from)
  }
  if (q.to !== undefined) {
    where.push("window_start < {to:DateTime64(3, 'UTC')}")
    params.to = chTime(q.to)
  }
  const rows = await select<HitRow>(
    store,
    `SELECT hit_id, rule_id, rule_version, category, observed, threshold, window_start, window_end,
            sample_txn_ids, detail, config_hash, detected_at
     FROM {db:Identifier}.rule_hits FINAL
     WHERE ${where.join(' AND ')}
     ORDER BY detected_at DESC, hit_id LIMIT {limit:UInt32}`,
    params,
  )
  return rows.map((r) => ({
    hit_id: r.hit_id,
    rule_id: r.rule_id,
    rule_version: Number(r.rule_version),
    category: r.category,
    observed: Number(r.observed),
    threshold: Number(r.threshold),
    window_start: iso(r.window_start),
    window_end: iso(r.window_end),
    sample_txn_ids: r.sample_txn_ids,
    detail: r.detail,
    config_hash: r.config_hash,
    detected_at: iso(r.detected_at),
  }))
}

/** Daily aggregates over local days [from, to], oldest first. */
export async function dailyOf(
  store: Store,
  a: string,
  m: string,
  from: string,
  to: string,
): Promise<DailyRow[]> {
  const rows = await select<DailyRow>(
    store,
    `SELECT toString(local_date) AS date, currency,
            toUInt32(sum(attempts)) AS attempts, toUInt32(sum(declines)) AS declines,
            toUInt32(sum(approved_sales)) AS approved_sales, toFloat64(sum(approved_amount_minor)) AS approved_amount_minor,
            toUInt32(sum(refunds)) AS refunds, toFloat64(sum(refund_amount_minor)) AS refund_amount_minor,
            toUInt32(sum(credit_sales)) AS credit_sales, toFloat64(sum(credit_amount_minor)) AS credit_amount_minor,
            toUInt32(sum(debit_sales)) AS debit_sales, toFloat64(sum(debit_amount_minor)) AS debit_amount_minor,
            toUInt32(sum(round_thousand_sales)) AS round_thousand_sales,
            toUInt32(sum(whole_unit_sales)) AS whole_unit_sales,
            toUInt32(sum(night_sales)) AS night_sales, toFloat64(sum(night_amount_minor)) AS night_amount_minor,
            toFloat64(max(max_ticket_minor)) AS max_ticket_minor,
            toUInt32(uniqExactMerge(distinct_cards)) AS distinct_cards
     FROM {db:Identifier}.merchant_daily
     WHERE acquirer_id = {a:String} AND merchant_id = {m:String}
       AND local_date >= {from:Date} AND local_date <= {to:Date}
     GROUP BY local_date, currency
     ORDER BY local_date, currency
     LIMIT 3660`,
    { a, m, from, to },
  )
  return rows.map((r) => ({
    ...r,
    attempts: Number(r.attempts),
    declines: Number(r.declines),
    approved_sales: Number(r.approved_sales),
    refunds: Number(r.refunds),
    credit_sales: Number(r.credit_sales),
    debit_sales: Number(r.debit_sales),
    round_thousand_sales: Number(r.round_thousand_sales),
    whole_unit_sales: Number(r.whole_unit_sales),
    night_sales: Number(r.night_sales),
    distinct_cards: Number(r.distinct_cards),
  }))
}

interface TxnRow extends Omit<Transaction, 'amount_minor'> {
  amount: number
  event_ms: number
}

export interface TxnFilter extends Range {
  readonly card?: string
  readonly terminal?: string
  readonly txnIds?: readonly string[]
  /** [event_time ms, txn_id] of the last row of the previous page. */
  readonly after?: CursorKey
}

/** Newest first by (event_time, txn_id): a unique, immutable key, so pages are exact. */
export async function transactionsOf(
  store: Store,
  a: string,
  m: string,
  f: TxnFilter,
): Promise<{ items: Transaction[]; last: CursorKey | null }> {
  const where: string[] = []
  const params: Params = { a, m, limit: f.limit }
  if (f.card !== undefined) {
    where.push('card_token = {card:String}')
    params.card = f.card
  }
  if (f.terminal !== undefined) {
    where.push('terminal_id = {terminal:String}')
    params.terminal = f.terminal
  }
  if (f.txnIds !== undefined) {
    where.push('txn_id IN {txnIds:Array(String)}')
    params.txnIds = f.txnIds
  }
  timeRange(where, params, 'event_time', f)
  if (f.after !== undefined) {
    where.push(
      "(event_time < {cT:DateTime64(3, 'UTC')} OR (event_time = {cT:DateTime64(3, 'UTC')} AND txn_id < {cId:String}))",
    )
    params.cT = chTime(num(f.after, 0))
    params.cId = str(f.after, 1)
  }
  // PREWHERE: the merchant's rows are found first and the other thirteen columns read for them alone
  // (measured with 20 parts: 27 ms of CPU against 37 when ClickHouse chose what to read first).
  const rows = await select<TxnRow>(
    store,
    `SELECT txn_id, event_time, toFloat64(toUnixTimestamp64Milli(event_time)) AS event_ms, terminal_id, card_token,
            card_bin, card_type, txn_type, toFloat64(amount_minor) AS amount, currency, mcc, entry_mode,
            response_code, latitude, longitude
     FROM {db:Identifier}.transactions
     PREWHERE acquirer_id = {a:String} AND merchant_id = {m:String}
     ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY event_time DESC, txn_id DESC LIMIT {limit:UInt32}`,
    params,
  )
  const items = rows.map((r) => ({
    txn_id: r.txn_id,
    event_time: iso(r.event_time),
    terminal_id: r.terminal_id,
    card_token: r.card_token,
    card_bin: r.card_bin,
    card_type: r.card_type,
    txn_type: r.txn_type,
    amount_minor: r.amount,
    currency: r.currency,
    mcc: r.mcc,
    entry_mode: r.entry_mode,
    response_code: r.response_code,
    latitude: r.latitude,
    longitude: r.longitude,
  }))
  const lastRow = rows.at(-1)
  return { items, last: lastRow === undefined ? null : [lastRow.event_ms, lastRow.txn_id] }
}

interface CardRow {
  card_token: string
  c_type: string
  c_bin: string | null
  swipes: number
  approved: number
  active_days: number
  active_months: number
  terminals: number
  first_seen: string
  last_seen: string
}

/**
 * The cards that keep coming back: most calendar months, then most days, then most swipes. Cash-out
 * rings reuse a card month after month on the statement cycle; a shop's regulars rarely span months
 * with many swipes a day.
 */
export async function topCardsOf(
  store: Store,
  a: string,
  m: string,
  q: { from: number; to: number; limit: number },
): Promise<TopCard[]> {
  const rows = await select<CardRow>(
    store,
    `SELECT card_token, any(card_type) AS c_type, any(card_bin) AS c_bin,
            toUInt32(count()) AS swipes, toFloat64(sumIf(amount_minor, is_sale AND is_approved)) AS approved,
            toUInt32(uniqExact(local_date)) AS active_days, toUInt32(uniqExact(toStartOfMonth(local_date))) AS active_months,
            toUInt32(uniqExact(terminal_id)) AS terminals, min(event_time) AS first_seen, max(event_time) AS last_seen
     FROM {db:Identifier}.transactions
     WHERE acquirer_id = {a:String} AND merchant_id = {m:String}
       AND event_time >= {from:DateTime64(3, 'UTC')} AND event_time < {to:DateTime64(3, 'UTC')}
     GROUP BY card_token
     ORDER BY active_months DESC, active_days DESC, swipes DESC, card_token
     LIMIT {limit:UInt32}`,
    { a, m, from: chTime(q.from), to: chTime(q.to), limit: q.limit },
  )
  return rows.map((r) => ({
    card_token: r.card_token,
    card_type: r.c_type,
    card_bin: r.c_bin,
    swipes: Number(r.swipes),
    approved_amount_minor: Number(r.approved),
    active_days: Number(r.active_days),
    active_months: Number(r.active_months),
    terminals: Number(r.terminals),
    first_seen: iso(r.first_seen),
    last_seen: iso(r.last_seen),
  }))
}

function timeRange(where: string[], params: Params, column: string, q: { from?: number; to?: number }): void {
  if (q.from !== undefined) {
    where.push(`${column} >= {from:DateTime64(3, 'UTC')}`)
    params.from = chTime(q.from)
  }
  if (q.to !== undefined) {
    where.push(`${column} < {to:DateTime64(3, 'UTC')}`)
    params.to = chTime(q.to)
  }
}
