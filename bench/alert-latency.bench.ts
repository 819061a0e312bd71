/**
 * Alert latency at a steady rate: the whole service (npm start's code: ingest, rules, entity stage,
 * scoring) on a local broker, fed by the simulator at a fixed rate of legitimate traffic, while a
 * second producer injects a card-testing burst at a fresh merchant every two seconds. For each alert,
 * the latency is the alert's Kafka timestamp (set when the scorer sends it) minus the event time of the
 * event that made the rule fire, which this benchmark sets to the moment it produces that event: the
 * time from an event's production to its alert.
 *
 *   npm run bench:latency
 *   BENCH_RATES=1000,5000,10000 BENCH_SECONDS=60 npm run bench:latency
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, logLevel, Partitioners } from 'kafkajs'
import { startService } from '../app/service.ts'
import { loadConfig } from '../config/load.ts'
import { EventCodec } from '../ingest/codec.ts'
import { startLocalKafka } from '../kafka-local/broker.ts'
import { createLogger } from '../lib/logger.ts'
import { sleep } from '../lib/retry.ts'
import { TERMINAL_TRANSACTION } from '../schemas/contract.ts'
import { tailAlerts } from '../scoring/alerts-reader.ts'

const RATES = (process.env.BENCH_RATES ?? '1000,5000,10000').split(',').map(Number)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 45)
const WARMUP_SECONDS = 10
const ACQUIRER = 'acq-alpha'

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
}

const dir = mkdtempSync(join(tmpdir(), 'bench-latency-'))
const local = await startLocalKafka({ dataDir: join(dir, 'kafka'), heapMb: 1024 })
const brokers = local.brokers.join(',')
const kafka = new Kafka({ clientId: 'bench', brokers: local.brokers, logLevel: logLevel.NOTHING })
const codec = new EventCodec({})
const results: string[] = []

try {
  for (const rate of RATES) {
    const run = `r${rate}-${Date.now().toString(36)}`
    const config = loadConfig({
      env: {
        // Tuning variables (INGEST_CONCURRENCY, SCORING_CONCURRENCY, ...) pass through.
        ...process.env,
        KAFKA_BROKERS: brokers,
        KAFKA_GROUP_ID: `bench-${run}`,
        TOPIC_TRANSACTIONS: `${run}.transactions`,
        TOPIC_MERCHANT_EVENTS: `${run}.merchant-events`,
        TOPIC_ENTITY_ACTIVITY: `${run}.entity-activity`,
        TOPIC_RULE_HITS: `${run}.rule-hits`,
        TOPIC_SCORING_STATE: `${run}.scoring-state`,
        ALERTS_TOPIC_PATTERN: `${run}.alerts.{acquirer}`,
        CHDB_PATH: join(dir, `chdb-${run}`),
        SIMULATOR: 'on',
        SIMULATOR_RATE: String(rate),
        SIMULATOR_MERCHANTS: '5000',
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      },
    })
    const service = await startService(config, {
      logger: createLogger(config.log.level),
      now: Date.now,
      sleep,
    })
    const latencies: number[] = []
    // Only bursts produced after the warm-up are measured.
    const measured = new Set<string>()
    // Not awaited: the topic only appears with the first alert.
    const tail = tailAlerts(kafka, codec, `${run}.alerts.${ACQUIRER}`, {
      fromBeginning: true,
      onAlert: (m) => {
        const a = m.alert
        if (a === null || typeof a.merchant_id !== 'string' || !measured.has(a.merchant_id)) return
        latencies.push(m.timestamp - Number(a.created_at))
      },
    })
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    let burst = 0
    const started = Date.now()
    let bursts = 0
    // One card-testing burst every two seconds: 24 attempts on 24 cards, half declined, 20 ms apart,
    // each stamped with the time it is produced. The 20th attempt crosses the count floor.
    while (Date.now() - started < (WARMUP_SECONDS + SECONDS) * 1000) {
      burst++
      const merchant = `m-burst-${run}-${burst}`
      if (Date.now() - started >= WARMUP_SECONDS * 1000) {
        measured.add(merchant)
        bursts++
      }
      for (let i = 0; i < 24; i++) {
        const now = Date.now()
        const t = {
          txn_id: `${merchant}-${i}`,
          event_time: now,
          acquirer_id: ACQUIRER,
          merchant_id: merchant,
          terminal_id: `${merchant}-t`,
          card_token: `${merchant}-card-${i}`,
          card_bin: null,
          card_type: 'CREDIT' as const,
          txn_type: 'PURCHASE' as const,
          amount_minor: 100 + i,
          currency: 'CNY',
          mcc: '5411',
          entry_mode: 'CHIP' as const,
          response_code: i % 2 === 0 ? '05' : '00',
          latitude: null,
          longitude: null,
        }
        await producer.send({
          topic: config.topics.transactions,
          messages: [{ key: merchant, value: await codec.encode(TERMINAL_TRANSACTION, t, 'avro') }],
        })
        await sleep(20)
      }
      await sleep(Math.max(0, 2000 - 24 * 20))
    }
    await sleep(5000)
    await producer.disconnect()
    await (await tail)()
    const produced = service.simulator?.produced ?? 0
    await service.stop()
    const sorted = [...latencies].sort((a, b) => a - b)
    const line = `| ${rate.toLocaleString('en-US')} | ${bursts} | ${latencies.length} | ${quantile(sorted, 0.5)} | ${quantile(sorted, 0.99)} | ${sorted.at(-1) ?? 'n/a'} | ${Math.round(produced / (WARMUP_SECONDS + SECONDS + 5)).toLocaleString('en-US')} |`
    results.push(line)
    console.log(line)
  }
  console.log(
    '\n| Rate (events/s) | Bursts | Alerts measured | Median ms | p99 ms | Max ms | Simulator events/s achieved |',
  )
  console.log('|---|---|---|---|---|---|---|')
  for (const r of results) console.log(r)
} finally {
  await local.stop()
  rmSync(dir, { recursive: true, force: true })
}
