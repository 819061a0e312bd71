import type { MerchantEvent } from '../schemas/types.generated.ts'
import type { Store } from './client.ts'
import { insertOnce, type WriteResult } from './insert-once.ts'
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

/** One row of the `merchant_events` table, as written in JSONEachRow. */
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
WHERE (acquirer_id, merchant_id) IN {keys:Array(Tuple(String, String))} AND event_id IN {ids:Array(String)}`

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
  const keyed = rows.map((input) => ({
    acquirerId: input.event.acquirer_id,
    merchantId: input.event.merchant_id,
    id: input.event.event_id,
    json: JSON.stringify(merchantEventRow(input, opts.now)),
  }))
  return insertOnce(
    store,
    {
      table: 'merchant_events',
      lookupSql: LOOKUP_SQL,
      insertSql: 'INSERT INTO {db:Identifier}.merchant_events',
    },
    keyed,
  )
}
