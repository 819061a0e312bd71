import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import type { createClient } from '@clickhouse/client'

/**
 * The embedded chDB engine as a `@clickhouse/client` connection. Only store/client.ts opens it.
 *
 * chdb/connection is typed against the separate @clickhouse/client-common package, whose settings
 * type is a class with private members, so TypeScript takes it for another type than the copy inside
 * @clickhouse/client even where both are the same code. This adapter bridges the two by delegation,
 * which costs nothing and is also where per-query `clickhouse_settings` are refused: chDB would run
 * them as `SET` and leave them in force for every later query of the process (a deduplication token
 * set that way would silently drop the next unrelated insert). Settings belong in the query's own
 * SETTINGS clause, which behaves the same on chDB and on a server.
 */

/** The connection type `createClient({ connection })` takes. */
export type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>

export interface ChdbHandle {
  readonly connection: ClientConnection
  /** Resolves once the engine has really let go of the data directory after close(). */
  readonly drain: () => Promise<void>
}

function withoutSettings<P extends { clickhouse_settings?: object }>(
  params: P,
): Omit<P, 'clickhouse_settings'> {
  const { clickhouse_settings, ...rest } = params
  if (clickhouse_settings !== undefined && Object.keys(clickhouse_settings).length > 0) {
    throw new Error(
      `clickhouse_settings (${Object.keys(clickhouse_settings).join(', ')}) would stay set on the chDB connection ` +
        'for every later query; put them in the SETTINGS clause of the query instead',
    )
  }
  return rest
}

/**
 * Opens the chDB engine on a data directory. Loaded on demand so that a deployment with a ClickHouse
 * server never loads the native library. Throws when the process already has another directory open.
 */
export async function openChdbConnection(path: string): Promise<ChdbHandle> {
  const { createChdbConnection } = await import('chdb/connection')
  const { drainPending } = await import('chdb')
  const conn = createChdbConnection({ path })
  const connection: ClientConnection = {
    ping: async (p) => conn.ping(withoutSettings(p)),
    query: async (p) => conn.query(withoutSettings(p)),
    insert: async (p) => conn.insert(withoutSettings(p)),
    command: async (p) => conn.command(withoutSettings(p)),
    exec: async (p) => {
      const params = withoutSettings(p)
      const insert = params.values === undefined ? null : rowInsertOf(params.query, params.query_params)
      if (insert === null || params.values === undefined) {
        if (params.values !== undefined) routes.exec++
        return conn.exec(params)
      }
      routes.raw++
      const body = await bodyOf(params.values)
      const query_id = params.query_id ?? randomUUID()
      // What chDB's exec answers an insert: no rows back. An empty body inserts nothing, as there.
      const done = { stream: Readable.from([]), query_id, response_headers: {}, http_status_code: 200 }
      if (body.length === 0) return done
      await conn.chdb.rawInsert({ ...insert, values: body })
      return done
    },
    close: () => conn.close(),
  }
  return { connection, drain: drainPending }
}

const routes = { raw: 0, exec: 0 }

/**
 * How many statements with a body this process's chDB connections sent through the raw insert and
 * through exec: a test writes through every writer and expects exec to have taken none.
 */
export function chdbInsertRoutes(): { readonly raw: number; readonly exec: number } {
  return { ...routes }
}

/** The target, columns, settings and format of a row insert, for chDB's raw insert. */
export interface RowInsert {
  readonly table: string
  readonly columns?: string[]
  readonly settings?: Record<string, string | number>
  readonly format: 'JSONEachRow' | 'JSONCompactEachRow'
}

// The inserts this service writes: INSERT INTO {db:Identifier}.<table or {table:Identifier}>, columns
// optional, settings of hex-string or integer values optional, a JSON rows format.
const ROW_INSERT =
  /^INSERT INTO \{db:Identifier\}\.(?:\{table:Identifier\}|([A-Za-z_][A-Za-z0-9_]*))(?: \(([A-Za-z0-9_, ]+)\))?(?: SETTINGS ([A-Za-z0-9_ =',]+?))? FORMAT (JSONEachRow|JSONCompactEachRow)$/
const SETTING = /^([A-Za-z_][A-Za-z0-9_]*) = (?:'([0-9a-f]*)'|([0-9]+))$/

/**
 * A row insert in the shape this service writes, taken apart for chDB's raw insert; null for any other
 * statement, which goes through chDB's exec as it is.
 *
 * chDB's exec decodes an insert's body into a string and appends it to the SQL text, which the engine
 * then parses as one statement; its raw insert hands the bytes over as they are, with the same SQL
 * prefix built from these parts (settings in the statement's SETTINGS clause, never SET). The same
 * 12,000 transactions took 0.77 of the process CPU that way (BENCHMARKS.md).
 */
export function rowInsertOf(
  query: string,
  queryParams: Record<string, unknown> | undefined,
): RowInsert | null {
  const m = ROW_INSERT.exec(query)
  if (m === null) return null
  const [, named, columns, settings, format] = m
  const db = queryParams?.db
  const table = named ?? queryParams?.table
  if (typeof db !== 'string' || typeof table !== 'string') return null
  const out: { -readonly [K in keyof RowInsert]: RowInsert[K] } = {
    table: `${db}.${table}`,
    format: format as RowInsert['format'],
  }
  if (columns !== undefined) out.columns = columns.split(', ')
  if (settings !== undefined) {
    const parsed: Record<string, string | number> = {}
    for (const part of settings.split(', ')) {
      const s = SETTING.exec(part)
      if (s === null) return null
      const [, key, text, number] = s
      if (key === undefined) return null
      parsed[key] = text ?? Number(number)
    }
    out.settings = parsed
  }
  return out
}

async function bodyOf(values: unknown): Promise<Buffer> {
  const chunks: Buffer[] = []
  if (typeof values === 'string') chunks.push(Buffer.from(values))
  else if (Buffer.isBuffer(values)) chunks.push(values)
  else
    for await (const chunk of values as AsyncIterable<unknown>) {
      if (typeof chunk === 'string') chunks.push(Buffer.from(chunk))
      else if (chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk))
      else throw new Error(`an insert body chunk must be text or bytes, got ${typeof chunk}`)
    }
  const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)
  // Whitespace alone is no row: chDB's exec returns without inserting.
  for (const byte of body) if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) return body
  return Buffer.alloc(0)
}
