import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { asRiskError } from '../lib/errors.ts'
import type { Store } from './client.ts'

/**
 * Exactly-once insertion of keyed events into a raw table whose materialized views feed aggregates.
 * ReplacingMergeTree alone would not do: it collapses a duplicate row at some later merge, but the
 * views have counted both copies by then. So a duplicate must never reach the table:
 *
 * 1. duplicates inside the batch are dropped (the first copy is kept);
 * 2. the keys already stored are looked up by the sort-key prefix and dropped: this covers a batch
 *    replayed after a crash and the same event produced again at another offset;
 * 3. the rest is inserted with an `insert_deduplication_token` derived from its keys. If an insert
 *    whose outcome was unknown (a timeout) is retried while the first is still landing, the look-up
 *    cannot see it yet; the token makes the second a no-op, in the table and, with
 *    `deduplicate_blocks_in_dependent_materialized_views`, in every view fed from it (verified on
 *    chDB: a retried insert is dropped by both, while a different batch aggregating to identical
 *    view rows is still counted).
 *
 * 4. Non-replicated MergeTree has no transaction spanning a table and its views: a process killed (or
 *    a view failing) after the table took its part and before the views took theirs leaves rows that
 *    the views never counted. The batch was not committed, so it comes back, and step 2 finds its rows
 *    stored. Whenever step 2 finds stored rows, `repairViews` is called with them: it recomputes the
 *    view rows they belong to from the table and adds what is missing (a test kills the service
 *    mid-stream and compares the aggregates with an uninterrupted run).
 *
 * Not covered: two writers inserting the same new key in different batches at the same moment
 * (events are keyed by merchant, so one partition and so one consumer owns a merchant).
 */

export interface KeyedRow {
  readonly acquirerId: string
  readonly merchantId: string
  readonly id: string
  /** The row's values in the order of the spec's `columns`, as one JSON array (see {@link compactRow}). */
  readonly values: string
  /**
   * The id of the table partition the row goes to (`_partition_id`: for `transactions`, the UTC month of
   * its event time as `toYYYYMM` gives it), when the look-up is bounded by partition: see
   * {@link InsertOnceSpec.lookupSql}.
   */
  readonly partition?: string
}

/**
 * A row as a JSONCompactEachRow line: its values in the order of `columns`, without the keys. The engine
 * parses a batch of these in 30% less CPU than the same rows as JSONEachRow objects, whose keys it must
 * match column by column (20,000 transactions into a Null table: 6.9 against 9.5 µs per row).
 */
export function compactRow<R extends object>(row: R, columns: readonly (keyof R & string)[]): string {
  return JSON.stringify(columns.map((c) => row[c]))
}

export interface WriteResult {
  /** Rows written by this call. */
  readonly inserted: number
  /** Rows skipped: repeated in the batch or already stored. */
  readonly duplicates: number
  /**
   * Ids of the rows this call wrote, in input order: what is new to the system. Downstream stages (the
   * rule engine) take only these, so a replayed event never reaches them twice.
   */
  readonly insertedIds: readonly string[]
}

export interface InsertOnceSpec {
  /** Table name, for error context and the token. */
  readonly table: string
  /**
   * SELECT returning `acquirer_id, merchant_id, id` for the stored rows among the (acquirer, merchant)
   * pairs × the ids of a chunk, in database `{db:Identifier}`. Both arrive as one JSON text each,
   * `{keys:String}` (an array of [acquirer, merchant]) and `{ids:String}` (an array of ids): see
   * {@link lookupSets}. It may also read `{partitions:Array(String)}`, the rows' `partition`s: a
   * table partitioned by event time is then searched in the batch's partitions only, so that the
   * look-up does not grow with the history stored. A copy of an event has its event time, and so its
   * partition; ReplacingMergeTree also collapses copies within a partition only.
   */
  readonly lookupSql: string
  /** `INSERT INTO {db:Identifier}.<table>` without columns, SETTINGS or FORMAT. */
  readonly insertSql: string
  /** The columns the rows' values fill, in order (our own names: they go into the SQL as they are). */
  readonly columns: readonly string[]
  /**
   * Brings what the table's materialized views feed up to date for rows found already stored (step 4
   * above). Must be idempotent: it also runs for an event that was simply produced twice.
   */
  readonly repairViews?: (store: Store, stored: readonly KeyedRow[]) => Promise<void>
}

