/**
 * What an insert into `transactions` costs on the embedded engine, by part size: the duplicate look-up,
 * the insert itself (with the merchant_daily view), per row and per part. The ingest stage's part size
 * (INGEST_MAX_BATCH) and the sink design follow from these figures; ratios within one run are what to
 * compare on a shared machine.
 *
 * With BENCH_STORE_BASELINE=<version>, a second database in the same engine gets only the migrations up
 * to that version, and every round writes the same rows to both, one after the other: the insert cost
 * of what later migrations added (indexes, projections, views) as a ratio measured side by side. Score
 * writes (merchant_scores, as the scorer writes them) and lifecycle events are measured the same way,
 * since views read from those tables too.
 *
 *   node bench/store-insert.bench.ts            (BENCH_SIZES=1000,5000,20000,50000 BENCH_ROUNDS=5)
 *   BENCH_STORE_BASELINE=5 node bench/store-insert.bench.ts
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chTime, insertRows } from '../dashboard-api/sql.ts'
import { TrafficSimulator } from '../simulator/generator.ts'
import { openStore, type Store } from '../store/client.ts'
import { planMerchantEvents } from '../store/merchant-events.ts'
import { loadMigrations, MIGRATIONS_DIR, migrate } from '../store/migrate.ts'
import { planTransactions, type TransactionInput } from '../store/transactions.ts'

const SIZES = (process.env.BENCH_SIZES ?? '1000,5000,20000,50000').split(',').map(Number)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const BASELINE =
  process.env.BENCH_STORE_BASELINE === undefined ? null : Number(process.env.BENCH_STORE_BASELINE)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN
const opts = () => ({ timeZoneOf: () => '+08:00', now: Date.now() })

const dir = mkdtempSync(join(tmpdir(), 'bench-insert-'))
const store = await openStore({ database: 'bench', chdbPath: join(dir, 'chdb') })

/** The same engine, a database with the migrations up to `version` only. */
async function baselineStore(version: number): Promise<Store> {
  const migrations = mkdtempSync(join(dir, 'migrations-'))
  for (const m of loadMigrations().filter((x) => x.version <= version)) {
    copyFileSync(join(MIGRATIONS_DIR, m.file), join(migrations, m.file))
  }
  const database = 'bench_base'
  const use = (db: string) => store.client.command({ query: 'USE {db:Identifier}', query_params: { db } })
  await store.client.command({
    query: 'CREATE DATABASE IF NOT EXISTS {db:Identifier}',
    query_params: { db: database },
  })
  // Migrations name their tables unqualified: they run in the current database.
  await use(database)
  await migrate(store.client, database, { dir: migrations })
  await use(store.database)
  return { ...store, database }
}

