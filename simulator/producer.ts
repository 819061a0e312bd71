import type { Kafka, Message, Producer } from 'kafkajs'
import { createProducer } from '../kafka/client.ts'
import { type EventCodec, valueSubject } from '../kafka/codec.ts'
import type { Logger } from '../lib/logger.ts'
import { MERCHANT_EVENT, TERMINAL_TRANSACTION } from '../schemas/contract.ts'
import type { TrafficSimulator } from './generator.ts'

export interface LiveSimulatorSettings {
  topics: { transactions: string; merchantEvents: string }
  ratePerSecond: number
}

/**
 * Produces simulated traffic into Kafka at a steady rate, as framed Avro, keyed by merchant: the same
 * path real terminals' events take, so everything downstream is exercised for real.
 */
export class LiveSimulator {
  readonly #producer: Producer
  readonly #sim: TrafficSimulator
  readonly #codec: EventCodec
  readonly #settings: LiveSimulatorSettings
  readonly #log: Logger
  readonly #now: () => number
  #timer: NodeJS.Timeout | null = null
  #sending: Promise<void> = Promise.resolve()
  #produced = 0
  #owed = 0

  constructor(
    kafka: Kafka,
    sim: TrafficSimulator,
    codec: EventCodec,
    settings: LiveSimulatorSettings,
    deps: { logger: Logger; now: () => number },
  ) {
    // The Java-compatible murmur2 partitioner (kafka/partitioner.ts, as every producer of the service):
    // a merchant lands on the partition a Java producer (a real terminal gateway) would choose. A re-sent
    // duplicate is dropped by the store's id check.
    this.#producer = createProducer(kafka, { maxInFlightRequests: 1, allowAutoTopicCreation: true })
    this.#sim = sim
    this.#codec = codec
    this.#settings = settings
    this.#log = deps.logger.child({ component: 'simulator' })
    this.#now = deps.now
  }

  get produced(): number {
    return this.#produced
  }

  async start(): Promise<void> {
    await this.#producer.connect()
    const now = this.#now()
    const lifecycle = this.#sim.lifecycle(now)
    const messages: Message[] = []
    for (const e of lifecycle) {
      messages.push({
        key: e.merchant_id,
        value: await this.#codec.encode(MERCHANT_EVENT, e, 'avro', {
          subject: valueSubject(this.#settings.topics.merchantEvents),
        }),
      })
    }
    await this.#producer.send({ topic: this.#settings.topics.merchantEvents, messages })
    this.#log.info(
      {
        merchants: this.#sim.merchants.length,
        lifecycleEvents: lifecycle.length,
        ratePerSecond: this.#settings.ratePerSecond,
      },
      'simulated traffic started',
    )
    const tickMs = 100
    this.#timer = setInterval(() => {
      this.#owed += (this.#settings.ratePerSecond * tickMs) / 1000
      const n = Math.floor(this.#owed)
      this.#owed -= n
      // One send at a time: if the broker is slow the backlog grows in #owed, not in pending promises.
      this.#sending = this.#sending
        .then(() => this.#send(n))
        .catch((e: unknown) => {
          this.#log.warn({ error: e instanceof Error ? e.message : String(e) }, 'simulator send failed')
        })
    }, tickMs)
  }

  async #send(n: number): Promise<void> {
    if (n <= 0) return
    const now = this.#now()
    const messages: Message[] = []
    for (let i = 0; i < n; i++) {
      const txn = this.#sim.next(now)
      messages.push({
        key: txn.merchant_id,
        value: await this.#codec.encode(TERMINAL_TRANSACTION, txn, 'avro', {
          subject: valueSubject(this.#settings.topics.transactions),
        }),
      })
    }
    await this.#producer.send({ topic: this.#settings.topics.transactions, messages })
    this.#produced += n
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    await this.#sending
    await this.#producer.disconnect()
    this.#log.info({ produced: this.#produced }, 'simulated traffic stopped')
  }
}
