import { TupleParam } from '@clickhouse/client'
import type { MerchantEvent } from '../schemas/types.generated.ts'
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
import { dateTime64, type WriteOptions } from './transactions.ts'

export type { WriteResult } from './insert-once.ts'

/** A decoded merchant lifecycle event and where it was read from. */
export interface MerchantEventInput {
  readonly event: MerchantEvent
  readonly topic: string
  readonly partition: number
  /** Kafka offset, as kafkajs gives it (a decimal string). */
  readonly offset: string
}

/** One row of the `merchant_events` table, as written (in the order of MERCHANT_EVENT_COLUMNS). */
export interface MerchantEventRow {
  acquirer_id: string
  merchant_id: string
  event_id: string
  event_time: string
  kind: string
  terminal_id: string | null
  registered_mcc: string | null
  merchant_name: string | null
  latitude: number | null
  longitude: number | null
  settlement_account_token: string | null
  kafka_topic: string
  kafka_partition: number
  kafka_offset: string
  ingested_at: string
}

/** The columns the writer fills, in the order of each row's values; a test checks it names them all. */
export const MERCHANT_EVENT_COLUMNS: readonly (keyof MerchantEventRow)[] = [
  'acquirer_id',
  'merchant_id',
  'event_id',
  'event_time',
  'kind',
  'terminal_id',
  'registered_mcc',
  'merchant_name',
  'latitude',
  'longitude',
  'settlement_account_token',
  'kafka_topic',
  'kafka_partition',
  'kafka_offset',
  'ingested_at',
]

export function merchantEventRow(input: MerchantEventInput, now: number): MerchantEventRow {
  const e = input.event
  return {
    acquirer_id: e.acquirer_id,
    merchant_id: e.merchant_id,
    event_id: e.event_id,
    event_time: dateTime64(e.event_time),
    kind: e.kind,
    terminal_id: e.terminal_id,
    registered_mcc: e.registered_mcc,
    merchant_name: e.merchant_name,
    latitude: e.latitude,
    longitude: e.longitude,
    settlement_account_token: e.settlement_account_token,
    kafka_topic: input.topic,
    kafka_partition: input.partition,
    kafka_offset: input.offset,
    ingested_at: dateTime64(now),
  }
}

const LOOKUP_SQL = `SELECT acquirer_id, merchant_id, event_id AS id
FROM {db:Identifier}.merchant_events
WHERE ${lookupSets('event_id')}`

// The select lists of merchant_profile_mv and terminal_bindings_mv (0001_initial.sql), repeated for the
// repair below; a test checks a repaired store equals one written without interruption.
const PROFILE_STATES = `argMaxState(e.registered_mcc, (e.event_time, e.event_id)) AS registered_mcc,
    argMaxState(e.merchant_name, (e.event_time, e.event_id)) AS merchant_name,
    argMaxState(if(e.longitude IS NULL, NULL, e.latitude), (e.event_time, e.event_id)) AS latitude,
    argMaxState(if(e.latitude IS NULL, NULL, e.longitude), (e.event_time, e.event_id)) AS longitude,
    argMaxState(e.settlement_account_token, (e.event_time, e.event_id)) AS settlement_account_token,
    minIf(toNullable(e.event_time), e.kind = 'ONBOARDED') AS onboarded_at,
    maxIf(toNullable(e.event_time), e.kind = 'CLOSED') AS closed_at,
    countIf(e.kind = 'SETTLEMENT_ACCOUNT_CHANGED') AS settlement_account_changes,
    max(e.event_time) AS last_event_at`

/**
 * The merchants' profiles recomputed from all their events. Every column but one is a latest-value,
 * min or max state, which merges idempotently, so it is written again as is; the count of settlement
 * account changes gets only what merchant_profile lacks.
 */
