import { TupleParam } from '@clickhouse/client'
import { isRoundThousand, isWholeUnit } from '../lib/currency.ts'
import { RiskError } from '../lib/errors.ts'
import { localDateHour } from '../lib/local-time.ts'
import type { TerminalTransaction } from '../schemas/types.generated.ts'
import type { Store } from './client.ts'
import {
  applied,
  compactRow,
  type KeyedRow,
  lookupSets,
  type PlannedWrite,
  planInsertOnce,
  type WriteResult,
} from './insert-once.ts'

export type { WriteResult } from './insert-once.ts'

/** A decoded transaction and where it was read from. */
export interface TransactionInput {
  readonly txn: TerminalTransaction
  readonly topic: string
  readonly partition: number
  /** Kafka offset, as kafkajs gives it (a decimal string). */
  readonly offset: string
}

export interface WriteOptions {
  /** Time zone of an acquirer's merchants (IANA name or ±HH:MM): local days and night-time use it. */
  readonly timeZoneOf: (acquirerId: string) => string
  /** Ingestion time, epoch ms, stored as `ingested_at`. */
  readonly now: number
}

/** One row of the `transactions` table, as written (in the order of TRANSACTION_COLUMNS). */
export interface TransactionRow {
  acquirer_id: string
  merchant_id: string
  txn_id: string
  event_time: string
  terminal_id: string
  card_token: string
  card_bin: string | null
  card_type: string
  txn_type: string
  amount_minor: number
  currency: string
  mcc: string
  entry_mode: string
  response_code: string
  latitude: number | null
  longitude: number | null
  local_date: string
  local_hour: number
  is_approved: boolean
  is_sale: boolean
  is_round_thousand: boolean
  is_whole_unit: boolean
  kafka_topic: string
  kafka_partition: number
  kafka_offset: string
  ingested_at: string
}

/** The columns the writer fills, in the order of each row's values; a test checks it names them all. */
export const TRANSACTION_COLUMNS: readonly (keyof TransactionRow)[] = [
  'acquirer_id',
  'merchant_id',
  'txn_id',
  'event_time',
  'terminal_id',
  'card_token',
  'card_bin',
  'card_type',
  'txn_type',
  'amount_minor',
  'currency',
  'mcc',
  'entry_mode',
  'response_code',
  'latitude',
  'longitude',
  'local_date',
  'local_hour',
  'is_approved',
  'is_sale',
  'is_round_thousand',
  'is_whole_unit',
  'kafka_topic',
  'kafka_partition',
  'kafka_offset',
  'ingested_at',
]
const LOCAL_DATE_AT = TRANSACTION_COLUMNS.indexOf('local_date')

