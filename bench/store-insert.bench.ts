/**
 * What an insert into `transactions` costs on the embedded engine, by part size: the duplicate look-up,
 * the insert itself (with the merchant_daily view), per row and per part. The ingest stage's part size
 * (INGEST_MAX_BATCH) and the sink design follow from these figures; ratios within one run are what to
 * compare on a shared machine.
 *
 *   node bench/store-insert.bench.ts            (BENCH_SIZES=1000,5000,20000,50000 BENCH_ROUNDS=5)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TrafficSimulator } from '../simulator/generator.ts'
import { openStore } from '../store/client.ts'
import { planTransactions } from '../store/transactions.ts'

const SIZES = (process.env.BENCH_SIZES ?? '1000,5000,20000,50000').split(',').map(Number)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN

const dir = mkdtempSync(join(tmpdir(), 'bench-insert-'))
const store = await openStore({ database: 'bench', chdbPath: join(dir, 'chdb') })
try {
  const sim = new TrafficSimulator({ seed: 7, merchants: 2_000, runId: 'ins' })
  let t = Date.parse('2026-11-01T00:00:00Z')
  let offset = 0
  const next = (n: number) =>
    Array.from({ length: n }, () => {
      t += 50
      return { txn: sim.next(t), topic: 'pos.transactions', partition: 0, offset: String(offset++) }
    })
  // Warm the table so look-ups have something to search.
  await (
    await planTransactions(store, next(100_000), { timeZoneOf: () => '+08:00', now: Date.now() })
  ).apply()
  console.log('| Part size | Look-up median | Insert median | Insert µs/row | Total µs/row |')
  console.log('|---|---|---|---|---|')
  for (const size of SIZES) {
    const lookups: number[] = []
    const inserts: number[] = []
    for (let r = 0; r < ROUNDS; r++) {
      const rows = next(size)
      const a = performance.now()
      const planned = await planTransactions(store, rows, { timeZoneOf: () => '+08:00', now: Date.now() })
      const b = performance.now()
      await planned.apply()
      const c = performance.now()
      lookups.push(b - a)
      inserts.push(c - b)
    }
    const l = median(lookups)
    const i = median(inserts)
    console.log(
      `| ${size.toLocaleString('en-US')} | ${l.toFixed(0)} ms | ${i.toFixed(0)} ms | ${((i * 1000) / size).toFixed(1)} | ${(((l + i) * 1000) / size).toFixed(1)} |`,
    )
  }
} finally {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
}
