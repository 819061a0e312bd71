import { mkdirSync } from 'node:fs'
import { type ClickHouseClient, createClient } from '@clickhouse/client'
import { asRiskError, RiskError } from '../lib/errors.ts'
import { openChdbConnection } from './chdb.ts'
import { migrate } from './migrate.ts'
import { lowerEngineThreads, type ThreadPriority } from './thread-priority.ts'

/**
 * The ClickHouse store: one client for the whole process, either to a ClickHouse server over HTTP
 * (`url` given) or to the embedded chDB engine in `chdbPath`. Both run the same SQL.
 *
 * Two differences of the chDB connection shape this module (chdb 3.4):
 * - It ignores the client's `database` option, so opening a chDB store runs `USE <database>` on the
 *   connection; unqualified names then resolve as they do on a server. The store's own queries
 *   qualify their tables with `{db:Identifier}` all the same, so they never depend on it.
 * - It turns per-query `clickhouse_settings` into `SET` statements that stay in force for every later
 *   query on the connection. Code using this client must never pass `clickhouse_settings` (on chDB the
 *   adapter in chdb.ts refuses them); a setting meant for one query goes into its SETTINGS clause.
 */

/** The part of a logger the store uses; a pino logger fits. */
export interface StoreLogger {
  info(obj: Record<string, unknown>, msg: string): void
  warn(obj: Record<string, unknown>, msg: string): void
}

/**
 * Where the store reports its writes, for metrics (metrics/metrics.ts has the Prometheus one). Called
 * on the write path, so implementations must be cheap and must not throw.
 */
export interface StoreObserver {
  /** An insert into `table` succeeded after `seconds`. */
  inserted(table: string, seconds: number): void
  /**
   * A write to `table` failed: the duplicate look-up before an insert, the insert itself, or the repair
   * of its views after a replay (store/insert-once.ts).
   */
  failed(table: string, op: 'lookup' | 'insert' | 'repair'): void
}

export interface OpenStoreOptions {
  /** ClickHouse server HTTP(S) URL. Absent: the embedded chDB engine in `chdbPath`. */
  readonly url?: string
  readonly username?: string
  readonly password?: string
  /** Database holding every table; created when missing. A plain identifier. */
  readonly database: string
  /** Data directory of the embedded engine; created when missing. Unused with `url`. */
  readonly chdbPath: string
  /**
   * Nice value (1 to 19) for the embedded engine's background threads (merges, moves, schedule pools),
   * so that the alert path, inserts and queries get the CPU first on a full machine
   * (store/thread-priority.ts); 0 or absent leaves them alone. Unused with `url`.
   */
  readonly chdbThreadNice?: number
  readonly logger?: StoreLogger
  /** Folder of migration files; store/migrations by default. */
  readonly migrationsDir?: string
  /** Clock for the migrations' `applied_at`. */
  readonly now?: () => number
  /** Told of every insert and failed write; none by default. */
  readonly observer?: StoreObserver
}

export type StoreBackend = 'chdb' | 'server'

export type PingResult = { readonly success: true } | { readonly success: false; readonly error: Error }

export interface Store {
  readonly client: ClickHouseClient
  /** The validated database name; qualify tables with it as `{db:Identifier}`. */
  readonly database: string
  readonly backend: StoreBackend
  /** Told of every insert and failed write (the writers call it); absent when nothing listens. */
  readonly observer?: StoreObserver
  /** A round trip to the engine; never throws. */
  ping(): Promise<PingResult>
  /**
   * Closes the client. For chDB it also waits until the engine has really let go of the data
   * directory, so the same or another path can be opened next. Idempotent.
   */
  close(): Promise<void>
}

