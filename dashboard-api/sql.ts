import { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { asRiskError } from '../lib/errors.ts'
import type { Store } from '../store/client.ts'

/**
 * The only way the API reaches ClickHouse. Values always travel as query parameters (`{name:Type}`);
 * the SQL text itself is constant or assembled from constant fragments chosen by code, never from input.
 * Tables are qualified with `{db:Identifier}` because chDB ignores the client's database option.
 */
export type Params = Record<string, string | number | boolean | readonly string[] | null>

export async function select<T>(store: Store, query: string, params: Params = {}): Promise<T[]> {
  try {
    const rs = await store.client.query({
      query,
      query_params: { db: store.database, ...params },
      format: 'JSONEachRow',
    })
    return await rs.json<T>()
  } catch (e) {
    throw asRiskError(e, 'RISK_ERR_STORE_QUERY', 'dashboard API query failed', { database: store.database })
  }
}

/** Inserts rows (JSONEachRow) into one of the API's tables. */
export async function insertRows(store: Store, table: string, rows: readonly object[]): Promise<void> {
  if (rows.length === 0) return
  try {
    const result = await store.client.exec({
      query: 'INSERT INTO {db:Identifier}.{table:Identifier} FORMAT JSONEachRow',
      query_params: { db: store.database, table },
      values: Readable.from([`${rows.map((r) => JSON.stringify(r)).join('\n')}\n`]),
    })
    result.stream.resume()
    await finished(result.stream)
  } catch (e) {
    throw asRiskError(e, 'RISK_ERR_STORE_WRITE', 'dashboard API write failed', {
      database: store.database,
      table,
    })
  }
}

/** `2026-01-15 12:00:00.000` (what ClickHouse prints for DateTime64(3, 'UTC')) as ISO-8601 UTC. */
export function iso(chTime: string): string {
  return `${chTime.replace(' ', 'T')}Z`
}

export function isoOrNull(chTime: string | null): string | null {
  return chTime === null ? null : iso(chTime)
}

/** Epoch ms as the DateTime64(3) text every ClickHouse version parses. */
export function chTime(epochMs: number): string {
  const s = new Date(epochMs).toISOString()
  return `${s.slice(0, 10)} ${s.slice(11, 23)}`
}