// What one look-up query takes. Each query has a fixed cost (on chDB about as much as looking up 4,000
// ids: bench/store-insert.bench.ts), so chunks are as large as the URL allows: on a server the parameters
// travel in it, and ClickHouse accepts 1 MiB (http_max_uri_size); 400,000 characters of ids and keys
// leave room for their URL encoding.
const LOOKUP_MAX_KEYS = 10_000
const LOOKUP_MAX_CHARS = 400_000

const keyOf = (r: { acquirerId: string; merchantId: string; id: string }) =>
  `${r.acquirerId}\u0000${r.merchantId}\u0000${r.id}`

/**
 * The `IN` sets of a look-up, made in the engine from two JSON texts. Passed as `Array(...)` parameters,
 * a chunk of 6,000 ids and their merchants took the engine some 20 ms to parse before it searched
 * anything; as JSON it parses them in well under a millisecond, and JSON carries any character an id may
 * hold. Each set is a constant expression on the right of `IN`, not a subquery: the primary key's
 * analysis uses a constant set for every column of the key, which with a subquery's set read twice the
 * CPU on a table of few, busy merchants (bench/lookup.bench.ts).
 */
export function lookupSets(column: string): string {
  return `(acquirer_id, merchant_id) IN JSONExtract({keys:String}, 'Array(Tuple(String, String))')
  AND ${column} IN JSONExtract({ids:String}, 'Array(String)')`
}

/**
 * A write whose duplicate check is done (steps 1 and 2) and whose insert is not: `apply` performs steps
 * 3 and 4. Callers that know which rows are new before they are stored can start work on them (the rule
 * engine) while the insert runs. `apply` may be called again after it failed: the same rows carry the
 * same token, so an insert that did land is not stored twice.
 */
export interface PlannedWrite extends WriteResult {
  apply(): Promise<void>
}

/** Steps 1–4 at once; see {@link planInsertOnce} to overlap the insert with other work. */
export async function insertOnce(
  store: Store,
  spec: InsertOnceSpec,
  rows: readonly KeyedRow[],
): Promise<WriteResult> {
  return applied(await planInsertOnce(store, spec, rows))
}

/** Performs a planned write now; what the one-step writers return. */
export async function applied(planned: PlannedWrite): Promise<WriteResult> {
  await planned.apply()
  return { inserted: planned.inserted, duplicates: planned.duplicates, insertedIds: planned.insertedIds }
}

