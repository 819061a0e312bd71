/**
 * The duplicate look-up before every insert into `transactions`, as the stored history grows over
 * months: the look-up the writer makes now (its sets as JSON texts, bounded by the batch's partitions)
 * against the one it made before (`Array(...)` parameters, every partition), on the same engine, the
 * same stored rows and the same batches, alternately. Prints the median of each at each size of the
 * history, and their ratio.
 *
 * Two populations, one after the other: 20,000 merchants of a few transactions a day (the engine
 * bench's), and 1,500 busy ones (a month of population A), whose ids a look-up must find among many
 * rows of the same merchant.
 *
 *   npm run bench:lookup
 *   BENCH_LOOKUP_AT=0,1000000,3000000,6000000 BENCH_LOOKUP_MERCHANTS=20000 node bench/lookup.bench.ts
 *
 * Rows are 2 s apart in event time, so 1,000,000 of them span 23 days and 6,000,000 about 4.6 months.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TupleParam } from '@clickhouse/client'
import { TrafficSimulator } from '../simulator/generator.ts'
import { openStore } from '../store/client.ts'
import {
  planTransactions,
  TRANSACTION_LOOKUP_SQL,
  type TransactionInput,
  utcMonth,
} from '../store/transactions.ts'

const AT = (process.env.BENCH_LOOKUP_AT ?? '0,1000000,3000000,6000000').split(',').map(Number)
const MERCHANTS = Number(process.env.BENCH_LOOKUP_MERCHANTS ?? 20_000)
const ROUNDS = Number(process.env.BENCH_LOOKUP_ROUNDS ?? 9)
// A look-up chunk (store/insert-once.ts takes at most 10,000 keys).
const CHUNK = Number(process.env.BENCH_LOOKUP_IDS ?? 6_000)
const STEP_MS = 2_000
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN

// The look-up as it was before, kept here to compare against.
const BEFORE = `SELECT acquirer_id, merchant_id, txn_id AS id
FROM {db:Identifier}.transactions
WHERE (acquirer_id, merchant_id) IN {keys:Array(Tuple(String, String))} AND txn_id IN {ids:Array(String)}`
// The look-up the writer makes now.
const NOW = TRANSACTION_LOOKUP_SQL

const dir = mkdtempSync(join(tmpdir(), 'bench-lookup-'))
const store = await openStore({ database: 'bench', chdbPath: join(dir, 'chdb') })
const opts = () => ({ timeZoneOf: () => '+08:00', now: Date.now() })
const sim = new TrafficSimulator({ seed: 7, merchants: MERCHANTS, runId: 'lookup' })
let t = Date.parse('2026-01-01T00:00:00Z')
let offset = 0
const next = (n: number): TransactionInput[] =>
  Array.from({ length: n }, () => {
    t += STEP_MS
    return { txn: sim.next(t), topic: 'pos.transactions', partition: 0, offset: String(offset++) }
  })

interface Cost {
  readonly ms: number
  /** CPU of the whole process (the engine's threads included) during the look-up. */
  readonly cpuMs: number
}

const cpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

async function lookUp(query: string, batch: readonly TransactionInput[], asJson: boolean): Promise<Cost> {
  const pairs = new Map<string, [string, string]>()
  for (const r of batch)
    pairs.set(`${r.txn.acquirer_id}\u0000${r.txn.merchant_id}`, [r.txn.acquirer_id, r.txn.merchant_id])
  const ids = batch.map((r) => r.txn.txn_id)
  const started = performance.now()
  const cpu = cpuMs()
  const params = asJson
    ? {
        db: store.database,
        keys: JSON.stringify([...pairs.values()]),
        ids: JSON.stringify(ids),
        partitions: [...new Set(batch.map((r) => String(utcMonth(r.txn.event_time))))],
      }
    : { db: store.database, keys: [...pairs.values()].map((p) => new TupleParam(p)), ids }
  const rs = await store.client.query({ query, query_params: params, format: 'JSONEachRow' })
  const found = await rs.json()
  // Every batch is new: a look-up that finds something is not measuring the common case.
  if (found.length !== 0) throw new Error(`look-up found ${found.length} rows of a new batch`)
  return { ms: performance.now() - started, cpuMs: cpuMs() - cpu }
}

try {
  console.log(
    `${MERCHANTS.toLocaleString('en-US')} merchants, look-ups of ${CHUNK.toLocaleString('en-US')} new ids, ${ROUNDS} rounds each\n`,
  )
  console.log(
    "| Stored rows | Months stored | Before (Array parameters, every partition): ms, CPU-ms | Now (JSON sets, the batch's partitions): ms, CPU-ms | Now / before: time, CPU |",
  )
  console.log('|--:|--:|--:|--:|--:|')
  let stored = 0
  for (const target of AT) {
    while (stored < target) {
      const n = Math.min(50_000, target - stored)
      await (await planTransactions(store, next(n), opts())).apply()
      stored += n
    }
    const before: Cost[] = []
    const now: Cost[] = []
    for (let r = 0; r < ROUNDS; r++) {
      const batch = next(CHUNK)
      // Alternate which goes first, so that neither always finds the other's cache warm.
      if (r % 2 === 0) {
        before.push(await lookUp(BEFORE, batch, false))
        now.push(await lookUp(NOW, batch, true))
      } else {
        now.push(await lookUp(NOW, batch, true))
        before.push(await lookUp(BEFORE, batch, false))
      }
    }
    const months = Math.ceil((stored * STEP_MS) / (30 * 86_400_000))
    const b = { ms: median(before.map((c) => c.ms)), cpu: median(before.map((c) => c.cpuMs)) }
    const n = { ms: median(now.map((c) => c.ms)), cpu: median(now.map((c) => c.cpuMs)) }
    console.log(
      `| ${stored.toLocaleString('en-US')} | ${months} | ${b.ms.toFixed(1)}, ${b.cpu.toFixed(1)} | ${n.ms.toFixed(1)}, ${n.cpu.toFixed(1)} | ${(n.ms / b.ms).toFixed(2)}, ${(n.cpu / b.cpu).toFixed(2)} |`,
    )
  }
} finally {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
}
