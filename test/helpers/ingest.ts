import type { Kafka } from 'kafkajs'
import type { IngestSettings } from '../../ingest/stage.ts'
import { ensureTopics } from '../../kafka/topics.ts'

/**
 * For tests about other things than acquirers: every acquirer is served. The acquirer check has its
 * own tests (validate.test.ts, hostile-acquirers.test.ts).
 */
export const EVERY_ACQUIRER_KNOWN = { isKnown: (_acquirerId: string): boolean => true }

/** Ingest consumer settings for tests: small parts, fast retries, UTC+8; override what a test is about. */
export function ingestSettings(
  groupId: string,
  topics: IngestSettings['topics'],
  overrides: Partial<IngestSettings> = {},
): IngestSettings {
  return {
    groupId,
    topics,
    dlqSuffix: '.dlq',
    maxBatchSize: 500,
    concurrency: 2,
    maxFutureSkewMs: 300_000,
    retryInitialMs: 100,
    retryMaxMs: 1000,
    fromBeginning: true,
    timeZoneOf: () => '+08:00',
    ...overrides,
  }
}

/** Creates the two input topics of a test, their dead-letter topics, and any `extra` ones. */
export async function createInputTopics(
  kafka: Kafka,
  topics: IngestSettings['topics'],
  partitions: number,
  extra: readonly string[] = [],
): Promise<void> {
  await ensureTopics(
    kafka,
    [
      topics.transactions,
      topics.merchantEvents,
      `${topics.transactions}.dlq`,
      `${topics.merchantEvents}.dlq`,
      ...extra,
    ],
    { partitions, replicationFactor: 1 },
  )
}