export async function planInsertOnce(
  store: Store,
  spec: InsertOnceSpec,
  rows: readonly KeyedRow[],
): Promise<PlannedWrite> {
  const unique = new Map<string, KeyedRow>()
  for (const r of rows) {
    const k = keyOf(r)
    if (!unique.has(k)) unique.set(k, r)
  }
  const context = { database: store.database, table: spec.table, rows: rows.length }

  const stored = new Set<string>()
  const byPartition = spec.lookupSql.includes('{partitions:')
  // A row without its partition would be looked for nowhere, and so stored again: a bug of the writer,
  // not a store failure to retry.
  if (byPartition && rows.some((r) => r.partition === undefined))
    throw new Error(`a row of ${spec.table} has no partition, which its look-up needs`)
  try {
    for (const chunk of lookupChunks([...unique.values()])) {
      const pairs = new Map<string, [string, string]>()
      const partitions = new Set<string>()
      for (const r of chunk) {
        pairs.set(`${r.acquirerId}\u0000${r.merchantId}`, [r.acquirerId, r.merchantId])
        if (r.partition !== undefined) partitions.add(r.partition)
      }
      const params: Record<string, unknown> = {
        db: store.database,
        keys: JSON.stringify([...pairs.values()]),
        ids: JSON.stringify(chunk.map((r) => r.id)),
      }
      if (byPartition) params.partitions = [...partitions]
      const rs = await store.client.query({
        query: spec.lookupSql,
        query_params: params,
        format: 'JSONEachRow',
      })
      // The query matches the cross product of pairs and ids; only exact keys of this batch count.
      for (const hit of await rs.json<{ acquirer_id: string; merchant_id: string; id: string }>()) {
        const k = keyOf({ acquirerId: hit.acquirer_id, merchantId: hit.merchant_id, id: hit.id })
        if (unique.has(k)) stored.add(k)
      }
    }
  } catch (e) {
    store.observer?.failed(spec.table, 'lookup')
    throw asRiskError(e, 'RISK_ERR_STORE_WRITE', `cannot look up stored ${spec.table}`, context)
  }

  const fresh: KeyedRow[] = []
  for (const [k, r] of unique) if (!stored.has(k)) fresh.push(r)
  const found: KeyedRow[] = []
  for (const k of stored) found.push(unique.get(k) as KeyedRow)
  const repair = spec.repairViews
  return {
    inserted: fresh.length,
    duplicates: rows.length - fresh.length,
    insertedIds: fresh.map((r) => r.id),
    apply: async () => {
      if (fresh.length > 0) await insertFresh(store, spec, fresh, context)
      if (found.length === 0 || repair === undefined) return
      try {
        await repair(store, found)
      } catch (e) {
        store.observer?.failed(spec.table, 'repair')
        throw asRiskError(e, 'RISK_ERR_STORE_WRITE', `cannot repair the views of ${spec.table}`, {
          ...context,
          stored: found.length,
        })
      }
    },
  }
}

/** Consecutive runs of rows within the look-up's limits of keys and characters. */
function lookupChunks(rows: readonly KeyedRow[]): KeyedRow[][] {
  const chunks: KeyedRow[][] = []
  let current: KeyedRow[] = []
  let chars = 0
  for (const r of rows) {
    const size = r.id.length + r.acquirerId.length + r.merchantId.length + 8
    if (current.length > 0 && (current.length >= LOOKUP_MAX_KEYS || chars + size > LOOKUP_MAX_CHARS)) {
      chunks.push(current)
      current = []
      chars = 0
    }
    current.push(r)
    chars += size
  }
  if (current.length > 0) chunks.push(current)
  return chunks
}

async function insertFresh(
  store: Store,
  spec: InsertOnceSpec,
  fresh: readonly KeyedRow[],
  context: Record<string, unknown>,
): Promise<void> {
  const token = dedupToken(spec.table, fresh)
  const started = performance.now()
  try {
    // The token is a literal, not a query parameter: parameters in a SETTINGS clause only parse on
    // ClickHouse 26.7 and later (ClickHouse#108760); dedupToken returns hex digits only. The settings
    // go in the query, never in clickhouse_settings, which chDB would leave set for every later insert.
    const result = await store.client.exec({
      query: `${spec.insertSql} (${spec.columns.join(', ')}) SETTINGS insert_deduplication_token = '${token}', deduplicate_blocks_in_dependent_materialized_views = 1 FORMAT JSONCompactEachRow`,
      query_params: { db: store.database },
      // No newline after the last row (see insertRows in json-rows.ts).
      values: Readable.from([fresh.map((r) => r.values).join('\n')]),
    })
    // An unread response would keep the HTTP socket busy.
    result.stream.resume()
    await finished(result.stream)
  } catch (e) {
    store.observer?.failed(spec.table, 'insert')
    throw asRiskError(e, 'RISK_ERR_STORE_WRITE', `cannot insert into ${spec.table}`, {
      ...context,
      new: fresh.length,
    })
  }
  store.observer?.inserted(spec.table, (performance.now() - started) / 1000)
}

/** The same new rows give the same token, so a retried insert is recognised whatever its timing. */
function dedupToken(table: string, rows: readonly KeyedRow[]): string {
  const h = createHash('sha256').update(table)
  for (const r of rows) h.update('\n').update(keyOf(r))
  return h.digest('hex')
}
