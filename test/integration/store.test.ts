import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { insertRows as insertApiRows } from '../../dashboard-api/sql.ts'
import { isRiskError, type RiskError } from '../../lib/errors.ts'
import type { MerchantEvent, TerminalTransaction } from '../../schemas/types.generated.ts'
import { chdbInsertRoutes } from '../../store/chdb.ts'
import { openStore, type Store, type StoreLogger } from '../../store/client.ts'
import { compactRow, insertOnce } from '../../store/insert-once.ts'
import { insertRows as insertJsonRows } from '../../store/json-rows.ts'
import {
  insertMerchantEvents,
  MERCHANT_EVENT_COLUMNS,
  type MerchantEventInput,
  merchantEventRow,
} from '../../store/merchant-events.ts'
import { loadMigrations, MIGRATIONS_DIR, migrate } from '../../store/migrate.ts'
import {
  insertTransactions,
  TRANSACTION_COLUMNS,
  TRANSACTION_LOOKUP_SQL,
  type TransactionInput,
  transactionRow,
} from '../../store/transactions.ts'
import { sampleTxn } from '../helpers/events.ts'

// Real chDB, no mocks. chDB binds one data directory per process, so every test opens its own
// directory and closes its store before the next test opens another.

const scratch = mkdtempSync(join(tmpdir(), 'store-test-'))
let counter = 0
const freshDir = () => join(scratch, `chdb-${++counter}`)
const open: Store[] = []

afterEach(async () => {
  for (const s of open.splice(0)) await s.close()
})
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

interface LogLine {
  readonly obj: Record<string, unknown>
  readonly msg: string
}
function captureLogger(): StoreLogger & { lines: LogLine[] } {
  const lines: LogLine[] = []
  return {
    lines,
    info: (obj, msg) => lines.push({ obj, msg }),
    warn: (obj, msg) => lines.push({ obj, msg }),
  }
}

async function openAt(
  chdbPath: string,
  extra: { database?: string; migrationsDir?: string; logger?: StoreLogger; chdbThreadNice?: number } = {},
): Promise<Store> {
  const store = await openStore({ database: extra.database ?? 'risk_test', chdbPath, ...extra })
  open.push(store)
  return store
}

async function rows<T>(store: Store, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await store.client.query({
    query,
    query_params: { db: store.database, ...params },
    format: 'JSONEachRow',
  })
  return rs.json<T>()
}

const UTC8 = { timeZoneOf: () => '+08:00', now: Date.parse('2024-03-12T00:00:00Z') }

function txn(overrides: Partial<TerminalTransaction> = {}): TerminalTransaction {
  return sampleTxn({
    txn_id: 'txn-1',
    event_time: Date.parse('2024-03-10T02:00:00Z'),
    acquirer_id: 'acq-cn',
    merchant_id: 'm-1',
    terminal_id: 'term-1',
    card_token: 'card-1',
    amount_minor: 12_345,
    mcc: '5411',
    latitude: 31.23,
    longitude: 121.47,
    ...overrides,
  })
}

let nextOffset = 100
function at(t: TerminalTransaction, offset = nextOffset++): TransactionInput {
  return { txn: t, topic: 'pos.transactions', partition: 3, offset: String(offset) }
}

function event(overrides: Partial<MerchantEvent> & Pick<MerchantEvent, 'event_id' | 'kind'>): MerchantEvent {
  return {
    event_time: Date.parse('2024-01-01T00:00:00Z'),
    acquirer_id: 'acq-cn',
    merchant_id: 'm-1',
    terminal_id: null,
    registered_mcc: null,
    merchant_name: null,
    latitude: null,
    longitude: null,
    settlement_account_token: null,
    ...overrides,
  }
}
function evAt(e: MerchantEvent, offset = nextOffset++): MerchantEventInput {
  return { event: e, topic: 'pos.merchant-events', partition: 0, offset: String(offset) }
}

async function rejection(p: Promise<unknown>): Promise<RiskError> {
  try {
    await p
  } catch (e) {
    if (isRiskError(e)) return e
    throw e
  }
  throw new Error('expected a rejection')
}

/** Every thread of this process: its name and nice value (field 19 of /proc's stat). */
function threads(): { tid: number; name: string; nice: number }[] {
  const out: { tid: number; name: string; nice: number }[] = []
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trimEnd()
      out.push({ tid: Number(tid), name, nice: Number(fields[16]) })
    } catch {
      // ended while listed
    }
  }
  return out
}

