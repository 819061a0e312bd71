import type { StoredBatch, StoredEventSink } from '../schemas/stages.ts'

/**
 * Several stages fed from one ingest consumer, called in order (flushes run concurrently). The consumer
 * retries a failed `prepare` or `flush` as a whole, so the sinks that succeeded are called again: each sink's
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

  /** All at once: the sinks write to different places, and each flush is on every event's path to an alert. */
  async flush(): Promise<void> {
    const results = await Promise.allSettled(this.#sinks.map((s) => s.flush()))
    for (const r of results) if (r.status === 'rejected') throw r.reason
  }

  revoked(topic: string, partitions: readonly number[]): void {
    for (const s of this.#sinks) s.revoked(topic, partitions)
  }
}
