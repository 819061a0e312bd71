import type { Kafka, Message, Producer } from 'kafkajs'
import { asRiskError } from '../lib/errors.ts'
import { messageBytes, packBySize } from './chunks.ts'
import { createProducer } from './client.ts'
import { CompressionTypes } from './compression.ts'
import { forgetCoordinators, rememberCoordinators } from './coordinators.ts'

/**
 * Consume-transform-produce exactly once, the way the rules and scoring stages do it: per input
 * partition a transactional producer, and per processed part one Kafka transaction holding the part's
 * output and the consumer group's offsets, so read_committed readers see both or neither.
 *
 * Why a producer per partition: when a partition moves to another instance, the new owner's producer
 * starts with the same transactional id, which aborts any transaction the old owner left open. It does
 * not stop the old owner's later transactions: kafkajs sends no group generation with the offsets (no
 * KIP-447), and a Kafka 4 broker does not refuse its old epoch (`test/integration/rules-stage.test.ts`
 * shows it). So every stage also confirms its membership right before it commits (StageContext.confirm);
 * together they keep a zombie from publishing what the new owner publishes.
 */

/**
 * A connected transactional producer for `transactionalId`; connecting aborts what an earlier holder
 * left open.
 */
export async function transactionalProducer(kafka: Kafka, transactionalId: string): Promise<Producer> {
  rememberCoordinators()
  const producer = createProducer(kafka, {
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    // The first send of a transaction started right after the previous commit is often refused with
    // CONCURRENT_TRANSACTIONS while the broker writes the commit markers; the client's default first
    // retry waits 300 ms, which was the largest single part of an alert's latency. The Java producer
    // retries that case after 20 ms. Still unlimited retries, doubling up to 30 s, as idempotence needs.
    retry: { initialRetryTime: 20, maxRetryTime: 30_000, retries: Number.MAX_SAFE_INTEGER },
  })
  try {
    await producer.connect()
  } catch (e) {
    await producer.disconnect().catch(() => {})
    throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot start a transactional producer', { transactionalId })
  }
  return producer
}

/** Which topics' record batches a stage compresses, and how (the internal topics; never alert topics). */
export interface TopicCompression {
  readonly type: (typeof CompressionTypes)[keyof typeof CompressionTypes]
  readonly topics: ReadonlySet<string>
}

export interface PartOutput {
  /** Messages per topic; packed into requests under the broker's batch limit, all inside the transaction. */
  readonly sends: readonly (readonly [string, readonly Message[]])[]
  /** Topics among `sends` whose batches go compressed (one request more when a part has both kinds). */
  readonly compression?: TopicCompression
  /** The consumer group whose offsets the transaction commits. */
  readonly groupId: string
  readonly offsets: { topic: string; partitions: { partition: number; offset: string }[] }[]
}

/**
 * Publishes a part's output and commits its offsets in one transaction. Throws RISK_ERR_KAFKA
 * (retriable) after aborting; a fenced producer's error is thrown too, and the caller drops the
 * partition (its new owner has it).
 */
export async function commitPart(
  producer: Producer,
  output: PartOutput,
  context: Record<string, string | number>,
): Promise<void> {
  const txn = await producer.transaction()
  try {
    // Every topic's messages in as few requests as fit: one round trip per part, as a rule. Compression
    // is a request's, not a topic's, in kafkajs, so a part with compressed and plain topics takes two,
    // unless what it would compress is small: then all goes plain, in one.
    const c = output.compression
    let squeezed =
      c === undefined || c.type === CompressionTypes.None ? [] : output.sends.filter(([t]) => c.topics.has(t))
    if (squeezed.length > 0 && squeezedBytes(squeezed) < MIN_COMPRESSED_BYTES) squeezed = []
    const plain = squeezed.length === 0 ? output.sends : output.sends.filter(([t]) => !c?.topics.has(t))
    for (const topicMessages of packBySize(squeezed))
      await txn.sendBatch({ acks: -1, topicMessages, compression: c?.type ?? CompressionTypes.None })
    for (const topicMessages of packBySize(plain)) await txn.sendBatch({ acks: -1, topicMessages })
    await sendOffsets(txn, { consumerGroupId: output.groupId, topics: output.offsets })
    await txn.commit()
  } catch (e) {
    // Whatever failed, the retry finds the coordinators afresh (kafka/coordinators.ts).
    forgetCoordinators()
    await txn.abort().catch(() => {})
    throw asRiskError(e, 'RISK_ERR_KAFKA', 'transaction failed', context)
  }
}

/**
 * Below this many bytes a part's internal topics go uncompressed: a low rate's parts are a few records,
 * where zstd saves little and a separate request for them (when alerts, which are never compressed, go
 * too) is one round trip more on the alert path. Each zstd call also builds a compressor of its own.
 */
export const MIN_COMPRESSED_BYTES = 16 * 1024

function squeezedBytes(sends: readonly (readonly [string, readonly Message[]])[]): number {
  let n = 0
  for (const [, messages] of sends) {
    for (const m of messages) {
      n += messageBytes(m)
      if (n >= MIN_COMPRESSED_BYTES) return n
    }
  }
  return n
}

type Transaction = Awaited<ReturnType<Producer['transaction']>>

/**
 * The offsets into the transaction, retried while the coordinator is still finishing the previous
 * transaction (CONCURRENT_TRANSACTIONS), as the Java producer does: kafkajs retries that refusal for the
 * first send of a transaction but not for AddOffsetsToTxn (tulios/kafkajs#430), so a part with no output
 * (the offsets alone) right after a commit failed, and the stage dropped and rebuilt the partition's
 * state for nothing. The refused request added nothing, so the same transaction goes on.
 */
async function sendOffsets(
  txn: Transaction,
  offsets: Parameters<Transaction['sendOffsets']>[0],
): Promise<void> {
  for (let delayMs = 10; ; delayMs *= 2) {
    try {
      await txn.sendOffsets(offsets)
      return
    } catch (e) {
      if (!isConcurrentTransactions(e) || delayMs > MAX_CONCURRENT_RETRY_MS) throw e
      await new Promise((r) => setTimeout(r, delayMs))
    }
  }
}

/** Retries of a refused AddOffsetsToTxn double from 10 ms up to this wait (about 5 s in all). */
const MAX_CONCURRENT_RETRY_MS = 2_560

function isConcurrentTransactions(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { type?: unknown }).type === 'CONCURRENT_TRANSACTIONS'
}