describe('openStore and migrations', () => {
  it.runIf(process.platform === 'linux')(
    "runs the embedded engine's background threads at the configured nice value, and its inserts and Node at the process's",
    async () => {
      const log = captureLogger()
      const store = await openAt(freshDir(), { logger: log, chdbThreadNice: 7 })
      await insertTransactions(store, [at(txn({ txn_id: 'nice-1' }))], UTC8)
      // The periodic scan (every second) catches the threads started since the store opened.
      await new Promise((r) => setTimeout(r, 1_500))
      const all = threads()
      const base = all.find((t) => t.tid === process.pid)?.nice
      expect(base).toBeDefined()
      expect(base).toBeLessThan(7)
      const node = all.filter((t) => t.tid === process.pid || ['libuv-worker', 'V8Worker'].includes(t.name))
      expect(node.length).toBeGreaterThan(1)
      for (const t of node) expect(t, t.name).toMatchObject({ nice: base })
      const background = all.filter((t) => /^(BgSchPool|BgStrmSchPool|MergeMutate|Move|Fetch)$/.test(t.name))
      expect(background.length).toBeGreaterThan(3)
      for (const t of background) expect(t, t.name).toMatchObject({ nice: 7 })
      const line = log.lines.find(
        (l) => l.msg === 'embedded store background threads run at a lower priority',
      )
      expect(line?.obj).toMatchObject({ nice: 7 })
      expect(line?.obj.threads).toBeGreaterThan(0)
    },
  )

  it('applies the migrations once, records them, and skips them on reopen', async () => {
    const path = freshDir()
    const log1 = captureLogger()
    const first = await openAt(path, { logger: log1 })
    expect(log1.lines.map((l) => l.msg)).toContain('applied migration')
    const files = loadMigrations().map((m) => m.file)
    expect(files[0]).toBe('0001_initial.sql')
    expect(log1.lines.find((l) => l.msg === 'ClickHouse migrations up to date')?.obj.applied).toEqual(files)

    const recorded = await rows<{ version: number; name: string; checksum: string }>(
      first,
      'SELECT version, name, checksum FROM {db:Identifier}.schema_migrations ORDER BY version',
    )
    expect(recorded).toHaveLength(files.length)
    expect(recorded[0]).toMatchObject({ version: 1, name: 'initial' })
    expect(recorded[0]?.checksum).toMatch(/^[0-9a-f]{64}$/)

    const tables = await rows<{ name: string }>(
      first,
      'SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name',
    )
    expect(tables.map((t) => t.name)).toEqual([
      'acquirers',
      'alerts',
      'api_keys',
      'audit_log',
      'case_notes',
      'cases',
      'merchant_daily',
      'merchant_daily_mv',
      'merchant_daily_v',
      'merchant_events',
      'merchant_names',
      'merchant_names_mv',
      'merchant_profile',
      'merchant_profile_mv',
      'merchant_profile_v',
      'merchant_scores',
      'rule_hits',
      'schema_migrations',
      'score_history',
      'terminal_bindings',
      'terminal_bindings_mv',
      'terminal_bindings_v',
      'transactions',
      'whitelist_entries',
    ])
    // Running again on the open store is a no-op.
    expect(await migrate(first.client, first.database)).toEqual({ applied: [], skipped: files })
    await first.close()

    const log2 = captureLogger()
    const second = await openAt(path, { logger: log2 })
    expect(log2.lines.map((l) => l.msg)).not.toContain('applied migration')
    expect(log2.lines.find((l) => l.msg === 'ClickHouse migrations up to date')?.obj.applied).toEqual([])
    expect(await rows(second, 'SELECT version FROM {db:Identifier}.schema_migrations')).toHaveLength(
      files.length,
    )
  })

  it('stops with RISK_ERR_MIGRATION naming the file when an applied migration was edited', async () => {
    const path = freshDir()
    const dir = mkdtempSync(join(scratch, 'migrations-'))
    cpSync(MIGRATIONS_DIR, dir, { recursive: true })
    const store = await openAt(path, { migrationsDir: dir })
    await store.close()

    const file = join(dir, '0001_initial.sql')
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n-- an innocent-looking edit\n`)
    const err = await rejection(openAt(path, { migrationsDir: dir }))
    expect(err.code).toBe('RISK_ERR_MIGRATION')
    expect(err.retriable).toBe(false)
    expect(err.message).toContain('0001_initial.sql')
    expect(err.context.file).toBe('0001_initial.sql')

    // The failed start released the data directory: the untouched files open it again.
    const again = await openAt(path)
    expect((await again.ping()).success).toBe(true)
  })

  it('applies a new migration once, and names the file of a failing one', async () => {
    const path = freshDir()
    const dir = mkdtempSync(join(scratch, 'migrations-'))
    cpSync(MIGRATIONS_DIR, dir, { recursive: true })
    await (await openAt(path, { migrationsDir: dir })).close()

    writeFileSync(
      join(dir, '0900_notes.sql'),
      [
        '-- a comment line ending in a semicolon is not a terminator;',
        'CREATE TABLE IF NOT EXISTS notes (id String) ENGINE = MergeTree ORDER BY id;',
        '',
        "INSERT INTO notes VALUES ('a;b')",
        ';',
      ].join('\n'),
    )
    const log = captureLogger()
    const store = await openAt(path, { migrationsDir: dir, logger: log })
    expect(log.lines.find((l) => l.msg === 'ClickHouse migrations up to date')?.obj.applied).toEqual([
      '0900_notes.sql',
    ])
    expect(await rows(store, 'SELECT id FROM {db:Identifier}.notes')).toEqual([{ id: 'a;b' }])
    await store.close()

    writeFileSync(
      join(dir, '0901_broken.sql'),
      'CREATE TABLE IF NOT EXISTS broken (id String) ENGINE = NoSuchEngine;\n',
    )
    const err = await rejection(openAt(path, { migrationsDir: dir }))
    expect(err.code).toBe('RISK_ERR_MIGRATION')
    expect(err.message).toContain('0901_broken.sql')
  })

  it('refuses a database name that is not a plain identifier', async () => {
    const err = await rejection(openAt(freshDir(), { database: 'risk; DROP DATABASE default' }))
    expect(err.code).toBe('RISK_ERR_CONFIG')
  })

  it('pings, closes idempotently, and refuses per-query clickhouse_settings on chDB', async () => {
    const store = await openAt(freshDir())
    expect(store.backend).toBe('chdb')
    expect(await store.ping()).toEqual({ success: true })
    // chDB would run them as SET and keep them for every later query.
    await expect(
      store.client.query({ query: 'SELECT 1', clickhouse_settings: { max_threads: 1 } }),
    ).rejects.toThrow(/SETTINGS clause/)
    await store.close()
    await store.close()
    expect((await store.ping()).success).toBe(false)
  })

  it("hands every writer's rows to chDB's raw insert, none to its exec", async () => {
    const store = await openAt(freshDir())
    const before = chdbInsertRoutes()
    await insertTransactions(store, [at(txn({ txn_id: 'route-1' }))], UTC8)
    await insertMerchantEvents(store, [evAt(event({ event_id: 'route-ev', kind: 'ONBOARDED' }))], UTC8)
    await insertJsonRows(store, 'case_notes', [{}])
    await insertApiRows(store, 'audit_log', [{}])
    const after = chdbInsertRoutes()
    expect(after.exec - before.exec).toBe(0)
    expect(after.raw - before.raw).toBe(4)
    expect(await rows(store, 'SELECT txn_id FROM {db:Identifier}.transactions')).toEqual([
      { txn_id: 'route-1' },
    ])
    expect(await rows(store, 'SELECT count() AS n FROM {db:Identifier}.case_notes')).toEqual([{ n: 1 }])
    expect(await rows(store, 'SELECT count() AS n FROM {db:Identifier}.audit_log')).toEqual([{ n: 1 }])
  })

  it('keeps data across close and reopen of the same directory', async () => {
    const path = freshDir()
    const first = await openAt(path)
    await insertTransactions(first, [at(txn({ txn_id: 'kept-1' })), at(txn({ txn_id: 'kept-2' }))], UTC8)
    await insertMerchantEvents(
      first,
      [evAt(event({ event_id: 'ev-1', kind: 'ONBOARDED', merchant_name: 'Shop' }))],
      UTC8,
    )
    await first.close()

    const second = await openAt(path)
    expect(
      await rows(second, 'SELECT txn_id FROM {db:Identifier}.transactions FINAL ORDER BY txn_id'),
    ).toEqual([{ txn_id: 'kept-1' }, { txn_id: 'kept-2' }])
    expect(
      await rows<Record<string, unknown>>(second, 'SELECT attempts FROM {db:Identifier}.merchant_daily_v'),
    ).toEqual([{ attempts: 2 }])
    // The duplicate check sees what the previous run stored.
    expect(await insertTransactions(second, [at(txn({ txn_id: 'kept-1' }))], UTC8)).toMatchObject({
      inserted: 0,
      duplicates: 1,
    })
    expect(await rows(second, 'SELECT merchant_name FROM {db:Identifier}.merchant_profile_v')).toEqual([
      { merchant_name: 'Shop' },
    ])
  })
})

describe('insertTransactions', () => {
  it('stores every field with the derived columns', async () => {
    const store = await openAt(freshDir())
    const batch = [
      // UTC+8: 15:59:59.999Z is 23:59:59.999 on the 10th, 16:00Z is midnight of the 11th.
      txn({ txn_id: 'before-midnight', event_time: Date.parse('2024-03-10T15:59:59.999Z') }),
      txn({ txn_id: 'at-midnight', event_time: Date.parse('2024-03-10T16:00:00.000Z') }),
      txn({ txn_id: 'cny-round', amount_minor: 500_000, card_bin: null, latitude: null, longitude: null }),
      txn({ txn_id: 'cny-cents', amount_minor: 100_050 }),
      txn({ txn_id: 'cny-small-multiple', amount_minor: 1_000 }),
      txn({ txn_id: 'jpy-round', currency: 'JPY', amount_minor: 30_000 }),
      txn({ txn_id: 'jpy-odd', currency: 'JPY', amount_minor: 1_234 }),
      txn({ txn_id: 'declined', response_code: '51' }),
      txn({ txn_id: 'refund', txn_type: 'REFUND' }),
      txn({ txn_id: 'completion', txn_type: 'PREAUTH_COMPLETION' }),
      txn({ txn_id: 'preauth', txn_type: 'PREAUTH' }),
    ]
    expect(
      await insertTransactions(
        store,
        batch.map((t, i) => at(t, 1_000 + i)),
        UTC8,
      ),
    ).toMatchObject({
      inserted: batch.length,
      duplicates: 0,
    })
    // Rows are written as values in this order: a field it left out would be stored as its default.
    expect([...TRANSACTION_COLUMNS].sort()).toEqual(
      Object.keys(transactionRow(at(txn({}), 0), '+08:00', 0)).sort(),
    )
    const stored = await rows<Record<string, unknown>>(
      store,
      `SELECT txn_id, toString(local_date) AS local_date, local_hour, is_approved, is_sale, is_round_thousand,
              is_whole_unit
       FROM {db:Identifier}.transactions FINAL ORDER BY txn_id`,
    )
    const byId = new Map(stored.map((r) => [r.txn_id, r]))
    const flags = (approved: boolean, sale: boolean, round: boolean, whole: boolean) => ({
      is_approved: approved,
      is_sale: sale,
      is_round_thousand: round,
      is_whole_unit: whole,
    })
    expect(byId.get('before-midnight')).toMatchObject({ local_date: '2024-03-10', local_hour: 23 })
    expect(byId.get('at-midnight')).toMatchObject({ local_date: '2024-03-11', local_hour: 0 })
    expect(byId.get('cny-round')).toMatchObject({
      local_date: '2024-03-10',
      local_hour: 10,
      ...flags(true, true, true, true),
    })
    expect(byId.get('cny-cents')).toMatchObject(flags(true, true, false, false))
    expect(byId.get('cny-small-multiple')).toMatchObject(flags(true, true, false, true))
    expect(byId.get('jpy-round')).toMatchObject(flags(true, true, true, true))
    expect(byId.get('jpy-odd')).toMatchObject(flags(true, true, false, true))
    expect(byId.get('declined')).toMatchObject(flags(false, true, false, false))
    expect(byId.get('refund')).toMatchObject({ is_approved: true, is_sale: false })
    expect(byId.get('completion')).toMatchObject({ is_sale: true })
    expect(byId.get('preauth')).toMatchObject({ is_sale: false })

    // Every schema field and the Kafka position round-trip.
    const [full] = await rows<Record<string, unknown>>(
      store,
      `SELECT * EXCEPT (local_date, local_hour, is_approved, is_sale, is_round_thousand, is_whole_unit)
       FROM {db:Identifier}.transactions FINAL WHERE txn_id = 'cny-round'`,
    )
    expect(full).toEqual({
      acquirer_id: 'acq-cn',
      merchant_id: 'm-1',
      txn_id: 'cny-round',
      event_time: '2024-03-10 02:00:00.000',
      terminal_id: 'term-1',
      card_token: 'card-1',
      card_bin: null,
      card_type: 'CREDIT',
      txn_type: 'PURCHASE',
      amount_minor: 500_000,
      currency: 'CNY',
      mcc: '5411',
      entry_mode: 'CHIP',
      response_code: '00',
      latitude: null,
      longitude: null,
      kafka_topic: 'pos.transactions',
      kafka_partition: 3,
      kafka_offset: 1_002,
      ingested_at: '2024-03-12 00:00:00.000',
    })
  })

  it('uses each acquirer’s own time zone', async () => {
    const store = await openAt(freshDir())
    const t = Date.parse('2024-03-10T23:30:00Z')
    await insertTransactions(
      store,
      [
        at(txn({ txn_id: 'x', acquirer_id: 'acq-cn', event_time: t })),
        at(txn({ txn_id: 'x', acquirer_id: 'acq-us', event_time: t })),
      ],
      { now: 0, timeZoneOf: (a) => (a === 'acq-us' ? 'America/New_York' : 'Asia/Shanghai') },
    )
    const got = await rows<Record<string, unknown>>(
      store,
      'SELECT acquirer_id, toString(local_date) AS d, local_hour FROM {db:Identifier}.transactions ORDER BY acquirer_id',
    )
    expect(got).toEqual([
      { acquirer_id: 'acq-cn', d: '2024-03-11', local_hour: 7 },
      { acquirer_id: 'acq-us', d: '2024-03-10', local_hour: 19 },
    ])
  })

  it('rejects an invalid time zone with RISK_ERR_CONFIG before writing anything', async () => {
    const store = await openAt(freshDir())
    const err = await rejection(
      insertTransactions(store, [at(txn())], { now: 0, timeZoneOf: () => 'Mars/Olympus' }),
    )
    expect(err.code).toBe('RISK_ERR_CONFIG')
    expect(await rows(store, 'SELECT 1 FROM {db:Identifier}.transactions')).toEqual([])
  })

  it('aggregates a merchant day in merchant_daily_v and counts every transaction exactly once', async () => {
    const store = await openAt(freshDir())
    const local = (hhmm: string) => Date.parse(`2024-03-10T${hhmm}:00+08:00`)
    const day = [
      txn({ txn_id: 't1', card_token: 'c1', amount_minor: 100_000, event_time: local('01:30') }),
      txn({
        txn_id: 't2',
        card_token: 'c2',
        card_type: 'DEBIT',
        amount_minor: 12_345,
        event_time: local('10:00'),
      }),
      txn({
        txn_id: 't3',
        card_token: 'c3',
        amount_minor: 50_000,
        response_code: '51',
        event_time: local('11:00'),
      }),
      txn({
        txn_id: 't4',
        card_token: 'c1',
        txn_type: 'REFUND',
        amount_minor: 5_000,
        event_time: local('12:00'),
      }),
      txn({
        txn_id: 't5',
        card_token: 'c1',
        card_type: 'PREPAID',
        txn_type: 'PREAUTH_COMPLETION',
        amount_minor: 200_000,
        event_time: local('04:59'),
      }),
      txn({
        txn_id: 't6',
        card_token: 'c4',
        txn_type: 'REVERSAL',
        amount_minor: 7_000,
        event_time: local('13:00'),
      }),
    ]
    const batch = day.map((t, i) => at(t, 10 + i))
    const expected = {
      acquirer_id: 'acq-cn',
      merchant_id: 'm-1',
      local_date: '2024-03-10',
      currency: 'CNY',
      attempts: 6,
      declines: 1,
      approved_sales: 3,
      approved_amount_minor: 312_345,
      refunds: 1,
      refund_amount_minor: 5_000,
      credit_sales: 1,
      credit_amount_minor: 100_000,
      debit_sales: 1,
      debit_amount_minor: 12_345,
      prepaid_sales: 1,
      prepaid_amount_minor: 200_000,
      round_thousand_sales: 2,
      round_thousand_amount_minor: 300_000,
      whole_unit_sales: 2,
      night_sales: 2,
      night_amount_minor: 300_000,
      max_ticket_minor: 200_000,
      distinct_cards: 2,
    }
    const daily = async () =>
      await rows<Record<string, unknown>>(
        store,
        'SELECT * FROM {db:Identifier}.merchant_daily_v WHERE acquirer_id = {a:String}',
        { a: 'acq-cn' },
      )
    const count = async () =>
      (await rows<{ n: number }>(store, 'SELECT count() AS n FROM {db:Identifier}.transactions FINAL'))[0]?.n

    expect(await insertTransactions(store, batch, UTC8)).toMatchObject({ inserted: 6, duplicates: 0 })
    expect(await daily()).toEqual([expected])

    // The same batch again: a replay after a crash before the offsets were committed.
    expect(await insertTransactions(store, batch, UTC8)).toMatchObject({ inserted: 0, duplicates: 6 })
    // The same transaction produced again at another offset, next to a new one.
    const t7 = txn({ txn_id: 't7', card_token: 'c5', amount_minor: 1_000, event_time: local('15:00') })
    const again = await insertTransactions(store, [at(day[1] ?? txn(), 9_999), at(t7, 10_000)], UTC8)
    expect(again).toMatchObject({ inserted: 1, duplicates: 1 })
    // What the rule engine is fed: only the transaction that is new to the store.
    expect(again.insertedIds).toEqual(['t7'])
    // Duplicates inside one batch.
    const t8 = txn({ txn_id: 't8', card_token: 'c5', amount_minor: 1_000, event_time: local('16:00') })
    expect(
      await insertTransactions(store, [at(t8, 20_000), at(t8, 20_001), at(t8, 20_000)], UTC8),
    ).toMatchObject({
      inserted: 1,
      duplicates: 2,
    })

    expect(await count()).toBe(8)
    const raw = await rows(store, 'SELECT txn_id FROM {db:Identifier}.transactions')
    expect(raw).toHaveLength(8)
    expect(await daily()).toEqual([
      {
        ...expected,
        attempts: 8,
        approved_sales: 5,
        approved_amount_minor: 312_345 + 2_000,
        credit_sales: 3,
        credit_amount_minor: 102_000,
        whole_unit_sales: 4,
        distinct_cards: 3,
      },
    ])
  })

  it('keeps acquirers apart: the same merchant and txn ids under two acquirers are two transactions', async () => {
    const store = await openAt(freshDir())
    const batch = [at(txn({ acquirer_id: 'acq-a' })), at(txn({ acquirer_id: 'acq-b' }))]
    expect(await insertTransactions(store, batch, UTC8)).toMatchObject({ inserted: 2, duplicates: 0 })
    expect(await insertTransactions(store, batch, UTC8)).toMatchObject({ inserted: 0, duplicates: 2 })
    const perAcquirer = await rows<Record<string, unknown>>(
      store,
      'SELECT acquirer_id, attempts FROM {db:Identifier}.merchant_daily_v ORDER BY acquirer_id',
    )
    expect(perAcquirer).toEqual([
      { acquirer_id: 'acq-a', attempts: 1 },
      { acquirer_id: 'acq-b', attempts: 1 },
    ])
  })

  it('makes a retried identical insert a no-op in the table and in the view, even when the look-up misses it', async () => {
    // The look-up cannot see an insert still in flight; the deduplication token must catch the retry.
    const store = await openAt(freshDir())
    const blind = {
      table: 'transactions',
      lookupSql: `SELECT acquirer_id, merchant_id, txn_id AS id FROM {db:Identifier}.transactions
        WHERE 0 AND length({keys:String}) > 0 AND length({ids:String}) > 0`,
      insertSql: 'INSERT INTO {db:Identifier}.transactions',
      columns: TRANSACTION_COLUMNS,
    }
    const keyed = (ids: string[], now: number) =>
      ids.map((id, i) => {
        const row = transactionRow(at(txn({ txn_id: id }), i), '+08:00', now)
        const values = compactRow(row, TRANSACTION_COLUMNS)
        return { acquirerId: row.acquirer_id, merchantId: row.merchant_id, id, values }
      })
    expect(await insertOnce(store, blind, keyed(['r1', 'r2'], 1))).toMatchObject({
      inserted: 2,
      duplicates: 0,
    })
    // A retry: ingested_at differs, so only the token can make it a duplicate.
    await insertOnce(store, blind, keyed(['r1', 'r2'], 2))
    // Different rows that aggregate to the very same view row must still count.
    await insertOnce(store, blind, keyed(['r3', 'r4'], 1))
    expect(await rows(store, 'SELECT txn_id FROM {db:Identifier}.transactions ORDER BY txn_id')).toEqual([
      { txn_id: 'r1' },
      { txn_id: 'r2' },
      { txn_id: 'r3' },
      { txn_id: 'r4' },
    ])
    expect(
      await rows<Record<string, unknown>>(store, 'SELECT attempts FROM {db:Identifier}.merchant_daily_v'),
    ).toEqual([{ attempts: 4 }])
  })

  it('repairs merchant_daily when a replayed batch finds rows its view never counted (killed between the two)', async () => {
    const local = (day: number, hour: number) =>
      Date.parse(`2024-03-${String(day).padStart(2, '0')}T${String(hour).padStart(2, '0')}:17:00+08:00`)
    const types = ['PURCHASE', 'PURCHASE', 'REFUND', 'PREAUTH_COMPLETION', 'REVERSAL'] as const
    const cards = ['CREDIT', 'DEBIT', 'PREPAID'] as const
    const all = Array.from({ length: 48 }, (_, i) =>
      at(
        txn({
          txn_id: `k-${i}`,
          merchant_id: `m-${i % 3}`,
          card_token: `card-${i % 7}`,
          card_type: cards[i % 3],
          txn_type: types[i % 5],
          response_code: i % 11 === 0 ? '51' : '00',
          currency: i % 8 === 0 ? 'USD' : 'CNY',
          amount_minor: i % 4 === 0 ? 100_000 * (1 + (i % 3)) : 1_234 + 977 * i,
          event_time: local(10 + (i % 2), (i * 5) % 24),
        }),
        i,
      ),
    )
    const viewRows = (store: Store) =>
      rows<Record<string, unknown>>(
        store,
        `SELECT * FROM {db:Identifier}.merchant_daily_v ORDER BY merchant_id, local_date, currency`,
      )

    // The yardstick: the same events written without interruption.
    const ref = await openAt(freshDir())
    await insertTransactions(ref, all.slice(0, 20), UTC8)
    await insertTransactions(ref, all.slice(20), UTC8)
    const expected = await viewRows(ref)
    await ref.close()

    const store = await openAt(freshDir())
    await insertTransactions(store, all.slice(0, 12), UTC8)
    // Rows 12..29 reach the table but not the view, as when the process dies between the two parts.
    await store.client.command({
      query: 'DETACH TABLE {db:Identifier}.merchant_daily_mv',
      query_params: { db: store.database },
    })
    await insertTransactions(store, all.slice(12, 30), UTC8)
    await store.client.command({
      query: 'ATTACH TABLE {db:Identifier}.merchant_daily_mv',
      query_params: { db: store.database },
    })
    const [partial] = await rows<{ attempts: number }>(
      store,
      'SELECT sum(attempts) AS attempts FROM {db:Identifier}.merchant_daily_v',
    )
    expect(Number(partial?.attempts)).toBe(12)

    // The uncommitted batch comes back, with later events after it.
    expect(await insertTransactions(store, all.slice(12, 40), UTC8)).toMatchObject({
      inserted: 10,
      duplicates: 18,
    })
    await insertTransactions(store, all.slice(40), UTC8)
    expect(await viewRows(store)).toEqual(expected)
    // Replaying everything again, or an event produced twice, changes nothing.
    expect(await insertTransactions(store, all, UTC8)).toMatchObject({ inserted: 0, duplicates: 48 })
    expect(
      await insertTransactions(store, [at(all[3]?.txn as TerminalTransaction, 999)], UTC8),
    ).toMatchObject({
      inserted: 0,
    })
    expect(await viewRows(store)).toEqual(expected)
  })

  it('looks up duplicates in chunks when a batch is larger than one look-up', async () => {
    const store = await openAt(freshDir())
    // Over 10,000 keys: more than one look-up query, whose limit is 10,000 keys.
    const batch = Array.from({ length: 25_000 }, (_, i) =>
      at(txn({ txn_id: `bulk-${i}`, merchant_id: `m-${i % 7}`, card_token: `card-${i}` }), i),
    )
    expect(await insertTransactions(store, batch.slice(0, 12_000), UTC8)).toMatchObject({
      inserted: 12_000,
      duplicates: 0,
    })
    expect(await insertTransactions(store, batch, UTC8)).toMatchObject({
      inserted: 13_000,
      duplicates: 12_000,
    })
    const [sum] = await rows<Record<string, unknown>>(
      store,
      'SELECT sum(attempts) AS attempts, sum(distinct_cards) AS cards FROM {db:Identifier}.merchant_daily_v',
    )
    expect(sum).toEqual({ attempts: 25_000, cards: 25_000 })
  })

  it('finds the stored copies of a batch that spans months, each in its own partition', async () => {
    const store = await openAt(freshDir())
    // Across a year's end, and the same merchant in each month: the look-up searches the batch's
    // partitions (UTC months), so it must search every one of them.
    const times = ['2024-12-31T23:59:59.999Z', '2025-01-01T00:00:00.000Z', '2025-03-15T12:00:00.000Z']
    const stored = times.map((t, i) => at(txn({ txn_id: `span-${i}`, event_time: Date.parse(t) })))
    expect(await insertTransactions(store, stored, UTC8)).toMatchObject({ inserted: 3 })
    const partitions = await rows<{ partition: string }>(
      store,
      `SELECT DISTINCT partition FROM system.parts
       WHERE database = {db:String} AND table = 'transactions' AND active ORDER BY partition`,
    )
    expect(partitions.map((p) => p.partition)).toEqual(['202412', '202501', '202503'])
    // Replayed with a new event in a fourth month: the three are found, the new one is stored.
    const replay = [...stored, at(txn({ txn_id: 'span-3', event_time: Date.parse('2025-02-01T00:00:00Z') }))]
    expect(await insertTransactions(store, replay, UTC8)).toMatchObject({
      inserted: 1,
      duplicates: 3,
      insertedIds: ['span-3'],
    })
    const count = async () =>
      Number(
        (await rows<{ n: string }>(store, 'SELECT count() AS n FROM {db:Identifier}.transactions'))[0]?.n,
      )
    expect(await count()).toBe(4)
    // A row without its partition would be searched for nowhere: refused, not stored again.
    const row = transactionRow(stored[0] as TransactionInput, '+08:00', 1)
    const spec = {
      table: 'transactions',
      lookupSql: TRANSACTION_LOOKUP_SQL,
      insertSql: 'INSERT INTO {db:Identifier}.transactions',
      columns: TRANSACTION_COLUMNS,
    }
    const unplaced = { acquirerId: row.acquirer_id, merchantId: row.merchant_id, id: row.txn_id }
    await expect(
      insertOnce(store, spec, [{ ...unplaced, values: compactRow(row, TRANSACTION_COLUMNS) }]),
    ).rejects.toThrow('a row of transactions has no partition')
    expect(await count()).toBe(4)
  })

  it('round-trips hostile strings as data', async () => {
    const store = await openAt(freshDir())
    const hostile = [
      "it's",
      "'; DROP TABLE transactions; --",
      '"); DROP DATABASE risk_test; --',
      '{db:Identifier}',
      '{ids:Array(String)}',
      'back\\slash \\N \\t',
      'line\nbreak\ttab\r',
      'ünïcødé 商户 🚀 \u202Eevil',
      '\u0000nul',
      ' ',
    ]
    const batch = hostile.map((s, i) =>
      at(
        txn({
          txn_id: s,
          merchant_id: s,
          terminal_id: s,
          card_token: s,
          card_bin: s,
          mcc: s,
          response_code: s,
        }),
        i,
      ),
    )
    expect(await insertTransactions(store, batch, UTC8)).toMatchObject({
      inserted: hostile.length,
      duplicates: 0,
    })
    expect(await insertTransactions(store, batch, UTC8)).toMatchObject({
      inserted: 0,
      duplicates: hostile.length,
    })
    const got = await rows<{
      txn_id: string
      merchant_id: string
      card_token: string
      card_bin: string
      response_code: string
    }>(
      store,
      'SELECT txn_id, merchant_id, card_token, card_bin, response_code FROM {db:Identifier}.transactions FINAL',
    )
    expect(got.map((r) => r.txn_id).sort()).toEqual([...hostile].sort())
    for (const r of got) {
      expect([r.merchant_id, r.card_token, r.card_bin, r.response_code]).toEqual([
        r.txn_id,
        r.txn_id,
        r.txn_id,
        r.txn_id,
      ])
    }
    // Parameters carry them back in as data too.
    const found = await rows(
      store,
      'SELECT txn_id FROM {db:Identifier}.transactions WHERE merchant_id IN {ids:Array(String)}',
      {
        ids: hostile,
      },
    )
    expect(found).toHaveLength(hostile.length)

    await insertMerchantEvents(
      store,
      hostile.map((s, i) =>
        evAt(event({ event_id: `e${i}`, merchant_id: s, kind: 'ONBOARDED', merchant_name: s })),
      ),
      UTC8,
    )
    const names = await rows<{ merchant_id: string; merchant_name: string }>(
      store,
      'SELECT merchant_id, merchant_name FROM {db:Identifier}.merchant_profile_v',
    )
    expect(names).toHaveLength(hostile.length)
    for (const n of names) expect(n.merchant_name).toBe(n.merchant_id)
    expect(
      (await rows(store, 'SELECT name FROM system.tables WHERE database = {db:String}')).length,
    ).toBeGreaterThan(10)
  })
})

describe('insertMerchantEvents', () => {
  const t = (iso: string) => Date.parse(iso)
  // Listed in event-time order; inserted shuffled, across several batches.
  const history = [
    event({
      event_id: 'e1',
      kind: 'ONBOARDED',
      event_time: t('2024-01-01T00:00:00Z'),
      registered_mcc: '5411',
      merchant_name: 'Corner Shop',
      latitude: 31.2,
      longitude: 121.5,
      settlement_account_token: 'acct-A',
    }),
    event({
      event_id: 'e2',
      kind: 'TERMINAL_BOUND',
      terminal_id: 'T1',
      event_time: t('2024-01-02T00:00:00Z'),
    }),
    event({
      event_id: 'e3',
      kind: 'SETTLEMENT_ACCOUNT_CHANGED',
      settlement_account_token: 'acct-B',
      event_time: t('2024-02-01T00:00:00Z'),
    }),
    event({
      event_id: 'e4',
      kind: 'MCC_CHANGED',
      registered_mcc: '5311',
      event_time: t('2024-02-15T00:00:00Z'),
    }),
    event({
      event_id: 'e5',
      kind: 'ADDRESS_CHANGED',
      latitude: 39.9,
      longitude: 116.4,
      event_time: t('2024-03-01T00:00:00Z'),
    }),
    // Only one coordinate: not a usable location.
    event({ event_id: 'e6', kind: 'ADDRESS_CHANGED', latitude: 0, event_time: t('2024-03-05T00:00:00Z') }),
    event({
      event_id: 'e7',
      kind: 'TERMINAL_UNBOUND',
      terminal_id: 'T1',
      event_time: t('2024-03-10T00:00:00Z'),
    }),
    event({
      event_id: 'e8',
      kind: 'TERMINAL_BOUND',
      terminal_id: 'T2',
      event_time: t('2024-03-11T00:00:00Z'),
    }),
    event({
      event_id: 'e9',
      kind: 'SETTLEMENT_ACCOUNT_CHANGED',
      settlement_account_token: 'acct-C',
      event_time: t('2024-03-20T00:00:00Z'),
    }),
    // The same terminal bound to another merchant too: terminal sharing.
    event({
      event_id: 'x1',
      merchant_id: 'm-2',
      kind: 'TERMINAL_BOUND',
      terminal_id: 'T2',
      event_time: t('2024-03-12T00:00:00Z'),
    }),
  ]

  it('builds the latest profile and terminal bindings whatever order the events arrive in', async () => {
    const store = await openAt(freshDir())
    const byId = new Map(history.map((e) => [e.event_id, e]))
    const pick = (...ids: string[]) =>
      ids.map((id) => evAt(byId.get(id) ?? event({ event_id: id, kind: 'CLOSED' })))
    expect(await insertMerchantEvents(store, pick('e9', 'e5', 'e7'), UTC8)).toMatchObject({
      inserted: 3,
      duplicates: 0,
    })
    await insertMerchantEvents(store, pick('e1', 'e8', 'e6'), UTC8)
    await insertMerchantEvents(store, pick('x1', 'e4', 'e2', 'e3'), UTC8)
    // Replays, including the settlement changes, must not be counted twice.
    expect(await insertMerchantEvents(store, pick('e3', 'e9', 'e1'), UTC8)).toMatchObject({
      inserted: 0,
      duplicates: 3,
    })

    const profile = await rows<Record<string, unknown>>(
      store,
      'SELECT * FROM {db:Identifier}.merchant_profile_v WHERE acquirer_id = {a:String} AND merchant_id = {m:String}',
      { a: 'acq-cn', m: 'm-1' },
    )
    expect(profile).toEqual([
      {
        acquirer_id: 'acq-cn',
        merchant_id: 'm-1',
        registered_mcc: '5311',
        merchant_name: 'Corner Shop',
        latitude: 39.9,
        longitude: 116.4,
        settlement_account_token: 'acct-C',
        onboarded_at: '2024-01-01 00:00:00.000',
        closed_at: null,
        settlement_account_changes: 2,
        last_event_at: '2024-03-20 00:00:00.000',
      },
    ])

    const bindings = await rows<Record<string, unknown>>(
      store,
      'SELECT terminal_id, merchant_id, bound, changed_at FROM {db:Identifier}.terminal_bindings_v ORDER BY terminal_id, merchant_id',
    )
    expect(bindings).toEqual([
      { terminal_id: 'T1', merchant_id: 'm-1', bound: false, changed_at: '2024-03-10 00:00:00.000' },
      { terminal_id: 'T2', merchant_id: 'm-1', bound: true, changed_at: '2024-03-11 00:00:00.000' },
      { terminal_id: 'T2', merchant_id: 'm-2', bound: true, changed_at: '2024-03-12 00:00:00.000' },
    ])

    // A closure, then a late event from before it: closed_at stays, the profile keeps its values.
    await insertMerchantEvents(
      store,
      [
        evAt(event({ event_id: 'e10', kind: 'CLOSED', event_time: t('2024-04-01T00:00:00Z') })),
        evAt(
          event({
            event_id: 'e0',
            kind: 'MCC_CHANGED',
            registered_mcc: '6011',
            event_time: t('2023-12-01T00:00:00Z'),
          }),
        ),
      ],
      UTC8,
    )
    const [closed] = await rows<Record<string, unknown>>(
      store,
      "SELECT registered_mcc, closed_at, last_event_at FROM {db:Identifier}.merchant_profile_v WHERE merchant_id = 'm-1'",
    )
    expect(closed).toEqual({
      registered_mcc: '5311',
      closed_at: '2024-04-01 00:00:00.000',
      last_event_at: '2024-04-01 00:00:00.000',
    })
    const stored = await rows(store, 'SELECT event_id FROM {db:Identifier}.merchant_events FINAL')
    expect(stored).toHaveLength(history.length + 2)
  })

  it('repairs the profile and the bindings when a replayed batch finds events their views never counted', async () => {
    const views = async (store: Store) => ({
      profiles: await rows(store, 'SELECT * FROM {db:Identifier}.merchant_profile_v ORDER BY merchant_id'),
      bindings: await rows(
        store,
        'SELECT * FROM {db:Identifier}.terminal_bindings_v ORDER BY terminal_id, merchant_id',
      ),
    })
    const inputs = history.map((e, i) => evAt(e, i))
    const ref = await openAt(freshDir())
    await insertMerchantEvents(ref, inputs, UTC8)
    const expected = await views(ref)
    await ref.close()

    const store = await openAt(freshDir())
    await insertMerchantEvents(store, inputs.slice(0, 2), UTC8)
    const detach = async (verb: 'DETACH' | 'ATTACH') => {
      for (const view of ['merchant_profile_mv', 'terminal_bindings_mv'])
        await store.client.command({
          query: `${verb} TABLE {db:Identifier}.${view}`,
          query_params: { db: store.database },
        })
    }
    // e3 (a settlement change), e4..e8 and x1 reach the table, not the views.
    await detach('DETACH')
    await insertMerchantEvents(store, inputs.slice(2, 8), UTC8)
    await detach('ATTACH')
    expect((await views(store)).profiles).not.toEqual(expected.profiles)

    expect(await insertMerchantEvents(store, inputs.slice(2), UTC8)).toMatchObject({
      inserted: 2,
      duplicates: 6,
    })
    expect(await views(store)).toEqual(expected)
    expect(await insertMerchantEvents(store, inputs, UTC8)).toMatchObject({ inserted: 0 })
    expect(await views(store)).toEqual(expected)
  })

  it('stores every field and the Kafka position', async () => {
    const store = await openAt(freshDir())
    const e = history[0] ?? event({ event_id: 'e1', kind: 'ONBOARDED' })
    await insertMerchantEvents(
      store,
      [{ event: e, topic: 'pos.merchant-events', partition: 5, offset: '9007199254740993' }],
      {
        timeZoneOf: () => '+08:00',
        now: Date.parse('2024-05-01T12:00:00.250Z'),
      },
    )
    expect([...MERCHANT_EVENT_COLUMNS].sort()).toEqual(
      Object.keys(merchantEventRow({ event: e, topic: 't', partition: 0, offset: '0' }, 0)).sort(),
    )
    const [row] = await rows<Record<string, unknown>>(
      store,
      'SELECT * EXCEPT (kafka_offset), toString(kafka_offset) AS kafka_offset FROM {db:Identifier}.merchant_events',
    )
    expect(row).toEqual({
      acquirer_id: 'acq-cn',
      merchant_id: 'm-1',
      event_id: 'e1',
      event_time: '2024-01-01 00:00:00.000',
      kind: 'ONBOARDED',
      terminal_id: null,
      registered_mcc: '5411',
      merchant_name: 'Corner Shop',
      latitude: 31.2,
      longitude: 121.5,
      settlement_account_token: 'acct-A',
      kafka_topic: 'pos.merchant-events',
      kafka_partition: 5,
      // Beyond 2^53: the offset string is never squeezed through a JS number.
      kafka_offset: '9007199254740993',
      ingested_at: '2024-05-01 12:00:00.250',
    })
  })

  it('reports a write failure as retriable RISK_ERR_STORE_WRITE with context', async () => {
    const store = await openAt(freshDir())
    await store.client.command({
      query: 'DROP TABLE {db:Identifier}.merchant_events SYNC',
      query_params: { db: store.database },
    })
    const err = await rejection(
      insertMerchantEvents(store, [evAt(event({ event_id: 'e1', kind: 'ONBOARDED' }))], UTC8),
    )
    expect(err.code).toBe('RISK_ERR_STORE_WRITE')
    expect(err.retriable).toBe(true)
    expect(err.context).toMatchObject({ table: 'merchant_events', database: 'risk_test', rows: 1 })
  })
})