/** `2024-03-10 16:00:00.000`: the DateTime64(3) text every ClickHouse version parses without best-effort mode. */
export function dateTime64(epochMs: number): string {
  const iso = new Date(epochMs).toISOString()
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`
}

/** `toYYYYMM` of a UTC time: the `transactions` partition of an event. */
export function utcMonth(epochMs: number): number {
  const d = new Date(epochMs)
  return d.getUTCFullYear() * 100 + d.getUTCMonth() + 1
}

/** dateTime64 remembering its last answer: a batch's rows share their ingestion time, made once. */
function lastDateTime64(): (epochMs: number) => string {
  let last = Number.NaN
  let text = ''
  return (epochMs) => {
    if (epochMs !== last) {
      text = dateTime64(epochMs)
      last = epochMs
    }
    return text
  }
}

const ingestedAt = lastDateTime64()

/** The stored row of a transaction, with the columns the writer derives. `timeZone` is the acquirer's. */
export function transactionRow(input: TransactionInput, timeZone: string, now: number): TransactionRow {
  const t = input.txn
  const local = localDateHour(t.event_time, timeZone)
  return {
    acquirer_id: t.acquirer_id,
    merchant_id: t.merchant_id,
    txn_id: t.txn_id,
    event_time: dateTime64(t.event_time),
    terminal_id: t.terminal_id,
    card_token: t.card_token,
    card_bin: t.card_bin,
    card_type: t.card_type,
    txn_type: t.txn_type,
    amount_minor: t.amount_minor,
    currency: t.currency,
    mcc: t.mcc,
    entry_mode: t.entry_mode,
    response_code: t.response_code,
    latitude: t.latitude,
    longitude: t.longitude,
    local_date: local.date,
    local_hour: local.hour,
    is_approved: t.response_code === '00',
    is_sale: t.txn_type === 'PURCHASE' || t.txn_type === 'PREAUTH_COMPLETION',
    is_round_thousand: isRoundThousand(t.amount_minor, t.currency),
    is_whole_unit: isWholeUnit(t.amount_minor, t.currency),
    kafka_topic: input.topic,
    kafka_partition: input.partition,
    kafka_offset: input.offset,
    ingested_at: ingestedAt(now),
  }
}

// Bounded by the batch's partitions (months of event time; see InsertOnceSpec.lookupSql). The virtual
// column prunes whole parts without reading event_time, which a filter on toYYYYMM(event_time) would
// read for every granule the key selects.
export const TRANSACTION_LOOKUP_SQL = `SELECT acquirer_id, merchant_id, txn_id AS id
FROM {db:Identifier}.transactions
WHERE ${lookupSets('txn_id')} AND _partition_id IN {partitions:Array(String)}`

// merchant_daily_mv's counters, column and expression over `transactions`: the repair below recomputes
// them exactly as the view does (a test checks the two agree).
const DAILY_COUNTERS: ReadonlyArray<readonly [string, string]> = [
  ['attempts', 'count()'],
  ['declines', 'countIf(NOT is_approved)'],
  ['approved_sales', 'countIf(is_sale AND is_approved)'],
  ['approved_amount_minor', 'sumIf(amount_minor, is_sale AND is_approved)'],
  ['refunds', "countIf(txn_type = 'REFUND' AND is_approved)"],
  ['refund_amount_minor', "sumIf(amount_minor, txn_type = 'REFUND' AND is_approved)"],
  ['credit_sales', "countIf(is_sale AND is_approved AND card_type = 'CREDIT')"],
  ['credit_amount_minor', "sumIf(amount_minor, is_sale AND is_approved AND card_type = 'CREDIT')"],
  ['debit_sales', "countIf(is_sale AND is_approved AND card_type = 'DEBIT')"],
  ['debit_amount_minor', "sumIf(amount_minor, is_sale AND is_approved AND card_type = 'DEBIT')"],
  ['prepaid_sales', "countIf(is_sale AND is_approved AND card_type = 'PREPAID')"],
  ['prepaid_amount_minor', "sumIf(amount_minor, is_sale AND is_approved AND card_type = 'PREPAID')"],
  ['round_thousand_sales', 'countIf(is_sale AND is_approved AND is_round_thousand)'],
  ['round_thousand_amount_minor', 'sumIf(amount_minor, is_sale AND is_approved AND is_round_thousand)'],
  ['whole_unit_sales', 'countIf(is_sale AND is_approved AND is_whole_unit)'],
  ['night_sales', 'countIf(is_sale AND is_approved AND local_hour < 5)'],
  ['night_amount_minor', 'sumIf(amount_minor, is_sale AND is_approved AND local_hour < 5)'],
]
const DAY_KEY = 'acquirer_id, merchant_id, local_date, currency'

/**
 * For the merchant-days of `keys`: what the transactions imply (t) against what merchant_daily holds
 * (d), and where d lacks rows of t, a row with the missing counts. The maximum ticket and the distinct
 * cards are states that merge idempotently, so they are simply written again. A day where d counts
 * more than t (which the writer never produces) is left alone.
 */
const REPAIR_DAILY_SQL = `INSERT INTO {db:Identifier}.merchant_daily
  (${DAY_KEY}, ${DAILY_COUNTERS.map(([c]) => c).join(', ')}, max_ticket_minor, distinct_cards)
SELECT ${DAY_KEY}, ${DAILY_COUNTERS.map(([c]) => `t.${c} - d.${c}`).join(', ')}, t.max_ticket_minor, t.distinct_cards
FROM (
  SELECT ${DAY_KEY}, ${DAILY_COUNTERS.map(([c, e]) => `${e} AS ${c}`).join(', ')},
    maxIf(amount_minor, is_sale AND is_approved) AS max_ticket_minor,
    uniqExactStateIf(card_token, is_sale AND is_approved) AS distinct_cards
  FROM {db:Identifier}.transactions
  WHERE (acquirer_id, merchant_id, local_date) IN {keys:Array(Tuple(String, String, Date))}
  GROUP BY ${DAY_KEY}
) AS t
LEFT JOIN (
  SELECT ${DAY_KEY}, ${DAILY_COUNTERS.map(([c]) => `sum(${c}) AS ${c}`).join(', ')}
  FROM {db:Identifier}.merchant_daily
  WHERE (acquirer_id, merchant_id, local_date) IN {keys:Array(Tuple(String, String, Date))}
  GROUP BY ${DAY_KEY}
) AS d USING (${DAY_KEY})
WHERE t.attempts > d.attempts AND ${DAILY_COUNTERS.map(([c]) => `t.${c} >= d.${c}`).join(' AND ')}`

/** repairViews of the transactions table: the merchant-days of the rows found already stored. */
async function repairDaily(store: Store, stored: readonly KeyedRow[]): Promise<void> {
  const days = new Map<string, TupleParam>()
  for (const r of stored) {
    const date = (JSON.parse(r.values) as string[])[LOCAL_DATE_AT] as string
    const k = `${r.acquirerId}\u0000${r.merchantId}\u0000${date}`
    if (!days.has(k)) days.set(k, new TupleParam([r.acquirerId, r.merchantId, date]))
  }
  await store.client.command({
    query: REPAIR_DAILY_SQL,
    query_params: { db: store.database, keys: [...days.values()] },
  })
}

/**
 * Stores transactions exactly once per (acquirer_id, merchant_id, txn_id), so `merchant_daily` never
 * counts a replayed one twice (see insert-once.ts). Throws RISK_ERR_STORE_WRITE (retriable) when
 * ClickHouse fails, and RISK_ERR_CONFIG when an acquirer's time zone is invalid.
 */
export async function insertTransactions(
  store: Store,
  rows: ReadonlyArray<TransactionInput>,
  opts: WriteOptions,
): Promise<WriteResult> {
  return applied(await planTransactions(store, rows, opts))
}

/** {@link insertTransactions} in two steps: the duplicate check now, the insert on `apply()`. */
export async function planTransactions(
  store: Store,
  rows: ReadonlyArray<TransactionInput>,
  opts: WriteOptions,
): Promise<PlannedWrite> {
  const zones = new Map<string, string>()
  const keyed = rows.map((input) => {
    const acquirerId = input.txn.acquirer_id
    let tz = zones.get(acquirerId)
    if (tz === undefined) {
      tz = opts.timeZoneOf(acquirerId)
      zones.set(acquirerId, tz)
    }
    let row: TransactionRow
    try {
      row = transactionRow(input, tz, opts.now)
    } catch (e) {
      // Only the time zone can fail here; configuration is checked at start-up, so this is a bug there.
      throw new RiskError(
        'RISK_ERR_CONFIG',
        `invalid time zone ${JSON.stringify(tz)} for acquirer ${acquirerId}`,
        {
          cause: e,
          context: { key: 'time.acquirerTimeZones', acquirer_id: acquirerId },
        },
      )
    }
    return {
      acquirerId,
      merchantId: input.txn.merchant_id,
      id: input.txn.txn_id,
      values: compactRow(row, TRANSACTION_COLUMNS),
      partition: String(utcMonth(input.txn.event_time)),
    }
  })
  return planInsertOnce(
    store,
    {
      table: 'transactions',
      lookupSql: TRANSACTION_LOOKUP_SQL,
      insertSql: 'INSERT INTO {db:Identifier}.transactions',
      columns: TRANSACTION_COLUMNS,
      repairViews: repairDaily,
    },
    keyed,
  )
}