const REPAIR_PROFILE_SQL = `INSERT INTO {db:Identifier}.merchant_profile
  (acquirer_id, merchant_id, registered_mcc, merchant_name, latitude, longitude, settlement_account_token,
   onboarded_at, closed_at, settlement_account_changes, last_event_at)
SELECT acquirer_id, merchant_id, t.registered_mcc, t.merchant_name, t.latitude, t.longitude,
  t.settlement_account_token, t.onboarded_at, t.closed_at,
  t.settlement_account_changes - d.changes, t.last_event_at
FROM (
  SELECT e.acquirer_id AS acquirer_id, e.merchant_id AS merchant_id, ${PROFILE_STATES}
  FROM {db:Identifier}.merchant_events AS e
  WHERE (e.acquirer_id, e.merchant_id) IN {keys:Array(Tuple(String, String))}
  GROUP BY e.acquirer_id, e.merchant_id
) AS t
LEFT JOIN (
  SELECT acquirer_id, merchant_id, sum(settlement_account_changes) AS changes
  FROM {db:Identifier}.merchant_profile
  WHERE (acquirer_id, merchant_id) IN {keys:Array(Tuple(String, String))}
  GROUP BY acquirer_id, merchant_id
) AS d USING (acquirer_id, merchant_id)
WHERE t.settlement_account_changes >= d.changes`

/** The merchants' terminal bindings recomputed from their events: latest-value states, idempotent. */
const REPAIR_BINDINGS_SQL = `INSERT INTO {db:Identifier}.terminal_bindings
  (acquirer_id, terminal_id, merchant_id, bound, changed_at)
SELECT
  e.acquirer_id AS acquirer_id,
  assumeNotNull(e.terminal_id) AS terminal_id,
  e.merchant_id AS merchant_id,
  argMaxState(toBool(e.kind = 'TERMINAL_BOUND'), (e.event_time, e.event_id)) AS bound,
  max(e.event_time) AS changed_at
FROM {db:Identifier}.merchant_events AS e
WHERE e.kind IN ('TERMINAL_BOUND', 'TERMINAL_UNBOUND') AND e.terminal_id IS NOT NULL
  AND (e.acquirer_id, e.merchant_id) IN {keys:Array(Tuple(String, String))}
GROUP BY e.acquirer_id, e.terminal_id, e.merchant_id`

/** repairViews of merchant_events: the profiles and bindings of the merchants of rows found stored. */
async function repairProfiles(store: Store, stored: readonly KeyedRow[]): Promise<void> {
  const merchants = new Map<string, TupleParam>()
  for (const r of stored) {
    const k = `${r.acquirerId}\u0000${r.merchantId}`
    if (!merchants.has(k)) merchants.set(k, new TupleParam([r.acquirerId, r.merchantId]))
  }
  const params = { db: store.database, keys: [...merchants.values()] }
  await store.client.command({ query: REPAIR_PROFILE_SQL, query_params: params })
  await store.client.command({ query: REPAIR_BINDINGS_SQL, query_params: params })
}

/**
 * Stores merchant lifecycle events exactly once per (acquirer_id, merchant_id, event_id), so the
 * settlement-account change count in `merchant_profile` never counts a replay. The profile and the
 * terminal bindings take the latest value by event time, so events may arrive in any order.
 * Same options as {@link insertTransactions}; lifecycle events have no local-day columns, so
 * `timeZoneOf` is not consulted. Throws RISK_ERR_STORE_WRITE (retriable) when ClickHouse fails.
 */
export async function insertMerchantEvents(
  store: Store,
  rows: ReadonlyArray<MerchantEventInput>,
  opts: WriteOptions,
): Promise<WriteResult> {
  return applied(await planMerchantEvents(store, rows, opts))
}

/** {@link insertMerchantEvents} in two steps: the duplicate check now, the insert on `apply()`. */
export async function planMerchantEvents(
  store: Store,
  rows: ReadonlyArray<MerchantEventInput>,
  opts: WriteOptions,
): Promise<PlannedWrite> {
  const keyed = rows.map((input) => ({
    acquirerId: input.event.acquirer_id,
    merchantId: input.event.merchant_id,
    id: input.event.event_id,
    values: compactRow(merchantEventRow(input, opts.now), MERCHANT_EVENT_COLUMNS),
  }))
  return planInsertOnce(
    store,
    {
      table: 'merchant_events',
      lookupSql: LOOKUP_SQL,
      insertSql: 'INSERT INTO {db:Identifier}.merchant_events',
      columns: MERCHANT_EVENT_COLUMNS,
      repairViews: repairProfiles,
    },
    keyed,
  )
}
