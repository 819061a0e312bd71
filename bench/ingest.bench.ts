/**
 * Ingest benchmark: N simulated transactions are produced to Kafka first (framed Avro, keyed by
 * merchant); then a fresh ingest stage stores them, and the clock runs until every event is in
 * ClickHouse. Prints events per second for produce and ingest, and peak RSS. The rules run in a stage
 * of their own (bench:e2e measures the whole pipeline; bench:engine the engine alone).
 *
 *   npm run bench                      # 200,000 events, local broker in a temp dir, chDB in a temp dir
 *   BENCH_EVENTS=1000000 npm run bench
 *   KAFKA_BROKERS=host:9092 npm run bench
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, logLevel, type Message, Partitioners } from 'kafkajs'
import { IngestStage } from '../ingest/stage.ts'
import { EventCodec } from '../kafka/codec.ts'
import { ensureTopics } from '../kafka/topics.ts'
import { type LocalKafka, startLocalKafka } from '../kafka-local/broker.ts'
import { createLogger } from '../lib/logger.ts'
import { sleep } from '../lib/retry.ts'
import { TERMINAL_TRANSACTION } from '../schemas/contract.ts'
import { SIMULATED_ACQUIRERS, TrafficSimulator } from '../simulator/generator.ts'
import { openStore } from '../store/client.ts'

const N = Number(process.env.BENCH_EVENTS ?? 200_000)
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 6)
const BATCH = Number(process.env.BENCH_MAX_BATCH ?? 5000)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 3)

const dir = mkdtempSync(join(tmpdir(), 'bench-ingest-'))
let local: LocalKafka | null = null
let brokers = process.env.KAFKA_BROKERS?.split(',') ?? []
if (brokers.length === 0) {
  local = await startLocalKafka({ dataDir: join(dir, 'kafka'), heapMb: 1024 })
  brokers = local.brokers
}
let peakRss = 0
const rssTimer = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss())
}, 100)

try {
  const kafka = new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.NOTHING })
  const topic = `bench.transactions.${Date.now()}`
  const events = `bench.merchant-events.${Date.now()}`
  await ensureTopics(kafka, [topic, events, `${topic}.dlq`, `${events}.dlq`], {
    partitions: PARTITIONS,
    replicationFactor: 1,
  })
  const codec = new EventCodec({})
  const sim = new TrafficSimulator({ seed: 1, merchants: 5000, runId: 'bench' })
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  const start = Date.UTC(2026, 10, 1)
  const t0 = performance.now()
  for (let i = 0; i < N; i += 5000) {
    const messages: Message[] = []
    for (let j = i; j < Math.min(N, i + 5000); j++) {
      const t = sim.next(start + j * 10)
      messages.push({ key: t.merchant_id, value: await codec.encode(TERMINAL_TRANSACTION, t, 'avro') })
    }
    await producer.send({ topic, messages, acks: 1 })
  }
  const produceSeconds = (performance.now() - t0) / 1000
  await producer.disconnect()

  const store = await openStore({ database: 'bench', chdbPath: join(dir, 'chdb') })
  const logger = createLogger('warn')
  const consumer = new IngestStage(
    {
      groupId: `bench-${Date.now()}`,
      topics: { transactions: topic, merchantEvents: events },
      dlqSuffix: '.dlq',
      maxBatchSize: BATCH,
      concurrency: CONCURRENCY,
      maxFutureSkewMs: 300_000,
      retryInitialMs: 100,
      retryMaxMs: 5000,
      fromBeginning: true,
      timeZoneOf: () => '+08:00',
    },
    {
      kafka,
      store,
      codec,
      logger,
      now: Date.now,
      sleep,
      acquirers: { isKnown: (id) => SIMULATED_ACQUIRERS.includes(id) },
    },
  )
  const t1 = performance.now()
  await consumer.start()
  while (consumer.stats.stored + consumer.stats.duplicates + consumer.stats.rejected < N) await sleep(50)
  const ingestSeconds = (performance.now() - t1) / 1000
  await consumer.stop()
  const rs = await store.client.query({
    query: 'SELECT count() AS n FROM transactions',
    format: 'JSONEachRow',
  })
  const rows = await rs.json<{ n: string | number }>()
  await store.close()

  const result = {
    date: new Date().toISOString().slice(0, 10),
    machine: `${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`,
    events: N,
    partitions: PARTITIONS,
    maxBatch: BATCH,
    concurrency: CONCURRENCY,
    rowsInClickHouse: Number(rows[0]?.n ?? 0),
    produceEventsPerSecond: Math.round(N / produceSeconds),
    ingestSeconds: Number(ingestSeconds.toFixed(2)),
    ingestEventsPerSecond: Math.round(N / ingestSeconds),
    peakRssMb: Math.round(peakRss / 1024 / 1024),
  }
  console.log(JSON.stringify(result, null, 2))
  if (result.rowsInClickHouse !== N) {
    console.error(`expected ${N} rows in ClickHouse, found ${result.rowsInClickHouse}`)
    process.exitCode = 1
  }
} finally {
  clearInterval(rssTimer)
  await local?.stop()
  rmSync(dir, { recursive: true, force: true })
}
