import type { IngestSettings } from '../../ingest/consumer.ts'

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
