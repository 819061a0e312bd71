/**
 * End to end throughput: N events are produced to Kafka first (simulated traffic of 5,000 merchants,
 * with a card-testing burst at a fresh merchant every 10,000 events), then the whole service starts on
 * them (ingest, both rules stages, scoring: npm start's code, simulator off) and the clock runs until
 * every event is in ClickHouse and every burst's alert is published.
 *
 *   npm run bench:e2e
 *   BENCH_EVENTS=1000000 INGEST_CONCURRENCY=6 npm run bench:e2e
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, logLevel, type Message, Partitioners } from 'kafkajs'
import { startService } from '../app/service.ts'
import { EventCodec } from '../kafka/codec.ts'
import { startLocalKafka } from '../kafka-local/broker.ts'
import { createLogger } from '../lib/logger.ts'
import { sleep } from '../lib/retry.ts'
import { MERCHANT_EVENT, TERMINAL_TRANSACTION } from '../schemas/contract.ts'
import type { TerminalTransaction } from '../schemas/types.generated.ts'
import { tailAlerts } from '../scoring/alerts-reader.ts'
import { TrafficSimulator } from '../simulator/generator.ts'
import { clientFloor } from './client-floor.ts'
import { benchConfig, ensureInputTopics } from './service-run.ts'

const N = Number(process.env.BENCH_EVENTS ?? 300_000)
const BURST_EVERY = 10_000
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 6)

const dir = mkdtempSync(join(tmpdir(), 'bench-e2e-'))
const local = await startLocalKafka({ dataDir: join(dir, 'kafka'), heapMb: 1024 })
let peakRss = 0
const rssTimer = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss())
}, 100)

try {
  const kafka = new Kafka({ clientId: 'bench', brokers: local.brokers, logLevel: logLevel.NOTHING })
  const run = `e2e-${Date.now().toString(36)}`
  const config = benchConfig(run, {
    brokers: local.brokers,
    acquirers: ['acq-alpha', 'acq-beta'],
    chdbPath: join(dir, 'chdb'),
    partitions: PARTITIONS,
    env: { API_ENABLED: 'false' },
  })
  const topics = config.topics
  await ensureInputTopics(kafka, config, PARTITIONS)
  const codec = new EventCodec({})
  const sim = new TrafficSimulator({ seed: 7, merchants: 5000, runId: run })
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  // Event times over the last two days, so nothing is in the future and windows are realistic.
  const start = Date.now() - 2 * 86_400_000
  const step = (2 * 86_400_000 - 600_000) / N
  const lifecycle = sim.lifecycle(start - 30 * 86_400_000)
  await producer.send({
    topic: topics.merchantEvents,
    messages: await Promise.all(
      lifecycle.map(async (e) => ({
        key: e.merchant_id,
        value: await codec.encode(MERCHANT_EVENT, e, 'avro'),
      })),
    ),
  })
  const t0 = performance.now()
  let bursts = 0
  let produced = 0
  for (let i = 0; i < N; i += 5000) {
    const messages: Message[] = []
    for (let j = i; j < Math.min(N, i + 5000); j++) {
      const at = start + Math.floor(j * step)
      let t: TerminalTransaction = sim.next(at)
      if (j % BURST_EVERY < 24 && j >= BURST_EVERY) {
        // Card testing at a fresh merchant, one attempt every 20 s of event time, half declined.
        const b = Math.floor(j / BURST_EVERY)
        const k = j % BURST_EVERY
        if (k === 0) bursts++
        t = {
          ...t,
          txn_id: `${run}-burst-${b}-${k}`,
          acquirer_id: 'acq-alpha',
          merchant_id: `m-burst-${b}`,
          terminal_id: `t-burst-${b}`,
          card_token: `card-burst-${b}-${k}`,
          response_code: k % 2 === 0 ? '05' : '00',
          event_time: start + Math.floor(b * BURST_EVERY * step) + k * 20_000,
        }
      }
      messages.push({ key: t.merchant_id, value: await codec.encode(TERMINAL_TRANSACTION, t, 'avro') })
    }
    await producer.send({ topic: topics.transactions, messages, acks: 1 })
    produced += messages.length
  }
  await producer.disconnect()
  const produceSeconds = (performance.now() - t0) / 1000
  console.log(
    `produced ${produced} transactions (${bursts} card-testing bursts) in ${produceSeconds.toFixed(1)} s`,
  )

  // The floor first, on the same broker and data: kafkajs and avsc alone reading the topic.
  const floor = await clientFloor(kafka, topics.transactions, produced)
  console.log(`client floor: ${floor.events} events read and decoded in ${floor.seconds.toFixed(1)} s`)

  const logger = createLogger(config.log.level)
  // Burst merchants alerted, as an acquirer sees them: committed alerts on the acquirer's topic.
  const alerted = new Set<string>()
  let others = 0
  const tail = tailAlerts(kafka, codec, `${run}.alerts.acq-alpha`, {
    fromBeginning: true,
    onAlert: (m) => {
      const merchant = m.alert?.merchant_id
      if (typeof merchant === 'string' && merchant.startsWith('m-burst-')) alerted.add(merchant)
      else others++
    },
  })
  const t1 = performance.now()
  const service = await startService(config, { logger, now: Date.now, sleep })
  const ingest = service.ingest
  if (ingest === null) throw new Error('no pipeline')
  const target = produced + lifecycle.length
  let ingestedAt = 0
  for (;;) {
    const done = ingest.stats.stored + ingest.stats.duplicates
    if (ingestedAt === 0 && done >= target) ingestedAt = performance.now()
    if (ingestedAt !== 0 && alerted.size >= bursts) break
    if (performance.now() - t1 > 30 * 60_000)
      throw new Error(`stuck: ${done}/${target} stored, ${alerted.size}/${bursts} burst alerts`)
    await sleep(100)
  }
  const all = (performance.now() - t1) / 1000
  const ingestSeconds = (ingestedAt - t1) / 1000
  const stats = { ingest: ingest.stats, scoring: service.scoring?.stats }
  await service.stop()
  await (await tail)()
  console.log(JSON.stringify(stats))
  console.log(`alerts on acq-alpha's topic about other (simulated legitimate) merchants: ${others}`)
  const e2e = Math.round(produced / all)
  console.log(
    '\n| Events | Partitions | Ingest concurrency | All in ClickHouse | Every alert published | Events/s (end to end) | Client floor (kafkajs + avsc) | Service / floor | Alerts | Peak RSS |',
  )
  console.log('|---|---|---|---|---|---|---|---|---|---|')
  console.log(
    `| ${produced.toLocaleString('en-US')} | ${PARTITIONS} | ${config.ingest.concurrency} | ${ingestSeconds.toFixed(1)} s | ${all.toFixed(1)} s | ${e2e.toLocaleString('en-US')} | ${floor.eventsPerSecond.toLocaleString('en-US')} | ${((100 * e2e) / floor.eventsPerSecond).toFixed(1)}% | ${alerted.size} | ${Math.round(peakRss / 1e6)} MB |`,
  )
} finally {
  clearInterval(rssTimer)
  await local.stop()
  rmSync(dir, { recursive: true, force: true })
}
