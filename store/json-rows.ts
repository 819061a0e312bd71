import { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { asRiskError } from '../lib/errors.ts'
import type { Store } from './client.ts'

/**
 * Inserts plain rows (objects keyed by column) into a table of the store's database as JSONEachRow.
 * For the tables whose engine collapses a rewrite of the same key (rule hits, scores, alerts, cases),
 * so a retried or replayed insert needs no duplicate check. Throws RISK_ERR_STORE_WRITE (retriable).
 */
export async function insertRows(store: Store, table: string, rows: readonly object[]): Promise<void> {
  if (rows.length === 0) return
  const lines = rows.map((r) => JSON.stringify(r))
  const started = performance.now()
  try {
    const result = await store.client.exec({
      query: 'INSERT INTO {db:Identifier}.{table:Identifier} FORMAT JSONEachRow',
      query_params: { db: store.database, table },
      // No newline after the last row: chDB's exec trims the body, which copies it when there is one.
      values: Readable.from([lines.join('\n')]),
    })
    result.stream.resume()
    await finished(result.stream)
    store.observer?.inserted(table, (performance.now() - started) / 1000)
  } catch (e) {
    store.observer?.failed(table, 'insert')
    throw asRiskError(e, 'RISK_ERR_STORE_WRITE', `cannot write ${table}`, {
      database: store.database,
      table,
      rows: rows.length,
    })
  }
}
