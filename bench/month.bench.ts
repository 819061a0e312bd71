/**
 * A simulated month through the whole service, to see whether throughput holds as history grows: a
 * population's month (simulator/population.ts; its cards shop around the city as real cards do) is
 * produced to Kafka first, the client floor is measured on that topic, then the service (npm start's
 * code, simulator off) starts on it. Every 250 ms the bench reads the committed offsets of the two
 * groups that consume the transactions (ingest, which stores them; the rules stage, which publishes
 * their hits) and prints, per group, the rate of each tenth of the month, the last tenth against the
 * first, and the time until every stage (entities, scoring, sink) has caught up. The rates move with
 * whoever else has the cores in a tenth; the rules worker's CPU per transaction in each tenth does not,
 * so it is printed too: it is what says whether the engine's cost grows with history.
 *
 * The first tenth is timed from the group's first commit, so start-up (connecting, joining the group,
 * reading the empty store) is not counted against it; the later tenths from the moment the previous
 * tenth was committed.
 *
 *   npm run bench:month
 *   BENCH_POPULATION=B BENCH_DAYS=30 BENCH_MERCHANTS=1500 npm run bench:month
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Kafka, logLevel } from 'kafkajs'
import { startService } from '../app/service.ts'
import { EventCodec } from '../kafka/codec.ts'
import { startLocalKafka } from '../kafka-local/broker.ts'
import { createLogger } from '../lib/logger.ts'
import { sleep } from '../lib/retry.ts'
import type { Metrics } from '../metrics/metrics.ts'
import { HistorySimulator } from '../simulator/history.ts'
import { type PopulationSpec, population } from '../simulator/population.ts'
import { produceEvents } from '../simulator/stream.ts'
import type { Store } from '../store/client.ts'
import { clientFloor } from './client-floor.ts'
import { benchConfig, ensureInputTopics } from './service-run.ts'
import {
  cpuByThread,
  cpuByThreadSince,
  mainThreadCpuSeconds,
  processCpuSeconds,
  threadCpuSeconds,
  threadsNamed,
} from './thread-cpu.ts'

const POPULATION = process.env.BENCH_POPULATION ?? 'A'
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 6)
const overrides: Partial<PopulationSpec> = {}
if (process.env.BENCH_DAYS !== undefined) overrides.days = Number(process.env.BENCH_DAYS)
if (process.env.BENCH_MERCHANTS !== undefined) overrides.merchants = Number(process.env.BENCH_MERCHANTS)
const spec = population(POPULATION, overrides)
const TENTHS = 10
const SAMPLE_MS = 250

/** Threads' CPU per transaction, largest first, and what threads that ended used (the rest of `total`). */
function perThread(
  threads: readonly { name: string; seconds: number; threads: number }[],
  total: number,
  transactions: number,
): string {
  const counted = threads.reduce((n, t) => n + t.seconds, 0)
  const µs = (seconds: number) => ((1e6 * seconds) / transactions).toFixed(1)
  return `${threads
    .filter((t) => t.seconds > 0)
    .map((t) => `${t.name}${t.threads > 1 ? ` ×${t.threads}` : ''} ${µs(t.seconds)}`)
    .join(', ')}; threads that ended ${µs(total - counted)}`
}

/** Seconds at which `committed` first reached each tenth of `total`, from a series of samples. */
function tenthTimes(samples: readonly { t: number; n: number }[], total: number): number[] {
  const times: number[] = []
  for (let k = 1; k <= TENTHS; k++) {
    const mark = Math.ceil((total * k) / TENTHS)
    const s = samples.find((x) => x.n >= mark)
    times.push(s === undefined ? Number.NaN : s.t)
  }
  return times
}

const dir = mkdtempSync(join(tmpdir(), 'bench-month-'))

/** What each table holds, per transaction of the month: the bytes its inserts and merges handle. */
async function tableSizes(store: Store, transactions: number): Promise<string> {
  const rs = await store.client.query({
    query: `SELECT table, sum(rows) AS rows, sum(data_uncompressed_bytes) AS bytes
            FROM system.parts WHERE database = {db:String} AND active
            GROUP BY table ORDER BY bytes DESC`,
    query_params: { db: store.database },
    format: 'JSONEachRow',
  })
  const rows = await rs.json<{ table: string; rows: string; bytes: string }>()
  return rows
    .filter((r) => Number(r.bytes) > 0)
    .map(
      (r) =>
        `${r.table} ${(Number(r.bytes) / transactions).toFixed(1)} (${Number(r.rows).toLocaleString('en-US')} rows)`,
    )
    .join(', ')
}

