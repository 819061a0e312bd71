import type { Kafka } from 'kafkajs'
import { AcquirerRegistry } from '../acquirers/registry.ts'
import type { Config } from '../config/spec.ts'
import type { Logger } from '../lib/logger.ts'
import type { Store } from '../store/client.ts'

/** The service's own topics: no acquirer's alert topic may collide with one. */
export function serviceTopics(topics: Config['topics']): string[] {
  return [
    topics.transactions,
    topics.merchantEvents,
    `${topics.transactions}${topics.dlqSuffix}`,
    `${topics.merchantEvents}${topics.dlqSuffix}`,
    topics.entityActivity,
    topics.ruleHits,
    topics.scoringState,
  ]
}

export interface OpenedAcquirers {
  readonly registry: AcquirerRegistry
  /** Stops the periodic refresh. */
  readonly stop: () => Promise<void>
}

/**
 * The acquirer registry of a process, refreshed every `acquirers.refreshMs`. `also` are acquirers the
 * process serves beyond the configured ones (those of its simulated traffic). `kafka` is null in a
 * process without a broker.
 */
export async function openAcquirers(
  config: Config,
  deps: {
    store: Store
    kafka: Kafka | null
    logger: Logger
    now: () => number
    sleep: (ms: number) => Promise<void>
  },
  also: readonly string[] = [],
): Promise<OpenedAcquirers> {
  const registry = await AcquirerRegistry.open({
    store: deps.store,
    kafka: deps.kafka,
    configured: [...new Set([...config.acquirers.known, ...also])],
    topicPattern: config.alerts.topicPattern,
    topicSettings: {
      partitions: config.kafka.topicPartitions,
      replicationFactor: config.kafka.replicationFactor,
    },
    reservedTopics: serviceTopics(config.topics),
    logger: deps.logger,
    now: deps.now,
    sleep: deps.sleep,
  })
  const known = registry.list().map((a) => a.acquirerId)
  if (known.length === 0) {
    deps.logger.warn(
      { key: 'acquirers.known', env: 'ACQUIRERS' },
      'no acquirer is known: every event is dead-lettered until one is configured or registered (POST /v1/acquirers)',
    )
  } else deps.logger.info({ acquirers: known }, 'acquirers known')
  const stop = registry.refreshEvery(config.acquirers.refreshMs)
  return { registry, stop: async () => stop() }
}
