/**
 * The load of bench/alert-latency.bench.ts, in a worker thread of its own so that producing it does not
 * compete with the service for the main thread (in production the traffic comes from elsewhere): the
 * live simulator at a steady rate, plus a card-testing burst at a fresh merchant every BURST_EVERY_MS,
 * each attempt stamped with the moment it is produced. Posts `{ measured }` for every burst produced
 * after the warm-up and `{ done, produced }` at the end.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { Kafka, logLevel } from 'kafkajs'
import { createProducer } from '../kafka/client.ts'
import { EventCodec } from '../kafka/codec.ts'
import { createLogger } from '../lib/logger.ts'
import { sleep } from '../lib/retry.ts'
import { TERMINAL_TRANSACTION } from '../schemas/contract.ts'
import { TrafficSimulator } from '../simulator/generator.ts'
import { LiveSimulator } from '../simulator/producer.ts'

export interface LoadSettings {
  brokers: string[]
  run: string
  topics: { transactions: string; merchantEvents: string }
  rate: number
  merchants: number
  acquirer: string
  warmupSeconds: number
  seconds: number
  burstEveryMs: number
}

const s = workerData as LoadSettings
const kafka = new Kafka({ clientId: 'bench-load', brokers: s.brokers, logLevel: logLevel.NOTHING })
const codec = new EventCodec({})
const simulator = new LiveSimulator(
  kafka,
  new TrafficSimulator({
    seed: 7,
    merchants: s.merchants,
    runId: s.run,
    acquirers: [s.acquirer, 'acq-beta'],
  }),
  codec,
  { topics: s.topics, ratePerSecond: s.rate },
  { logger: createLogger('warn'), now: Date.now },
)
await simulator.start()
const producer = createProducer(kafka, { allowAutoTopicCreation: true })
await producer.connect()

// One card-testing burst per BURST_EVERY_MS, each at a fresh merchant: 24 attempts on 24 cards, half
// declined, 10 ms apart. The 20th attempt crosses the count floor; the alert's created_at is its time.
async function burst(merchant: string): Promise<void> {
  for (let i = 0; i < 24; i++) {
    const t = {
      txn_id: `${merchant}-${i}`,
      event_time: Date.now(),
      acquirer_id: s.acquirer,
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
      topic: s.topics.transactions,
      messages: [{ key: merchant, value: await codec.encode(TERMINAL_TRANSACTION, t, 'avro') }],
    })
    await sleep(10)
  }
}

const started = Date.now()
const bursts: Promise<void>[] = []
for (let n = 1; Date.now() - started < (s.warmupSeconds + s.seconds) * 1000; n++) {
  const merchant = `m-burst-${s.run}-${n}`
  if (Date.now() - started >= s.warmupSeconds * 1000) parentPort?.postMessage({ measured: merchant })
  bursts.push(burst(merchant))
  await sleep(s.burstEveryMs)
}
await Promise.all(bursts)
await producer.disconnect()
await simulator.stop()
const cpu = process.threadCpuUsage()
parentPort?.postMessage({
  done: true,
  produced: simulator.produced,
  seconds: (Date.now() - started) / 1000,
  // This thread's CPU, which the service's process shares on this machine (in production it is elsewhere).
  loadCpuSeconds: (cpu.user + cpu.system) / 1e6,
})
