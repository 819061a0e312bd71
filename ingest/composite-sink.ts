import type { StoredBatch, StoredEventSink } from './consumer.ts'

/**
 * Several stages fed from one ingest consumer, called in order. The consumer retries a failed
 * `prepare` or `flush` as a whole, so the sinks before the failing one are called again: each sink's
 * `flush` must be a no-op once it has succeeded (RulesStage and EntityPublisher clear what they
 * persisted), and each `prepare` must return at once for a partition it already prepared.
 */
export class CompositeSink implements StoredEventSink {
  readonly #sinks: readonly StoredEventSink[]

  constructor(sinks: readonly StoredEventSink[]) {
    this.#sinks = sinks
  }

  async prepare(topic: string, partition: number): Promise<void> {
    for (const s of this.#sinks) await s.prepare(topic, partition)
  }

  process(batch: StoredBatch, partition: number): void {
    for (const s of this.#sinks) s.process(batch, partition)
  }

  async flush(): Promise<void> {
    for (const s of this.#sinks) await s.flush()
  }

  revoked(topic: string, partitions: readonly number[]): void {
    for (const s of this.#sinks) s.revoked(topic, partitions)
  }
}