try {
  const targets: [string, Store][] = [['all migrations', store]]
  if (BASELINE !== null) targets.unshift([`migrations up to ${BASELINE}`, await baselineStore(BASELINE)])
  const sim = new TrafficSimulator({ seed: 7, merchants: 2_000, runId: 'ins' })
  let t = Date.parse('2026-11-01T00:00:00Z')
  let offset = 0
  const next = (n: number): TransactionInput[] =>
    Array.from({ length: n }, () => {
      t += 50
      return { txn: sim.next(t), topic: 'pos.transactions', partition: 0, offset: String(offset++) }
    })
  // Warm the tables so look-ups have something to search.
  const warm = next(100_000)
  for (const [, s] of targets) await (await planTransactions(s, warm, opts())).apply()

  const results = new Map<string, { lookup: number; insert: number }>()
  console.log('\n`transactions`')
  console.log('| Schema | Part size | Look-up median | Insert median | Insert µs/row | Total µs/row |')
  console.log('|---|---|---|---|---|---|')
  for (const size of SIZES) {
    const times = new Map(
      targets.map(([name]) => [name, { lookups: [] as number[], inserts: [] as number[] }]),
    )
    for (let r = 0; r < ROUNDS; r++) {
      const rows = next(size)
      // Alternate which schema goes first, so neither always meets the other's merges.
      for (const [name, s] of r % 2 === 0 ? targets : [...targets].reverse()) {
        const a = performance.now()
        const planned = await planTransactions(s, rows, opts())
        const b = performance.now()
        await planned.apply()
        const c = performance.now()
        times.get(name)?.lookups.push(b - a)
        times.get(name)?.inserts.push(c - b)
      }
    }
    for (const [name] of targets) {
      const l = median(times.get(name)?.lookups ?? [])
      const i = median(times.get(name)?.inserts ?? [])
      results.set(`${name}/${size}`, { lookup: l, insert: i })
      console.log(
        `| ${name} | ${size.toLocaleString('en-US')} | ${l.toFixed(0)} ms | ${i.toFixed(0)} ms | ${((i * 1000) / size).toFixed(1)} | ${(((l + i) * 1000) / size).toFixed(1)} |`,
      )
    }
  }
  if (targets.length === 2) {
    const [base, all] = targets.map(([name]) => name)
    console.log('\nTotal cost per row, all migrations ÷ baseline (look-up + insert, medians):')
    for (const size of SIZES) {
      const b = results.get(`${base}/${size}`)
      const a = results.get(`${all}/${size}`)
      if (a !== undefined && b !== undefined) {
        console.log(
          `  ${size.toLocaleString('en-US')} rows: ${((a.lookup + a.insert) / (b.lookup + b.insert)).toFixed(2)}`,
        )
      }
    }
  }

  // Score writes: one row per merchant and category, each with a breakdown the size of a few hits.
  const breakdown = JSON.stringify(
    Array.from({ length: 8 }, (_, i) => ({
      hit_id: `h-${i}`,
      rule_id: 'round_amount',
      points: 12,
      samples: ['tx-1'],
    })),
  )
  let scoredAt = Date.parse('2026-11-01T00:00:00Z')
  const scoreRows = (n: number) =>
    Array.from({ length: n }, (_, i) => {
      scoredAt += 10
      const score = (i * 37) % 100
      return {
        acquirer_id: 'acq-1',
        merchant_id: `m-${(i * 7919) % 20_000}`,
        category: i % 2 === 0 ? 'fraud' : 'compliance',
        score,
        level: score >= 85 ? 'CRITICAL' : score >= 60 ? 'HIGH' : score >= 35 ? 'MEDIUM' : 'LOW',
        breakdown,
        hit_count: 8,
        families: ['amount'],
        scored_at: chTime(scoredAt),
        written_at: chTime(Date.now()),
      }
    })
  const lifecycle = sim.lifecycle(Date.parse('2026-11-01T00:00:00Z'))
  let eventOffset = 0
  const events = (n: number) =>
    Array.from({ length: n }, (_, i) => {
      const e = lifecycle[i % lifecycle.length]
      if (e === undefined) throw new Error('the simulator made no lifecycle events')
      return {
        event: { ...e, event_id: `${e.event_id}-${eventOffset}`, event_time: e.event_time + eventOffset },
        topic: 'pos.merchant-events',
        partition: 0,
        offset: String(eventOffset++),
      }
    })
  const other: [string, (n: number) => (s: Store) => Promise<unknown>, number[]][] = [
    [
      'merchant_scores',
      (n) => {
        const rows = scoreRows(n)
        return (s) => insertRows(s, 'merchant_scores', rows)
      },
      [100, 1000],
    ],
    [
      'merchant_events',
      (n) => {
        const rows = events(n)
        return async (s) => (await planMerchantEvents(s, rows, opts())).apply()
      },
      [100, 1000],
    ],
  ]
  for (const [table, make, sizes] of other) {
    console.log(`\n\`${table}\` (events: look-up included)`)
    console.log('| Schema | Rows per insert | Median | µs/row |')
    console.log('|---|---|---|---|')
    for (const size of sizes) {
      const times = new Map(targets.map(([name]) => [name, [] as number[]]))
      for (let r = 0; r < ROUNDS * 2; r++) {
        const write = make(size)
        for (const [name, s] of r % 2 === 0 ? targets : [...targets].reverse()) {
          const a = performance.now()
          await write(s)
          times.get(name)?.push(performance.now() - a)
        }
      }
      for (const [name] of targets) {
        const m = median(times.get(name) ?? [])
        console.log(
          `| ${name} | ${size.toLocaleString('en-US')} | ${m.toFixed(1)} ms | ${((m * 1000) / size).toFixed(1)} |`,
        )
      }
    }
  }
} finally {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
}