/** How many inserts each table took and how long they were waited for, from the service's metrics. */
async function insertsByTable(metrics: Metrics): Promise<string> {
  const byTable = new Map<string, { count: number; sum: number }>()
  for (const v of (await metrics.store.insertDuration.get()).values) {
    const table = String(v.labels.table)
    const t = byTable.get(table) ?? { count: 0, sum: 0 }
    if (v.metricName?.endsWith('_count')) t.count = v.value
    else if (v.metricName?.endsWith('_sum')) t.sum = v.value
    else continue
    byTable.set(table, t)
  }
  return [...byTable]
    .sort((x, y) => y[1].sum - x[1].sum)
    .map(([t, { count, sum }]) => `${t} ${count} ${sum.toFixed(1)}`)
    .join(', ')
}

/**
 * The bytes of each of the run's topics in the broker's log, per transaction of the month: what each
 * stage makes the broker write (and every reader fetch). Segment files only; the broker preallocates
 * its index files.
 */
function logBytes(run: string, transactions: number): string {
  const logDir = join(dir, 'kafka', 'kraft')
  const byTopic = new Map<string, number>()
  for (const entry of readdirSync(logDir)) {
    if (!entry.startsWith(`${run}.`)) continue
    const topic = entry.slice(run.length + 1).replace(/-\d+$/, '')
    for (const f of readdirSync(join(logDir, entry)))
      if (f.endsWith('.log'))
        byTopic.set(topic, (byTopic.get(topic) ?? 0) + statSync(join(logDir, entry, f)).size)
  }
  return [...byTopic]
    .sort((x, y) => y[1] - x[1])
    .map(([t, b]) => `${t} ${(b / transactions).toFixed(1)}`)
    .join(', ')
}
const local = await startLocalKafka({ dataDir: join(dir, 'kafka'), heapMb: 1024 })
try {
  const kafka = new Kafka({ clientId: 'bench-month', brokers: local.brokers, logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  const run = `month-${Date.now().toString(36)}`
  const group = `${run}-group`
  const config = benchConfig(run, {
    brokers: local.brokers,
    acquirers: spec.acquirers.map((a) => a.id),
    chdbPath: join(dir, 'chdb'),
    partitions: PARTITIONS,
    groupId: group,
    env: { API_ENABLED: 'false' },
  })
  const topics = { transactions: config.topics.transactions, merchantEvents: config.topics.merchantEvents }
  await ensureInputTopics(kafka, config, PARTITIONS)
  const codec = new EventCodec({})
  const sim = new HistorySimulator(spec)
  const p0 = performance.now()
  const produced = await produceEvents(kafka, codec, sim.events(), { topics, ratePerSecond: null })
  const sumOffsets = (rows: { offset: string }[]) =>
    rows.reduce((n, r) => n + Math.max(0, Number(r.offset)), 0)
  const ends = new Map(
    (await admin.fetchTopicOffsets(topics.transactions)).map((x) => [x.partition, Number(x.high)]),
  )
  const transactions = [...ends.values()].reduce((n, x) => n + x, 0)
  console.log(
    `population ${POPULATION}: ${produced.toLocaleString('en-US')} events (${transactions.toLocaleString('en-US')} transactions) of ${spec.merchants} merchants over ${spec.days} days, produced in ${((performance.now() - p0) / 1000).toFixed(1)} s`,
  )

  // The floor first, on the same broker and data: kafkajs and avsc alone reading the topic.
  const floor = await clientFloor(kafka, topics.transactions, transactions)
  console.log(`client floor: ${floor.events} events read and decoded in ${floor.seconds.toFixed(1)} s`)

  const logger = createLogger(config.log.level)
  const t0 = performance.now()
  // How busy the service's one JavaScript thread was, and the process's CPU (chDB's threads included).
  const elu0 = performance.eventLoopUtilization()
  const cpu0 = process.cpuUsage()
  const main0 = mainThreadCpuSeconds()
  const threads0 = cpuByThread()
  // The broker shares the machine's cores: what the service makes it do (bytes written and read) counts.
  const broker0 = processCpuSeconds(local.pid)
  const brokerThreads0 = cpuByThread(local.pid)
  const service = await startService(config, { logger, now: Date.now, sleep })
  // RULES_ENABLED=false measures ingest alone (the rules stage does not run).
  const groups: Partial<Record<'ingest' | 'rules', string>> = config.rules.enabled
    ? { ingest: group, rules: `${group}.rules` }
    : { ingest: group }
  const samples: Record<'ingest' | 'rules', { t: number; n: number }[]> = { ingest: [], rules: [] }
  // Per group, when each partition was committed to its end: partitions differ in size (keyed by
  // merchant), so the last tenth of the month runs partly on fewer partitions than the first.
  const doneAt: Record<'ingest' | 'rules', Map<number, number>> = { ingest: new Map(), rules: new Map() }
  // The rules worker's CPU at every sample: its CPU per transaction in each tenth says whether the
  // engine's cost grows with history, which the rates alone cannot say on a machine the stages share.
  const workerTids = threadsNamed('WorkerThread')
  const workerCpu = new Map<number, number>()
  let caughtUpAt = Number.NaN
  let quietSince = Number.NaN
  let quiet = 0
  for (;;) {
    const t = (performance.now() - t0) / 1000
    if (workerTids.length === 1) workerCpu.set(t, threadCpuSeconds(workerTids[0] as number))
    for (const [name, groupId] of Object.entries(groups) as ['ingest' | 'rules', string][]) {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topics.transactions] })
      samples[name].push({ t, n: sumOffsets(offsets?.partitions ?? []) })
      for (const o of offsets?.partitions ?? [])
        if (!doneAt[name].has(o.partition) && Number(o.offset) >= (ends.get(o.partition) ?? 0))
          doneAt[name].set(o.partition, t)
    }
    const stored = samples.ingest.at(-1)?.n ?? 0
    const ruled = groups.rules === undefined ? transactions : (samples.rules.at(-1)?.n ?? 0)
    const behind = service.progress().reduce((n, s) => n + s.lag, 0)
    // Caught up: both readers of the input at its end, and no stage behind for three samples running.
    quiet = stored >= transactions && ruled >= transactions && behind === 0 ? quiet + 1 : 0
    if (quiet === 1) quietSince = t
    if (quiet >= 3) {
      caughtUpAt = quietSince
      break
    }
    if (t > 3600) throw new Error(`stuck: ${stored}/${ruled} of ${transactions} committed, ${behind} behind`)
    await sleep(SAMPLE_MS)
  }
  const elu = performance.eventLoopUtilization(elu0)
  const cpu = process.cpuUsage(cpu0)
  const mainCpu = mainThreadCpuSeconds() - main0
  const byThread = cpuByThreadSince(threads0)
  const brokerCpu = processCpuSeconds(local.pid) - broker0
  const brokerByThread = cpuByThreadSince(brokerThreads0, local.pid)
  const workerElu = service.rulesWorker?.utilization() ?? null
  const inserts = await insertsByTable(service.metrics)
  const tables = await tableSizes(service.store, transactions)
  const parts = service.stages
    .map((s) => `${s.constructor.name.replace(/Stage$/, '')} ${s.runner.stats.parts.toLocaleString('en-US')}`)
    .join(', ')
  await service.stop()
  await admin.disconnect()

  console.log(
    `\nevery stage caught up ${caughtUpAt.toFixed(0)} s after the service started: ${Math.round(transactions / caughtUpAt).toLocaleString('en-US')} transactions/s end to end, ${((100 * transactions) / caughtUpAt / floor.eventsPerSecond).toFixed(1)}% of the client floor (${floor.eventsPerSecond.toLocaleString('en-US')}/s)`,
  )
  console.log(
    `the JavaScript thread was busy ${(100 * elu.utilization).toFixed(0)}% of the time; the process used ${((cpu.user + cpu.system) / 1e6 / caughtUpAt).toFixed(2)} cores on average (the broker runs in its own process)`,
  )
  const processCpu = (cpu.user + cpu.system) / 1e6
  console.log(
    `CPU per transaction: the main thread ${((1e6 * mainCpu) / transactions).toFixed(1)} µs, the rest of the process (rules worker, chDB, GC helpers) ${((1e6 * (processCpu - mainCpu)) / transactions).toFixed(1)} µs; the broker ${((1e6 * brokerCpu) / transactions).toFixed(1)} µs`,
  )
  console.log(`CPU per transaction by thread name (µs): ${perThread(byThread, processCpu, transactions)}`)
  // The JVM names its threads: request handlers, the network, the log cleaner, the garbage collector.
  console.log(
    `the broker's CPU per transaction by thread name (µs): ${perThread(brokerByThread, brokerCpu, transactions)}`,
  )
  console.log(
    workerElu === null
      ? 'the rules ran on the main thread (RULES_WORKER=false)'
      : `the rules worker thread was busy ${(100 * workerElu.utilization).toFixed(0)}% of its time`,
  )
  console.log('\nTransactions per second in each tenth of the month, by committed offsets:\n')
  console.log(
    `| Group | ${Array.from({ length: TENTHS }, (_, k) => `${k + 1}`).join(' | ')} | Last / first |`,
  )
  console.log(`|---|${'---|'.repeat(TENTHS)}---|`)
  const finishes: string[] = []
  let workerLine = ''
  for (const name of Object.keys(groups) as ('ingest' | 'rules')[]) {
    const s = samples[name]
    const first = s.find((x) => x.n > 0)
    const times = tenthTimes(s, transactions)
    const rates = times.map((t, k) => {
      const from = k === 0 ? (first?.t ?? Number.NaN) : (times[k - 1] ?? Number.NaN)
      const events = k === 0 ? Math.ceil(transactions / TENTHS) - (first?.n ?? 0) : transactions / TENTHS
      // A first commit past the first tenth leaves nothing to time it by.
      return events > 0 ? events / Math.max(SAMPLE_MS / 1000, t - from) : Number.NaN
    })
    const ratio = (rates.at(-1) ?? Number.NaN) / (rates[0] ?? Number.NaN)
    const done = [...doneAt[name].values()].sort((a, b) => a - b)
    finishes.push(
      `${name}: first commit at ${first?.t.toFixed(0)} s, first partition done at ${done[0]?.toFixed(0)} s, last at ${done.at(-1)?.toFixed(0)} s; the last tenth began at ${times[TENTHS - 2]?.toFixed(0)} s`,
    )
    console.log(
      `| ${name} | ${rates.map((r) => Math.round(r).toLocaleString('en-US')).join(' | ')} | ${ratio.toFixed(2)} |`,
    )
    if (name === 'rules' && workerCpu.size > 0) {
      const perTxn = times.map((t, k) => {
        const from = k === 0 ? (first?.t ?? Number.NaN) : (times[k - 1] ?? Number.NaN)
        const events = k === 0 ? Math.ceil(transactions / TENTHS) - (first?.n ?? 0) : transactions / TENTHS
        const used = (workerCpu.get(t) ?? Number.NaN) - (workerCpu.get(from) ?? Number.NaN)
        return events > 0 ? (1e6 * used) / events : Number.NaN
      })
      const cpuRatio = (perTxn.at(-1) ?? Number.NaN) / (perTxn[0] ?? Number.NaN)
      workerLine = `| rules worker, CPU-µs per transaction | ${perTxn.map((x) => x.toFixed(1)).join(' | ')} | ${cpuRatio.toFixed(2)} |`
    }
  }
  if (workerLine !== '') console.log(workerLine)
  console.log(`\nParts processed by stage: ${parts}`)
  console.log(`ClickHouse inserts by table (count, seconds waited in all): ${inserts}`)
  console.log(`ClickHouse tables, bytes per transaction (uncompressed, as active parts hold them): ${tables}`)
  console.log(
    `\nBytes per transaction in the broker's log, by topic (as stored, compressed): ${logBytes(run, transactions)}`,
  )
  const sizes = [...ends.values()]
  console.log(
    `\nPartition sizes ${Math.min(...sizes).toLocaleString('en-US')} to ${Math.max(...sizes).toLocaleString('en-US')} transactions. ${finishes.join('. ')}.`,
  )
} finally {
  await local.stop()
  rmSync(dir, { recursive: true, force: true })
}
