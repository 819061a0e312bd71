import type { MerchantEvent, TerminalTransaction } from './types.generated.ts'

/**
 * In-process contracts between pipeline stages. Records that cross a topic are Avro (`*.avsc` here,
 * types generated); these are the hand-offs inside one process, defined once so that no stage imports
 * another.
 */

/** Events that the store accepted as new, from one part of one partition's batch. */
export type StoredBatch =
  | { readonly kind: 'transactions'; readonly items: readonly TerminalTransaction[] }
  | { readonly kind: 'merchantEvents'; readonly items: readonly MerchantEvent[] }

/**
 * A stage that consumes what ingest stored (the rule engine, the entity publisher). It sees every new
 * event exactly once: replays and re-produced events are dropped by the store before they reach it.
 */
export interface StoredEventSink {
  /** Before the first part of a partition: rebuild state. Retried while it throws retriable errors. */
  prepare(topic: string, partition: number): Promise<void>
  /** Applies new events; pure and synchronous, so it runs exactly once per event. */
  process(batch: StoredBatch, partition: number): void
  /** Persists what `process` produced (rule hits); retried until it succeeds, before the commit. */
  flush(): Promise<void>
  /**
   * Partitions this instance no longer owns, or whose last part failed after `process`: their state can
   * go, and `prepare` rebuilds it from the store before their next part.
   */
  revoked(topic: string, partitions: readonly number[]): void
}
