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
    exec: async (p) => conn.exec(withoutSettings(p)),
    close: () => conn.close(),
  }
  return { connection, drain: drainPending }
}