/** What ClickHouse accepts unquoted; the database name is configuration and goes into DDL. */
export const DATABASE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Opens the store, creates the database when missing and applies pending migrations. */
export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const database = opts.database
  if (!DATABASE_NAME.test(database)) {
    throw new RiskError(
      'RISK_ERR_CONFIG',
      `ClickHouse database name ${JSON.stringify(database)} is not a plain identifier`,
      {
        context: { key: 'clickhouse.database' },
      },
    )
  }
  const observer = opts.observer
  const store =
    opts.url === undefined
      ? await openChdb(opts, database, observer)
      : await openServer(opts, database, observer)
  try {
    const result = await migrate(store.client, database, {
      ...(opts.migrationsDir === undefined ? {} : { dir: opts.migrationsDir }),
      ...(opts.logger === undefined ? {} : { logger: opts.logger }),
      ...(opts.now === undefined ? {} : { now: opts.now }),
    })
    opts.logger?.info(
      { database, backend: store.backend, applied: result.applied, skipped: result.skipped.length },
      'ClickHouse migrations up to date',
    )
    return store
  } catch (e) {
    // A chDB store left open would hold the process's one data directory.
    await store.close()
    throw e
  }
}

async function openServer(
  opts: OpenStoreOptions,
  database: string,
  observer: StoreObserver | undefined,
): Promise<Store> {
  const auth = {
    ...(opts.username === undefined ? {} : { username: opts.username }),
    ...(opts.password === undefined ? {} : { password: opts.password }),
  }
  const context = { backend: 'server', database }
  // The server refuses every request naming a database that does not exist, CREATE DATABASE included,
  // so the database is created through a client that does not name one.
  const bootstrap = createClient({ url: opts.url, ...auth })
  try {
    await bootstrap.command({
      query: 'CREATE DATABASE IF NOT EXISTS {db:Identifier}',
      query_params: { db: database },
    })
  } catch (e) {
    throw asRiskError(e, 'RISK_ERR_STORE_QUERY', 'cannot create the ClickHouse database', context)
  } finally {
    await bootstrap.close()
  }
  const client = createClient({ url: opts.url, ...auth, database })
  return makeStore(client, database, 'server', observer, async () => {})
}

async function openChdb(
  opts: OpenStoreOptions,
  database: string,
  observer: StoreObserver | undefined,
): Promise<Store> {
  const path = opts.chdbPath
  const context = { backend: 'chdb', database, path }
  let priority: ThreadPriority | null = null
  let client: ClickHouseClient
  let drain: () => Promise<void>
  try {
    mkdirSync(path, { recursive: true })
    const chdb = await openChdbConnection(path)
    // `database` is ignored by the chDB connection (hence the USE below), but kept for the record.
    client = createClient({ connection: chdb.connection, database })
    drain = chdb.drain
  } catch (e) {
    throw asRiskError(e, 'RISK_ERR_STORE_QUERY', 'cannot open the chDB data directory', context)
  }
  // close() returns before the connection is gone when an operation is still running on it; until
  // drain() settles, the engine still holds the directory and a restart would be refused.
  const store = makeStore(client, database, 'chdb', observer, async () => {
    priority?.stop()
    await drain()
  })
  try {
    await client.command({
      query: 'CREATE DATABASE IF NOT EXISTS {db:Identifier}',
      query_params: { db: database },
    })
    await client.command({ query: 'USE {db:Identifier}', query_params: { db: database } })
  } catch (e) {
    await store.close()
    throw asRiskError(e, 'RISK_ERR_STORE_QUERY', 'cannot create the ClickHouse database', context)
  }
  // After the first queries, so that the first scan finds the engine's pools started.
  const nice = opts.chdbThreadNice ?? 0
  if (nice > 0)
    priority = lowerEngineThreads({ nice, ...(opts.logger === undefined ? {} : { logger: opts.logger }) })
  return store
}

function makeStore(
  client: ClickHouseClient,
  database: string,
  backend: StoreBackend,
  observer: StoreObserver | undefined,
  release: () => Promise<void>,
): Store {
  let closing: Promise<void> | null = null
  return {
    client,
    database,
    backend,
    observer,
    async ping() {
      try {
        const r = await client.ping()
        return r.success ? { success: true } : { success: false, error: r.error }
      } catch (e) {
        return { success: false, error: e instanceof Error ? e : new Error(String(e)) }
      }
    },
    close() {
      closing ??= (async () => {
        try {
          await client.close()
        } finally {
          await release()
        }
      })()
      return closing
    },
  }
}
