import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ClickHouseClient } from '@clickhouse/client'
import { asRiskError, RiskError } from '../lib/errors.ts'
import type { StoreLogger } from './client.ts'

/**
 * Schema migrations: plain SQL files `NNNN_name.sql` in store/migrations, applied in version order at
 * start-up and recorded in `schema_migrations` with the SHA-256 of the file. A recorded migration is
 * never run again, and one whose file changed since stops start-up: the database was built from the
 * old text, so silently running the new one (or not) would leave code and schema disagreeing.
 *
 * Statements run with the configured database as the current one and name their tables unqualified
 * (see the header of 0001_initial.sql for why). They are separated by a `;` at the end of a line and
 * must be idempotent (IF NOT EXISTS): a migration that failed half way is run again from its start.
 */

export interface Migration {
  readonly version: number
  readonly name: string
  /** File name, e.g. `0001_initial.sql`: what an error names. */
  readonly file: string
  readonly checksum: string
  readonly statements: readonly string[]
}

export interface MigrateOptions {
  /** Folder of migration files; store/migrations by default. */
  readonly dir?: string
  readonly logger?: StoreLogger
  /** Clock for `applied_at`. */
  readonly now?: () => number
}

export interface MigrateResult {
  /** Files applied by this run, in order. */
  readonly applied: readonly string[]
  /** Files already recorded and left alone. */
  readonly skipped: readonly string[]
}

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url))

const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/

/**
 * Splits a migration into statements at each `;` that ends a line. A comment line is never a
 * terminator, and a piece holding only comments and blank lines is dropped.
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = []
  let current: string[] = []
  const flush = () => {
    const text = current.join('\n').trim()
    current = []
    const hasCode = text.split('\n').some((l) => l.trim() !== '' && !l.trim().startsWith('--'))
    if (hasCode) statements.push(text)
  }
  for (const line of sql.split(/\r?\n/)) {
    const trimmed = line.trimEnd()
    if (trimmed.endsWith(';') && !trimmed.trimStart().startsWith('--')) {
      current.push(trimmed.slice(0, -1))
      flush()
    } else {
      current.push(line)
    }
  }
  flush()
  return statements
}

/** Reads and checks the migration files of a folder, in version order. */
export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  let files: string[]
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.sql'))
  } catch (e) {
    throw asRiskError(e, 'RISK_ERR_MIGRATION', 'cannot read the migrations folder', { dir })
  }
  const migrations: Migration[] = []
  for (const file of files) {
    const m = FILE_NAME.exec(file)
    if (m === null || m[1] === undefined || m[2] === undefined) {
      throw new RiskError('RISK_ERR_MIGRATION', `migration file ${file} is not named NNNN_name.sql`, {
        context: { file, dir },
      })
    }
    const text = readFileSync(join(dir, file))
    migrations.push({
      version: Number(m[1]),
      name: m[2],
      file,
      checksum: createHash('sha256').update(text).digest('hex'),
      statements: splitStatements(text.toString('utf8')),
    })
  }
  migrations.sort((a, b) => a.version - b.version)
  for (let i = 1; i < migrations.length; i++) {
    const prev = migrations[i - 1]
    const cur = migrations[i]
    if (prev !== undefined && cur !== undefined && prev.version === cur.version) {
      throw new RiskError(
        'RISK_ERR_MIGRATION',
        `migrations ${prev.file} and ${cur.file} share version ${cur.version}`,
        {
          context: { file: cur.file, version: cur.version },
        },
      )
    }
  }
  return migrations
}

interface AppliedRow {
  version: number
  name: string
  checksum: string
}

/**
 * Applies the pending migrations of `opts.dir` to `database`, which must be the client's current
 * database (the server client's `database` option, or `USE` on chDB).
 */
export async function migrate(
  client: ClickHouseClient,
  database: string,
  opts: MigrateOptions = {},
): Promise<MigrateResult> {
  const migrations = loadMigrations(opts.dir)
  const now = opts.now ?? Date.now

  const step = async <T>(what: string, context: Record<string, string | number>, fn: () => Promise<T>) => {
    try {
      return await fn()
    } catch (e) {
      throw asRiskError(e, 'RISK_ERR_MIGRATION', what, { database, ...context })
    }
  }

  // The files name their tables unqualified; running them anywhere but the configured database
  // would build the schema in the wrong place without a single error.
  const current = await step('cannot read the current database', {}, async () => {
    const rs = await client.query({ query: 'SELECT currentDatabase() AS db', format: 'JSONEachRow' })
    const rows = await rs.json<{ db: string }>()
    return rows[0]?.db
  })
  if (current !== database) {
    throw new RiskError(
      'RISK_ERR_MIGRATION',
      `migrations must run in database ${database} but the connection's current database is ${current}`,
      { context: { database, current } },
    )
  }

  await step('cannot create schema_migrations', {}, () =>
    client.command({
      query: `CREATE TABLE IF NOT EXISTS {db:Identifier}.schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY version`,
      query_params: { db: database },
    }),
  )

  const recorded = await step('cannot read schema_migrations', {}, async () => {
    // FINAL: two instances starting together may both record a migration; they record the same file.
    const rs = await client.query({
      query:
        'SELECT toUInt32(version) AS version, name, checksum FROM {db:Identifier}.schema_migrations FINAL ORDER BY version',
      query_params: { db: database },
      format: 'JSONEachRow',
    })
    return rs.json<AppliedRow>()
  })
  const byVersion = new Map(recorded.map((r) => [Number(r.version), r]))

  // Every recorded migration is checked before anything runs, so a changed file stops start-up
  // with the schema untouched.
  for (const m of migrations) {
    const rec = byVersion.get(m.version)
    if (rec === undefined) continue
    if (rec.checksum !== m.checksum || rec.name !== m.name) {
      throw new RiskError(
        'RISK_ERR_MIGRATION',
        `migration ${m.file} was applied as ${String(m.version).padStart(4, '0')}_${rec.name}.sql with checksum ${rec.checksum}, ` +
          `but the file now has checksum ${m.checksum}; add a new migration instead of editing an applied one`,
        {
          context: { file: m.file, version: m.version, database, recorded: rec.checksum, actual: m.checksum },
        },
      )
    }
  }
  const known = new Set(migrations.map((m) => m.version))
  for (const rec of recorded) {
    if (!known.has(Number(rec.version))) {
      // The database is ahead of this code (a rolled-back deployment); it may still work, so say so.
      opts.logger?.warn(
        { database, version: Number(rec.version), name: rec.name },
        'a recorded migration has no file in this version of the service',
      )
    }
  }

  const applied: string[] = []
  const skipped: string[] = []
  for (const m of migrations) {
    if (byVersion.has(m.version)) {
      skipped.push(m.file)
      continue
    }
    for (const [i, statement] of m.statements.entries()) {
      await step(`migration ${m.file} failed at statement ${i + 1}`, { file: m.file, statement: i + 1 }, () =>
        client.command({ query: statement }),
      )
    }
    await step(`cannot record migration ${m.file}`, { file: m.file }, () =>
      client.command({
        query: `INSERT INTO {db:Identifier}.schema_migrations (version, name, checksum, applied_at)
VALUES ({version:UInt32}, {name:String}, {checksum:String}, fromUnixTimestamp64Milli({at:Int64}, 'UTC'))`,
        query_params: { db: database, version: m.version, name: m.name, checksum: m.checksum, at: now() },
      }),
    )
    applied.push(m.file)
    opts.logger?.info({ database, file: m.file, statements: m.statements.length }, 'applied migration')
  }
  return { applied, skipped }
}
